"""Prototype of a multi-width seqlet test, scored on the zoo's run folders (issue 13: power at FDR 0.05).

Not seqsal's caller: an experiment that decides whether the caller should test several window widths at once.
For each width ``w`` in a ladder, the candidate tests of the observed and the null tracks (seqsal's own rule:
non-overlapping local maxima of ``w``-bp window sums, :class:`seqsal.peaks.streams.CandidateTests`) get their
p-value against that width's shuffled null (:class:`seqsal.peaks.stats.NullModel`, GPD tails included). Per row
and sign, candidates of all widths are reduced greedily to non-overlapping ones by smallest p (the same rule on
the null tracks), and each kept observed test's final p-value is empirical against the kept null tests' p-values
(``(1 + #null <= p) / (n + 1)``: the smallest-p-over-widths statistic calibrated by the same statistic on the
null, never below what the null supports). BH over both signs. Calls shorter than 12 bp are widened to 12 bp
about their centre (seqsal's ``min_length``) before scoring.

    python benchmarks/zoo/multiwidth.py RUN_FOLDER [RUN_FOLDER ...] [--planted BED]

A run folder's truth is its zoo world's ``planted.bed`` (from ``<zoo>/<model>/card.json``), or ``--planted``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from calibrate import f1, fdr_by_sign, planted_intervals, region_truth  # noqa: E402

from seqsal.io import region_arrays  # noqa: E402
from seqsal.peaks.stats import NullModel, benjamini_hochberg  # noqa: E402
from seqsal.peaks.streams import CandidateTests, array_chunks  # noqa: E402

LADDERS = ([6], [12], [6, 12, 20], [6, 10, 16, 24])


def candidates(track: np.ndarray, valid: np.ndarray, width: int) -> dict:
    out: dict = {1: [], -1: []}
    for sign, rows, starts, scores in CandidateTests(array_chunks(track, valid), width):
        out[sign].append((rows, starts, scores))
    return {s: tuple(np.concatenate([part[k] for part in v]) if v else np.zeros(0) for k in range(3))
            for s, v in out.items()}


def greedy(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Indices kept by greedy non-overlap selection in order of p (then row, start)."""
    taken: dict = {}
    keep = []
    for i in np.lexsort((starts, rows, p)):
        spans = taken.setdefault(int(rows[i]), [])
        if not any(starts[i] < b and ends[i] > a for a, b in spans):
            spans.append((starts[i], ends[i]))
            keep.append(i)
    return np.array(keep, dtype=np.int64)


def scan(track, valid, null_track, null_valid, widths: list[int]) -> dict:
    result = {}
    observed = {w: candidates(track, valid, w) for w in widths}
    null = {w: candidates(null_track, null_valid, w) for w in widths}
    for sign in (1, -1):
        parts_o, parts_n = [], []
        for w in widths:
            o, n = observed[w][sign], null[w][sign]
            model = NullModel.empirical(n[2], 50)
            parts_o.append((o[0], o[1], o[1] + w, model.pvalues(o[2])))
            parts_n.append((n[0], n[1], n[1] + w, model.pvalues(n[2])))
        o = tuple(np.concatenate([part[k] for part in parts_o]) for k in range(4))
        n = tuple(np.concatenate([part[k] for part in parts_n]) for k in range(4))
        o = tuple(x[greedy(*o)] for x in o)
        n = tuple(x[greedy(*n)] for x in n)
        if len(widths) == 1:
            final = o[3]  # one width: seqsal's own p-values
        else:
            null_p = np.sort(n[3])
            final = (1 + np.searchsorted(null_p, o[3], side="right")) / (null_p.shape[0] + 1)
        result[sign] = (*o[:3], final)
    return result


def score(result: dict, truth: list, fdr: float) -> tuple[pd.DataFrame, float]:
    q = benjamini_hochberg(np.concatenate([result[1][3], result[-1][3]]))
    calls, k = [], 0
    for sign, name in ((1, "+"), (-1, "-")):
        rows, starts, ends, p = result[sign]
        chosen = q[k:k + p.shape[0]] <= fdr
        k += p.shape[0]
        for row, a, b in zip(rows[chosen], starts[chosen], ends[chosen]):
            if b - a < 12:
                middle = (a + b) // 2
                a, b = middle - 6, middle + 6
            calls.append((name, int(row), int(a), int(b)))
    frame = pd.DataFrame(calls, columns=["sign", "region_index", "offset_start", "offset_end"])
    return frame, f1(list(zip(frame["region_index"], frame["offset_start"], frame["offset_end"])), truth)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--planted", type=Path, default=None)
    args = parser.parse_args()
    print("| run | widths | FDR 0.05: + n (false) - n (false) F1 | FDR 0.2: same |\n| --- | --- | --- | --- |")
    for folder in args.runs:
        if args.planted:
            sites = pd.read_csv(args.planted, sep="\t", header=None, usecols=range(4),
                                names=["chrom", "start", "end", "motif"], dtype={"chrom": str})
        else:
            home = HERE / "build" / folder.name.split("__")[0]
            card = json.loads((home / "card.json").read_text())
            sites = planted_intervals((home / card["world_dir"]).resolve())
        regions = pd.read_csv(folder / "regions.tsv", sep="\t", dtype={"chrom": str, "name": str},
                              keep_default_na=False)
        truth = region_truth(regions, sites)
        arrays = region_arrays(folder / "attributions.npz", ("one_hot", "hypothetical"))
        one_hot, hyp = arrays["one_hot"].padded(), arrays["hypothetical"].padded()
        lengths = arrays.lengths
        track = (one_hot * hyp).sum(1).astype(np.float32)
        valid = (one_hot.sum(1) > 0) & (np.arange(track.shape[1])[None] < lengths[:, None])
        track = np.where(valid, track, 0).astype(np.float32)
        null = region_arrays(folder / "null.npz", ("projected", "valid"))
        null_track = null["projected"].padded().astype(np.float32)
        null_valid = null["valid"].padded().astype(bool)
        for widths in LADDERS:
            result = scan(track, valid, null_track, null_valid, widths)
            cells = []
            for fdr in (0.05, 0.2):
                frame, f = score(result, truth, fdr)
                rates = fdr_by_sign(frame, truth)
                cells.append(f"+{rates['+'][0]} ({rates['+'][1]:.2f}) -{rates['-'][0]} ({rates['-'][1]:.2f}) "
                             f"F1 {f:.3f}")
            print(f"| {folder.name} | {','.join(map(str, widths))} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
