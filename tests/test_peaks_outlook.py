"""What BH would pass at other FDR levels (``peaks.calibration.outlook`` in run.json, the "no seqlet passed" line).

A run with no call at the default FDR must tell the user how far it is from calls: the smallest q-value, how many
tests pass at 0.1 and 0.2, and whether the null's resolution (``1/(n+1)``) bounds the p-values. The counts are
checked against Benjamini-Hochberg over the full list of p-values.
"""
from __future__ import annotations

import logging

import numpy as np
import pytest
from motif_helpers import toy_run_folder, word_tracks

from seqsal.peaks import call_peaks_from_run
from seqsal.peaks.calibration import P_GRID, bh_outlook, smallest_pvalues


def _bh_truth(p: np.ndarray, level: float) -> tuple[int, float]:
    """Passing count at ``level`` and the smallest q-value, from every p-value."""
    ranked = np.sort(p)
    raw = ranked * p.shape[0] / np.arange(1, p.shape[0] + 1)
    below = np.nonzero(raw <= level)[0]
    return (int(below[-1]) + 1 if below.shape[0] else 0), float(raw.min())


def _streamed(p: np.ndarray, keep: int) -> np.ndarray:
    lowest = np.zeros(0)
    for part in np.array_split(p, 7):
        lowest = smallest_pvalues(lowest, part, keep)
    return lowest


@pytest.mark.parametrize("seed", range(5))
def test_outlook_matches_bh_on_every_p_value(seed):
    rng = np.random.default_rng(seed)
    m = 30_000
    signal = int(rng.integers(50, 1500))
    p = np.concatenate([rng.random(m - signal), rng.random(signal) * 10 ** rng.uniform(-6, -2, signal)])
    counts = (np.sort(p)[None, :] <= P_GRID[:, None]).sum(axis=1)
    outlook = bh_outlook(_streamed(p, 20_000), m, counts)
    for level in (0.05, 0.1, 0.2):
        truth, smallest = _bh_truth(p, level)
        assert outlook["passing"][str(level)] == truth, (level, outlook, truth)
    assert outlook["smallest_qvalue"] == pytest.approx(smallest, rel=1e-5)


def test_outlook_with_few_kept_p_values_is_a_bound_from_the_grid():
    rng = np.random.default_rng(9)
    m = 20_000
    p = np.concatenate([rng.random(m - 900), rng.random(900) * 1e-3])  # 900 tests at p <= 1e-3
    counts = (np.sort(p)[None, :] <= P_GRID[:, None]).sum(axis=1)
    outlook = bh_outlook(_streamed(p, 100), m, counts)  # only the 100 smallest kept
    truth, smallest = _bh_truth(p, 0.05)
    # the grid's count at p <= 1e-3 (~920) passes at 1e-3 * m / 920 ~ 0.022: a lower bound on the true count
    assert counts[3] <= outlook["passing"]["0.05"] <= truth
    assert outlook["passing"]["0.05"] > 100
    assert outlook["smallest_qvalue"] >= smallest - 1e-12


def test_a_run_without_calls_says_how_far_it_is_from_calls(tmp_path, caplog):
    # weak sites: the word's windows barely stand above the null's chance hits, so FDR 0.05 passes nothing
    folder = toy_run_folder(tmp_path / "run", "GATTACAGT", 0.5, lambda x, r: word_tracks(x, r, [("GATTACAGT", 0.06)]),
                            n_regions=120, length=300, seed=3)
    caplog.set_level(logging.INFO, logger="seqsal")
    calls = call_peaks_from_run(folder, fdr=0.05, test_widths=(10,))
    outlook = calls.info["calibration"]["outlook"]
    if len(calls.seqlets):
        pytest.fail(f"the toy run was meant to have no call at 0.05: {len(calls.seqlets)}")
    assert outlook["smallest_qvalue"] > 0.05
    lenient = next(float(level) for level, count in outlook["passing"].items() if count > 0)
    record = next(r for r in caplog.records if "no seqlet passed" in r.getMessage())
    line = record.getMessage()
    assert record.levelno == logging.WARNING  # shown with -q too: an empty result must say why
    assert f"--fdr {lenient:g}" in line and f"q-value {outlook['smallest_qvalue']:.3g}" in line
    # what the looser level costs is said with it (fresh15: on a complete null the hint pointed at calls all false)
    assert f"at FDR {lenient:g} (up to {lenient:.0%} of the calls false)" in line
    assert "writing empty" not in line  # elements are tested on their own and may still be written
    # the flag and the line agree on whether the null's resolution bounds the p-values
    assert isinstance(outlook["null_resolution_bound"], bool)
    assert outlook["null_resolution_bound"] == ("beyond every shuffled-null test" in line)
    # the promise holds: at that level at least that many seqlets come
    again = call_peaks_from_run(folder, fdr=lenient, test_widths=(10,), write=False, elements=False)
    assert len(again.seqlets) >= outlook["passing"][str(lenient)] > 0
    assert again.info["calibration"]["outlook"] == outlook  # the outlook does not depend on the level called


def test_the_resolution_flag_says_whether_the_smallest_p_is_the_nulls_1_over_n_plus_1():
    from seqsal.peaks.calibration import at_null_resolution
    from seqsal.peaks.stats import NullModel

    model = NullModel.empirical(np.arange(99, dtype=np.float64), 10)  # n = 99: resolution 0.01
    assert at_null_resolution({1: model, -1: model}, 0.01)
    assert not at_null_resolution({1: model, -1: model}, 0.004)  # below it: the fitted tail gave it
    assert not at_null_resolution({1: model, -1: model}, 0.02)


@pytest.mark.parametrize("k, n, crowded", [(3, 20_000, False), (40, 2_000, False), (200, 500, False),
                                           (3, 5_000, True)])
def test_the_larger_null_said_is_the_least_that_lets_the_strongest_tests_pass(k, n, crowded):
    """At the null's resolution the k strongest of m tests have p = 1/(n+1); a null f times larger gives them
    1/(f n + 1). The factor the line names is never more than BH needs, and is exactly the least f (to one
    decimal) when those tests hold the smallest q-value; when other tests crowd small p-values (``crowded``) the
    smallest q-value is theirs and the factor a lower bound only."""
    from seqsal.peaks import benjamini_hochberg
    from seqsal.peaks.calibration import null_factor_needed, outlook_hint

    rng = np.random.default_rng(k)
    m, fdr = 30_000, 0.05
    rest = rng.uniform(2.0 / (n + 1) if crowded else 0.5, 1.0, m - k)

    def passing(factor: float) -> int:
        p = np.concatenate([np.full(k, 1.0 / (factor * n + 1)), rest])
        return int((benjamini_hochberg(p) <= fdr).sum())

    smallest = float(benjamini_hochberg(np.concatenate([np.full(k, 1.0 / (n + 1)), rest])).min())
    factor = null_factor_needed(smallest, fdr)
    assert passing(1.0) == 0 and factor > 1
    assert passing(factor - 0.1) == 0  # never more than needed
    if not crowded:
        assert passing(factor) >= k  # and here exactly what is needed
    _, after = outlook_hint({"smallest_qvalue": smallest, "passing": {"0.05": 0, "0.1": 0, "0.2": 0},
                             "null_resolution_bound": True}, fdr)
    assert f"at least {factor:g}x as large" in after
    assert null_factor_needed(0.04, fdr) <= 1  # a run that passes needs no larger null
    assert "no null of a practical size" not in after
    _, after = outlook_hint({"smallest_qvalue": 0.05, "passing": {"0.05": 0, "0.1": 0, "0.2": 0},
                             "null_resolution_bound": True}, 1e-300)  # auditbreak: "5.02797e+298x as large"
    assert after.endswith("at least 5e+298x as large (run.json peaks.null_sample.bases) is needed for any to reach "
                          "FDR 1e-300; no null of a practical size is that large: is that the FDR meant?")
