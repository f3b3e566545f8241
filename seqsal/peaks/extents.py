"""Seqlet extents: from a significant tested window to the stretch of sequence called.

A seqlet's extent is the maximal-scoring stretch of ``y - tau`` that contains
its summit (the best base of its tested window, of width ``w``) within
``(max_length - w) / 2`` bases of the window, ``tau = extend_fraction *
(window sum / w) + level``, where ``level`` is the local level of ``y``: the
median of ``y`` over the bases the extension may reach and ``LEVEL_MARGIN``
more on each side, or 0 where that median is negative. A track centred on 0
(most models) has a level near 0; a map that is one-signed over whole
stretches (BPNet's counts head under grad x input: 96 % of its bases > 0, in
the null as in the run) would otherwise grow every seqlet to ``max_length``
across that carpet (benchmarks/RESULTS.md, session 8). The extent is padded to
``min_length`` bases unless the padding would turn its sum to the other sign (then it keeps its own, shorter
extent: fresh30b, 3 of the demo's 249 seqlets at 6-7 bp), and never crosses an invalid base. Significant same-sign
seqlets that overlap (or lie within ``merge_gap`` bases) are folded into the
more significant one (:func:`absorb_overlaps`), and same-sign neighbours that
still overlap are cut at the midpoint of their summits (:func:`split_overlaps`).
Each window keeps its own width (:mod:`seqsal.peaks.widths`). Pure numpy/pandas.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .options import PeakOptions

LEVEL_MARGIN = 100  # bases beyond the extension's reach on each side the local level is taken over: wide enough that
# a site and its own flanks (REST: 21 bp) do not set it (25 split the demo's REST seqlets into a redundant motif)


def seqlet_extents(track: np.ndarray, valid: np.ndarray, rows: np.ndarray, starts: np.ndarray, widths: np.ndarray,
                   signs: np.ndarray, scores: np.ndarray,
                   options: PeakOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Extent ``[a, b)`` and summit of significant windows (see the module docstring).

    Parameters
    ----------
    track, valid
        ``(n, L)`` per-base values and validity of the chunk's rows.
    rows, starts, widths, signs, scores
        ``(K,)`` row-local index, first base, width, sign and statistic of each tested window.
    options
        ``min_length``, ``max_length`` and ``extend_fraction`` are used.

    Returns
    -------
    first, stop, summit
        ``(K,)`` row offsets: 0-based half-open extent and the best base in it.
    """
    length = track.shape[1]
    w = widths.astype(np.int64)
    extra = np.maximum(0, (options.max_length - w) // 2)
    if rows.shape[0] == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    reach = int((w + extra).max())
    lanes = np.arange(int(w.max()))[None, :]
    core = np.minimum(starts[:, None] + lanes, length - 1)
    in_core = np.where(lanes < w[:, None], track[rows[:, None], core] * signs[:, None], -np.inf)
    summits = starts + np.argmax(in_core, axis=1)
    tau = options.extend_fraction * scores / w + local_level(track, valid, rows, starts - extra, w + 2 * extra, signs)

    def best_extension(direction: int) -> tuple[np.ndarray, np.ndarray]:
        steps = np.arange(reach)[None, :]
        index = summits[:, None] + direction * (steps + 1)
        limit_lo, limit_hi = starts - extra, starts + w + extra - 1
        inside = (index >= np.maximum(limit_lo, 0)[:, None]) & (index <= np.minimum(limit_hi, length - 1)[:, None])
        safe = np.clip(index, 0, length - 1)
        allowed = np.logical_and.accumulate(inside & valid[rows[:, None], safe], axis=1)
        gain = np.where(allowed, track[rows[:, None], safe] * signs[:, None] - tau[:, None], -np.inf)
        cumulative = np.concatenate([np.zeros((rows.shape[0], 1)), np.cumsum(gain, axis=1)], axis=1)
        return np.argmax(cumulative, axis=1), allowed.sum(axis=1)

    left, left_room = best_extension(-1)
    right, right_room = best_extension(1)
    short = np.maximum(options.min_length - (left + right + 1), 0)
    add_left = np.minimum(short // 2, left_room - left)
    add_right = np.minimum(short - add_left, right_room - right)
    add_left = np.minimum(short - add_right, left_room - left)
    first, stop = summits - left - add_left, summits + right + add_right + 1
    # padding to min_length must not turn the seqlet's sum to the other sign (a '+' seqlet padded into a
    # strong '-' site next to an N stretch was scored -8): keep the unpadded extent there
    padded_sum = span_sums(track, rows, first, stop) * signs
    flipped = padded_sum <= 0
    first = np.where(flipped, summits - left, first)
    stop = np.where(flipped, summits + right + 1, stop)
    span = first[:, None] + np.arange(max(options.max_length, options.min_length, int(w.max())) + 1)[None, :]
    inside = span < stop[:, None]
    values = np.where(inside, track[rows[:, None], np.minimum(span, length - 1)] * signs[:, None], -np.inf)
    return first, stop, first + np.argmax(values, axis=1)  # summit: the best base of the extent


def local_level(track: np.ndarray, valid: np.ndarray, rows: np.ndarray, starts: np.ndarray, spans: np.ndarray,
                signs: np.ndarray, margin: int = LEVEL_MARGIN) -> np.ndarray:
    """Per seqlet, ``max(0, median of sign * track)`` over its valid bases ``[start - margin, start + span + margin)``.

    Parameters
    ----------
    track, valid
        ``(n, L)`` per-base values and validity.
    rows, starts, spans, signs
        ``(K,)`` row-local index, first base and length of each stretch (may run past the row: clipped), and sign.
    margin
        Bases added on each side.

    Returns
    -------
    np.ndarray
        ``(K,)`` float64, ``>= 0`` (0 where no base is valid).
    """
    if rows.shape[0] == 0:
        return np.zeros(0)
    length = track.shape[1]
    lo = np.clip(starts - margin, 0, length)
    hi = np.clip(starts + spans + margin, 0, length)
    span = lo[:, None] + np.arange(max(int((hi - lo).max()), 1))[None, :]
    safe = np.minimum(span, length - 1)
    inside = (span < hi[:, None]) & valid[rows[:, None], safe]
    values = np.where(inside, track[rows[:, None], safe] * signs[:, None], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a stretch with no valid base: level 0
        level = np.nanmedian(values, axis=1)
    return np.maximum(np.nan_to_num(level, nan=0.0), 0.0)


def absorb_overlaps(region: np.ndarray, sign: np.ndarray, start: np.ndarray, end: np.ndarray, summit: np.ndarray,
                    order: np.ndarray, gap: int, max_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One call per site: fold same-sign seqlets of a region into the more significant ones they overlap.

    Seqlets are visited from the most significant (``order``). One that overlaps
    (or lies within ``gap`` bases of) a kept seqlet of its region and sign is
    joined to it when the union is at most ``max_length`` bases, dropped when
    its summit lies inside the kept one, and kept otherwise.

    Parameters
    ----------
    region, sign, start, end, summit
        ``(K,)`` seqlets; ``[start, end)`` and ``summit`` are row offsets.
    order
        ``(K,)`` indices, most significant first.

    Returns
    -------
    keep, start, end
        ``(K,)`` bool and the new ``[start, end)`` of kept seqlets.
    """
    start, end = start.astype(np.int64).copy(), end.astype(np.int64).copy()
    keep = np.zeros(start.shape[0], bool)
    # a seqlet that can overlap i starts within max_length + gap before i's end: look only there (sorted keys)
    key = (region.astype(np.int64) * 2 + (sign > 0)) * (1 << 40) + start
    by_key = np.argsort(key, kind="stable")
    sorted_key = key[by_key]
    lo = np.searchsorted(sorted_key, key - max_length - gap, "left")
    hi = np.searchsorted(sorted_key, key + (end - start) + gap, "right")
    for i in order.tolist():  # sequential by construction; K (the calls) is small
        for j in by_key[lo[i]:hi[i]].tolist():
            if not keep[j] or not (start[i] <= end[j] + gap and start[j] <= end[i] + gap):
                continue
            united_lo, united_hi = min(start[i], start[j]), max(end[i], end[j])
            if united_hi - united_lo <= max_length:
                start[j], end[j] = united_lo, united_hi
                break
            if start[j] <= summit[i] < end[j]:
                break
        else:
            keep[i] = True
    return keep, start, end


def merge_overlaps(frame: pd.DataFrame, options: PeakOptions) -> pd.DataFrame:
    """:func:`absorb_overlaps` on a table of significant candidates with extents (most significant first)."""
    if frame.empty:
        return frame
    order = np.lexsort((-frame["statistic"].to_numpy(), frame["pvalue"].to_numpy()))
    keep, start, end = absorb_overlaps(frame["region_index"].to_numpy(), frame["sign"].to_numpy(),
                                       frame["offset_start"].to_numpy(), frame["offset_end"].to_numpy(),
                                       frame["summit_offset"].to_numpy(), order, options.merge_gap, options.max_length)
    return frame.assign(offset_start=start, offset_end=end)[keep]


def split_overlaps(frame: pd.DataFrame) -> pd.DataFrame:
    """Cut overlapping same-sign seqlets of a region at the midpoint of their summits."""
    frame = frame.sort_values(["region_index", "sign", "offset_start"], kind="stable").reset_index(drop=True)
    start, end, summit = (frame[c].to_numpy().copy() for c in ("offset_start", "offset_end", "summit_offset"))
    same = (frame["region_index"].to_numpy()[1:] == frame["region_index"].to_numpy()[:-1]) & \
           (frame["sign"].to_numpy()[1:] == frame["sign"].to_numpy()[:-1])
    overlap = np.nonzero(same & (end[:-1] > start[1:]))[0]
    for k in overlap:
        cut = (summit[k] + summit[k + 1] + 1) // 2
        end[k] = max(summit[k] + 1, min(end[k], cut))
        start[k + 1] = min(summit[k + 1], max(start[k + 1], cut))
    return frame.assign(offset_start=start, offset_end=end)


def span_sums(track: np.ndarray, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``track[rows[i], starts[i]:ends[i]].sum()`` for every ``i`` (float64; spans are seqlet-short)."""
    if rows.shape[0] == 0:
        return np.zeros(0)
    offsets = np.arange(int((ends - starts).max()))[None, :]
    index = starts[:, None] + offsets
    inside = index < ends[:, None]
    values = track[rows[:, None], np.minimum(index, track.shape[1] - 1)].astype(np.float64)
    return np.where(inside, values, 0.0).sum(axis=1)
