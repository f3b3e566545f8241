"""Per-epoch cost of each attribution term of `seqsal train` against plain training (issue 16's target: <= 2.5x).

Trains the demo architecture (Basset 64-64-32, 500-bp windows tiled over data/demo/genome.fa, labels as
benchmarks/train_priors.py writes them; train chr1, valid chr2, test chr3) for a few epochs per variant, with
the gradient terms on every step (``--prior-every 1``: the exact computation, the "before") and with the default
lazy schedule (``prior_every=None``: 2 steps, 5 with a consistency term; the "after"). The cost of an epoch is the
process CPU time that ``train_model`` records per epoch (``cpu_seconds``: the optimiser steps, the validation
pass and the checkpoint), which a shared machine disturbs far less than wall time; the first epoch is dropped
as warm-up when there are more. Same model, same batches, same seed for every variant.

    python benchmarks/train_cost.py            # REDUCED: stride 300 bp, 3 epochs, 1 thread (~2 min)
    python benchmarks/train_cost.py --full     # stride 100 bp, 4 epochs

Prints one JSON line per run and a table (seconds per epoch and the ratio to plain training).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from train_priors import DEMO, write_labels  # noqa: E402

from seqsal.genome import Genome  # noqa: E402
from seqsal.train import prior_interval, train_model  # noqa: E402
from seqsal.train_options import TrainOptions  # noqa: E402

VARIANTS = {
    "plain": {},
    "fourier": {"fourier_prior": 1.0},
    "mask": {"mask_prior": "MASK", "mask_weight": 1.0},
    "rc_consistency": {"consistency": "rc", "consistency_weight": 1.0},
    "shift_consistency": {"consistency": "shift", "consistency_weight": 1.0},
    "saliency_cutout": {"saliency_cutout": 0.5},
    "random_cutout": {"random_cutout": 0.5},
}
GRADIENT_TERMS = ("fourier", "rc_consistency", "shift_consistency")  # the mask prior is not one: every step


def run(name: str, extra: dict, every: int | None, args: argparse.Namespace, mask: Path) -> dict:
    """Train one variant and return its per-epoch cost (CPU and wall seconds)."""
    extra = {k: (str(mask) if v == "MASK" else v) for k, v in extra.items()}
    options = TrainOptions(model_config=DEMO, window=500, valid_chroms=["chr2"], test_chroms=["chr3"],
                           epochs=args.epochs, patience=args.epochs, batch_size=args.batch_size, seed=0,
                           prior_every=every, device=args.device, **extra)
    tag = f"{name}_every{every or 'default'}"
    summary = train_model(ROOT.parent / "data/demo/genome.fa", args.out / "labels.tsv", args.out / f"{tag}.safetensors",
                          options, quiet=True, report=args.out / f"{tag}.html", force=True)
    epochs = summary["history"][1:] if len(summary["history"]) > 1 else summary["history"]
    return {"variant": name, "prior_every": prior_interval(options) if name in GRADIENT_TERMS else "-",
            "train_windows": summary["metrics"]["train"]["n"], "epochs_timed": len(epochs),
            "cpu_s_per_epoch": sum(h["cpu_seconds"] for h in epochs) / len(epochs),
            "wall_s_per_epoch": sum(h["seconds"] for h in epochs) / len(epochs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="stride 100 bp and 4 epochs instead of 300 and 3")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a shared machine)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("/tmp/train_cost"))
    parser.add_argument("--device", default=None, help="cpu, cuda, ... [a GPU when there is one]; on a GPU compare"
                        " wall_s_per_epoch (bf16 autocast, train's default there)")
    args = parser.parse_args()
    args.stride, args.epochs = (100, 4) if args.full else (300, 3)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    write_labels(args.out / "labels.tsv", args.stride)
    # M- over 20 bp in every 100 (a cost measurement only): every window carries one, the mask prior's worst case
    # (its cost grows with the share of masked windows: one counterfactual each in the forward pass)
    mask = args.out / "exclude.bed"
    sizes = Genome(str(ROOT.parent / "data/demo/genome.fa")).chrom_sizes  # the mask must lie on the genome
    mask.write_text("".join(f"{chrom}\t{s}\t{s + 20}\n" for chrom, size in sizes.items()
                            for s in range(0, size - 20, 100)))
    rows = []
    for name in args.variants.split(","):
        for every in ((1, None) if name in GRADIENT_TERMS else (None,)):
            rows.append(run(name, VARIANTS[name], every, args, mask))
            print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    plain = table.loc[table["variant"] == "plain"].iloc[0]
    table["cpu_x_plain"] = table["cpu_s_per_epoch"] / plain["cpu_s_per_epoch"]
    table["wall_x_plain"] = table["wall_s_per_epoch"] / plain["wall_s_per_epoch"]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    (args.out / "train_cost.json").write_text(table.to_json(orient="records", indent=1))


if __name__ == "__main__":
    main()
