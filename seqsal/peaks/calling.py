"""Calling: candidate tests -> nulls -> significant windows -> seqlets (extents) -> elements.

:func:`call_source` runs the whole call on tracks served by a chunk source
(:mod:`seqsal.peaks.streams`); :func:`call_peaks` is its notebook face over
arrays. The statistics (tests, nulls, Benjamini–Hochberg) are those of
:mod:`seqsal.peaks.stats`.

A seqlet's extent is the maximal-scoring stretch of ``y - tau`` that contains
its summit (the best base of the tested window) within ``(max_length -
test_width) / 2`` bases of the window, ``tau = extend_fraction * (window sum /
test_width)``; it is at least ``min_length`` bases, never crosses an invalid
base, significant same-sign seqlets that overlap (or lie within ``merge_gap``
bases) are folded into the more significant one — joined while the union stays
within ``max_length``, dropped when their summit lies inside it (one call per
site: a 21-bp site holds several 6-bp windows; see :func:`absorb_overlaps`) —
and same-sign neighbours that still overlap are cut at the midpoint of their
summits. Its score is the summed projected attribution over the extent
(negative for ``-`` seqlets).

Defaults (6-bp windows, seqlets of at least 12 bp) were chosen on the
planted-motif benchmark (``benchmarks/peaks_planted.py``): short windows
resolve 10-bp motifs from background better than 10-bp windows, and
12-20-bp extents meet planted sites of 10-21 bp with >= 50 % reciprocal overlap.

Elements have their own test and their own Benjamini–Hochberg family. The
candidate elements are the clusters of *candidate windows* with ``p <= fdr``
(a fixed entry threshold ``c``, whether or not a window passed as a seqlet) of
one sign and one region that lie within ``element_gap`` bases of each other
(with no invalid base between), widened by ``element_flank`` on each side, to
at least ``element_min_length`` and at most ``element_max_length`` bases. Under
the null a window's p-value given ``p <= c`` is uniform on ``(0, c]``, so an
element of ``k`` windows has the conditional Fisher p-value
``P(chi2(2k) >= -2 sum log(p_i / c))``; q-values are BH over all candidate
elements of the run, and elements are those with ``q <= fdr``. A cluster of
moderate sites is thus called as one element even where no single site passes,
and a lone false seqlet is no longer an element by itself (taking the smallest
seqlet q-value as the element's made 17-21 % of elements false at FDR 0.05 with
seqlets at 3-4 %). Its score is the summed window statistic of its windows
(signed; the flanks are not summed), ``n_seqlets`` the significant seqlets
whose summit lies inside it.

Coordinates are 0-based, half-open, within each row (``offset_*``).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..encode import one_hot_decode
from ..errors import InputError
from .calibration import P_GRID, calibration_summary
from .options import API_COLUMNS, PeakOptions
from .stats import NullModel, benjamini_hochberg, laplace_nulls, null_statistics
from .streams import CandidateTests, ChunkSource, TrackChunk, array_chunks, as_tracks, iter_candidates

log = logging.getLogger("seqsal")


@dataclass
class PeakCalls:
    """The result of a call: ``seqlets`` and ``elements`` tables, and ``info`` (null, counts; for ``run.json``)."""

    seqlets: pd.DataFrame
    elements: pd.DataFrame
    info: dict


def _fit_nulls(options: PeakOptions, tests: CandidateTests, null_source: ChunkSource | None) -> tuple[dict, str]:
    """Per-sign :class:`NullModel` and the name of the null used."""
    if null_source is not None:
        null_scores, null_tests = null_statistics(iter_candidates(null_source, options.test_width), seed=options.seed)
        models = {sign: NullModel.empirical(null_scores[sign], options.min_null_candidates) for sign in (1, -1)}
        del null_scores
        for sign, model in models.items():
            if null_tests[sign] > model.n:
                model.sampled_from = null_tests[sign]
        if all(model.kind != "none" for model in models.values()):
            return models, "shuffle"
        log.warning("the shuffled null holds too few candidates (%s; need %d per sign): using the Laplace null",
                    ", ".join(f"{'+' if s > 0 else '-'}: {models[s].n}" for s in (1, -1)),
                    options.min_null_candidates)
    models = laplace_nulls(tests, options.min_null_candidates)
    for sign, model in models.items():
        if model.kind == "none":
            log.warning("too few %s candidates (%d < %d) to fit a null: no %s seqlets are called; give a longer "
                        "track or a null sample", "positive" if sign > 0 else "negative", model.n,
                        options.min_null_candidates, "positive" if sign > 0 else "negative")
    return models, "laplace"


def _significant_tests(tests: CandidateTests, models: dict,
                       options: PeakOptions) -> tuple[pd.DataFrame, pd.DataFrame, int, float, dict]:
    """One streaming pass over the tests: the ones that can pass BH (``p <= fdr``), with their q-values.

    Returns the significant tests (``q <= fdr``; ``+`` then ``-``, each in row order, as the
    whole table of tests would list them), every test with ``p <= fdr`` (the element candidates'
    windows), the number of tests, the smallest p-value, and per sign the counts of tests with
    ``p <= t`` for ``t`` in :data:`P_GRID`. A test
    with ``p > fdr`` never passes, and the q-value of every test that passes is reached at a
    p-value ``<= fdr`` (see :func:`benjamini_hochberg`), so all others are dropped when tested.
    """
    kept: dict[int, list] = {1: [], -1: []}
    n_tests, smallest = 0, 1.0
    at_or_below = {1: np.zeros(P_GRID.shape[0], np.int64), -1: np.zeros(P_GRID.shape[0], np.int64)}
    for sign, rows, starts, scores in tests:
        pvalue = models[sign].pvalues(scores)
        at_or_below[sign] += np.searchsorted(np.sort(pvalue), P_GRID, side="right")
        n_tests += int(pvalue.shape[0])
        if pvalue.shape[0]:
            smallest = min(smallest, float(pvalue.min()))
        keep = pvalue <= options.fdr
        if keep.any():
            kept[sign].append((rows[keep], starts[keep], scores[keep], pvalue[keep]))
    tables = []
    for sign in (1, -1):
        parts = kept.pop(sign)
        rows, starts, scores, pvalue = (np.concatenate([part[k] for part in parts]) if parts else
                                        np.zeros(0, np.int64 if k < 2 else np.float64) for k in range(4))
        tables.append(pd.DataFrame({"region_index": rows.astype(np.int64), "window_start": starts.astype(np.int64),
                                    "sign": np.full(rows.shape[0], sign, np.int64), "statistic": scores,
                                    "pvalue": pvalue}))
    tests = pd.concat(tables, ignore_index=True)
    tests["qvalue"] = benjamini_hochberg(tests["pvalue"].to_numpy(), n_tests)
    return tests[tests["qvalue"] <= options.fdr], tests, n_tests, smallest, at_or_below


def _extents(track: np.ndarray, valid: np.ndarray, rows: np.ndarray, starts: np.ndarray, signs: np.ndarray,
             scores: np.ndarray, options: PeakOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Extent ``[a, b)`` and summit of significant candidates (row-local indices into ``track``)."""
    w, length = options.test_width, track.shape[1]
    extra = max(0, (options.max_length - w) // 2)
    reach = w + extra
    if rows.shape[0] == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    core = starts[:, None] + np.arange(w)[None, :]
    summits = starts + np.argmax(track[rows[:, None], core] * signs[:, None], axis=1)
    tau = options.extend_fraction * scores / w

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
    padded_sum = _span_sums(track, rows, first, stop) * signs
    flipped = padded_sum <= 0
    first = np.where(flipped, summits - left, first)
    stop = np.where(flipped, summits + right + 1, stop)
    span = first[:, None] + np.arange(reach + extra + 1)[None, :]
    inside = span < stop[:, None]
    values = np.where(inside, track[rows[:, None], np.minimum(span, length - 1)] * signs[:, None], -np.inf)
    return first, stop, first + np.argmax(values, axis=1)  # summit: the best base of the extent


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


def _merge_overlaps(frame: pd.DataFrame, options: PeakOptions) -> pd.DataFrame:
    """:func:`absorb_overlaps` on a table of significant candidates with extents (most significant first)."""
    if frame.empty:
        return frame
    order = np.lexsort((-frame["statistic"].to_numpy(), frame["pvalue"].to_numpy()))
    keep, start, end = absorb_overlaps(frame["region_index"].to_numpy(), frame["sign"].to_numpy(),
                                       frame["offset_start"].to_numpy(), frame["offset_end"].to_numpy(),
                                       frame["summit_offset"].to_numpy(), order, options.merge_gap, options.max_length)
    return frame.assign(offset_start=start, offset_end=end)[keep]


def _split_overlaps(frame: pd.DataFrame) -> pd.DataFrame:
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


def _seqlet_table(source: ChunkSource, candidates: pd.DataFrame, options: PeakOptions) -> pd.DataFrame:
    """Extents, summits, scores (and sequences when the source has one-hot) of the significant candidates."""
    parts = []
    candidates = candidates.sort_values(["region_index", "window_start"], kind="stable")
    region = candidates["region_index"].to_numpy(np.int64)
    wanted = np.unique(region)
    for chunk in source(wanted):
        lo, hi = np.searchsorted(region, chunk.rows[0], "left"), np.searchsorted(region, chunk.rows[-1], "right")
        block = candidates.iloc[lo:hi]
        block = block[np.isin(block["region_index"].to_numpy(), chunk.rows)]
        rows = np.searchsorted(chunk.rows, block["region_index"].to_numpy(np.int64))
        signs = block["sign"].to_numpy(dtype=np.int64)
        a, b, summit = _extents(chunk.track, chunk.valid, rows, block["window_start"].to_numpy(np.int64), signs,
                                block["statistic"].to_numpy(), options)
        frame = block.assign(offset_start=a, offset_end=b, summit_offset=summit, _local=rows)
        frame = _split_overlaps(_merge_overlaps(frame, options))
        rows, a, b = frame["_local"].to_numpy(), frame["offset_start"].to_numpy(), frame["offset_end"].to_numpy()
        frame["score"] = _span_sums(chunk.track, rows, a, b)
        if chunk.one_hot is not None:
            frame["sequence"] = [one_hot_decode(chunk.one_hot[r, :, s:e]) for r, s, e in zip(rows, a, b)]
        parts.append(frame.drop(columns="_local"))
    return pd.concat(parts, ignore_index=True)


def _span_sums(track: np.ndarray, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``track[rows[i], starts[i]:ends[i]].sum()`` for every ``i`` (float64; spans are seqlet-short)."""
    if rows.shape[0] == 0:
        return np.zeros(0)
    offsets = np.arange(int((ends - starts).max()))[None, :]
    index = starts[:, None] + offsets
    inside = index < ends[:, None]
    values = track[rows[:, None], np.minimum(index, track.shape[1] - 1)].astype(np.float64)
    return np.where(inside, values, 0.0).sum(axis=1)


def _elements(windows: pd.DataFrame, seqlets: pd.DataFrame, source: ChunkSource,
              options: PeakOptions) -> pd.DataFrame:
    """Candidate elements from the windows with ``p <= fdr``, tested and BH-adjusted; those with ``q <= fdr``.

    Windows are grouped row by row (a short loop over them); bounds, conditional Fisher p-values,
    scores and summits are then computed for all groups at once (see the module docstring).
    """
    columns = ["region_index", "offset_start", "offset_end", "sign", "score", "pvalue", "qvalue", "summit_offset",
               "n_seqlets", "sequence"]
    if windows.empty:
        return pd.DataFrame(columns=columns)
    ordered = windows.sort_values(["region_index", "sign", "window_start"], kind="stable")
    region, sign, first, pvalue, statistic = (ordered[c].to_numpy() for c in
                                              ("region_index", "sign", "window_start", "pvalue", "statistic"))
    stop = first + options.test_width
    parts: list[dict] = []
    for chunk in source(np.unique(region)):
        groups = _group_seqlets(chunk, region, sign, first, stop, options)
        if groups is None:
            continue
        _element_bounds(groups, options)
        if chunk.one_hot is not None:
            local = np.searchsorted(chunk.rows, groups["row"])
            groups["sequence"] = [one_hot_decode(chunk.one_hot[k, :, a:b])
                                  for k, a, b in zip(local, groups["start"], groups["end"])]
        parts.append(groups)
    if not parts:
        return pd.DataFrame(columns=columns)
    groups = {key: np.concatenate([part[key] for part in parts]) for key in parts[0] if key != "sequence"}
    groups["sequence"] = [text for part in parts for text in part.get("sequence", [None] * part["row"].shape[0])]
    table = _element_table(groups, pvalue, statistic, first, options, columns)
    table["n_seqlets"] = _seqlets_inside(table, seqlets)
    return table[table["qvalue"] <= options.fdr].reset_index(drop=True)


def conditional_fisher(pvalues: np.ndarray, group: np.ndarray, n_groups: int, entry: float) -> np.ndarray:
    """Combined p-value ``(G,)`` of groups of p-values that each passed ``p <= entry`` (fixed in advance).

    Given ``p <= entry``, a null p-value is uniform on ``(0, entry]``: ``-2 sum log(p_i / entry)`` over a
    group of ``k`` is chi-square with ``2k`` degrees of freedom (Fisher 1932, on the rescaled p-values).

    Parameters
    ----------
    pvalues
        ``(K,)`` p-values, all ``<= entry``.
    group
        ``(K,)`` group index of each, in ``[0, n_groups)``.
    n_groups
        Number of groups.
    entry
        The entry threshold, in ``(0, 1]``.

    Returns
    -------
    np.ndarray
        ``(n_groups,)`` p-values in ``(0, 1]``.
    """
    statistic = np.bincount(group, weights=-np.log(np.clip(pvalues / entry, 1e-300, 1.0)), minlength=n_groups)
    k = np.bincount(group, minlength=n_groups)
    # chi2(2k) survival at 2x = Poisson(x) cdf at k - 1 = exp(-x) * sum_{j<k} x^j / j!
    out = np.zeros(n_groups)
    term = np.exp(-statistic)
    for j in range(int(k.max()) if n_groups else 0):
        out += np.where(j < k, term, 0.0)
        term = term * statistic / (j + 1)
    return np.clip(out, np.finfo(np.float64).tiny, 1.0)


def _seqlets_inside(elements: pd.DataFrame, seqlets: pd.DataFrame) -> np.ndarray:
    """Per element, the significant seqlets of its sign whose summit lies inside it."""
    if seqlets.empty or elements.empty:
        return np.zeros(len(elements), np.int64)
    key = seqlets["region_index"].to_numpy(np.int64) * 4 + (seqlets["sign"].to_numpy() > 0)
    order = np.lexsort((seqlets["summit_offset"].to_numpy(), key))
    key, summit = key[order], seqlets["summit_offset"].to_numpy(np.int64)[order]
    position = key * (1 << 32) + summit
    element_key = elements["region_index"].to_numpy(np.int64) * 4 + (elements["sign"].to_numpy() > 0)
    low = element_key * (1 << 32) + elements["offset_start"].to_numpy(np.int64)
    high = element_key * (1 << 32) + elements["offset_end"].to_numpy(np.int64)
    return np.searchsorted(position, high, side="left") - np.searchsorted(position, low, side="left")


def _group_seqlets(chunk: TrackChunk, region, sign, first, stop, options: PeakOptions) -> dict | None:
    """Groups of same-sign seqlets of the chunk's rows, as arrays: row, sign, first/last base, seqlet range
    ``[t0, t1)`` (indices into the ordered seqlet arrays), valid stretch ``[lo, hi)`` holding them."""
    i, hi = np.searchsorted(region, chunk.rows[0], "left"), np.searchsorted(region, chunk.rows[-1], "right")
    out: dict[str, list] = {key: [] for key in ("row", "sign", "first", "last", "t0", "t1", "lo", "hi")}
    while i < hi:
        row = int(region[i])
        j = int(np.searchsorted(region, row, "right"))
        k = int(np.searchsorted(chunk.rows, row))
        if k < len(chunk.rows) and chunk.rows[k] == row:
            valid = chunk.valid[k]
            length = valid.shape[0]
            invalid = None if valid.all() else np.flatnonzero(~valid)
            current = None  # [sign, first, last, t0]
            for t in range(i, j + 1):
                if t < j:
                    a, b, s = int(first[t]), int(stop[t]), int(sign[t])
                    if current is not None and current[0] == s:
                        span = max(current[2], b) - current[1] + 2 * options.element_flank
                        clear = invalid is None or (np.searchsorted(invalid, max(a, current[2]))
                                                    == np.searchsorted(invalid, current[2]))
                        if a - current[2] <= options.element_gap and clear and span <= options.element_max_length:
                            current[2] = max(current[2], b)
                            continue
                if current is not None:  # close the current group
                    s0, a0, b0, t0 = current
                    if invalid is None:
                        lo, hi_bound = 0, length
                    else:  # the contiguous valid stretch holding the seqlets bounds the element
                        before = int(np.searchsorted(invalid, a0))
                        lo = int(invalid[before - 1]) + 1 if before else 0
                        hi_bound = int(invalid[before]) if before < invalid.shape[0] else length
                    for key, value in zip(out, (row, s0, a0, b0, t0, t, lo, hi_bound)):
                        out[key].append(value)
                if t < j:
                    current = [s, a, b, t]
        i = j
    if not out["row"]:
        return None
    return {key: np.asarray(values, dtype=np.int64) for key, values in out.items()}


def _element_bounds(groups: dict, options: PeakOptions) -> None:
    """``start``/``end`` of each element: its seqlets widened by the flank, grown to the minimum length, all
    within the valid stretch ``[lo, hi)`` (adds the keys to ``groups``)."""
    lo, hi = groups["lo"], groups["hi"]
    start = np.maximum(lo, groups["first"] - options.element_flank)
    end = np.minimum(hi, groups["last"] + options.element_flank)
    short = options.element_min_length - (end - start)
    grow = short > 0
    grow_left = np.minimum(short // 2, start - lo)
    grow_right = np.minimum(short - grow_left, hi - end)
    grow_left = np.minimum(short - grow_right, start - lo)
    groups["start"] = np.where(grow, start - grow_left, start)
    groups["end"] = np.where(grow, end + grow_right, end)


def _element_table(groups: dict, pvalue, statistic, window_start, options: PeakOptions,
                   columns: list[str]) -> pd.DataFrame:
    """Candidate elements of the groups: conditional Fisher p-value over their windows, BH q-value over all
    candidates, summed signed window statistic, summit at the centre of the strongest window."""
    t0, t1 = groups["t0"], groups["t1"]
    sizes = t1 - t0
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    gid = np.repeat(np.arange(sizes.shape[0]), sizes)
    members = t0[gid] + (np.arange(gid.shape[0]) - offsets[gid])
    strength = statistic[members]
    is_best = strength == np.maximum.reduceat(strength, offsets)[gid]
    best = members[np.minimum.reduceat(np.where(is_best, np.arange(gid.shape[0]), gid.shape[0]), offsets)]
    combined = conditional_fisher(pvalue[members], gid, sizes.shape[0], options.fdr)
    return pd.DataFrame({
        "region_index": groups["row"], "offset_start": groups["start"], "offset_end": groups["end"],
        "sign": groups["sign"],
        "score": groups["sign"] * np.add.reduceat(statistic[members].astype(np.float64), offsets),
        "pvalue": combined, "qvalue": benjamini_hochberg(combined),
        "summit_offset": (window_start[best] + options.test_width // 2).astype(np.int64), "n_seqlets": sizes,
        "sequence": groups["sequence"],
    }, columns=columns)


def _rank(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame.assign(rank=pd.Series(dtype=np.int64))
    order = np.lexsort((frame["offset_start"].to_numpy(), frame["region_index"].to_numpy(),
                        -np.abs(frame["score"].to_numpy()), frame["pvalue"].to_numpy()))
    rank = np.empty(len(frame), dtype=np.int64)
    rank[order] = np.arange(1, len(frame) + 1)
    return frame.assign(rank=rank)


def call_source(source: ChunkSource, options: PeakOptions, null_source: ChunkSource | None = None) -> PeakCalls:
    """Call seqlets and elements on tracks served by ``source`` (see :class:`TrackChunk`).

    The tracks are streamed in bounded chunks and nothing is held per region or
    per test: one pass tests every candidate and keeps only those with
    ``p <= fdr`` (the only ones BH can pass; see :func:`benjamini_hochberg`) and
    the number of tests; the rows with calls are read again for extents,
    sequences and elements. The ``laplace`` null takes two more passes before
    that (exact order statistics of the observed tests, see :func:`~seqsal.peaks.stats.laplace_nulls`).
    ``null_source`` serves the null tracks of the ``shuffle`` null (its test
    statistics are held: they are the null distribution); without it the
    ``laplace`` null is used.

    Parameters
    ----------
    source, null_source
        Chunk sources (:mod:`seqsal.peaks.streams`) of the tracks to call and of the null's tracks.
    options
        The caller's parameters.

    Returns
    -------
    PeakCalls
        ``seqlets`` and ``elements`` in row coordinates (``region_index``, ``offset_start``, ``offset_end``,
        ``summit_offset``; 0-based half-open), with ``sign`` as ``1``/``-1``, and ``info`` for ``run.json``.

    Raises
    ------
    InputError
        On an out-of-range option.
    """
    options.check()
    tests = CandidateTests(source, options.test_width)
    models, used = _fit_nulls(options, tests, null_source)
    significant, windows, n_tests, smallest, at_or_below = _significant_tests(tests, models, options)
    calibration, warnings = calibration_summary(models, at_or_below)
    if null_source is not None and used == "laplace":
        warnings.insert(0, "the shuffled null holds too few candidates to fit: the Laplace null (a fit to the "
                           "observed tracks) was used; rerun `seqsal attribute` with a larger --min-null-bases")
    for warning in warnings:
        log.warning("%s", warning)
    info = {"null": used, "null_model": {"+": models[1].describe(), "-": models[-1].describe()},
            "n_tests": n_tests, "fdr": options.fdr, "options": asdict(options),
            "calibration": {**calibration, "warnings": warnings}}
    if significant.empty:
        log.info("no seqlet passed FDR %g (%d tests; smallest p-value %.3g): writing empty peak files",
                 options.fdr, n_tests, smallest if n_tests else float("nan"))
        seqlets = pd.DataFrame(columns=API_COLUMNS + ["window_start", "statistic", "sequence"])
    else:
        seqlets = _seqlet_table(source, significant, options)
    seqlets = _rank(seqlets.assign(n_seqlets=1))
    elements = _rank(_elements(windows, seqlets, source, options))
    info.update(n_seqlets=int(len(seqlets)), n_elements=int(len(elements)),
                n_seqlets_by_sign={"+": int((seqlets["sign"] == 1).sum()), "-": int((seqlets["sign"] == -1).sum())})
    return PeakCalls(seqlets, elements, info)


def _api_table(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.reindex(columns=API_COLUMNS).copy()
    out["sign"] = np.where(out["sign"].to_numpy() > 0, "+", "-") if len(out) else pd.Series(dtype=object)
    out = out.sort_values(["region_index", "offset_start", "offset_end", "sign"], kind="stable")
    return out.reset_index(drop=True).astype({c: np.int64 for c in ("region_index", "offset_start", "offset_end",
                                                                   "summit_offset", "rank", "n_seqlets")})


def call_peaks(
    track: np.ndarray,
    lengths: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    *,
    null_track: np.ndarray | None = None,
    null_lengths: np.ndarray | None = None,
    null_valid: np.ndarray | None = None,
    fdr: float = 0.05,
    level: str = "seqlets",
    **options,
) -> pd.DataFrame:
    """Call seqlets (or elements) on per-base attribution tracks held in memory.

    Parameters
    ----------
    track
        ``(L,)`` or ``(N, L)`` per-base projected attribution (hypothetical x
        one-hot summed over channels), + strand.
    lengths
        ``(N,)`` true length of each row (positions past it are padding).
    valid
        ``(L,)`` or ``(N, L)`` bool; False at N bases and padding (no call there).
        Non-finite values are invalid too.
    null_track, null_lengths, null_valid
        Attribution tracks of sequences without signal (e.g. dinucleotide-shuffled
        copies, see :func:`seqsal.dinucleotide_shuffle`): the ``shuffle`` null.
        Without them the ``laplace`` null (a fit to the bulk of ``track``) is used.
    fdr
        Target false discovery rate (Benjamini–Hochberg over all tests).
    level
        ``seqlets`` or ``elements``.
    options
        Other fields of :class:`PeakOptions` (``test_width``, ``max_length``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per call, sorted by row and position: ``region_index`` (row),
        ``offset_start``, ``offset_end`` (0-based half-open within the row),
        ``sign`` (``+``/``-``), ``score`` (summed attribution), ``pvalue``,
        ``qvalue``, ``summit_offset``, ``rank`` (1 = most significant),
        ``n_seqlets``. ``DataFrame.attrs["peaks"]`` holds the null used and counts.

    Raises
    ------
    InputError
        On an unknown level or option, an out-of-range option, or tracks of shapes that do not fit.
    """
    if level not in ("seqlets", "elements"):
        raise InputError(f"unknown level {level!r}; choose seqlets or elements")
    unknown = set(options) - set(PeakOptions.__dataclass_fields__)
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(sorted(unknown))}; see seqsal.peaks.PeakOptions")
    values, mask = as_tracks(track, lengths, valid)
    null_source = None
    if null_track is not None:
        null_values, null_mask = as_tracks(null_track, null_lengths, null_valid, "null_track")
        null_source = array_chunks(null_values, null_mask)
    peak_options = PeakOptions(fdr=fdr, null="shuffle" if null_source is not None else "laplace", **options)
    calls = call_source(array_chunks(values, mask), peak_options, null_source)
    table = _api_table(calls.seqlets if level == "seqlets" else calls.elements)
    table.attrs["peaks"] = calls.info
    return table
