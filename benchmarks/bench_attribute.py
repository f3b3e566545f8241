"""Attribution speed and memory: the bare torch limit vs seqsal (tensor API and CLI), captum and tangermeme.

In one run, for three models —

* ``demo``: the bundled demo model (``data/demo/model.safetensors``, 500 bp),
* ``bpnet``: ``seqsal.BPNet`` (64 filters, 8 dilated layers, input 2114, output 1000),
  explaining its counts head,
* ``cnn1m``: a ``seqsal.BassetCNN`` of about 1M parameters with a 1 kb input,

— the same batches of random one-hot sequences (``--batch-size`` 64) go through

* ``bare``: a hand-written loop, ``x.requires_grad_()``, forward, ``torch.autograd.grad``
  (the limit: one forward and one backward pass, nothing else);
* ``seqsal.attribute`` (``grad_x_input``, gradient correction on, the default);
* captum ``Saliency`` (``abs=False``) and ``InputXGradient``;
* tangermeme ``saliency`` (its defaults: gradient correction, projected).

The tools are interleaved batch by batch (batch 1 through every tool, then
batch 2, ...) and the whole pass is repeated, so background load on a shared
machine hits every tool alike; per pass we take each tool's total time over
the bare loop's, and report the median and the range of that ratio.

Then the whole command, ``seqsal attribute`` in a subprocess (start-up, FASTA,
encoding, attribution, writing), on ``--regions`` 1 kb regions of a synthetic
genome written to a temporary folder, with the 1M-parameter CNN: its bp/s
against the bare loop's bp/s on batches of the same regions, measured right
before and right after the command (the mean of the two is the reference).
Because wall-clock time on a shared machine swings with other people's load,
the same ratio is also given per CPU second (user + system time of the
command, from ``/usr/bin/time``, against the bare loop's process time).
With ``--no-peaks`` when the CLI has that option, and the default command.

Last, peak memory (max RSS of the subprocess, from ``wait4``) of the command
for ``--memory-regions`` regions (default 1,000 and 10,000) with the demo model
on 500 bp regions.

Run::

    python benchmarks/bench_attribute.py [--json results.json] [--quick]
"""
from __future__ import annotations

import argparse
import json
import warnings
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

import seqsal
from seqsal.simulate import random_sequence

ROOT = Path(__file__).resolve().parents[1]
DEMO_MODEL = ROOT / "data" / "demo" / "model.safetensors"
CNN1M_CONFIG = dict(input_length=1000, channels=[256, 256, 256], kernel_sizes=[15, 7, 5], pool_sizes=[4, 4, 4],
                    hidden=64)
BPNET_CONFIG = dict(n_filters=64, n_layers=8, trimming=557)
BPNET_INPUT = 2114
GENOME_CHROMOSOMES = [2_000_000, 1_500_000, 1_500_000, 1_000_000]  # 6 Mbp


@dataclass
class Subject:
    """A model under test and how each tool is told what to explain.

    ``scalar`` maps the model output to the explained ``(N,)`` scalar (for the
    bare loop and captum); ``target`` is the same for seqsal; ``tangermeme_func``
    maps the output to ``(N, T)`` for tangermeme (task 0 is explained).
    """

    name: str
    model: torch.nn.Module
    length: int
    scalar: Callable
    target: str | None
    tangermeme_func: Callable | None


def build_subjects(seed: int = 0) -> dict[str, Subject]:
    """The three models, in eval mode, with fixed random weights for the built-ins."""
    torch.manual_seed(seed)
    demo = seqsal.load_model(str(DEMO_MODEL)).module.eval()
    bpnet = seqsal.BPNet(**BPNET_CONFIG).eval()
    cnn = seqsal.BassetCNN(**CNN1M_CONFIG).eval()
    return {
        "demo": Subject("demo", demo, demo.input_length, lambda y: y[:, 0], None, None),
        "bpnet": Subject("bpnet", bpnet, BPNET_INPUT, lambda y: y[1][:, 0], "output=1", lambda y: y[1]),
        "cnn1m": Subject("cnn1m", cnn, CNN1M_CONFIG["input_length"], lambda y: y[:, 0], None, None),
    }


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def random_batches(n_batches: int, batch_size: int, length: int, seed: int = 0) -> list[torch.Tensor]:
    """``n_batches`` float32 one-hot batches ``(batch_size, 4, length)`` of random DNA."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(n_batches):
        codes = rng.integers(0, 4, size=(batch_size, length))
        batches.append(torch.from_numpy(np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1).copy()))
    return batches


def bare_step(model: torch.nn.Module, scalar: Callable) -> Callable[[torch.Tensor], torch.Tensor]:
    """The limit: forward + backward to the input, nothing else."""
    def step(x: torch.Tensor) -> torch.Tensor:
        x = x.detach().requires_grad_(True)
        (gradient,) = torch.autograd.grad(scalar(model(x)).sum(), x)
        return gradient
    return step


def tool_steps(subject: Subject, batch_size: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """Every tool as ``batch -> attributions`` on the CPU."""
    from captum.attr import InputXGradient, Saliency
    from tangermeme.saliency import saliency as tangermeme_saliency

    model = subject.model

    def forward(x):
        return subject.scalar(model(x))

    captum_saliency, captum_ixg = Saliency(forward), InputXGradient(forward)
    tangermeme_kwargs = {"func": subject.tangermeme_func} if subject.tangermeme_func else {}
    return {
        "bare": bare_step(model, subject.scalar),
        "seqsal.attribute": lambda x: seqsal.attribute(model, x, method="grad_x_input", target=subject.target,
                                                       batch_size=batch_size, device="cpu"),
        "captum Saliency": lambda x: captum_saliency.attribute(x, abs=False),
        "captum InputXGradient": lambda x: captum_ixg.attribute(x),
        "tangermeme saliency": lambda x: tangermeme_saliency(model, x, target=0, batch_size=batch_size,
                                                             device="cpu", **tangermeme_kwargs),
    }


def interleaved(steps: dict[str, Callable], batches: list[torch.Tensor], passes: int) -> dict[str, list[list[float]]]:
    """Seconds of each tool on each batch, per pass (``[pass][batch]``); tools alternate batch by batch."""
    for step in steps.values():  # warm-up (lazy imports, allocator, first-call caches)
        step(batches[0])
    names = list(steps)
    timings: dict[str, list[list[float]]] = {name: [] for name in steps}
    for _ in range(passes):
        elapsed = {name: [0.0] * len(batches) for name in steps}
        for i, x in enumerate(batches):
            for name in names[i % len(names):] + names[:i % len(names)]:  # rotate who goes first
                start = time.perf_counter()
                steps[name](x)
                elapsed[name][i] = time.perf_counter() - start
        for name, seconds in elapsed.items():
            timings[name].append(seconds)
    return timings


def ratio_summary(timings: dict[str, list[list[float]]], bases_per_pass: int) -> dict[str, dict]:
    """Each tool's time over the bare loop's.

    ``ratio_median/min/max``: of the per-pass totals; ``ratio_best``: the sum
    over batches of each batch's best time over the passes (the statistic
    least touched by bursts of load from other processes); ``bp_per_s`` from
    the best times.
    """
    totals = {name: [sum(row) for row in rows] for name, rows in timings.items()}
    best = {name: sum(min(column) for column in zip(*rows)) for name, rows in timings.items()}
    bare = totals["bare"]
    return {
        name: {
            "ratio_best": best[name] / best["bare"],
            "ratio_median": statistics.median(s / b for s, b in zip(series, bare)),
            "ratio_min": min(s / b for s, b in zip(series, bare)),
            "ratio_max": max(s / b for s, b in zip(series, bare)),
            "bp_per_s": bases_per_pass / best[name],
            "seconds": timings[name],
        }
        for name, series in totals.items()
    }


def write_genome(path: Path, chrom_lengths: list[int], seed: int = 0) -> dict[str, int]:
    """A random FASTA (60 bases a line, GC 42 %, about 1 % N in runs) and its chromosome sizes."""
    rng = np.random.default_rng(seed)
    sizes = {}
    with open(path, "w") as handle:
        for i, length in enumerate(chrom_lengths):
            name = f"chr{i + 1}"
            sequence = random_sequence(length, rng)
            for first in rng.integers(0, length - 1000, size=max(1, length // 100_000)):
                sequence[first:first + 1000] = ord("N")
            handle.write(f">{name}\n")
            text = sequence.tobytes()
            handle.write("\n".join(text[j:j + 60].decode() for j in range(0, length, 60)) + "\n")
            sizes[name] = length
    return sizes


def write_regions(path: Path, sizes: dict[str, int], n_regions: int, width: int, seed: int = 0) -> None:
    """``n_regions`` sorted, non-overlapping BED6 regions of ``width`` bp spread over the genome (a few minus strand)."""
    rng = np.random.default_rng(seed)
    total = sum(sizes.values())
    per_chrom = [round(n_regions * size / total) for size in sizes.values()]
    per_chrom[-1] = n_regions - sum(per_chrom[:-1])
    with open(path, "w") as handle:
        for (chrom, size), count in zip(sizes.items(), per_chrom):
            if count == 0:
                continue
            spacing = size // count
            if spacing < width:
                raise ValueError(f"{count} regions of {width} bp do not fit on {chrom} ({size} bp) without overlap")
            starts = np.arange(count) * spacing + rng.integers(0, spacing - width + 1, size=count)
            strands = np.where(rng.random(count) < 0.1, "-", "+")
            for k, (start, strand) in enumerate(zip(starts, strands)):
                handle.write(f"{chrom}\t{start}\t{start + width}\t{chrom}_r{k}\t0\t{strand}\n")


def run_command(command: list[str], workdir: Path) -> dict:
    """Run ``command`` under ``/usr/bin/time``; wall seconds and the peak RSS (MiB) of the command alone.

    ``/usr/bin/time`` (a small process) forks the command: Linux carries the
    pre-``exec`` high-water mark into ``ru_maxrss``, so forking straight from
    this (large) process would report at least this process's own RSS.
    """
    rss_file = workdir / "maxrss.txt"
    start = time.perf_counter()
    process = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", str(rss_file), *command], capture_output=True)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{process.stderr.decode()[-2000:]}")
    max_rss_kib, user, system = rss_file.read_text().split()[-3:]
    return {"wall_s": wall, "max_rss_mib": int(max_rss_kib) / 1024, "cpu_s": float(user) + float(system)}


def seqsal_command(genome: Path, regions: Path, model: Path, out: Path, extra: list[str] | None = None) -> list[str]:
    executable = Path(sys.executable).with_name("seqsal")
    return [str(executable), "attribute", str(genome), str(regions), "--model", str(model), "-o", str(out),
            "--force", "--quiet", *(extra or [])]


def cli_has_option(option: str) -> bool:
    executable = Path(sys.executable).with_name("seqsal")
    help_text = subprocess.run([str(executable), "attribute", "--help"], capture_output=True, text=True).stdout
    return option in help_text


def region_batches(genome: Path, regions: Path, n_batches: int, batch_size: int) -> list[torch.Tensor]:
    """Batches of the first regions' one-hot sequences (what the command feeds the model)."""
    table = seqsal.read_regions(str(regions))
    with seqsal.Genome(str(genome)) as fasta:
        arrays = [seqsal.one_hot_encode(fasta.fetch(row.chrom, int(row.start), int(row.end)))
                  for row in table.head(n_batches * batch_size).itertuples()]
    stacked = torch.from_numpy(np.stack(arrays))
    return list(stacked.split(batch_size))


def bare_bp_per_s(step: Callable, batches: list[torch.Tensor]) -> tuple[float, float]:
    """Bases per wall second and per CPU second (this process) of the bare loop over ``batches``."""
    bases = sum(x.shape[0] * x.shape[2] for x in batches)
    wall, cpu = time.perf_counter(), time.process_time()
    for x in batches:
        step(x)
    return bases / (time.perf_counter() - wall), bases / (time.process_time() - cpu)


def end_to_end(workdir: Path, genome: Path, sizes: dict[str, int], n_regions: int, batch_size: int,
               bare_batches: int) -> dict:
    """The whole command on ``n_regions`` 1 kb regions with the 1M-parameter CNN vs the bare loop."""
    torch.manual_seed(1)
    cnn = seqsal.BassetCNN(**CNN1M_CONFIG).eval()
    model_path = workdir / "cnn1m.safetensors"
    seqsal.save_model(cnn, model_path)
    regions = workdir / "regions_1kb.bed"
    write_regions(regions, sizes, n_regions, 1000)
    batches = region_batches(genome, regions, bare_batches, batch_size)
    step = bare_step(cnn, lambda y: y[:, 0])
    step(batches[0])
    variants = {"--no-peaks": ["--no-peaks"], "default": []} if cli_has_option("--no-peaks") else {"default (no peak caller in the CLI yet)": []}
    results = {}
    for label, extra in variants.items():
        (before, before_cpu) = bare_bp_per_s(step, batches)
        out = workdir / "out_e2e"
        run = run_command(seqsal_command(genome, regions, model_path, out, extra), workdir)
        (after, after_cpu) = bare_bp_per_s(step, batches)
        bp_per_s = n_regions * 1000 / run["wall_s"]
        bp_per_cpu_s = n_regions * 1000 / run["cpu_s"]
        timing = json.loads((out / "run.json").read_text())["timing_seconds"]
        results[label] = {**run, "bp_per_s": bp_per_s, "bare_bp_per_s_before": before, "bare_bp_per_s_after": after,
                          "ratio_to_bare": bp_per_s / ((before + after) / 2),
                          "bp_per_cpu_s": bp_per_cpu_s, "bare_bp_per_cpu_s": (before_cpu + after_cpu) / 2,
                          "cpu_ratio_to_bare": bp_per_cpu_s / ((before_cpu + after_cpu) / 2),
                          "run_json_timing_s": timing}
    return {"n_regions": n_regions, "genome_bp": sum(sizes.values()), "variants": results,
            "parameters": parameter_count(cnn)}


def memory(workdir: Path, genome: Path, sizes: dict[str, int], counts: list[int]) -> dict:
    """Peak RSS of the command with the demo model for each number of 500 bp regions."""
    variants = {"--no-peaks": ["--no-peaks"], "default": []} if cli_has_option("--no-peaks") else {"default": []}
    results: dict = {label: {} for label in variants}
    for count in counts:
        regions = workdir / f"regions_500_{count}.bed"
        write_regions(regions, sizes, count, 500, seed=count)
        for label, extra in variants.items():
            run = run_command(seqsal_command(genome, regions, DEMO_MODEL, workdir / f"out_mem_{count}", extra), workdir)
            results[label][count] = {"max_rss_mib": run["max_rss_mib"], "wall_s": run["wall_s"]}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=4, help="Batches per pass in the tensor comparison.")
    parser.add_argument("--passes", type=int, default=3, help="Repeated passes in the tensor comparison.")
    parser.add_argument("--regions", type=int, default=5000, help="1 kb regions of the end-to-end run.")
    parser.add_argument("--bare-batches", type=int, default=8, help="Batches of the bare reference around it.")
    parser.add_argument("--memory-regions", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--models", nargs="+", default=["demo", "bpnet", "cnn1m"])
    parser.add_argument("--skip", nargs="*", default=[], choices=["tensor", "e2e", "memory"])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require gradients")
    report: dict = {"torch": torch.__version__, "threads": torch.get_num_threads(), "batch_size": args.batch_size}
    if "tensor" not in args.skip:
        subjects = build_subjects()
        report["tensor"] = {}
        for name in args.models:
            subject = subjects[name]
            batches = random_batches(args.batches, args.batch_size, subject.length, seed=len(name))
            totals = interleaved(tool_steps(subject, args.batch_size), batches, args.passes)
            summary = ratio_summary(totals, args.batches * args.batch_size * subject.length)
            report["tensor"][name] = {"parameters": parameter_count(subject.model), "length": subject.length,
                                      "tools": summary}
            print(f"\n{name}: {parameter_count(subject.model):,} parameters, input {subject.length} bp, "
                  f"{args.batches} batches of {args.batch_size} x {args.passes} interleaved passes")
            print(f"  {'tool':<24} {'time / bare: best-of-passes':>28} {'per-pass median [min, max]':>28} "
                  f"{'kbp/s (best)':>13}")
            for tool, row in summary.items():
                print(f"  {tool:<24} {row['ratio_best']:>28.3f} {row['ratio_median']:>12.3f} "
                      f"[{row['ratio_min']:.3f}, {row['ratio_max']:.3f}] {row['bp_per_s'] / 1e3:>13.1f}")
            sys.stdout.flush()
    with tempfile.TemporaryDirectory(prefix="seqsal-bench-") as tmp:
        workdir = Path(tmp)
        genome = workdir / "genome.fa"
        sizes = write_genome(genome, GENOME_CHROMOSOMES)
        if "e2e" not in args.skip:
            report["end_to_end"] = end_to_end(workdir, genome, sizes, args.regions, args.batch_size, args.bare_batches)
            e2e = report["end_to_end"]
            print(f"\nseqsal attribute, {e2e['n_regions']} regions of 1 kb, {e2e['genome_bp'] / 1e6:.1f} Mbp genome, "
                  f"CNN of {e2e['parameters']:,} parameters, batch {args.batch_size}")
            for label, row in e2e["variants"].items():
                print(f"  {label:<40} {row['wall_s']:8.1f} s {row['bp_per_s'] / 1e3:9.1f} kbp/s; bare "
                      f"{row['bare_bp_per_s_before'] / 1e3:.1f} / {row['bare_bp_per_s_after'] / 1e3:.1f} kbp/s "
                      f"(before / after) -> {row['ratio_to_bare']:.3f}x the bare limit; "
                      f"max RSS {row['max_rss_mib']:.0f} MiB")
                print(f"  {'':<40} per CPU second: {row['bp_per_cpu_s'] / 1e3:.1f} kbp vs bare "
                      f"{row['bare_bp_per_cpu_s'] / 1e3:.1f} -> {row['cpu_ratio_to_bare']:.3f}x; run.json timing "
                      f"{row['run_json_timing_s']}")
            sys.stdout.flush()
        if "memory" not in args.skip:
            report["memory"] = memory(workdir, genome, sizes, args.memory_regions)
            print("\npeak RSS of seqsal attribute (demo model, 500 bp regions)")
            for label, rows in report["memory"].items():
                for count, row in rows.items():
                    print(f"  {label:<12} {count:>7} regions: {row['max_rss_mib']:7.1f} MiB ({row['wall_s']:.1f} s)")
                counts = sorted(rows)
                low, high = rows[counts[0]], rows[counts[-1]]
                print(f"  {label:<12} {counts[-1]} vs {counts[0]}: {high['max_rss_mib'] / low['max_rss_mib']:.3f}x")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2, default=str)


if __name__ == "__main__":
    main()
