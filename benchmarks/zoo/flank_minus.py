"""Are the zoo's false - seqlets the flanks of called + seqlets? (issue 13, session 23; a measurement, no default)

For each zoo run, the seqlets at FDR 0.05 and 0.2 (``seqsal.call_peaks_from_run(..., write=False)``, duplicates
left out) are split by whether a stronger seqlet of the other sign in the same region overlaps them or lies within
``d`` bp (``d`` = 0 and 5). Each group's share on no planted site (any overlap, ``calibrate.overlaps`` as its FDR columns count it) is printed: a
flag worth reporting would hold most of the false - seqlets and few of the true ones.

Run from the repository root after ``python benchmarks/zoo/make_zoo.py`` and ``benchmarks/zoo/calibrate.py``::

    python benchmarks/zoo/flank_minus.py [BUILD]     # BUILD: benchmarks/zoo/build
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate import overlaps, planted_intervals, region_truth  # noqa: E402

from seqsal.peaks import call_peaks_from_run, unique_calls  # noqa: E402

RUNS = {"basset_B": "B", "conjoined_rc_B": "B", "dilated10k_B": "B", "rcmaxpool_A": "A", "sigmoid_A": "A",
        "bpnet_A": "A"}


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
        sites = planted_intervals(build / "worlds" / world)
        for fdr in (0.05, 0.2):
            seqlets = unique_calls(call_peaks_from_run(build / "calibration" / run, write=False, fdr=fdr,
                                                       elements=False).seqlets).reset_index(drop=True)
            truth = region_truth(pd.read_csv(build / "calibration" / run / "regions.tsv", sep="\t",
                                             dtype={"chrom": str}), sites)
            hit = np.array([overlaps(truth, r, a, b) for r, a, b in
                            zip(seqlets["region_index"], seqlets["offset_start"], seqlets["offset_end"])], dtype=bool)
            for distance in (0, 5):
                flag = beside_stronger_opposite(seqlets, distance)
                for sign in "+-":
                    m = (seqlets["sign"] == sign).to_numpy()
                    print(f"| {run} | {fdr} | {distance} | {sign} | {m.sum()} | {share_false(hit, m)} | "
                          f"{(m & flag).sum()} ({share_false(hit, m & flag)}) | "
                          f"{(m & ~flag).sum()} ({share_false(hit, m & ~flag)}) |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/zoo/build"))
