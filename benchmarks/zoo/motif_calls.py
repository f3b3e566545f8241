"""Prototype (issue 13): motif-informed instance calls with an FDR against the run's shuffled null.

The seqlet caller tests each window's summed contribution against the shuffled null alone; on some zoo models
(``basset_B``, ``bpnet_A``) no single window stands out at FDR 0.05. This prototype asks whether the motifs that
``seqsal motifs`` keeps (:mod:`seqsal.motifs.support`: PWM matches enriched over the null) can carry calls:

For a kept motif ``M`` (sign ``s``) and a PWM match threshold ``m`` (a fraction of the PWM's best log-odds
score), every test window of sign ``s`` (the peak caller's ``test_width``-bp local maxima,
:func:`seqsal.peaks.block_tests`, 24 bp as in discovery) of the run and of the null gets its p-value from the
sign's empirical null (:class:`seqsal.peaks.NullModel`, as :func:`seqsal.motifs.sides.discovery_threshold`
builds it) and its best match to ``M`` within ``max_shift`` bp of its centre
(:func:`seqsal.motifs.support.scan_matches`). Windows on one instance count once, the one with the smallest p
(the grouping of :func:`seqsal.motifs.redundancy.count_matches`). With ``k(t)`` instances of the run and
``k0(t)`` of the null that match at ``>= m`` and have ``p <= t``, and ``B``, ``B0`` the valid bases of each::

    FDR_M(t) = (k0(t) + 1) * (B / B0) / k(t)

and the largest ``t`` (a run instance's p) with ``FDR_M(t) <= alpha`` is taken (a step-up over ``t``: the
target-decoy / knockoff+ estimator, with an independent decoy sample scaled by bases). The run instances with
``p <= t`` are ``M``'s calls. ``m`` is either fixed per motif (its ``support_match``: chosen on the support
test's counts, i.e. on the same windows) or the ``m`` of ``--matches`` giving most calls (``best_m``; also at
``alpha / len(matches)``, a Bonferroni over ``m``).

Scored against the world's ``planted.bed``: a call is true when its match overlaps a planted site of any motif
(``fdr_any``), or a site of the JASPAR motif the called motif best matches (``fdr_own``); recall per planted
motif (share of its sites in the regions overlapped by a call of the motif's sign). The seqlet caller
(:func:`seqsal.peaks.call_peaks_from_run`, defaults) is scored the same way at the same nominal levels.

Never writes into the run folder: ``attributions.npz``, ``regions.tsv``, ``null.npz`` and ``run.json`` are copied
to ``--work/<name>`` and ``seqsal motifs`` (:func:`seqsal.motifs.run_motifs`) runs there::

    python benchmarks/zoo/motif_calls.py benchmarks/zoo/build/calibration/basset_B [...] --work /tmp/motifcalls
        [--unfiltered [--unfiltered-fdr 1.0]] [--crossfit] [--motifs-from WORK/RUN] [--planted BED --repressors ...]
        [--out results.json]

``--unfiltered``: also every motif discovery clusters, before the support test (m = 0.7): what the support test
protects the family from. ``--crossfit``: double dipping measured: motifs discovered (no support test) on the
seqlets of even rows, called on odd rows and on even rows, and the other way round. ``--motifs-from``: call another
run's kept motifs (e.g. the demo's on a complete null: the demo model on a dinucleotide-shuffled demo genome).
Each work copy gets ``motif_calls.tsv`` (one row per call and rule/alpha; ``row = -1``: no call).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from calibrate import overlaps, planted_intervals, region_truth, used_motifs  # noqa: E402

from seqsal.io import region_arrays  # noqa: E402
from seqsal.motifs import read_motif_arrays, run_motifs  # noqa: E402
from seqsal.motifs.discover import DiscoveryOptions, best_per_instance, discover_motifs  # noqa: E402
from seqsal.motifs.run import DISCOVERY_CACHE_BYTES, DISCOVERY_FDR, DISCOVERY_WIDTHS, discovery_seqlets  # noqa: E402
from seqsal.motifs.redundancy import null_tail  # noqa: E402
from seqsal.motifs.seqlets import RowCache, extract_windows  # noqa: E402
from seqsal.motifs.sides import (  # noqa: E402
    WindowSet, discovery_threshold, null_blocks, null_one_hot, run_blocks, window_tests)
from seqsal.motifs.support import SupportOptions, scan_matches  # noqa: E402
from seqsal.peaks import NULL_FILE, PeakOptions, call_peaks_from_run  # noqa: E402

ALPHAS = (0.05, 0.1, 0.2)
MATCHES = (0.6, 0.7, 0.8, 0.9)
FILES = ("attributions.npz", "regions.tsv", NULL_FILE, "run.json")


# ---------------------------------------------------------------------------
# The statistics (pure)
# ---------------------------------------------------------------------------


def instance_pvalues(rows: np.ndarray, starts: np.ndarray, pvalues: np.ndarray, matched: np.ndarray,
                     gap: int) -> np.ndarray:
    """Indices of the matched windows kept, one per instance: the one with the smallest p.

    ``rows``, ``starts`` (the match's first base), ``pvalues``, ``matched`` (bool) are ``(n,)``; windows of one
    row whose matches start less than ``gap`` apart are one instance (:func:`best_per_instance`).
    """
    cluster = np.where(matched, 0, -1)
    keep = best_per_instance(cluster, rows, starts, -np.asarray(pvalues, np.float64), max(int(gap), 1))
    return np.flatnonzero(keep)


def step_up(run_p: np.ndarray, null_p: np.ndarray, scale: float, alpha: float) -> tuple[float, float, int, int]:
    """The largest cut ``t`` among ``run_p`` with ``(k0(t) + 1) * scale / k(t) <= alpha``.

    Parameters
    ----------
    run_p, null_p
        ``(k,)``, ``(k0,)`` p-values of the run's and the null's instances.
    scale
        ``B / B0``: the run's valid bases over the null's.
    alpha
        Nominal FDR.

    Returns
    -------
    t, estimate, k, k0
        The cut (0 when none passes), the estimated FDR there (when none passes: the smallest estimate over
        ``t``, with ``k = k0 = 0``), and the instances of each side at ``p <= t``. The ``+ 1`` makes a floor:
        no call before ``k >= scale / alpha`` instances beat every null instance.
    """
    run_sorted = np.sort(np.asarray(run_p, np.float64))
    null_sorted = np.sort(np.asarray(null_p, np.float64))
    if not run_sorted.shape[0]:
        return 0.0, float("nan"), 0, 0
    k = np.searchsorted(run_sorted, run_sorted, side="right")  # ties: all instances at p <= t
    k0 = np.searchsorted(null_sorted, run_sorted, side="right")
    estimate = (k0 + 1) * scale / k
    passing = np.flatnonzero(estimate <= alpha)
    if not passing.shape[0]:
        return 0.0, float(estimate.min()), 0, 0
    last = passing[-1]
    return float(run_sorted[last]), float(estimate[last]), int(k[last]), int(k0[last])


# ---------------------------------------------------------------------------
# The windows of a run folder and of its null, with p-values
# ---------------------------------------------------------------------------


def scored_windows(out: Path, options: SupportOptions) -> dict:
    """Every test window of the run and of the null, with its p-value (both sides against the null's tests)."""
    arrays = region_arrays(out / "attributions.npz", ("one_hot", "hypothetical"))
    null = region_arrays(out / NULL_FILE, ("projected", "valid"))
    run_tests, bases = window_tests(run_blocks(arrays), options.test_width)
    null_tests, null_bases = window_tests(null_blocks(null), options.test_width)
    models, _ = discovery_threshold({s: run_tests[s][2] for s in (1, -1)}, {s: null_tests[s][2] for s in (1, -1)},
                                    DISCOVERY_FDR, options.min_null_candidates)

    def side(tests):
        parts = [(tests[s][0], tests[s][1], np.full(tests[s][0].shape[0], s), models[s].pvalues(tests[s][2]))
                 for s in (1, -1)]
        return [np.concatenate([p[k] for p in parts]) for k in range(4)]

    rows, starts, signs, pvalues = side(run_tests)
    null_rows, null_starts, null_signs, null_p = side(null_tests)
    needed = np.unique(null_rows)
    one_hot = null_one_hot(out, needed)
    null_lengths = null.lengths[needed]
    lengths = arrays.lengths

    def run_sequences(r, s, width):
        return extract_windows([arrays["one_hot"]], lengths, r, s, width)[0]

    def null_sequences(r, s, width):
        return extract_windows([one_hot], null_lengths, np.searchsorted(needed, r), s, width)[0]

    return {"run": WindowSet(rows, starts, signs, {1: bases, -1: bases}, run_sequences), "run_p": pvalues,
            "null": WindowSet(null_rows, null_starts, null_signs, {1: null_bases, -1: null_bases}, null_sequences),
            "null_p": null_p, "bases": bases, "null_bases": null_bases}


def motif_calls(motifs, fixed_match: dict, windows: dict, options: SupportOptions, alphas=ALPHAS,
                matches=MATCHES) -> pd.DataFrame:
    """Per motif, alpha and rule (``fixed``, ``best_m``, ``best_m_bonferroni``): the step-up's cut and the calls.

    Returns one row per call (``motif``, ``sign``, ``rule``, ``alpha``, ``match``, ``row``, ``start``, ``end``,
    ``pvalue``, ``tail``: the share of the null's windows of the sign whose match to the motif is at least as
    good (:func:`seqsal.motifs.redundancy.null_tail`), ``t``, ``estimate``, ``k``, ``k0``) plus, per
    (motif, rule, alpha) with no call, a row with
    ``row = -1`` (so the summary sees the estimate).
    """
    run_matches = scan_matches(motifs, windows["run"], options)
    null_matches = scan_matches(motifs, windows["null"], options)
    scale = windows["bases"] / windows["null_bases"]
    out = []
    for motif, rm, nm in zip(motifs, run_matches, null_matches):
        sign = 1 if motif.sign == "+" else -1
        run_p = windows["run_p"][windows["run"].signs == sign]
        null_p = windows["null_p"][windows["null"].signs == sign]
        gap = rm.width // 2
        tails = null_tail(nm.score, rm.score)
        per_m = {}
        for m in sorted(set(matches) | {fixed_match[motif.name]}):
            ri = instance_pvalues(rm.rows, rm.start, run_p, rm.score >= m, gap)
            ni = instance_pvalues(nm.rows, nm.start, null_p, nm.score >= m, gap)
            per_m[m] = (ri, ni)
        for alpha in alphas:
            results = {m: step_up(run_p[ri], null_p[ni], scale, alpha) for m, (ri, ni) in per_m.items()}
            bonferroni = {m: step_up(run_p[per_m[m][0]], null_p[per_m[m][1]], scale, alpha / len(matches))
                          for m in matches}
            best = max(matches, key=lambda m: (results[m][2], m))
            best_b = max(matches, key=lambda m: (bonferroni[m][2], m))
            for rule, m, (t, estimate, k, k0) in (("fixed", fixed_match[motif.name], results[fixed_match[motif.name]]),
                                                  ("best_m", best, results[best]),
                                                  ("best_m_bonferroni", best_b, bonferroni[best_b])):
                ri = per_m[m][0]
                called = ri[run_p[ri] <= t] if t > 0 else ri[:0]
                base = {"motif": motif.name, "sign": motif.sign, "rule": rule, "alpha": alpha, "match": m, "t": t,
                        "estimate": estimate, "k": k, "k0": k0}
                if not called.shape[0]:
                    out.append({**base, "row": -1, "start": -1, "end": -1, "pvalue": np.nan, "tail": np.nan})
                for i in called:
                    out.append({**base, "row": int(rm.rows[i]), "start": int(rm.start[i]),
                                "end": int(rm.start[i]) + rm.width, "pvalue": float(run_p[i]),
                                "tail": float(tails[i])})
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------
# Scoring against the planted truth
# ---------------------------------------------------------------------------


def own_overlap(truth: list, row: int, a: int, b: int, name: str | None) -> bool:
    return name is not None and any(sa < b and sb > a and m == name for sa, sb, m in truth[row])


def recall(calls: pd.DataFrame, truth: list, repressors: set, uses: dict) -> dict:
    """Per planted motif: its sign, sites in the regions, sites overlapped by a call of that sign, used."""
    out = {}
    for motif in sorted({m for rows in truth for _, _, m in rows}):
        sign = "-" if motif in repressors else "+"
        own = calls[calls["sign"] == sign]
        by_row: dict = {}
        for r, a, b in zip(own["row"], own["start"], own["end"]):
            by_row.setdefault(int(r), []).append((a, b))
        sites = [(row, a, b) for row, rows in enumerate(truth) for a, b, m in rows if m == motif]
        hit = sum(any(s < b and e > a for s, e in by_row.get(row, [])) for row, a, b in sites)
        out[motif] = {"sign": sign, "sites": len(sites), "called": int(hit), "uses": uses.get(motif)}
    return out


def merged_loci(calls: pd.DataFrame) -> list[tuple[int, int, int, str, float]]:
    """The calls of all motifs merged where they overlap: ``(row, start, end, motif, tail)`` per locus, labelled
    with the motif whose match is the most surprising (smallest null tail; the rule of
    :func:`seqsal.motifs.redundancy.explained`)."""
    loci: list = []
    for row, part in calls.sort_values(["row", "start"]).groupby("row", sort=False):
        for a, b, m, tail in zip(part["start"], part["end"], part["motif"], part["tail"]):
            if loci and loci[-1][0] == row and a < loci[-1][2]:
                last = loci[-1]
                label = (m, tail) if tail < last[4] else (last[3], last[4])
                loci[-1] = (row, last[1], max(last[2], int(b)), *label)
            else:
                loci.append((int(row), int(a), int(b), m, float(tail)))
    return loci


def summarize(calls: pd.DataFrame, truth: list, best_name: dict, repressors: set, uses: dict) -> dict:
    """Per rule and alpha: calls, empirical FDR (any site / own motif), estimated FDR pooled, recall."""
    summary = {}
    for (rule, alpha), part in calls.groupby(["rule", "alpha"]):
        real = part[part["row"] >= 0]
        false_any = [not overlaps(truth, r, a, b) for r, a, b in zip(real["row"], real["start"], real["end"])]
        false_own = [not own_overlap(truth, r, a, b, best_name.get(m))
                     for r, a, b, m in zip(real["row"], real["start"], real["end"], real["motif"])]
        per_motif = {}
        for motif, rows in part.groupby("motif"):
            called = rows[rows["row"] >= 0]
            f_any = [not overlaps(truth, r, a, b) for r, a, b in zip(called["row"], called["start"], called["end"])]
            per_motif[motif] = {"match": float(rows["match"].iloc[0]), "best": best_name.get(motif),
                                "calls": len(called), "fdr_any": round(float(np.mean(f_any)), 4) if f_any else None,
                                "estimate": round(float(rows["estimate"].iloc[0]), 4), "k0": int(rows["k0"].iloc[0])}
        expected_false = sum(v["estimate"] * v["calls"] for v in per_motif.values() if v["calls"])
        loci = merged_loci(real)
        false_loci = [not overlaps(truth, r, a, b) for r, a, b, _, _ in loci]
        false_loci_own = [not own_overlap(truth, r, a, b, best_name.get(m)) for r, a, b, m, _ in loci]
        summary[f"{rule}@{alpha}"] = {
            "calls": len(real), "fdr_any": round(float(np.mean(false_any)), 4) if false_any else 0.0,
            "fdr_own": round(float(np.mean(false_own)), 4) if false_own else 0.0,
            "estimated_pooled": round(expected_false / len(real), 4) if len(real) else None,
            "loci": len(loci), "fdr_loci": round(float(np.mean(false_loci)), 4) if false_loci else 0.0,
            "fdr_loci_own": round(float(np.mean(false_loci_own)), 4) if false_loci_own else 0.0,
            "per_motif": per_motif,
            "recall": recall(real, truth, repressors, uses) if truth is not None else None}
    return summary


def seqlet_baseline(folder: Path, truth: list, repressors: set, uses: dict) -> dict:
    """The seqlet caller (defaults) at each nominal level, scored as calibrate.py scores it."""
    out = {}
    for alpha in ALPHAS:
        calls = call_peaks_from_run(folder, PeakOptions(fdr=alpha), write=False, elements=False).seqlets
        signs = calls["sign"].map(lambda v: v if isinstance(v, str) else ("+" if v > 0 else "-"))
        table = pd.DataFrame({"row": calls["region_index"], "start": calls["offset_start"],
                              "end": calls["offset_end"], "sign": signs})
        false = [not overlaps(truth, r, a, b) for r, a, b in zip(table["row"], table["start"], table["end"])]
        out[str(alpha)] = {"calls": len(table), "fdr_any": round(float(np.mean(false)), 4) if false else 0.0,
                           "recall": recall(table, truth, repressors, uses)}
    return out


# ---------------------------------------------------------------------------
# One run folder
# ---------------------------------------------------------------------------


class GivenMotif(NamedTuple):
    """A motif read back from another run's ``motifs.npz``/``motifs.tsv`` (what :func:`scan_matches` reads)."""

    name: str
    sign: str
    pwm: np.ndarray
    consensus: str


def motifs_from(copy: Path) -> tuple[list[GivenMotif], dict[str, float]]:
    """The kept motifs of an earlier work copy (``seqsal motifs`` output) and their ``support_match``."""
    arrays = read_motif_arrays(copy / "motifs.npz")
    table = pd.read_csv(copy / "motifs.tsv", sep="\t")
    name = "motif" if "motif" in table.columns else table.columns[0]
    motifs = [GivenMotif(str(row[name]), str(row["sign"]), arrays[str(row[name])]["pwm"],
                         str(row.get("consensus", ""))) for _, row in table.iterrows()]
    return motifs, {str(row[name]): float(row["support_match"]) for _, row in table.iterrows()}


def discovered_unfiltered(out: Path, options: DiscoveryOptions, fdr: float = DISCOVERY_FDR):
    """Every motif discovery clusters, before the support test (as :func:`seqsal.motifs.run_motifs` finds them)."""
    arrays = region_arrays(out / "attributions.npz", ("one_hot", "hypothetical"))
    seqlets = discovery_seqlets(out, fdr)
    return discover_motifs(RowCache(arrays["one_hot"], DISCOVERY_CACHE_BYTES // 2),
                           RowCache(arrays["hypothetical"], DISCOVERY_CACHE_BYTES // 2), arrays.lengths, seqlets,
                           options, False)


def restrict(windows: dict, rows: np.ndarray, lengths: np.ndarray) -> dict:
    """The run side of :func:`scored_windows` restricted to ``rows`` (its bases scaled by their share of length)."""
    run = windows["run"]
    mask = np.isin(run.rows, rows)
    share = float(lengths[rows].sum()) / float(lengths.sum())
    kept = WindowSet(run.rows[mask], run.starts[mask], run.signs[mask], {k: v * share for k, v in run.bases.items()},
                     run.sequences)
    return {**windows, "run": kept, "run_p": windows["run_p"][mask], "bases": windows["bases"] * share}


def crossfit(copy: Path, windows: dict, options: SupportOptions, truth: list, repressors: set, uses: dict) -> dict:
    """Double dipping, measured: motifs discovered (no support test) on the seqlets of even rows, called on odd rows
    (held out) and on even rows (the rows they came from), and the other way round; m = 0.7 for every motif."""
    arrays = region_arrays(copy / "attributions.npz", ("one_hot", "hypothetical"))
    lengths = arrays.lengths
    seqlets = discovery_seqlets(copy, DISCOVERY_FDR)
    halves = [np.flatnonzero(np.arange(lengths.shape[0]) % 2 == h) for h in (0, 1)]
    parts = {"held_out": [], "same": []}
    n_motifs = []
    for h in (0, 1):
        found = discover_motifs(RowCache(arrays["one_hot"], DISCOVERY_CACHE_BYTES // 2),
                                RowCache(arrays["hypothetical"], DISCOVERY_CACHE_BYTES // 2), lengths,
                                seqlets[seqlets["region_index"].isin(halves[h])].reset_index(drop=True),
                                DiscoveryOptions(), False)
        n_motifs.append(len(found))
        for label, rows in (("same", halves[h]), ("held_out", halves[1 - h])):
            if found:
                calls = motif_calls(found, {m.name: 0.7 for m in found}, restrict(windows, rows, lengths), options)
                parts[label].append(calls.assign(motif=[f"h{h}_{m}" for m in calls["motif"]]))
    out = {"n_motifs": n_motifs}
    for label, frames in parts.items():
        if frames:
            summary = summarize(pd.concat(frames, ignore_index=True), truth, {}, repressors, uses)
            out[label] = {key: {"calls": v["calls"], "fdr_any": v["fdr_any"], "estimated_pooled": v["estimated_pooled"],
                                "motifs_with_calls": sum(1 for m in v["per_motif"].values() if m["calls"]),
                                "recall": {m: f"{r['called']}/{r['sites']}" for m, r in (v["recall"] or {}).items()}}
                          for key, v in summary.items() if key.startswith(("fixed", "best_m@"))}
    return out


def run_folder(folder: Path, work: Path, name: str, zoo: Path | None, unfiltered: bool,
               unfiltered_fdr: float = DISCOVERY_FDR, given: Path | None = None,
               planted: Path | None = None, repressors: tuple[str, ...] = (), cross: bool = False) -> dict:
    copy = work / name
    copy.mkdir(parents=True, exist_ok=True)
    for file in FILES:
        shutil.copy2(folder / file, copy / file)
    record = json.loads((copy / "run.json").read_text())
    world = planted.parent if planted is not None else Path(record["genome"]).parent
    regions = pd.read_csv(copy / "regions.tsv", sep="\t", dtype={"chrom": str, "name": str}, keep_default_na=False)
    truth = region_truth(regions, planted_intervals(world)) if (world / "planted.bed").exists() else \
        [[] for _ in range(len(regions))]
    description = world / "world.json"
    repressors = set(json.loads(description.read_text()).get("repressors", [])) if description.exists() else \
        set(repressors)
    uses = {}
    model, _, target = name.partition("__")
    if zoo is not None and (zoo / model / "card.json").exists():
        card = json.loads((zoo / model / "card.json").read_text())
        uses = used_motifs(card, target or card.get("target", "0"))
    timing = {}
    started = time.perf_counter()
    found = run_motifs(copy, progress=False)
    timing["run_motifs"] = round(time.perf_counter() - started, 1)
    motifs, support = found["motifs"], found["support"]
    fixed = dict(zip(support["motif"], support["support_match"])) if support is not None else {}
    if given is not None:  # motifs of another run, called here (a complete null: every call false)
        motifs, fixed = motifs_from(given)
        found["matches"] = None
    best_name = {}
    if found["matches"] is not None:
        for query, rows in found["matches"].groupby("query", sort=False):
            best = rows.sort_values("pvalue").iloc[0]
            best_name[query] = str(best["target_name"]) if best["qvalue"] < 0.05 else None
    options = SupportOptions(test_width=DISCOVERY_WIDTHS[0])
    started = time.perf_counter()
    windows = scored_windows(copy, options)
    calls = motif_calls(motifs, fixed, windows, options) if motifs else pd.DataFrame(
        columns=["motif", "sign", "rule", "alpha", "match", "row", "start", "end", "pvalue", "t", "estimate", "k",
                 "k0"])
    timing["instance_calls"] = round(time.perf_counter() - started, 1)
    result = {"run": name, "folder": str(folder), "n_motifs": len(motifs),
              "motifs": {m.name: {"sign": m.sign, "consensus": m.consensus, "best": best_name.get(m.name),
                                  "support_match": fixed.get(m.name)} for m in motifs},
              "windows": {"run": int(windows["run"].rows.shape[0]), "null": int(windows["null"].rows.shape[0]),
                          "bases": int(windows["bases"]), "null_bases": int(windows["null_bases"])},
              "summary": summarize(calls, truth, best_name, repressors, uses) if len(calls) else {}}
    calls.to_csv(copy / "motif_calls.tsv", sep="\t", index=False)
    if unfiltered:
        started = time.perf_counter()
        every = discovered_unfiltered(copy, DiscoveryOptions(), unfiltered_fdr)
        raw = motif_calls(every, {m.name: 0.7 for m in every}, windows, options) if every else pd.DataFrame()
        raw_summary = summarize(raw, truth, {}, repressors, uses) if len(raw) else {}
        result["unfiltered"] = {"n_motifs": len(every), "discovery_fdr": unfiltered_fdr,
                                "summary": {key: {"calls": v["calls"], "fdr_any": v["fdr_any"], "loci": v["loci"],
                                                  "fdr_loci": v["fdr_loci"],
                                                  "motifs_with_calls": sum(1 for m in v["per_motif"].values()
                                                                           if m["calls"])}
                                            for key, v in raw_summary.items()}}
        timing["unfiltered"] = round(time.perf_counter() - started, 1)
    if cross:
        started = time.perf_counter()
        result["crossfit"] = crossfit(copy, windows, options, truth, repressors, uses)
        timing["crossfit"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    result["seqlets"] = seqlet_baseline(copy, truth, repressors, uses)
    timing["seqlets"] = round(time.perf_counter() - started, 1)
    result["timing_seconds"] = timing
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--work", type=Path, required=True, help="scratch folder for the copies")
    parser.add_argument("--zoo", type=Path, default=HERE / "build")
    parser.add_argument("--unfiltered", action="store_true",
                        help="also call instances of every discovered motif, before the support test (m = 0.7)")
    parser.add_argument("--unfiltered-fdr", type=float, default=DISCOVERY_FDR,
                        help="discovery FDR of --unfiltered (1.0: every test window is a seqlet)")
    parser.add_argument("--motifs-from", type=Path, default=None,
                        help="call the motifs of this earlier work copy (motifs.npz, motifs.tsv) instead of the "
                             "folder's own")
    parser.add_argument("--planted", type=Path, default=None,
                        help="planted.bed of the truth (default: next to the genome run.json names)")
    parser.add_argument("--repressors", nargs="*", default=[], help="motifs of negative sign, without world.json")
    parser.add_argument("--crossfit", action="store_true",
                        help="also measure double dipping: motifs found on half the regions, called on the other")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = []
    for folder in args.folders:
        results.append(run_folder(folder, args.work, folder.name, args.zoo, args.unfiltered, args.unfiltered_fdr,
                                  args.motifs_from, args.planted, tuple(args.repressors), args.crossfit))
        print(json.dumps({k: v for k, v in results[-1].items() if k != "summary"}
                         | {"summary": {k: {kk: vv for kk, vv in v.items()
                                          if kk in ("calls", "fdr_any", "fdr_own", "loci", "fdr_loci")}
                                        for k, v in results[-1]["summary"].items()}}), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
