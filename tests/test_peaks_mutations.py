"""Peak-caller behaviour that plausible code changes broke without any test failing (issue 13, item 7).

Each test names the change it catches. The run-folder, empirical p-value, stitching and strand cases live beside
their modules' tests (test_peaks_runfolder.py, test_peaks_stats.py, test_engine.py).
"""
import numpy as np

import seqsal
from seqsal.peaks.streams import as_tracks


def _asymmetric_noise(rng, shape):
    """Laplace noise whose positive values are 3x its negative ones (a track whose + and - nulls differ)."""
    raw = rng.laplace(scale=0.1, size=shape).astype(np.float32)
    return np.where(raw > 0, 3 * raw, raw)


def test_each_sign_is_tested_against_its_own_null():
    """Observed and null tracks from one asymmetric distribution (+ values 3x the - ones): every call is false, so
    BH at FDR 0.1 makes calls in about 10 % of runs at most (none of these 10). Testing the + candidates against the
    - null (the nulls of the two signs swapped) calls over 100 windows in every run."""
    runs, with_calls = 10, 0
    for seed in range(runs):
        rng = np.random.default_rng(200 + seed)
        calls = seqsal.call_peaks(_asymmetric_noise(rng, (8, 500)), null_track=_asymmetric_noise(rng, (16, 500)),
                                  fdr=0.1)
        assert calls.attrs["peaks"]["null"] == "shuffle"
        with_calls += len(calls) > 0
    assert with_calls <= 2


def test_tracks_are_valid_up_to_their_length_and_where_finite():
    """as_tracks: a row of length ``n`` is valid at offsets ``0 .. n - 1`` only; NaN and False in ``valid`` are
    invalid; invalid values are zeroed."""
    track = np.arange(1, 13, dtype=np.float32).reshape(2, 6)
    track[1, 1] = np.nan
    given = np.ones((2, 6), bool)
    given[0, 0] = False
    values, valid = as_tracks(track, lengths=[4, 6], valid=given)
    expected = np.array([[False, True, True, True, False, False], [True, False, True, True, True, True]])
    np.testing.assert_array_equal(valid, expected)
    np.testing.assert_array_equal(values, np.where(expected, np.nan_to_num(track), 0))
