"""Build the seqsal demo: a synthetic genome with real JASPAR motifs planted in "active" elements,
the regions to attribute, the planted ground truth, and a small Basset-style model trained on it.

Run from the repository root (takes about a minute on 2 CPU cores; deterministic)::

    python data/demo/make_demo.py [--seed 7] [--out seqsal/data/demo]

Another ``--seed`` makes an independent genome, regions, planted truth and model (written to
``--out``): the motif and peak benchmarks use one to check that settings chosen on the demo
carry over (``benchmarks/RESULTS.md``).

Writes into ``seqsal/data/demo/`` (package data; ``data/demo/`` links to each file): ``genome.fa``,
``regions.bed`` (narrowPeak), ``elements.bed`` (the planted active elements), ``planted.bed`` (every
planted site: motif, position, strand), ``model.safetensors`` and ``model_card.json`` (training and held-out metrics).

The model is trained on 500-bp windows of chr1 and chr2 (centred on elements with jitter, and
random background, both strands) plus 40,000 windows simulated by the same process (random
background, 0-4 planted sites), so that it learns the motifs rather than the few hundred
elements; chr3 is held out. Activity of a 500-bp window = sum of the weights of the motif sites wholly inside it (REST is a
repressor with a negative weight), plus Gaussian noise (sd 0.1).
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

import seqsal
from seqsal.encode import one_hot_encode, reverse_complement_one_hot
from seqsal.motifs import read_meme
from seqsal.simulate import plant_sites, random_sequence, window_activity
from seqsal.train import fit_regression, pearson, predict

HERE = Path(__file__).resolve().parent
PACKAGE_DEMO = HERE.parent.parent / "seqsal" / "data" / "demo"  # the files themselves (package data); data/demo links to them
MOTIF_FILE = HERE.parent / "motifs" / "jaspar_subset.meme"
CHROM_SIZES = {"chr1": 200_000, "chr2": 150_000, "chr3": 100_000}
WEIGHTS = {"GATA1::TAL1": 1.0, "Spi1": 0.8, "CEBPB": 0.7, "FOS::JUN": 1.2, "CTCF": 0.5, "REST": -1.2}
WINDOW = 500
SPACING = 1500  # one element every ~1.5 kb
CORE = 240  # sites are planted in the central 240 bp of an element
SEED = 7


def build_genome(rng: np.random.Generator):
    motifs = {m.name: m.pwm for m in read_meme(MOTIF_FILE) if m.name in WEIGHTS}
    sequences, instances, elements = {}, [], []
    for chrom, size in CHROM_SIZES.items():
        sequence = random_sequence(size, rng)
        occupied = np.zeros(size, dtype=bool)
        centres = np.arange(SPACING, size - SPACING, SPACING) + rng.integers(-200, 200, size=(size - 2 * SPACING) // SPACING + 1)[: len(np.arange(SPACING, size - SPACING, SPACING))]
        for number, centre in enumerate(centres):
            n_sites = int(np.clip(1 + rng.poisson(1.5), 1, 5))
            lo, hi = int(centre - CORE // 2), int(centre + CORE // 2)
            for motif, start, end, strand in plant_sites(sequence, motifs, n_sites, rng, lo, hi, occupied=occupied):
                instances.append((chrom, start, end, motif, strand))
            elements.append((chrom, lo, hi, f"{chrom}_element{number + 1}", int(centre)))
        sequences[chrom] = sequence
    # a soft-masked stretch and an assembly gap, as real genomes have
    sequences["chr2"][5_000:7_000] = np.frombuffer(sequences["chr2"][5_000:7_000].tobytes().lower(), dtype=np.uint8)
    sequences["chr3"][40_000:40_300] = ord("N")
    instances = pd.DataFrame(instances, columns=["chrom", "start", "end", "motif", "strand"])
    elements = pd.DataFrame(elements, columns=["chrom", "start", "end", "name", "centre"])
    return sequences, instances, elements


def write_fasta(path: Path, sequences: dict[str, np.ndarray], line_width: int = 60) -> None:
    with open(path, "w") as handle:
        for chrom, sequence in sequences.items():
            handle.write(f">{chrom}\n")
            text = sequence.tobytes().decode()
            for i in range(0, len(text), line_width):
                handle.write(text[i:i + line_width] + "\n")


def training_windows(sequences, instances, elements, chroms, rng, per_element: int):
    starts = []
    for row in elements[elements["chrom"].isin(chroms)].itertuples():
        for _ in range(per_element):
            starts.append((row.chrom, int(row.centre + rng.integers(-150, 151) - WINDOW // 2)))
    n_random = len(starts)
    for _ in range(n_random):
        chrom = chroms[rng.integers(len(chroms))]
        starts.append((chrom, int(rng.integers(0, CHROM_SIZES[chrom] - WINDOW))))
    x = np.stack([one_hot_encode(sequences[c][s:s + WINDOW].tobytes().decode()) for c, s in starts])
    y = np.array([window_activity(instances, WEIGHTS, c, s, s + WINDOW) for c, s in starts], dtype=np.float32)
    y += rng.normal(0, 0.1, size=len(y)).astype(np.float32)
    return x, y


def simulated_windows(rng, n: int):
    """Extra training windows drawn from the same process as the genome's elements (more distinct sites)."""
    motifs = {m.name: m.pwm for m in read_meme(MOTIF_FILE) if m.name in WEIGHTS}
    x = np.empty((n, 4, WINDOW), dtype=np.float32)
    y = np.empty(n, dtype=np.float32)
    for i in range(n):
        sequence = random_sequence(WINDOW, rng)
        n_sites = int(rng.integers(0, 5))
        sites = plant_sites(sequence, motifs, n_sites, rng, 10, WINDOW - 10)
        x[i] = one_hot_encode(sequence.tobytes().decode())
        y[i] = sum(WEIGHTS[name] for name, *_ in sites)
    return x, y + rng.normal(0, 0.1, size=n).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=PACKAGE_DEMO)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rng = np.random.default_rng(args.seed)
    sequences, instances, elements = build_genome(rng)
    write_fasta(args.out / "genome.fa", sequences)
    instances.assign(score=0)[["chrom", "start", "end", "motif", "score", "strand"]].to_csv(
        args.out / "planted.bed", sep="\t", header=False, index=False)
    elements[["chrom", "start", "end", "name"]].to_csv(args.out / "elements.bed", sep="\t", header=False, index=False)

    # regions to attribute: every element (narrowPeak, summit at its centre) and some background,
    # on mixed strands, one ending exactly at the end of chr3 (its model window runs past it)
    rows = []
    for row in elements.itertuples():
        start = row.centre - 300
        strand = "+-."[len(rows) % 3]
        rows.append((row.chrom, start, start + 600, row.name, 0, strand, 0, -1, -1, row.centre - start))
    for k in range(60):
        chrom = list(CHROM_SIZES)[k % 3]
        start = int(rng.integers(0, CHROM_SIZES[chrom] - 600))
        rows.append((chrom, start, start + 600, f"background{k + 1}", 0, ".", 0, -1, -1, 300))
    rows.append(("chr3", CHROM_SIZES["chr3"] - 350, CHROM_SIZES["chr3"], "chr3_end", 0, ".", 0, -1, -1, 175))
    regions = pd.DataFrame(rows)
    with open(args.out / "regions.bed", "w") as handle:
        handle.write("track type=narrowPeak name=seqsal_demo\n")
        regions.to_csv(handle, sep="\t", header=False, index=False)

    x_train, y_train = training_windows(sequences, instances, elements, ["chr1", "chr2"], rng, per_element=10)
    x_sim, y_sim = simulated_windows(rng, 40_000)
    x_train = np.concatenate([x_train, reverse_complement_one_hot(x_train), x_sim])
    y_train = np.concatenate([y_train, y_train, y_sim])
    x_valid, y_valid = training_windows(sequences, instances, elements, ["chr3"], rng, per_element=2)
    model = seqsal.BassetCNN(input_length=WINDOW, n_tasks=1, channels=(64, 64, 32), kernel_sizes=(15, 7, 5),
                             pool_sizes=(4, 4, 4), hidden=64, dropout=0.3, task_names=["activity"])
    history = fit_regression(model, x_train, y_train, x_valid, y_valid, epochs=6, batch_size=128, seed=args.seed)
    held_out = pearson(predict(model, x_valid), y_valid)
    seqsal.save_model(model, args.out / "model.safetensors")
    card = {
        "architecture": "basset", "input_length": WINDOW, "tasks": ["activity"],
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "train_windows": int(len(x_train)), "simulated_train_windows": int(len(x_sim)), "held_out_windows": int(len(x_valid)), "held_out_chromosome": "chr3",
        "held_out_pearson": round(held_out, 4), "history": history, "motif_weights": WEIGHTS,
        "motif_source": "JASPAR CORE (data/motifs/jaspar_subset.meme, CC BY 4.0)", "seed": args.seed,
        "n_elements": int(len(elements)), "n_planted_sites": int(len(instances)),
    }
    (args.out / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"held-out (chr3) Pearson r = {held_out:.3f}; {len(elements)} elements, {len(instances)} sites")


if __name__ == "__main__":
    main()
