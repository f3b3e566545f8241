"""Issue 16's last target: `seqsal train` on the demo data against the shipped demo model (held-out r 0.695).

How data/demo/make_demo.py trained the demo model (``fit_regression``, not ``seqsal train``): 500-bp windows of
chr1 and chr2, ten per planted element centred on it with +-150 bp of jitter plus as many at random positions
(4,600), each also reverse complemented (9,200), plus 40,000 windows *simulated* by the same process (random
background with 0-4 planted sites) that are in no FASTA; label = summed motif weights of the sites wholly inside
the window + N(0, 0.1); 6 epochs, batch 128, Adam 2e-3, no early stopping; held out: 2 jittered windows per chr3
element plus as many random chr3 windows (260), r = 0.695.

What a user has is the genome and the planted truth (``planted.bed``, ``elements.bed``) with the weights in
``model_card.json``; the demo ships no labels file. This script writes one from those files, by the same
recipe (a TSV: ``seqsal train`` takes overlapping and repeated windows as they are), and, with ``--simulated N``,
writes the N simulated windows end to end as an extra FASTA record ``sim`` (plus ``--sim-valid`` more as
``simvalid``, the validation split for early stopping), so that ``seqsal train`` runs unchanged on the genome plus
them. Test split: chr3, with windows drawn as make_demo.py draws its held-out set; the shipped demo model is
scored on the same windows. Then ``seqsal attribute`` runs on the trained model with the demo's regions.

    python benchmarks/train_demo.py [--simulated 40000] [--epochs 6] [--threads 1] [--out /tmp/train_demo]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from train_priors import DEMO  # noqa: E402

import seqsal  # noqa: E402
from seqsal.genome import Genome  # noqa: E402
from seqsal.motifs import read_meme  # noqa: E402
from seqsal.simulate import plant_sites, random_sequence, window_activity  # noqa: E402
from seqsal.train import pearson, train_model  # noqa: E402
from seqsal.train_options import TrainOptions  # noqa: E402
from seqsal.train_data import encode_windows  # noqa: E402

DEMO_DIR = ROOT / "data" / "demo"
WINDOW = 500


def demo_windows(planted: pd.DataFrame, elements: pd.DataFrame, sizes: dict[str, int], weights: dict[str, float],
                 chroms: list[str], per_element: int, rng: np.random.Generator) -> list[tuple]:
    """make_demo.py's ``training_windows`` on the files a user has: jittered element windows plus as many random."""
    starts = [(row.chrom, (row.start + row.end) // 2 + int(rng.integers(-150, 151)) - WINDOW // 2)
              for row in elements[elements["chrom"].isin(chroms)].itertuples() for _ in range(per_element)]
    for _ in range(len(starts)):
        chrom = chroms[rng.integers(len(chroms))]
        starts.append((chrom, int(rng.integers(0, sizes[chrom] - WINDOW))))
    return [(c, s, s + WINDOW, window_activity(planted, weights, c, s, s + WINDOW) + rng.normal(0, 0.1))
            for c, s in starts]


def simulated_record(name: str, n: int, weights: dict[str, float], rng: np.random.Generator) -> tuple[str, list]:
    """``n`` windows of make_demo.py's ``simulated_windows`` process end to end, and their label rows."""
    motifs = {m.name: m.pwm for m in read_meme(ROOT / "data/motifs/jaspar_subset.meme") if m.name in weights}
    chunks, rows = [], []
    for i in range(n):
        sequence = random_sequence(WINDOW, rng)
        sites = plant_sites(sequence, motifs, int(rng.integers(0, 5)), rng, 10, WINDOW - 10)
        chunks.append(sequence.tobytes().decode())
        rows.append((name, i * WINDOW, (i + 1) * WINDOW, sum(weights[m] for m, *_ in sites) + rng.normal(0, 0.1)))
    return f">{name}\n" + "".join(chunks) + "\n", rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulated", type=int, default=40_000, help="simulated training windows (0: genome only)")
    parser.add_argument("--sim-valid", type=int, default=2_000, help="simulated validation windows")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/train_demo"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    weights = json.loads((DEMO_DIR / "model_card.json").read_text())["motif_weights"]
    planted = pd.read_csv(DEMO_DIR / "planted.bed", sep="\t", header=None,
                          names=["chrom", "start", "end", "motif", "score", "strand"])
    elements = pd.read_csv(DEMO_DIR / "elements.bed", sep="\t", header=None, names=["chrom", "start", "end", "name"])
    with Genome(str(DEMO_DIR / "genome.fa")) as genome:
        sizes = {c: genome.chrom_sizes[c] for c in ("chr1", "chr2", "chr3")}
    rows = demo_windows(planted, elements, sizes, weights, ["chr1", "chr2"], 10, rng)
    test = demo_windows(planted, elements, sizes, weights, ["chr3"], 2, rng)
    genome_path = args.out / "genome_plus_sim.fa"
    with open(genome_path, "w") as handle:
        handle.write((DEMO_DIR / "genome.fa").read_text())
        valid_chroms = ["chr2"]
        if args.simulated:
            for name, n in (("sim", args.simulated), ("simvalid", args.sim_valid)):
                record, sim_rows = simulated_record(name, n, weights, rng)
                handle.write(record)
                rows += sim_rows
            valid_chroms = ["simvalid"]
    if not args.simulated:  # genome only: chr2's windows validate (make_demo.py trained on them)
        rows = [r for r in rows if r[0] == "chr1"] + [r for r in rows if r[0] == "chr2"]
    labels = pd.DataFrame(rows + test, columns=["chrom", "start", "end", "activity"])
    labels.to_csv(args.out / "labels.tsv", sep="\t", index=False)
    options = TrainOptions(model_config=DEMO, window=WINDOW, valid_chroms=valid_chroms, test_chroms=["chr3"],
                           epochs=args.epochs, patience=args.patience, batch_size=128, learning_rate=2e-3,
                           seed=args.seed)
    started = time.process_time()
    summary = train_model(genome_path, args.out / "labels.tsv", args.out / "model.safetensors", options, quiet=True,
                          force=True)
    cpu = time.process_time() - started
    shipped = seqsal.load_model(DEMO_DIR / "model.safetensors").module.eval()
    test_frame = labels[labels["chrom"] == "chr3"]
    with Genome(str(DEMO_DIR / "genome.fa"), unknown_bases="n") as genome:
        x = encode_windows(genome, test_frame["chrom"].to_numpy(object), test_frame["start"].to_numpy(), WINDOW)
    with torch.no_grad():
        shipped_r = pearson(shipped(torch.as_tensor(x, dtype=torch.float32))[:, 0].numpy(), test_frame["activity"])
    attribute = subprocess.run([sys.executable, "-m", "seqsal.cli", "attribute", str(DEMO_DIR / "genome.fa"),
                                str(DEMO_DIR / "regions.bed"), "--model", str(args.out / "model.safetensors"),
                                "-o", str(args.out / "run"), "--quiet"], capture_output=True, text=True)
    result = {"train_windows": summary["metrics"]["train"]["n"], "simulated": args.simulated,
              "epochs_run": len(summary["history"]), "best_epoch": summary["best_epoch"],
              "valid_r": summary["metrics"]["valid"]["pearson"]["activity"],
              "test_r_seqsal_train": summary["metrics"]["test"]["pearson"]["activity"],
              "test_r_shipped_demo_model": shipped_r, "test_windows": len(test_frame), "cpu_s": cpu,
              "attribute_exit": attribute.returncode, "attribute_stderr_tail": attribute.stderr[-300:]}
    print(json.dumps(result, indent=1))
    (args.out / "result.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
