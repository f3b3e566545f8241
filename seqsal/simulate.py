"""Synthetic DNA with planted motifs: the demo genome and the planted-motif benchmarks.

All functions take a :class:`numpy.random.Generator`, so the same seed gives
the same sequences.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .encode import reverse_complement

_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def random_sequence(length: int, rng: np.random.Generator, gc: float = 0.42) -> np.ndarray:
    """Random DNA as ASCII bytes ``(length,)`` uint8 with the given GC fraction."""
    p = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    return _BASES[rng.choice(4, size=length, p=p)]


def sample_site(pwm: np.ndarray, rng: np.random.Generator) -> str:
    """One site drawn column by column from a ``(4, W)`` letter-probability matrix."""
    cumulative = np.cumsum(pwm / pwm.sum(axis=0, keepdims=True), axis=0)
    draws = rng.random(pwm.shape[1])
    index = np.minimum((draws[None, :] > cumulative).sum(axis=0), 3)
    return _BASES[index].tobytes().decode()


def plant_sites(
    sequence: np.ndarray,
    motifs: dict[str, np.ndarray],
    n_sites: int,
    rng: np.random.Generator,
    lo: int = 0,
    hi: int | None = None,
    min_gap: int = 2,
    occupied: np.ndarray | None = None,
) -> list[tuple[str, int, int, str]]:
    """Plant ``n_sites`` sites of randomly chosen motifs into ``sequence`` (in place), without overlaps.

    Parameters
    ----------
    sequence
        ASCII bytes, changed in place.
    motifs
        Motif name -> ``(4, W)`` PWM.
    lo, hi
        Sites are placed wholly inside ``[lo, hi)``.
    occupied
        Boolean mask of positions already used (updated in place).

    Returns
    -------
    list of (motif name, start, end, strand)
        0-based half-open positions in ``sequence``.
    """
    hi = len(sequence) if hi is None else hi
    occupied = np.zeros(len(sequence), dtype=bool) if occupied is None else occupied
    names = sorted(motifs)
    planted = []
    for _ in range(n_sites):
        for _attempt in range(50):
            name = names[rng.integers(len(names))]
            width = motifs[name].shape[1]
            if hi - lo - width <= 0:
                break
            start = int(rng.integers(lo, hi - width))
            span = slice(max(0, start - min_gap), start + width + min_gap)
            if occupied[span].any():
                continue
            site = sample_site(motifs[name], rng)
            strand = "+" if rng.random() < 0.5 else "-"
            if strand == "-":
                site = reverse_complement(site)
            sequence[start:start + width] = np.frombuffer(site.encode(), dtype=np.uint8)
            occupied[start:start + width] = True
            planted.append((name, start, start + width, strand))
            break
    return planted


def window_activity(instances: pd.DataFrame, weights: dict[str, float], chrom: str, start: int, end: int) -> float:
    """Activity of ``chrom:[start, end)``: summed weights of the planted sites wholly inside it."""
    inside = instances[(instances["chrom"] == chrom) & (instances["start"] >= start) & (instances["end"] <= end)]
    return float(inside["motif"].map(weights).sum())
