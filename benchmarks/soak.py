"""Soak test (issue 7): ``seqsal attribute`` on 100,000 regions of the demo genome, memory sampled throughout.

Makes a BED of ``--regions`` random 500-bp regions (the demo model's window) on
``data/demo/genome.fa``, runs the real command line in a subprocess and samples
its resident memory (``VmRSS`` from ``/proc``) with the progress checkpoint
(``.partial/progress.json``) twice a second. Prints a markdown table of the
peak RSS in the first, middle and last third of the attribution phase and
while the final files are written; memory is flat when the last third's peak
is within 10 % (or 50 MiB) of the first's.

Usage::

    python benchmarks/soak.py [--regions 100000] [--work /tmp/seqsal-soak] [--device cpu] [--keep]
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"


def make_bed(path: Path, n: int, width: int = 500, seed: int = 0) -> None:
    """``n`` random regions of ``width`` bp over the demo chromosomes, half on each strand."""
    from seqsal.genome import Genome

    with Genome(DEMO / "genome.fa") as genome:  # indexes it in memory on a fresh clone (writes nothing)
        sizes = dict(genome.chrom_sizes)
    rng = np.random.default_rng(seed)
    names = list(sizes)
    weights = np.array([sizes[c] for c in names], dtype=float)
    chroms = rng.choice(len(names), size=n, p=weights / weights.sum())
    with open(path, "w") as handle:
        for i, c in enumerate(chroms):
            start = int(rng.integers(0, sizes[names[c]] - width))
            handle.write(f"{names[c]}\t{start}\t{start + width}\tsoak{i}\t0\t{'+-'[i % 2]}\n")


def rss_mib(pid: int) -> float | None:
    """Resident memory of a process (MiB), or ``None`` once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def progress(out: Path) -> int:
    try:
        return int(json.loads((out / ".partial" / "progress.json").read_text())["done"])
    except (OSError, ValueError, KeyError):
        return 0


def soak(n: int, work: Path, device: str, interval: float = 0.5) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    bed, out = work / "soak.bed", work / "out"
    make_bed(bed, n)
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "seqsal.cli", "attribute", str(DEMO / "genome.fa"), str(bed),
               "--model", str(DEMO / "model.safetensors"), "-o", str(out), "--device", device, "-q"]
    started = time.monotonic()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    samples = []  # (seconds, regions done, rss MiB)
    while process.poll() is None:
        rss = rss_mib(process.pid)
        if rss is not None:
            samples.append((time.monotonic() - started, progress(out), rss))
        time.sleep(interval)
    stderr = process.stderr.read()
    if process.returncode != 0:
        raise SystemExit(f"seqsal failed ({process.returncode}): {stderr[-2000:]}")
    record = json.loads((out / "run.json").read_text())
    attributing = [(t, d, r) for t, d, r in samples if 0 < d < n]
    finishing = [(t, d, r) for t, d, r in samples if d >= n]
    thirds = {}
    for label, lo, hi in (("start", 0, n / 3), ("middle", n / 3, 2 * n / 3), ("end", 2 * n / 3, n)):
        part = [r for _, d, r in attributing if lo < d <= hi]
        thirds[label] = max(part) if part else float("nan")
    result = {
        "regions": n, "command": " ".join(command), "wall_seconds": round(time.monotonic() - started, 1),
        "timing_seconds": record["timing_seconds"], "samples": len(samples),
        "peak_rss_mib": {**{k: round(v, 1) for k, v in thirds.items()},
                         "writing final files": round(max((r for *_, r in finishing), default=float("nan")), 1),
                         "whole run": round(max(r for *_, r in samples), 1)},
        "output_bytes": {p.name: p.stat().st_size for p in out.iterdir() if p.is_file()},
    }
    growth = thirds["end"] - thirds["start"]
    result["flat"] = bool(growth <= max(50.0, 0.10 * thirds["start"]))
    result["rss_growth_start_to_end_mib"] = round(growth, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/seqsal-soak"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keep", action="store_true", help="Keep the output folder (about 3.2 GB at 100,000).")
    args = parser.parse_args()
    result = soak(args.regions, args.work, args.device)
    (args.work / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    if not args.keep:
        shutil.rmtree(args.work / "out", ignore_errors=True)
    print(json.dumps(result, indent=2))
    peaks = result["peak_rss_mib"]
    print("\n| phase | regions done | peak RSS (MiB) |\n| --- | --- | --- |")
    n = result["regions"]
    print(f"| start (first third) | 1-{n // 3} | {peaks['start']} |")
    print(f"| middle | {n // 3}-{2 * n // 3} | {peaks['middle']} |")
    print(f"| end (last third) | {2 * n // 3}-{n} | {peaks['end']} |")
    print(f"| writing the final files | {n} | {peaks['writing final files']} |")
    print(f"\nflat: {result['flat']} (growth start -> end {result['rss_growth_start_to_end_mib']} MiB); "
          f"wall {result['wall_seconds']} s; attribution {result['timing_seconds']['attribution']} s")


if __name__ == "__main__":
    main()
