"""One-line answers to a new user's own models (a fresh user's trial, benchmarks/RESULTS.md issue 13, session 10)."""
from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from seqsal.attribution import Target
from seqsal.cli import main
from seqsal.errors import InputError
from tests.test_model_outputs import _world


class NeedsCuda(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 2, 5)

    def forward(self, x):
        return self.conv(x.cuda()).mean(-1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the model runs where a GPU is present")
def test_a_model_that_needs_a_gpu_says_so_not_that_the_window_is_wrong(tmp_path):
    genome, regions = _world(tmp_path)
    path = tmp_path / "cuda.pt"
    torch.jit.script(NeedsCuda()).save(str(path))
    result = CliRunner().invoke(main, ["attribute", str(genome), str(regions), "--model", str(path), "--window", "200",
                                       "-o", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "need a CUDA GPU" in result.output and "--window" not in result.output


def test_a_key_given_twice_and_a_reduction_of_one_value_are_refused():
    with pytest.raises(InputError, match="task is given twice"):
        Target.parse("output=human,task=1,task=2")
    with pytest.raises(InputError, match="reduce is given twice"):
        Target.parse("reduce=bpnet,reduce=sum")
    with pytest.raises(InputError, match="task is given twice"):
        Target.parse("3,task=2")
    with pytest.raises(InputError, match="drop reduce="):
        Target.parse("task=1,reduce=bpnet").select(torch.randn(4, 3))
    assert Target.parse("task=1,reduce=bpnet").select(torch.randn(4, 3, 10)).shape == (4,)


def test_the_small_null_remedy_names_the_limit_of_the_shuffles():
    """A run of few short regions already shuffled the most times was told to raise --min-null-bases, which could
    not change its null; the remedy now names the limit, and raising both grows the null."""
    from seqsal.peaks.calibration import LARGER_NULL
    from seqsal.peaks.nulls import MAX_NULL_COPIES, null_plan

    assert f"--max-null-copies times, {MAX_NULL_COPIES} by default: raise both" in LARGER_NULL
    assert null_plan(25_000, 0.1, 400_000) == null_plan(25_000, 0.1, 200_000) == (1.0, MAX_NULL_COPIES)
    assert null_plan(25_000, 0.1, 400_000, max_copies=100) == (1.0, 16)


def test_iter_attributions_refuses_an_option_it_does_not_have():
    """`iter_attributions(G, R, "w.safetensors", architecture=...)` set an attribute nothing read (a typo is
    silently ignored the same way); it names the fields and, for an architecture, seqsal.load_model."""
    from seqsal.pipeline import iter_attributions

    with pytest.raises(InputError, match="seqsal.load_model"):
        next(iter_attributions("g.fa", "r.bed", "w.safetensors", architecture="basset"))
    with pytest.raises(InputError, match="batchsize is not an option"):
        next(iter_attributions("g.fa", "r.bed", "w.safetensors", batchsize=8))
