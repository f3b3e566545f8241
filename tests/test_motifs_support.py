"""seqsal.motifs.support: motifs tested against the shuffled null; discovery sized by evidence, bounded in size."""
import json
import logging
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqsal.encode import one_hot_encode, reverse_complement
from seqsal.errors import InputError
from seqsal.io import write_npz
from seqsal.motifs import (
    DiscoveredMotif,
    DiscoveryOptions,
    cap_seqlets,
    discover_motifs,
    discovery_seqlets,
    read_motif_arrays,
    run_motifs,
)
from seqsal.motifs.sides import WindowSet, null_one_hot
from seqsal.motifs.support import (
    SupportOptions,
    best_match_scores,
    count_support,
    passes_support,
    best_support,
    support_level,
    support_statistics,
)
from seqsal.motifs.multiplicity import binomial_upper_tail
from motif_helpers import jaspar_motifs, planted_run, toy_run_folder, word_tracks
from tests.run_arrays import dense_arrays

# ---------------------------------------------------------------------------
# A run folder made by hand: a toy "model" whose attribution responds to short words wherever they occur
# ---------------------------------------------------------------------------

WORDS = (("GATAA", 0.5), ("CCAAT", 0.4), ("TTTGC", -0.5))  # found by chance in any sequence, shuffled or not
PLANTED = ("TGACGTCATCCA", 0.4)  # 12 bp: in shuffled sequence almost never


def _respond(one_hot: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Hypothetical contributions ``(n, 4, L)``: noise, plus ``weight`` on every base of each word occurrence."""
    return word_tracks(one_hot, rng, (*WORDS, PLANTED))


def toy_run(folder: Path, planted: float = 0.0, n_regions: int = 200, length: int = 500, seed: int = 0) -> Path:
    """A run folder made without a model (:func:`motif_helpers.toy_run_folder`); a ``planted`` share of the regions
    holds a :data:`PLANTED` site."""
    return toy_run_folder(folder, PLANTED[0], planted, _respond, n_regions, length, seed)


@pytest.fixture(scope="module")
def null_run(tmp_path_factory):
    return toy_run(tmp_path_factory.mktemp("null_run"))


@pytest.fixture(scope="module")
def planted_toy_run(tmp_path_factory):
    return toy_run(tmp_path_factory.mktemp("planted_run"), planted=0.5, seed=1)


# ---------------------------------------------------------------------------
# The statistics
# ---------------------------------------------------------------------------


def test_binomial_upper_tail_is_the_exact_sum():
    for n, p in ((0, 0.3), (1, 0.5), (12, 0.3), (60, 0.52), (400, 0.9)):
        for k in range(-1, n + 2):
            exact = sum(math.comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(max(k, 0), n + 1))
            assert binomial_upper_tail(k, n, p) == pytest.approx(exact, rel=1e-9, abs=1e-300)
    assert binomial_upper_tail(3, 5, 0.0) == 0.0 and binomial_upper_tail(3, 5, 1.0) == 1.0
    assert 0 < binomial_upper_tail(4000, 5000, 0.5) < 1e-300 or binomial_upper_tail(4000, 5000, 0.5) == 0.0


def test_support_statistics_scale_the_null_by_bases_and_both_rules_must_pass():
    """k against k0 over B and B0 bases: expected k0 B / B0, enrichment k / ((k0 + 1) B / B0), p the binomial tail
    at B / (B + B0); a motif needs both its p-value within the level and the minimum enrichment."""
    table = support_statistics(np.array([40, 40, 600, 5]), np.array([2, 2, 460, 0]), np.array([1e5, 2e5, 1e5, 1e5]),
                               np.array([1e5, 1e5, 1e5, 1e5]))
    assert list(table["expected_null_seqlets"]) == [2.0, 4.0, 460.0, 0.0]
    np.testing.assert_allclose(table["enrichment"], [40 / 3, 40 / 6, 600 / 461, 5.0], rtol=1e-4)
    assert table["support_pvalue"][0] == pytest.approx(binomial_upper_tail(40, 42, 0.5), rel=1e-3)
    assert table["support_pvalue"][1] == pytest.approx(binomial_upper_tail(40, 42, 2 / 3), rel=1e-3)
    # 600 against 460 is significant but not 1.5-fold; 5 against 0 is 5-fold but p = 1/32 > 0.01 / 4
    assert table["support_pvalue"][2] < 1e-4 and table["support_pvalue"][3] == pytest.approx(1 / 32)
    one = SupportOptions(min_match=(0.7,))
    assert list(passes_support(table, one, 0.01)) == [True, True, False, False]
    assert list(passes_support(table, SupportOptions(min_enrichment=1.2), 0.01)) == [True, True, True, False]
    assert list(passes_support(table, one, 0.2)) == [True, True, False, True]
    # the family: one motif of 8 windows (p 0.5 ** 8 = 0.0039) can pass 0.01 alone, not among four such motifs
    # (each could pass only a level above 0.01 / 4); motifs of too few windows to pass do not count (Tarone)
    lone = np.array([[8]]), np.array([[0]]), np.array([1e5]), np.array([1e5])
    assert support_level(*lone, 0.01) == (0.01, 1)
    assert support_level(*(np.repeat(side, 4, axis=0) for side in lone), 0.01) == pytest.approx((0.01 / 3, 3))
    few = np.array([[8], [3], [2], [1]]), np.zeros((4, 1), np.int64), np.full(4, 1e5), np.full(4, 1e5)
    assert support_level(*few, 0.01) == (0.01, 1)


def test_best_support_reports_the_threshold_that_shows_the_excess_best():
    """Per motif the threshold with the smallest p-value among the enriched ones: a short motif whose loose
    matches are everywhere shows its excess at a strict threshold; a motif enriched nowhere reports its
    smallest p-value (and fails)."""
    options = SupportOptions(min_match=(0.6, 0.9))
    observed = np.array([[400, 100], [50, 10], [300, 10]])
    null = np.array([[330, 20], [5, 3], [250, 9]])
    table = best_support(observed, null, np.full(3, 1e5), np.full(3, 1e5), options)
    assert list(table["support_match"]) == [0.9, 0.6, 0.6]
    assert list(table["n_support_seqlets"]) == [100, 50, 300] and list(table["n_null_seqlets"]) == [20, 5, 250]
    assert table["enrichment"][0] == pytest.approx(100 / 21, rel=1e-3)
    assert list(passes_support(table, options, 0.01 / 3)) == [True, True, False]
    assert table["n_support_seqlets"].dtype == np.int64


def test_best_match_scores_find_the_site_on_either_strand():
    pwm = np.full((4, 6), 0.02)
    pwm[[0, 1, 2, 3, 0, 2], np.arange(6)] = 0.94  # ACGTAG
    background = "T" * 30
    for site, strand_start in (("ACGTAG", 7), (reverse_complement("ACGTAG"), 12)):
        text = background[:strand_start] + site + background[strand_start + 6:]
        score, start = best_match_scores(pwm, one_hot_encode(text)[None])
        assert score[0] == pytest.approx(1.0) and start[0] == strand_start
    five_of_six = one_hot_encode("ACGTAT" + "T" * 24)[None]
    hit, miss = math.log2(0.94 / 0.25), math.log2(0.02 / 0.25)
    assert best_match_scores(pwm, five_of_six)[0][0] == pytest.approx((5 * hit + miss) / (6 * hit), rel=1e-5)
    assert best_match_scores(pwm, np.zeros((1, 4, 30), np.float32))[0][0] == 0.0  # N scores nothing


def _motif(sign: str, consensus: str) -> DiscoveredMotif:
    pwm = np.full((4, len(consensus)), 0.02)
    for i, letter in enumerate(consensus):
        pwm["ACGT".index(letter), i] = 0.94
    return DiscoveredMotif("m", sign, pwm, pwm, pwm, 20, pd.DataFrame())


def test_count_support_counts_an_instance_once_and_only_windows_of_the_motif_sign():
    rows_text = ["T" * 20 + "GGATCCAT" + "T" * 32, "T" * 60, "T" * 10 + "GGATCCAT" + "T" * 42]
    one_hot = np.stack([one_hot_encode(text) for text in rows_text])
    from seqsal.motifs import extract_windows

    def sequences(rows, starts, width):
        return extract_windows([one_hot], np.full(3, 60), rows, starts, width)[0]

    # row 0: three windows on its site (+), one elsewhere; row 1: no site; row 2: a site under a - window only
    windows = WindowSet(np.array([0, 0, 0, 0, 1, 2]), np.array([18, 21, 24, 45, 20, 9]),
                        np.array([1, 1, 1, 1, 1, -1]), {1: 60.0, -1: 60.0}, sequences)
    options = SupportOptions(max_shift=4, min_match=(0.7, 1.0))
    counts = count_support([_motif("+", "GGATCCAT"), _motif("-", "GGATCCAT"), _motif("+", "CCCCGGGG")], windows,
                           options)
    assert counts.tolist() == [[1, 1], [1, 1], [0, 0]]
    assert count_support([], windows, options).shape == (0, 2)


# ---------------------------------------------------------------------------
# Run folders: a complete null gives no motif; a planted motif stays; the null's sequences are redrawn
# ---------------------------------------------------------------------------


def test_null_sequences_are_redrawn_as_the_null_writer_drew_them(null_run):
    """null.npz holds no sequences; the rows are redrawn from the genome with the writer's shuffles: the toy
    tracks are zero exactly at the N of no row and the shuffles keep each region's dinucleotides."""
    from seqsal.shuffle import dinucleotide_counts

    null = np.load(null_run / "null.npz")
    rows = np.array([0, 5, 199])
    redrawn = null_one_hot(null_run, rows)
    observed = dense_arrays(null_run / "attributions.npz")["one_hot"][rows]
    assert redrawn.shape == (3, 4, 500) and (redrawn.sum(axis=1) == 1).all()
    assert not np.array_equal(redrawn, observed)
    for row in range(3):
        np.testing.assert_array_equal(dinucleotide_counts(redrawn[row]), dinucleotide_counts(observed[row]))
    # the toy null track is the word response of exactly these sequences (noise sd 0.05 aside)
    words = [(w, v) for w, v in WORDS]
    text = "".join("ACGT"[c] for c in redrawn[0].argmax(axis=0))
    hits = [at for word, _ in words for strand in {word, reverse_complement(word)}
            for at in range(500) if text.startswith(strand, at)]
    assert hits and all(abs(null["projected"][0, at]) > 0.2 for at in hits)
    assert null_one_hot(null_run, np.zeros(0, np.int64)).shape == (0, 4, 500)


def test_null_sequences_stored_in_null_npz_are_read_and_a_missing_genome_is_refused(null_run, tmp_path, caplog):
    """A genome gone from the path run.json names stops discovery with the `seqsal relocate` hint (it used to warn
    and keep every motif untested against the null); a run.json naming no genome warns and skips the test."""
    folder = tmp_path / "stored"
    folder.mkdir()
    with np.load(null_run / "null.npz") as null:
        members = {key: null[key] for key in null.files}
    stored = np.zeros((200, 4, 500), np.float32)
    stored[:, 2] = 1  # all G: not what a shuffle gives, so it must have been read
    write_npz(folder / "null.npz", {**members, "one_hot": stored})
    assert (null_one_hot(folder, np.array([3, 7])) == stored[[3, 7]]).all()
    write_npz(folder / "null.npz", members)
    (folder / "run.json").write_text(json.dumps({"genome": str(tmp_path / "moved.fa")}))
    with pytest.raises(InputError, match=r"moved\.fa: the genome this run was made from is not there.*seqsal relocate"):
        null_one_hot(folder, np.array([3]))
    (folder / "run.json").write_text(json.dumps({}))
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        assert null_one_hot(folder, np.array([3])) is None
    assert "names no genome" in caplog.text and "not tested against the null" in caplog.text


def test_a_complete_null_gives_no_motif(null_run, caplog):
    """Observed tracks that are themselves attributions of sequence without planted signal (the toy model on
    random sequence; its null the same model on shuffles of it): no motif. The old default (FDR 0.85 against the
    Laplace null, no support test) returned 5 motifs here, one per word the model reads (GATAA, CCAAT, TTTGC,
    twice each for two of them), each found as often in the shuffled null."""
    with caplog.at_level(logging.INFO, logger="seqsal"):
        result = run_motifs(null_run, progress=False)
    assert len(result["motifs"]) <= 1
    assert result["n_seqlets"] < 200  # against the shuffled null: not the ~750 chance word hits of the Laplace re-call
    table = pd.read_csv(null_run / "motifs.tsv", sep="\t")
    assert len(table) == len(result["motifs"])
    # the Laplace re-call the old default clustered: its motifs are found, then fail the support test
    laplace = discovery_seqlets(null_run, 0.85, null="laplace")
    assert len(laplace) > 500 and laplace.attrs["null"] == "laplace"
    laplace.to_csv(null_run / "laplace.tsv", sep="\t", index=False)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="seqsal"):
        result = run_motifs(null_run, seqlets_path=null_run / "laplace.tsv", progress=False, seqlet_fdr=1.0)
    assert result["dropped"] >= 2 and result["motifs"] == []
    assert caplog.text.count("dropped a ") == result["dropped"]
    # each dropped motif names the criterion it failed
    dropped = [line for line in caplog.text.splitlines() if "dropped a " in line]
    assert all("enrichment below the minimum 1.5" in line or "p above the Bonferroni level" in line
               for line in dropped), dropped


def test_a_planted_motif_passes_the_support_test_and_chance_words_do_not(planted_toy_run):
    """Half of the regions hold a 12-bp site the toy model reads; the short words occur by chance everywhere.
    Clustering every window of the Laplace re-call finds both; only the planted motif is enriched over the null."""
    laplace = discovery_seqlets(planted_toy_run, 0.85, null="laplace")
    laplace.to_csv(planted_toy_run / "laplace.tsv", sep="\t", index=False)
    result = run_motifs(planted_toy_run, seqlets_path=planted_toy_run / "laplace.tsv", progress=False,
                        seqlet_fdr=1.0)
    assert result["dropped"] >= 1
    table = pd.read_csv(planted_toy_run / "motifs.tsv", sep="\t")
    assert len(table) == 1 and table["sign"][0] == "+"
    consensus = table["consensus"][0].upper()
    assert consensus in PLANTED[0] or reverse_complement(consensus) in PLANTED[0] or \
        PLANTED[0][2:10] in consensus or reverse_complement(PLANTED[0])[2:10] in consensus
    row = table.iloc[0]
    assert row["n_support_seqlets"] >= 60 and row["n_null_seqlets"] <= 5
    assert row["enrichment"] >= 10 and row["support_pvalue"] < 1e-10
    assert list(read_motif_arrays(planted_toy_run / "motifs.npz")) == ["pos_1"]
    # by default (FDR 0.8 against the shuffled null) the planted motif is found and kept, nothing else
    default = run_motifs(planted_toy_run, progress=False)
    assert [m.name for m in default["motifs"]] == ["pos_1"] and default["support"]["enrichment"][0] >= 10


def test_without_a_null_motifs_are_kept_untested(null_run, tmp_path, caplog):
    """No null.npz (a run made with --no-peaks or --null laplace): discovery re-calls against the Laplace null and
    the support columns stay empty, with a warning saying how to get the test."""
    folder = tmp_path / "no_null"
    folder.mkdir()
    for name in ("attributions.npz", "regions.tsv", "run.json", "genome.fa"):
        (folder / name).write_bytes((null_run / name).read_bytes())
    run_json = json.loads((folder / "run.json").read_text())
    run_json["genome"] = str(folder / "genome.fa")
    (folder / "run.json").write_text(json.dumps(run_json))
    with caplog.at_level(logging.INFO, logger="seqsal"):
        result = run_motifs(folder, progress=False)
    assert "no null.npz" in caplog.text and "Laplace null" in caplog.text
    assert result["support"] is None and len(result["motifs"]) >= 2  # what the old default gave everyone
    table = pd.read_csv(folder / "motifs.tsv", sep="\t")
    assert table["support_pvalue"].isna().all() and table["n_null_seqlets"].isna().all()


# ---------------------------------------------------------------------------
# Size: the seqlets clustered are bounded, whatever the noise
# ---------------------------------------------------------------------------


def test_cap_keeps_the_most_significant_seqlets():
    table = pd.DataFrame({"pvalue": [0.5, 0.01, 0.01, 0.2, 0.9], "score": [1.0, 2.0, -3.0, 1.0, 9.0]},
                         index=[10, 11, 12, 13, 14])
    assert list(cap_seqlets(table, 3)) == [11, 12, 13]
    assert list(cap_seqlets(table, 2)) == [11, 12]
    assert list(cap_seqlets(table, 9)) == [10, 11, 12, 13, 14]
    assert list(cap_seqlets(table.drop(columns="pvalue"), 1)) == [14]  # by |score| without p-values
    sampled = cap_seqlets(table.drop(columns=["pvalue", "score"]), 3, seed=1)
    assert len(sampled) == 3 and set(sampled) <= set(table.index) and list(sampled) == sorted(sampled)


def test_noise_beyond_the_cap_is_never_clustered():
    """Discovery on a table plus 4x as many noise seqlets (larger p-values) with ``max_seqlets`` the table's size:
    the same motifs from the same seqlets, so time grows with the informative seqlets, not with the noise."""
    one_hot, hyp, lengths, seqlets, _ = planted_run(jaspar_motifs())
    rng = np.random.default_rng(5)
    seqlets = seqlets.assign(pvalue=rng.uniform(0, 0.01, len(seqlets)))
    n_noise = 4 * len(seqlets)
    rows = rng.integers(0, len(lengths), n_noise)
    starts = rng.integers(0, 180, n_noise)
    noise = pd.DataFrame({"region_index": rows, "offset_start": starts, "offset_end": starts + 12,
                          "sign": np.where(rng.random(n_noise) < 0.5, "+", "-"), "score": 0.1,
                          "pvalue": rng.uniform(0.02, 1, n_noise)})
    both = pd.concat([seqlets, noise], ignore_index=True)
    cap = int(max((seqlets["sign"] == s).sum() for s in "+-"))
    options = DiscoveryOptions(max_seqlets=cap)
    alone = discover_motifs(one_hot, hyp, lengths, seqlets, options)
    capped = discover_motifs(one_hot, hyp, lengths, both, options)
    assert [m.name for m in capped] == [m.name for m in alone] == ["pos_1", "pos_2", "neg_1"]
    for a, b in zip(alone, capped):
        np.testing.assert_allclose(a.cwm, b.cwm, atol=1e-6)
        assert set(b.instances["seqlet"]) < set(seqlets.index)  # no noise seqlet among the instances
    positive = both[both["sign"] == "+"]
    assert set(cap_seqlets(positive, cap)) >= set(seqlets.index[seqlets["sign"] == "+"])


def test_no_motif_with_a_database_still_writes_the_matches_table(null_run, tmp_path):
    """fresh12: with a database and no motif found, motif_matches.tsv was not written (and an earlier one removed),
    so the workflow's motifs step, which declares it, failed and no report was made: now a header-only table."""
    from seqsal.datasets import bundled_motifs
    from seqsal.motifs import DiscoveryOptions

    folder = tmp_path / "run"
    shutil.copytree(null_run, folder)
    result = run_motifs(folder, database=bundled_motifs(), options=DiscoveryOptions(min_seqlets=10 ** 6, max_seqlets=10 ** 6),
                        progress=False)
    assert result["motifs"] == []
    table = pd.read_csv(folder / "motif_matches.tsv", sep="\t")
    assert table.empty and list(table.columns)[:3] == ["query", "target_id", "target_name"]


def test_the_support_p_value_is_the_binomial_tail_at_or_above_the_count():
    """12 supporting windows in the run against 3 in a null twice as large: P(Binomial(15, 1/3) >= 12), written out
    (an off-by-one giving P(X > 12), 9x smaller, passed the suite; mut30)."""
    from seqsal.motifs.support import SupportOptions, best_support

    table = best_support(np.array([[12]]), np.array([[3]]), np.array([1000.0]), np.array([2000.0]),
                         SupportOptions(min_match=(0.8,)))
    expected = sum(math.comb(15, k) * (1 / 3) ** k * (2 / 3) ** (15 - k) for k in range(12, 16))
    assert float(table["support_pvalue"][0]) == pytest.approx(expected, rel=1e-3)
