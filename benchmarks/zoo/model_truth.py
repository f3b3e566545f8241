"""Are the calls that overlap no planted site false, or does the model use those bases? (issue 13)

The zoo's empirical FDR (``calibrate.py``) counts a seqlet as false when it overlaps no planted site. A model can
also rely on bases nobody planted: the flanks of a site it reads as a longer word, partial matches, the spacing
of a pair. This script asks the model, independently of any attribution, with seqsal's own replacement test
(``seqsal check-seqlets``, :mod:`seqsal.seqlet_check`): each seqlet called at the given FDRs has its bases
replaced by random bases in the model window the run read, and is *confirmed* when the prediction moves the way
its sign says, further than the same replacement of stretches no call covers (p <= 0.05).

Per model, FDR and sign it reports the calls, the share overlapping no planted site (``false_planted``, the
calibration table's number), the share of those the model confirms, and ``false_model_checked``: the share that
overlaps no planted site *and* is not confirmed (the calls that are wrong about the model, not only about the
planted truth; about 5 % of stretches the model ignores are confirmed by chance, so it is a slight under-count).

Run from the repository root (after ``make_zoo.py`` and ``calibrate.py``, whose run folders it reads; the folders'
files are not changed)::

    python benchmarks/zoo/model_truth.py conjoined_rc_B basset_B rcmaxpool_A dilated10k_B demo \\
        --demo-folder DIR [--fdr 0.05 0.2] [--max-seqlets 1000]

``demo`` reads a run folder of the demo (``seqsal attribute data/demo/genome.fa data/demo/regions.bed --model
data/demo/model.safetensors -o DIR``). Prints one JSON line per model, FDR and sign and updates
``<zoo>/calibration/model_truth.json`` (rows of other models are kept).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate import overlaps, planted_intervals, region_truth  # noqa: E402

from seqsal.peaks import PeakOptions, call_peaks_from_run  # noqa: E402
from seqsal.seqlet_check import check_seqlets_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def check(name: str, folder: Path, world: Path, fdrs: list[float], max_seqlets: int) -> list[dict]:
    regions = pd.read_csv(folder / "regions.tsv", sep="\t", dtype={"chrom": str, "name": str}, keep_default_na=False)
    truth = region_truth(regions, planted_intervals(world))
    rows = []
    for fdr in fdrs:
        calls = call_peaks_from_run(folder, PeakOptions(fdr=fdr), write=False).seqlets
        if calls.empty:
            continue
        started = time.perf_counter()
        table = check_seqlets_run(folder, max_seqlets=max_seqlets, seqlets=calls, write=False)
        seconds = time.perf_counter() - started
        checked = calls.set_index("name").loc[table["name"]]
        planted = np.array([overlaps(truth, r, a, b) for r, a, b in
                            zip(checked["region_index"], checked["offset_start"], checked["offset_end"])])
        confirmed = table["confirmed"].to_numpy()
        for label in "+-":
            at = table["sign"].to_numpy() == label
            if not at.any():
                continue
            false = at & ~planted
            rows.append({"model": name, "fdr": fdr, "sign": label, "calls": int(at.sum()),
                         "false_planted": round(float(false.sum() / at.sum()), 3),
                         "false_model_checked": round(float((false & ~confirmed).sum() / at.sum()), 3),
                         "confirmed_among_planted_false": round(float(confirmed[false].mean()), 3)
                         if false.any() else None,
                         "confirmed_among_planted_true": round(float(confirmed[at & planted].mean()), 3)
                         if (at & planted).any() else None,
                         "check_seconds": round(seconds, 1)})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--zoo", type=Path, default=ROOT / "benchmarks/zoo/build")
    parser.add_argument("--demo-folder", type=Path)
    parser.add_argument("--fdr", type=float, nargs="+", default=[0.05, 0.2])
    parser.add_argument("--max-seqlets", type=int, default=1000)
    args = parser.parse_args()
    results = []
    for name in args.models:
        if name == "demo":
            if args.demo_folder is None:
                sys.exit("demo needs --demo-folder (a seqsal attribute run folder of the demo)")
            results += check(name, args.demo_folder, ROOT / "data/demo", args.fdr, args.max_seqlets)
            continue
        card = json.loads((args.zoo / name / "card.json").read_text())
        results += check(name, args.zoo / "calibration" / name, (args.zoo / name / card["world_dir"]).resolve(),
                         args.fdr, args.max_seqlets)
    path = args.zoo / "calibration" / "model_truth.json"
    kept = [row for row in (json.loads(path.read_text()) if path.exists() else []) if row["model"] not in args.models]
    path.write_text(json.dumps(kept + results, indent=1))


if __name__ == "__main__":
    main()
