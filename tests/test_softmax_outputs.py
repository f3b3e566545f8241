"""A softmax (or log-softmax) output is found in the model's graph, and the pipeline explains class k's log-odds
against the other classes, log(p_k / sum_{j != k} p_j) = z_k - logsumexp_{j != k} z_j, never the saturating
probability (the sigmoid's logit of issue 13, for the other common probability output)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from seqsal.attribution import Target
from seqsal.output_transforms import choose_transform
from seqsal.encode import one_hot_encode
from seqsal.errors import InputError
from seqsal.genome import Genome
from seqsal.io import region_arrays
from seqsal.models.outputs import probability_output
from seqsal.models.user import ChannelsLast
from seqsal.pipeline import AttributeOptions, run_attribute
from seqsal.report_tables import target_text
from helpers import chosen_transform
from tests.test_model_outputs import _world


class Body(nn.Module):
    def __init__(self, classes: int = 3, scale: float = 1.0):
        super().__init__()
        torch.manual_seed(1)
        self.conv = nn.Conv1d(4, 8, 7, padding=3)
        self.dense = nn.Linear(8, classes)
        self.scale = scale

    def logits(self, x):
        return self.dense(torch.relu(self.conv(x)).amax(dim=2)) * self.scale


class TorchSoftmax(Body):
    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


class ModuleSoftmaxLast(Body):
    def __init__(self, classes: int = 3, scale: float = 1.0):
        super().__init__(classes, scale)
        self.act = nn.Softmax(dim=-1)

    def forward(self, x):
        return self.act(self.logits(x))


class MethodSoftmax(Body):
    def forward(self, x):
        return self.logits(x).softmax(-1)


class FunctionalSoftmax(Body):
    def forward(self, x):
        return nn.functional.softmax(self.logits(x), dim=1)


class LogSoftmax(Body):
    def forward(self, x):
        return nn.functional.log_softmax(self.logits(x), -1)


class ModuleLogSoftmax(Body):
    def __init__(self):
        super().__init__()
        self.act = nn.LogSoftmax(dim=1)

    def forward(self, x):
        return self.act(self.logits(x))


class SoftmaxIndexed(Body):
    """One class's probability, (N,): its axis is gone, so it is explained as that class's logit."""

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)[:, 1]


class SoftmaxScaled(Body):
    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1) * 2.0


class PositionSoftmax(Body):
    """A profile softmax over positions (N, 2, L): not class probabilities of the task axis."""

    def forward(self, x):
        return torch.softmax(self.conv(x)[:, :2], dim=-1)


@pytest.mark.parametrize("model, expected", [
    (TorchSoftmax(), ("softmax", 1)), (ModuleSoftmaxLast(), ("softmax", -1)), (MethodSoftmax(), ("softmax", -1)),
    (FunctionalSoftmax(), ("softmax", 1)), (LogSoftmax(), ("log_softmax", -1)),
    (ModuleLogSoftmax(), ("log_softmax", 1)),
    (SoftmaxIndexed(), ("softmax", None)), (SoftmaxScaled(), ("other", None)), (PositionSoftmax(), ("softmax", -1)),
])
def test_a_softmax_and_its_axis_are_found_in_modules_torchscript_and_exported_programs(model, expected):
    found = lambda m: (probability_output(m).kind, probability_output(m).dim)  # noqa: E731
    assert found(model) == expected
    assert found(torch.jit.script(model)) == expected
    assert found(torch.export.export(model.eval(), (torch.zeros(2, 4, 50),)).module()) == expected
    assert found(ChannelsLast(model)) == expected


@pytest.mark.parametrize("model, transform", [
    (TorchSoftmax(), "log_odds"), (ModuleSoftmaxLast(), "log_odds"), (MethodSoftmax(), "log_odds"),
    (LogSoftmax(), "log_odds_logp"), (ModuleLogSoftmax(), "log_odds_logp"), (SoftmaxIndexed(), "logit"),
    (SoftmaxScaled(), "none"),
])
def test_the_transform_follows_the_graph_and_the_output_shape(model, transform):
    assert chosen_transform(model, Target(task=1), "grad_x_input", 50) == transform
    assert chosen_transform(model, Target(task=1), "deepshap", 50) == "none"  # its rules take no transform
    assert chosen_transform(model, Target(task=1, transform="none"), "ig", 50) == "none"


def test_a_softmax_over_positions_summed_over_them_is_refused():
    """Its sum is 1 for every sequence (verify22: maps of float noise, once explained as the probability)."""
    for target in (Target(task=1), Target(task=1, transform="none"), Target(task=0, reduction="mean")):
        with pytest.raises(InputError, match="softmax over positions"):
            chosen_transform(PositionSoftmax(), target, "grad_x_input", 50)
    assert chosen_transform(PositionSoftmax(), Target(task=1, reduction="bpnet"), "grad_x_input", 50) == "none"


def test_a_softmax_over_another_axis_than_the_task_axis_is_explained_as_it_is():
    class ClassesLast(Body):  # (N, L, 3): classes on the last axis, per position
        def forward(self, x):
            return torch.softmax(self.conv(x)[:, :3].transpose(1, 2), dim=-1)

    class ClassesFirst(Body):  # (N, 3, L), softmax over classes, reduced over positions by the target
        def forward(self, x):
            return torch.softmax(self.conv(x)[:, :3], dim=1)

    # a profile reduced over positions keeps its probability, as a sigmoid profile does
    assert chosen_transform(ClassesLast(), Target(task=1, axis=-1), "grad_x_input", 50) == "none"
    assert chosen_transform(ClassesFirst(), Target(task=1), "grad_x_input", 50) == "none"
    assert choose_transform(TorchSoftmax(), Target(task=1), "grad_x_input").transform == "none"  # shape not probed


def _saturated_logits() -> torch.Tensor:
    # class 1 at +40: its float32 probability is exactly 1 and 1 - p is 0, the others are ~4e-18
    return torch.tensor([[0.0, 40.0, -3.0], [2.0, -1.0, 0.5], [-30.0, 5.0, 25.0]], dtype=torch.float64)


def _log_odds(z: torch.Tensor, k: int) -> torch.Tensor:
    others = torch.cat([z[:, :k], z[:, k + 1:]], 1)
    return z[:, k] - torch.logsumexp(others, 1)


@pytest.mark.parametrize("k", [0, 1, 2])
def test_log_odds_equal_the_logits_expression_even_where_float32_rounds_p_to_one(k):
    z = _saturated_logits()
    p = torch.softmax(z, 1).float()
    assert float(p[0, 1]) == 1.0  # the saturated case is in the batch
    expected = _log_odds(z, k)
    value = Target(task=k, transform="log_odds").select(p).double()
    assert torch.allclose(value, expected, rtol=1e-5, atol=1e-4), (value, expected)
    logp = torch.log_softmax(z, 1).float()
    assert torch.allclose(Target(task=k, transform="log_odds_logp").select(logp).double(), expected, atol=1e-4)
    if k == 1:  # the same class's logit from 1 - p cannot be computed: p is exactly 1
        with pytest.raises(InputError):
            Target(task=k, transform="logit").select(p)


def test_two_classes_give_the_logit_of_the_sigmoid():
    z = torch.tensor([[0.3, -1.2], [2.0, 4.5]], dtype=torch.float64)
    value = Target(task=1, transform="log_odds").select(torch.softmax(z, 1))
    assert torch.allclose(value, z[:, 1] - z[:, 0])
    assert torch.allclose(value, torch.logit(torch.sigmoid(z[:, 1] - z[:, 0])))


def test_log_odds_refuse_what_is_not_a_softmax_over_classes():
    with pytest.raises(InputError, match="log_odds_logp"):  # log-probabilities passed as probabilities
        Target(task=0, transform="log_odds").select(torch.log_softmax(torch.randn(4, 3), 1))
    with pytest.raises(InputError, match="not probabilities"):  # sigmoids of several tasks: they do not sum to 1
        Target(task=0, transform="log_odds").select(torch.full((4, 3), 0.9))
    with pytest.raises(InputError, match=r"\(N, classes\)"):
        Target(task=0, transform="log_odds").select(torch.softmax(torch.randn(2, 3, 5), 1))
    with pytest.raises(InputError, match="other class"):
        Target(task=0, transform="log_odds").select(torch.ones(4, 1))
    # anymodel: logits [-90, 51, -69] give float32 p [0, 1, 0]: a saturated softmax, not a non-softmax
    saturated = torch.softmax(torch.tensor([[-90.0, 51.0, -69.0], [0.0, 1.0, 2.0]]), 1)
    for task in (0, 1):
        with pytest.raises(InputError, match="the softmax saturates .* explain the model's logits") as caught:
            Target(task=task, transform="log_odds").select(saturated)
        assert "not probabilities that sum to 1" not in str(caught.value)


def test_the_gradient_is_the_logits_log_odds_gradient_at_a_saturated_class():
    model = TorchSoftmax(scale=400.0).eval()  # confident: p of the top class rounds to 1 in float32
    x = torch.from_numpy(one_hot_encode("ACGTTGCAAGCTAGCTAGGATCCGATCGATTTACGGCATGCA")[None].astype(np.float32))
    with torch.no_grad():
        z = model.logits(x)
    k = int(z.argmax())
    assert float(torch.softmax(z, 1)[0, k]) == 1.0
    a = x.clone().requires_grad_(True)
    Target(task=k, transform="log_odds").select(model(a)).sum().backward()
    b = x.clone().requires_grad_(True)
    _log_odds(model.logits(b).double(), k).sum().backward()
    assert torch.allclose(a.grad, b.grad.float(), rtol=1e-4, atol=1e-4 * float(b.grad.abs().max()))
    assert float(b.grad.abs().max()) > 0


@pytest.mark.parametrize("cls, transform", [(TorchSoftmax, "log_odds"), (LogSoftmax, "log_odds_logp")])
def test_a_run_of_a_softmax_classifier_explains_and_records_the_log_odds(tmp_path, cls, transform):
    genome, regions = _world(tmp_path)
    model = cls().eval()
    path = tmp_path / "model.pt"
    torch.jit.script(model).save(str(path))
    out = tmp_path / "out"
    record = run_attribute(str(genome), str(regions), str(path), str(out), AttributeOptions(target="2"),
                           progress=False, peaks=False)
    assert record["target"]["transform"] == transform
    assert "log-odds" in target_text(record["target"])
    stored = region_arrays(out / "attributions.npz", ["hypothetical"]).region(0)["hypothetical"]
    x = torch.from_numpy(one_hot_encode(Genome(str(genome)).fetch("chr1", 100, 300))[None].astype(np.float32))
    x.requires_grad_(True)
    _log_odds(model.logits(x), 2).sum().backward()
    gradient = x.grad[0].numpy()
    corrected = gradient - gradient.mean(axis=0, keepdims=True)  # the default gradient correction (--correct)
    assert np.allclose(stored, corrected, atol=1e-5)
    p = torch.softmax(model.logits(x), 1)[0, 2].item()
    assert not np.allclose(stored, corrected * p * (1 - p), atol=1e-5)  # not the probability's gradient


def test_the_cli_names_a_wrong_transform_in_one_line(tmp_path):
    from click.testing import CliRunner

    from seqsal.cli import main

    genome, regions = _world(tmp_path)
    path = tmp_path / "log.pt"
    torch.jit.script(LogSoftmax().eval()).save(str(path))
    result = CliRunner().invoke(main, ["attribute", str(genome), str(regions), "--model", str(path), "-o",
                                       str(tmp_path / "out"), "--target", "1,transform=log_odds", "-q"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "log_odds_logp" in result.output


def test_a_softmax_over_the_batch_is_not_class_probabilities():
    class BatchSoftmax(Body):
        def forward(self, x):
            return torch.softmax(self.logits(x), dim=0)

    assert probability_output(BatchSoftmax()).dim == 0
    assert chosen_transform(BatchSoftmax(), Target(task=1), "grad_x_input", 50) == "none"


def test_log_odds_logp_refuse_probabilities():
    with pytest.raises(InputError, match="not log-probabilities"):
        Target(task=0, transform="log_odds_logp").select(torch.softmax(torch.randn(4, 3), 1))


def test_the_ambiguous_axis_message_keeps_the_users_other_keys():
    from seqsal.task_axis import resolve_task_axis

    class OneLength(nn.Module):  # (N, 2, 6) from 6 bases only: the task axis cannot be told
        def forward(self, x):
            if x.shape[-1] != 6:
                raise ValueError("6 bases only")
            return torch.stack([x.sum(1), -x.sum(1)], 1)

    probe = torch.zeros(1, 4, 6)
    with pytest.raises(InputError) as error:
        resolve_task_axis(OneLength(), Target(output=0, task=1, reduction="bpnet"), probe, OneLength()(probe))
    message = str(error.value)
    assert 'target="output=0,task=1,reduce=bpnet,axis=1" for (N, tasks, positions)' in message
    assert 'target="output=0,task=1,reduce=bpnet,axis=-1" for (N, positions, tasks)' in message
    cli = error.value.cli_message()  # the command line's spelling of the same message
    assert "--target output=0,task=1,reduce=bpnet,axis=1 for (N, tasks, positions)" in cli


@pytest.mark.parametrize("cls, transform", [(TorchSoftmax, "log_odds"), (LogSoftmax, "log_odds_logp")])
def test_the_notebook_api_explains_what_the_cli_explains(cls, transform):
    import seqsal

    model = cls().eval()
    x = torch.from_numpy(np.stack([one_hot_encode("ACGTTGCAAGCTAGCTAGGATCCGATCGATTTACGGCATGCA"),
                                   one_hot_encode("TTTTACGATCGGGCTAGCATCGACTACGATCGACTTTACGAA")]).astype(np.float32))
    default = seqsal.attribute(model, x, method="grad_x_input", target="1")
    chosen = seqsal.attribute(model, x, method="grad_x_input", target=f"1,transform={transform}")
    probability = seqsal.attribute(model, x, method="grad_x_input", target="1,transform=none")
    assert torch.allclose(default, chosen) and not torch.allclose(default, probability)
    sigmoid = seqsal.attribute(torch.jit.script(TorchSoftmax(classes=1).eval()), x, target="0")  # softmax of 1 class
    assert torch.isfinite(sigmoid).all()


class Named(TorchSoftmax):
    """A scripted classifier that names its classes and its input length as attributes."""

    def __init__(self):
        super().__init__()
        self.task_names = ["background", "enhancer", "promoter"]
        self.input_length = 200


def test_a_torchscript_model_names_its_tasks_and_length_by_attributes(tmp_path):
    from seqsal.models.files import load_model

    path = tmp_path / "named.pt"
    torch.jit.script(Named().eval()).save(str(path))
    loaded = load_model(str(path))
    assert loaded.task_names == ["background", "enhancer", "promoter"] and loaded.input_length == 200
    assert Target.parse("promoter").resolve(loaded.task_names).task == 2
    plain = tmp_path / "plain.pt"
    torch.jit.script(TorchSoftmax().eval()).save(str(plain))
    assert load_model(str(plain)).task_names is None
    with pytest.raises(InputError, match="task_names attribute"):
        Target.parse("promoter").resolve(load_model(str(plain)).task_names)
