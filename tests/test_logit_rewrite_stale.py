"""The logit rewrite (seqsal.models.logit_output.exact_logit) follows the model as it is now (review27).

The rewrite is a trace: it fixes the model's Python state (attributes read in forward, parameter-free layers,
hooks, the training flag) into a graph, and it was cached on the ids of the model's tensors only. A model changed
after a first call kept the old model's logit, and a model first called in training mode kept its dropout after
``m.eval()``. A joined output (``cat``) with a part that is not a sigmoid had its probability explained as the
logit. Each value here is checked against the model's own probability in float64.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import seqsal
from seqsal.attribution import Target
from seqsal.evaluate import predict_target
from helpers import chosen_transform

L = 64
LOGIT = Target.parse("task=0,transform=logit")


def _x() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.eye(4)[torch.randint(0, 4, (3, L))].transpose(1, 2).contiguous()


def _true_logit(model: nn.Module, x: torch.Tensor, task: int = 0) -> torch.Tensor:
    double = __import__("copy").deepcopy(model).double().eval()
    with torch.no_grad():
        p = double(x.double())[:, task]
    return torch.log(p / (1 - p))


class Temperature(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.conv, self.lin = nn.Conv1d(4, 8, 5, padding=2), nn.Linear(8, 1)
        self.temperature = 1.0
        self.pool = nn.AdaptiveAvgPool1d(1)

    def forward(self, x):
        return torch.sigmoid(self.lin(self.pool(torch.relu(self.conv(x)))[..., 0]) / self.temperature)


def _close(model, x, target=LOGIT, task=0):
    got = torch.as_tensor(predict_target(model, x, target)).double()
    assert torch.allclose(got, _true_logit(model, x, task), atol=1e-4), (got, _true_logit(model, x, task))


def test_an_attribute_changed_after_a_first_call_is_followed():
    x, model = _x(), Temperature().eval()
    _close(model, x)
    model.temperature = 0.25  # old code: the first trace's 1.0 (-0.38 where the logit is -1.51)
    _close(model, x)


class Config:
    temperature = 1.0


SHIFT = 0.0


class ReadsState(Temperature):
    """Reads its temperature from a config object, a bias switch from its class and a shift from a module global:
    what a trace bakes in and the model's own attributes do not show (review28: each kept a stale logit, maps off
    by 0.75-1.06)."""

    bias_on = False

    def __init__(self):
        super().__init__()
        self.cfg = Config()

    def forward(self, x):
        z = self.lin(self.pool(torch.relu(self.conv(x)))[..., 0]) / self.cfg.temperature + SHIFT
        return torch.sigmoid(z + 1.5 if self.bias_on else z)


def test_a_config_field_class_attribute_or_global_changed_after_a_first_call_is_followed():
    global SHIFT
    x, model = _x(), ReadsState().eval()
    _close(model, x)
    try:
        model.cfg.temperature = 0.25
        _close(model, x)
        ReadsState.bias_on = True
        _close(model, x)
        SHIFT = 3.0
        _close(model, x)
        xg = x.clone().requires_grad_(True)  # the map as well: the logit's own gradient
        z = model.lin(model.pool(torch.relu(model.conv(xg)))[..., 0]) / 0.25 + 3.0 + 1.5  # the logit, by hand
        (gradient,) = torch.autograd.grad(z.sum(), xg)
        maps = seqsal.attribute(model, x, method="saliency", correct=False, hypothetical=True)
        assert torch.allclose(maps, gradient, atol=1e-5)
    finally:
        SHIFT, ReadsState.bias_on = 0.0, False


def test_a_parameter_free_layer_swapped_after_a_first_call_is_followed():
    x, model = _x(), Temperature().eval()
    _close(model, x)
    model.pool = nn.AdaptiveMaxPool1d(1)
    _close(model, x)


class Dropout(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.conv, self.lin = nn.Conv1d(4, 8, 5, padding=2), nn.Linear(8, 1)

    def forward(self, x):
        return torch.sigmoid(self.lin(F.dropout(torch.relu(self.conv(x)).mean(-1), 0.5, training=self.training)))


def test_a_model_first_called_in_training_mode_is_traced_as_it_runs_in_eval_mode():
    x, model = _x(), Dropout()  # nn.Module starts in training mode
    first, p1 = seqsal.ism(model, x, LOGIT, fast=False)
    second, p2 = seqsal.ism(model, x, LOGIT, fast=False)
    assert torch.equal(first, second) and torch.equal(p1, p2)  # old code: dropout in the traced graph
    assert torch.allclose(p1.double(), _true_logit(model, x), atol=1e-4)
    assert model.training  # the caller's mode is given back


class Joined(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.conv, self.lin = nn.Conv1d(4, 8, 5, padding=2), nn.Linear(8, 2)

    def forward(self, x):
        z = self.lin(torch.relu(self.conv(x)).mean(-1)) * 4
        return torch.cat([torch.sigmoid(z[:, :1]), torch.clamp(torch.sigmoid(z[:, 1:] + 2), 1e-6, 1 - 1e-6)], dim=1)


def test_a_joined_part_that_is_not_a_sigmoid_is_not_read_as_a_logit():
    x, model = _x(), Joined().eval()
    _close(model, x, Target.parse("task=1,transform=logit"), task=1)  # old code: p itself (0.91 for a logit of 2.3)
    _close(model, x, LOGIT, task=0)


class Constant(nn.Module):
    """A sigmoid of a parameter (a degenerate model): its rewrite returns the parameter itself."""

    def __init__(self):
        super().__init__()
        self.c = nn.Parameter(torch.tensor([3.0]))

    def forward(self, x):
        return torch.sigmoid(self.c.expand(x.shape[0], 1))


def test_a_logit_that_is_a_parameter_is_predicted_without_a_traceback():
    x = _x()
    assert torch.allclose(torch.as_tensor(predict_target(Constant().eval(), x, LOGIT)), torch.full((3,), 3.0))


class SigmoidThenFloat(nn.Module):
    """A confident sigmoid cast after it: ``sigmoid(z).float()`` (fresh27c: not seen as a sigmoid, so the saturated
    probability 1.0 was explained, its maps ~0)."""

    def __init__(self, cast: str = "float"):
        super().__init__()
        torch.manual_seed(4)
        self.conv, self.lin, self.cast = nn.Conv1d(4, 8, 5, padding=2), nn.Linear(8, 1), cast

    def forward(self, x):
        p = torch.sigmoid(self.lin(torch.relu(self.conv(x)).mean(-1)) * 2 + 14.0)
        return {"float": p.float, "to": lambda: p.to(torch.float32), "type": lambda: p.type(torch.float32),
                "half": lambda: p.half().float()}[self.cast]()


def test_a_sigmoid_cast_after_it_is_explained_as_its_logit():
    x = _x()
    for cast in ("float", "to", "type", "half"):  # review28: .type() and .half() were not looked through
        model = SigmoidThenFloat(cast).eval()
        got = torch.as_tensor(predict_target(model, x, LOGIT)).double()
        with torch.no_grad():
            z = (model.lin(torch.relu(model.conv(x)).mean(-1)) * 2 + 14.0)[:, 0].double()
        # old code: p's logit, 16.6 where z is ~14; .half() rounds the logit itself to 11 bits
        assert torch.allclose(got, z, atol=2e-2 if cast == "half" else 1e-4), (cast, got, z)
        assert float(seqsal.attribute(model, x).abs().sum()) > 1e-3  # chosen as a sigmoid: the logit's map


def test_an_exported_sigmoid_model_is_rewritten_without_a_traceback():
    """fresh27c: exact_logit called eval() on a torch.export module, which has none: every .pt2 sigmoid model
    stopped with NotImplementedError; one whose sigmoid is cast after it (``_to_copy`` in its graph) was not seen
    as a sigmoid."""
    x, model = _x(), Temperature().eval()
    exported = torch.export.export(model, (x,)).module()
    got = torch.as_tensor(predict_target(exported, x, LOGIT)).double()
    assert torch.allclose(got, _true_logit(model, x), atol=1e-4)
    cast = SigmoidThenFloat().eval()
    with torch.no_grad():
        z = (cast.lin(torch.relu(cast.conv(x)).mean(-1)) * 2 + 14.0)[:, 0].double()
    exported = torch.export.export(cast, (x,), dynamic_shapes={"x": {0: torch.export.Dim("batch")}}).module()
    assert torch.allclose(torch.as_tensor(predict_target(exported, x, LOGIT)).double(), z, atol=1e-3)
    assert chosen_transform(exported, Target.parse("0"), "grad_x_input", L) == "logit"
