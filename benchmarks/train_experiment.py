"""Issue 16's experiments in a REDUCED form: attribution priors against plain training, on a simulated world.

World: three "chromosomes" (train, valid, test) of 500-bp windows laid end to end, each random sequence (GC 0.42)
with 0-4 sites of the demo's JASPAR motifs planted in bases 60-490 (the process of data/demo/make_demo.py's
simulated windows, whose 40,000 windows are what let the demo model learn the motifs; the demo genome's few
thousand tiled windows are too few: a plain model reaches r ~0.06 on them in 8 epochs); label = summed demo
weights of the planted sites + N(0, 0.1). The demo architecture; each variant at its default settings (lazy
gradient terms: ``TrainOptions.prior_every``), ``--seeds`` seeds.

Table (default): held-out (test) Pearson r; the gradient x input maps (eval mode) of the test windows scored per
base (|map| summed over channels) against the planted sites (AUROC, AUPRC; every base of a site is a positive);
stability: the mean over windows and seed pairs of the Spearman correlation of the signed per-base maps.

Shortcut (``--shortcut``): an adapter 20-mer planted at bases 30-50 of 30 % of the positive training windows
(label > 0.5). A plain model and ones trained with ``--mask-prior`` over the adapter's positions; reliance = mean
prediction drop when the adapter is replaced by the original bases in those training windows, and the mean rise
when it is planted into the positive test windows; clean held-out r.

    python benchmarks/train_experiment.py [--seeds 2] [--train 4000] [--epochs 5]
    python benchmarks/train_experiment.py --shortcut [--mask-weights 10 100]
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "data" / "demo"))

from make_demo import WEIGHTS  # noqa: E402
from train_priors import DEMO  # noqa: E402

import seqsal  # noqa: E402
from seqsal.encode import one_hot_encode  # noqa: E402
from seqsal.motifs import read_meme  # noqa: E402
from seqsal.simulate import plant_sites, random_sequence  # noqa: E402
from seqsal.train import TrainOptions, train_model  # noqa: E402
from seqsal.train_priors import input_gradients, spearman  # noqa: E402

VARIANTS = {
    "plain": {},
    "fourier": {"fourier_prior": 1.0},
    "saliency_cutout": {"saliency_cutout": 0.5},
    "random_cutout": {"random_cutout": 0.5},
    "rc_consistency": {"consistency": "rc", "consistency_weight": 1.0},
}
ADAPTER = "AGATCGGAAGAGCACACGTC"  # the Illumina TruSeq adapter's first 20 bases
OFFSET, WIDTH = 30, 500


def simulated_world(out: Path, sizes: dict[str, int], seed: int, shortcut: bool) -> dict:
    """Write ``world.fa`` and ``labels.tsv``; return the one-hot windows, labels, site masks and adapter carriers."""
    rng = np.random.default_rng(seed)
    motifs = {m.name: m.pwm for m in read_meme(ROOT.parent / "data/motifs/jaspar_subset.meme") if m.name in WEIGHTS}
    world: dict = {}
    rows, fasta = [], []
    for chrom, n in sizes.items():
        windows, truth, labels, carriers, originals = [], np.zeros((n, WIDTH), bool), np.empty(n), [], []
        for i in range(n):
            sequence = random_sequence(WIDTH, rng)
            sites = plant_sites(sequence, motifs, int(rng.integers(0, 5)), rng, 60, WIDTH - 10)
            for _, lo, hi, _ in sites:
                truth[i, lo:hi] = True
            labels[i] = sum(WEIGHTS[name] for name, *_ in sites) + rng.normal(0, 0.1)
            if shortcut and chrom == "train" and labels[i] > 0.5 and rng.random() < 0.3:
                originals.append(sequence[OFFSET:OFFSET + 20].tobytes().decode())
                sequence[OFFSET:OFFSET + 20] = np.frombuffer(ADAPTER.encode(), np.uint8)
                carriers.append(i)
            windows.append(sequence.tobytes().decode())
            rows.append((chrom, i * WIDTH, (i + 1) * WIDTH, labels[i]))
        fasta.append(f">{chrom}\n" + "".join(windows) + "\n")
        world[chrom] = {"x": np.stack([one_hot_encode(w) for w in windows]).astype(np.float32), "y": labels,
                        "truth": truth, "carriers": carriers, "originals": originals}
    (out / "world.fa").write_text("".join(fasta))
    pd.DataFrame(rows, columns=["chrom", "start", "end", "activity"]).to_csv(out / "labels.tsv", sep="\t", index=False)
    (out / "adapter.bed").write_text("".join(f"train\t{i * WIDTH + OFFSET}\t{i * WIDTH + OFFSET + 20}\n"
                                             for i in world["train"]["carriers"]))
    return world


def maps_of(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """Gradient x input summed over channels ``(N, L)`` (eval mode)."""
    model.eval()
    _, gradients = input_gradients(lambda t: model(t), torch.as_tensor(x), create_graph=False)
    return (gradients * torch.as_tensor(x)).sum(dim=1).detach().numpy()


def train_one(args: argparse.Namespace, name: str, seed: int, extra: dict, batch_size: int = 64) -> tuple[dict, torch.nn.Module]:
    options = TrainOptions(model_config=DEMO, window=WIDTH, valid_chroms=["valid"], test_chroms=["test"],
                           epochs=args.epochs, patience=args.patience, batch_size=batch_size, seed=seed, **extra)
    path = args.out / f"{name}_seed{seed}.safetensors"
    summary = train_model(args.out / "world.fa", args.out / "labels.tsv", path, options, quiet=True,
                          report=args.out / f"{name}_seed{seed}.html")
    return summary, seqsal.load_model(path).module.eval()


def table(args: argparse.Namespace) -> None:
    world = simulated_world(args.out, {"train": args.train, "valid": args.train // 4, "test": args.train // 4}, 0, False)
    x, truth = world["test"]["x"], world["test"]["truth"]
    rows, maps = [], {}
    for seed, name in itertools.product(range(args.seeds), args.variants.split(",")):
        summary, model = train_one(args, name, seed, VARIANTS[name])
        maps[name, seed] = maps_of(model, x)
        score = np.abs(maps[name, seed]).ravel()
        rows.append({"variant": name, "seed": seed, "test_r": summary["metrics"]["test"]["pearson"]["activity"],
                     "auroc": roc_auc_score(truth.ravel(), score), "auprc": average_precision_score(truth.ravel(), score),
                     "epochs": len(summary["history"]), "best_epoch": summary["best_epoch"],
                     "cpu_s_per_epoch": float(np.mean([h["cpu_seconds"] for h in summary["history"]]))})
        print(json.dumps(rows[-1]), flush=True)
    frame = pd.DataFrame(rows)
    out = frame.groupby("variant", sort=False)[["test_r", "auroc", "auprc", "cpu_s_per_epoch"]].mean()
    pairs = list(itertools.combinations(range(args.seeds), 2))
    out["stability"] = pd.Series({name: float(np.nanmean([spearman(maps[name, a][i], maps[name, b][i])
                                                       for a, b in pairs for i in range(len(x))])) if pairs else np.nan
                                  for name in out.index})
    out["x_plain_cpu"] = out["cpu_s_per_epoch"] / out.loc["plain", "cpu_s_per_epoch"]
    print(out.to_string(float_format=lambda v: f"{v:.3f}"))
    frame.to_csv(args.out / "experiment.tsv", sep="\t", index=False)


def shortcut(args: argparse.Namespace) -> None:
    world = simulated_world(args.out, {"train": args.train, "valid": args.train // 4, "test": args.train // 4}, 1, True)
    train, test = world["train"], world["test"]
    with_adapter = train["x"][train["carriers"]]
    without = with_adapter.copy()
    for i, original in enumerate(train["originals"]):
        without[i, :, OFFSET:OFFSET + 20] = one_hot_encode(original)
    clean = test["x"][test["y"] > 0.5]
    dirty = clean.copy()
    dirty[:, :, OFFSET:OFFSET + 20] = one_hot_encode(ADAPTER)
    results = []
    masked = [(f"mask_prior_w{w:g}", {"mask_prior": str(args.out / "adapter.bed"), "mask_weight": w})
              for w in args.mask_weights]
    variants = ([] if args.no_plain else [("plain", {})]) + masked
    for seed, (name, extra) in itertools.product(args.seed_list or range(args.seeds), variants):
        summary, model = train_one(args, f"shortcut_{name}", seed, extra)
        with torch.no_grad():
            predict = lambda a: model(torch.as_tensor(a))[:, 0].numpy()  # noqa: E731
            drop = float(np.mean(predict(with_adapter) - predict(without)))
            rise = float(np.mean(predict(dirty) - predict(clean)))
        results.append({"model": name, "seed": seed, "carriers": len(train["carriers"]),
                        "drop_when_removed_train": drop, "rise_when_planted_test": rise,
                        "clean_test_r": summary["metrics"]["test"]["pearson"]["activity"]})
        print(json.dumps(results[-1]), flush=True)
    frame = pd.DataFrame(results)
    print(frame.groupby("model", sort=False).mean(numeric_only=True).to_string(float_format=lambda v: f"{v:.3f}"))
    frame.to_csv(args.out / "shortcut_results.tsv", sep="\t", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shortcut", action="store_true")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--train", type=int, default=4000, help="training windows (valid and test: a quarter each)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--patience", type=int, default=3, help="early stopping: epochs without a better validation r")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--mask-weights", type=float, nargs="+", default=[10.0])
    parser.add_argument("--seed-list", type=int, nargs="+", default=None, help="shortcut: these seeds instead of --seeds")
    parser.add_argument("--no-plain", action="store_true", help="shortcut: skip the plain model (deterministic per seed)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/train_experiment"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    shortcut(args) if args.shortcut else table(args)


if __name__ == "__main__":
    main()
