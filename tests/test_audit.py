"""`seqsal audit`: each check on hand-made run folders whose answer is known."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from seqsal import audit_checks as ac
from seqsal.audit import AUDIT_COLUMNS, AuditOptions, audit_run, audit_section
from seqsal.cli import main
from seqsal.io import write_npz

ADAPTER = "AGATCGGAAGAGCACACGTC"
L = 300


def _one_hot(sequences: list[str], length: int) -> np.ndarray:
    x = np.zeros((len(sequences), 4, length), np.float32)
    for i, s in enumerate(sequences):
        for j, base in enumerate(s):
            if base in "ACGT":
                x[i, "ACGT".index(base), j] = 1.0
    return x


def make_run(path, sequences, hyp, predictions=None, strands=None, padded=None, record=None,
             motifs=None, instances=None):
    """A run folder as `seqsal attribute` (and `seqsal motifs`) leave it, from arrays."""
    n = len(sequences)
    path.mkdir(parents=True, exist_ok=True)
    one_hot = _one_hot(sequences, hyp.shape[2])
    lengths = np.array([len(s) for s in sequences], np.int64)
    write_npz(path / "attributions.npz", {"one_hot": one_hot, "hypothetical": hyp.astype(np.float32),
                                          "length": lengths})
    projected = (one_hot * hyp).sum(axis=1)
    starts = np.arange(n) * 1000
    table = pd.DataFrame({
        "index": np.arange(n), "name": [f"r{i}" for i in range(n)], "chrom": "chr1", "start": starts,
        "end": starts + lengths, "strand": strands if strands is not None else ["+"] * n,
        "prediction": predictions if predictions is not None else projected.sum(axis=1),
        "attribution_sum": projected.sum(axis=1), "attribution_max": projected.max(axis=1),
        "frac_N": 0.0, "padded_bp": padded if padded is not None else 0, "n_windows": 1, "status": "ok"})
    table.to_csv(path / "regions.tsv", sep="\t", index=False)
    (path / "run.json").write_text(json.dumps(record or {"parameters": {"window": None, "stride": None}}))
    if motifs is not None:
        motifs.to_csv(path / "motifs.tsv", sep="\t", index=False)
        instances.to_csv(path / "motif_instances.tsv", sep="\t", index=False)
    return path


def random_sequences(rng, n, length=L, gc=0.42):
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    return ["".join(rng.choice(list("ACGT"), size=length, p=p)) for _ in range(n)]


def clean_arrays(rng, n=200):
    """Random sequence; the attribution is noise plus one 'motif' of 8 bp at a random offset per region."""
    sequences = random_sequences(rng, n)
    hyp = rng.normal(0, 0.05, (n, 4, L)).astype(np.float32)
    for i in range(n):
        at = int(rng.integers(40, L - 48))
        hyp[i, :, at:at + 8] += 1.0
    return sequences, hyp


OPTIONS = AuditOptions(model=False)


def verdicts(table):
    return dict(zip(table["check"], table["verdict"]))


def test_clean_folder_is_ok(tmp_path):
    sequences, hyp = clean_arrays(np.random.default_rng(0))
    table = audit_run(make_run(tmp_path / "run", sequences, hyp), OPTIONS)
    assert list(table.columns) == AUDIT_COLUMNS
    assert "shortcut likely" not in set(table["verdict"])
    assert "look" not in set(table["verdict"])
    assert verdicts(table)["positional_mass"] == "ok"
    assert verdicts(table)["motif_position"] == "n/a"  # no motifs.tsv
    assert (tmp_path / "run" / "audit.tsv").is_file() and (tmp_path / "run" / "audit" / "positional_mass.png").is_file()


def _adapter_run(tmp_path, strands):
    rng = np.random.default_rng(1)
    sequences, hyp = clean_arrays(rng)
    offset, carriers = 70, np.arange(0, 200, 3)  # a third of the regions
    rows = []
    for i in carriers:
        if strands[i] == "-":  # the adapter sits at a fixed offset of what the model reads: the reverse strand
            rc = ADAPTER[::-1].translate(str.maketrans("ACGT", "TGCA"))
            at = L - offset - len(ADAPTER)
            sequences[i] = sequences[i][:at] + rc + sequences[i][at + len(ADAPTER):]
        else:
            at = offset
            sequences[i] = sequences[i][:at] + ADAPTER + sequences[i][at + len(ADAPTER):]
        hyp[i, :, at:at + len(ADAPTER)] += 2.0
        rows.append({"motif": "pos_1", "region_index": i, "start": i * 1000 + at, "end": i * 1000 + at + 20})
    motifs = pd.DataFrame([
        {"motif": "pos_1", "sign": "+", "n_seqlets": len(carriers), "width": 20, "consensus": ADAPTER,
         "contribution": 40.0, "match_id": "MA0001.1", "match_name": "X", "match_qvalue": 0.6},
        {"motif": "pos_2", "sign": "+", "n_seqlets": 150, "width": 8, "consensus": "TGACTCAT", "contribution": 8.0,
         "match_id": "MA0099.3", "match_name": "FOS::JUN", "match_qvalue": 1e-4}])
    instances = pd.DataFrame(rows)
    more = rng.integers(40, L - 48, 150)
    instances = pd.concat([instances, pd.DataFrame({
        "motif": "pos_2", "region_index": np.arange(150), "start": np.arange(150) * 1000 + more,
        "end": np.arange(150) * 1000 + more + 8})])
    return make_run(tmp_path / "run", sequences, hyp, strands=strands, motifs=motifs, instances=instances)


@pytest.mark.parametrize("stranded", [False, True])
def test_planted_fixed_offset_kmer_is_a_likely_shortcut_named_by_offset_and_sequence(tmp_path, stranded):
    strands = [("+", "-", ".")[i % 3] if stranded else "+" for i in range(200)]
    table = audit_run(_adapter_run(tmp_path, strands), OPTIONS).set_index("check")
    mass = table.loc["positional_mass"]
    assert mass["verdict"] == "shortcut likely"
    assert "70-90" in mass["evidence"] and ADAPTER in mass["evidence"]
    position = table.loc[["motif_position"]]
    flagged = position[position["verdict"] == "shortcut likely"]
    assert len(flagged) == 1 and "pos_1" in flagged["evidence"].iloc[0] and "of offset 70" in flagged["evidence"].iloc[0]
    unmatched = table.loc["unmatched_motif"]
    assert unmatched["verdict"] == "shortcut likely"
    assert f"consensus {ADAPTER}" in unmatched["evidence"] and "in 67 regions verbatim" in unmatched["evidence"]


def test_gc_correlated_predictions_are_flagged(tmp_path):
    rng = np.random.default_rng(2)
    gcs = rng.uniform(0.3, 0.6, 200)
    sequences = [random_sequences(rng, 1, gc=g)[0] for g in gcs]
    _, hyp = clean_arrays(rng)
    measured, _ = ac.composition(_one_hot(sequences, L), np.full(200, L))
    table = audit_run(make_run(tmp_path / "run", sequences, hyp, predictions=3 * measured + rng.normal(0, 0.01, 200)),
                      OPTIONS)
    row = table.set_index("check").loc["composition_correlation"]
    assert row["verdict"] == "shortcut likely" and row["value"] > 0.9 and "prediction ~ GC" in row["evidence"]


def test_attribution_on_padded_bases_is_flagged(tmp_path):
    rng = np.random.default_rng(3)
    sequences, hyp = clean_arrays(rng)
    padded = np.zeros(200, int)
    for i in range(0, 200, 4):  # a quarter of the regions run 50 bp past the chromosome end
        sequences[i] = sequences[i][:L - 50] + "N" * 50
        hyp[i, :, L - 50:] = 3.0
        padded[i] = 50
    table = audit_run(make_run(tmp_path / "run", sequences, hyp, padded=padded), OPTIONS).set_index("check")
    assert table.loc["padding_and_N", "verdict"] == "shortcut likely"
    evidence = table.loc["padding_and_N", "evidence"]
    assert "2500 N bases in 50 regions" in evidence and "read 2500 bases past chromosome ends as N in 50" in evidence
    # the same Ns with a gradient like any other base's: no reliance
    hyp[:, :, :] = np.where(hyp == 3.0, 0.05, hyp)
    table = audit_run(make_run(tmp_path / "run2", sequences, hyp, padded=padded), OPTIONS).set_index("check")
    assert table.loc["padding_and_N", "verdict"] == "ok"


def test_all_n_regions_are_not_counted_as_n_bases_the_model_ignores(tmp_path):
    """fresh25: an all-N region's map is zeroed by construction, not measured; its bases entered the N mean (a
    composition model's ratio 1.00 read 0.63 with one 300-bp all-N region), and a run of all-N regions alone read
    `nan against nan`, ok."""
    rng = np.random.default_rng(7)
    sequences, hyp = clean_arrays(rng, 100)
    hyp[:] = 0.3  # every base, N or not, gets the same gradient: N treated like any base
    for i in range(0, 100, 5):
        sequences[i] = sequences[i][:L - 40] + "N" * 40
    base = audit_run(make_run(tmp_path / "base", sequences, hyp), OPTIONS, write=False).set_index("check")
    sequences[1] = "N" * L  # one all-N region, attributed as zeros
    hyp[1] = 0.0
    table = audit_run(make_run(tmp_path / "run", sequences, hyp), OPTIONS, write=False).set_index("check")
    assert table.loc["padding_and_N", "value"] == pytest.approx(base.loc["padding_and_N", "value"]) == 1.0
    assert "800 N bases in 20 regions" in table.loc["padding_and_N", "evidence"]
    only = audit_run(make_run(tmp_path / "only", ["N" * L] * 3, np.zeros((3, 4, L))), OPTIONS, write=False)
    assert only.set_index("check").loc["padding_and_N", "verdict"] == "n/a"


def test_a_fixed_offset_shortcut_in_a_sparse_flank_is_found_by_the_positional_null():
    """fresh25: on a sparse map (a max-pooled PWM scanner) the bins of the flanks hold almost nothing, so each
    bin divided by its own tiny null mean made the null's maxima large and a planted 14-bp adapter at a fixed
    offset in half the regions came out p 0.07 (`ok`); its own local-shift null gave p 0.01."""
    rng = np.random.default_rng(1)
    track = np.zeros((120, 300))
    for i in range(120):  # summit-centred motifs, nothing in the flanks
        at = int(np.clip(rng.normal(150, 15), 20, 270))
        track[i, at:at + 8] = 1.0
    lengths = np.full(120, 300)
    clean = [ac.positional_concentration(track, lengths, np.random.default_rng(s))["pvalue"] for s in range(3)]
    track[::2, 40:54] += 0.4  # the adapter
    found = [ac.positional_concentration(track, lengths, np.random.default_rng(s)) for s in range(3)]
    assert min(clean) > 0.1
    assert all(r["pvalue"] <= OPTIONS.alpha and r["bin"] == 40 for r in found), [r["pvalue"] for r in found]


def test_window_edge_reliance_is_flagged(tmp_path):
    rng = np.random.default_rng(4)
    sequences, hyp = clean_arrays(rng)
    hyp[:, :, :6] += 2.0  # the model keys on where its window starts
    record = {"parameters": {"window": L, "stride": L}}
    table = audit_run(make_run(tmp_path / "run", sequences, hyp, record=record), OPTIONS).set_index("check")
    assert table.loc["window_edges", "verdict"] == "shortcut likely"
    assert table.loc["positional_mass", "verdict"] == "shortcut likely"
    assert "offsets 0-" in table.loc["positional_mass", "evidence"]


def test_soft_masked_reliance_reads_the_genome_case(tmp_path):
    rng = np.random.default_rng(5)
    sequences, hyp = clean_arrays(rng, n=100)
    genome = []
    for i, s in enumerate(sequences):
        at = 100 + (i % 7) * 10
        genome.append(s[:at] + s[at:at + 40].lower() + s[at + 40:] + "A" * (1000 - L))
        hyp[i, :, at:at + 40] += 1.5
    (tmp_path / "g.fa").write_text(">chr1\n" + "".join(genome) + "\n")
    record = {"genome": str(tmp_path / "g.fa"), "parameters": {"window": None, "stride": None}}
    table = audit_run(make_run(tmp_path / "run", sequences, hyp, record=record), OPTIONS).set_index("check")
    row = table.loc["soft_masked"]
    assert row["verdict"] == "shortcut likely" and row["value"] > 3
    # same genome, attribution not on the lowercase stretch
    _, clean = clean_arrays(np.random.default_rng(5), n=100)
    table = audit_run(make_run(tmp_path / "run2", sequences, clean, record=record), OPTIONS).set_index("check")
    assert table.loc["soft_masked", "verdict"] == "ok"


def test_cli_strict_exit_code_and_report_section(tmp_path):
    strands = ["+"] * 200
    run = _adapter_run(tmp_path, strands)
    result = CliRunner().invoke(main, ["audit", str(run), "--no-model", "--strict", "-q"])
    assert result.exit_code == 3, result.output
    assert "shortcut likely" in result.output
    assert "shortcut likely" in audit_section(run) and "data:image/png" in audit_section(run)
    sequences, hyp = clean_arrays(np.random.default_rng(0))
    clean = make_run(tmp_path / "clean", sequences, hyp)
    assert CliRunner().invoke(main, ["audit", str(clean), "--no-model", "--strict", "-q"]).exit_code == 0
    assert "No audit.tsv" in audit_section(tmp_path / "elsewhere")


def test_missing_folder_is_one_line_error(tmp_path):
    result = CliRunner().invoke(main, ["audit", str(tmp_path)])
    assert result.exit_code == 2 and "attributions.npz not found" in result.output


def test_pure_statistics():
    assert ac.orient(np.arange(6.0).reshape(1, 6), np.array([4]), np.array([True])).tolist() == [[3, 2, 1, 0, 4, 5]]
    assert ac.poisson_upper(0, 2.0) == 1.0
    assert ac.poisson_upper(3, 2.0) == pytest.approx(1 - np.exp(-2) * (1 + 2 + 2), rel=1e-9)
    rng = np.random.default_rng(0)
    piled = ac.offset_clustering(np.full(50, 100), np.full(50, 280), rng)
    spread = ac.offset_clustering(rng.integers(0, 280, 50), np.full(50, 280), rng)
    assert piled["share"] == 1.0 and piled["pvalue"] < 0.01 and piled["offset"] <= 100
    assert spread["pvalue"] > 0.01
    assert ac.verbatim_regions(["AAACGTTT", "GGGG"], "aacg") == 1
    assert ac.verbatim_regions(["CGTT"], "AACG") == 1  # the reverse complement counts


def test_a_short_tf_core_the_database_lacks_is_not_called_a_shortcut(tmp_path):
    """AP-1's 7-bp core planted at random offsets in half the regions, carrying most of the contribution, unmatched
    (the database lacks it): repeated verbatim far beyond chance, as a TF's core is, but too short to be a copied
    sequence: `look`, not `shortcut likely` (which `seqsal audit --strict` turns into exit 3). The 20-bp adapter of
    the test above, as long and as verbatim, stays a likely shortcut."""
    rng = np.random.default_rng(4)
    sequences, hyp = clean_arrays(rng)
    core, rows = "TGAGTCA", []
    for i in range(0, 200, 2):
        at = int(rng.integers(20, L - 30))
        sequences[i] = sequences[i][:at] + core + sequences[i][at + len(core):]
        hyp[i, :, at:at + len(core)] += 2.0
        rows.append({"motif": "pos_1", "region_index": i, "start": i * 1000 + at, "end": i * 1000 + at + len(core)})
    motifs = pd.DataFrame([{"motif": "pos_1", "sign": "+", "n_seqlets": len(rows), "width": len(core),
                            "consensus": core, "contribution": 14.0, "match_id": "MA0041.1", "match_name": "FOXI1",
                            "match_qvalue": 0.97}])
    table = audit_run(make_run(tmp_path / "run", sequences, hyp, motifs=motifs, instances=pd.DataFrame(rows)),
                      OPTIONS).set_index("check")
    unmatched = table.loc["unmatched_motif"]
    assert unmatched["verdict"] == "look" and unmatched["pvalue"] < 1e-6
    assert re.search(r"in 1\d\d regions verbatim", unmatched["evidence"]) and "shorter than 12 bp" in unmatched["evidence"]
    assert "shortcut likely" not in set(table["verdict"])


@pytest.mark.parametrize("bad", [{"bin_bp": 0}, {"jitter": 0}, {"position_rows": 0}, {"gap_rows": 0},
                                 {"alpha": 2.0}, {"alpha": float("nan")}, {"rho_look": float("inf")}])
def test_audit_options_refuse_values_no_check_can_use(bad):
    """fresh8: bin_bp=0 raised ZeroDivisionError, jitter=0 a numpy error, position_rows=0 gave `ok` on no data."""
    from seqsal.audit_inputs import AuditOptions
    from seqsal.errors import InputError

    with pytest.raises(InputError, match="AuditOptions"):
        AuditOptions(**bad)


@pytest.mark.parametrize("bad, words", [({"bin_bp": 2.5}, r"bin_bp=2.5: a size or count is a whole number"),
                                        ({"shuffles": True}, "shuffles=True"), ({"seed": 1.0}, "seed=1.0"),
                                        ({"rho_look": 0.8}, r"rho_look \(0.8\) > rho_shortcut \(0.7\)"),
                                        ({"edge_excess_shortcut": 0.01}, "edge_excess_look")])
def test_audit_options_refuse_fractional_counts_and_thresholds_in_the_wrong_order(bad, words):
    """A fractional bin width or sample size ran (or failed deep in numpy); a look threshold above its shortcut
    one graded a check `shortcut likely` before `look`."""
    from seqsal.audit_inputs import AuditOptions
    from seqsal.errors import InputError

    with pytest.raises(InputError, match=words):
        AuditOptions(**bad)
    AuditOptions(rho_look=0.7, bin_bp=np.int64(5))  # equal thresholds and numpy integers are fine


def test_regions_zeroed_for_nonfinite_attributions_are_not_audited(tmp_path):
    """fresh16: with ``--on-error skip`` the regions whose model output was NaN are stored as zeros; their flat
    track "peaked" at base 0, so 14 of 20 regions were a likely window-edge shortcut."""
    rng = np.random.default_rng(5)
    sequences, hyp = clean_arrays(rng, 200)
    hyp[:80] = 0.0
    folder = make_run(tmp_path / "run", sequences, hyp)
    table = pd.read_csv(folder / "regions.tsv", sep="\t")
    table.loc[:79, "status"] = "nonfinite"
    table.loc[:79, "prediction"] = np.nan
    table.to_csv(folder / "regions.tsv", sep="\t", index=False)
    result = audit_run(folder, OPTIONS, write=False).set_index("check")
    assert result.loc["window_edges", "verdict"] == "ok", result.loc["window_edges", "evidence"]
    assert "of 120 regions" in result.loc["window_edges", "evidence"]


def test_regions_whose_map_is_all_zero_or_constant_are_not_window_edge_peaks(tmp_path):
    """fresh25: a ReLU-gated model (53 of 356 demo regions predicting 0) or a model of composition alone (every
    base alike) gives maps with no strongest stretch; their first offset counted as a peak at the window edge, so
    the audit said `shortcut likely` (and the workflow's strict audit failed)."""
    rng = np.random.default_rng(6)
    sequences, hyp = clean_arrays(rng, 200)
    hyp[:60] = 0.0  # inactive windows: all-zero maps
    one_hot = _one_hot(sequences[60:80], L)
    hyp[60:80] = np.where(one_hot > 0, 0.00625, 0.0)  # |contribution| 0.00625 on every base
    record = {"parameters": {"window": L, "stride": L}}
    result = audit_run(make_run(tmp_path / "run", sequences, hyp, record=record), OPTIONS, write=False)
    evidence = result.set_index("check").loc["window_edges", "evidence"]
    result = result.set_index("check")
    assert result.loc["window_edges", "verdict"] == "ok", evidence
    assert "of 120 regions" in evidence and "80 regions whose map is the same on every base" in evidence
    hyp[:80] = 0.0
    hyp[80:] = 0.0
    result = audit_run(make_run(tmp_path / "flat", sequences, hyp, record=record), OPTIONS, write=False)
    result = result.set_index("check")
    assert result.loc["window_edges", "verdict"] == "n/a", result.loc["window_edges", "evidence"]


def test_shuffle_response_without_finite_predictions_is_not_graded():
    from seqsal.audit_composition import _shuffle_row

    nan = np.full(10, np.nan)
    assert _shuffle_row("s", nan, nan, "src", OPTIONS)["verdict"] == "n/a"
    rng = np.random.default_rng(0)
    original = np.r_[rng.normal(size=50), np.nan]
    graded = _shuffle_row("s", original, original * 0.9, "src", OPTIONS)
    assert graded["verdict"] != "n/a" and "1 of 51 with a non-finite prediction left out" in graded["evidence"]


def test_motif_position_counts_only_the_motifs_it_tests_in_its_bonferroni(tmp_path):
    """fresh24b: a motif of fewer than 10 instances was not tested but counted ("5 motifs tested" beside
    "Bonferroni over 6 motifs"): p-values were multiplied by the untested too."""
    run = _adapter_run(tmp_path, ["+"] * 200)
    motifs = pd.read_csv(run / "motifs.tsv", sep="\t")
    few = motifs.iloc[[1]].assign(motif="pos_3")
    pd.concat([motifs, few]).to_csv(run / "motifs.tsv", sep="\t", index=False)
    instances = pd.read_csv(run / "motif_instances.tsv", sep="\t")
    extra = instances[instances["motif"] == "pos_2"].head(5).assign(motif="pos_3")
    pd.concat([instances, extra]).to_csv(run / "motif_instances.tsv", sep="\t", index=False)
    position = audit_run(run, OPTIONS).set_index("check").loc[["motif_position"]]
    assert position["reference"].str.contains("Bonferroni over 2 motifs").all(), position["reference"].tolist()
