"""Complete nulls: runs with any call, per noise family, for seqlets (single width against the width ladder) and
for elements.

Every call on a complete null is false, so at most ``fdr`` of the runs may call anything (issue 13). The families
are those of ``tests/test_peaks_calibration.py`` plus two whose noise level varies between regions, in the observed
and the null tracks alike (``hetero10``: a tenth of the rows 10x noisier; ``hetero_lognormal``: each row's sd
log-normal, sigma 0.5), which Fisher's combination of an element's windows took as evidence (session 16), and
``hetero_ln0.75``/``hetero_ln1`` beyond the zoo's spread (0.05-0.50, session 17). Runs of ``--obs-rows`` x 500
observed against ``--null-rows`` x 500 null (a big run's default null is a tenth of it: ``--obs-rows 2000
--null-rows 200``; a small run's is the 200-kbp minimum: ``--obs-rows 200 --null-rows 400``)::

    python benchmarks/null_families.py [--runs 40] [--fdr 0.05] [--null-rows 20] [--obs-rows 200] [--families a,b]
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
    "hetero_ln0.75": lambda r, s: r.normal(0, 1, s) * r.lognormal(0, 0.75, (s[0], 1)),
    "hetero_ln1": lambda r, s: r.normal(0, 1, s) * r.lognormal(0, 1.0, (s[0], 1)),
}


def with_calls(draw, runs: int, null_rows: int, fdr: float, widths: tuple[int, ...], level: str,
               obs_rows: int = 200) -> int:
    """Runs (of ``runs``) whose complete-null call at ``level`` (seqlets or elements) holds anything."""
    count = 0
    for run in range(runs):
        rng = np.random.default_rng(1000 + run)
        observed = draw(rng, (obs_rows, 500)).astype(np.float32)
        null = draw(rng, (null_rows, 500)).astype(np.float32)
        count += len(seqsal.call_peaks(observed, null_track=null, fdr=fdr, test_widths=widths, level=level)) > 0
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--fdr", type=float, default=0.05)
    parser.add_argument("--null-rows", type=int, default=20)
    parser.add_argument("--obs-rows", type=int, default=200)
    parser.add_argument("--families", help="comma-separated (default: all)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    ladder = (6, 10, 16, 24)
    print(f"runs with any call of {args.runs}, FDR {args.fdr}, observed {args.obs_rows} x 500, null {args.null_rows} x 500\n")
    print("| family | seqlets, width 6 only | seqlets, 6,10,16,24 | elements, 6,10,16,24 |\n| --- | ---: | ---: | ---: |")
    families = {**FAMILIES, **HETEROSCEDASTIC}
    for family in args.families.split(",") if args.families else sorted(families):
        draw = families[family]
        cells = [with_calls(draw, args.runs, args.null_rows, args.fdr, widths, level, args.obs_rows)
                 for widths, level in (((6,), "seqlets"), (ladder, "seqlets"), (ladder, "elements"))]
        print(f"| {family} | " + " | ".join(f"{cell}/{args.runs}" for cell in cells) + " |", flush=True)


if __name__ == "__main__":
    main()
