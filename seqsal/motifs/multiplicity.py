"""How many tests the support test makes: its nested match thresholds, and the motifs that could pass at all.

The support test (:mod:`seqsal.motifs.support`) counts a motif's supporting
windows in the run and in its shuffled null at ``T`` match thresholds and keeps
the smallest one-sided binomial p-value of the ``T``. Two corrections for
trying several tests used to be Bonferroni's, and both were loose:

1. **The thresholds are nested** (a window that matches at 0.9 of the PWM's best
   score matches at 0.6), so their p-values are strongly dependent and
   Bonferroni's factor ``T`` overstates the cost of trying them. Under the null
   (run and null windows alike), given the pooled count at every threshold,
   each pooled window lies in the run with probability ``pi = B / (B + B0)``,
   independently. The pooled windows fall into ``T`` disjoint bins (the highest
   threshold each reaches), the run's share of each bin is binomial, and the
   run's count at threshold ``t`` is the sum over bins ``>= t``.
   :func:`min_p_adjusted` sums, bin by bin from the highest threshold down,
   the exact probability that the smallest of the ``T`` p-values is at most the
   observed one: the single-step min-P adjustment of Westfall & Young (1993),
   computed exactly instead of by permutation. It is at most ``T`` times the
   smallest p-value and at least the smallest p-value.
2. **Most motifs cannot be significant.** The test is exact and conditional
   on the pooled counts, so a motif with ``N`` pooled windows has no p-value
   below ``pi ** N``: a motif of 5 windows can never reach a level of 1e-3.
   Counting such motifs in a Bonferroni family only lowers the level of the
   others. Tarone (1990) counts only the motifs that could pass:
   :func:`tarone_family` is the smallest ``K`` for which at most ``K`` motifs
   have ``pi ** N <= level / K``, and those are tested at ``level / K``; the
   family-wise error stays at most ``level`` (the bound is Bonferroni's over the
   testable motifs, which are chosen from the pooled counts alone, which the
   test conditions on; Terada et al. 2013 use the same argument for
   combinatorial motif tests).

On the calibration zoo's ``bpnet_A`` profile head (21 motifs, 14 of them
negative clusters of a few windows), Bonferroni tested at ``0.01 / (21 x 4)``;
the family is 11 motifs, and the adjusted p-values are 1.0-2.4 times the
smallest, not 4 times.
"""
from __future__ import annotations

import math

import numpy as np

_RELATIVE = 1e-300  # probabilities below this share of the largest are dropped from the running distribution


def _log_factorials(n: int) -> np.ndarray:
    """``(n + 1,)`` ``log(k!)`` for ``k = 0 .. n``."""
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))])


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """``P(X >= k)`` for ``X ~ Binomial(n, p)``, summed exactly in log space.

    Parameters
    ----------
    k, n
        Counts, ``0 <= n``; ``k <= 0`` gives 1, ``k > n`` gives 0.
    p
        Success probability in ``[0, 1]``.

    Returns
    -------
    float
        The upper tail, in ``[0, 1]``.
    """
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    j = np.arange(k, n + 1, dtype=np.float64)
    log_factorial = _log_factorials(n)
    terms = (log_factorial[n] - log_factorial[k:n + 1] - log_factorial[n - k::-1] + j * math.log(p)
             + (n - j) * math.log1p(-p))
    top = float(terms.max())
    return float(min(1.0, math.exp(top) * np.exp(terms - top).sum()))


def binomial_pmf(n: int, p: float) -> np.ndarray:
    """``(n + 1,)`` the Binomial(``n``, ``p``) probabilities of ``0 .. n``, from log-gamma (exact to rounding)."""
    k = np.arange(n + 1, dtype=np.float64)
    if p <= 0.0 or p >= 1.0:
        return (k == (0 if p <= 0.0 else n)).astype(np.float64)
    log_factorial = _log_factorials(n)
    log_pmf = log_factorial[n] - log_factorial - log_factorial[::-1] + k * math.log(p) + (n - k) * math.log1p(-p)
    return np.exp(log_pmf)


def upper_tails(n: int, p: float) -> np.ndarray:
    """``(n + 2,)`` ``P(X >= k)`` for ``k = 0 .. n + 1``, ``X ~ Binomial(n, p)`` (summed from the top)."""
    return np.concatenate([np.cumsum(binomial_pmf(n, p)[::-1])[::-1], [0.0]])


def nested_counts(observed: np.ndarray, null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The run's and the pooled counts at each threshold, made nested.

    Parameters
    ----------
    observed, null
        ``(T,)`` supporting windows at thresholds in increasing order, in the run and in the null.

    Returns
    -------
    observed, pooled
        ``(T,)`` int64 each, non-increasing along the thresholds: where de-duplicating the windows of one instance
        left a higher threshold with more windows than a lower one, the lower one takes the higher count.
    """
    flip = np.s_[::-1]
    run = np.maximum.accumulate(np.asarray(observed, np.int64)[flip])[flip]
    pooled = np.maximum.accumulate((np.asarray(observed, np.int64) + np.asarray(null, np.int64))[flip])[flip]
    return run, np.maximum(pooled, run)


def min_p_adjusted(observed: np.ndarray, null: np.ndarray, share: float, pvalue: float) -> float:
    """``P(min_t p_t <= pvalue)`` under the null, exactly: the min-P adjustment over nested thresholds.

    Parameters
    ----------
    observed, null
        ``(T,)`` supporting windows at each match threshold (increasing), in the run and in its null.
    share
        ``pi = B / (B + B0)``, in ``(0, 1)``: the chance that a window of the pooled windows lies in the run under
        the null (``B``, ``B0`` the bases counted on each side).
    pvalue
        The p-value to adjust, in ``[0, 1]``: usually the smallest over thresholds of
        ``P(Binomial(N_t, pi) >= k_t)`` (``N_t`` pooled and ``k_t`` run windows at threshold ``t``).

    Returns
    -------
    float
        The adjusted p-value, in ``[pvalue, min(1, T pvalue)]`` up to rounding (module docstring, point 1).
    """
    _, pooled = nested_counts(observed, null)
    thresholds = pooled.shape[0]
    if pvalue >= 1.0 or thresholds == 0:
        return 1.0
    # the smallest run count at each threshold whose p-value is <= pvalue
    critical = [int(np.searchsorted(-upper_tails(int(n), share), -pvalue * (1 + 1e-9), side="left"))
                for n in pooled]
    distribution, offset, escaped = np.ones(1), 0, 0.0
    for t in range(thresholds - 1, -1, -1):
        size = int(pooled[t] - (pooled[t + 1] if t + 1 < thresholds else 0))
        distribution = np.convolve(distribution, binomial_pmf(size, share))
        # run counts offset .. offset + len - 1; those >= critical[t] reject: their mass escapes here
        cut = max(critical[t] - offset, 0)
        escaped += float(distribution[cut:].sum())
        distribution = distribution[:cut]
        if not distribution.shape[0]:
            break
        low = np.flatnonzero(distribution > distribution.max() * _RELATIVE)
        distribution, offset = distribution[low[0]:low[-1] + 1], offset + int(low[0])
    return float(min(max(escaped, pvalue), 1.0, thresholds * pvalue))


def smallest_pvalue(pooled: np.ndarray, share: np.ndarray) -> np.ndarray:
    """``(K,)`` the smallest p-value each motif's test can give: ``share ** N``, ``N`` its most pooled windows.

    Parameters
    ----------
    pooled
        ``(K, T)`` pooled (run + null) supporting windows per motif and threshold.
    share
        ``(K,)`` each motif's ``pi`` (:func:`min_p_adjusted`).
    """
    most = np.asarray(pooled, np.float64).reshape(len(share), -1).max(axis=1, initial=0.0)
    return np.asarray(share, np.float64) ** most


def tarone_family(smallest: np.ndarray, level: float) -> int:
    """Tarone's family size: the smallest ``K >= 1`` with ``#{k: smallest_k <= level / K} <= K``.

    Parameters
    ----------
    smallest
        ``(M,)`` the smallest p-value each test can give (:func:`smallest_pvalue`).
    level
        The family-wise level.

    Returns
    -------
    int
        ``K``, between 1 and ``max(M, 1)``; testing the motifs with ``smallest <= level / K`` at ``level / K``
        controls the family-wise error at ``level`` (Tarone 1990).
    """
    smallest = np.sort(np.asarray(smallest, np.float64))
    for k in range(1, smallest.shape[0] + 1):
        if int(np.searchsorted(smallest, level / k, side="right")) <= k:
            return k
    return max(smallest.shape[0], 1)
