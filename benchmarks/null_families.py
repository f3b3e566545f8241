"""Complete nulls: runs with any call at FDR 0.05, per noise family, single width against the width ladder.

Every call on a complete null is false, so at most 5 % of runs may call anything (issue 13). The families and the
run sizes are those of ``tests/test_peaks_calibration.py`` (40 runs of 200 x 500 observed, 20 x 500 null)::

    python benchmarks/null_families.py [--runs 40]
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import seqsal  # noqa: E402
from test_peaks_calibration import FAMILIES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    print("| family | width 6 only | 6,10,16,24 |\n| --- | ---: | ---: |")
    for family in sorted(FAMILIES):
        cells = []
        for widths in ((6,), (6, 10, 16, 24)):
            with_calls = 0
            for run in range(args.runs):
                rng = np.random.default_rng(1000 + run)
                observed = FAMILIES[family](rng, (200, 500)).astype(np.float32)
                null = FAMILIES[family](rng, (20, 500)).astype(np.float32)
                with_calls += len(seqsal.call_peaks(observed, null_track=null, fdr=0.05, test_widths=widths)) > 0
            cells.append(f"{with_calls}/{args.runs}")
        print(f"| {family} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
