"""ISM's traced fast path after the model changed (review 26): the plan cached per model object must follow the
model as it is now, never the model it was traced on, whether it was changed in place (optimizer steps, a
parametrized weight, a write through ``.data``), had a layer, attribute or hook replaced or added."""
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from seqsal.attribution import Target
from seqsal.methods import ism
from seqsal.methods.ism import checked_trace_plan
from helpers import random_one_hot

LENGTH = 60


def _sequential() -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(4, 8, 5, padding=2), nn.ReLU(), nn.Conv1d(8, 8, 5, padding=2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(8 * LENGTH, 1)).eval()


class PositiveConv(nn.Module):
    """A convolution whose weight is computed in ``forward`` (a positivity constraint), then a scaled conv."""

    def __init__(self):
        super().__init__()
        self.raw = nn.Parameter(torch.randn(8, 4, 5) * 0.3)
        self.c2 = nn.Conv1d(8, 8, 3, padding=1)
        self.gain = 1.0  # a plain float read in forward: symbolic tracing writes its value into the graph
        self.h = nn.Linear(8 * LENGTH, 1)

    def forward(self, x):
        h = F.relu(F.conv1d(x, F.softplus(self.raw), padding=2))
        return self.h((F.relu(self.c2(h)) * self.gain).flatten(1))


def _x(n: int = 2) -> torch.Tensor:
    return random_one_hot(n, LENGTH, seed=3)


def _assert_naive(model: nn.Module, x: torch.Tensor) -> None:
    """The fast path (required: ``fast=True`` raises rather than fall back) equals naive ISM."""
    fast, prediction = ism(model, x, fast=True)
    naive, reference = ism(model, x, fast=False)
    scale = float(naive.abs().max())
    assert scale > 0
    assert torch.allclose(prediction, reference, atol=1e-5)
    assert float((fast - naive).abs().max()) <= 1e-4 * scale + 1e-6, float((fast - naive).abs().max())


def test_weight_computed_in_forward_after_optimizer_steps():
    torch.manual_seed(0)
    model, x = PositiveConv().eval(), _x()
    _assert_naive(model, x)  # traced and checked on the first call
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(3):
        optimizer.zero_grad()
        (model(random_one_hot(16, LENGTH, seed=9))[:, 0] - 1).pow(2).mean().backward()
        optimizer.step()
    _assert_naive(model, x)


def test_weight_computed_in_forward_after_write_through_data():
    """A write through ``.data`` leaves the version counter alone: the plan must still read the weight afresh."""
    torch.manual_seed(0)
    model, x = PositiveConv().eval(), _x()
    _assert_naive(model, x)
    model.raw.data.mul_(-2.0).add_(0.5)
    _assert_naive(model, x)


def test_float_attribute_changed():
    torch.manual_seed(0)
    model, x = PositiveConv().eval(), _x()
    _assert_naive(model, x)
    model.gain = -3.0
    _assert_naive(model, x)


def test_weight_norm_conv_updated_in_place():
    torch.manual_seed(1)
    model, x = _sequential(), _x()
    model[0] = weight_norm(model[0])
    _assert_naive(model, x)
    with torch.no_grad():
        model[0].parametrizations.weight.original1.mul_(-1.5)  # an optimizer step, in place
    _assert_naive(model, x)


def test_layer_swapped_in_same_object():
    torch.manual_seed(0)
    model, x = _sequential(), _x()
    _assert_naive(model, x)
    before, _ = ism(model, x, fast=False)
    model[1] = nn.Tanh()
    model[2] = nn.Conv1d(8, 8, 5, padding=2)
    _assert_naive(model, x)
    assert not torch.allclose(ism(model, x, fast=True)[0], before, atol=1e-4)


def test_parameter_replaced_and_state_dict_loaded():
    torch.manual_seed(0)
    model, x = _sequential(), _x()
    _assert_naive(model, x)
    model[2].weight = nn.Parameter(torch.randn_like(model[2].weight))
    _assert_naive(model, x)
    model.load_state_dict(_sequential().state_dict())
    _assert_naive(model, x)


def test_forward_hook_added():
    torch.manual_seed(0)
    model, x = _sequential(), _x()
    _assert_naive(model, x)
    handle = model[2].register_forward_hook(lambda module, inputs, output: 3 * output.flip(-1))
    try:
        fast, _ = ism(model, x)  # the hooked conv is no longer local: fast or naive, ISM of the hooked model
        naive, _ = ism(model, x, fast=False)
        assert torch.allclose(fast, naive, atol=1e-4 * float(naive.abs().max()))
    finally:
        handle.remove()
    _assert_naive(model, x)


def test_unchanged_model_keeps_its_plan():
    """The check is cheap and does not retrace a model that did not change (ISM's own runs change nothing)."""
    torch.manual_seed(0)
    model, x = PositiveConv().eval(), _x(3)
    plan = checked_trace_plan(model, x[0], Target())
    assert plan is not None
    ism(model, x, fast=True)
    assert checked_trace_plan(model, x[1], Target()) is plan


class ClassScaled(nn.Module):
    """Reads a class attribute, a config object's field and a module-level global in forward: values a trace writes
    into its graph and that no attribute of the instance holds (review27)."""

    SCALE = 1.0

    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv1d(4, 8, 5, padding=2), nn.Conv1d(8, 8, 3, padding=1)
        self.config = __import__("types").SimpleNamespace(shift=0.0)
        self.h = nn.Linear(8, 1)

    def forward(self, x):
        h = F.relu(self.c1(x) * self.SCALE + self.config.shift) * _GAIN[0]
        return self.h(F.relu(self.c2(h)).amax(-1))


_GAIN = [1.0]


def test_values_outside_the_instance_changed_after_a_first_call():
    """Old code: each change below left the fast path on the first trace's constants (review27: errors of 0.02-0.1
    on deltas of 0.01-0.16); the cached plan is now checked again on each call's first row."""
    torch.manual_seed(0)
    x = _x()
    for change, undo in [(lambda m: setattr(ClassScaled, "SCALE", 3.0), lambda m: setattr(ClassScaled, "SCALE", 1.0)),
                         (lambda m: setattr(m.config, "shift", -0.5), lambda m: None),
                         (lambda m: _GAIN.__setitem__(0, -1.0), lambda m: _GAIN.__setitem__(0, 1.0))]:
        model = ClassScaled().eval()
        try:
            _assert_naive(model, x)
            change(model)
            _assert_naive(model, x)
        finally:
            undo(model)
