"""Prototype (issue 13): an *activity-preserving* shuffled null, against the run folder's own ``null.npz``.

Run from the repository root after ``python benchmarks/zoo/make_zoo.py`` and ``python benchmarks/zoo/calibrate.py``
(the run folders), and ``seqsal attribute data/demo/genome.fa data/demo/regions.bed --model
data/demo/model.safetensors -o <demo folder>`` for the demo (its truth: ``data/demo/planted.bed``)::

    nice -n 10 python benchmarks/zoo/activity_null.py \
        --runs benchmarks/zoo/build/calibration/{basset_B,conjoined_rc_B,dilated10k_B,rcmaxpool_A} <demo folder> \
        [--alpha 0.1] [--pad 0] [--lenient P] [--keep-widths 6 10 16 24] [--keep-calls 0.2] [--oracle] \
        [--complete-null-seeds 3] [--active-null-seeds 1] [--out benchmarks/zoo/build/activity_null.json]

Why: on world B, 23-70 % of ``-`` seqlets are false at nominal 0.05-0.2; the session-5 diagnosis was attribution
noise that grows with a region's activity, which dinucleotide-shuffled (inactive) copies cannot represent
(benchmarks/RESULTS.md, "Activity-preserving null" for what this prototype found).

The null here: for each region of the folder's null sample (``null.npz`` ``region_index``, the same rows as the
ordinary null), the *observed* track is scanned with windows of ``--keep-widths`` (default: the caller's); a
window is **kept** when its sum is beyond the ordinary shuffled null at a region-level Bonferroni level,
``p <= alpha / M`` (``M``: the region's windows over all widths and both signs; empirical p against the same
width's null window sums, ``(1 + #null beyond) / (n + 1)``). So an inactive region, whose track looks like the
shuffled null, keeps nothing with probability >= ``1 - alpha``; an active one keeps its clear sites. With
``--lenient P``, a region that keeps something also keeps its windows with ``p <= P``. With ``--keep-calls Q``
(default 0.2; 0 turns it off), the seqlets called at FDR ``Q`` against the ordinary null are kept too (two passes:
Bonferroni alone keeps too few sites to keep the activity, and a kept false call costs the null only its bases,
since the copy's other bases are fresh shuffles). Kept windows are widened
by ``pad`` bases (default 0: the model's response to a site's immediate flanks is what the null must show,
and a pad takes those flanks out of the null's tests). The copy keeps those stretches and the genomic context
outside the region (never tested; it carries the activity that long-window models see) and dinucleotide-shuffles
each stretch of the region between kept ones on its own (:func:`seqsal.dinucleotide_shuffle`, N bases fixed).
The copies are attributed with the run's model and parameters (:func:`seqsal.iter_attributions`), and the kept
stretches are invalid in the null tracks: they are never null tests (the copy's shuffled bases are fresh
draws, so keeping a noise maximum of the observed track does not remove a maximum from the null).

Scored (``calibrate.py``'s helpers): per sign, calls and the share overlapping no planted site, and seqlet F1, at
FDR 0.05 and 0.2, calling with :func:`seqsal.call_peaks` (default widths) against the ordinary and the
activity-preserving null (and, with ``--oracle``, a null that keeps exactly the planted sites: the idea's upper
bound, not usable on real data). Complete nulls, where every call is false: *shuffled*, the "observed" run is
dinucleotide-shuffled copies of every region (fresh seeds), both nulls built from it exactly as above; *active*,
the "observed" run is activity-preserving copies of every region, tested only outside the stretches kept from the
real track, its activity-preserving null keeping those stretches too.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import seqsal
from seqsal.regions import fetch_span
from seqsal.genome import Genome
from seqsal.io import region_arrays
from seqsal.models import load_model
from seqsal.peaks import PeakOptions, shuffled_fetch
from seqsal.peaks.streams import valid_mask
from seqsal.pipeline import AttributeOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate import f1, fdr_by_sign, planted_intervals, region_truth  # noqa: E402

HERE = Path(__file__).resolve().parent
LEVELS = (0.05, 0.2)
log = logging.getLogger("activity_null")


@dataclass
class Tracks:
    """Per-base tracks ``(N, L)`` (0 where invalid), their validity, true lengths ``(N,)`` and, when attributed
    here, the model's predictions ``(N,)``."""

    values: np.ndarray
    valid: np.ndarray
    lengths: np.ndarray
    predictions: np.ndarray | None = None


@dataclass(frozen=True)
class KeepRule:
    """What the activity-preserving null keeps (:func:`keep_mask`): region-level Bonferroni ``alpha``, ``pad``
    bases each side, the ``lenient`` window level of gated (clearly active) rows, or None, and the window
    ``widths`` scanned (wide windows that pass reach past a site into its flanks); with ``calls_fdr``, also the
    seqlets :func:`seqsal.call_peaks` calls at that FDR against the ordinary null (both signs)."""

    alpha: float = 0.1
    pad: int = 0
    lenient: float | None = None
    widths: tuple[int, ...] = PeakOptions().test_widths
    calls_fdr: float | None = None


@dataclass
class Run:
    """A ``seqsal attribute`` run folder as this benchmark reads it (:func:`load_run`)."""

    folder: Path
    record: dict
    regions: pd.DataFrame
    observed: Tracks
    null: Tracks
    null_rows: np.ndarray  # (K,) rows of the run each null copy shuffles
    truth: list


def load_run(folder: Path, world: Path | None = None) -> Run:
    """Observed tracks, the folder's ordinary null and the planted truth (``<world>/planted.bed``; default: the
    folder of the run's genome) of a ``seqsal attribute`` folder."""
    record = json.loads((folder / "run.json").read_text())
    regions = pd.read_csv(folder / "regions.tsv", sep="\t", dtype={"chrom": str, "name": str}, keep_default_na=False)
    arrays = region_arrays(folder / "attributions.npz", ("one_hot", "hypothetical"))
    one_hot = arrays["one_hot"].padded()
    values = (one_hot * arrays["hypothetical"].padded()).sum(axis=1)
    lengths = (regions["end"] - regions["start"]).to_numpy(np.int64)
    sizes = Genome(record["genome"]).chrom_sizes
    valid = valid_mask(one_hot, lengths, regions["start"].to_numpy(np.int64),
                       regions["chrom"].map(sizes).to_numpy(np.int64))
    null = region_arrays(folder / "null.npz", ("projected", "valid"))
    with np.load(folder / "null.npz") as z:
        null_rows = np.asarray(z["region_index"], np.int64)
    null_tracks = Tracks(null["projected"].padded(), null["valid"].padded().astype(bool),
                         np.asarray(null.lengths, np.int64))
    truth = region_truth(regions, planted_intervals(world or Path(record["genome"]).parent))
    return Run(folder, record, regions, Tracks(np.where(valid, values, 0).astype(np.float32), valid, lengths),
               null_tracks, null_rows, truth)


def sliding_sums(values: np.ndarray, valid: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of every ``width``-bp window of ``(N, L)`` tracks, ``(N, L - width + 1)``, and whether all its bases
    are valid."""
    cumulative = np.concatenate([np.zeros((values.shape[0], 1)), np.cumsum(values, axis=1, dtype=np.float64)], 1)
    bad = np.concatenate([np.zeros((valid.shape[0], 1)), np.cumsum(~valid, axis=1)], 1)
    return cumulative[:, width:] - cumulative[:, :-width], (bad[:, width:] - bad[:, :-width]) == 0


def null_window_sums(null: Tracks, widths: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Per width, the sorted sums of every all-valid window of the ordinary null tracks."""
    out = {}
    for width in widths:
        sums, ok = sliding_sums(null.values, null.valid, width)
        out[width] = np.sort(sums[ok])
    return out


def keep_mask(values: np.ndarray, valid: np.ndarray, reference: dict[int, np.ndarray], alpha: float,
              pad: int, lenient: float | None = None) -> np.ndarray:
    """``(N, L)`` bool: bases of windows clearly beyond the ordinary null, widened by ``pad``.

    A window of width ``w`` and sum ``s`` has the empirical p-values ``(1 + #{null >= s}) / (n + 1)`` (``+``) and
    ``(1 + #{null <= s}) / (n + 1)`` (``-``) against the null's ``w``-bp window sums; it is kept when one of them
    is ``<= alpha / M``, ``M`` the row's valid windows over all widths times 2 (Bonferroni within the row: a
    row drawn from the null keeps anything with probability <= ``alpha``). With ``lenient``, a row that keeps
    something (a clearly active row: the gate) also keeps its windows with ``p <= lenient``.
    """
    per_width = {w: sliding_sums(values, valid, w) for w in reference}
    tests = 2 * sum(ok.sum(axis=1) for _, ok in per_width.values())
    level = alpha / np.maximum(tests, 1)
    pvalues = {}
    for width, (sums, ok) in per_width.items():
        null = reference[width]
        n = len(null)
        above = n - np.searchsorted(null, sums, side="left")  # null >= s
        below = np.searchsorted(null, sums, side="right")  # null <= s
        pvalues[width] = np.where(ok, (1 + np.minimum(above, below)) / (n + 1), 1.0)
    gate = np.zeros(values.shape[0], dtype=bool)
    for p in pvalues.values():
        gate |= (p <= level[:, None]).any(axis=1)
    keep = np.zeros(values.shape, dtype=bool)
    for width, p in pvalues.items():
        hit = p <= level[:, None]
        if lenient is not None:
            hit |= gate[:, None] & (p <= lenient)
        for row, start in zip(*np.nonzero(hit)):
            keep[row, max(start - pad, 0):start + width + pad] = True
    return keep


def segment_shuffle(sequence: str, keep: np.ndarray, offset: int, rng: np.random.Generator) -> str:
    """``sequence`` (a fetched span) with each stretch of ``[offset, offset + len(keep))`` between kept bases
    dinucleotide-shuffled on its own (N columns fixed); kept bases and the span outside stay as they are."""
    x = seqsal.one_hot_encode(sequence)
    flags = np.concatenate([[0], (~keep).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(flags))  # starts and ends of the runs of free (not kept) bases
    for a, b in zip(edges[::2], edges[1::2]):
        if b - a > 2:  # 1-2 bases have one dinucleotide arrangement
            x[:, offset + a:offset + b] = seqsal.dinucleotide_shuffle(x[:, offset + a:offset + b], 1, seed=rng)[0]
    return seqsal.one_hot_decode(x)


def activity_sequences(regions: pd.DataFrame, rows: np.ndarray, keep: np.ndarray, fetch, window: int | None,
                       seed: int) -> dict[tuple[str, int, int], str]:
    """The null copy of each sampled row's fetched span, keyed as the engine will ``fetch`` it (a null with several
    copies of a region, ``null.npz`` ``copies > 1``, gets its last copy for all of them: not handled here)."""
    out = {}
    for k, row in enumerate(rows):
        chrom, start, end = str(regions["chrom"].iloc[row]), int(regions["start"].iloc[row]), int(regions["end"].iloc[row])
        span = fetch_span(start, end, window)
        sequence = fetch(chrom, *span)
        rng = np.random.default_rng([seed, int(row), k])
        out[(chrom, *span)] = segment_shuffle(sequence, keep[k, :end - start], start - span[0], rng)
    return out


def attribute(run: Run, rows: np.ndarray, fetch) -> Tracks:
    """Attribute ``rows`` of the run with the run's model and parameters, sequences served by ``fetch``."""
    record = run.record
    params = {k: v for k, v in record["parameters"].items() if k in AttributeOptions.__dataclass_fields__}
    options = AttributeOptions(**params)
    genome = Genome(record["genome"], unknown_bases=options.unknown_bases)
    genome.fetch = fetch  # the engine reads sequences only through genome.fetch
    model = load_model(record["model"]["path"], record["model"].get("architecture"), record["model"].get("config"))
    subset = run.regions.iloc[rows].reset_index(drop=True)
    lengths = (subset["end"] - subset["start"]).to_numpy(np.int64)
    width = int(lengths.max()) if len(lengths) else 0
    values = np.zeros((len(subset), width), np.float32)
    valid = np.zeros((len(subset), width), bool)
    predictions = np.zeros(len(subset))
    sizes = genome.chrom_sizes
    for k, result in enumerate(seqsal.iter_attributions(genome, subset, model, options)):
        length = lengths[k]
        mask = valid_mask(result.one_hot[None], lengths[k:k + 1], subset["start"].to_numpy(np.int64)[k:k + 1],
                          np.array([sizes[str(subset["chrom"].iloc[k])]]))[0]
        values[k, :length] = np.where(mask, result.projected, 0)
        valid[k, :length] = mask
        predictions[k] = result.prediction
    return Tracks(values, valid, lengths, predictions)


def activity_copies(run: Run, rows: np.ndarray, keep: np.ndarray, fetch, seed: int) -> tuple[Tracks, dict]:
    """Attributions of the activity-preserving copies of ``rows`` (``keep`` ``(K, L)`` kept, the rest of each
    region shuffled; sequences of the spans from ``fetch``): tracks with the kept bases invalid, and the copies'
    sequences by fetched span."""
    sequences = activity_sequences(run.regions, rows, keep, fetch, run.record["parameters"].get("window"), seed)
    tracks = attribute(run, rows, lambda chrom, start, end: sequences[(chrom, start, end)])
    tracks.valid &= ~keep[:, :tracks.valid.shape[1]]
    tracks.values = np.where(tracks.valid, tracks.values, 0).astype(np.float32)
    return tracks, sequences


def detect_keep(observed: Tracks, rows: np.ndarray, reference: Tracks, rule: KeepRule) -> np.ndarray:
    """:func:`keep_mask` of the observed ``rows`` against the ordinary null ``reference``, inside each region
    (plus the seqlets called at ``rule.calls_fdr`` against it, when set)."""
    keep = keep_mask(observed.values[rows], observed.valid[rows],
                     null_window_sums(reference, rule.widths), rule.alpha, rule.pad, rule.lenient)
    if rule.calls_fdr is not None:
        calls = seqsal.call_peaks(observed.values, observed.lengths, observed.valid, null_track=reference.values,
                                  null_lengths=reference.lengths, null_valid=reference.valid, fdr=rule.calls_fdr)
        where = {int(row): k for k, row in enumerate(rows)}
        for row, a, b in zip(calls["region_index"], calls["offset_start"], calls["offset_end"]):
            if int(row) in where:
                keep[where[int(row)], max(int(a) - rule.pad, 0):int(b) + rule.pad] = True
    return keep & (np.arange(keep.shape[1])[None, :] < observed.lengths[rows][:, None])


def activity_null(run: Run, observed: Tracks, observed_fetch, reference: Tracks, rule: KeepRule, seed: int,
                  fixed: np.ndarray | None = None) -> tuple[Tracks, np.ndarray]:
    """The activity-preserving null of ``observed`` (tracks of all the run's rows, sequences served by
    ``observed_fetch``) over the null sample's rows: its tracks (kept stretches invalid) and the keep mask
    ``(K, L)``. ``fixed`` ``(K, L)``: bases kept whatever the track says (already untested in ``observed``)."""
    keep = detect_keep(observed, run.null_rows, reference, rule)
    if fixed is not None:
        keep |= fixed
    return activity_copies(run, run.null_rows, keep, observed_fetch, seed)[0], keep


def score(observed: Tracks, null: Tracks, truth: list | None) -> dict:
    """Calls per sign (share false: overlapping no planted site; all of them when ``truth`` is None) and F1."""
    out = {}
    for fdr in LEVELS:
        calls = seqsal.call_peaks(observed.values, observed.lengths, observed.valid, null_track=null.values,
                                  null_lengths=null.lengths, null_valid=null.valid, fdr=fdr)
        if truth is None:
            out[fdr] = {s: [int((calls["sign"] == s).sum()), 1.0] for s in "+-"}
            continue
        out[fdr] = {s: [n, round(rate, 4)] for s, (n, rate) in fdr_by_sign(calls, truth).items()}
        out[fdr]["f1"] = round(f1(list(zip(calls["region_index"], calls["offset_start"], calls["offset_end"])),
                                  truth)[0], 4)
    return out


def diagnostics(run: Run, keep: np.ndarray, before: Tracks, after: Tracks) -> dict:
    """Where the kept stretches are and what the null copies' noise looks like (element vs background rows)."""
    rows = run.null_rows
    element = np.array([bool(run.truth[r]) for r in rows])
    kept_rows = keep.any(axis=1)
    stretches, on_site = 0, 0
    for k, row in enumerate(rows):
        edges = np.flatnonzero(np.diff(np.concatenate([[0], keep[k].astype(np.int8), [0]])))
        for a, b in zip(edges[::2], edges[1::2]):
            stretches += 1
            on_site += any(sa < b and sb > a for sa, sb, _ in run.truth[row])

    def median_abs(tracks: Tracks, pick: np.ndarray) -> float:
        values = np.abs(tracks.values[pick][tracks.valid[pick]])
        return float(np.median(values)) if values.size else float("nan")

    obs = Tracks(run.observed.values[rows], run.observed.valid[rows], run.observed.lengths[rows])
    return {
        "null_rows": int(len(rows)), "element_rows": int(element.sum()), "background_rows": int((~element).sum()),
        "element_rows_with_kept": int((kept_rows & element).sum()),
        "background_rows_with_kept": int((kept_rows & ~element).sum()),
        "kept_bases_share": round(float(keep.sum() / max(run.observed.valid[rows].sum(), 1)), 4),
        "kept_stretches": stretches, "kept_stretches_on_planted_site": on_site,
        "median_abs": {name: {"element": round(median_abs(t, element), 6), "background": round(median_abs(t, ~element), 6)}
                       for name, t in (("observed", obs), ("ordinary_null", before), ("activity_null", after))},
    }


def planted_mask(run: Run, rows: np.ndarray) -> np.ndarray:
    """``(K, L)`` bool: the planted sites of ``rows`` (the truth; for the oracle null only)."""
    mask = np.zeros((len(rows), run.observed.values.shape[1]), dtype=bool)
    for k, row in enumerate(rows):
        for a, b, _ in run.truth[row]:
            mask[k, max(a, 0):max(b, 0)] = True
    return mask


def evaluate(folder: Path, world: Path | None, rule: KeepRule, seeds: int, active_seeds: int,
             oracle: bool = False) -> dict:
    """Score one run folder with its ordinary null and the activity-preserving null, plus the complete nulls
    (and, with ``oracle``, a null that keeps exactly the planted sites: the idea's upper bound)."""
    started = time.perf_counter()
    run = load_run(folder, world)
    source = Genome(run.record["genome"], unknown_bases=run.record["parameters"].get("unknown_bases", "error"))
    after, keep = activity_null(run, run.observed, source.fetch, run.null, rule, seed=1)
    result = {"run": folder.name, "regions": len(run.regions), "rule": asdict(rule),
              "before": score(run.observed, run.null, run.truth), "after": score(run.observed, after, run.truth),
              "diagnostics": diagnostics(run, keep, run.null, after), "complete_null": []}
    if oracle:
        known = activity_copies(run, run.null_rows, planted_mask(run, run.null_rows), source.fetch, 5)[0]
        result["oracle"] = score(run.observed, known, run.truth)
    everything = np.arange(len(run.regions))
    element = np.array([bool(run.truth[r]) for r in run.null_rows])
    observed_prediction = run.regions["prediction"].to_numpy(np.float64)[run.null_rows]
    for s in range(seeds):  # complete nulls: the observed run is shuffled sequence; every call is false
        fetch = shuffled_fetch(source.fetch, 1000 + s)
        shuffled = attribute(run, everything, fetch)
        if s == 0:  # does the null copy keep the region's activity? (shuffled: an ordinary null copy)
            result["diagnostics"]["mean_prediction"] = {
                name: {"element": round(float(v[element].mean()), 4), "background": round(float(v[~element].mean()), 4)}
                for name, v in (("observed", observed_prediction), ("activity_null", after.predictions),
                                ("shuffled", shuffled.predictions[run.null_rows]))}
        shuffled_null, shuffled_keep = activity_null(run, shuffled, fetch, run.null, rule, seed=2000 + s)
        result["complete_null"].append({
            "seed": 1000 + s, "kept_rows": int(shuffled_keep.any(axis=1).sum()),
            "before": score(shuffled, run.null, None), "after": score(shuffled, shuffled_null, None)})
    result["active_null"] = []
    kept_all = detect_keep(run.observed, everything, run.null, rule) if active_seeds else None
    for s in range(active_seeds):  # active complete nulls: activity copies of every region, kept sites untested
        copies, sequences = activity_copies(run, everything, kept_all, source.fetch, 3000 + s)
        copy_null, copy_keep = activity_null(run, copies, lambda c, a, b: sequences[(c, a, b)], run.null, rule, 4000 + s, fixed=kept_all[run.null_rows])
        result["active_null"].append({
            "seed": 3000 + s, "new_kept_rows": int((copy_keep & ~kept_all[run.null_rows]).any(axis=1).sum()),
            "before": score(copies, run.null, None), "after": score(copies, copy_null, None)})
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _at(scored: dict, fdr: float) -> dict:
    """``scored[fdr]``, whether the keys are numbers (fresh) or strings (read back from JSON)."""
    return scored[fdr] if fdr in scored else scored[str(fdr)]


def _cell(scored: dict, fdr: float) -> str:
    part = _at(scored, fdr)
    signs = " ".join(f"{s}{part[s][0]} ({part[s][1]:.2f})" if part[s][0] else f"{s}0" for s in "+-")
    return f"{signs} F1 {part['f1']:.3f}"


def _null_cell(checks: list[dict], name: str) -> str:
    """Complete-null runs with any call at each level, and all their calls at 0.2."""
    if not checks:
        return "-"
    runs = " / ".join(f"{sum(any(_at(c[name], f)[s][0] for s in '+-') for c in checks)} of {len(checks)}"
                      for f in LEVELS)
    return f"{runs} ({sum(_at(c[name], 0.2)[s][0] for c in checks for s in '+-')})"


def markdown(results: list[dict]) -> list[str]:
    """The RESULTS.md table: per run, ordinary vs activity-preserving null."""
    rows = ["| run | null | FDR 0.05: + n (false) - n (false) F1 | FDR 0.2: same | shuffled complete nulls: runs with "
            "calls @0.05 / @0.2 (calls @0.2) | active complete nulls: same |", "| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        for name in ("before", "after", "oracle"):
            if name not in r:
                continue
            label = {"before": "ordinary (null.npz)", "after": "activity-preserving",
                     "oracle": "oracle: planted sites kept"}[name]
            rows.append(f"| {r['run']} | {label} | {_cell(r[name], 0.05)} | {_cell(r[name], 0.2)} | "
                        f"{_null_cell(r['complete_null'], name) if name != 'oracle' else '-'} | "
                        f"{_null_cell(r.get('active_null', []), name) if name != 'oracle' else '-'} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    calibration = HERE / "build" / "calibration"
    parser.add_argument("--runs", nargs="*", type=Path, default=[calibration / m for m in (
        "basset_B", "conjoined_rc_B", "dilated10k_B", "rcmaxpool_A")])
    parser.add_argument("--alpha", type=float, default=0.1, help="region-level level of keeping any window")
    parser.add_argument("--pad", type=int, default=0, help="bases added to each side of a kept window")
    parser.add_argument("--lenient", type=float, default=None,
                        help="in rows that keep something, also keep windows with p <= this (default: none)")
    parser.add_argument("--keep-widths", type=int, nargs="+", default=list(PeakOptions().test_widths),
                        help="window widths scanned for kept stretches (default: the caller's)")
    parser.add_argument("--keep-calls", type=float, default=0.2,
                        help="also keep the seqlets called at this FDR against the ordinary null (two passes; "
                             "0: off, windows beyond the Bonferroni level only)")
    parser.add_argument("--complete-null-seeds", type=int, default=3)
    parser.add_argument("--active-null-seeds", type=int, default=1,
                        help="active complete nulls: activity copies of every region scored outside the kept sites")
    parser.add_argument("--oracle", action="store_true", help="also a null keeping exactly the planted sites")
    parser.add_argument("--out", type=Path, default=HERE / "build" / "activity_null.json")
    parser.add_argument("--table", nargs="*", type=Path, default=None,
                        help="print the table of earlier runs' JSON files (default: --out) and stop")
    args = parser.parse_args()
    if args.table is not None:
        print("\n".join(markdown([r for path in (args.table or [args.out]) for r in json.loads(path.read_text())])))
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    results = []
    for folder in args.runs:
        log.info("%s ...", folder)
        rule = KeepRule(args.alpha, args.pad, args.lenient, tuple(args.keep_widths),
                        args.keep_calls or None)
        results.append(evaluate(folder, None, rule, args.complete_null_seeds, args.active_null_seeds,
                                args.oracle))
        log.info("%s", json.dumps(results[-1]))
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    print("\n".join(markdown(results)))


if __name__ == "__main__":
    sys.exit(main())
