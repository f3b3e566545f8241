"""seqsal.peaks.calling: planted blocks, calibration on noise, invalid bases, overlaps, elements."""
import numpy as np
import pytest
from peak_helpers import noise, planted

import seqsal
from seqsal.peaks.extents import absorb_overlaps


@pytest.mark.parametrize("use_null", [True, False])
def test_finds_planted_blocks_with_sign_and_summit(use_null):
    rng = np.random.default_rng(3)
    track, blocks = planted(rng)
    # a null as large as the run (half as large, it leaves the - blocks beyond the null's resolution, which one
    # family over both signs had let through on the + sign's calls: each sign now answers to its own family)
    null = noise(np.random.default_rng(4), (40, 800)) if use_null else None
    calls = seqsal.call_peaks(track, null_track=null, fdr=0.05)
    assert calls.attrs["peaks"]["null"] == ("shuffle" if use_null else "laplace")
    found = 0
    for row, start, end, sign, summit in blocks:
        hits = calls[(calls.region_index == row) & (calls.offset_start < end) & (calls.offset_end > start)]
        if len(hits):
            found += 1
            best = hits.iloc[0]
            assert best["sign"] == ("+" if sign > 0 else "-")
            assert best["summit_offset"] == summit
            assert best["offset_start"] <= summit < best["offset_end"]
            assert 5 <= best["offset_end"] - best["offset_start"] <= 30
    assert found >= 0.95 * len(blocks)
    false = sum(not any(r == row and s < e2 and e > s2 for row, s2, e2, _, _ in blocks)
                for r, s, e in zip(calls.region_index, calls.offset_start, calls.offset_end))
    assert false <= 0.1 * len(calls)
    assert ((calls.pvalue > 0) & (calls.pvalue <= 1) & (calls.qvalue >= calls.pvalue) & (calls.qvalue <= 0.05)).all()
    assert np.sign(calls.score).map({1.0: "+", -1.0: "-"}).tolist() == calls.sign.tolist()


@pytest.mark.parametrize("use_null", [True, False])
def test_false_call_rate_on_pure_noise_is_at_most_nominal(use_null):
    fdr, seeds = 0.1, 60
    with_calls = 0
    for seed in range(seeds):
        rng = np.random.default_rng(100 + seed)
        track = noise(rng, (8, 500))
        null = noise(rng, (8, 500)) if use_null else None
        calls = seqsal.call_peaks(track, null_track=null, fdr=fdr)
        with_calls += len(calls) > 0
    # under the global null every call is false: BH bounds P(any call) by the FDR
    assert with_calls / seeds <= fdr


def test_no_calls_in_n_stretches_or_padding():
    rng = np.random.default_rng(5)
    track = noise(rng, (4, 600))
    track[:, 100:112] += 2.0  # a strong block inside an N stretch
    track[:, 550:560] += 2.0  # and in padding past each row's length
    valid = np.ones_like(track, bool)
    valid[:, 90:130] = False
    calls = seqsal.call_peaks(track, lengths=[540] * 4, valid=valid)
    for level in ("seqlets", "elements"):
        table = seqsal.call_peaks(track, lengths=[540] * 4, valid=valid, level=level)
        assert not ((table.offset_start < 130) & (table.offset_end > 90)).any()
        assert (table.offset_end <= 540).all()
    assert calls.empty or (calls.pvalue > 0).all()


def test_short_sequence_does_not_flood_and_empty_result_is_valid(caplog):
    rng = np.random.default_rng(6)
    short = noise(rng, (1, 120))[0]
    calls = seqsal.call_peaks(short)
    assert len(calls) == 0 and list(calls.columns)[:4] == ["region_index", "offset_start", "offset_end", "sign"]
    assert "too few" in caplog.text
    flat = seqsal.call_peaks(np.zeros(5000, np.float32))
    assert flat.empty


def test_element_score_has_the_sign_of_its_seqlets():
    """A '-' element next to a strong '+' site: its flanks hold more positive than negative attribution."""
    rng = np.random.default_rng(11)
    track = noise(rng, (30, 600), scale=0.05)
    track[:, 300:312] -= 0.6
    track[:, 316:330] += 2.0
    elements = seqsal.call_peaks(track, level="elements", null_track=noise(rng, (200, 600), scale=0.05))
    negative = elements[elements.sign == "-"]
    assert len(negative) and len(elements[elements.sign == "+"])
    assert any(((track[r, a:b].sum() > 0) for r, a, b in zip(negative.region_index, negative.offset_start,
                                                              negative.offset_end)))  # the case of the bug
    assert (np.sign(elements.score).map({1.0: "+", -1.0: "-"}) == elements.sign).all()


def test_overlapping_windows_of_one_site_make_one_seqlet():
    rng = np.random.default_rng(12)
    track = noise(rng, (40, 500), scale=0.05)
    track[:, 200:221] += 0.8  # a 21-bp site holds three 6-bp windows
    calls = seqsal.call_peaks(track, null_track=noise(rng, (40, 500), scale=0.05))
    at_site = calls[(calls.offset_start < 221) & (calls.offset_end > 200)]
    assert at_site.groupby("region_index").size().max() == 1 and at_site.region_index.nunique() == 40
    overlap = np.minimum(at_site.offset_end, 221) - np.maximum(at_site.offset_start, 200)
    assert (overlap >= 0.5 * 21).all() and (overlap >= 0.5 * (at_site.offset_end - at_site.offset_start)).all()


def test_absorb_overlaps_joins_drops_or_keeps_by_the_union_and_the_summit():
    """Visited most significant first: a seqlet is joined to a kept one when the union fits max_length, dropped
    when its summit lies inside it, kept otherwise; other regions and signs never interact."""
    region = np.array([0, 0, 0, 0, 1])
    sign = np.array([1, 1, 1, -1, 1])
    start = np.array([10, 14, 30, 12, 10])
    end = np.array([22, 26, 50, 24, 22])
    summit = np.array([15, 20, 45, 18, 15])
    keep, new_start, new_end = absorb_overlaps(region, sign, start, end, summit, np.arange(5), gap=0, max_length=20)
    # 1 joins 0 (union 10-26, 16 bp); 2 overlaps nothing kept; 3 has the other sign; 4 another region
    assert keep.tolist() == [True, False, True, True, True]
    assert (new_start[0], new_end[0]) == (10, 26)
    keep, _, _ = absorb_overlaps(region, sign, start, end, summit, np.arange(5), gap=0, max_length=14)
    assert keep.tolist() == [True, False, True, True, True]  # union too long, summit 20 inside 10-22: dropped
    keep, _, _ = absorb_overlaps(region, sign, start, end, np.array([15, 24, 45, 18, 15]), np.arange(5), gap=0,
                                 max_length=14)
    assert keep.tolist() == [True, True, True, True, True]  # union too long, summit 24 outside 10-22: kept


def test_the_test_width_option_sets_the_tested_windows():
    """call_peaks takes test_widths (PeakOptions.test_widths), records it, and rejects the old name."""
    rng = np.random.default_rng(13)
    track = noise(rng, (20, 600), scale=0.05)
    track[:, 300:310] += 0.8
    calls = seqsal.call_peaks(track, fdr=0.1, test_widths=10)
    assert calls.attrs["peaks"]["options"]["test_widths"] == (10,) and len(calls)
    assert calls.attrs["peaks"]["n_tests"] != seqsal.call_peaks(track, fdr=0.1).attrs["peaks"]["n_tests"]
    with pytest.raises(seqsal.InputError, match="window"):
        seqsal.call_peaks(track, window=10)
    with pytest.raises(seqsal.InputError, match="^test_widths"):
        seqsal.call_peaks(track, test_widths=1)
    with pytest.raises(seqsal.InputError, match="comma-separated"):
        seqsal.call_peaks(track, test_widths="6;10")


def test_a_seqlet_padded_to_min_length_never_takes_the_other_sign():
    """A '+' site at the edge of an N stretch with a strong '-' site just beyond: padding to min_length cannot go
    left (N), and going right into the '-' site made a '+' seqlet with a score of -6.5 to -8.3."""
    rng = np.random.default_rng(5)
    track = rng.laplace(0, 0.05, (40, 400)).astype(np.float32)
    valid = np.ones_like(track, bool)
    valid[:, 150:190] = False
    track[:, 190:196] += 2.0
    track[:, 197:212] -= 4.0
    track[:, 150:190] = 0
    null = rng.laplace(0, 0.05, (40, 400)).astype(np.float32)
    seqlets = seqsal.call_peaks(track, valid=valid, null_track=null, fdr=0.05)
    assert len(seqlets) and set(seqlets["sign"]) == {"+", "-"}
    assert ((seqlets["score"] > 0) == (seqlets["sign"] == "+")).all()


def test_a_map_that_never_takes_one_sign_is_called_against_the_shuffled_null(caplog):
    """A non-negative map (Grad-CAM's, a gradient magnitude's): the null holds no - test at all. The + side used to
    be thrown away with it (the Laplace null for both, five warnings to enlarge a null that cannot help); now +
    is tested against the shuffled null, no - seqlet is called, and one info line says why."""
    import logging

    rng = np.random.default_rng(5)
    track, blocks = planted(rng)
    positive = [(row, start, end) for row, start, end, sign, _ in blocks if sign > 0]
    track = np.abs(noise(np.random.default_rng(6), track.shape)) * 0.3
    for row, start, end in positive:
        track[row, start:end] += 3.0
    null = np.abs(noise(np.random.default_rng(7), (20, 800))) * 0.3
    with caplog.at_level(logging.INFO, logger="seqsal"):
        calls = seqsal.call_peaks(track, null_track=null, fdr=0.05)
    assert calls.attrs["peaks"]["null"] == "shuffle"
    assert (calls["sign"] == "+").all() and len(calls)
    found = sum(((calls.region_index == row) & (calls.offset_start < end) & (calls.offset_end > start)).any()
                for row, start, end in positive)
    assert found >= 0.9 * len(positive)
    assert "holds no - test at any width tested (6,10,16,24: the map never takes that sign)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="seqsal"):  # fresh31: motifs' one width said the map never took it
        seqsal.call_peaks(track, null_track=null, fdr=0.05, test_widths=(10,), min_length=10)
    assert "holds no - test at any width tested (10: a map that never takes that sign, or none" in caplog.text
    assert "too few tests" not in caplog.text and "using the Laplace null" not in caplog.text


def test_an_element_is_its_seqlets_widened_by_the_flank_on_each_side():
    """mut30: a left flank of twice element_flank passed the suite."""
    from seqsal.peaks import PeakOptions
    from seqsal.peaks.elements import _element_bounds

    options = PeakOptions()
    groups = {"lo": np.array([0]), "hi": np.array([1000]), "first": np.array([400]), "last": np.array([480])}
    _element_bounds(groups, options)
    assert (groups["start"][0], groups["end"][0]) == (400 - options.element_flank, 480 + options.element_flank)
