"""The peak caller's selection, extents and seqlet table against their definitions (ties, boundaries, large runs).

Each test fails on a mutant of the code the rest of the suite let pass (helper mut30b, session 30:
benchmarks/RESULTS.md); the comment after each name says which rule it holds.
"""
import numpy as np
import pandas as pd


def _greedy(rows, starts, ends, pvalue):
    kept = []
    for i in sorted(range(rows.shape[0]), key=lambda k: (pvalue[k], rows[k], starts[k], ends[k] - starts[k])):
        if not any(rows[j] == rows[i] and starts[i] < ends[j] and starts[j] < ends[i] for j in kept):
            kept.append(i)
    return np.array(sorted(kept), dtype=np.int64)


def _brute_extent(track, start, w, opt):
    from seqsal.peaks.extents import LEVEL_MARGIN
    L = track.shape[0]
    summit = start + int(np.argmax(track[start:start + w]))
    extra = max(0, (opt.max_length - w) // 2)
    lo, hi = max(start - extra, 0), min(start + w + extra, L)
    seg = track[max(0, start - extra - LEVEL_MARGIN):min(L, start + w + extra + LEVEL_MARGIN)]
    tau = opt.extend_fraction * track[start:start + w].sum() / w + max(0.0, float(np.median(seg)))
    best = None
    for a in range(lo, summit + 1):
        for b in range(summit + 1, hi + 1):
            s = float((track[a:b] - tau).sum())
            if best is None or s > best[0] + 1e-12 or (abs(s - best[0]) <= 1e-12 and b - a < best[2] - best[1]):
                best = (s, a, b)
    return best[1], best[2]


def test_select_ties():  # W8: equal p, same row and start: the shorter window wins
    from seqsal.peaks.widths import select_sites
    rows = np.array([0, 0, 0]); starts = np.array([10, 10, 40]); ends = np.array([34, 16, 50])
    p = np.array([0.01, 0.01, 0.5])
    assert select_sites(rows, starts, ends, p).tolist() == [1, 2]
    rng = np.random.default_rng(0)  # many exact ties at one start, all widths
    n = 300
    rows = rng.integers(0, 2, n); starts = rng.integers(0, 40, n); w = rng.choice([6, 10, 16, 24], n)
    p = rng.choice([1e-3, 2e-3], n)
    assert np.array_equal(select_sites(rows, starts, starts + w, p), _greedy(rows, starts, starts + w, p))


def test_select_groups():  # W9: more tests than one selection group
    import seqsal.peaks.widths as widths
    rng = np.random.default_rng(1)
    n = 40000  # > GROUP_TESTS (32768): several groups of whole rows
    rows = np.sort(rng.integers(0, 400, n)); starts = rng.integers(0, 3000, n); w = rng.choice([6, 10, 16, 24], n)
    p = rng.uniform(size=n)
    got = widths.select_sites(rows, starts, starts + w, p)
    # independent: per row, greedy (each row's selection is its own), on a sample of rows
    for r in range(0, 400, 37):
        at = np.flatnonzero(rows == r)
        want = at[_greedy(rows[at], starts[at], (starts + w)[at], p[at])]
        assert np.array_equal(got[rows[got] == r], want), r


def test_extent_def():  # X1 X2 X3: the extent is the max-scoring stretch of y - tau within the reach
    from seqsal.peaks import PeakOptions
    from seqsal.peaks.extents import seqlet_extents
    opt = PeakOptions(min_length=1)
    rng = np.random.default_rng(2)
    bad = []
    for trial in range(60):
        track = -0.05 * np.abs(rng.standard_normal(400))
        track[150:230] = rng.normal(0.4, 0.6, 80)
        w = int(rng.choice([6, 10, 16, 24])); start = int(rng.integers(150, 230 - w))
        if track[start:start + w].sum() <= 0:
            continue
        a, b, _ = seqlet_extents(track[None, :], np.ones((1, 400), bool), np.array([0]), np.array([start]),
                                 np.array([w]), np.array([1]), np.array([track[start:start + w].sum()]), opt)
        want = _brute_extent(track, start, w, opt)
        if (int(a[0]), int(b[0])) != want:
            bad.append((w, start, (int(a[0]), int(b[0])), want))
    assert not bad, bad[:3]


def test_pad_even():  # X4: padding to min_length is split between the sides
    from seqsal.peaks import PeakOptions
    from seqsal.peaks.extents import seqlet_extents
    track = np.zeros((1, 300)); track[0, 100:104] = 1.0
    opt = PeakOptions()
    a, b, s = seqlet_extents(track, np.ones_like(track, bool), np.array([0]), np.array([99]), np.array([6]),
                             np.array([1]), np.array([4.0]), opt)
    assert (int(a[0]), int(b[0])) == (100 - 4, 104 + 4), (a, b)


def test_absorb_bounds():  # X6 X7: union of exactly max_length joins; touching (gap 0) joins
    from seqsal.peaks.extents import absorb_overlaps
    z = np.array([0, 0]); s = np.array([1, 1])
    keep, a, b = absorb_overlaps(z, s, np.array([10, 18]), np.array([20, 30]), np.array([15, 25]), np.arange(2), 0, 20)
    assert keep.tolist() == [True, False] and (a[0], b[0]) == (10, 30), (keep, a, b)
    keep, a, b = absorb_overlaps(z, s, np.array([10, 20]), np.array([20, 30]), np.array([15, 25]), np.arange(2), 0, 30)
    assert keep.tolist() == [True, False] and (a[0], b[0]) == (10, 30), (keep, a, b)


def test_merge_tie():  # X8: equal p-values: the larger statistic is the more significant
    from seqsal.peaks import PeakOptions
    from seqsal.peaks.extents import merge_overlaps
    f = pd.DataFrame({"region_index": [0, 0], "sign": [1, 1], "offset_start": [10, 14], "offset_end": [22, 26],
                      "summit_offset": [15, 20], "pvalue": [1e-6, 1e-6], "statistic": [5.0, 9.0]})
    out = merge_overlaps(f, PeakOptions())
    assert len(out) == 1 and out["statistic"].iloc[0] == 9.0, out


def test_split_mid():  # X9: overlapping neighbours are cut at the midpoint of their summits
    from seqsal.peaks.extents import split_overlaps
    f = pd.DataFrame({"region_index": [0, 0], "sign": [1, 1], "offset_start": [0, 10], "offset_end": [20, 30],
                      "summit_offset": [5, 25]})
    out = split_overlaps(f)
    assert out["offset_end"].tolist()[0] == 15 and out["offset_start"].tolist()[1] == 15, out


def test_table_no_overlap():  # T3: the seqlet table never holds overlapping same-sign seqlets of a region
    from seqsal.peaks import PeakOptions
    from seqsal.peaks.calling import _seqlet_table
    from seqsal.peaks.streams import array_chunks
    track = np.zeros((1, 300), np.float32)
    track[0, 100:112] = 2.0; track[0, 112:124] = 0.5; track[0, 124:136] = 1.0
    cand = pd.DataFrame({"region_index": [0, 0], "window_start": [103, 127], "width": [6, 6], "sign": [1, 1],
                         "statistic": [12.0, 6.0], "pvalue": [1e-8, 1e-6], "qvalue": [1e-7, 1e-5]})
    out = _seqlet_table(array_chunks(track, np.ones_like(track, bool)), cand, PeakOptions()).sort_values("offset_start")
    a, b = out["offset_start"].to_numpy(), out["offset_end"].to_numpy()
    assert len(out) == 2 and (b[:-1] <= a[1:]).all(), out[["offset_start", "offset_end", "summit_offset"]]


def test_rank_ties():  # C10: equal p-values rank the larger |score| first
    from seqsal.peaks.calling import _rank
    f = pd.DataFrame({"region_index": [0, 1, 2], "offset_start": [0, 0, 0], "score": [1.0, -5.0, 3.0],
                      "pvalue": [1e-5, 1e-5, 1e-6]})
    assert _rank(f)["rank"].tolist() == [3, 2, 1]


def test_selected_widths():  # C13: a sign's tests are only those of the widths its null could fit
    from seqsal.peaks.stats import NullModel
    from seqsal.peaks.streams import array_chunks
    from seqsal.peaks.widths import LadderTests, SelectedTests
    rng = np.random.default_rng(0)
    track = rng.laplace(size=(4, 300)).astype(np.float32)
    tests = LadderTests(array_chunks(track, np.ones(track.shape, bool)), (6, 10, 24))
    models = {(w, s): NullModel.laplace(rng.laplace(size=500) * 3, 10) for w in (6, 10, 24) for s in (1, -1)}
    mine = {1: (6, 10), -1: (10,)}
    seen = {1: set(), -1: set()}
    for sign, rows, starts, widths, scores, p in SelectedTests(tests, models, mine):
        seen[sign] |= set(widths.tolist())
    assert seen[1] <= {6, 10} and seen[-1] <= {10} and seen[1] and seen[-1], seen
