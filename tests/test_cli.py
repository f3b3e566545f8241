import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pytest
from click.testing import CliRunner

import seqsal
from seqsal.cli import main
from seqsal.encode import one_hot_encode
from tests.conftest import write_bed
from tests.run_arrays import dense_arrays

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"


def run(args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


@pytest.fixture()
def job(small_genome, tiny_model, tmp_path):
    genome, sequences = small_genome
    model, _ = tiny_model
    bed = write_bed(tmp_path / "regions.bed", [
        "chr1\t100\t300\tplus\t0\t+",
        "chr1\t250\t450\tminus\t0\t-",        # overlaps the first: merged by the mean in the bigWig
        "chr2\t2900\t3100\tclipped\t0\t.",   # runs 100 bp past the end of chr2
        "chr1\t1000\t1600\tlong\t0\t+",      # tiled with the 200-bp window
        "chr2\t2000\t2100\tallN\t0\t+",      # all N
    ])
    return genome, bed, model, sequences


def test_attribute_end_to_end_outputs(job, tmp_path):
    genome, bed, model, sequences = job
    out = tmp_path / "out"
    result = run(["attribute", genome, bed, "--model", model, "-o", out, "--quiet", "--stride", "100"])
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out)) == ["attributions.bw", "attributions.npz", "elements.bed", "elements.tsv",
                                       "null.npz", "regions.tsv", "run.json", "seqlets.bed", "seqlets.tsv"]
    data = dense_arrays(out / "attributions.npz")
    assert data["one_hot"].shape == (5, 4, 600) and data["hypothetical"].shape == (5, 4, 600)
    assert data["one_hot"].dtype == np.float32
    np.testing.assert_array_equal(data["length"], [200, 200, 200, 600, 100])
    np.testing.assert_array_equal(data["one_hot"][0, :, :200], one_hot_encode(sequences["chr1"][100:300]))
    assert not data["one_hot"][0, :, 200:].any()

    table = pd.read_csv(out / "regions.tsv", sep="\t")
    assert list(table.columns[:6]) == ["index", "name", "chrom", "start", "end", "strand"]
    assert list(table["name"]) == ["plus", "minus", "clipped", "long", "allN"]
    assert list(table["padded_bp"]) == [0, 0, 100, 0, 0]
    assert table.loc[4, "frac_N"] == 1.0 and table.loc[4, "status"] == "all_N"
    assert table.loc[3, "n_windows"] == 5

    projected = (data["hypothetical"] * data["one_hot"]).sum(axis=1)
    np.testing.assert_allclose(table["attribution_sum"], [projected[i, :n].sum() for i, n in enumerate(data["length"])],
                               rtol=1e-4, atol=1e-5)

    bw = pyBigWig.open(str(out / "attributions.bw"))
    assert bw.chroms() == {"chr1": 5000, "chr2": 3000}
    chr1 = np.nan_to_num(np.array(bw.values("chr1", 0, 5000)))
    np.testing.assert_allclose(chr1[100:250], projected[0, :150], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(chr1[250:300], (projected[0, 150:200] + projected[1, :50]) / 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(chr1[300:450], projected[1, 50:200], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(chr1[1000:1600], projected[3, :600], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bw.values("chr2", 2900, 3000), projected[2, :100], rtol=1e-5, atol=1e-6)
    bw.close()

    record = json.loads((out / "run.json").read_text())
    assert record["method"] == "grad_x_input" and record["model"]["sha256"]
    assert record["parameters"]["window"] == 200 and record["parameters"]["stride"] == 100
    assert record["seqsal_version"] == seqsal.__version__


def test_minus_strand_track_in_bigwig_matches_api(job, tmp_path):
    genome, bed, model, _ = job
    out = tmp_path / "o"
    assert run(["attribute", genome, bed, "-m", model, "-o", out, "-q"]).exit_code == 0
    results = list(seqsal.iter_attributions(str(genome), str(bed), str(model)))
    data = dense_arrays(out / "attributions.npz")
    np.testing.assert_allclose(data["hypothetical"][1, :, :200], results[1].hypothetical, rtol=1e-6)


def test_same_seed_same_bytes(job, tmp_path):
    genome, bed, model, _ = job
    for name in ("a", "b"):
        assert run(["attribute", genome, bed, "-m", model, "-o", tmp_path / name, "-q", "--seed", "3"]).exit_code == 0
    for output in ("attributions.npz", "regions.tsv", "attributions.bw"):
        assert (tmp_path / "a" / output).read_bytes() == (tmp_path / "b" / output).read_bytes()


def test_existing_output_refused_unless_force_or_resume(job, tmp_path):
    genome, bed, model, _ = job
    out = tmp_path / "o"
    assert run(["attribute", genome, bed, "-m", model, "-o", out, "-q"]).exit_code == 0
    result = run(["attribute", genome, bed, "-m", model, "-o", out, "-q"])
    assert result.exit_code == 2 and "holds a finished run; pass --force" in result.output  # issue 15: not --resume
    assert run(["attribute", genome, bed, "-m", model, "-o", out, "-q", "--resume"]).exit_code == 0
    assert run(["attribute", genome, bed, "-m", model, "-o", out, "-q", "--force"]).exit_code == 0


@pytest.mark.parametrize("bed_line, message", [
    ("chr1\tx\t10", "not an integer"),
    ("chr1\t50\t10", "start (50) >= end (10)"),
    ("1\t10\t50", "different 'chr' naming"),
    ("chrUn\t10\t50", "not in the FASTA"),
    ("chr1\t-1\t50", "negative"),
])
def test_bad_bed_gives_one_line_error_and_exit_2(job, tmp_path, bed_line, message):
    genome, _, model, _ = job
    bed = write_bed(tmp_path / "bad.bed", ["chr1\t1\t300", bed_line])
    out = tmp_path / "o"
    result = run(["attribute", genome, bed, "-m", model, "-o", out, "-q"])
    assert result.exit_code == 2
    assert message in result.output and "bad.bed:2:" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_bad_options(job, tmp_path):
    genome, bed, model, _ = job
    out = tmp_path / "o"
    result = run(["attribute", genome, bed, "-m", model, "-o", out, "--target", "9"])
    assert result.exit_code == 2 and "2 tasks" in result.output
    result = run(["attribute", genome, bed, "-m", model, "-o", out, "--stride", "500"])
    assert result.exit_code == 2 and "stride" in result.output
    result = run(["attribute", genome, bed, "-m", tmp_path / "missing.pt", "-o", out])
    assert result.exit_code == 2 and "not found" in result.output
    result = run(["attribute", tmp_path / "missing.fa", bed, "-m", model, "-o", out])
    assert result.exit_code == 2 and "FASTA file not found" in result.output


def test_demo_runs_through_the_installed_console_script(tmp_path):
    out = tmp_path / "demo"
    head = tmp_path / "head.bed"
    head.write_text("".join((DEMO / "regions.bed").read_text().splitlines(keepends=True)[:41]))
    completed = subprocess.run(
        [sys.executable, "-m", "seqsal.cli", "attribute", DEMO / "genome.fa", head, "--model",
         DEMO / "model.safetensors", "-o", out],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    table = pd.read_csv(out / "regions.tsv", sep="\t")
    assert len(table) == 40 and (table["status"] == "ok").all()
    assert "region" in completed.stderr  # progress bar on stderr
    assert completed.stdout == ""


@pytest.mark.parametrize("argv", [["check-seqlets", "RUN", "--alpha", "nan"], ["call-peaks", "RUN", "--fdr", "inf"],
                                  ["motifs", "RUN", "--instance-fdr", "nan"],
                                  ["train", "G", "L", "-o", "m.safetensors", "--valid-chroms", "chr2",
                                   "--fourier-positives", "nan"]])
def test_a_float_option_refuses_nan_and_inf(argv, tmp_path):
    """fresh8: click's FloatRange let `--alpha nan` through: check-seqlets wrote an all-False table over the good
    one; every float option is cli_common.Finite now."""
    from click.testing import CliRunner

    from seqsal.cli import main

    result = CliRunner().invoke(main, [str(tmp_path) if a in ("RUN", "G", "L") else a for a in argv])
    assert result.exit_code == 2 and "is not a finite number" in result.output, result.output
