"""The statistics of the audit's faithfulness-gap check (check 5): the deletion curve's half-drop fraction, the
bases it removes first, their unexplained share, and the database scan that says which bases a motif explains.

Pure numpy over arrays, like :mod:`seqsal.audit_checks`. The scan (:func:`motif_hit_mask`) scores every window
with every log-odds matrix on both strands; it reads each window's first four bases as one 625-entry table look-up
and drops, column by column, the windows that can no longer reach the threshold (their score plus the best the
remaining columns can add), so that a database scan costs a few passes over the sequence instead of one per matrix
column. The scores of the windows it keeps are the sums of the same terms in the same order as the plain scan's.
"""
from __future__ import annotations

import numpy as np

_K = 4  # bases read at once by the scan's first look-up
_NEVER = -1e9  # an N's score: never part of a hit
_MARGIN = 1e-6  # bits: a window is dropped only when even its best completion misses the threshold by more


def half_drop_fraction(fractions: np.ndarray, deletion: np.ndarray) -> tuple[float, float]:
    """The smallest deleted fraction at which a deletion curve has made half of its full drop, and that drop.

    Parameters
    ----------
    fractions, deletion
        ``(K,)`` deleted fractions (increasing, from 0) and the mean target there (``seqsal evaluate``'s
        ``evaluation_curves.tsv``).

    Returns
    -------
    tuple
        ``(fraction, drop)``: ``drop = deletion[0] - min(deletion)``; ``(nan, drop)`` when ``drop <= 0``.
    """
    fractions, deletion = np.asarray(fractions, np.float64), np.asarray(deletion, np.float64)
    drop = float(deletion[0] - deletion.min()) if len(deletion) else 0.0
    if drop <= 0:
        return float("nan"), drop
    reached = np.flatnonzero(deletion[0] - deletion >= 0.5 * drop)
    return float(fractions[reached[0]]), drop


def top_bases(scores: np.ndarray, lengths: np.ndarray, fraction: float) -> np.ndarray:
    """``(N, L)`` booleans: the ``ceil(fraction * length)`` bases of each row with the largest score.

    The ranking of ``seqsal evaluate``'s deletion curve (decreasing score, ties by position); rows past their
    length never count.
    """
    n, width = scores.shape
    inside = np.arange(width)[None, :] < lengths[:, None]
    order = np.argsort(-np.where(inside, scores, -np.inf), axis=1, kind="stable")
    rank = np.empty_like(order)
    rank[np.arange(n)[:, None], order] = np.arange(width)[None]
    counts = np.ceil(fraction * lengths).astype(np.int64)
    return (rank < counts[:, None]) & inside


def unexplained_share(contribution: np.ndarray, top: np.ndarray, explained: np.ndarray, rng: np.random.Generator,
                      threshold: float, n_boot: int = 199) -> dict:
    """Share of the positive contribution on the ``top`` bases that lies outside the ``explained`` bases.

    Parameters
    ----------
    contribution
        ``(N, L)`` signed per-base contribution (only its positive part counts: what deletion removes).
    top, explained
        ``(N, L)`` booleans: the bases the deletion curve removes first (:func:`top_bases`) and the bases inside
        database-matched motif instances.
    rng
        Resamples regions for the p-value.
    threshold
        The p-value is the bootstrap share of region resamples whose unexplained share is below ``threshold``.

    Returns
    -------
    dict
        ``gap`` (unexplained share, 0-1; NaN when the top bases carry no positive contribution), ``pvalue``,
        ``explained_bases`` (share of the top bases inside ``explained``), ``regions`` (rows with any).
    """
    positive = np.where(top, np.clip(contribution, 0, None), 0.0)
    total = positive.sum(axis=1)
    inside = np.where(explained, positive, 0.0).sum(axis=1)
    rows = np.flatnonzero(total > 0)
    if len(rows) == 0:
        return {"gap": float("nan"), "pvalue": 1.0, "explained_bases": float("nan"), "regions": 0}
    gap = 1.0 - float(inside[rows].sum() / total[rows].sum())
    below = 0
    for _ in range(n_boot):
        pick = rows[rng.integers(0, len(rows), len(rows))]
        below += 1.0 - inside[pick].sum() / total[pick].sum() < threshold
    return {"gap": gap, "pvalue": (1 + below) / (n_boot + 1),
            "explained_bases": float((top & explained).sum() / max(top.sum(), 1)), "regions": int(len(rows))}


def log_odds(pwm: np.ndarray, pseudo: float = 1e-3) -> np.ndarray:
    """``(4, w)`` log2 odds of a letter-probability matrix against a uniform background (``pseudo`` added)."""
    pwm = np.asarray(pwm, np.float64) + pseudo
    return np.log2(pwm / pwm.sum(axis=0, keepdims=True) / 0.25)


def score_threshold(matrix: np.ndarray, pvalue: float, resolution: float = 0.05) -> float:
    """The log-odds score a uniform-background ``w``-mer reaches with probability at most ``pvalue``.

    The exact distribution of the score (rounded to ``resolution`` bits) by dynamic programming over the columns,
    as FIMO (Grant et al. 2011) and TFM-Pvalue (Touzet & Varre 2007) compute it.
    """
    steps = np.round(np.asarray(matrix) / resolution).astype(np.int64)
    low = steps.min(axis=0)
    shifted = steps - low
    dist = np.array([1.0])
    for column in shifted.T:
        grown = np.zeros(len(dist) + int(column.max()))
        for value in column:
            grown[value:value + len(dist)] += 0.25 * dist
        dist = grown
    tail = np.cumsum(dist[::-1])[::-1]  # P(score >= k)
    passing = np.flatnonzero(tail <= pvalue)
    k = int(passing[0]) if len(passing) else len(dist)
    return (k + int(low.sum())) * resolution


def motif_hit_mask(one_hot: np.ndarray, matrices: list[np.ndarray], thresholds: list[float]) -> np.ndarray:
    """``(N, L)`` booleans: bases covered by a hit (score >= threshold) of any log-odds matrix, either strand.

    Parameters
    ----------
    one_hot
        ``(N, 4, L)`` (columns with no base set never score).
    matrices, thresholds
        ``(4, w)`` log-odds matrices (:func:`log_odds`) and their score thresholds (:func:`score_threshold`).
    """
    called = one_hot.max(axis=1) > 0.5
    return code_hit_mask(np.where(called, one_hot.argmax(axis=1), 4).astype(np.uint8), matrices, thresholds)


def code_hit_mask(codes: np.ndarray, matrices: list[np.ndarray], thresholds: list[float]) -> np.ndarray:
    """:func:`motif_hit_mask` of base codes ``(N, L)`` (0-3 for A, C, G, T; 4 for N: never part of a hit)."""
    n, width = codes.shape
    covered = np.zeros((n, width), dtype=bool)
    codes = codes.astype(np.int64)
    words: dict[int, np.ndarray] = {}  # k -> (N, width - k + 1): the k bases starting at each offset, base 5
    for matrix, threshold in zip(matrices, thresholds):
        w = matrix.shape[1]
        if w > width:
            continue
        for k in {min(_K, w - start) for start in range(0, w, _K)} - set(words):
            words[k] = sum(codes[:, j:width - k + 1 + j] * 5 ** (k - 1 - j) for j in range(k))
        for strand in (matrix, matrix[::-1, ::-1]):
            _mark_hits(covered, codes, words, np.vstack([strand, np.full((1, w), _NEVER)]), threshold)
    return covered


def _block_table(columns: np.ndarray) -> np.ndarray:
    """``(5 ** k,)`` the sums of ``columns`` ``(5, k)`` for every k bases (base-5 index, first base most
    significant), added in column order from 0 as the plain scan adds them."""
    table = np.zeros(1) + columns[:, 0]
    for j in range(1, columns.shape[1]):
        table = table[..., None] + columns[:, j].reshape((1,) * j + (5,))
    return table.reshape(-1)


def _mark_hits(covered: np.ndarray, codes: np.ndarray, words: dict[int, np.ndarray], table: np.ndarray,
               threshold: float) -> None:
    """Set ``covered`` on the bases of every window whose score under ``table`` ``(5, w)`` reaches ``threshold``.

    Blocks of up to four columns are added most informative first, and after each the windows whose score plus
    the best of the blocks still to come misses the threshold are dropped; the survivors' scores are then summed
    column by column from the first, as the plain scan sums them, and compared with the threshold.
    """
    w = table.shape[1]
    positions = codes.shape[1] - w + 1
    blocks = [(start, min(start + _K, w)) for start in range(0, w, _K)]
    tables = [_block_table(table[:, start:stop]) for start, stop in blocks]
    best = np.array([table[:4, start:stop].max(axis=0).sum() for start, stop in blocks])
    spread = best - np.array([table[:4, start:stop].mean(axis=0).sum() for start, stop in blocks])
    order = [int(b) for b in np.argsort(-spread, kind="stable")]
    rows = starts = None
    score = np.zeros(0)
    for done, b in enumerate(order):
        start, stop = blocks[b]
        index = words[stop - start]
        to_come = float(best[order[done + 1:]].sum())
        if rows is None:  # dense while most windows can still reach the threshold
            score = score + tables[b][index[:, start:start + positions]] if done else \
                tables[b][index[:, start:start + positions]]
            alive = score >= threshold - _MARGIN - to_come
            if done + 1 < len(order) and alive.mean() > 0.1:
                continue
            flat = np.flatnonzero(alive)
            rows, starts = np.divmod(flat, positions)
            score = score.reshape(-1)[flat]
        else:
            score = score + tables[b][index[rows, starts + start]]
            keep = score >= threshold - _MARGIN - to_come
            rows, starts, score = rows[keep], starts[keep], score[keep]
    exact = np.zeros(len(rows))
    for j in range(w):
        exact += table[codes[rows, starts + j], j]
    hit = exact >= threshold
    rows, starts = rows[hit], starts[hit]
    for j in range(w):
        covered[rows, starts + j] = True


def instance_mask(rows: np.ndarray, width: int, region_index: np.ndarray, offsets: np.ndarray,
                  widths: np.ndarray) -> np.ndarray:
    """``(len(rows), width)`` booleans: the bases of motif instances (``offsets`` in reading direction, ``widths``)
    of the regions ``rows`` (instances of other regions are skipped)."""
    out = np.zeros((len(rows), width), dtype=bool)
    where = {int(r): i for i, r in enumerate(rows)}
    for region, offset, size in zip(region_index, offsets, widths):
        if int(region) in where:
            out[where[int(region)], max(int(offset), 0):int(offset) + int(size)] = True
    return out


