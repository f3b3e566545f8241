"""The caller's BH families (issue 13: each sign calibrated on its own), against BH written from its definition."""
from __future__ import annotations

import numpy as np
import pytest

from seqsal.peaks.calibration import P_GRID, sign_outlook
from seqsal.peaks.spill import lookup_sign_qvalues, sign_passing_qvalues


def _bh_rejects(pvalues: np.ndarray, m: int, level: float) -> np.ndarray:
    """Benjamini-Hochberg's step-up from its definition: reject every p <= p_(k) for the largest k with
    p_(k) <= level k / m (none when there is no such k)."""
    ranked = np.sort(pvalues)
    passing = [k for k in range(1, ranked.shape[0] + 1) if ranked[k - 1] <= level * k / m]
    return pvalues <= ranked[max(passing) - 1] if passing else np.zeros(pvalues.shape[0], bool)


def _world(seed: int, n: int = 400, strong: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Uniform p-values of both signs, with small ones in sign ``strong`` (and a few in the other for seed 2)."""
    rng = np.random.default_rng(seed)
    pvalues = rng.uniform(size=2 * n)
    signs = np.repeat([1, -1], n)
    pvalues[np.flatnonzero(signs == strong)[:40]] = rng.uniform(0, 2e-3, 40)
    if seed % 3 == 2:
        pvalues[np.flatnonzero(signs == -strong)[:6]] = rng.uniform(0, 4e-4, 6)
    return pvalues, signs


def _called(pvalues, signs, level, family, kept_below=1.0):
    kept = pvalues <= kept_below  # the caller hands over only the tests that can pass; the counts say the rest
    n_tests = {s: int(np.sum(signs == s)) for s in (1, -1)}
    families = sign_passing_qvalues(pvalues[kept], signs[kept], n_tests, level, family=family)
    records = np.zeros(int(kept.sum()), [("pvalue", "f8"), ("sign", "i1")])
    records["pvalue"], records["sign"] = pvalues[kept], signs[kept]
    out = np.full(pvalues.shape[0], np.inf)
    out[kept] = lookup_sign_qvalues(records, families)
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("family", ["sign", "joint"])
def test_each_sign_passes_its_own_family_gated_by_the_family_of_both(seed, family):
    pvalues, signs = _world(seed, strong=1 if seed % 2 else -1)
    for level in (0.01, 0.05, 0.2):
        both = _bh_rejects(pvalues, pvalues.shape[0], level)
        expected = np.zeros(pvalues.shape[0], bool)
        for sign in (1, -1):
            mine = signs == sign
            own = np.zeros(pvalues.shape[0], bool)
            own[mine] = _bh_rejects(pvalues[mine], int(mine.sum()), level)
            expected |= both if family == "joint" else own & both.any()
        q = _called(pvalues, signs, level, family, kept_below=level)
        assert np.array_equal(q <= level, expected)
        # q-values found at a looser level give the calls of every stricter level
        assert np.array_equal(_called(pvalues, signs, 0.5, family) <= level, expected)


def test_the_gate_shuts_every_sign_when_the_family_of_both_passes_nothing():
    rng = np.random.default_rng(0)
    pvalues, signs = rng.uniform(size=1000), np.repeat([1, -1], 500)
    pvalues[0] = 0.04 / 500  # its own family passes it at 0.05; the family of both signs (1,000 tests) does not
    assert _bh_rejects(pvalues[:500], 500, 0.05)[0] and not _bh_rejects(pvalues, 1000, 0.05).any()
    assert not (_called(pvalues, signs, 0.05, "sign") <= 0.05).any()


@pytest.mark.parametrize("seed", range(6))
def test_the_outlook_counts_what_the_gated_families_pass(seed):
    pvalues, signs = _world(seed, strong=1 if seed % 2 else -1)
    lowest = {s: pvalues[signs == s] for s in (1, -1)}
    n_tests = {s: int(np.sum(signs == s)) for s in (1, -1)}
    grid = {s: np.searchsorted(np.sort(lowest[s]), P_GRID, side="right") for s in (1, -1)}
    outlook = sign_outlook(lowest, n_tests, grid)
    q = _called(pvalues, signs, 1.0, "sign")
    assert outlook["smallest_qvalue"] == pytest.approx(q.min())
    for level, count in outlook["passing"].items():
        assert count == int(np.sum(q <= float(level)))


def test_each_sign_counts_its_own_tests_when_the_signs_differ_in_number():
    """The caller's signs have different numbers of tests (the local maxima of each); every world above has equal
    counts, where a family that takes the other sign's count gives the same q-values (mut30: it passed the suite).
    200 + against 1,800 - tests: each q is max(its sign's BH q with m = its own count, one family's smallest q), and
    the outlook's counts are those q-values' counts."""
    rng = np.random.default_rng(1)
    n = {1: 200, -1: 1800}
    p = {1: rng.uniform(size=200), -1: rng.uniform(size=1800)}
    p[1][:30], p[-1][:60] = rng.uniform(0, 2e-3, 30), rng.uniform(0, 1e-4, 60)
    pvalues, signs = np.concatenate([p[1], p[-1]]), np.repeat([1, -1], [200, 1800])
    families = sign_passing_qvalues(pvalues.copy(), signs, n, 1.0)
    records = np.zeros(pvalues.shape[0], [("pvalue", "f8"), ("sign", "i1")])
    records["pvalue"], records["sign"] = pvalues, signs

    def bh(values, m):  # the BH q-value from its definition
        ranked = np.sort(values)
        return np.array([min(1.0, min(ranked[j] * m / (j + 1) for j in range(ranked.shape[0]) if ranked[j] >= v))
                         for v in values])

    gate = bh(pvalues, 2000).min()
    expected = np.concatenate([np.maximum(bh(p[s], n[s]), gate) for s in (1, -1)])
    np.testing.assert_allclose(lookup_sign_qvalues(records, families), expected, rtol=1e-12)
    grid = {s: np.searchsorted(np.sort(p[s]), P_GRID, side="right") for s in (1, -1)}
    for level, count in sign_outlook(p, n, grid)["passing"].items():
        assert count == int(np.sum(expected <= float(level))), (level, count)
