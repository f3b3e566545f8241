"""Calibration of seqsal's calls over the model zoo (issue 13, item 5): one set of defaults, every model.

Run from the repository root after ``python benchmarks/zoo/make_zoo.py`` (``pip install -e '.[bench]'`` for the
peers)::

    python benchmarks/zoo/calibrate.py [--zoo benchmarks/zoo/build] [--only NAME ...] [--no-peers]

For each zoo model (``<zoo>/<model>/card.json``, written by ``make_zoo.py``): ``seqsal attribute`` with the default settings and the card's model
arguments, then from the run folder:

* the empirical FDR of seqlets and of elements, per sign, at nominal 0.05, 0.1 and 0.2 (``seqsal call-peaks``
  re-calls; a call is false when it overlaps no planted site of its world), and at the default level against
  the sites of the call's own sign (``seqlets_signed_false``: a ``-`` seqlet on an activator's site is false there);
* the recall of each planted motif at the default seqlet FDR (``PeakOptions().fdr``, 0.2; sites with an overlapping seqlet of the motif's sign), and
  whether the model uses the motif (the card: planting one site moves the prediction by >= 0.1 SD);
* seqlet F1 (a hit is >= 50 % reciprocal overlap with a planted site) for seqsal at 0.05, 0.1, 0.2 and the
  default, tangermeme's
  ``recursive_seqlets`` (both signs; best of threshold 1e-2 ... 1e-5) and tfmodisco-lite's seqlet extraction, on
  the same projected track;
* the calls a user gets from ``seqsal attribute`` then ``seqsal motifs`` with their defaults: the motif instance
  calls at FDR 0.05 (``motif_calls.tsv``, run in a scratch copy of the folder) and their union with the seqlets
  at the default FDR (a seqlet overlapping a motif call of its sign is left out: the call is the same site), with the
  F1 and the share of calls on no planted site of each, and the used motifs still without a call.

Writes ``<zoo>/calibration/<model>/`` (the run folders), ``calibration.tsv`` and ``calibration.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from seqsal.io import region_arrays
from seqsal.motifs import run_motifs
from seqsal.peaks import NULL_FILE, PeakOptions, call_peaks_from_run

HERE = Path(__file__).resolve().parent
NOMINAL = (0.05, 0.1, 0.2)
log = logging.getLogger("calibrate")


def planted_intervals(world: Path) -> pd.DataFrame:
    sites = pd.read_csv(world / "planted.bed", sep="\t", header=None, comment="#",
                        names=["chrom", "start", "end", "motif", "score", "strand"], dtype={"chrom": str})
    return sites


def region_truth(regions: pd.DataFrame, sites: pd.DataFrame) -> list[list[tuple[int, int, str]]]:
    """Per region, the planted sites in its row coordinates ``(a, b, motif)``."""
    by_chrom = {chrom: frame for chrom, frame in sites.groupby("chrom")}
    out = []
    for chrom, start, end in zip(regions["chrom"], regions["start"], regions["end"]):
        frame = by_chrom.get(str(chrom))
        if frame is None:
            out.append([])
            continue
        inside = frame[(frame["end"] > start) & (frame["start"] < end)]
        out.append([(int(a - start), int(b - start), m) for a, b, m in zip(inside["start"], inside["end"],
                                                                           inside["motif"])])
    return out


def overlaps(truth: list, row: int, a: int, b: int) -> bool:
    return any(sa < b and sb > a for sa, sb, _ in truth[row])


def reciprocal(truth: list, row: int, a: int, b: int, share: float = 0.5) -> int | None:
    """Index of a planted site of the row with >= ``share`` reciprocal overlap with ``[a, b)``, else None."""
    for k, (sa, sb, _) in enumerate(truth[row]):
        inter = min(b, sb) - max(a, sa)
        if inter > 0 and inter >= share * (b - a) and inter >= share * (sb - sa):
            return k
    return None


def fdr_by_sign(calls: pd.DataFrame, truth: list) -> dict:
    out = {}
    for sign in "+-":
        part = calls[calls["sign"] == sign]
        false = sum(not overlaps(truth, r, a, b) for r, a, b in
                    zip(part["region_index"], part["offset_start"], part["offset_end"]))
        out[sign] = (len(part), false / len(part) if len(part) else 0.0)
    return out


def signed_false(calls: pd.DataFrame, truth: list, repressors: set[str]) -> dict:
    """Per sign: calls and the share that overlaps no planted site *of that sign* (a ``-`` call on an activator's
    site is false here, true for :func:`fdr_by_sign`: session 31 found most such calls contradicted by the model)."""
    out = {}
    for sign in "+-":
        part = calls[calls["sign"] == sign]
        own = [[t for t in rows if (t[2] in repressors) == (sign == "-")] for rows in truth]
        false = sum(not overlaps(own, r, a, b) for r, a, b in
                    zip(part["region_index"], part["offset_start"], part["offset_end"]))
        out[sign] = [len(part), round(false / len(part), 4) if len(part) else 0.0]
    return out


def f1(intervals: list[tuple[int, int, int]], truth: list) -> tuple[float, int]:
    """F1 of called ``(row, a, b)`` against the planted sites (hit: >= 50 % reciprocal overlap, each site once)."""
    n_sites = sum(len(t) for t in truth)
    found, hits = set(), 0
    for row, a, b in intervals:
        k = reciprocal(truth, row, a, b)
        if k is not None:
            hits += 1
            found.add((row, k))
    precision = hits / len(intervals) if intervals else 0.0
    recall = len(found) / n_sites if n_sites else 0.0
    return (2 * precision * recall / (precision + recall) if precision + recall else 0.0), len(intervals)


def tangermeme_f1(track: np.ndarray, truth: list) -> dict:
    import torch
    from tangermeme.seqlet import recursive_seqlets

    best = {"f1": 0.0}
    for threshold in (1e-2, 1e-3, 1e-4, 1e-5):
        calls = []
        for sign in (1, -1):
            frame = recursive_seqlets(torch.from_numpy(sign * track), threshold=threshold)
            calls += [(int(r), int(a), int(b)) for r, a, b in
                      zip(frame["example_idx"], frame["start"], frame["end"])]
        score, n = f1(calls, truth)
        if score > best["f1"]:
            best = {"f1": round(score, 4), "threshold": threshold, "calls": n}
    return best


def modisco_f1(track: np.ndarray, truth: list) -> dict:
    from modiscolite.extract_seqlets import extract_seqlets

    try:
        seqlets, _ = extract_seqlets(attribution_scores=track.astype(np.float32), window_size=21, flank=10,
                                     suppress=int(0.5 * 21) + 10, target_fdr=0.2, min_passing_windows_frac=0.03,
                                     max_passing_windows_frac=0.2, weak_threshold_for_counting_sign=0.8)
    except Exception as error:  # noqa: BLE001 - a peer failing on a track is a result to report
        return {"f1": None, "error": f"{type(error).__name__}: {error}"[:200]}
    # modisco's seqlets carry `flank` bases on each side of the scored window: compare the window itself
    calls = [(int(s.example_idx), int(s.start) + 10, int(s.end) - 10) for s in seqlets]
    score, n = f1(calls, truth)
    return {"f1": round(score, 4), "calls": n}


SEQSAL_LEVELS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)  # FDR levels for seqsal's best F1, as the peers get thresholds


def seqsal_best_f1(folder: Path, truth: list, signs: str = "+-") -> dict:
    """seqsal's F1 at its best FDR level of :data:`SEQSAL_LEVELS`, chosen with the truth as the peers' best
    threshold is (each level called on its own: which seqlets a site's neighbours merge or cut depends on the
    level)."""
    best = {"f1": 0.0}
    for level in SEQSAL_LEVELS:
        calls = call_peaks_from_run(folder, PeakOptions(fdr=level, signs=signs), write=False, elements=False).seqlets
        score, n = f1(list(zip(calls["region_index"], calls["offset_start"], calls["offset_end"])), truth)
        if score > best["f1"]:
            best = {"f1": round(score, 4), "fdr": level, "calls": n}
    return best


def with_motif_calls(folder: Path, seqlets: pd.DataFrame, truth: list, signs: dict[str, str],
                     uses: dict[str, bool]) -> dict:
    """F1, calls and off-site share of the motif instance calls (``seqsal motifs`` defaults, in a scratch copy of
    ``folder``) and of their union with ``seqlets`` (``sign`` as ``+``/``-``), and the used motifs that neither
    calls (``signs``: each planted motif's sign)."""
    if not (folder / NULL_FILE).exists():
        return {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in ("attributions.npz", "regions.tsv", NULL_FILE, "run.json"):
            shutil.copy(folder / name, Path(scratch) / name)
        calls = run_motifs(scratch, database="none", progress=False)["calls"]
    if calls is None:
        return {}
    regions = pd.read_csv(folder / "regions.tsv", sep="\t", dtype={"chrom": str, "name": str}, keep_default_na=False)
    rows, start, end = (calls[c].to_numpy(np.int64) for c in ("region_index", "start", "end"))
    offset = start - regions["start"].to_numpy(np.int64)[rows]
    motif = list(zip(rows, offset, offset + end - start, calls["sign"]))
    own = list(zip(seqlets["region_index"], seqlets["offset_start"], seqlets["offset_end"], seqlets["sign"]))
    union = motif + [s for s in own if not any(s[0] == m[0] and s[3] == m[3] and s[1] < m[2] and s[2] > m[1]
                                               for m in motif)]
    out = {}
    for name, intervals in (("motif_calls", motif), ("seqlets_and_motif_calls", union)):
        score, n = f1([c[:3] for c in intervals], truth)
        false = sum(not overlaps(truth, int(r), int(a), int(b)) for r, a, b, _ in intervals)
        out[name] = {"f1": round(score, 4), "calls": n, "false": round(false / n, 4) if n else None}
    uncalled = []
    for name, sign in signs.items():
        sites = [(row, a, b) for row, rows in enumerate(truth) for a, b, m in rows if m == name]
        if uses.get(name) and sites and not any(r == row and g == sign and a < e and b > s for row, a, b in sites
                                                for r, s, e, g in union):
            uncalled.append(name)
    out["used_motifs_without_calls"] = sorted(uncalled)
    return out


def card_command(card: dict, home: Path, target: str) -> list[str]:
    """The ``seqsal attribute`` model arguments of a card (``cli``: ``{"model": file, "args": [...]}``)."""
    cli = card["cli"]
    arguments = ["--model", str((home / cli["model"]).resolve()), *cli.get("args", [])]
    if target not in (None, "0"):
        arguments += ["--target", str(target)]
    return arguments


def used_motifs(card: dict, target: str) -> dict[str, bool]:
    """Per planted motif, whether the model uses it (the card's ``uses`` of ``target``)."""
    uses = card.get("uses", {})
    if uses and str(target) not in uses and str(target).split(",")[0] in uses:
        target = str(target).split(",")[0]  # e.g. "0,transform=logit": the uses of task 0
    uses = uses.get(str(target), uses) if uses else {}
    return {motif: (value.get("uses") if isinstance(value, dict) else value) for motif, value in uses.items()}


def splice_truth(regions: pd.DataFrame, flank: int = 50) -> list[list[tuple[int, int, str]]]:
    """SpliceAI's truth: the annotated splice site at each region's centre, +-``flank`` bp (the acceptor's
    pyrimidine tract and branch point lie within ~40 bp upstream)."""
    out = []
    for start, end, name in zip(regions["start"], regions["end"], regions["name"]):
        site = int(str(name).rsplit("_", 1)[-1]) - int(start)
        out.append([(max(site - flank, 0), min(site + flank + 1, int(end - start)), str(name).split("_")[1])])
    return out


def run_model(card: dict, home: Path, out: Path, peers: bool, target: str, reuse: bool = False) -> dict:
    world = (home / card.get("world_dir", f"../worlds/{card['world']}")).resolve() if card.get("world") else home
    genome = world / ("genome.fa" if card.get("world") else card["genome"])
    folder = out / (card["name"] if target == card.get("target", "0") else f"{card['name']}__{target}")
    command = ["seqsal", "attribute", str(genome), str(world / "regions.bed"),
               *card_command(card, home, target), "-o", str(folder), "--force", "--quiet"]
    started = time.perf_counter()
    reused = reuse and (folder / "run.json").exists()
    done = subprocess.run(["true"] if reused else command, capture_output=True, text=True)
    seconds = json.loads((folder / "run.json").read_text())["timing_seconds"]["total"] if reused else \
        time.perf_counter() - started
    if done.returncode != 0:
        return {"model": card["name"], "error": done.stderr.strip()[-300:], "command": " ".join(command)}
    regions = pd.read_csv(folder / "regions.tsv", sep="\t", dtype={"chrom": str, "name": str},
                          keep_default_na=False)
    truth = region_truth(regions, planted_intervals(world)) if card.get("world") else splice_truth(regions)
    record = json.loads((folder / "run.json").read_text())
    result = {"model": card["name"], "target": target, "world": card["world"], "regions": len(regions),
              "seconds_attribute": round(seconds, 1),
              "null_sample": record.get("peaks", {}).get("null_sample"),
              "bulk_ratio": {s: record["peaks"]["calibration"][s]["bulk_ratio"] for s in "+-"},
              "withheld": record["peaks"].get("withheld")}  # attribute's --signs auto: a sign the model contradicts
    signs = record["peaks"]["options"].get("signs", "+-")  # every call below as the folder's, that sign left out
    for fdr in sorted(NOMINAL, reverse=True):
        calls = call_peaks_from_run(folder, PeakOptions(fdr=fdr, element_fdr=fdr, signs=signs))  # both kinds
        for level, table in (("seqlets", calls.seqlets), ("elements", calls.elements)):
            labels = table["sign"].map(lambda v: v if isinstance(v, str) else ("+" if v > 0 else "-"))
            for sign, (n, rate) in fdr_by_sign(table.assign(sign=labels), truth).items():
                result[f"{level}_{sign}_n@{fdr}"] = n
                result[f"{level}_{sign}_fdr@{fdr}"] = round(rate, 4)
        result[f"f1@{fdr}"] = round(f1(list(zip(calls.seqlets["region_index"], calls.seqlets["offset_start"],
                                                calls.seqlets["offset_end"])), truth)[0], 4)
    calls = call_peaks_from_run(folder, PeakOptions(signs=signs))  # the folder's files end at the defaults
    seqlets = calls.seqlets
    result["null_row_spread"] = calls.info["calibration"].get("null_row_spread")  # see row_levels.py
    seqlets = seqlets.assign(sign=seqlets["sign"].map(lambda v: v if isinstance(v, str) else ("+" if v > 0 else "-")))
    result["f1_seqsal"] = round(f1(list(zip(seqlets["region_index"], seqlets["offset_start"],
                                            seqlets["offset_end"])), truth)[0], 4)
    uses = used_motifs(card, target)
    description = world / "world.json"
    repressors = set(json.loads(description.read_text()).get("repressors", [])) if description.exists() else set()
    recall = {}
    for motif in sorted({m for rows in truth for _, _, m in rows}):
        sign = "-" if motif in repressors else "+"
        own = seqlets[seqlets["sign"] == sign]
        sites = [(row, a, b) for row, rows in enumerate(truth) for a, b, m in rows if m == motif]
        hit = sum(any((r == row) and (s < b) and (e > a) for r, s, e in
                      zip(own["region_index"], own["offset_start"], own["offset_end"]))
                  for row, a, b in sites)
        recall[motif] = {"sign": sign, "sites": len(sites), "called": hit,
                         "uses": uses.get(motif, True if not card.get("world") else None)}
    result["recall"] = recall
    if card.get("world"):
        result["seqlets_signed_false"] = signed_false(seqlets, truth, repressors)
    result["used_motifs_without_calls"] = sorted(m for m, v in recall.items() if v["uses"] and v["called"] == 0)
    result["with_motif_calls"] = with_motif_calls(folder, seqlets, truth, {m: v["sign"] for m, v in recall.items()},
                                                  {m: bool(v["uses"]) for m, v in recall.items()})
    result["f1_seqsal_best"] = seqsal_best_f1(folder, truth, signs)
    result["outlook"] = record.get("peaks", {}).get("calibration", {}).get("outlook")
    if peers:
        arrays = region_arrays(folder / "attributions.npz", ("one_hot", "hypothetical"))
        track = (arrays["one_hot"].padded() * arrays["hypothetical"].padded()).sum(axis=1)
        result["f1_tangermeme"] = tangermeme_f1(track, truth)
        result["f1_modisco"] = modisco_f1(track, truth)
    return result


def _cell(result: dict, level: str, fdr: float) -> str:
    parts = []
    for sign in "+-":
        n, rate = result.get(f"{level}_{sign}_n@{fdr}"), result.get(f"{level}_{sign}_fdr@{fdr}")
        parts.append(f"{sign}{n} ({rate:.2f})" if n else f"{sign}0")
    return " ".join(parts)


def _union_cell(scores: dict) -> str:
    union = scores.get("seqlets_and_motif_calls")
    return f"{union['f1']} ({union['calls']}, {union['false']})" if union else "-"


def markdown(results: list[dict]) -> list[str]:
    """The RESULTS.md table: calls and empirical FDR per sign, F1 against the peers, motifs without calls."""
    level = f"@{PeakOptions().fdr:g} (default)"
    rows = ["| model | target | regions | seqlets @0.05: n (false) | @0.2 | elements @0.05 | @0.2 | F1 @0.05 | "
            f"F1 @0.2 | seqsal best F1 (FDR) | tangermeme best F1 (p) | modisco F1 | used motifs without calls {level} | "
            f"F1 {level} seqlets + motif calls: F1 (calls, false) | used motifs without either call |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        if "error" in r:
            rows.append(f"| {r['model']} | {r.get('target', '')} | error: {r['error'][:80]} |" + " |" * 12)
            continue
        tm, mo = r.get("f1_tangermeme", {}), r.get("f1_modisco", {})
        rows.append(" | ".join([
            f"| {r['model']}", f"`{r['target']}`", str(r["regions"]), _cell(r, "seqlets", 0.05),
            _cell(r, "seqlets", 0.2), _cell(r, "elements", 0.05), _cell(r, "elements", 0.2),
            str(r.get("f1@0.05")), str(r.get("f1@0.2")),
            f"{r['f1_seqsal_best']['f1']} ({r['f1_seqsal_best'].get('fdr')})" if r.get("f1_seqsal_best") else "-",
            f"{tm.get('f1')} ({tm.get('threshold')})" if tm else "-", str(mo.get("f1", "-")) if mo else "-",
            ", ".join(r.get("used_motifs_without_calls", [])) or "-", _union_cell(r.get("with_motif_calls", {})),
            ", ".join(r.get("with_motif_calls", {}).get("used_motifs_without_calls", [])) or "-"]) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=HERE / "build")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="score the run folders an earlier run left")
    parser.add_argument("--target", default=None,
                        help="explain this --target instead of the cards' targets (e.g. '0,transform=logit' with "
                             "--only sigmoid_A); results go to calibration_<target>.json")
    parser.add_argument("--table", action="store_true", help="print the table of an earlier run's calibration.json")
    args = parser.parse_args()
    if args.table:
        print("\n".join(markdown(json.loads((args.zoo / "calibration" / "calibration.json").read_text()))))
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    homes = sorted(path.parent for path in args.zoo.glob("*/card.json"))
    out = args.zoo / "calibration"
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for home in homes:
        card = json.loads((home / "card.json").read_text())
        if args.only and card["name"] not in args.only:
            continue
        for target in [args.target] if args.target else card.get("targets", {card.get("target", "0"): ""}):
            if not card.get("world") and target != card.get("target") and not args.target:
                continue  # SpliceAI: the card's target (acceptor or donor at the centre) only
            log.info("%s --target %s ...", card["name"], target)
            results.append(run_model(card, home, out, not args.no_peers, target, args.reuse))
            log.info("%s", json.dumps(results[-1]))
    name = f"calibration_{args.target.replace(',', '_').replace('=', '-')}" if args.target else "calibration"
    (out / f"{name}.json").write_text(json.dumps(results, indent=1) + "\n")
    flat = pd.json_normalize(results, sep=".")
    flat.to_csv(out / f"{name}.tsv", sep="\t", index=False)
    print("\n".join(markdown(results)))


if __name__ == "__main__":
    sys.exit(main())
