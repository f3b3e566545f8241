"""The method registry (:mod:`seqsal.methods.registry`): its tables, the CLI option map, and the completeness
column that the reference methods add to a run."""
import numpy as np
import pytest
import torch

from seqsal.attribution import Target, saliency
from seqsal.errors import InputError
from seqsal.methods import (
    METHOD_OPTIONS,
    METHODS,
    PROJECTED_BY_DEFAULT,
    REFERENCE_METHODS,
    UNCORRECTED,
    deep_lift_shap,
    gradcam,
    integrated_gradients,
    ism,
    method_params,
    smoothgrad,
)
from tests.run_arrays import dense_arrays


def test_registry_tables():
    """One explicit table: every method, which are corrected, which take references, their CLI options."""
    assert METHODS == {"saliency": saliency, "grad_x_input": saliency, "deepshap": deep_lift_shap,
                       "ig": integrated_gradients, "smoothgrad": smoothgrad, "ism": ism, "gradcam": gradcam}
    assert UNCORRECTED == {"deepshap", "ig", "gradcam"}
    assert REFERENCE_METHODS == {"ig", "deepshap"}
    assert {name for name in METHODS if not PROJECTED_BY_DEFAULT.get(name, True)} == {"saliency"}
    assert METHOD_OPTIONS == {"deepshap": ("references", "baseline", "seed"),
                              "ig": ("steps", "baseline", "references", "seed"),
                              "smoothgrad": ("samples", "noise", "seed"), "ism": ("fast",), "gradcam": ("layer",)}


def test_method_params_checks_options():
    assert method_params("ig", seed=3, steps=4, baseline="uniform", samples=None) == \
        {"steps": 4, "baseline": "uniform", "seed": 3}
    assert method_params("saliency", seed=3, steps=None) == {}
    with pytest.raises(InputError, match='steps does not apply to method="deepshap"'):
        method_params("deepshap", steps=5)
    with pytest.raises(InputError, match="unknown baseline 'ones'"):
        method_params("ig", baseline="ones")


def test_cli_method_options(small_genome, tiny_model, tmp_path):
    from click.testing import CliRunner

    from seqsal.cli import main
    from tests.conftest import write_bed

    genome, _ = small_genome
    model_path, model = tiny_model
    bed = write_bed(tmp_path / "regions.bed", ["chr1\t100\t300\ta\t0\t+", "chr1\t1000\t1200\tb\t0\t-"])
    out = tmp_path / "out"
    args = ["attribute", str(genome), str(bed), "-m", str(model_path), "-o", str(out), "-q", "--device", "cpu",
            "--method", "ig", "--steps", "4", "--baseline", "uniform", "--seed", "3"]
    extra = ["--no-peaks"] if "--no-peaks" in CliRunner().invoke(main, ["attribute", "--help"]).output else []
    result = CliRunner().invoke(main, args + extra)
    assert result.exit_code == 0, result.output
    import json

    record = json.loads((out / "run.json").read_text())
    assert record["parameters"]["method_params"] == {"steps": 4, "baseline": "uniform", "seed": 3}
    stored = dense_arrays(out / "attributions.npz")
    x = torch.from_numpy(stored["one_hot"][:1])
    expected, _ = integrated_gradients(model, x, Target(), steps=4, baseline="uniform")
    assert np.allclose(stored["hypothetical"][0], expected[0].numpy(), atol=1e-5)
    wrong = CliRunner().invoke(main, args[:-6] + ["--method", "deepshap", "--steps", "5", "--force"])
    assert wrong.exit_code == 2 and "--steps does not apply to --method deepshap" in wrong.output


@pytest.mark.parametrize("rc", [False, True])
def test_completeness_error_per_region_in_regions_tsv(small_genome, tiny_model, tmp_path, rc):
    """ig and deepshap runs write Σ attributions - (f(x) - mean f(baselines)) per region, equal to an
    independent computation from the stored maps; gradient methods get no such column."""
    import json

    import pandas as pd

    from seqsal.encode import reverse_complement_one_hot
    from seqsal.pipeline import AttributeOptions, run_attribute
    from tests.conftest import write_bed

    genome, _ = small_genome
    model_path, model = tiny_model
    bed = write_bed(tmp_path / "regions.bed", ["chr1\t100\t300\ta\t0\t+", "chr1\t1000\t1200\tb\t0\t-",
                                               "chr2\t200\t700\tc\t0\t+"])  # c: tiled into 3 windows
    tables = {}
    for method, params in (("ig", {"steps": 2, "baseline": "uniform"}), ("deepshap", {"references": 5}),
                           ("saliency", {})):
        out = tmp_path / method
        run_attribute(str(genome), str(bed), str(model_path), str(out), AttributeOptions(
            method=method, device="cpu", rc=rc, method_params=params), progress=False, peaks=False)
        tables[method] = pd.read_csv(out / "regions.tsv", sep="\t")
        record = json.loads((out / "run.json").read_text())
        assert ("completeness" in record) == (method != "saliency")
    assert "completeness_error" not in tables["saliency"]
    assert tables["deepshap"]["completeness_error"].abs().max() < 1e-4
    ig = tables["ig"]["completeness_error"]
    assert ig.notna().all() and ig.abs().max() > 1e-3  # 2 quadrature nodes: visibly incomplete
    # independent: region a is exactly one model window on the + strand
    stored = dense_arrays(tmp_path / "ig" / "attributions.npz")
    x = torch.from_numpy(stored["one_hot"][:1, :, :200])
    hyp = torch.from_numpy(stored["hypothetical"][:1, :, :200])
    with torch.no_grad():
        fx = model(x)[:, 0]
        fb = model(torch.full_like(x, 0.25))[:, 0]
        if rc:
            fx = 0.5 * (fx + model(reverse_complement_one_hot(x))[:, 0])
    expected = float((hyp * x).sum() - (fx - fb))
    assert ig[0] == pytest.approx(expected, rel=2e-3, abs=1e-6)
    # fresh28: the delta the errors are compared with, per region, and run.json's median of it (it was rebuilt as
    # the region's attribution sum minus the error, which mixes the region's bases with the whole window's)
    assert tables["ig"]["completeness_delta"][0] == pytest.approx(float(fx - fb), rel=2e-3, abs=1e-6)
    summary = json.loads((tmp_path / "ig" / "run.json").read_text())["completeness"]
    assert summary["median_abs_delta"] == pytest.approx(float(tables["ig"]["completeness_delta"].abs().median()))


def test_a_resumed_table_without_completeness_delta_keeps_its_columns():
    """review28b: --resume of an ig run begun by a seqsal without completeness_delta appended 15-field rows under
    its 14-column header (a pandas ParserError, the folder stuck); the rows keep the header's columns."""
    import numpy as np

    from seqsal.pipeline import _region_row
    from seqsal.stitch import RegionResult

    fields = {"name": np.array(["a"]), "chrom": np.array(["chr1"]), "start": np.array([0]), "end": np.array([4]),
              "strand": np.array(["+"]), "padded_bp": np.array([0])}
    result = RegionResult(0, np.eye(4, dtype=np.float32), np.ones((4, 4), np.float32), 1.0, 1, "ok", 0.01, 2.0)
    assert len(_region_row(fields, result, "error").split("\t")) == 14
    assert _region_row(fields, result, True).split("\t")[-2:] == ["0.01", "2"]
