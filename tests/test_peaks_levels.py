"""Seqlets and elements at their own FDR levels (session 30: seqlets at 0.2 by default, elements at 0.05).

The caller keeps the tests up to the larger of the two levels in one pass; each kind must read only its own:
the seqlets' Benjamini-Hochberg sees every test at ``p <= fdr``, the candidate elements are formed from the
windows at ``p <= element_fdr`` alone.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import seqsal
from seqsal.peaks import PeakOptions
from seqsal.peaks.calling import call_source
from seqsal.peaks.streams import array_chunks, as_tracks
from seqsal.errors import InputError

from test_peaks_calibration import _clustered_world


def _calls(track, null, **options):
    values, mask = as_tracks(track)
    null_values, null_mask = as_tracks(null)
    return call_source(array_chunks(values, mask), PeakOptions(**options), array_chunks(null_values, null_mask))


def _key(frame: pd.DataFrame) -> pd.DataFrame:
    columns = ["region_index", "offset_start", "offset_end", "sign", "pvalue", "qvalue"]
    return frame[columns].reset_index(drop=True)


@pytest.fixture(scope="module")
def world():
    track, truth, null = _clustered_world(5)
    return track, truth, null


def test_the_defaults_are_a_seqlet_level_and_a_peak_level():
    options = PeakOptions()
    assert (options.fdr, options.element_fdr) == (0.2, 0.05)


def test_elements_do_not_depend_on_the_seqlets_level(world):
    """Kept up to the seqlets' 0.5, the windows between 0.05 and 0.5 must not join the 0.05 elements' candidates
    (nor change their Fisher p-values or their null): the elements are the same as with seqlets at 0.05."""
    track, _, null = world
    reference = _calls(track, null, fdr=0.05, element_fdr=0.05)
    assert len(reference.elements) >= 10
    for fdr in (0.01, 0.2, 0.5):
        other = _calls(track, null, fdr=fdr, element_fdr=0.05)
        pd.testing.assert_frame_equal(_key(other.elements), _key(reference.elements))
        assert other.info["element_outlook"] == reference.info["element_outlook"]


def test_seqlets_do_not_depend_on_the_elements_level(world):
    """Kept up to the elements' 0.5, the extra tests must not change the seqlets' BH (ranks, counts, q-values)."""
    track, _, null = world
    reference = _calls(track, null, fdr=0.05, element_fdr=0.05)
    assert len(reference.seqlets) >= 10
    wide = _calls(track, null, fdr=0.05, element_fdr=0.5)
    pd.testing.assert_frame_equal(_key(wide.seqlets), _key(reference.seqlets))
    assert (wide.seqlets["qvalue"] <= 0.05).all()
    assert len(wide.elements) > len(reference.elements)  # the elements' own level did apply
    assert (wide.info["fdr"], wide.info["element_fdr"]) == (0.05, 0.5)


def test_call_peaks_applies_fdr_to_the_level_it_returns(world):
    track, _, null = world
    elements = seqsal.call_peaks(track, null_track=null, level="elements", fdr=0.05)
    assert elements.attrs["peaks"]["element_fdr"] == 0.05 and elements.attrs["peaks"]["fdr"] == 0.2
    lenient = seqsal.call_peaks(track, null_track=null, level="elements", fdr=0.3)
    assert lenient.attrs["peaks"]["element_fdr"] == 0.3 and len(lenient) > len(elements)
    seqlets = seqsal.call_peaks(track, null_track=null)  # the seqlets' default level, 0.2
    assert seqlets.attrs["peaks"]["fdr"] == 0.2 and seqlets["qvalue"].max() <= 0.2
    strict = seqsal.call_peaks(track, null_track=null, fdr=0.05)
    assert len(strict) < len(seqlets) and np.all(strict["qvalue"] <= 0.05)


@pytest.mark.parametrize("value", [0.0, 1.5, float("nan")])
def test_an_element_level_out_of_range_is_refused(value):
    with pytest.raises(InputError, match="element"):
        PeakOptions(element_fdr=value).check()


def test_call_peaks_refuses_two_levels_for_its_elements(world):
    """review30: call_peaks(level="elements", fdr=0.2, element_fdr=0.01) called at 0.2 and dropped 0.01 silently."""
    track, _, null = world
    with pytest.raises(InputError, match="give one of them"):
        seqsal.call_peaks(track, null_track=null, level="elements", fdr=0.2, element_fdr=0.01)
    same = seqsal.call_peaks(track, null_track=null, level="elements", fdr=0.05, element_fdr=0.05)
    assert same.attrs["peaks"]["element_fdr"] == 0.05


def test_levels_that_are_not_numbers_and_a_level_given_as_options_are_refused(demo_defaults_run):
    """fresh30b: fdr="0.1" (or None in PeakOptions) was a TypeError from a comparison, and
    call_peaks_from_run(run, 0.1) an AttributeError of dataclasses.asdict; chrom_sizes naming none of the run's
    chromosomes gave 0 calls with a warning."""
    from seqsal.peaks import call_peaks_from_run

    for bad in ({"fdr": "0.1"}, {"element_fdr": None}, {"fdr": True}):
        with pytest.raises(InputError, match="must be a number in \\(0, 1\\]"):
            PeakOptions(**bad).check()
    with pytest.raises(InputError, match="must be a number"):
        call_peaks_from_run(demo_defaults_run, fdr="0.1", write=False)
    with pytest.raises(InputError, match="options must be a PeakOptions, got 0.1; give a level as fdr="):
        call_peaks_from_run(demo_defaults_run, 0.1, write=False)
    with pytest.raises(InputError, match="chrom_sizes does not name the run's chromosome\\(s\\) chr1, chr2"):
        call_peaks_from_run(demo_defaults_run, write=False, chrom_sizes={"chrX": 10})


@pytest.mark.parametrize("bad", [{"lengths": np.full(3, 900)}, {"lengths": np.full(3, -5)},
                                 {"lengths": np.full((3, 1), 9)}, {"lengths": np.full(3, 300.5)},
                                 {"null_lengths": np.full(3, 100)}])
def test_call_peaks_refuses_lengths_that_do_not_fit_and_a_null_description_without_a_null(bad):
    """fresh30b: lengths past the track's columns called anyway, negative ones gave no tests, 300.5 was cut, and
    null_lengths without a null_track were ignored (the Laplace null used) — all without a word."""
    with pytest.raises(InputError, match="lengths"):
        seqsal.call_peaks(np.zeros((3, 500), np.float32), **bad)


def test_an_l_long_valid_mask_holds_for_every_row():
    """fresh30b: valid of shape (L,) with an (N, L) track was refused (the docstring allows (L,))."""
    from seqsal.peaks.streams import as_tracks

    track = np.ones((3, 8), np.float32)
    valid = np.array([True] * 4 + [False] * 4)
    values, mask = as_tracks(track, valid=valid)
    assert mask.shape == (3, 8) and mask[:, :4].all() and not mask[:, 4:].any() and values[:, 4:].sum() == 0
    with pytest.raises(InputError, match="valid mask"):
        as_tracks(track, valid=np.ones(5, bool))


def test_chrom_sizes_shorter_than_the_run_s_regions_are_refused(demo_defaults_run):
    """review30b: sizes of another assembly under the same names gave 0 calls with the generic warning."""
    from seqsal.peaks import call_peaks_from_run

    with pytest.raises(InputError, match="chrom_sizes gives chr1 1,000 bases, but a region of the run starts at"):
        call_peaks_from_run(demo_defaults_run, write=False, chrom_sizes={"chr1": 1000, "chr2": 1000, "chr3": 1000})


def test_a_sign_called_alone_gets_exactly_its_calls_of_both_signs():
    """``signs`` (session 31: for a sign the model does not confirm): both signs are still tested, the other's calls
    are left out, and with each sign its own family a sign's seqlets and elements are those it gets with both."""
    track, _, null = _clustered_world(3)
    track[150:] *= -1  # the clusters of half the rows turn negative: signal on both signs
    both = _calls(track, null, element_fdr=0.2)
    assert set(both.seqlets["sign"]) == {1, -1} and set(both.elements["sign"]) == {1, -1}
    for signs, sign in (("+", 1), ("-", -1)):
        alone = _calls(track, null, element_fdr=0.2, signs=signs)
        for kind in ("seqlets", "elements"):
            mine = getattr(both, kind)
            assert _key(getattr(alone, kind)).equals(_key(mine[mine["sign"] == sign]))
            assert sorted(getattr(alone, kind)["rank"]) == list(range(1, len(getattr(alone, kind)) + 1))
        assert alone.info["n_seqlets_by_sign"]["+" if sign < 0 else "-"] == 0
        assert alone.info["options"]["signs"] == signs
    with pytest.raises(InputError, match="signs must be one of"):
        PeakOptions(signs="both").check()


def test_the_line_says_which_sign_was_not_called():
    from seqsal.peaks import describe_calls

    record = {"n_seqlets": 5, "n_seqlets_by_sign": {"+": 5, "-": 0}, "fdr": 0.2, "n_elements": 0,
              "element_fdr": 0.05, "null": "shuffle", "options": {"signs": "+"}}
    assert describe_calls(record).startswith("5 seqlets (5 +, - not called) at FDR 0.2 and 0 elements")
    record["options"]["signs"] = "+-"
    assert describe_calls(record).startswith("5 seqlets (5 +, 0 -) at FDR 0.2")


def test_one_sign_s_outlook_and_warnings_are_its_own(caplog):
    """fresh31b: with --signs +, the "no seqlet passed" line quoted both signs' tests and the - sign's smallest
    p-value, and run.json's element outlook held a - element's q-value below the level (none was called)."""
    track, _, null = _clustered_world(3)
    track[:150] = np.abs(track[:150]) * 0.01  # rows with + signal no more: + has nothing to call
    track[150:] *= -1  # half the clusters negative
    both = _calls(track, null, element_fdr=0.2)
    assert (both.elements["sign"] == -1).any()
    with caplog.at_level("WARNING", logger="seqsal"):
        plus = _calls(track, null, element_fdr=0.2, signs="+")
    assert plus.seqlets.empty and plus.elements.empty
    n_plus = plus.info["calibration"]["outlook"]["by_sign"]["+"]["n_tests"]
    assert f"no + seqlet passed FDR 0.2 ({n_plus} tests;" in caplog.text
    assert plus.info["element_outlook"]["signs"] == "+"
    assert plus.info["element_outlook"]["smallest_qvalue"] > 0.2  # the + sign's own best, not a - element's
    assert both.info["element_outlook"]["smallest_qvalue"] <= 0.2
