"""The multi-width test (seqsal.peaks.widths): greedy selection, calibration of the smallest p over widths."""
from __future__ import annotations

import logging

import numpy as np
import pytest
from peak_helpers import noise, planted

import seqsal
from seqsal.peaks.widths import select_sites


def _greedy(rows, starts, ends, pvalue):
    """Greedy selection written the slow, obvious way (the independent computation)."""
    kept: list[int] = []
    for i in sorted(range(rows.shape[0]), key=lambda k: (pvalue[k], rows[k], starts[k], ends[k] - starts[k])):
        if not any(rows[j] == rows[i] and starts[i] < ends[j] and starts[j] < ends[i] for j in kept):
            kept.append(i)
    return np.array(sorted(kept), dtype=np.int64)


@pytest.mark.parametrize("seed", range(6))
def test_select_sites_keeps_exactly_the_greedy_set(seed):
    rng = np.random.default_rng(seed)
    n = 400
    rows = rng.integers(0, 3, n)
    widths = rng.choice([6, 10, 16, 24], n)
    starts = rng.integers(0, 300, n)
    pvalue = rng.choice(np.linspace(0.001, 1, 50), n)  # ties included
    got = select_sites(rows, starts, starts + widths, pvalue)
    assert np.array_equal(got, _greedy(rows, starts, starts + widths, pvalue))
    kept_rows, kept_a, kept_b = rows[got], starts[got], starts[got] + widths[got]
    for r in range(3):
        order = np.argsort(kept_a[kept_rows == r])
        assert np.all(kept_a[kept_rows == r][order][1:] >= kept_b[kept_rows == r][order][:-1])  # no overlap


def test_the_smallest_p_over_widths_is_calibrated_on_a_null_run(caplog):
    """On a complete null the final p-values are uniform: 5 % of the tests reach p <= 0.05 and 1 % p <= 0.01
    (measured 0.050-0.052 and 0.009-0.011 over three seeds). The raw smallest p over the four widths, not
    calibrated against the null's same statistic, gives 0.060-0.062 and 0.013-0.015."""
    caplog.set_level(logging.ERROR)
    rng = np.random.default_rng(3)
    observed, null = noise(rng, (400, 1000)), noise(rng, (400, 1000))
    record = seqsal.call_peaks(observed, null_track=null, fdr=0.05).attrs["peaks"]
    assert record["test_widths_used"] == {"+": [6, 10, 16, 24], "-": [6, 10, 16, 24]}
    counts = sum(np.array(record["calibration"][sign]["observed_at_or_below"]) for sign in "+-")
    share = dict(zip(record["calibration"]["+"]["p_grid"], counts / counts[-1]))
    assert abs(share[0.05] - 0.05) < 0.004 and abs(share[0.01] - 0.01) < 0.002, share


def _spread_sites(rng, n_rows=300, length=600, spike=1.2):
    """Noise with one site per row in half the rows: four spikes 6 bp apart (a max-pooled model's gradient lands on
    one base per pool), so a 6-bp window holds one spike and a 24-bp window all four."""
    track = noise(rng, (n_rows, length), scale=0.1)
    truth = []
    for row in range(0, n_rows, 2):
        start = int(rng.integers(50, length - 80))
        track[row, start:start + 24:6] += spike
        truth.append((row, start, start + 24))
    return track, truth


def test_spread_sites_are_found_at_a_wider_width_than_a_single_narrow_window_finds():
    """Sites whose contribution is spread over 24 bp: the ladder calls far more of them than 6-bp windows alone, at
    a false-call share within the FDR."""
    rng = np.random.default_rng(11)
    track, truth = _spread_sites(rng)
    null = noise(rng, track.shape)
    found = {}
    for widths in ((6,), (6, 10, 16, 24)):
        calls = seqsal.call_peaks(track, null_track=null, fdr=0.05, test_widths=widths)
        hits = [any(r == row and a < e and s < b for r, s, e in truth) for row, a, b in
                zip(calls["region_index"], calls["offset_start"], calls["offset_end"])]
        found[widths] = (int(np.sum(hits)), len(calls))
    single, ladder = found[(6,)], found[(6, 10, 16, 24)]
    assert ladder[0] >= 1.5 * single[0] + 10, found
    assert ladder[1] - ladder[0] <= 0.1 * ladder[1] + 2, found  # false calls within 2x the FDR


def test_a_small_null_drops_the_widths_it_cannot_fit_and_says_so(caplog):
    """Wide windows are fewer: a null too small for them keeps the widths it can fit (a warning names the rest)
    instead of falling back to the Laplace null for all."""
    rng = np.random.default_rng(5)
    observed, null = noise(rng, (100, 600)), noise(rng, (2, 600))
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        record = seqsal.call_peaks(observed, null_track=null, fdr=0.05).attrs["peaks"]
    used = record["test_widths_used"]
    assert record["null"] == "shuffle" and all(1 <= len(used[sign]) < 4 and used[sign][0] == 6 for sign in "+-")
    assert any("too few tests at width(s)" in r.message and "--min-null-bases" in r.message for r in caplog.records)


def test_the_laplace_null_runs_the_ladder_too():
    """Without null tracks each width's null and the final statistic's are fits to the run's own bulk: planted sites
    are called, complete Gaussian nulls mostly are not."""
    rng = np.random.default_rng(8)
    track, blocks = planted(rng, n=100)
    calls = seqsal.call_peaks(track, fdr=0.05)
    hits = [any(r == row and a < e and s < b for r, s, e, *_ in blocks)
            for row, a, b in zip(calls["region_index"], calls["offset_start"], calls["offset_end"])]
    assert calls.attrs["peaks"]["null"] == "laplace" and sum(hits) >= 190 and len(calls) - sum(hits) <= 10
    runs_with_calls = sum(len(seqsal.call_peaks(rng.normal(size=(100, 500)).astype(np.float32), fdr=0.05)) > 0
                          for _ in range(10))
    assert runs_with_calls <= 2


def test_the_observed_tests_are_not_held_when_one_pass_reads_them(monkeypatch):
    """With a shuffled null the observed tests are read once: nothing is kept of them (memory flat in the number of
    regions); the null's tests, read twice (each width's null, then the selection), are kept while they fit."""
    import seqsal.peaks.calling as calling
    from seqsal.peaks.widths import LadderTests

    made = []

    class Spy(LadderTests):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(calling, "LadderTests", Spy)
    rng = np.random.default_rng(2)
    observed, null = noise(rng, (50, 400)), noise(rng, (50, 400))
    seqsal.call_peaks(observed, null_track=null, fdr=0.05)
    # the null's tests (each width's null, then the selection), the observed tests, the null's again for its
    # candidate elements (the elements' null: one more pass, not held)
    assert len(made) == 3
    assert made[0].held and not made[1].held and made[1].limit == 0 and not made[2].held and made[2].limit == 0


def test_a_wide_window_gives_its_own_width_to_the_seqlet_and_the_element():
    """A site spread over 24 bp, called at width 24: its seqlet covers all four spikes (the summit is searched and
    the extension threshold set over the window's own width; with 6 bp assumed, 35 % did), and an element of that
    lone window spans the window plus its flanks, 24 + 2 x 20 bp (with 6 bp assumed, none did)."""
    rng = np.random.default_rng(11)
    track, truth = _spread_sites(rng, spike=2.0)
    null = noise(rng, track.shape)
    sites = {row: (a, b) for row, a, b in truth}
    seqlets = seqsal.call_peaks(track, null_track=null, fdr=0.05)
    covered = [int(((np.arange(*sites[r], 6) >= a) & (np.arange(*sites[r], 6) < b)).sum())
               for r, a, b in zip(seqlets["region_index"], seqlets["offset_start"], seqlets["offset_end"]) if r in sites]
    assert len(covered) >= 100 and np.mean(np.array(covered) == 4) >= 0.8
    elements = seqsal.call_peaks(track, null_track=null, fdr=0.05, level="elements")
    lengths = (elements["offset_end"] - elements["offset_start"]).to_numpy()
    assert np.bincount(lengths).argmax() == 24 + 2 * 20
    whole = [a <= sites[r][0] and b >= sites[r][1]
             for r, a, b in zip(elements["region_index"], elements["offset_start"], elements["offset_end"]) if r in sites]
    assert np.mean(whole) >= 0.95


def test_a_short_track_is_called_at_the_widths_its_own_tests_can_fit(caplog):
    """One 900-bp track in a notebook (Laplace null): too few 24-bp windows to fit their null, enough 6-bp ones for
    the + sign (47 - tests: not enough). Each sign tests the widths that fit it (a warning names the others), so
    the + site is called instead of nothing at all."""
    rng = np.random.default_rng(4)
    track = noise(rng, (1, 900))
    track[0, 400:410] += 1.5
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        calls = seqsal.call_peaks(track, fdr=0.05)
    used = calls.attrs["peaks"]["test_widths_used"]["+"]
    assert used and used[0] == 6 and 24 not in used
    assert any(a < 410 and b > 400 for a, b in zip(calls["offset_start"], calls["offset_end"]))
    assert any("Laplace null holds too few tests at width(s)" in r.message for r in caplog.records)
