"""Motif instance calls with a false discovery rate against the run's shuffled null (the pure steps).

The seqlet caller tests each window's summed contribution against the shuffled
null alone, and on some models no single window stands out at FDR 0.05. A motif
that ``seqsal motifs`` keeps (:mod:`seqsal.motifs.support`: its PWM matches are
enriched in the run's windows over the null's) adds what the window alone lacks:
a window that matches the motif is far more likely a site than one that does not.

For a kept motif ``M`` of sign ``s`` with match threshold ``m`` (its
``support_match``: a fraction of its PWM's best log-odds score), every test window
of sign ``s`` (the peak caller's local maxima of the summed contribution,
:func:`seqsal.peaks.block_tests`) of the run and of the null gets two p-values
against the null's windows: ``p``, of its summed contribution under the sign's
empirical null (:class:`seqsal.peaks.NullModel`, built from the null's windows as
the peak caller builds it), and ``p_match``, of its best match to ``M`` near its
centre (:func:`seqsal.motifs.support.scan_matches`) among the null's windows'
best matches (:func:`match_pvalues`). Windows are ranked by ``u = p * p_match``
(:func:`instance_statistic`: Fisher's combination of the two lines of evidence,
which orders as their product), so a site of a clear match with a fair
contribution ranks with one of a weak match and a strong contribution. Only
windows that match at ``>= m`` are candidates, and windows on one instance count
once, the one with the smallest ``u`` (:func:`one_per_instance`). The run's
candidates are the targets and the null's the decoys of a target-decoy FDR
(Elias & Gygi 2007), the null's counted in bases as Storey's estimate scales the
null's share (Storey 2002), with knockoff+'s ``+ 1`` (Barber & Candès 2015):
estimated over every kept motif's instances at once, each motif peeled from
its weakest instance by what the peeled instances and the ``u`` of those left
say (:mod:`seqsal.motifs.adaptive`). Any ranking computed the same way on both
sides keeps the run's noise instances exchangeable with the null's; so a
null window's ``p_match`` is its rank among the null's windows (itself included)
and a run window's its rank among them with itself added.

Measured (``benchmarks/zoo/calibrate.py``, ``benchmarks/pipeline_null.py --motifs``, benchmarks/RESULTS.md
issue 13, session 19): on the 7 model runs of the calibration zoo at FDR 0.05, 2.7-5.5 % of the motif calls lie
on no planted site, with calls where the seqlet caller has none (basset_B, bpnet_A, sigmoid_A); on 120 complete
nulls (the demo model on i.i.d. and dinucleotide-shuffled genomes), 1 run had a call at 0.05 and 10 at 0.2.
A motif whose core another motif shares can
take its sites: the call is right, the label may not be.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .discover import best_per_instance

CALL_COLUMNS = ["chrom", "start", "end", "strand", "motif", "sign", "region_index", "region_name", "pvalue", "match",
                "match_pvalue", "qvalue"]
"""The columns of ``motif_calls.tsv`` (:func:`calls_table`)."""


def match_pvalues(null_scores: np.ndarray, scores: np.ndarray, own: bool = False) -> np.ndarray:
    """Each match score's p-value among the null's windows' best matches (upper tail, ties counted as reaching).

    Parameters
    ----------
    null_scores
        ``(n0,)`` the best match to the motif of each of the null's test windows (fractions of the PWM's best
        log-odds score), n0 >= 1.
    scores
        ``(n,)`` the scores to rank.
    own
        True when ``scores`` are ``null_scores`` themselves: each is ranked among the null's windows with itself
        counted once, ``#{null >= x} / n0``; False (run windows), with itself added, ``(1 + #{null >= x}) /
        (1 + n0)``. Both are the rank of a window in a pool it belongs to, so a run window of noise and a null
        window get the same distribution (what the FDR's control rests on).

    Returns
    -------
    np.ndarray
        ``(n,)`` float64 in ``(0, 1]``.
    """
    ordered = np.sort(np.asarray(null_scores, np.float64))
    reaching = ordered.shape[0] - np.searchsorted(ordered, np.asarray(scores, np.float64), side="left")
    if own:
        return reaching / ordered.shape[0]
    return (1.0 + reaching) / (1.0 + ordered.shape[0])


def instance_statistic(pvalues: np.ndarray, match_p: np.ndarray) -> np.ndarray:
    """The ranking statistic of a window: ``p * p_match`` (module docstring).

    Fisher's method combines two p-values by ``-2 (log p + log p_match)``, which orders windows exactly as the
    product does (Fisher 1932); the calls need only the order, so the product is used as it is.

    Parameters
    ----------
    pvalues, match_p
        ``(n,)`` each window's contribution p-value and its match p-value (:func:`match_pvalues`).

    Returns
    -------
    np.ndarray
        ``(n,)`` float64, smaller is stronger.
    """
    return np.asarray(pvalues, np.float64) * np.asarray(match_p, np.float64)


def window_statistics(run_p: np.ndarray, run_scores: np.ndarray, null_p: np.ndarray,
                      null_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ranking statistic of every run and null window of one motif, ranked the same way on both sides.

    Parameters
    ----------
    run_p, run_scores
        ``(n,)`` the run's windows' contribution p-values and best matches to the motif.
    null_p, null_scores
        ``(n0,)`` the same for the null's windows (the match p-values' reference).

    Returns
    -------
    run_u, run_match_p, null_u
        ``(n,)`` :func:`instance_statistic` of the run's windows and their :func:`match_pvalues`; ``(n0,)`` the
        null's statistic, each null window ranked among the null's with itself counted once. With no null
        window, every match p-value is 1 (the ranking is by ``p`` alone).
    """
    if not np.asarray(null_scores).shape[0]:
        return (np.asarray(run_p, np.float64), np.ones(np.asarray(run_p).shape[0]),
                np.asarray(null_p, np.float64))
    run_match_p = match_pvalues(null_scores, run_scores)
    return (instance_statistic(run_p, run_match_p), run_match_p,
            instance_statistic(null_p, match_pvalues(null_scores, null_scores, own=True)))


def one_per_instance(rows: np.ndarray, starts: np.ndarray, pvalues: np.ndarray, matched: np.ndarray,
                     gap: int) -> np.ndarray:
    """The matching windows that stand for their instance: of those on one instance, the one with the smallest p.

    Parameters
    ----------
    rows, starts, pvalues, matched
        ``(n,)`` each window's row, its match's first base (row coordinates), its p-value and whether its match
        reaches the threshold.
    gap
        Matches of one row less than ``gap`` bp apart are one instance (half the PWM's width, as
        :func:`seqsal.motifs.redundancy.count_matches` counts them).

    Returns
    -------
    np.ndarray
        ``(n_instances,)`` int64 indices into the windows, ascending.
    """
    cluster = np.where(np.asarray(matched, bool), 0, -1)
    keep = best_per_instance(cluster, np.asarray(rows), np.asarray(starts), -np.asarray(pvalues, np.float64),
                             max(int(gap), 1))
    return np.flatnonzero(keep)


def match_strand(pwm: np.ndarray, one_hot: np.ndarray) -> np.ndarray:
    """The strand on which each match fits the PWM better (``+`` on a tie, as a palindrome's).

    Parameters
    ----------
    pwm
        ``(4, w)`` letter probabilities (no zeros), rows A, C, G, T.
    one_hot
        ``(n, 4, w)`` the matched stretches, read on the + strand.

    Returns
    -------
    np.ndarray
        ``(n,)`` ``"+"`` or ``"-"``: the sign of the larger log-odds score, the PWM's or its reverse complement's.
    """
    log_odds = np.log2(np.asarray(pwm, np.float64) / 0.25)
    stretches = np.asarray(one_hot, np.float64)
    forward = np.einsum("ncw,cw->n", stretches, log_odds)
    reverse = np.einsum("ncw,cw->n", stretches, log_odds[::-1, ::-1])
    return np.where(forward >= reverse, "+", "-")


def calls_table(parts: list[pd.DataFrame], regions: pd.DataFrame) -> pd.DataFrame:
    """The calls of every motif on genome coordinates (``motif_calls.tsv``), sorted by chrom and start.

    Parameters
    ----------
    parts
        Per motif, its calls: ``motif``, ``sign``, ``region_index``, ``offset`` (the match's first base in the
        row), ``width``, ``strand``, ``pvalue``, ``match``, ``match_pvalue``, ``qvalue``.
    regions
        The run's ``regions.tsv`` (``index``, ``name``, ``chrom``, ``start``; rows are + strand).

    Returns
    -------
    pandas.DataFrame
        :data:`CALL_COLUMNS`, ``start``/``end`` 0-based half-open (the PWM match); a site seen from overlapping
        regions is listed once per motif (its smallest q-value).
    """
    frames = [part for part in parts if len(part)]
    if not frames:
        return pd.DataFrame(columns=CALL_COLUMNS)
    calls = pd.concat(frames, ignore_index=True)
    region = regions.set_index("index").loc[calls["region_index"].to_numpy()]
    start = region["start"].to_numpy(np.int64) + calls["offset"].to_numpy(np.int64)
    table = pd.DataFrame({"chrom": region["chrom"].astype(str).to_numpy(), "start": start,
                          "end": start + calls["width"].to_numpy(np.int64), "strand": calls["strand"].to_numpy(),
                          "motif": calls["motif"].to_numpy(), "sign": calls["sign"].to_numpy(),
                          "region_index": calls["region_index"].to_numpy(np.int64),
                          "region_name": region["name"].to_numpy(), "pvalue": calls["pvalue"].to_numpy(np.float64),
                          "match": np.round(calls["match"].to_numpy(np.float64), 4),
                          "match_pvalue": calls["match_pvalue"].to_numpy(np.float64),
                          "qvalue": calls["qvalue"].to_numpy(np.float64)}, columns=CALL_COLUMNS)
    table = table.sort_values(["qvalue", "pvalue", "region_index"], kind="stable")
    table = table.drop_duplicates(["chrom", "start", "end", "motif"])
    return table.sort_values(["chrom", "start", "end", "motif"], kind="stable").reset_index(drop=True)


def calls_bed(calls: pd.DataFrame) -> pd.DataFrame:
    """``motif_calls.bed`` (BED6, no header): chrom, start, end, name (the motif), score, strand of the match.

    The score is ``min(1000, int(-10 log10 q))`` (the q-value's Phred scale, capped as BED caps scores).
    """
    qvalues = np.clip(calls["qvalue"].to_numpy(np.float64), 1e-300, 1.0)
    score = np.minimum(1000, (-10.0 * np.log10(qvalues)).astype(np.int64))
    return pd.DataFrame({"chrom": calls["chrom"].to_numpy(), "start": calls["start"].to_numpy(np.int64),
                         "end": calls["end"].to_numpy(np.int64), "name": calls["motif"].to_numpy(),
                         "score": score, "strand": calls["strand"].to_numpy()})
