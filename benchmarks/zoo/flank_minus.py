"""Are the zoo's false - seqlets the flanks of called + seqlets? (issue 13, session 23; a measurement, no default)

For each zoo run, the seqlets at FDR 0.05 and 0.2 (``seqsal.call_peaks_from_run(..., write=False)``, duplicates
left out) are split by whether a stronger seqlet of the other sign in the same region overlaps them or lies within
``d`` bp (``d`` = 0 and 5). Each group's share on no planted site (any overlap with ``planted.bed``) is printed: a
flag worth reporting would hold most of the false - seqlets and few of the true ones.

Run from the repository root after ``python benchmarks/zoo/make_zoo.py`` and ``benchmarks/zoo/calibrate.py``::

    python benchmarks/zoo/flank_minus.py [BUILD]     # BUILD: benchmarks/zoo/build
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from seqsal.peaks import call_peaks_from_run, unique_calls

RUNS = {"basset_B": "B", "conjoined_rc_B": "B", "dilated10k_B": "B", "rcmaxpool_A": "A", "sigmoid_A": "A",
        "bpnet_A": "A"}


def on_site(calls: pd.DataFrame, planted: pd.DataFrame) -> np.ndarray:
    """Whether each call overlaps any planted site (0-based half-open coordinates)."""
    hit = np.zeros(len(calls), bool)
    for i, (chrom, start, end) in enumerate(zip(calls["chrom"], calls["start"], calls["end"])):
        sites = planted[planted["chrom"] == chrom]
        hit[i] = bool(((sites["start"] < end) & (sites["end"] > start)).any())
    return hit


def beside_stronger_opposite(calls: pd.DataFrame, distance: int) -> np.ndarray:
    """Whether a stronger call of the other sign in the same region lies within ``distance`` bp of each call."""
    flag = np.zeros(len(calls), bool)
    for i, row in enumerate(calls.itertuples()):
        other = calls[(calls["region_index"] == row.region_index) & (calls["sign"] != row.sign)
                      & (calls["score"].abs() > abs(row.score)) & (calls["start"] < row.end + distance)
                      & (calls["end"] > row.start - distance)]
        flag[i] = not other.empty
    return flag


def share_false(hit: np.ndarray, mask: np.ndarray) -> str:
    return f"{(~hit[mask]).mean():.2f}" if mask.any() else "-"


def main(build: Path) -> None:
    print("| run | FDR | d | sign | calls | false | beside a stronger opposite call (false) | not beside (false) |")
    print("| --- | --- | --- | --- | ---: | ---: | --- | --- |")
    for run, world in RUNS.items():
        planted = pd.read_csv(build / "worlds" / world / "planted.bed", sep="\t", header=None, usecols=[0, 1, 2],
                              names=["chrom", "start", "end"])
        for fdr in (0.05, 0.2):
            seqlets = unique_calls(call_peaks_from_run(build / "calibration" / run, write=False, fdr=fdr,
                                                       elements=False).seqlets).reset_index(drop=True)
            hit = on_site(seqlets, planted)
            for distance in (0, 5):
                flag = beside_stronger_opposite(seqlets, distance)
                for sign in "+-":
                    m = (seqlets["sign"] == sign).to_numpy()
                    print(f"| {run} | {fdr} | {distance} | {sign} | {m.sum()} | {share_false(hit, m)} | "
                          f"{(m & flag).sum()} ({share_false(hit, m & flag)}) | "
                          f"{(m & ~flag).sum()} ({share_false(hit, m & ~flag)}) |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/zoo/build"))
