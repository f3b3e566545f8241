"""Matching motifs to known motifs, TOMTOM-style (Gupta et al. 2007, *Genome Biology* 8:R24).

Columns are compared by Pearson correlation; an alignment's p-value comes from
the exact null of its summed column scores (:class:`_RangeNull`), and q-values
by Benjamini-Hochberg over all pairs. A discovered motif is compared together
with a few columns of its flanking context (:func:`query_matrix`), so that a
trimmed core is not credited for a longer known motif whose extra columns its
flanks contradict.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from ..peaks import benjamini_hochberg
from .matrices import reverse_complement_matrix
from .meme import Motif


def column_pearson(query: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson correlation of every query column with every target column: ``(4, Wq), (4, Wt) -> (Wq, Wt)``.

    A column with no variation (uniform) correlates 0 with everything. TOMTOM's
    Pearson column score (Gupta et al. 2007).

    Returns
    -------
    np.ndarray
        ``(Wq, Wt)`` float64 correlations in ``[-1, 1]``.
    """
    q = np.asarray(query, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    q = q - q.mean(axis=0, keepdims=True)
    t = t - t.mean(axis=0, keepdims=True)
    qn = np.sqrt((q * q).sum(axis=0))
    tn = np.sqrt((t * t).sum(axis=0))
    dots = q.T @ t
    with np.errstate(invalid="ignore", divide="ignore"):
        out = dots / np.outer(qn, tn)
    return np.where(np.isfinite(out), out, 0.0)


class _RangeNull:
    """Null distribution of the summed column score of each contiguous range of query columns.

    Each query column's null is its (binned) Pearson correlation with columns
    drawn at random from the database, both strands (TOMTOM's shuffled-column
    null); the sum over a range of columns is their convolution.
    """

    def __init__(self, query: np.ndarray, pool: np.ndarray, bins: int, min_overlap: int):
        self.bins = bins
        scores = np.rint(column_pearson(query, pool) * bins).astype(np.int64) + bins  # (Wq, P) in [0, 2*bins]
        width = query.shape[1]
        self.hist = np.stack([np.bincount(row, minlength=2 * bins + 1) / row.size for row in scores])
        self.survival: dict[tuple[int, int], np.ndarray] = {}
        for a in range(width):
            dist = np.ones(1)
            for b in range(a, width):
                dist = np.convolve(dist, self.hist[b])
                if b + 1 - a >= min_overlap or b + 1 - a == width:
                    self.survival[(a, b + 1)] = np.cumsum(dist[::-1])[::-1]

    def pvalue(self, a: int, b: int, binned_score: int) -> float:
        """P(sum of null scores of query columns ``[a, b)`` >= score); score in bins, shifted by ``bins`` per column."""
        survival = self.survival[(a, b)]
        index = binned_score + self.bins * (b - a)
        if index <= 0:
            return 1.0
        if index >= len(survival):
            return float(survival[-1]) if index == len(survival) - 1 else 0.0
        return float(min(survival[index], 1.0))


SMALL_DATABASE = 10
"""Fewer known motifs than this make a poor column null (:class:`_RangeNull` draws its columns from the database):
on the demo's motifs, match p-values against 2-4 JASPAR matrices were 20-600x off those against all 1,912 (either
way), against 10 up to 17x, against the bundled 17 within 3x (MEME's tomtom warns below 50, memelite below 25)."""


def small_database_warning(n_known: int, database: str) -> list[str]:
    """The warning a database of ``n_known`` motifs gets when it is below :data:`SMALL_DATABASE` (else none)."""
    if n_known >= SMALL_DATABASE:
        return []
    return [f"{database} holds {n_known} motif{'s' if n_known != 1 else ''}: a match's p-value takes its null from "
            "the database's own columns, which so few make poor (p- and q-values off by orders of magnitude, either "
            "way); rank the matches, or match against a full collection (--database jaspar, or a large MEME file)"]


CONTEXT_COLUMNS = 4
"""Columns of a discovered motif's flanking context compared on each side (:func:`query_matrix`)."""


def query_matrix(motif: Motif, context: int = CONTEXT_COLUMNS) -> tuple[np.ndarray, int]:
    """The matrix a query is compared by: its PWM with up to ``context`` columns of its flanks on each side.

    A discovered motif is trimmed to the columns that carry most of its
    contribution (:func:`seqsal.motifs.align.trim_bounds`), but the aligned
    seqlets' bases next to it are data too: a weakly preferred flank, or no
    preference where a longer known motif has a strong base. Scored on the
    trimmed core alone, a core that many factors share (an ETS ``GGAA``, the
    AP-1 ``TGAsTCA``) matches best whichever known motif holds the sharpest
    copy of it, whatever that motif's other columns say; with the context, those
    columns must agree with the flanks too. Users of tfmodisco-lite pad its
    0.3-of-max trimmed motifs the same way (a few columns, e.g. 4, each side)
    before TOMTOM.

    Parameters
    ----------
    motif
        A query; its flanks are ``motif.extra["left_context"]`` and ``["right_context"]`` (``(4, a)``,
        ``(4, b)`` letter probabilities, as :meth:`seqsal.motifs.DiscoveredMotif.to_motif` stores them). A
        motif without them (e.g. read from a MEME file) is compared by its PWM alone.
    context
        Most flank columns used on each side (>= 0).

    Returns
    -------
    matrix, start
        ``(4, l + W + r)`` float64 (``l, r <= context``) and ``l``, the column of ``matrix`` where the motif
        itself begins.
    """
    pwm = np.asarray(motif.pwm, dtype=np.float64)
    left, right = motif.extra.get("left_context"), motif.extra.get("right_context")
    if context <= 0 or left is None or right is None:
        return pwm, 0
    left = np.asarray(left, dtype=np.float64)[:, max(np.shape(left)[1] - context, 0):]
    right = np.asarray(right, dtype=np.float64)[:, :context]
    return np.concatenate([left, pwm, right], axis=1), left.shape[1]


def compare_motifs(
    queries: list[Motif], database: list[Motif], min_overlap: int = 5, bins: int = 100,
    context: int = CONTEXT_COLUMNS,
) -> pd.DataFrame:
    """TOMTOM-style comparison of every query motif with every database motif (Gupta et al. 2007, Tomtom).

    Each (query, target) pair is aligned at every offset with at least
    ``min_overlap`` overlapping columns, on both strands of the target; an
    alignment scores the sum of the Pearson correlations of its aligned PWM
    columns. A query that carries its flanking context (a discovered motif,
    :func:`query_matrix`) is aligned with up to ``context`` flank columns on
    each side: they are scored like the motif's own columns wherever the
    target reaches them, while ``min_overlap`` still counts columns of the
    motif itself (a target that overlaps only the flanks is not aligned).
    An alignment's p-value comes from the exact null distribution of its sum
    when the target's columns are replaced by columns drawn at random from the
    whole database (both strands); the pair's p-value is that of its best
    alignment, corrected for the number of alignments tried
    (``1 - (1 - p)^n``). E-value = p x database size; q-values by
    Benjamini-Hochberg (1995) over all pairs.

    Parameters
    ----------
    queries, database
        Motifs to match and known motifs.
    min_overlap
        Fewest aligned columns of the query motif (or its width, or the target's, if smaller).
    bins
        Column scores are rounded to ``1 / bins`` for the exact null.
    context
        Flank columns of a query compared on each side (0: the PWM alone).

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``query``, ``target_id``, ``target_name``, ``strand``
        (of the target), ``offset`` (target column aligned with query column 0,
        the motif's own first column), ``overlap`` (aligned columns of the
        motif), ``score`` (summed correlation, flank columns included),
        ``pvalue``, ``evalue``, ``qvalue``; sorted by query, then p-value.

    Raises
    ------
    InputError
        When ``database`` is empty.
    """
    if not database:
        raise InputError("the motif database is empty")
    pool = np.concatenate([m.pwm for m in database] + [reverse_complement_matrix(m.pwm) for m in database], axis=1)
    rows = []
    for query in queries:
        q, lead = query_matrix(query, context)
        wq, wm = q.shape[1], query.pwm.shape[1]  # compared columns; the motif's own, from column `lead` of q
        null = _RangeNull(q, pool, bins, min(min_overlap, wq))
        for target in database:
            best = (2.0, 0.0, "+", 0, 0)
            n_alignments = 0
            for strand, matrix in (("+", target.pwm), ("-", reverse_complement_matrix(target.pwm))):
                binned = np.rint(column_pearson(q, matrix) * bins).astype(np.int64)
                wt = binned.shape[1]
                need = min(min_overlap, wm, wt)
                # target column `offset` faces column 0 of q; the motif's columns [lead, lead + wm) overlap >= need
                for offset in range(-(lead + wm - need), wt - need - lead + 1):
                    a, b = max(0, -offset), min(wq, wt - offset)
                    overlap = min(b, lead + wm) - max(a, lead)
                    if overlap < need:
                        continue
                    n_alignments += 1
                    score = int(np.trace(binned, offset=offset))
                    if (a, b) not in null.survival:
                        null.survival[(a, b)] = _range_survival(null.hist[a:b])
                    p = null.pvalue(a, b, score)
                    # p-values of two alignments that differ only by the rounding of their convolutions (a
                    # palindrome on both strands) are a tie: the higher score, then the first seen (+ strand) wins
                    tie = abs(p - best[0]) <= 1e-9 * max(p, best[0])
                    if (p < best[0] and not tie) or (tie and score / bins > best[1]):
                        best = (p, score / bins, strand, offset + lead, overlap)
            p = float(-np.expm1(n_alignments * np.log1p(-min(best[0], 1 - 1e-16))))
            rows.append({"query": query.identifier, "target_id": target.identifier, "target_name": target.name,
                         "strand": best[2], "offset": best[3], "overlap": best[4], "score": round(best[1], 4),
                         "pvalue": p, "evalue": p * len(database)})
    table = pd.DataFrame(rows, columns=["query", "target_id", "target_name", "strand", "offset", "overlap", "score",
                                        "pvalue", "evalue"])
    table["qvalue"] = benjamini_hochberg(table["pvalue"].to_numpy()) if len(table) else []
    return table.sort_values(["query", "pvalue", "score"], ascending=[True, True, False], kind="stable").reset_index(drop=True)


def _range_survival(hists: np.ndarray) -> np.ndarray:
    dist = np.ones(1)
    for hist in hists:
        dist = np.convolve(dist, hist)
    return np.cumsum(dist[::-1])[::-1]


def best_matches(comparison: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """The ``n`` best database matches of each query.

    Parameters
    ----------
    comparison
        A table of :func:`compare_motifs` (sorted by query, then p-value).
    n
        Matches kept per query.

    Returns
    -------
    pandas.DataFrame
        The first ``n`` rows of each query, in the table's order.
    """
    return comparison.groupby("query", sort=False).head(n).reset_index(drop=True)
