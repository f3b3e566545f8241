"""`seqsal audit`: the faithfulness gap (check 5), edge peaks and the motif-pile effect, on hand-made folders."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seqsal import audit_checks as ac
from seqsal import audit_scan as scan
from seqsal.audit import AuditOptions, audit_run
from seqsal.motifs import default_database, read_meme
from tests.test_audit import L, clean_arrays, make_run

OPTIONS = AuditOptions(model=False)
FRACTIONS = np.linspace(0, 1, 21)


def write_evaluation(path, method="grad_x_input", steep=True):
    """evaluation.tsv / evaluation_curves.tsv as `seqsal evaluate` writes them: a map whose deletion curve drops
    half-way after 10 % of the bases (``steep``) or one no steeper than the random order."""
    random_curve = 1.0 - 0.5 * FRACTIONS
    mine = np.where(FRACTIONS <= 0.1, 1.0 - 5 * FRACTIONS, 0.5 - 0.1 * FRACTIONS) if steep else random_curve + 0.01
    rows = [{"method": m, "curve": "deletion", "fraction": f, "mean_target": v}
            for m, curve in (("random", random_curve), (method, mine)) for f, v in zip(FRACTIONS, curve)]
    pd.DataFrame(rows).to_csv(path / "evaluation_curves.tsv", sep="\t", index=False)
    auc = {m: float(((c[1:] + c[:-1]) / 2 * np.diff(FRACTIONS)).sum()) for m, c in (("random", random_curve),
                                                                                 (method, mine))}
    pd.DataFrame({"method": ["random", method], "deletion_auc": [auc["random"], auc[method]],
                  "deletion_auc_vs_random": [0.0, auc[method] - auc["random"]]}).to_csv(
        path / "evaluation.tsv", sep="\t", index=False)


def motif_tables(starts, width, matched):
    """motifs.tsv with one motif (database q 1e-4 or 0.6) and its instances at ``starts[i]`` of region ``i``."""
    motifs = pd.DataFrame([{"motif": "pos_1", "sign": "+", "n_seqlets": len(starts), "width": width,
                            "consensus": "A" * width, "contribution": 5.0, "match_id": "MA0099.3",
                            "match_name": "FOS::JUN", "match_qvalue": 1e-4 if matched else 0.6}])
    instances = pd.DataFrame({"motif": "pos_1", "region_index": np.arange(len(starts)),
                              "start": np.arange(len(starts)) * 1000 + starts,
                              "end": np.arange(len(starts)) * 1000 + starts + width})
    return motifs, instances


def planted(rng, n=200):
    """Clean sequences with one 8-bp stretch of contribution per region; its offsets."""
    sequences, hyp = clean_arrays(rng, n)
    hyp = rng.normal(0, 0.05, hyp.shape).astype(np.float32)
    at = rng.integers(40, L - 48, n)
    for i in range(n):
        hyp[i, :, at[i]:at[i] + 8] += 1.0
    return sequences, hyp, at


def gap_row(tmp_path, name, matched, steep=True, evaluate=True):
    sequences, hyp, at = planted(np.random.default_rng(7))
    motifs, instances = motif_tables(at, 8, matched)
    run = make_run(tmp_path / name, sequences, hyp, motifs=motifs, instances=instances,
                   record={"method": "grad_x_input", "parameters": {"window": None, "stride": None}})
    if evaluate:
        write_evaluation(run, steep=steep)
    return audit_run(run, OPTIONS).set_index("check").loc["faithfulness_gap"]


def test_reliance_on_stretches_no_database_motif_explains_is_flagged(tmp_path):
    row = gap_row(tmp_path, "unmatched", matched=False)
    assert row["verdict"] == "look" and row["value"] > 0.9  # at most look: biology the database lacks looks the same
    assert "top 10 % of bases" in row["evidence"] and "instances of 0 matched motifs" in row["evidence"]
    assert "hits of 17 database motifs" in row["evidence"]


def test_stretches_that_database_matrices_hit_are_explained_without_discovery(tmp_path):
    ctcf = next(m for m in read_meme(default_database()) if m.name == "CTCF")
    word = "".join("ACGT"[i] for i in ctcf.pwm.argmax(axis=0))
    rng = np.random.default_rng(9)
    sequences, hyp, at = planted(rng)
    hyp = rng.normal(0, 0.05, hyp.shape).astype(np.float32)
    for i in range(len(sequences)):  # the model keys on a CTCF site; discovery found nothing
        sequences[i] = sequences[i][:at[i]] + word + sequences[i][at[i] + len(word):]
        hyp[i, :, at[i]:at[i] + len(word)] += 1.0
    run = make_run(tmp_path / "ctcf", sequences, hyp, record={"method": "grad_x_input",
                                                             "parameters": {"window": None, "stride": None}})
    write_evaluation(run)
    row = audit_run(run, OPTIONS).set_index("check").loc["faithfulness_gap"]
    assert row["verdict"] == "ok" and row["value"] < 0.3


def test_reliance_explained_by_matched_motifs_is_ok(tmp_path):
    row = gap_row(tmp_path, "matched", matched=True)
    assert row["verdict"] == "ok" and row["value"] < 0.3
    assert "instances of 1 matched motifs" in row["evidence"]


def test_gap_needs_evaluate_and_a_faithful_map(tmp_path):
    assert gap_row(tmp_path, "none", matched=False, evaluate=False)["verdict"] == "n/a"
    flat = gap_row(tmp_path, "flat", matched=False, steep=False)
    assert flat["verdict"] == "ok" and "no steeper than the random order" in flat["evidence"]


def test_edge_shortcut_in_a_sixth_of_the_regions_is_flagged_and_named(tmp_path):
    rng = np.random.default_rng(8)
    sequences, hyp = clean_arrays(rng)
    for i in range(0, 200, 6):  # a sixth of the regions start with an 8-mer the model keys on
        sequences[i] = "GAATTCGC" + sequences[i][8:]
        hyp[i, :, :8] += 3.0
    record = {"parameters": {"window": L, "stride": L}}
    row = audit_run(make_run(tmp_path / "run", sequences, hyp, record=record), OPTIONS).set_index("check")
    assert row.loc["window_edges", "verdict"] == "shortcut likely"
    assert "first 20 bp: GAATTCGCnnnnnnnnnnnn" in row.loc["window_edges", "evidence"]
    # the mean over all regions is diluted by the other five sixths: what a mean-ratio statistic would miss
    assert "near edges" in row.loc["window_edges", "evidence"]
    sequences, hyp = clean_arrays(np.random.default_rng(8))
    clean = audit_run(make_run(tmp_path / "clean", sequences, hyp, record=record), OPTIONS).set_index("check")
    assert clean.loc["window_edges", "verdict"] == "ok"


def test_pure_statistics_of_gap_and_edges():
    assert scan.half_drop_fraction(FRACTIONS, 1 - FRACTIONS) == (0.5, 1.0)
    assert np.isnan(scan.half_drop_fraction(FRACTIONS, np.ones(21))[0])
    top = scan.top_bases(np.array([[0.0, 3, 1, 2, 9]]), np.array([4]), 0.5)
    assert top.tolist() == [[False, True, False, True, False]]  # the 5th base is past the length
    contribution = np.array([[0.0, 2.0, 0.0, 2.0]])
    explained = np.array([[False, True, False, False]])
    result = scan.unexplained_share(contribution, np.ones((1, 4), bool), explained, np.random.default_rng(0), 0.5)
    assert result["gap"] == pytest.approx(0.5)
    track = np.zeros((2, 30))
    track[0, 3:8] = 1
    track[1, 20:25] = 1
    assert ac.region_peaks(track, np.array([30, 22]), 4).tolist() == [5, 20]
    assert ac.column_consensus(["GAATTA", "GAATCC", "GTTTAG"]) == "GAATnn"
    zone = np.zeros((100, 50), bool)
    zone[:, :5] = True
    matrix = scan.log_odds(np.full((4, 6), 0.25) + np.eye(4)[:, [0, 1, 2, 3, 0, 1]] * 10)
    threshold = scan.score_threshold(matrix, 1e-3)
    assert 4 ** -6 < 1e-3 and threshold <= matrix.max(axis=0).sum()  # the consensus passes at p 1e-3 ...
    assert scan.score_threshold(matrix, 1e-5) > matrix.max(axis=0).sum()  # ... and nothing at 1e-5 < 4^-6
    one_hot = np.zeros((1, 4, 12), np.float32)
    one_hot[0, [0, 1, 2, 3, 0, 1], np.arange(3, 9)] = 1  # ACGTAC at 3-8, the rest N
    assert scan.motif_hit_mask(one_hot, [matrix], [threshold])[0].tolist() == [False] * 3 + [True] * 6 + [False] * 3
    piled = ac.peaks_in_zone(np.full(100, 2), np.full(100, 50), zone, np.random.default_rng(0))
    assert piled["share"] == 1.0 and piled["pvalue"] < 0.01 and piled["ratio"] > 3


def test_motifs_matched_to_no_database_are_not_called_unmatched(tmp_path):
    sequences, hyp, at = planted(np.random.default_rng(10))
    motifs, instances = motif_tables(at, 8, matched=False)
    for column in ("match_id", "match_name", "match_qvalue"):  # `seqsal motifs --database none` leaves them empty
        motifs[column] = np.nan
    sequences = [s[:a] + "ACGTTGCA" + s[a + 8:] for s, a in zip(sequences, at)]
    table = audit_run(make_run(tmp_path / "run", sequences, hyp, motifs=motifs, instances=instances), OPTIONS)
    row = table.set_index("check").loc["unmatched_motif"]
    assert row["verdict"] == "n/a" and "not matched to a database" in row["evidence"]


def test_the_gap_scans_with_the_database_seqsal_motifs_used(tmp_path):
    """The model keys on CTCF sites. Scanned with the bundled subset they are explained (test above); when
    `seqsal motifs` matched the folder against a database without CTCF (a species' own collection), the audit
    scans with that one, recorded in provenance/motifs.json, and names it: the same bases are unexplained."""
    from seqsal.motifs import format_meme
    from seqsal.provenance import ATTRIBUTIONS, write_record

    ctcf = next(m for m in read_meme(default_database()) if m.name == "CTCF")
    word = "".join("ACGT"[i] for i in ctcf.pwm.argmax(axis=0))
    rng = np.random.default_rng(9)
    sequences, hyp, at = planted(rng)
    hyp = rng.normal(0, 0.05, hyp.shape).astype(np.float32)
    for i in range(len(sequences)):
        sequences[i] = sequences[i][:at[i]] + word + sequences[i][at[i] + len(word):]
        hyp[i, :, at[i]:at[i] + len(word)] += 1.0
    run = make_run(tmp_path / "ctcf", sequences, hyp, record={"method": "grad_x_input",
                                                             "parameters": {"window": None, "stride": None}})
    write_evaluation(run)
    other = tmp_path / "fly.meme"
    other.write_text(format_meme([m for m in read_meme(default_database()) if m.name == "REST"]))
    write_record(run, "motifs", (ATTRIBUTIONS,), {"database": str(other)})
    row = audit_run(run, OPTIONS).set_index("check").loc["faithfulness_gap"]
    assert row["verdict"] == "look" and row["value"] > 0.9
    assert "hits of 1 database motifs (fly.meme)" in row["evidence"]
    other.unlink()  # moved away: the bundled subset again
    row = audit_run(run, OPTIONS).set_index("check").loc["faithfulness_gap"]
    assert row["verdict"] == "ok" and "hits of 17 database motifs (jaspar_subset.meme)" in row["evidence"]


def test_a_database_whose_hits_cover_most_bases_cannot_flag_and_says_so(tmp_path):
    """fresh16: matched against 2,193 motifs, the hits covered 82 % of all bases, so the share left unexplained
    could never reach the level: an empty 'ok'. Now n/a, naming the coverage."""
    sequences, hyp, at = planted(np.random.default_rng(7))
    motifs, instances = motif_tables(at, 8, matched=False)
    run = make_run(tmp_path / "wide", sequences, hyp, motifs=motifs, instances=instances,
                   record={"method": "grad_x_input", "parameters": {"window": None, "stride": None}})
    write_evaluation(run)
    assert audit_run(run, OPTIONS).set_index("check").loc["faithfulness_gap", "verdict"] == "look"
    row = audit_run(run, AuditOptions(model=False, hit_pvalue=0.3)).set_index("check").loc["faithfulness_gap"]
    assert row["verdict"] == "n/a" and "of all bases" in row["evidence"], row["evidence"]


def test_a_ratio_of_nothing_to_nothing_is_said_in_words():
    """fresh28: the window-edge evidence printed "0.0 % expected ... (nanx)"."""
    from seqsal.audit_edges import _times
    assert _times(2.5) == "2.50x" and _times(float("nan")) == "no ratio: 0/0" and _times(float("inf")) == "inf x"
