"""Motif instance calls and discovery against their definitions (FDR scale, instances, ties, trimming, signs).

Each test fails on a mutant of the code the rest of the suite let pass (helper mut30b, session 30:
benchmarks/RESULTS.md); the comment after each name says which rule it holds.
"""
import numpy as np
import pandas as pd
import pytest


def _ns(**k):
    from types import SimpleNamespace
    return SimpleNamespace(**k)


def test_candidates_scale_top():  # I4 I5: scale = run bases / null bases; top = share of run + null windows matching
    from seqsal.motifs.instance_run import candidates
    n, n0 = 10, 20
    run = _ns(pvalues=np.linspace(0.01, 0.9, n), windows=_ns(signs=np.ones(n, int), bases={1: 1000.0, -1: 1.0}))
    null = _ns(pvalues=np.linspace(0.02, 0.95, n0), windows=_ns(signs=np.ones(n0, int), bases={1: 4000.0, -1: 1.0}))
    hits = _ns(score=np.r_[np.full(5, 0.9), np.full(5, 0.1)], width=8, rows=np.arange(n), start=np.zeros(n, int))
    decoys = _ns(score=np.r_[np.full(2, 0.9), np.full(18, 0.1)], width=8, rows=np.arange(n0), start=np.zeros(n0, int))
    c = candidates(_ns(sign="+"), 0.8, hits, decoys, run, null)
    assert c.scale == pytest.approx(1000 / 4000), c.scale
    assert c.top == pytest.approx((5 + 2) / (10 + 20)), c.top


def test_one_per_instance():  # I6: matches less than half the PWM width apart are one instance
    from seqsal.motifs.instances import one_per_instance
    keep = one_per_instance(np.array([0, 0, 0]), np.array([0, 3, 10]), np.array([0.1, 0.05, 0.2]),
                            np.array([True, True, True]), gap=8 // 2)
    assert keep.tolist() == [1, 2], keep


def test_tie_block_q():  # I8: q is the smallest estimate while the instance was in the set (a mixed tie block)
    from seqsal.motifs.adaptive import adaptive_qvalues
    run = np.array([0.01] * 5 + [0.1]); null = np.array([0.1, 0.1, 0.1])
    q = adaptive_qvalues([(run, null, 1.0, 1.0)])[0]
    # sets: all (est (1 + 3) / 6); then the tied block at 0.1 leaves together: (1 + 0) / 5
    assert q[5] == pytest.approx(4 / 6), q


def test_motif_tie():  # I11: on equal u the earlier motif keeps the window
    from seqsal.motifs.adaptive import one_motif_per_window
    kept = one_motif_per_window([np.array([0]), np.array([0])], [np.array([0.1]), np.array([0.1])])
    assert [k.tolist() for k in kept] == [[True], [False]], kept


def test_strong_columns():  # D9: a motif needs min_strong_columns columns where one base has >= 0.5
    from seqsal.motifs.discover import discover_motifs, DiscoveryOptions
    rng = np.random.default_rng(4)
    n, length = 60, 120
    one_hot = np.zeros((n, 4, length), np.float32)
    bases = rng.integers(0, 4, (n, length)); bases[:, [52, 55, 58]] = [0, 2, 3]
    one_hot[np.arange(n)[:, None], bases, np.arange(length)[None, :]] = 1
    hyp = rng.normal(0, 0.01, (n, 4, length)).astype(np.float32)
    hyp[:, :, 50:60] += np.abs(rng.normal(0, 1, (4, 10))).astype(np.float32)
    seqlets = pd.DataFrame({"region_index": np.arange(n), "offset_start": 50, "offset_end": 60, "sign": "+"})
    lengths = np.full(n, length)
    three = discover_motifs(one_hot, hyp, lengths, seqlets, DiscoveryOptions(min_seqlets=10, min_strong_columns=3))
    assert len(three) == 1 and int((three[0].pwm.max(axis=0) >= 0.5).sum()) == 3, three
    assert discover_motifs(one_hot, hyp, lengths, seqlets, DiscoveryOptions(min_seqlets=10, min_strong_columns=4)) == []


def test_merge_mask_tie():  # D12: two look-alike templates of equal cluster size: one is kept
    from seqsal.motifs.discover import _merge_mask, DiscoveryOptions
    t = np.random.default_rng(0).normal(size=(1, 4, 20)).astype(np.float32)
    keep = _merge_mask(np.concatenate([t, t]), np.array([30, 30]), DiscoveryOptions())
    assert keep.tolist() == [True, False], keep


def test_motif_columns_partial():  # D14: a column fewer than half the seqlets reach is not added
    from seqsal.motifs.discover import _motif_columns, DiscoveryOptions
    n, L = 10, 20
    oh = np.zeros((n, 4, L), np.float32)
    oh[np.arange(n)[:, None], np.arange(n)[:, None] % 4, np.arange(0, 5)[None, :]] = 1  # balanced columns 0-4
    oh[:, 1, 5:15] = 1  # all agree on columns 5-14
    oh[:3, 0, 15:] = 1  # columns 15-19: 3 of 10 seqlets reach (the rest past the region's end), all A
    projected = np.zeros((4, L)); projected[1, 8:12] = 1.0
    assert _motif_columns(projected, oh, DiscoveryOptions(), 1) == (5, 15)


def test_trim_boundary():  # D15: a column at exactly threshold x the largest is important (>=)
    from seqsal.motifs.align import trim_bounds
    cwm = np.zeros((4, 5)); cwm[0] = [0.0, 0.25, 1.0, 0.25, 0.0]
    assert trim_bounds(cwm, 0.25) == (1, 4)


def test_other_sign_site():  # D18: '-' seqlets on a site of + contribution give no '-' motif
    from seqsal.encode import one_hot_encode
    from seqsal.motifs.discover import discover_motifs, DiscoveryOptions
    rng = np.random.default_rng(2)
    n, length = 60, 120
    one_hot = np.zeros((n, 4, length), np.float32)
    one_hot[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)[None, :]] = 1
    hyp = rng.normal(0, 0.001, (n, 4, length)).astype(np.float32)
    block = one_hot_encode("GATAAGCTTA")
    one_hot[:, :, 50:60] = block; hyp[:, :, 50:60] = block * 0.9
    seqlets = pd.DataFrame({"region_index": np.arange(n), "offset_start": 50, "offset_end": 60, "sign": "-"})
    motifs = discover_motifs(one_hot, hyp, np.full(n, length), seqlets, DiscoveryOptions(min_seqlets=10))
    assert not [m for m in motifs if m.sign == "-" and m.cwm.sum() >= 0], [(m.sign, float(m.cwm.sum())) for m in motifs]


# --- helper mut31 (session 31): mutants of the support test, the calls and discovery the suite let pass ---


def test_best_support_enriched_first():  # S06: an enriched threshold is reported before a smaller unenriched p-value
    from seqsal.motifs.support import best_support, SupportOptions
    # 0.6: 800 against 600 (enrichment 1.33 < 1.5, p 5e-8); 0.9: 20 against 2 (enrichment 6.7, p 6e-5)
    table = best_support(np.array([[800, 20]]), np.array([[600, 2]]), np.full(1, 1e5), np.full(1, 1e5),
                         SupportOptions(min_match=(0.6, 0.9)))
    assert table["support_match"].tolist() == [0.9] and table["n_support_seqlets"].tolist() == [20], table


def test_best_support_enrichment_boundary():  # S05: enrichment exactly min_enrichment counts as enriched (>=)
    from seqsal.motifs.support import best_support, SupportOptions
    # 0.6: 600 against 399 (enrichment 600 / 400 = 1.5 exactly, p ~1e-10); 0.9: 20 against 2 (6.7, p 6e-5)
    table = best_support(np.array([[600, 20]]), np.array([[399, 2]]), np.full(1, 1e5), np.full(1, 1e5),
                         SupportOptions(min_match=(0.6, 0.9)))
    assert table["enrichment"].tolist() == [1.5] and table["support_match"].tolist() == [0.6], table


def test_passes_support_at_the_level():  # S09 S10: p == level and enrichment == min_enrichment both pass (<=, >=)
    from seqsal.motifs.support import passes_support, SupportOptions
    table = pd.DataFrame({"support_pvalue": [0.0025, 0.0025, 0.0026], "enrichment": [1.5, 1.4999, 3.0]})
    assert passes_support(table, SupportOptions(), 0.0025).tolist() == [True, False, False]


def test_tarone_family_counts_pooled_windows():  # S12: a motif's smallest p-value is pi ** (run + null windows)
    from seqsal.motifs.support import support_level
    # two motifs of 5 run and 5 null windows, pi = 1/2: smallest p 2 ** -10 each, both testable at 0.01 / 2
    # (of the run's 5 alone, 2 ** -5 = 0.03: neither, and the level would stay 0.01)
    level, family = support_level(np.full((2, 1), 5), np.full((2, 1), 5), np.full(2, 1e5), np.full(2, 1e5), 0.01)
    assert (level, family) == (pytest.approx(0.005), 2)


def test_support_defaults():  # S13 S15: the documented defaults of the support test
    from seqsal.motifs.support import SupportOptions
    o = SupportOptions()
    assert (o.min_match, o.level, o.min_enrichment, o.max_shift) == ((0.6, 0.7, 0.8, 0.9), 0.01, 1.5, 10)


def _rows_reader(text):
    from seqsal.encode import one_hot_encode
    row = one_hot_encode(text).astype(np.float32)

    def sequences(rows, starts, width):
        out = np.zeros((len(rows), 4, width), np.float32)
        for k, s in enumerate(starts):
            lo, hi = max(int(s), 0), min(int(s) + width, row.shape[1])
            if hi > lo:
                out[k, :, lo - int(s):hi - int(s)] = row[:, lo:hi]
        return out
    return sequences


def test_scan_matches_reach():  # S18 S19 S20 S21: a match whose centre is max_shift bp either side of the window's
    # centre is found, at its first base; one base further is not
    from seqsal.motifs.sides import WindowSet
    from seqsal.motifs.support import SupportOptions, scan_matches
    pwm = np.full((4, 6), 0.02); pwm[[0, 1, 2, 3, 0, 2], np.arange(6)] = 0.94  # ACGTAG
    o = SupportOptions()  # test_width 6, max_shift 10
    start = 50; centre = start + o.test_width // 2  # 53: a 6-bp match starting at 40 .. 60 is centred within 10 bp
    for site, found in ((40, True), (60, True), (39, False), (61, False)):
        text = "T" * site + "ACGTAG" + "T" * (120 - site)
        w = WindowSet(np.array([0]), np.array([start]), np.array([1]), {1: 1.0, -1: 1.0}, _rows_reader(text))
        m = scan_matches([_ns(pwm=pwm, sign="+")], w, o)[0]
        assert (m.score[0] == pytest.approx(1.0)) == found, (site, m)
        if found:
            assert m.start[0] == site and abs(site + 3 - centre) <= o.max_shift, (site, m)


def test_tarone_family_boundary():  # M08: a motif whose smallest p-value is exactly level / K is in the family (<=)
    from seqsal.motifs.multiplicity import tarone_family
    # K = 2 would test the 3 motifs with smallest <= 0.005 at 0.005 (3 > 2): the family is 3
    assert tarone_family(np.array([0.005, 0.005, 0.0025]), 0.01) == 3


def test_query_context_is_the_nearest_flank():  # X03 X04: the context columns are those next to the motif
    from seqsal.motifs.match import query_matrix
    from seqsal.motifs.meme import Motif
    left, right = np.arange(24.0).reshape(4, 6), 100 + np.arange(24.0).reshape(4, 6)
    pwm = np.full((4, 3), 0.25)
    q, lead = query_matrix(Motif("m", "m", pwm, extra={"left_context": left, "right_context": right}), 4)
    assert lead == 4 and np.array_equal(q[:, :4], left[:, 2:]) and np.array_equal(q[:, 7:], right[:, :4])


def test_a_query_narrower_than_min_overlap():  # X06: a 4-column query needs 4 columns of overlap, not min_overlap 5
    from seqsal.motifs.match import compare_motifs
    from seqsal.motifs.meme import Motif
    rng = np.random.default_rng(0)
    db = [Motif(f"t{i}", f"t{i}", rng.dirichlet(np.full(4, 0.3), 8).T) for i in range(12)]
    t = compare_motifs([Motif("q", "q", db[3].pwm[:, 2:6].copy())], db)
    assert (t["pvalue"] > 0).all() and t["overlap"].min() == 4, t
    assert t.iloc[0][["target_id", "strand", "offset"]].tolist() == ["t3", "+", 2] and t.iloc[0]["pvalue"] < 1e-6


def test_peel_window_default():  # A13: the behind side looks back at the last 50 peeled instances
    from seqsal.motifs.adaptive import noise_scores, PEEL_WINDOW
    is_null = np.r_[np.ones(30, bool), np.zeros(31, bool)]  # 30 null, then run instances
    s = noise_scores(is_null, np.ones(61), 1.0)
    assert PEEL_WINDOW == 50 and s[60] == pytest.approx(np.sqrt(2.0 * (20 + 0.5) / 51))  # peeled 10 .. 59: 20 null


def test_one_per_instance_gap_boundary():  # I07: matches exactly gap bp apart are two instances (less than gap: one)
    from seqsal.motifs.instances import one_per_instance
    keep = one_per_instance(np.zeros(2, int), np.array([0, 4]), np.array([0.1, 0.2]), np.ones(2, bool), gap=4)
    assert keep.tolist() == [0, 1], keep
    keep = one_per_instance(np.zeros(2, int), np.array([0, 3]), np.array([0.1, 0.2]), np.ones(2, bool), gap=4)
    assert keep.tolist() == [0], keep


def test_adaptive_plus_is_the_largest_scale():  # A07: the + 1 is counted in bases of the largest s_m; q <= 1 (A09)
    from seqsal.motifs.adaptive import adaptive_qvalues
    run = np.linspace(0.001, 0.01, 10)
    q = adaptive_qvalues([(run, np.zeros(0), 1.0, 1.0), (run + 1e-4, np.zeros(0), 4.0, 1.0)])
    np.testing.assert_allclose(np.concatenate(q), 4.0 / 20)  # the first set: (max s + 0) / 20, the smallest estimate
    q = adaptive_qvalues([(np.array([0.05]), np.full(5, 0.02), 1.0, 1.0)])[0]  # estimate (1 + 5) / 1, then none
    assert q.tolist() == [1.0], q


def test_query_context_default():  # X14: four flank columns each side by default
    from seqsal.motifs.match import query_matrix, CONTEXT_COLUMNS
    from seqsal.motifs.meme import Motif
    flanks = {"left_context": np.ones((4, 6)), "right_context": np.ones((4, 6))}
    m = Motif("m", "m", np.full((4, 3), 0.25), extra=flanks)
    q, lead = query_matrix(m)
    assert CONTEXT_COLUMNS == 4 and (lead, q.shape[1]) == (4, 11)


def test_candidates_at_the_threshold_and_gap():  # R01 R02: a score equal to the threshold matches (top counts it);
    # matches half the PWM width apart are two instances
    from seqsal.motifs.instance_run import candidates
    n = 4
    run = _ns(pvalues=np.full(n, 0.1), windows=_ns(signs=np.ones(n, int), bases={1: 100.0, -1: 1.0}))
    null = _ns(pvalues=np.full(n, 0.2), windows=_ns(signs=np.ones(n, int), bases={1: 100.0, -1: 1.0}))
    hits = _ns(score=np.array([0.8, 0.8, 0.5, 0.5]), width=8, rows=np.zeros(n, int), start=np.array([0, 4, 30, 60]))
    decoys = _ns(score=np.array([0.8, 0.1, 0.1, 0.1]), width=8, rows=np.arange(n), start=np.zeros(n, int))
    c = candidates(_ns(sign="+"), 0.8, hits, decoys, run, null)
    assert c.top == pytest.approx(3 / 8) and c.run.tolist() == [0, 1] and c.null.tolist() == [0], c


def test_match_strand_palindrome():  # I09: a palindrome fits both strands equally: '+'
    from seqsal.encode import one_hot_encode
    from seqsal.motifs.instances import match_strand
    pwm = np.full((4, 4), 0.05); pwm[[0, 1, 2, 3], np.arange(4)] = 0.85  # ACGT, its own reverse complement
    stretches = np.stack([one_hot_encode(s) for s in ("ACGT", "AGGT", "ACCT")])
    assert match_strand(pwm, stretches).tolist() == ["+", "+", "+"]


def test_cluster_boundaries():  # D01 D02: one neighbour is a neighbourhood; a seed of exactly min_size seeds
    from seqsal.motifs.discover import mutual_neighbours, degree_clusters
    sim = np.array([[1.0, 0.9, 0.1], [0.9, 1.0, 0.2], [0.1, 0.2, 1.0]])
    assert mutual_neighbours(sim, 1)[0, 1] and mutual_neighbours(sim, 1)[1, 0]
    adjacency = np.zeros((4, 4), bool); adjacency[0, 1:] = adjacency[1:, 0] = True  # a star: the centre has 3
    assert degree_clusters(adjacency, 3).tolist() == [0, 0, 0, 0]


def test_best_per_instance_tie_and_gap():  # D05 D06: equal scores keep the first; exactly gap apart are two
    from seqsal.motifs.discover import best_per_instance
    z = np.zeros(2, int)
    assert best_per_instance(z, z, np.array([0, 2]), np.array([0.5, 0.5]), 4).tolist() == [True, False]
    assert best_per_instance(z, z, np.array([0, 4]), np.array([0.5, 0.4]), 4).tolist() == [True, True]


def test_cap_seqlets_keeps_the_strongest():  # D04: above the cap, smallest p-value first, then larger |score|
    from seqsal.motifs.discover import cap_seqlets
    s = pd.DataFrame({"pvalue": [0.01, 0.01, 0.01, 0.001], "score": [1.0, -5.0, 2.0, 0.5]}, index=[10, 11, 12, 13])
    assert cap_seqlets(s, 2).tolist() == [11, 13]


def test_trim_and_extend_boundaries():  # D12 D13: exactly threshold of the way out is kept; exactly min bits extend
    from seqsal.motifs.discover import motif_bounds, extend_bounds
    projected = np.zeros((4, 5)); projected[0] = [0.0, 0.25, 1.0, 0.25, 0.0]
    assert motif_bounds(projected, 0.25, 1, None) == (1, 4)
    f = np.full((4, 5), 0.25); f[:, 0] = [0.7, 0.1, 0.1, 0.1]  # column 0 holds `bits`; columns 3, 4: none
    bits = float((f[:, 0] * np.log2(f[:, 0] / 0.25)).sum())
    assert extend_bounds(f, 1, 3, bits) == (0, 3)


def test_motif_columns_half():  # D15: a column exactly half the seqlets reach is read (only fewer is background)
    from seqsal.motifs.discover import _motif_columns, DiscoveryOptions
    n, L = 10, 20
    oh = np.zeros((n, 4, L), np.float32)
    oh[np.arange(n)[:, None], np.arange(n)[:, None] % 4, np.arange(0, 5)[None, :]] = 1  # balanced columns 0-4
    oh[:, 1, 5:15] = 1  # all agree on columns 5-14
    oh[:5, 0, 15:] = 1  # columns 15-19: 5 of 10 seqlets reach, all A
    projected = np.zeros((4, L)); projected[1, 8:12] = 1.0
    assert _motif_columns(projected, oh, DiscoveryOptions(), 1) == (5, 20)


def test_motif_bounds_flat_top():  # D11: a top no higher than the background level falls back to trim_bounds
    from seqsal.motifs.discover import motif_bounds
    projected = np.zeros((4, 6)); projected[0] = [1, 1, 1, 1, 0.5, 0.2]  # the 0.9 quantile is the top, 1.0
    assert motif_bounds(projected, 0.3, 1, 0.9) == (0, 5)  # columns >= 0.3 x the top


def test_discovery_defaults():  # D25: the documented defaults of discovery
    from seqsal.motifs.discover import DiscoveryOptions
    o = DiscoveryOptions()
    assert (o.core, o.max_shift, o.assign_threshold, o.merge_threshold, o.min_seqlets, o.trim_threshold,
            o.min_strong_columns) == (20, 10, 0.45, 0.75, 20, 0.3, 3)


def test_exactly_min_seqlets():  # D03 D17 D19: a sign (and a cluster) of exactly min_seqlets seqlets gives a motif
    from seqsal.motifs.discover import discover_motifs, DiscoveryOptions
    rng = np.random.default_rng(4)
    n, length = 10, 120
    one_hot = np.zeros((n, 4, length), np.float32)
    bases = rng.integers(0, 4, (n, length)); bases[:, 50:60] = [0, 2, 3, 0, 0, 1, 2, 3, 3, 1]
    one_hot[np.arange(n)[:, None], bases, np.arange(length)[None, :]] = 1
    hyp = rng.normal(0, 0.01, (n, 4, length)).astype(np.float32)
    hyp[:, :, 50:60] += one_hot[:, :, 50:60]
    seqlets = pd.DataFrame({"region_index": np.arange(n), "offset_start": 50, "offset_end": 60, "sign": "+"})
    motifs = discover_motifs(one_hot, hyp, np.full(n, length), seqlets, DiscoveryOptions(min_seqlets=10))
    assert [m.n_seqlets for m in motifs] == [10], motifs


def test_ceil_digits_four():  # R09: four significant digits, rounded up
    from seqsal.motifs.instance_run import ceil_digits
    assert ceil_digits(0.123412) == 0.1235 and ceil_digits(2.5e-5) == 2.5e-5


def test_calls_table_keeps_the_smallest_q():  # I10: a site seen from two regions keeps its smallest q-value
    from seqsal.motifs.instances import calls_table
    regions = pd.DataFrame({"index": [0, 1], "name": ["a", "b"], "chrom": ["chr1", "chr1"], "start": [100, 90]})
    part = pd.DataFrame({"motif": "m", "sign": "+", "region_index": [0, 1], "offset": [10, 20], "width": 6,
                         "strand": "+", "pvalue": [0.02, 0.001], "match": 0.9, "match_pvalue": 0.1,
                         "qvalue": [0.01, 0.02]})
    t = calls_table([part], regions)
    assert len(t) == 1 and t["qvalue"].tolist() == [0.01] and t["region_name"].tolist() == ["a"], t


def _calls_world(monkeypatch, sign="-"):
    import seqsal.motifs.instance_run as ir
    from seqsal.motifs.redundancy import MotifMatches
    from seqsal.motifs.sides import ScoredWindows, WindowSet
    rng = np.random.default_rng(1)
    n, n0 = 30, 60
    s = 1 if sign == "+" else -1
    seqs = lambda rows, starts, width: np.zeros((len(rows), 4, width), np.float32)
    run = ScoredWindows(WindowSet(np.arange(n), np.zeros(n, int), np.full(n, s), {s: 1000.0, -s: 1.0}, seqs),
                        np.r_[np.full(15, 1e-4), rng.uniform(0, 1, n - 15)])
    null = ScoredWindows(WindowSet(np.arange(n0), np.zeros(n0, int), np.full(n0, s), {s: 2000.0, -s: 1.0}, seqs),
                         rng.uniform(0, 1, n0))
    hits = MotifMatches(np.arange(n), np.full(n, 0.9), np.full(n, 5), 8)
    decoys = MotifMatches(np.arange(n0), rng.uniform(0.5, 1.0, n0), np.full(n0, 5), 8)
    monkeypatch.setattr(ir, "chunked_matches", lambda motifs, windows, o: [hits if windows is run.windows else decoys
                                                                          for _ in motifs])
    pwm = np.full((4, 8), 0.25)
    motifs = [_ns(name=f"m{k}", sign=sign, pwm=pwm) for k in range(2)]
    return ir, motifs, run, null


def test_calls_one_motif_per_window_both_signs(monkeypatch):  # R10: a '-' window goes to one motif only
    from seqsal.motifs.support import SupportOptions
    ir, motifs, run, null = _calls_world(monkeypatch, "-")
    parts, summary = ir.motif_calls(motifs, np.array([0.8, 0.8]), run, null, SupportOptions(), 1.0)
    called = pd.concat(parts)
    assert len(called) and not called.duplicated(["region_index", "offset"]).any(), called


def test_calls_at_q_equal_alpha(monkeypatch):  # R05: the calls at FDR alpha are the instances with q <= alpha
    from seqsal.motifs.support import SupportOptions
    ir, motifs, run, null = _calls_world(monkeypatch, "+")
    parts, _ = ir.motif_calls(motifs[:1], np.array([0.8]), run, null, SupportOptions(), 1.0)
    q = np.sort(parts[0]["qvalue"].to_numpy())
    alpha = float(q[0])
    parts, summary = ir.motif_calls(motifs[:1], np.array([0.8]), run, null, SupportOptions(), alpha)
    assert len(parts[0]) == int((q <= alpha).sum()) > 0 and summary["n_calls"].tolist() == [len(parts[0])]


def test_strong_column_at_one_half():  # D22: a column whose top base has exactly 0.5 is strong (>= 0.5)
    from seqsal.motifs.discover import discover_motifs, DiscoveryOptions
    rng = np.random.default_rng(4)
    n, length = 9, 120
    one_hot = np.zeros((n, 4, length), np.float32)
    bases = rng.integers(0, 4, (n, length)); bases[:, 50:60] = [0, 2, 3, 0, 0, 1, 2, 3, 3, 1]
    bases[:, 54] = [0, 0, 0, 0, 0, 1, 2, 3, 1]  # 5 of 9 A: (5 + 0.5) / (9 + 2) = 0.5
    one_hot[np.arange(n)[:, None], bases, np.arange(length)[None, :]] = 1
    hyp = rng.normal(0, 0.01, (n, 4, length)).astype(np.float32)
    hyp[:, :, 50:60] += one_hot[:, :, 50:60]
    seqlets = pd.DataFrame({"region_index": np.arange(n), "offset_start": 50, "offset_end": 60, "sign": "+"})
    motifs = discover_motifs(one_hot, hyp, np.full(n, length), seqlets,
                             DiscoveryOptions(min_seqlets=9, min_strong_columns=10))
    assert len(motifs) == 1 and motifs[0].pwm.shape[1] == 10 and motifs[0].pwm[:, 4].max() == 0.5, motifs


def test_assign_instance_gap():  # D08: assigned seqlets half the core apart are two instances; closer, one
    from seqsal.motifs.discover import _assign, DiscoveryOptions
    o = DiscoveryOptions()  # core 20, max_shift 10: windows of 40
    t = np.random.default_rng(0).normal(size=(1, 4, 20)).astype(np.float32)
    windows = np.zeros((2, 4, 40), np.float32); windows[:, :, 10:30] = t[0]
    for apart, want in ((10, [0, 0]), (9, [0, -1])):
        cluster, starts, _, _ = _assign(t, windows, np.array([0, apart]), np.array([0, 0]), o)
        assert cluster.tolist() == want and starts.tolist() == [10, 10 + apart], (apart, cluster, starts)
