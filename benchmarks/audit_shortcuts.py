"""Does `seqsal audit` catch planted shortcuts, and leave clean models alone?

Each case trains a small Basset-style model (seqsal.train.fit_regression) on simulated 200-bp windows, writes a
genome of 600 held-out windows of the same process (one region each), runs `seqsal attribute`, `seqsal motifs`,
`seqsal evaluate` (grad_x_input, 100 regions, no sanity check) and `seqsal audit` on it, and records the verdicts. Labels are the class (1 positive, 0 negative, + noise sd 0.1).

* ``clean``: every positive carries 1-3 JASPAR sites (the demo's motifs), negatives none.
* ``adapter``: as clean, but 30 % of the positives carry no site and an adapter 20-mer at offset 40 instead.
* ``gc``: as clean, but positives are drawn at GC 0.55 and negatives at 0.38, and half the positives carry no site.
* ``edge``: as clean, but 30 % of the positives carry no site and begin with GAATTCGC (offset 0, the window edge).

    python benchmarks/audit_shortcuts.py [--cases clean,adapter,gc,edge] [--out /tmp/audit_bench] [--epochs 4]
    python benchmarks/audit_shortcuts.py --audit-only --out /tmp/audit_bench   # audit the folders again

Writes ``<out>/<case>/`` (the run folders) and prints one line per check and case, and the timings.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

import seqsal
from seqsal.encode import one_hot_encode
from seqsal.motifs import read_meme
from seqsal.simulate import plant_sites, random_sequence
from seqsal.train import fit_regression

ROOT = Path(__file__).resolve().parents[1]
MOTIFS = ("GATA1::TAL1", "Spi1", "CEBPB", "FOS::JUN")
ADAPTER = "AGATCGGAAGAGCACACGTC"
EDGE = "GAATTCGC"
WIDTH = 200


def simulate(case: str, n: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """``n`` windows of ``case`` (half positive) and their labels."""
    motifs = {m.name: m.pwm for m in read_meme(ROOT / "data" / "motifs" / "jaspar_subset.meme") if m.name in MOTIFS}
    sequences, labels = [], []
    for i in range(n):
        positive = i % 2 == 0
        gc = (0.55 if positive else 0.38) if case == "gc" else 0.42
        sequence = random_sequence(WIDTH, rng, gc=gc)
        artefact = positive and case in ("adapter", "edge") and rng.random() < 0.3
        if positive and case == "gc" and rng.random() < 0.5:
            artefact = True
        if positive and not artefact:
            plant_sites(sequence, motifs, int(rng.integers(1, 4)), rng, 20, WIDTH - 20)
        text = sequence.tobytes().decode()
        if artefact and case == "adapter":
            text = text[:40] + ADAPTER + text[40 + len(ADAPTER):]
        if artefact and case == "edge":
            text = EDGE + text[len(EDGE):]
        sequences.append(text)
        labels.append(1.0 if positive else 0.0)
    return sequences, np.array(labels, np.float32) + rng.normal(0, 0.1, n).astype(np.float32)


def run_case(case: str, out: Path, epochs: int, n_train: int, n_test: int, motifs_command: list[str]) -> dict:
    rng = np.random.default_rng({"clean": 1, "adapter": 2, "gc": 3, "edge": 4}[case])
    folder = out / case
    folder.mkdir(parents=True, exist_ok=True)
    x_seq, y = simulate(case, n_train, rng)
    x = np.stack([one_hot_encode(s) for s in x_seq])
    model = seqsal.build_model("basset", {"input_length": WIDTH, "n_tasks": 1, "channels": [32, 32, 16],
                                          "kernel_sizes": [11, 5, 3], "pool_sizes": [4, 4, 2], "hidden": 32,
                                          "dropout": 0.1})
    began = time.perf_counter()
    history = fit_regression(model, x, y, epochs=epochs, seed=0)
    train_s = time.perf_counter() - began
    seqsal.save_model(model, folder / "model.safetensors")
    test_seq, _ = simulate(case, n_test, rng)
    spacer = 100
    genome = ("N" * spacer).join(test_seq)
    (folder / "genome.fa").write_text(">chr1\n" + "\n".join(genome[i:i + 60] for i in range(0, len(genome), 60)) + "\n")
    starts = np.arange(n_test) * (WIDTH + spacer)
    pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + WIDTH, "name": [f"w{i}" for i in range(n_test)],
                  "score": 0, "strand": ["+", "-"] * (n_test // 2)}).to_csv(folder / "regions.bed", sep="\t",
                                                                           header=False, index=False)
    run = folder / "run"
    timings = {"train": train_s}
    for name, command in (
            ("attribute", ["seqsal", "attribute", str(folder / "genome.fa"), str(folder / "regions.bed"), "--model",
                           str(folder / "model.safetensors"), "-o", str(run), "--force", "-q"]),
            ("motifs", [*motifs_command, str(run), "-q"]),
            ("evaluate", ["seqsal", "evaluate", str(run), "--methods", "grad_x_input", "--no-sanity", "-q"]),
            ("audit", ["seqsal", "audit", str(run), "-q"])):
        began = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, text=True)
        timings[name] = time.perf_counter() - began
    table = pd.read_csv(run / "audit.tsv", sep="\t", keep_default_na=False)  # "n/a" is a verdict
    return {"case": case, "train_mse": history[-1]["train_mse"], "timings": timings,
            "verdicts": table[["check", "verdict", "value", "pvalue", "evidence"]].to_dict("records")}


def audit_again(case: str, out: Path) -> dict:
    """Rerun `seqsal audit` on ``<out>/<case>/run`` (after a change of the checks) and read its verdicts."""
    run = out / case / "run"
    began = time.perf_counter()
    subprocess.run(["seqsal", "audit", str(run), "-q"], check=True, capture_output=True, text=True)
    table = pd.read_csv(run / "audit.tsv", sep="\t", keep_default_na=False)
    return {"case": case, "train_mse": float("nan"), "timings": {"audit": time.perf_counter() - began},
            "verdicts": table[["check", "verdict", "value", "pvalue", "evidence"]].to_dict("records")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="clean,adapter,gc,edge")
    parser.add_argument("--out", default="/tmp/audit_bench")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--n-train", type=int, default=6000)
    parser.add_argument("--n-test", type=int, default=600)
    parser.add_argument("--motifs-command", default="seqsal motifs",
                        help="how to run motif discovery, e.g. with another checkout's code on PYTHONPATH")
    parser.add_argument("--audit-only", action="store_true",
                        help="rerun `seqsal audit` on the run folders already in --out (no training)")
    args = parser.parse_args()
    results = []
    for case in args.cases.split(","):
        result = (audit_again(case, Path(args.out)) if args.audit_only else
                  run_case(case, Path(args.out), args.epochs, args.n_train, args.n_test, args.motifs_command.split()))
        results.append(result)
        print(f"== {case}: train mse {result['train_mse']:.3f}; "
              + ", ".join(f"{k} {v:.1f} s" for k, v in result["timings"].items()), flush=True)
        for row in result["verdicts"]:
            print(f"   {row['verdict']:16s} {row['check']:24s} {row['evidence'][:150]}", flush=True)
    (Path(args.out) / "results.json").write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
