"""Complete nulls through the whole pipeline: the demo model on sequence with no planted site, default options.

Each run builds a fresh genome whose regions carry no planted motif, then runs ``seqsal.run_attribute`` (the
default call, FDR 0.05) and ``seqsal.call_peaks_from_run(fdr=0.2)`` on the folder; every call is false, so the runs
with any call must stay at or below the FDR (issue 13). Genomes (``--kind``): ``iid`` draws every base at the demo
genome's composition; ``dinuc`` dinucleotide-shuffles a demo region with 1 kb on each side. Each region sits on its
own chromosome with 1 kb of flank, and each run has its own seed (the null's shuffles differ too)::

    python benchmarks/pipeline_null.py [--kind iid dinuc] [--regions 1 5 20 100] [--length 600] [--runs 20]
        [--motifs]

``--motifs`` also runs ``seqsal motifs`` (``seqsal.run_motifs``, no database) on each folder and counts the runs
with a motif instance call (``motif_calls.tsv``) at FDR 0.05 and 0.2 (one run: the calls at an FDR are the
instances whose q-value is at most it).

A fresh helper (fresh15) ran the same procedure with its own scripts on 1,685 runs (benchmarks/RESULTS.md, session 17).
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

import numpy as np
import torch

import seqsal
from seqsal.pipeline import AttributeOptions

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
FLANK = 1000


def demo_sequences() -> dict[str, str]:
    """The demo genome's chromosomes, upper case."""
    out: dict[str, list[str]] = {}
    for line in (DEMO / "genome.fa").read_text().splitlines():
        if line.startswith(">"):
            out[line[1:].split()[0]] = parts = []
        elif line:
            parts.append(line.strip().upper())
    return {name: "".join(parts) for name, parts in out.items()}


def null_genome(kind: str, n: int, length: int, rng: np.random.Generator, demo: dict[str, str], out: Path) -> None:
    """``out/genome.fa`` and ``out/regions.bed``: ``n`` regions of ``length`` bp, no planted site in any."""
    span = length + 2 * FLANK
    if kind == "iid":
        text = "".join(demo.values())
        composition = np.array([text.count(base) for base in "ACGT"], float)
        draw = lambda: "".join(np.array(list("ACGT"))[rng.choice(4, span, p=composition / composition.sum())])
    else:
        regions = [line.split()[:3] for line in (DEMO / "regions.bed").read_text().splitlines()
                   if line and not line.startswith(("track", "#"))]

        def draw() -> str:
            chrom, start, end = regions[int(rng.integers(len(regions)))]
            sequence = demo[chrom]
            lo = int(min(max(0, (int(start) + int(end)) // 2 - span // 2), len(sequence) - span))
            piece = sequence[lo:lo + span].replace("N", "A")
            return seqsal.dinucleotide_shuffle_string(piece, 1, seed=rng)[0]
    out.mkdir(parents=True)
    with open(out / "genome.fa", "w") as fasta, open(out / "regions.bed", "w") as bed:
        for i in range(n):
            fasta.write(f">chr{i + 1}\n{draw()}\n")
            bed.write(f"chr{i + 1}\t{FLANK}\t{FLANK + length}\tr{i}\t0\t+\n")


def one_run(kind: str, n: int, length: int, seed: int, demo: dict[str, str], scratch: Path,
            motifs: bool = False) -> dict:
    folder = scratch / f"{kind}_{n}_{length}_{seed}"
    null_genome(kind, n, length, np.random.default_rng(seed), demo, folder)
    out = folder / "out"
    seqsal.run_attribute(str(folder / "genome.fa"), str(folder / "regions.bed"), str(DEMO / "model.safetensors"),
                         str(out), options=AttributeOptions(seed=seed), progress=False)
    strict = json.loads((out / "run.json").read_text())["peaks"]
    lenient = seqsal.call_peaks_from_run(str(out), fdr=0.2, write=False)
    calls = seqsal.run_motifs(str(out), database="none", instance_fdr=0.2, progress=False)["calls"] if motifs else None
    q = calls["qvalue"].to_numpy() if calls is not None else np.zeros(0)
    return {"motif_calls@0.05": int((q <= 0.05).sum()), "motif_calls@0.2": int((q <= 0.2).sum()),"seqlets@0.05": strict["n_seqlets"], "elements@0.05": strict["n_elements"],
            "seqlets@0.2": len(lenient.seqlets), "elements@0.2": len(lenient.elements),
            "null": (strict.get("null_sample") or {}).get("copies"),
            "spread": (strict["calibration"].get("null_row_spread") or {}).get("sd_log_scale")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", nargs="+", default=["iid", "dinuc"], choices=["iid", "dinuc"])
    parser.add_argument("--regions", nargs="+", type=int, default=[1, 5, 20, 100])
    parser.add_argument("--length", type=int, default=600)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--motifs", action="store_true", help="also count the runs with a motif instance call")
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.disable(logging.WARNING)
    demo = demo_sequences()
    keys = ["seqlets@0.05", "elements@0.05", "seqlets@0.2", "elements@0.2"] + \
        (["motif_calls@0.05", "motif_calls@0.2"] if args.motifs else [])
    print("| genome | regions x bp | runs | " + " | ".join(f"any {key.replace('@', ' @')}" for key in keys) + " |\n"
          "| --- | --- | ---: | " + " | ".join("---:" for _ in keys) + " |")
    with tempfile.TemporaryDirectory() as scratch:
        for kind in args.kind:
            for n in args.regions:
                rows = [one_run(kind, n, args.length, 7919 * n + run, demo, Path(scratch), args.motifs)
                        for run in range(args.runs)]
                counts = [sum(row[key] > 0 for row in rows) for key in keys]
                print(f"| {kind} | {n} x {args.length} | {args.runs} | " + " | ".join(map(str, counts)) + " |",
                      flush=True)


if __name__ == "__main__":
    main()
