"""Per-epoch cost of each attribution term of `seqsal train` against plain training, on the demo world.

Writes a labels TSV of 500-bp windows tiled over data/demo/genome.fa (activity = summed weights of the
planted motif sites wholly inside, as data/demo/make_demo.py defines it, plus N(0, 0.1) noise), then
trains the demo architecture once per variant and prints the seconds per epoch, the ratio to plain
training, and the validation/test Pearson r.

    python benchmarks/train_priors.py [--stride 100] [--epochs 1] [--out /tmp/train_priors]

A *reduced* run: one seed, few epochs, windows from the genome only (the demo model also used 40,000
simulated windows). The full experiment of issue 16 (3 seeds x 2 training sizes x 2 genomes, AUPRC
and stability) has not been run.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "data" / "demo"))

from make_demo import CHROM_SIZES, WEIGHTS  # noqa: E402

from seqsal.simulate import window_activity  # noqa: E402
from seqsal.train import train_model  # noqa: E402
from seqsal.train_options import TrainOptions  # noqa: E402

DEMO = {"channels": [64, 64, 32], "kernel_sizes": [15, 7, 5], "pool_sizes": [4, 4, 4], "hidden": 64, "dropout": 0.3}
VARIANTS = {
    "plain": {},
    "fourier": {"fourier_prior": 1.0},
    "mask": {"mask_prior": "MASK", "mask_weight": 1.0},
    "saliency_cutout": {"saliency_cutout": 0.5},
    "random_cutout": {"random_cutout": 0.5},
    "rc_consistency": {"consistency": "rc", "consistency_weight": 1.0},
}


def write_labels(path: Path, stride: int, seed: int = 0) -> int:
    planted = pd.read_csv(ROOT / "data/demo/planted.bed", sep="\t", header=None,
                          names=["chrom", "start", "end", "motif", "score", "strand"])
    rng = np.random.default_rng(seed)
    rows = [(c, s, s + 500, window_activity(planted, WEIGHTS, c, s, s + 500) + rng.normal(0, 0.1))
            for c, size in CHROM_SIZES.items() for s in range(0, size - 500, stride)]
    pd.DataFrame(rows, columns=["chrom", "start", "end", "activity"]).to_csv(path, sep="\t", index=False)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stride", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("/tmp/train_priors"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    n = write_labels(args.out / "labels.tsv", args.stride)
    mask = args.out / "exclude.bed"  # an M- over the first 20 bp of every chromosome (a cost measurement only)
    mask.write_text("".join(f"{c}\t0\t20\n" for c in CHROM_SIZES))
    rows = []
    for name in args.variants.split(","):
        extra = {k: (str(mask) if v == "MASK" else v) for k, v in VARIANTS[name].items()}
        options = TrainOptions(model_config=DEMO, window=500, valid_chroms=["chr2"], test_chroms=["chr3"],
                               epochs=args.epochs, patience=args.epochs, seed=0, **extra)
        summary = train_model(ROOT / "data/demo/genome.fa", args.out / "labels.tsv", args.out / f"{name}.safetensors",
                              options, quiet=True, report=args.out / f"{name}.html", force=True)
        rows.append({"variant": name, "windows": n, "train_windows": summary["metrics"]["train"]["n"],
                     "s_per_epoch": summary["seconds_per_epoch"],
                     "valid_r": summary["metrics"]["valid"]["pearson"]["activity"],
                     "test_r": summary["metrics"]["test"]["pearson"]["activity"]})
        print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    table["x_plain"] = table["s_per_epoch"] / table.loc[table["variant"] == "plain", "s_per_epoch"].iloc[0]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
