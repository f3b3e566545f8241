"""One-hot encoding throughput: ``seqsal.one_hot_encode`` vs tangermeme's ``one_hot_encode``.

Encodes one random 10 Mbp sequence (A/C/G/T with 1 % N, upper case since
tangermeme rejects lower case) to ``(4, L)`` in int8 (tangermeme's default
dtype) and float32 (what models take), and prints Gbp/s.

The two encoders are timed alternately, ``--repeats`` times each, so that load
from other processes on a shared machine hits both alike; the best and the
median repeat are reported. tangermeme's numba JIT compilation (and import) is
excluded from its timings by a warm-up call, and reported separately (numba's
cache is pointed at an empty folder so that the compile really happens).

Run::

    python benchmarks/bench_onehot.py [--length 10000000] [--repeats 9] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from typing import Callable

import numpy as np


def random_sequence(length: int, n_fraction: float = 0.01, seed: int = 0) -> str:
    """A random upper-case DNA string of ``length`` bases with about ``n_fraction`` ``N``."""
    rng = np.random.default_rng(seed)
    codes = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, length)]
    codes[rng.random(length) < n_fraction] = ord("N")
    return codes.tobytes().decode("ascii")


def time_once(function: Callable[[], object]) -> float:
    """Seconds one call of ``function`` takes (its result is dropped after the clock stops)."""
    start = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - start
    del result
    return elapsed


def interleaved_timings(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Time every function ``repeats`` times, round-robin, so that background load hits each alike."""
    timings: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            timings[name].append(time_once(function))
    return timings


def summarise(timings: dict[str, list[float]], length: int) -> dict[str, dict[str, float]]:
    """Best and median throughput (Gbp/s) of each timing series, and the spread of its repeats."""
    return {
        name: {
            "best_gbp_s": length / min(series) / 1e9,
            "median_gbp_s": length / statistics.median(series) / 1e9,
            "worst_over_best": max(series) / min(series),
        }
        for name, series in timings.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--json", default=None, help="Also write the results to this JSON file.")
    parser.add_argument("--numba-cache", action="store_true",
                        help="Use numba's on-disk cache (default: a fresh one, so the JIT compile is measured).")
    args = parser.parse_args()

    import torch

    import seqsal

    sequence = random_sequence(args.length)

    if not args.numba_cache:  # an empty cache folder: numba compiles tangermeme's kernels here, and we time it
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="seqsal-bench-numba-")
    started = time.perf_counter()
    from tangermeme.utils import one_hot_encode as tangermeme_one_hot_encode

    import_seconds = time.perf_counter() - started
    started = time.perf_counter()
    tangermeme_one_hot_encode(sequence)  # numba JIT of the remaining kernels happens here
    jit_seconds = time.perf_counter() - started

    expected = tangermeme_one_hot_encode(sequence).numpy()
    assert np.array_equal(seqsal.one_hot_encode(sequence, dtype=np.int8), expected), "encoders disagree"

    functions = {
        "seqsal int8": lambda: seqsal.one_hot_encode(sequence, dtype=np.int8),
        "tangermeme int8": lambda: tangermeme_one_hot_encode(sequence),
        "seqsal float32": lambda: seqsal.one_hot_encode(sequence, dtype=np.float32),
        "tangermeme float32": lambda: tangermeme_one_hot_encode(sequence, dtype=torch.float32),
    }
    for function in functions.values():  # first touch of the allocator, page cache
        function()
    summary = summarise(interleaved_timings(functions, args.repeats), args.length)

    print(f"one-hot encoding of {args.length / 1e6:.0f} Mbp, (4, L); best / median of {args.repeats} interleaved repeats")
    print(f"tangermeme import {import_seconds:.2f} s (numba compiles its eagerly typed kernels at import), "
          f"first call {jit_seconds:.2f} s (JIT of the rest); both excluded below"
          + (" [numba cache on]" if args.numba_cache else " [fresh numba cache]"))
    print(f"{'encoder':<20} {'best Gbp/s':>10} {'median Gbp/s':>13} {'worst/best':>11}")
    for name, row in summary.items():
        print(f"{name:<20} {row['best_gbp_s']:>10.3f} {row['median_gbp_s']:>13.3f} {row['worst_over_best']:>11.2f}")
    for dtype in ("int8", "float32"):
        ratio = summary[f"seqsal {dtype}"]["median_gbp_s"] / summary[f"tangermeme {dtype}"]["median_gbp_s"]
        print(f"seqsal / tangermeme ({dtype}, median): {ratio:.2f}x")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"length": args.length, "repeats": args.repeats, "tangermeme_import_s": import_seconds,
                       "tangermeme_first_call_s": jit_seconds, "results": summary}, handle, indent=2)


if __name__ == "__main__":
    main()
