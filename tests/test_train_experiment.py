"""The statistics of ``benchmarks/train_experiment.py`` (issue 16's experiment table): training-set subsets, the
worlds' motif sets, map stability between seeds, seqlet F1 against planted sites, and the seed-paired contrasts."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import benchmark_module


@pytest.fixture(scope="module")
def te():
    with benchmark_module("train_experiment") as module:
        yield module


def test_subset_labels_keeps_the_first_training_windows_and_every_held_out_one(te):
    rows = pd.DataFrame({"chrom": ["train"] * 5 + ["valid"] * 2 + ["test"] * 3,
                         "start": np.arange(10) * 10, "end": np.arange(10) * 10 + 10, "activity": np.arange(10.0)})
    subset = te.subset_labels(rows, 2)
    assert list(subset["chrom"]) == ["train"] * 2 + ["valid"] * 2 + ["test"] * 3
    assert list(subset["start"][:2]) == [0, 10]


def test_worlds_differ_in_motifs_and_weights(te):
    names = ["CTCF", "REST", "Gata1", "GATA1::TAL1", "Spi1", "CEBPB", "FOS::JUN", "SP1", "YY1", "NFYA", "TP53",
             "HNF4A", "FOXA1", "ELK1", "IRF8", "MYC", "HNF1A"]
    worlds = [te.world_weights(k, names) for k in range(4)]
    assert set(worlds[0]).isdisjoint(worlds[1])
    assert worlds[2] != worlds[3] and worlds[2] == te.world_weights(2, names)
    for weights in worlds:
        assert len(weights) == 6 and sum(w < 0 for w in weights.values()) == 1 and set(weights) <= set(names)


def test_pair_stability_is_the_mean_rank_correlation_per_pair_without_constant_windows(te):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 50))
    b = a.copy()
    b[1] = -a[1]  # one window with reversed ranks: Spearman -1
    c = a.copy()
    c[2] = 0.0  # constant map: left out
    pairs = te.pair_stability([a, b, c])
    assert pairs[0] == pytest.approx((1 + -1 + 1 + 1) / 4)  # a, b
    assert pairs[1] == pytest.approx(1.0)  # a, c: window 2 left out, the rest identical
    assert pairs[2] == pytest.approx((1 + -1 + 1) / 3)  # b, c
    assert te.pair_stability([a]) == []


def test_seqlet_f1_scores_called_bumps_against_the_planted_sites(te):
    rng = np.random.default_rng(1)
    n, length = 200, 200
    null = rng.normal(0, 0.05, (n, length))
    maps = rng.normal(0, 0.05, (n, length))
    sites = []
    for i in range(n):
        start = int(rng.integers(20, 160))
        maps[i, start:start + 12] += 2.0
        sites.append([(start, start + 12, "m")])
    score, calls = te.seqlet_f1(maps, null, sites)
    assert calls > 0.8 * n and score > 0.8
    shifted = [[(a + 60, b + 60, m) for a, b, m in row] for row in sites]  # the same calls, the truth moved away
    assert te.seqlet_f1(maps, null, shifted)[0] < 0.05


def test_paired_contrasts_subtract_within_a_seed(te):
    rows = []
    for seed, (plain, fourier) in enumerate([(0.5, 0.6), (0.7, 0.75)]):
        for variant, value in (("plain", plain), ("fourier", fourier)):
            rows.append({"world": 0, "size": 10, "variant": variant, "seed": seed,
                         **{m: value for m in te.METRICS}})
    frame = pd.DataFrame(rows)
    summary = pd.DataFrame({"world": [0, 0], "size": [10, 10], "variant": ["plain", "fourier"],
                            "stability": [0.2, 0.5]})
    out = te.paired_contrasts(frame, summary, (("fourier", "plain"),)).iloc[0]
    assert out["d_test_r"] == pytest.approx(0.075)
    assert out["d_test_r_sd"] == pytest.approx(np.std([0.1, 0.05], ddof=1))
    assert out["d_stability"] == pytest.approx(0.3)


def test_map_diagnostics_measure_attribution_on_the_sites(te):
    truth = np.zeros((3, 100), bool)
    truth[:2, 10:20] = True  # window 2 has no site
    on_sites = np.where(truth, 1.0, 0.0)
    on_sites[2, 50] = 5.0
    out = te.map_diagnostics(on_sites, truth)
    assert out["site_enrichment"] == pytest.approx((20 / 25) / truth.mean())
    assert out["top_on_site"] == 1.0
    flat = np.ones((3, 100))
    assert te.map_diagnostics(flat, truth)["site_enrichment"] == pytest.approx(1.0)
    off = np.where(truth, 0.1, 0.0)
    off[:, 80] = 1.0
    assert te.map_diagnostics(off, truth)["top_on_site"] == 0.0
    bump = np.tile(np.exp(-0.5 * ((np.arange(100) - 50) / 10.0) ** 2), (3, 1))  # low frequencies
    spiky = np.zeros((3, 100))
    spiky[:, ::2] = 1.0  # the DC term and the highest frequency
    assert te.map_diagnostics(spiky, truth)["high_freq"] > te.map_diagnostics(bump, truth)["high_freq"] + 0.3


def test_profile_share_measures_a_sequence_independent_positional_profile(te):
    rng = np.random.default_rng(3)
    truth = np.zeros((400, 60), bool)
    maps = rng.normal(size=(400, 60))
    assert te.map_diagnostics(maps, truth | (np.arange(60) == 5))["profile_share"] < 0.1  # ~ 1 / sqrt(400)
    profile = np.sin(np.arange(60) / 5.0) * 3.0  # the same in every window, 3x the maps' own sd
    share = te.map_diagnostics(maps + profile, truth | (np.arange(60) == 5))["profile_share"]
    assert share == pytest.approx(np.std(profile) / np.std(maps + profile), rel=0.05) and share > 0.85


def test_every_variant_and_contrast_is_a_valid_training_setting(te):
    from seqsal.train_options import TrainOptions, check_options

    for name, extra in te.ALL_VARIANTS.items():
        check_options(TrainOptions(**extra))
    assert set(te.VARIANTS) <= set(te.ALL_VARIANTS) and set(te.EXTRA_VARIANTS).isdisjoint(te.VARIANTS)
    assert all(a in te.ALL_VARIANTS and b in te.ALL_VARIANTS for a, b in te.CONTRASTS)
    # the first versions of the two terms, kept for the comparison: every window; uncentred RC maps
    assert te.ALL_VARIANTS["fourier_all"]["fourier_positives"] is None
    assert te.ALL_VARIANTS["rc_uncentred"]["consistency_centre"] is False
    assert "fourier_positives" not in te.VARIANTS["fourier"]  # the default: positive windows only


def test_or_world_positives_carry_two_to_four_activator_sites_and_negatives_none(te, tmp_path):
    weights = te.world_weights(0, [])
    world = te.simulated_world(tmp_path, {"train": 400, "valid": 10, "test": 10}, 0, False, weights, 250, 20, "or")
    train = world["train"]
    n_sites = np.array([len(s) for s in train["sites"]])
    positive = train["y"] == 1
    assert set(np.unique(train["y"])) == {0.0, 1.0} and 0.4 < positive.mean() < 0.6
    assert (n_sites[~positive] == 0).all() and not train["truth"][~positive].any()
    assert n_sites[positive].min() >= 2 and n_sites[positive].max() <= 4
    motifs = {name for row in train["sites"] for *_, name in row}
    assert motifs == {name for name, w in weights.items() if w > 0}  # every activator, never the repressor
    labels = pd.read_csv(tmp_path / "labels.tsv", sep="\t")
    assert np.isin(labels["activity"], (0.0, 1.0)).all()
    with pytest.raises(ValueError):
        te.simulated_world(tmp_path, {"train": 2}, 0, False, weights, 250, 20, "and")


def test_held_out_classification_is_the_point_biserial_r_and_auroc_of_the_logits(te):
    labels = np.array([0, 0, 0, 1, 1, 1], float)
    logits = np.array([-2.0, -1.0, 0.5, 0.0, 1.0, 3.0])
    out = te.held_out_classification(logits, labels)
    assert out["test_auroc"] == pytest.approx(8 / 9)  # one of the 9 positive-negative pairs misordered
    r = (logits[labels == 1].mean() - logits[labels == 0].mean()) / logits.std() * 0.5  # point-biserial, p = 1/2
    assert out["test_r"] == pytest.approx(r)


def test_held_out_auroc_column_only_where_the_runs_have_it(te):
    assert te.metrics_of(pd.DataFrame(columns=list(te.METRICS))) == te.METRICS
    assert te.metrics_of(pd.DataFrame(columns=["test_r", "test_auroc"]))[:2] == ("test_r", "test_auroc")
    assert te.metrics_of(pd.DataFrame(columns=["d_test_auroc"]), "d_")[1] == "test_auroc"
