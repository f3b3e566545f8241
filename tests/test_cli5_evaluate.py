"""``seqsal evaluate --methods``: an empty list is refused before the folder is touched, a method named twice is
evaluated once (fresh4's finding 9); a default method the model cannot take (deepshap on a scripted TorchScript
model) is said in a log line of its own, after the progress bar, and in the summary (finding 10)."""
from __future__ import annotations

import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from seqsal.cli import main
from seqsal.errors import InputError
from seqsal.evaluate import evaluate_run
from seqsal.evaluate_inputs import DEFAULT_METHODS, methods_named
from seqsal.pipeline import AttributeOptions, run_attribute
from tests.conftest import write_bed


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 7, padding=3)
        self.head = nn.Linear(6, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)).mean(dim=-1))


@pytest.fixture()
def scripted_run(small_genome, tmp_path):
    """A run folder attributed with a ``torch.jit.script``-ed conv net saved to ``tmp_path``."""
    genome, _ = small_genome
    torch.manual_seed(0)
    model = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(_Net().eval()), str(model))
    bed = write_bed(tmp_path / "regions.bed", [f"chr1\t{s}\t{s + 200}\tr{s}\t0\t+" for s in range(200, 1400, 400)])
    out = tmp_path / "run"
    run_attribute(str(genome), str(bed), str(model), str(out), AttributeOptions(window=200, device="cpu"),
                  progress=False, peaks=False)
    return out


@pytest.mark.parametrize("value", ["", " , ", ","])
def test_an_empty_methods_list_is_refused_before_the_folder_is_touched(scripted_run, value):
    (scripted_run / "evaluation.tsv").write_text("an earlier evaluation\n")
    before = sorted(p.relative_to(scripted_run) for p in scripted_run.rglob("*"))
    result = CliRunner().invoke(main, ["evaluate", str(scripted_run), "--methods", value, "-q"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("seqsal: error: --methods is empty; give one or more of")
    assert (scripted_run / "evaluation.tsv").read_text() == "an earlier evaluation\n"
    assert sorted(p.relative_to(scripted_run) for p in scripted_run.rglob("*")) == before
    with pytest.raises(InputError, match="methods is empty"):
        evaluate_run(str(scripted_run), [])


def test_a_method_named_twice_is_evaluated_once(scripted_run):
    result = CliRunner().invoke(main, ["evaluate", str(scripted_run), "--methods", "saliency,ig,saliency",
                                       "--max-regions", "2", "--steps", "4", "--no-sanity"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(scripted_run / "evaluation.tsv", sep="\t")
    assert table["method"].tolist() == ["random", "saliency", "ig"]
    assert sum("saliency named more than once" in line for line in result.output.splitlines()) == 1
    assert methods_named(["ig", "ig"], None) == (["ig"], True)
    assert methods_named([*DEFAULT_METHODS, "ism"], None) == (list(DEFAULT_METHODS), False)
    assert methods_named("saliency", None) == (["saliency"], True)  # fresh11: was split into its letters
    assert methods_named("saliency, ig", None) == (["saliency", "ig"], True)


def test_a_skipped_default_method_is_a_log_line_of_its_own(scripted_run):
    result = CliRunner().invoke(main, ["evaluate", str(scripted_run), "--max-regions", "2", "--steps", "4",
                                       "--no-sanity"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()  # splits tqdm's carriage returns too
    skipped = [line for line in lines if "skipped deepshap" in line]
    assert len(skipped) == 1 and skipped[0].startswith("seqsal: evaluate: skipped deepshap"), skipped
    assert "TorchScript" in skipped[0] and "nn.Module" in skipped[0]
    assert any(line.startswith("seqsal: deepshap") and "skipped" in line for line in lines), result.output
    table = pd.read_csv(scripted_run / "evaluation.tsv", sep="\t")
    assert "deepshap" not in table["method"].tolist()
