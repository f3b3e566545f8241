"""Issue 14, methods through the command line: DeepSHAP on torch.export archives, completeness errors as errors
(``--allow-incomplete``), determinism probes, Grad-CAM's layers and saliency's bigWig track.

``CASES`` are the refusals (exit 2, one line, nothing written); ``benchmarks/bad_inputs.py`` runs them for the table
in ``benchmarks/RESULTS.md``.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from seqsal.models import load_model
from seqsal.pipeline import AttributeOptions, run_attribute
from seqsal.shards import merge_runs
from tests.test_reliability import Case, Job, invoke, make_job, run_case
from tests.run_arrays import dense_arrays

EVAL_ADVICE = "export or trace the model in eval mode (call model.eval() before torch.export.export or torch.jit.trace)"


class Small(nn.Module):
    """conv -> activation -> max pool -> linear, input (N, 4, 200); ``activation`` names the form."""

    def __init__(self, activation: str, batch_norm: bool = False, dropout: float = 0.0):
        super().__init__()
        torch.manual_seed(3)
        self.activation = activation
        self.conv = nn.Conv1d(4, 8, 7, padding=3)
        self.norm = nn.BatchNorm1d(8) if batch_norm else nn.Identity()
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(8 * 50, 2)

    def forward(self, x):
        h = self.norm(self.conv(x))
        if self.activation == "maximum":
            h = torch.maximum(h, 0.1 * h)
        elif self.activation == "where":
            h = torch.where(h > 0, h, 0)
        else:
            h = torch.relu(h)
        return self.head(self.drop(nn.functional.max_pool1d(h, 4).flatten(1)))


def _export(model: nn.Module, path: Path, length: int = 200) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(model, (torch.zeros(4, 4, length),),
                                      dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(path))
    return path


def _pt2(job: Job, activation: str, train: bool = False, **kwargs) -> Path:
    model = Small(activation, **kwargs)
    return _export(model.train() if train else model.eval(), job.root / f"{activation}_{train}.pt2")


def _traced_in_training_mode(job: Job) -> Path:
    path = job.root / "traced.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(Small("relu", dropout=0.3).train(), torch.zeros(4, 4, 200), check_trace=False)
    torch.jit.save(traced, str(path))
    return path


_DEEPSHAP = ["--method", "deepshap", "--references", "4"]
CASES: list[Case] = [
    Case("deepshap_pt2_maximum", "deepshap: a .pt2 computing torch.maximum(h, 0.1 * h)",
         lambda j: j.args(model=_pt2(j, "maximum"), extra=_DEEPSHAP),
         "deepshap cannot handle aten.maximum.default in layer 'the exported graph' (a function of two tensors that "
         "both depend on the sequence"),
    Case("deepshap_pt2_where_mask", "deepshap: a .pt2 computing torch.where(h > 0, h, 0)",
         lambda j: j.args(model=_pt2(j, "where"), extra=_DEEPSHAP),
         "deepshap cannot handle aten.gt.Scalar in layer 'the exported graph' (a comparison or ranking of "
         "sequence-dependent values"),
    Case("ig_incomplete", "ig with --steps 1: completeness error beyond tolerance",
         lambda j: j.args(extra=["--method", "ig", "--steps", "1"]),
         "raise --steps; if more steps do not help, the model's gradient is not its derivative"),
    Case("model_pt2_training_dropout", ".pt2 exported in training mode (batch norm + dropout)",
         lambda j: j.args(model=_pt2(j, "relu", train=True, batch_norm=True, dropout=0.3)),
         "the model gives different outputs for the same input"),
    Case("model_pt2_training_batchnorm", ".pt2 exported in training mode (batch norm only)",
         lambda j: j.args(model=_pt2(j, "relu", train=True, batch_norm=True)),
         "the model's output for a window depends on the other windows of its batch"),
    Case("model_traced_training", "TorchScript traced in training mode (dropout)",
         lambda j: j.args(model=_traced_in_training_mode(j)), "dropout or another random layer is active"),
    Case("gradcam_layer_unknown", "gradcam --layer that is not a layer of the model",
         lambda j: j.args(extra=["--method", "gradcam", "--layer", "features.9"]),
         "--layer 'features.9' is not a module whose feature maps (N, C, L) the target depends on; valid layers: "
         "features, features.0, features.1, features.2, features.3, features.4, features.5, features.6, features.7"),
]


@pytest.fixture()
def job(tmp_path) -> Job:
    return make_job(tmp_path / "job")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_refusal_is_one_clean_line_and_exit_2(case, job):
    result, before, after = run_case(case, job)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("seqsal: error: ") and case.expect in lines[0], result.output
    assert "Traceback" not in result.output
    assert after == before, "an output file was created or changed"


def test_deepshap_refusal_line_is_exact(job):
    result = invoke(job.args(model=_pt2(job, "maximum"), extra=_DEEPSHAP))
    assert result.output == (
        "seqsal: error: deepshap cannot handle aten.maximum.default in layer 'the exported graph' (a function of two "
        "tensors that both depend on the sequence: no rescale rule; write max(h, a * h) as leaky_relu(h, a)); use "
        "--method ig or ism for this model\n")
    path = _pt2(job, "relu", train=True, batch_norm=True, dropout=0.3)
    result = invoke(job.args(model=path))
    assert result.exit_code == 2 and result.output.startswith(f"seqsal: error: {path}: the model gives different ")
    assert result.output.endswith(f"(a model exported or traced in training mode); {EVAL_ADVICE}\n")


def test_deepshap_of_an_exported_model_equals_the_module_through_the_cli(job):
    """The job's model exported to .pt2 (dynamic batch): the same maps as its .safetensors to 1e-5, and both sum
    to their deltas (run.json's completeness)."""
    exported = _export(load_model(job.model).module, job.root / "model.pt2")
    records, arrays = [], []
    for model, out in ((job.model, "safetensors"), (exported, "pt2")):
        result = invoke(["attribute", str(job.genome), str(job.bed), "--model", str(model), "-o",
                         str(job.root / out), "-q", "--no-peaks", *_DEEPSHAP])
        assert result.exit_code == 0, result.output
        records.append(json.loads((job.root / out / "run.json").read_text()))
        arrays.append(dense_arrays(job.root / out / "attributions.npz")["hypothetical"])
    np.testing.assert_allclose(arrays[1], arrays[0], rtol=0, atol=1e-5)
    assert np.abs(arrays[0]).max() > 1e-3
    for record in records:
        assert record["completeness"]["max_abs_error"] < 1e-5, record["completeness"]


def test_allow_incomplete_keeps_the_run_and_records_it(job):
    result = invoke(job.args(extra=["--method", "ig", "--steps", "1", "--allow-incomplete", "--no-peaks"]))
    assert result.exit_code == 0, result.output
    record = json.loads((job.out / "run.json").read_text())
    assert record["parameters"]["allow_incomplete"] is True
    assert record["completeness"]["max_abs_error"] > 0.05 * record["completeness"]["median_abs_delta"]
    result = invoke(job.args(extra=["--method", "ig", "--no-peaks", "--force"]))  # 32 points: within tolerance
    assert result.exit_code == 0, result.output
    assert json.loads((job.out / "run.json").read_text())["parameters"]["allow_incomplete"] is False


def _bigwig_values(path: Path, chrom: str, start: int, end: int) -> np.ndarray:
    import pyBigWig

    handle = pyBigWig.open(str(path))
    try:
        return np.array(handle.values(chrom, start, end), dtype=np.float32)
    finally:
        handle.close()


def test_saliency_writes_the_gradient_magnitude_track(job):
    """bigWig: max over A/C/G/T of |dy/dx| (Simonyan et al. 2013); npz: the signed gradient, as grad_x_input's;
    peaks are called on the signed projection (run.json says so)."""
    folders = {}
    for method in ("saliency", "grad_x_input"):
        folders[method] = job.root / method
        result = invoke(["attribute", str(job.genome), str(job.bed), "--model", str(job.model), "-o",
                         str(folders[method]), "-q", "--method", method])
        assert result.exit_code == 0, result.output
    arrays = {method: dense_arrays(folder / "attributions.npz") for method, folder in folders.items()}
    np.testing.assert_array_equal(arrays["saliency"]["hypothetical"], arrays["grad_x_input"]["hypothetical"])
    hypothetical, one_hot = arrays["saliency"]["hypothetical"], arrays["saliency"]["one_hot"]
    for row, (chrom, start, end, strand) in enumerate([("chr1", 100, 300, "+"), ("chr2", 500, 700, "-")]):
        magnitude = np.abs(hypothetical[row]).max(axis=0)
        np.testing.assert_allclose(_bigwig_values(folders["saliency"] / "attributions.bw", chrom, start, end),
                                   magnitude, rtol=1e-6, atol=0)
        projected = (hypothetical[row] * one_hot[row]).sum(axis=0)
        np.testing.assert_allclose(_bigwig_values(folders["grad_x_input"] / "attributions.bw", chrom, start, end),
                                   projected, rtol=1e-6, atol=0)
        assert (magnitude >= np.abs(projected) - 1e-7).all() and (magnitude > np.abs(projected) + 1e-6).any()
    record = json.loads((folders["saliency"] / "run.json").read_text())
    assert record["tracks"]["bigwig"].startswith("max over A/C/G/T of |hypothetical|")
    assert record["tracks"]["peaks"].startswith("projected (signed") and "peaks" in record


def test_merged_saliency_shards_write_the_same_track(job):
    def run(out, shard=None):
        return run_attribute(str(job.genome), str(job.bed), str(job.model), str(job.root / out),
                             AttributeOptions(method="saliency", batch_size=4), progress=False, shard=shard,
                             peaks=False)

    run("single")
    for i in (1, 2):
        run(f"s{i}", (i, 2))
    merge_runs([job.root / "s1", job.root / "s2"], job.root / "merged")
    assert (job.root / "merged" / "attributions.bw").read_bytes() == (job.root / "single" / "attributions.bw").read_bytes()
