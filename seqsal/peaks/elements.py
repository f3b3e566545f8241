"""Candidate elements of the peak caller: the windows with ``p <= element_fdr`` grouped within a region, their
conditional Fisher p-value, and each sign's BH family over its candidates (gated by both signs' Simes test:
:func:`~seqsal.peaks.spill.sign_passing_qvalues`) in two passes (see :mod:`seqsal.peaks.calling`, whose
:func:`~seqsal.peaks.calling.call_source` calls :func:`call_elements`).
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ..encode import one_hot_decode
from .options import PeakOptions
from .spill import KeptTests, Spill, lookup_sign_qvalues, sign_passing_qvalues
from .streams import ChunkSource, TrackChunk

# a candidate element as spilled between the two passes of its BH: bounds, sign, score, p-value, summit, windows
ELEMENT_RECORD = np.dtype([("row", "<i4"), ("start", "<i4"), ("end", "<i4"), ("sign", "i1"), ("score", "<f8"),
                           ("pvalue", "<f8"), ("summit", "<i4"), ("size", "<i4")])


ELEMENT_COLUMNS = ["region_index", "offset_start", "offset_end", "sign", "score", "pvalue", "qvalue",
                   "summit_offset", "n_seqlets", "sequence"]


def _chunk_windows(records: np.ndarray) -> tuple[np.ndarray, ...]:
    """A chunk's kept tests (:data:`WINDOW_RECORD`, in the order tested) ordered by row, sign, first base (ties
    in the order tested, as a stable sort of the whole table of tests gives): ``(K,)`` int64 row, sign, first
    base, width, and float64 p-value and statistic."""
    order = np.lexsort((records["start"], records["sign"], records["row"]))
    ordered = records[order]
    return (ordered["row"].astype(np.int64), ordered["sign"].astype(np.int64), ordered["start"].astype(np.int64),
            ordered["width"].astype(np.int64), ordered["pvalue"].astype(np.float64),
            ordered["statistic"].astype(np.float64))


def call_elements(kept: KeptTests | None, seqlets: pd.DataFrame, source: ChunkSource, options: PeakOptions,
              scratch: str | os.PathLike | None = None, null: dict | None = None) -> pd.DataFrame:
    """Candidate elements from the windows with ``p <= element_fdr``, tested and BH-adjusted per sign; those with
    ``q <= element_fdr``.

    The table's ``attrs["outlook"]`` (when there were candidates) holds ``candidates`` (both signs' families) and
    ``smallest_qvalue`` (the q-value of the best candidate, passing or not).

    ``null`` (per sign, a :class:`~seqsal.peaks.stats.NullModel` of the null's own candidate elements'
    ``-log`` Fisher p-values, :func:`null_candidate_statistics`) calibrates each candidate's conditional Fisher
    p-value against the same candidates on the null's tracks: Fisher's combination assumes independent windows,
    which overlapping windows and a region-wide noise level are not (fresh13: with the noise level varying between
    regions, observed and null alike, 98-100 % of complete-null runs called elements at FDR 0.2). Without it
    (the Laplace null: no null tracks) the Fisher p-value is used as it is.

    Two passes, so that what is held does not grow with the candidates: the first groups each chunk's windows
    (a short loop over them), computes the candidates' bounds, conditional Fisher p-values, scores and summits
    for the chunk at once (see :mod:`seqsal.peaks.calling`) and spills them to a scratch file in ``scratch``;
    their p-values and signs are read back once it is done (9 B each, not held while it reads the tracks); each
    sign's BH family, gated by both signs' Simes test (:func:`~seqsal.peaks.spill.sign_passing_qvalues`), gives
    their q-values, and the second pass reads the spilled candidates back and keeps the passing
    ones. Every candidate's values depend on its own windows alone, so the calls are those of one pass over all
    candidates at once.
    """
    if kept is None or not len(kept.spill):
        return pd.DataFrame(columns=ELEMENT_COLUMNS)
    with Spill(ELEMENT_RECORD, scratch) as candidates:
        cursor, served = kept.spill.by_rows(), -1
        for chunk in source(kept.rows):
            if chunk.rows[0] <= served or np.any(np.diff(chunk.rows) <= 0):  # the cursor reads rows in order
                raise ValueError("the chunk source served rows out of order (sorted rows asked for)")
            served = int(chunk.rows[-1])
            records = chunk_candidates(chunk, cursor.take(served), options)
            if records is None:
                continue
            if null is not None:
                records["pvalue"] = calibrated_pvalues(records["pvalue"], records["sign"], null)
            candidates.append(records)
        if not len(candidates):
            return pd.DataFrame(columns=ELEMENT_COLUMNS)
        pvalues = candidates.column("pvalue")  # read back after pass 1: not held while it reads the tracks
        signs = candidates.column("sign")
        n_candidates = int(pvalues.shape[0])
        # every candidate's q-value (level 1), for the outlook's smallest one too
        families = sign_passing_qvalues(pvalues, signs, {s: int(np.sum(signs == s)) for s in (1, -1)}, 1.0,
                                        family=options.bh_family)
        smallest = min(float(qvalues[0]) for _, qvalues in families.values() if qvalues.shape[0])
        by_sign = {"+" if s > 0 else "-": {"candidates": int(np.sum(signs == s)), "smallest_qvalue":
                   float(families[s][1][0]) if families[s][1].shape[0] else 1.0} for s in (1, -1)}
        del pvalues, signs
        passed = []
        for part in candidates.parts():
            q = lookup_sign_qvalues(part, families)
            mine = q <= options.element_fdr
            if mine.any():
                passed.append((part[mine], q[mine]))
    records = np.concatenate([r for r, _ in passed]) if passed else np.zeros(0, ELEMENT_RECORD)
    q = np.concatenate([q for _, q in passed]) if passed else np.zeros(0)
    table = pd.DataFrame({
        "region_index": records["row"].astype(np.int64), "offset_start": records["start"].astype(np.int64),
        "offset_end": records["end"].astype(np.int64), "sign": records["sign"].astype(np.int64),
        "score": records["score"].astype(np.float64), "pvalue": records["pvalue"].astype(np.float64),
        "qvalue": q, "summit_offset": records["summit"].astype(np.int64),
        "n_seqlets": records["size"].astype(np.int64), "sequence": [None] * records.shape[0],
    }, columns=ELEMENT_COLUMNS)
    table["n_seqlets"] = _seqlets_inside(table, seqlets)
    table["sequence"] = _sequences(source, table)
    table.attrs["outlook"] = {"candidates": n_candidates, "smallest_qvalue": smallest, "by_sign": by_sign}
    return table


def chunk_candidates(chunk: TrackChunk, records: np.ndarray, options: PeakOptions) -> np.ndarray | None:
    """The candidate elements (:data:`ELEMENT_RECORD`, conditional Fisher p-values) of one chunk's rows from their
    kept tests ``records`` (:data:`~seqsal.peaks.spill.WINDOW_RECORD`; those with ``p <= element_fdr`` enter: the
    seqlets' tests are kept up to their own ``fdr``); None when there are none."""
    records = records[records["pvalue"] <= options.element_fdr]
    if not records.shape[0]:
        return None
    region, sign, first, width, pvalue, statistic = _chunk_windows(records)
    groups = _group_seqlets(chunk, region, sign, first, first + width, options)
    if groups is None:
        return None
    _element_bounds(groups, options)
    return _element_candidates(groups, pvalue, statistic, first + width // 2, options)


def null_candidate_statistics(records: np.ndarray, null_source: ChunkSource, options: PeakOptions
                              ) -> dict[int, np.ndarray]:
    """Per sign, ``-log`` of the conditional Fisher p-values ``(M,)`` of the candidate elements the null's own
    tests form (``records``: the null's kept tests with ``p <= element_fdr``, their p-values against the null itself),
    grouped exactly as the run's (:func:`chunk_candidates`): the null distribution :func:`call_elements`
    calibrates the run's candidates against."""
    out: dict[int, list] = {1: [], -1: []}
    records = records[np.argsort(records["row"], kind="stable")]
    rows = records["row"].astype(np.int64)
    for chunk in null_source(np.unique(rows)) if rows.shape[0] else ():
        lo, hi = np.searchsorted(rows, chunk.rows[0], "left"), np.searchsorted(rows, chunk.rows[-1], "right")
        found = chunk_candidates(chunk, records[lo:hi], options)
        for sign in (1, -1) if found is not None else ():
            out[sign].append(-np.log(found["pvalue"][found["sign"] == sign]))
    return {sign: np.concatenate(parts) if parts else np.zeros(0) for sign, parts in out.items()}


def calibrated_pvalues(fisher: np.ndarray, signs: np.ndarray, null: dict) -> np.ndarray:
    """Each candidate's Fisher p-value ``(G,)`` made a p-value against its sign's null candidates
    (:meth:`~seqsal.peaks.stats.NullModel.pvalues` of ``-log p``: empirical, a fitted tail beyond the null's
    range; 1 where the null holds too few candidates of that sign)."""
    out = np.ones(fisher.shape[0])
    for sign in (1, -1):
        mine = signs == sign
        if mine.any():
            out[mine] = null[sign].pvalues(-np.log(fisher[mine]))
    return out


def _sequences(source: ChunkSource, calls: pd.DataFrame) -> list:
    """The sequence of each call (``region_index``, ``offset_start``, ``offset_end``), read again for their rows
    only; ``None`` where the source serves no one-hot."""
    rows = calls["region_index"].to_numpy(np.int64)
    starts, ends = calls["offset_start"].to_numpy(np.int64), calls["offset_end"].to_numpy(np.int64)
    out: list = [None] * rows.shape[0]
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    for chunk in source(np.unique(rows)) if rows.shape[0] else ():
        if chunk.one_hot is None:
            break
        lo, hi = np.searchsorted(ordered, chunk.rows[0], "left"), np.searchsorted(ordered, chunk.rows[-1], "right")
        for j in order[lo:hi].tolist():
            k = int(np.searchsorted(chunk.rows, rows[j]))
            out[j] = one_hot_decode(chunk.one_hot[k, :, starts[j]:ends[j]])
    return out


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


def _element_candidates(groups: dict, pvalue, statistic, window_centre, options: PeakOptions) -> np.ndarray:
    """Candidate elements of the groups (:data:`ELEMENT_RECORD` ``(G,)``): conditional Fisher p-value over their
    windows, summed signed window statistic, summit at the centre of the strongest window, number of windows.

    ``pvalue``, ``statistic`` and ``window_centre`` are ``(K,)`` over the ordered windows the groups' ``t0``,
    ``t1`` index. Each candidate's values depend on its own windows only.
    """
    t0, t1 = groups["t0"], groups["t1"]
    sizes = t1 - t0
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    gid = np.repeat(np.arange(sizes.shape[0]), sizes)
    members = t0[gid] + (np.arange(gid.shape[0]) - offsets[gid])
    strength = statistic[members]
    is_best = strength == np.maximum.reduceat(strength, offsets)[gid]
    best = members[np.minimum.reduceat(np.where(is_best, np.arange(gid.shape[0]), gid.shape[0]), offsets)]
    records = np.empty(sizes.shape[0], ELEMENT_RECORD)
    records["row"], records["start"], records["end"] = groups["row"], groups["start"], groups["end"]
    records["sign"] = groups["sign"]
    records["score"] = groups["sign"] * np.add.reduceat(statistic[members].astype(np.float64), offsets)
    records["pvalue"] = conditional_fisher(pvalue[members], gid, sizes.shape[0], options.element_fdr)
    records["summit"] = window_centre[best]
    records["size"] = sizes
    return records
