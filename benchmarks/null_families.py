"""Complete nulls: runs with any call, per noise family, for seqlets (single width against the width ladder) and
for elements.

Every call on a complete null is false, so at most ``fdr`` of the runs may call anything (issue 13). The families
are those of ``tests/test_peaks_calibration.py`` plus two whose noise level varies between regions, in the observed
and the null tracks alike (``hetero10``: a tenth of the rows 10x noisier; ``hetero_lognormal``: each row's sd
log-normal, sigma 0.5), which Fisher's combination of an element's windows took as evidence (session 16). Runs of
200 x 500 observed against ``--null-rows`` x 500 null::

    python benchmarks/null_families.py [--runs 40] [--fdr 0.05] [--null-rows 20]
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

HETEROSCEDASTIC = {
    "hetero10": lambda r, s: r.normal(0, 1, s) * np.where(r.random((s[0], 1)) < 0.1, 10.0, 1.0),
    "hetero_lognormal": lambda r, s: r.normal(0, 1, s) * r.lognormal(0, 0.5, (s[0], 1)),
}


def with_calls(draw, runs: int, null_rows: int, fdr: float, widths: tuple[int, ...], level: str) -> int:
    """Runs (of ``runs``) whose complete-null call at ``level`` (seqlets or elements) holds anything."""
    count = 0
    for run in range(runs):
        rng = np.random.default_rng(1000 + run)
        observed = draw(rng, (200, 500)).astype(np.float32)
        null = draw(rng, (null_rows, 500)).astype(np.float32)
        count += len(seqsal.call_peaks(observed, null_track=null, fdr=fdr, test_widths=widths, level=level)) > 0
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--fdr", type=float, default=0.05)
    parser.add_argument("--null-rows", type=int, default=20)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    ladder = (6, 10, 16, 24)
    print(f"runs with any call of {args.runs}, FDR {args.fdr}, null {args.null_rows} x 500\n")
    print("| family | seqlets, width 6 only | seqlets, 6,10,16,24 | elements, 6,10,16,24 |\n| --- | ---: | ---: | ---: |")
    for family, draw in sorted({**FAMILIES, **HETEROSCEDASTIC}.items()):
        cells = [with_calls(draw, args.runs, args.null_rows, args.fdr, widths, level)
                 for widths, level in (((6,), "seqlets"), (ladder, "seqlets"), (ladder, "elements"))]
        print(f"| {family} | " + " | ".join(f"{cell}/{args.runs}" for cell in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
