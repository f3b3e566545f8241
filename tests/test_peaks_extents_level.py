"""Seqlet extents over a one-signed carpet (benchmarks/RESULTS.md, session 8): the local level."""
import numpy as np

from seqsal.peaks import PeakOptions
from seqsal.peaks.extents import local_level, seqlet_extents


def _extent(track: np.ndarray, start: int, width: int = 6, sign: int = 1) -> tuple[int, int]:
    valid = np.ones_like(track, bool)
    score = float(sign * track[0, start:start + width].sum())
    a, b, _ = seqlet_extents(track, valid, np.array([0]), np.array([start]), np.array([width]), np.array([sign]),
                             np.array([score]), PeakOptions())
    return int(a[0]), int(b[0])


def test_a_site_on_a_positive_carpet_is_not_grown_across_the_carpet():
    """A 10-bp site (0.012 per base) on a carpet of 0.005 per base (bpnet_A's counts head: sites ~2x the carpet):
    the carpet exceeds 0.15 x the window mean, so without the level the extent runs to max_length (30); with it
    the extent is the site padded to min_length."""
    rng = np.random.default_rng(0)
    track = 0.005 + 0.001 * rng.standard_normal((1, 300))
    track[0, 145:155] = 0.012
    a, b = _extent(track, 147)
    assert b - a == PeakOptions().min_length
    assert a <= 145 and b >= 155


def test_a_track_centred_on_zero_keeps_its_extents():
    """Noise centred on 0 has a local level of ~0, clipped at 0: the extents are the ones tau alone gives."""
    rng = np.random.default_rng(1)
    track = 0.002 * rng.standard_normal((1, 300))
    track[0, 140:158] = 0.04  # an 18-bp site: longer than min_length, so its own extent shows
    a, b = _extent(track, 145)
    assert (a, b) == (140, 158)


def test_local_level_is_the_clipped_median_over_valid_bases_of_the_sign():
    track = np.concatenate([np.full(50, 0.01), np.full(50, -0.03)])[None, :]
    valid = np.ones_like(track, bool)
    valid[0, 60:] = False  # only 10 of the negative bases are valid
    rows, starts, spans = np.array([0, 0, 0]), np.array([10, 10, 10]), np.array([10, 10, 10])
    signs = np.array([1, -1, 1])
    level = local_level(track, valid, rows, starts, spans, signs, margin=100)
    # bases 0..59 valid: fifty of 0.01 and ten of -0.03; + median 0.01, - median -0.01 -> clipped to 0
    np.testing.assert_allclose(level, [0.01, 0.0, 0.01])
    none_valid = local_level(track, np.zeros_like(valid), rows[:1], starts[:1], spans[:1], signs[:1])
    np.testing.assert_allclose(none_valid, [0.0])
