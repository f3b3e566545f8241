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
