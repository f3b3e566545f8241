"""bigWig output: per-region tracks merged onto genome coordinates (overlaps averaged) and written at 1-bp resolution.

Written under a temporary name, then renamed (:func:`seqsal.io.atomic_path`).
"""
from __future__ import annotations

import os
from typing import Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from .io import atomic_path


def merged_coverage(
    intervals: pd.DataFrame, load_track: Callable[[int], np.ndarray], chrom_sizes: dict[str, int]
) -> Iterator[tuple[str, int, np.ndarray]]:
    """Merge per-region tracks into non-overlapping genome blocks (mean where regions overlap).

    Parameters
    ----------
    intervals
        Columns ``chrom``, ``start``, ``end`` (0-based half-open; may run past
        the chromosome) and ``index`` (what ``load_track`` takes).
    load_track
        ``index -> (end - start,)`` values on the + strand.
    chrom_sizes
        Chromosome lengths; chromosomes are visited in this order.

    Yields
    ------
    chrom, start, values
        Sorted, non-overlapping blocks clipped to the chromosome; memory is
        bounded by the longest chain of overlapping regions.
    """
    order = {name: rank for rank, name in enumerate(chrom_sizes)}
    frame = intervals.assign(rank=intervals["chrom"].map(order)).sort_values(["rank", "start", "end"], kind="stable")
    block_chrom, block_start, block_end = None, 0, 0
    total = count = None

    def flush():
        size = block_end - block_start
        covered = count[:size] > 0
        values = np.where(covered, total[:size] / np.maximum(count[:size], 1), 0.0).astype(np.float32)
        lo, hi = max(block_start, 0), min(block_end, chrom_sizes[block_chrom])
        return block_chrom, lo, values[lo - block_start:hi - block_start]

    for row in frame.itertuples():
        if block_chrom is not None and (row.chrom != block_chrom or row.start >= block_end):
            yield flush()
            block_chrom = None
        if block_chrom is None:
            block_chrom, block_start, block_end = row.chrom, row.start, row.end
            total = np.zeros(block_end - block_start, dtype=np.float64)
            count = np.zeros(block_end - block_start, dtype=np.int32)
        if row.end > block_end:
            block_end = row.end
            if block_end - block_start > total.shape[0]:  # grow by doubling: a long chain of overlaps stays linear
                capacity = max(block_end - block_start, 2 * total.shape[0])
                total = np.concatenate([total, np.zeros(capacity - total.shape[0])])
                count = np.concatenate([count, np.zeros(capacity - count.shape[0], dtype=np.int32)])
        track = load_track(row.index)
        total[row.start - block_start:row.end - block_start] += track
        count[row.start - block_start:row.end - block_start] += 1
    if block_chrom is not None:
        yield flush()


def write_bigwig(path: str | os.PathLike, chrom_sizes: dict[str, int], blocks: Iterable[tuple[str, int, np.ndarray]]) -> None:
    """Write sorted, non-overlapping ``(chrom, start, values)`` blocks as a bigWig (1-bp resolution).

    The header lists every chromosome of ``chrom_sizes`` in its order (the
    FASTA index order), so the file lines up with the genome in IGV.
    """
    import pyBigWig

    with atomic_path(path) as tmp:
        handle = pyBigWig.open(tmp, "w")
        try:
            handle.addHeader([(name, int(size)) for name, size in chrom_sizes.items()], maxZooms=10)
            for chrom, start, values in blocks:
                if len(values):
                    handle.addEntries(chrom, int(start), values=np.asarray(values, dtype=np.float64), span=1, step=1)
        finally:
            handle.close()


def write_attribution_bigwig(
    path: str | os.PathLike, regions: pd.DataFrame, chrom_sizes: dict[str, int],
    one_hot_row: Callable[[int], np.ndarray], hypothetical_row: Callable[[int], np.ndarray],
    track: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> None:
    """bigWig of the per-base projected contribution of every region; overlapping regions averaged.

    Parameters
    ----------
    regions
        Columns ``chrom``, ``start``, ``end``; row ``i`` is region ``i``.
    one_hot_row, hypothetical_row
        ``i -> (4, L_i or more)`` arrays of region ``i`` (right padding is cut
        off); the track is their product summed over the four channels.
    track
        ``(one_hot, hypothetical) -> (L,)``, the per-base value written instead of that product's sum (e.g.
        :func:`seqsal.methods.attribution_track` of the run's method: a saliency run writes the gradient's
        magnitude).
    """
    lengths = (regions["end"] - regions["start"]).to_numpy(dtype=np.int64)

    def projected_track(index: int) -> np.ndarray:
        if track is not None:
            return track(one_hot_row(index), hypothetical_row(index))[:int(lengths[index])]
        return (hypothetical_row(index) * one_hot_row(index)).sum(axis=0)[:int(lengths[index])]

    intervals = regions[["chrom", "start", "end"]].reset_index(drop=True).assign(index=np.arange(len(regions)))
    write_bigwig(path, chrom_sizes, merged_coverage(intervals, projected_track, chrom_sizes))
