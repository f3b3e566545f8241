"""Copies of a stronger motif: which windows a stronger motif already explains (the pure steps of the test).

Clustering can split one motif's sites into several clusters: a half site, the
motif read a few bases off, or a fuzzy mixture of two motifs that share a core.
Each such copy passes the support test on its own (:mod:`seqsal.motifs.support`),
because its PWM matches the sites of the motif it copies, which the null lacks.
On ``basset_B`` of benchmarks/zoo (world B) 14 motifs passed: the IRF8 motif,
HNF1A five times, HNF4A three times, ELK1 twice, and three whose best JASPAR
match was weak (``GTttcCGaT``, 168 seqlets, IRF8 at q 0.125, support enrichment
1.82, p 1.2e-6; ``TtaTTtTtggc``, 106, HNF1A at q 0.165, 1.53, 5.3e-5;
``tcaAatgtTAac``, 94, HNF1A at q 0.125, 1.93, 1.8e-6; 146, 88 and 82 of their
instances on no planted site). Their enrichment is that of the ELK1 motif
(1.66), so no threshold on it separates them.

So the motifs that pass are tested again, in order of entry as in forward
selection (Efroymson 1960, stepwise regression): from the most enriched (the
most specific description of its windows: the fewest chance matches per real
one) down, each on the windows that no motif kept before it explains
(:func:`explained`). A window's match of motif ``k`` is explained by a kept motif
``j`` of the same sign when ``j`` matches in that window too (at ``j``'s support
threshold), on a stretch overlapping at least half of the shorter of the two
matches, and at least as surprisingly: the share of the null's windows in which
``j`` matches as well or better (:func:`null_tail`) is no larger than ``k``'s.
A copy's matches in the run are the stronger motif's sites, where that motif
matches better than by chance: removed, what is left of the copy is as frequent
as in the null. A motif with sites of its own keeps them: other motifs match
elsewhere, or only as weakly as chance would there. The counts left are tested
as before (run against null, same thresholds, same Bonferroni level and minimum
enrichment); :func:`entry_order` gives the order. Where both motifs match
better than any null window (equal tails), the one entered first explains the
other: the more enriched, then the smaller p-value, then the one listed first
(discovery lists by the number of seqlets).

On the calibration zoo this keeps 6 motifs of ``basset_B`` (IRF8, HNF4A, ELK1,
HNF1A three times; none spurious) and 5 of ``dilated10k_B`` (2 spurious
before), drops ``conjoined_rc_B``'s Gata1-like motif (7 of its 177 instances on
planted Gata1 sites; the HNF1A and HNF4A motifs match its bases better) and
changes nothing on the world-A models, the demo or a complete null.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from .discover import best_per_instance


class MotifMatches(NamedTuple):
    """The best match of one motif's PWM in each window of its sign (one side: the run's or the null's).

    ``rows``, ``score`` and ``start`` are ``(n,)``: the window's row, the match's log-odds score as a fraction of
    the PWM's best (:func:`seqsal.motifs.support.best_match_scores`) and its first base (row coordinates);
    ``width`` is the PWM's width (bp). Motifs of one sign list the same windows in the same order.
    """

    rows: np.ndarray
    score: np.ndarray
    start: np.ndarray
    width: int


def null_tail(null_scores: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Upper-tail probability of each score among a motif's best-match scores in the null's windows.

    Parameters
    ----------
    null_scores
        ``(n0,)`` the motif's :attr:`MotifMatches.score` in each null window of its sign.
    scores
        ``(n,)`` scores to rank.

    Returns
    -------
    np.ndarray
        ``(n,)`` float64 ``(1 + #{null_scores >= s}) / (1 + n0)``: the empirical p-value of a match (counted as
        empirical p-values are, Davison & Hinkley 1997, so never 0), in ``(0, 1]``.
    """
    reference = np.sort(np.asarray(null_scores, np.float64))
    above = reference.shape[0] - np.searchsorted(reference, np.asarray(scores, np.float64), side="left")
    return (1.0 + above) / (1.0 + reference.shape[0])


def explained(candidate: MotifMatches, candidate_tail: np.ndarray,
              stronger: list[tuple[MotifMatches, float, np.ndarray]], min_overlap: float = 0.5) -> np.ndarray:
    """``(n,)`` bool: the windows where some stronger motif explains the candidate's match.

    Parameters
    ----------
    candidate
        The candidate motif's matches on one side.
    candidate_tail
        ``(n,)`` :func:`null_tail` of those matches.
    stronger
        Per motif kept before it, of the same sign: its matches in the same windows, its support threshold (a
        fraction of its PWM's best score) and the :func:`null_tail` of its matches.
    min_overlap
        Fewest overlapping bases, as a fraction of the shorter match.

    Returns
    -------
    np.ndarray
        True where a stronger motif's match reaches its threshold, overlaps the candidate's match by at least
        ``min_overlap`` of the shorter width, and has a tail no larger than the candidate's.
    """
    mask = np.zeros(candidate.score.shape[0], dtype=bool)
    for matches, threshold, tail in stronger:
        overlap = (np.minimum(candidate.start + candidate.width, matches.start + matches.width)
                   - np.maximum(candidate.start, matches.start))
        mask |= ((matches.score >= threshold) & (overlap >= min_overlap * min(candidate.width, matches.width))
                 & (tail <= candidate_tail))
    return mask


def entry_order(enrichment: np.ndarray, pvalue: np.ndarray, passes: np.ndarray) -> np.ndarray:
    """Indices of the motifs that passed, in order of entry: largest enrichment first, then smallest p-value,
    then first listed.

    Parameters
    ----------
    enrichment, pvalue, passes
        ``(K,)`` each motif's support enrichment, p-value and whether it passed the support test.

    Returns
    -------
    np.ndarray
        ``(m,)`` int64, the ``m`` motifs that passed.
    """
    index = np.arange(np.asarray(passes).shape[0])
    order = np.lexsort((index, np.asarray(pvalue, np.float64), -np.asarray(enrichment, np.float64)))
    return order[np.asarray(passes, bool)[order]].astype(np.int64)


def count_matches(matches: MotifMatches, thresholds: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """``(T,)`` windows whose match reaches each threshold (among ``keep``, ``(n,)`` bool, when given); of the
    windows on one instance (same row, matches less than half the motif's width apart) one counts
    (:func:`seqsal.motifs.discover.best_per_instance`)."""
    allowed = np.ones(matches.score.shape[0], bool) if keep is None else np.asarray(keep, bool)
    counts = np.zeros(len(thresholds), np.int64)
    for t, threshold in enumerate(thresholds):
        matched = np.where((matches.score >= threshold) & allowed, 0, -1)
        counts[t] = int(best_per_instance(matched, matches.rows, matches.start, matches.score,
                                          max(matches.width // 2, 1)).sum())
    return counts


def forward_selection(observed: list[MotifMatches], null: list[MotifMatches], signs: list[int],
                      match_thresholds: np.ndarray, order: np.ndarray, thresholds: np.ndarray,
                      test: Callable[[int, np.ndarray, np.ndarray], bool],
                      ) -> tuple[list[int], dict[int, tuple[np.ndarray, np.ndarray]], dict[int, int]]:
    """Motifs entered one by one, each tested on the windows that the motifs entered before it do not explain.

    Parameters
    ----------
    observed, null
        Per motif, its matches in the run's windows and in the null's (motifs of one sign: the same windows).
    signs
        Per motif, ``1`` or ``-1``: only a motif of the same sign explains a window.
    match_thresholds
        ``(K,)`` each motif's support threshold (a fraction of its PWM's best score): where an entered motif
        matches at least this well, it can explain the window.
    order
        The motifs to try, in order of entry (:func:`entry_order`); the others are not entered.
    thresholds
        ``(T,)`` the match thresholds counted (:func:`count_matches`).
    test
        ``test(k, counts, null_counts) -> bool``: whether motif ``k`` passes with ``(T,)`` counts left in the run
        and in the null (the support test: :func:`seqsal.motifs.support.redundancy_columns`).

    Returns
    -------
    entered, counts, explainer
        The motifs entered, in order; per motif tried, its ``(T,)`` counts left in the run and in the null; per
        motif that was tried after another of its sign and failed, the entered motif that explains most of its
        matches in the run (at its own support threshold).
    """
    tails = [(null_tail(n.score, o.score), null_tail(n.score, n.score)) for o, n in zip(observed, null)]
    entered: list[int] = []
    counts: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    explainer: dict[int, int] = {}
    for k in (int(k) for k in order):
        stronger = [j for j in entered if signs[j] == signs[k]]
        masks = [explained(side[k], tails[k][s], [(side[j], float(match_thresholds[j]), tails[j][s])
                                                  for j in stronger]) for s, side in enumerate((observed, null))]
        counts[k] = (count_matches(observed[k], thresholds, ~masks[0]), count_matches(null[k], thresholds, ~masks[1]))
        if test(k, *counts[k]):
            entered.append(k)
        elif stronger:
            hits = observed[k].score >= match_thresholds[k]
            share = [int((hits & explained(observed[k], tails[k][0], [(observed[j], float(match_thresholds[j]),
                                                                        tails[j][0])])).sum()) for j in stronger]
            explainer[k] = stronger[int(np.argmax(share))]
    return entered, counts, explainer
