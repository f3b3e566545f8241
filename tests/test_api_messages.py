"""The options an error names are spelled for whoever reads it: the notebook API's keywords
(``target="output=3"``, ``fdr``, ``on_error``) in ``str(error)``, the command line's flags
(``--target output=3``) in what ``seqsal`` prints. One message, two spellings (:func:`seqsal.errors.option`)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

import seqsal
from seqsal.cli import main
from seqsal.errors import InputError, cli_flag, option, spell


class TwoTasks(nn.Module):
    """``(N, 4, L) -> (N, 2)``: one convolution, averaged over positions."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv1d(4, 2, 5)

    def forward(self, x):
        return self.conv(x).mean(dim=2)


def _x(n: int = 3, length: int = 40) -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.from_numpy(np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1).copy())


def test_an_option_is_a_flag_on_the_command_line_and_a_keyword_in_the_api():
    text = (f"{option('target', 'output=5')} is out of range; drop {option('window')}; "
            f"{option('fdr', 0.5)} or {option('on_error', 'skip')}")
    assert spell(text, "api") == 'target="output=5" is out of range; drop window; fdr=0.5 or on_error="skip"'
    assert spell(text, "cli") == "--target output=5 is out of range; drop --window; --fdr 0.5 or --on-error skip"
    error = InputError(text, "regions.bed", 3)
    assert str(error) == "regions.bed:3: " + spell(text, "api")
    assert error.cli_message() == "regions.bed:3: " + spell(text, "cli")
    assert cli_flag("min_null_bases") == "--min-null-bases"
    with pytest.raises(ValueError, match="unknown spelling"):
        spell(text, "html")


CASES = {
    "tuple index of a tensor": (lambda: seqsal.attribute(TwoTasks(), _x(), target="output=3"),
                                'target="output=3": the model returns a single tensor, use output=0',
                                "--target output=3: the model returns a single tensor, use output=0"),
    "task out of range": (lambda: seqsal.attribute(TwoTasks(), _x(), target="task=7"),
                          "target task 7 is out of range: the model has 2 tasks (0..1)",
                          "--target task 7 is out of range: the model has 2 tasks (0..1)"),
    "unknown target key": (lambda: seqsal.attribute(TwoTasks(), _x(), target="head=1"),
                           "target: unknown key 'head'", "--target: unknown key 'head'"),
    "on_error": (lambda: seqsal.attribute(TwoTasks(), _x(), on_error="maybe"),
                 "unknown on_error 'maybe'; choose stop or skip", "unknown --on-error 'maybe'; choose stop or skip"),
    "ig steps": (lambda: seqsal.attribute(TwoTasks(), _x(), method="ig", steps=0),
                 "steps must be at least 1, got 0", "--steps must be at least 1, got 0"),
    "fdr": (lambda: seqsal.call_peaks(np.zeros((2, 50), np.float32), fdr=2.0),
            "fdr must be a number in (0, 1], got 2.0", "--fdr must be a number in (0, 1], got 2.0"),
    "device": (lambda: seqsal.select_device("cuda") if not torch.cuda.is_available() else
               seqsal.attribute(TwoTasks(), _x(), precision="fp17"),
               'device="cuda" was asked for' if not torch.cuda.is_available() else "unknown precision 'fp17'",
               "--device cuda was asked for" if not torch.cuda.is_available() else "unknown --precision 'fp17'"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_notebook_api_errors_name_keywords_not_flags(case):
    call, api, cli = CASES[case]
    with pytest.raises(InputError) as error:
        call()
    assert api in str(error.value) and "--" not in str(error.value), str(error.value)
    assert cli in error.value.cli_message()


def test_iter_attributions_names_its_keywords(small_genome, tiny_model, tmp_path):
    genome, _ = small_genome
    model, _ = tiny_model
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t300\ta\n")
    with pytest.raises(InputError) as error:
        next(seqsal.iter_attributions(str(genome), str(bed), str(model), window=50))
    assert str(error.value) == ("window=50 differs from the input length the model file declares (200); drop window")
    with pytest.raises(InputError, match=r"^stride must be a positive number of bases, got 0$"):
        next(seqsal.iter_attributions(str(genome), str(bed), str(model), stride=0))


def test_the_command_line_keeps_its_flags(small_genome, tiny_model, tmp_path):
    genome, _ = small_genome
    model, _ = tiny_model
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t300\ta\n")
    result = CliRunner().invoke(main, ["attribute", str(genome), str(bed), "--model", str(model), "-o",
                                       str(tmp_path / "out"), "-q", "--no-peaks", "--target", "output=3"])
    assert result.exit_code == 2
    assert result.output == "seqsal: error: --target output=3: the model returns a single tensor, use output=0\n"
