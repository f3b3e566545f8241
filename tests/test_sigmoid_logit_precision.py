"""A confident sigmoid model's logit is explained from the sigmoid's input, not from its float32 probability.

fresh26a: a 4-task model with a head bias of +12 returned ``sigmoid(z)``; its ISM maps, predictions and
attribution sums were computed from ``logit(p)`` of float32 ``p``, whose ``1 - p`` keeps too few bits near 1
(ISM correlation with the true logit's down to 0.73, predictions off by 0.05).
"""
import logging

import pytest
import torch
from torch import nn

import seqsal
from seqsal.attribution import Target
from seqsal.evaluate import predict_target
from seqsal.models.logit_output import class_log_odds, exact_logit


class Head(nn.Module):
    """A small convolutional model with 3 tasks and a large head bias: ``sigmoid`` (or ``softmax``) of ``z``."""

    def __init__(self, kind: str = "sigmoid", bias: float = 12.0):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv1d(4, 8, 5, padding=2)
        self.fc = nn.Linear(8, 3)
        self.kind = kind
        self.act = nn.Sigmoid()
        with torch.no_grad():
            self.fc.weight.mul_(3.0)
            self.fc.bias.copy_(torch.tensor([bias, -bias, bias]))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).mean(-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.logits(x)
        if self.kind == "sigmoid":
            return torch.sigmoid(z)
        if self.kind == "module":
            return self.act(z)[:, :]
        if self.kind == "softmax_class":  # one class of a softmax, picked by indexing: explained as its logit
            return torch.softmax(z, dim=1)[:, 0]
        return z


class Logits(nn.Module):
    """The same model returning its logits (what the explained values must equal)."""

    def __init__(self, model: Head):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.logits(x)


def _onehot(n: int = 3, length: int = 60, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    bases = torch.randint(0, 4, (n, length), generator=generator)
    return nn.functional.one_hot(bases, 4).permute(0, 2, 1).float()


@pytest.mark.parametrize("method", ["ism", "ig", "grad_x_input"])
@pytest.mark.parametrize("kind", ["sigmoid", "module"])
def test_sigmoid_logit_matches_model_logit(method, kind):
    model, x = Head(kind).eval(), _onehot()
    reference = Logits(model).eval()
    for task in (0, 2):
        got = seqsal.attribute(model, x, method=method, target=task, correct=False)
        want = seqsal.attribute(reference, x, method=method, target=task, correct=False)
        assert float((got - want).abs().max()) <= 1e-5 * max(1.0, float(want.abs().max()))


class SigmoidHead(Head):
    """:class:`Head` with one forward (TorchScript would keep the other kinds' branches)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x)).squeeze(-1)


def test_scripted_sigmoid_logit_matches_model_logit():
    model, x = SigmoidHead().eval(), _onehot()
    scripted = torch.jit.script(model)
    got = seqsal.attribute(scripted, x, method="ism", target=0, correct=False)
    want = seqsal.attribute(Logits(model).eval(), x, method="ism", target=0, correct=False)
    assert float((got - want).abs().max()) <= 1e-5 * max(1.0, float(want.abs().max()))


class Joined(Head):
    """Two sigmoids joined by ``torch.cat`` (a sigmoid, as the graph reads it), one task each."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.logits(x)
        return torch.cat([torch.sigmoid(z[:, :2]), self.act(z[:, 2:])], dim=1)


@pytest.mark.parametrize("script", [False, True])
def test_joined_sigmoids_logit_matches_model_logit(script):
    model, x = Joined().eval(), _onehot()
    run = torch.jit.script(model) if script else model
    for task in (0, 2):
        got = seqsal.attribute(run, x, method="ism", target=task, correct=False)
        want = seqsal.attribute(Logits(model).eval(), x, method="ism", target=task, correct=False)
        assert float((got - want).abs().max()) <= 1e-5 * max(1.0, float(want.abs().max()))


def test_predictions_are_the_logit():
    model, x = Head().eval(), _onehot()
    target = Target(task=0, transform="logit")
    with torch.no_grad():
        z = model.logits(x)[:, 0]
    assert float(abs(predict_target(model, x, target) - z.numpy()).max()) < 1e-5
    exact_model, exact_target = exact_logit(model, target)
    with torch.no_grad():
        value = exact_target.select(exact_model(x))
    assert float((value - z).abs().max()) < 1e-5
    assert exact_target.transform == "logit"  # the recorded transform is kept


def test_softmax_class_by_index_is_its_log_odds():
    model, x = Head("softmax_class").eval(), _onehot()
    with torch.no_grad():
        model.fc.bias.copy_(torch.tensor([12.0, -12.0, 0.0]))  # class 0 confident: p_0 near 1
        z = model.logits(x)
        want = z[:, 0] - torch.logsumexp(z[:, 1:], dim=1)
    assert float(abs(predict_target(model, x, Target(transform="logit")) - want.numpy()).max()) < 1e-5
    exact_model, exact_target = exact_logit(model, Target(task=None, transform="logit"))
    with torch.no_grad():
        got = exact_target.select(exact_model(x))
    assert float((got - want).abs().max()) < 1e-5
    assert torch.allclose(class_log_odds(z, 1)[:, 0], want, atol=1e-6)


def test_original_model_is_unchanged():
    model, x = Head().eval(), _onehot()
    with torch.no_grad():
        before = model(x)
    exact_logit(model, Target(task=0, transform="logit"))
    with torch.no_grad():
        assert torch.equal(model(x), before)


class Untraceable(Head):
    """A sigmoid model ``torch.fx`` cannot trace (a branch on a value), so its graph cannot be rewritten."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.logits(x)
        if float(z.sum()) > 1e9:
            z = z * 0
        return torch.sigmoid(z)


def test_imprecise_logit_warns_once(caplog):
    from seqsal.models import logit_output

    logit_output._WARNED.discard("logit")
    model, x = Untraceable().eval(), _onehot()
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        seqsal.attribute(model, x, method="ism", target=Target(task=0, transform="logit"), correct=False)
    lines = [r.getMessage() for r in caplog.records if "1 - p keeps too few bits" in r.getMessage()]
    assert len(lines) == 1 and "return the logit from the model" in lines[0]
