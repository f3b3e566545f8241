"""seqsal.motifs.multiplicity: the support test's min-P over nested thresholds and Tarone's family, checked against
enumeration and against their error rates on simulated nulls."""
import itertools
import math

import numpy as np
import pytest

from seqsal.motifs.multiplicity import (
    binomial_pmf,
    binomial_upper_tail,
    min_p_adjusted,
    nested_counts,
    smallest_pvalue,
    tarone_family,
)


def _pvalues(run: np.ndarray, pooled: np.ndarray, share: float) -> np.ndarray:
    return np.array([binomial_upper_tail(int(k), int(n), share) for k, n in zip(run, pooled)])


def _enumerated(pooled: np.ndarray, share: float, pvalue: float) -> float:
    """P(min_t p_t <= pvalue) by listing every split of every bin between run and null."""
    sizes = [int(pooled[t] - (pooled[t + 1] if t + 1 < len(pooled) else 0)) for t in range(len(pooled))]
    total = 0.0
    for split in itertools.product(*(range(size + 1) for size in sizes)):
        chance = math.prod(math.comb(size, y) * share ** y * (1 - share) ** (size - y) for size, y in zip(sizes, split))
        run = np.cumsum(split[::-1])[::-1]
        if _pvalues(run, pooled, share).min() <= pvalue * (1 + 1e-9):
            total += chance
    return total


def test_binomial_pmf_is_exact_and_sums_to_one():
    for n, p in ((0, 0.4), (7, 0.3), (50, 0.9)):
        want = [math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(n + 1)]
        np.testing.assert_allclose(binomial_pmf(n, p), want, rtol=1e-10)
    assert binomial_pmf(100_000, 0.6).sum() == pytest.approx(1.0, rel=1e-9)


def test_min_p_adjusted_equals_the_enumerated_probability():
    rng = np.random.default_rng(0)
    for _ in range(40):
        sizes = rng.integers(0, 6, 4)
        pooled = np.cumsum(sizes[::-1])[::-1]
        share = float(rng.uniform(0.2, 0.8))
        run = np.minimum(np.maximum.accumulate(rng.binomial(pooled, share)[::-1])[::-1], pooled)
        pvalue = float(_pvalues(run, pooled, share).min())
        got = min_p_adjusted(run, pooled - run, share, pvalue)
        assert got == pytest.approx(_enumerated(pooled, share, pvalue), rel=1e-9, abs=1e-15)
        assert pvalue * (1 - 1e-12) <= got <= 4 * pvalue + 1e-15


def test_min_p_adjusted_holds_its_level_and_beats_bonferroni_on_a_simulated_null():
    """Windows fall in four nested match bins; under the null each lies in the run with probability 0.6. The
    adjusted p-value rejects at most alpha of the time (close to it), Bonferroni's 4 x min p far less often, and
    the unadjusted min p too often."""
    rng = np.random.default_rng(1)
    sizes, share, alpha = np.array([60, 30, 15, 8]), 0.6, 0.05
    pooled = np.cumsum(sizes[::-1])[::-1]
    draws = 4000
    split = rng.binomial(sizes[None, :], share, size=(draws, 4))
    run = np.cumsum(split[:, ::-1], axis=1)[:, ::-1]
    tails = [np.concatenate([[1.0], [binomial_upper_tail(k, int(n), share) for k in range(1, int(n) + 2)]])
             for n in pooled]
    smallest = np.array([min(tails[t][k] for t, k in enumerate(row)) for row in run])
    adjusted = np.array([min_p_adjusted(row, pooled - row, share, p) for row, p in zip(run, smallest)])
    rate, bonferroni, naive = (adjusted <= alpha).mean(), (4 * smallest <= alpha).mean(), (smallest <= alpha).mean()
    assert rate <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / draws)
    assert rate >= 0.6 * alpha and bonferroni < 0.8 * rate and naive > 1.5 * alpha


def test_nested_counts_carry_a_higher_threshold_count_down():
    run, pooled = nested_counts(np.array([10, 12, 3, 4]), np.array([5, 2, 2, 0]))
    assert list(run) == [12, 12, 4, 4] and list(pooled) == [15, 14, 5, 4]


def test_tarone_family_counts_only_the_tests_that_can_pass():
    # 3 motifs can reach 0.01 / 3, seven of few windows cannot reach 0.01 / 4
    smallest = np.array([1e-9, 1e-7, 1e-4, *([0.004] * 3), 0.2, 0.3, 0.5, 1.0])
    assert tarone_family(smallest, 0.01) == 3
    assert tarone_family(np.array([1e-9] * 5), 0.01) == 5 and tarone_family(np.zeros(0), 0.01) == 1
    assert smallest_pvalue(np.array([[8, 3], [0, 0]]), np.array([0.5, 0.5])).tolist() == [0.5 ** 8, 1.0]


def test_tarone_holds_the_family_wise_error_on_a_null_of_many_small_motifs():
    """60 motifs under the null, most of a few windows: testing the Tarone family at level / K keeps the chance of
    any rejection under the level, and tests at a higher level than Bonferroni over all 60 motifs."""
    rng = np.random.default_rng(2)
    pooled = np.concatenate([rng.integers(1, 6, 50), rng.integers(15, 40, 10)])
    share, level, draws = 0.5, 0.05, 3000
    smallest = smallest_pvalue(pooled[:, None], np.full(pooled.shape[0], share))
    family = tarone_family(smallest, level)
    assert family <= 12
    run = rng.binomial(pooled[None, :], share, size=(draws, pooled.shape[0]))
    tails = {int(n): [binomial_upper_tail(k, int(n), share) for k in range(int(n) + 1)] for n in np.unique(pooled)}
    pvalues = np.array([[tails[int(n)][k] for n, k in zip(pooled, row)] for row in run])
    any_rejection = (pvalues <= level / family).any(axis=1).mean()
    assert any_rejection <= level + 3 * math.sqrt(level * (1 - level) / draws)
