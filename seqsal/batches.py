"""Which windows share a batch: a schedule computed from the regions' lengths alone, the same in every run.

The engine computes only real windows (no zero padding). A window's attribution may differ in its last bits with
the shape of the batch it is computed in (CPU kernels choose other code paths for other batch sizes), so a
sharded or resumed run gives the bytes of a single run only if every window meets the same batch in both. This
module fixes the batches by the whole job's table: windows are numbered in a *compute order* and cut into batches
of ``batch_size`` (and wherever the window width changes); a run over a part of the table (a shard, a resumed
run) computes the batches its regions' windows fall in, whole, including the few windows of neighbouring regions
that share those batches (at most one batch at each end of the part). Nothing is computed twice within a run and
no padding is computed at all.

Compute order: the table order when there is a model window (every window has its width); with regions fed whole
(no window), regions are grouped by length within *blocks* of consecutive regions (about
:data:`BLOCK_BASES` bases each), so a batch holds regions of one length and the engine holds at most a block of
results back to yield them in table order.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Iterator

import numpy as np

# bases of a block of regions reordered by length (whole-region runs): results held back are at most this many
# bases (32 bytes a base: one-hot and hypothetical contributions)
BLOCK_BASES = 1 << 20


def window_counts(lengths: np.ndarray, window: int | None, stride: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Windows per region and their width, as :func:`seqsal.regions.tile_starts` cuts them.

    Parameters
    ----------
    lengths
        ``(n,)`` region lengths in bases.
    window
        The model's input length, or ``None`` (each region whole: one window of its own length).
    stride
        Offset between windows of a region longer than ``window`` (default: ``window``).

    Returns
    -------
    counts, widths
        ``(n,)`` int64 each.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if window is None:
        return np.ones_like(lengths), lengths.copy()
    step = stride or window
    over = np.maximum(lengths - window, 0)
    counts = np.where(lengths <= window, 1, over // step + 1 + (over % step != 0))
    return counts.astype(np.int64), np.full_like(lengths, window)


def compute_order(lengths: np.ndarray, widths: np.ndarray, block_bases: int = BLOCK_BASES) -> np.ndarray:
    """The order regions are computed in: by block of about ``block_bases`` bases, then width, then table order.

    With one width (a model window) this is the table order.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` int64 region indices.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(widths) == 0 or (widths == widths[0]).all():
        return np.arange(len(lengths), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    blocks = starts // max(1, block_bases)
    return np.lexsort((np.arange(len(lengths)), widths, blocks)).astype(np.int64)


@dataclass(frozen=True)
class Portion:
    """Windows of one region that a run computes.

    Attributes
    ----------
    region
        Row of the region in the whole table.
    windows
        Indices into the region's window offsets (:func:`seqsal.regions.tile_starts`), ascending.
    batches
        The batch of each of those windows (an id, increasing along the schedule).
    wanted
        Whether the region is one the run attributes (else its windows only complete a batch).
    """

    region: int
    windows: np.ndarray
    batches: np.ndarray
    wanted: bool


def schedule(lengths: np.ndarray, window: int | None, stride: int | None, batch_size: int, first: int = 0,
             stop: int | None = None, block_bases: int = BLOCK_BASES) -> Iterator[Portion]:
    """The windows a run over regions ``[first, stop)`` of a table computes, in compute order, with their batches.

    Parameters
    ----------
    lengths
        ``(n,)`` lengths of the *whole* table's regions (the whole job, not a shard of it).
    window, stride
        As for :func:`window_counts`.
    batch_size
        Windows per batch (at least 1).
    first, stop
        The regions wanted (a shard, or what a resumed run has left); default: all.
    block_bases
        See :func:`compute_order`.

    Yields
    ------
    Portion
        Per region with at least one window in a batch the run computes: every window of a wanted region, and
        of any other region the windows that share a batch with a wanted one.

    Raises
    ------
    ValueError
        For ``batch_size < 1``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    lengths = np.asarray(lengths, dtype=np.int64)
    n = len(lengths)
    stop = n if stop is None else stop
    if first >= stop:
        return
    counts, widths = window_counts(lengths, window, stride)
    order = compute_order(lengths, widths, block_bases)
    counts_o, widths_o = counts[order], widths[order]
    begin = np.concatenate([[0], np.cumsum(counts_o)[:-1]])  # first window of each region, in compute order
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = widths_o[1:] != widths_o[:-1]
    run_start = np.maximum.accumulate(np.where(new_run, begin, 0))
    # batch id of a window at position g of a run starting at r: r + ((g - r) // B) * B (its first window)
    first_batch = run_start + (begin - run_start) // batch_size * batch_size
    last_batch = run_start + (begin + counts_o - 1 - run_start) // batch_size * batch_size
    wanted = (order >= first) & (order < stop)
    positions = np.flatnonzero(wanted)
    low, high = int(first_batch[positions].min()), int(last_batch[positions].max())
    # a batch is computed when a wanted region's windows reach it: the wanted region with the last first batch at
    # or before it has (both arrays increase along the order) the last last batch among those
    wanted_first, wanted_last = first_batch[positions], last_batch[positions]
    lo = int(np.searchsorted(last_batch, low, side="left"))
    hi = int(np.searchsorted(first_batch, high, side="right"))
    for p in range(lo, hi):
        g = np.arange(begin[p], begin[p] + counts_o[p], dtype=np.int64)
        batches = run_start[p] + (g - run_start[p]) // batch_size * batch_size
        if wanted[p]:
            yield Portion(int(order[p]), np.arange(counts_o[p], dtype=np.int64), batches, True)
            continue
        nearest = np.searchsorted(wanted_first, batches, side="right") - 1
        keep = (nearest >= 0) & (wanted_last[np.maximum(nearest, 0)] >= batches)
        if keep.any():
            yield Portion(int(order[p]), np.flatnonzero(keep), batches[keep], False)


def batch_arrays(windows: Iterator[tuple], stop: threading.Event) -> Iterator[tuple[list, np.ndarray]]:
    """Group consecutive windows of one batch id (:func:`schedule`) into arrays.

    ``windows`` yields ``(plan, offset, batch, wanted)``: a region's plan (``model_input`` ``(4, L)`` and
    ``window``, as the engine makes them), a window's offset in it, its batch id and whether the run wants it.
    Yields ``(items, array)``: ``[(plan, offset, wanted)]`` and the ``(B, 4, W)`` batch. Stops when ``stop`` is set.
    """
    items, arrays, current = [], [], None
    for plan, offset, batch, wanted in windows:
        if stop.is_set():
            return
        if items and batch != current:
            yield items, np.stack(arrays)
            items, arrays = [], []
        current = batch
        items.append((plan, offset, wanted))
        arrays.append(plan.model_input[:, offset:offset + plan.window])
    if items:
        yield items, np.stack(arrays)


def prefetch(generator: Iterator, depth: int, stop: threading.Event) -> Iterator:
    """Run ``generator`` on a background thread, ``depth`` items ahead; re-raise its errors here."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    sentinel = object()

    def work():
        try:
            for item in generator:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            buffer.put(error)
            return
        buffer.put(sentinel)

    thread = threading.Thread(target=work, name="seqsal-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is sentinel:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
