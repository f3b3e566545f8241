"""How much the zoo's regions differ in noise level, what that level follows, and what dividing it out costs.

Run from the repository root after ``python benchmarks/zoo/calibrate.py`` (it reads the run folders under
``<zoo>/calibration/``)::

    python benchmarks/zoo/row_levels.py [--zoo benchmarks/zoo/build] [RUN ...]

Per run folder: the spread of the null's regions (sd of the log per-region median |x| over valid non-zero
bases, as ``run.json`` ``peaks.calibration.null_row_spread`` records it) and of the run's own regions, the ratio of
their median levels, how much of the null's level GC content and dinucleotide frequencies explain (in-sample R2),
its correlation with the model's prediction on each shuffled copy, and, as a prototype that seqsal does not ship,
the seqlet F1 and calls when each region's track is divided by its own level (observed and null alike) against the
raw tracks through the same API call (benchmarks/RESULTS.md, session 17).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import calibrate as cb  # noqa: E402
import seqsal  # noqa: E402
from seqsal.io import region_arrays  # noqa: E402


def levels(track: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``(N,)`` median |x| of each row over its valid non-zero bases (nan where it has none)."""
    out = np.full(track.shape[0], np.nan)
    for i, (row, ok) in enumerate(zip(track, valid)):
        x = np.abs(row[ok])
        x = x[x > 0]
        if x.size:
            out[i] = np.median(x)
    return out


def r_squared(y: np.ndarray, features: np.ndarray) -> float:
    design = np.column_stack([np.ones(y.shape[0]), features])
    residual = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    return float(1 - residual.var() / y.var())


def measure(folder: Path, truth: list | None) -> dict:
    arrays = region_arrays(folder / "attributions.npz", ("one_hot", "hypothetical"))
    one_hot = arrays["one_hot"].padded()
    track = (one_hot * arrays["hypothetical"].padded()).sum(axis=1).astype(np.float32)
    valid = one_hot.sum(axis=1) > 0
    null_arrays = region_arrays(folder / "null.npz", ("projected", "valid"))
    null, null_valid = null_arrays["projected"].padded().astype(np.float32), null_arrays["valid"].padded().astype(bool)
    members = np.load(folder / "null.npz")
    source, prediction = members["region_index"], members["prediction"]
    observed_level, null_level = levels(track, valid), levels(null, null_valid)
    keep = np.isfinite(null_level) & (null_level > 0)
    log_null = np.log(null_level[keep])
    log_observed = np.log(observed_level[np.isfinite(observed_level) & (observed_level > 0)])
    bases = one_hot[source[keep]]
    gc = bases[:, 1:3].sum(axis=(1, 2)) / np.maximum(bases.sum(axis=(1, 2)), 1)
    dinucleotides = []
    for row in bases:
        s = row.argmax(0)[row.sum(0) > 0]
        dinucleotides.append(np.bincount(s[:-1] * 4 + s[1:], minlength=16)[:15] / max(s.shape[0] - 1, 1))
    result = {"run": folder.name, "null_regions": int(keep.sum()), "null_spread": round(float(log_null.std()), 3),
              "run_spread": round(float(log_observed.std()), 3),
              "run_over_null_level": round(float(np.exp(np.median(log_observed) - np.median(log_null))), 2),
              "r2_gc": round(r_squared(log_null, np.column_stack([gc, gc ** 2])), 2),
              "r2_dinucleotides": round(r_squared(log_null, np.array(dinucleotides)), 2),
              "corr_prediction": round(float(np.corrcoef(log_null, prediction[keep])[0, 1]), 2)}
    if truth is not None:
        scaled = (track / np.nan_to_num(observed_level, nan=1.0)[:, None],
                  null / np.nan_to_num(null_level, nan=1.0)[:, None])
        for label, (observed, shuffled) in (("raw", (track, null)), ("divided", scaled)):
            calls = seqsal.call_peaks(observed, valid=valid, null_track=shuffled, null_valid=null_valid, fdr=0.2)
            f1, n = cb.f1(list(zip(calls["region_index"], calls["offset_start"], calls["offset_end"])), truth)
            result[f"f1@0.2_{label}"], result[f"calls@0.2_{label}"] = round(f1, 3), n
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=Path(__file__).resolve().parent / "build")
    parser.add_argument("runs", nargs="*", help="run folder names under <zoo>/calibration (default: all)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    base = args.zoo / "calibration"
    names = args.runs or sorted(p.name for p in base.iterdir() if (p / "null.npz").exists())
    rows = []
    for name in names:
        card = json.loads((args.zoo / name.split("__")[0] / "card.json").read_text())
        truth = None
        if card.get("world"):
            regions = pd.read_csv(base / name / "regions.tsv", sep="\t", dtype={"chrom": str, "name": str},
                                  keep_default_na=False)
            truth = cb.region_truth(regions, cb.planted_intervals(args.zoo / "worlds" / card["world"]))
        rows.append(measure(base / name, truth))
        print(json.dumps(rows[-1]), flush=True)
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
