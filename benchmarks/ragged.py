"""Ragged run folders (issue 18): size on disk of uneven regions, and peak memory against the number of regions.

Part ``size``: ``seqsal attribute`` (the demo model, default options: peaks and the shuffled null) on 100 regions
of 500 bp plus one of 100 kb of a synthetic genome; prints each file's size against its content (the bytes of
its per-base values: one-hot + hypothetical, 4 float32 channels each, for ``attributions.npz``; a float32 track
and a bool per base for ``null.npz``) and what the dense ``(N, 4, max_length)`` layout took.

Part ``memory``: ``seqsal attribute`` (defaults) and then ``seqsal call-peaks`` on ``--small`` and ``--large``
random 500-bp regions of the demo genome (the soak benchmark's BED); each command runs in its own wrapper
process that reports the child's peak resident memory (``ru_maxrss``). Flat: the large run's peak within 10 %
of the small run's. ``--repeats N`` runs each command N times per size (peak RSS moves by some 5-10 % between
runs on a shared machine) and reports the mean and range; the ratios are of the means. The table also gives the
shuffled null's sampled regions and the bytes of the null statistics the peak caller holds while it calls (from
``run.json``: the per-width nulls as float32, the final nulls as float64; about 0.8 kB per null region of 500 bp).
Both grow with the run by design (``null_fraction`` of the regions, up to ``peaks.stats._NULL_HELD`` values per
key), so they are the part of the peak that is not meant to be flat.

Usage::

    python benchmarks/ragged.py [--parts size memory] [--small 1000] [--large 100000] [--repeats 1]
                                [--work /tmp/seqsal-ragged]
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from soak import make_bed  # noqa: E402  (the soak benchmark's random 500-bp regions of the demo genome)

WRAPPER = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")


def peak_rss(command: list[str]) -> tuple[float, float]:
    """Run ``command``; return its peak resident memory (MiB) and wall time (s)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return int(done.stdout.split()[-1]) / 1024, time.perf_counter() - started


def seqsal(*args: str) -> list[str]:
    return [sys.executable, "-m", "seqsal.cli", *args]


def size_part(work: Path) -> None:
    from seqsal.simulate import random_sequence

    rng = np.random.default_rng(0)
    genome = work / "uneven.fa"
    with open(genome, "w") as handle:
        for name, size in (("chr1", 101_000), ("chr2", 56_000)):
            sequence = random_sequence(size, rng).tobytes().decode()
            handle.write(f">{name}\n" + "".join(sequence[i:i + 80] + "\n" for i in range(0, size, 80)))
    lines = [f"chr2\t{500 + 550 * i}\t{1000 + 550 * i}\tr{i}" for i in range(100)]
    lines.insert(50, "chr1\t500\t100500\tlong")
    bed = work / "uneven.bed"
    bed.write_text("\n".join(lines) + "\n")
    out = work / "uneven"
    rss, seconds = peak_rss(seqsal("attribute", str(genome), str(bed), "--model", str(DEMO / "model.safetensors"),
                                   "-o", str(out), "--force", "--quiet"))
    from seqsal.io import region_arrays

    bases = 100 * 500 + 100_000
    content = {"attributions.npz": bases * 4 * 4 * 2}
    null = region_arrays(out / "null.npz", ("projected", "valid"))
    content["null.npz"] = int(null.lengths.sum()) * 5
    print(f"\n`seqsal attribute` on 100 x 500 bp + 1 x 100 kb (demo model, defaults): {seconds:.1f} s, "
          f"peak RSS {rss:.0f} MiB\n")
    print("| file | size (bytes) | content (bytes) | size / content |")
    print("| --- | ---: | ---: | ---: |")
    total = 0
    for path in sorted(out.iterdir()):
        if path.is_file():
            size = path.stat().st_size
            total += size
            known = path.name in content
            ratio = f"{size / content[path.name]:.4f}" if known else ""
            print(f"| {path.name} | {size:,} | {f'{content[path.name]:,}' if known else ''} | {ratio} |")
    all_content = sum(content.values())
    print(f"| whole folder | {total:,} | {all_content:,} | {total / all_content:.4f} |")
    dense = 101 * 100_000 * 4 * 4 * 2
    print(f"\nThe dense layout's attributions.npz: 101 x 4 x 100,000 x 4 B x 2 = {dense:,} bytes "
          f"({dense / content['attributions.npz']:.1f}x the content).")


def summary(runs: list[tuple[float, float]]) -> tuple[float, str, float]:
    """``(mean peak RSS, its text with the range when repeated, mean wall time)`` of repeated runs."""
    rss = [value for value, _ in runs]
    mean = sum(rss) / len(rss)
    text = f"{mean:.1f}" + (f" ({min(rss):.1f}-{max(rss):.1f})" if len(rss) > 1 else "")
    return mean, text, sum(seconds for _, seconds in runs) / len(runs)


def null_held(peaks: dict) -> tuple[int, float]:
    """Null regions sampled and the MiB of null statistics the peak caller holds (``run.json``'s ``peaks``):
    the values of each empirical (shuffled-null) model, 4 B each for the per-width nulls (float32), 8 B for the
    final nulls (float64; a sign that tests one width has none, its p-values are that width's); 0 for the
    Laplace null, which holds none."""
    def held(models) -> int:
        return sum(model["n"] for model in models if isinstance(model, dict) and model.get("kind") == "empirical")

    if peaks.get("null") != "shuffle":
        return 0, 0.0
    by_width = held(model for signs in peaks.get("null_model_by_width", {}).values() for model in signs.values())
    several = [sign for sign, widths in peaks.get("test_widths_used", {}).items() if len(widths) > 1]
    final = held(peaks.get("null_model", {}).get(sign) for sign in several)
    return peaks.get("null_sample", {}).get("n_regions", 0), (4 * by_width + 8 * final) / 2 ** 20


def memory_part(work: Path, sizes: list[int], repeats: int = 1) -> None:
    full = work / f"regions_{max(sizes)}.bed"
    make_bed(full, max(sizes))
    rows = []
    for n in sizes:
        bed = work / f"regions_{n}.bed"
        if n != max(sizes):
            bed.write_text("".join(full.read_text().splitlines(keepends=True)[:n]))
        out = work / f"run_{n}"
        attribute, peaks = [], []
        for _ in range(repeats):
            attribute.append(peak_rss(seqsal("attribute", str(DEMO / "genome.fa"), str(bed), "--model",
                                             str(DEMO / "model.safetensors"), "-o", str(out), "--force", "--quiet")))
            peaks.append(peak_rss(seqsal("call-peaks", str(out), "--quiet")))
        record = json.loads((out / "run.json").read_text())
        rows.append((n, summary(attribute), summary(peaks), (out / "attributions.npz").stat().st_size,
                     *null_held(record.get("peaks", {}))))
    print(f"\nPeak RSS, mean of {repeats} run{'s' if repeats > 1 else ''}" + (" (range)" if repeats > 1 else "") + ":")
    print("\n| regions (500 bp) | null regions | null statistics held (MiB) | `attribute` peak RSS (MiB) | wall (s) "
          "| `call-peaks` peak RSS (MiB) | wall (s) | attributions.npz (bytes) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, (_, rss, seconds), (_, peaks_rss, peaks_seconds), size, null, held in rows:
        print(f"| {n:,} | {null:,} | {held:.1f} | {rss} | {seconds:.1f} | {peaks_rss} | {peaks_seconds:.1f} "
              f"| {size:,} |")
    first, last = rows[0], rows[-1]
    print(f"\nlarge / small peak RSS: attribute {last[1][0] / first[1][0]:.3f}x, "
          f"call-peaks {last[2][0] / first[2][0]:.3f}x (flat: within 1.10x); without the null statistics' growth "
          f"({last[5] - first[5]:.1f} MiB): attribute {(last[1][0] - last[5] + first[5]) / first[1][0]:.3f}x, "
          f"call-peaks {(last[2][0] - last[5] + first[5]) / first[2][0]:.3f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=("size", "memory"), default=["size", "memory"])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=1, help="Runs of each command per size (memory part).")
    parser.add_argument("--work", type=Path, default=Path("/tmp/seqsal-ragged"))
    parser.add_argument("--keep", action="store_true", help="Keep the work folder.")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    try:
        if "size" in args.parts:
            size_part(args.work)
        if "memory" in args.parts:
            memory_part(args.work, [args.small, args.large], max(1, args.repeats))
    finally:
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
