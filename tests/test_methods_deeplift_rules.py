"""DeepLIFT's allow-list (:mod:`seqsal.methods.ops`, :mod:`seqsal.methods.deeplift_rules`): every form of a known
nonlinearity (module, functional, in-place, the ATen overloads of a ``torch.export`` graph) sums to delta; anything
else that depends on the sequence is refused with one line naming the operation."""
from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqsal.attribution import Target
from seqsal.errors import InputError
from seqsal.methods import deep_lift_shap, make_baselines
from seqsal.methods.ops import op_label, op_name
from seqsal.methods.references import IncompleteAttribution
from helpers import StraightThrough, frozen, random_one_hot
from method_fixtures import build_basset, build_bpnet, reference_delta

basset = pytest.fixture(scope="module", name="basset")(build_basset)
bpnet = pytest.fixture(scope="module", name="bpnet")(build_bpnet)


def _statement(method: str, **kwargs):
    """``h.<method>(...)`` as a statement: the model goes on with ``h`` itself, not the returned tensor."""
    def apply(h):
        getattr(h, method)(**kwargs)
        return h
    return apply


# each form: a module or a function of the first convolution's output h (N, 6, L)
ACCEPTED = {
    "nn.ReLU": lambda: nn.ReLU(),
    "nn.ReLU(inplace=True)": lambda: nn.ReLU(inplace=True),
    "F.relu": lambda: F.relu,
    "torch.relu_": lambda: torch.relu_,
    "h.relu_() statement": lambda: _statement("relu_"),
    "nn.Tanh": lambda: nn.Tanh(),
    "torch.tanh_": lambda: torch.tanh_,
    "h.tanh_() statement": lambda: _statement("tanh_"),
    "h.sigmoid_()": lambda: (lambda h: h.sigmoid_()),
    "nn.LeakyReLU(inplace=True)": lambda: nn.LeakyReLU(0.1, inplace=True),
    "nn.GELU": lambda: nn.GELU(),
    "nn.ELU(inplace=True)": lambda: nn.ELU(inplace=True),
    "nn.Softplus": lambda: nn.Softplus(),
    "torch.clamp_min(h, 0)": lambda: (lambda h: torch.clamp_min(h, 0)),
    "h.clamp(min=0)": lambda: (lambda h: h.clamp(min=0)),
    "h.clamp_(min=0) statement": lambda: _statement("clamp_", min=0),
    "torch.maximum(h, 0)": lambda: (lambda h: torch.maximum(h, torch.zeros_like(h))),
    "torch.max(h, 0)": lambda: (lambda h: torch.max(h, torch.zeros_like(h))),
    "h ** 2": lambda: (lambda h: h ** 2),
    "nn.MaxPool1d(2)": lambda: nn.MaxPool1d(2),
    "F.max_pool1d(h, 3, 2) overlapping": lambda: (lambda h: F.max_pool1d(h, 3, 2)),
    "F.max_pool1d(return_indices=True)": lambda: (lambda h: F.max_pool1d(h, 2, return_indices=True)[0]),
    "nn.AdaptiveMaxPool1d(4)": lambda: nn.AdaptiveMaxPool1d(4),
    "h.max(dim=-1) (global max pool)": lambda: (lambda h: h.max(dim=-1, keepdim=True).values),
    "torch.amax(h, -1)": lambda: (lambda h: torch.amax(h, -1, keepdim=True)),
    "h.min(-1)": lambda: (lambda h: h.min(-1, True)[0]),
    "Tanh, then ReLU(inplace=True) on its output": lambda: nn.Sequential(nn.Tanh(), nn.ReLU(inplace=True)),
    "MaxPool1d, then ReLU(inplace=True) on its output": lambda: nn.Sequential(nn.MaxPool1d(2), nn.ReLU(inplace=True)),
}
# form -> (the operation named eagerly, in the exported graph, the reason)
REFUSED = {
    "torch.maximum(h, 0.1 * h)": (lambda: (lambda h: torch.maximum(h, 0.1 * h)), "torch.maximum",
                                  "aten.maximum.default",
                                  "a function of two tensors that both depend on the sequence: no rescale rule; "
                                  "write max(h, a * h) as leaky_relu(h, a)"),
    "torch.where(h > 0, h, 0)": (lambda: (lambda h: torch.where(h > 0, h, 0)), "Tensor.gt", "aten.gt.Scalar",
                                 "a comparison or ranking of sequence-dependent values: a data-dependent mask or "
                                 "branch"),
    "nn.Softmax": (lambda: nn.Softmax(dim=1), "torch.nn.functional.softmax", "aten.softmax.int",
                   "softmax normalises over sequence-dependent values: no DeepLIFT rule here"),
    "h * h": (lambda: (lambda h: h * h), "Tensor.mul", "aten.mul.Tensor",
              "a product of two tensors that both depend on the sequence"),
    "h.cumprod(-1)": (lambda: (lambda h: h.cumprod(-1)), "Tensor.cumprod", "aten.cumprod.default",
                      "not an operation whose DeepLIFT rule seqsal knows"),
    "h.detach() + h": (lambda: (lambda h: h.detach() + h), "Tensor.detach", "aten.detach.default",
                       "it cuts the gradient of a sequence-dependent tensor"),
}


class Form(nn.Module):
    """conv (4 -> 6) -> the form -> 1x1 conv (6 -> 3) -> sum over positions: output (N, 3)."""

    def __init__(self, make):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv1d(4, 6, 5, padding=2)
        form = make()
        self.act = form if isinstance(form, nn.Module) else None
        self.fn = None if isinstance(form, nn.Module) else form
        self.head = nn.Conv1d(6, 3, 1)

    def forward(self, x):
        h = self.conv(x)
        h = self.act(h) if self.act is not None else self.fn(h)
        return self.head(h).sum(dim=-1)


def _exported(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """The module of ``torch.export`` of ``model`` (dynamic batch), as :func:`seqsal.load_model` returns it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.export.export(model, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},)).module()


X = random_one_hot(3, 40, seed=2)
REFS = make_baselines(X, "shuffle", 5, seed=1)


@pytest.mark.parametrize("exported", [False, True], ids=["eager", "pt2"])
@pytest.mark.parametrize("form", list(ACCEPTED))
def test_every_form_of_a_known_nonlinearity_sums_to_delta(form, exported):
    eager = frozen(Form(ACCEPTED[form]))
    delta = reference_delta(eager, X, REFS, Target())
    model = _exported(eager, X) if exported else eager
    hypothetical, prediction = deep_lift_shap(model, X, Target(), references=REFS)
    total = (hypothetical * X).sum(dim=(1, 2))
    assert torch.allclose(total, delta, atol=1e-5, rtol=0), (total - delta).abs().max()
    assert torch.allclose(prediction, eager(X)[:, 0], atol=1e-6)


@pytest.mark.parametrize("exported", [False, True], ids=["eager", "pt2"])
@pytest.mark.parametrize("form", list(REFUSED))
def test_an_operation_without_a_rule_is_refused_by_name(form, exported):
    make, eager_name, aten_name, why = REFUSED[form]
    eager = frozen(Form(make))
    model = _exported(eager, X) if exported else eager
    layer = "the exported graph" if exported else "act (Softmax)" if form == "nn.Softmax" else "model (Form)"
    expected = (f"deepshap cannot handle {aten_name if exported else eager_name} in layer {layer!r} ({why}); "
                "use --method ig or ism for this model")
    with pytest.raises(InputError) as caught:
        deep_lift_shap(model, X, Target(), references=REFS)
    assert str(caught.value) == expected


def test_training_mode_batch_norm_and_dropout_are_refused():
    """Batch norm and dropout that stay in training mode whatever the module's mode (the functional forms with
    ``training=True``, as a model fixed in training mode by export has them) are refused; a module left in training
    mode is explained in eval mode, as seqsal.attribute does (review26), and left in training mode."""
    class Functional(nn.Module):
        def __init__(self, which):
            super().__init__()
            self.which, self.conv, self.dense = which, nn.Conv1d(4, 4, 3), nn.Linear(152, 1)
            self.register_buffer("mean", torch.zeros(4))
            self.register_buffer("var", torch.ones(4))

        def forward(self, x):
            h = self.conv(x)
            h = (nn.functional.batch_norm(h, self.mean, self.var, training=True) if self.which == "batch_norm"
                 else nn.functional.dropout(torch.relu(h), 0.5, training=True))
            return self.dense(torch.relu(h).flatten(1))

    with pytest.raises(InputError, match=r"batch_norm in layer .*\(batch norm in training mode"):
        deep_lift_shap(frozen(Functional("batch_norm")).eval(), X, references=REFS)
    with pytest.raises(InputError, match=r"dropout in layer .*\(dropout in training mode is random"):
        deep_lift_shap(frozen(Functional("dropout")).eval(), X, references=REFS)
    model = frozen(nn.Sequential(nn.Conv1d(4, 4, 3), nn.BatchNorm1d(4), nn.ReLU(), nn.Dropout(0.5), nn.Flatten(),
                                 nn.Linear(152, 1)))
    explained = deep_lift_shap(model.eval(), X, references=REFS)[0]
    torch.testing.assert_close(deep_lift_shap(model.train(), X, references=REFS)[0], explained, rtol=0, atol=0)
    assert model.training


@pytest.mark.parametrize("which,target", [("basset", Target()), ("bpnet", Target(output=1)),
                                          ("bpnet", Target(output=0, reduction="bpnet"))])
def test_an_exported_model_gives_the_maps_of_the_module(which, target, request):
    """The ATen graph of torch.export (conv1d, batch_norm, relu, max_pool1d overloads) gets the rules of the
    module it came from: the same maps to 1e-5 (before the allow-list: treated as linear, errors of order 1)."""
    model = request.getfixturevalue(which)
    x = random_one_hot(3, 203, seed=4)
    refs = make_baselines(x, "shuffle", 6, seed=0)
    ours, prediction = deep_lift_shap(model, x, target, references=refs)
    theirs, prediction_pt2 = deep_lift_shap(_exported(model, x), x, target, references=refs)
    torch.testing.assert_close(theirs, ours, rtol=0, atol=1e-5)
    torch.testing.assert_close(prediction_pt2, prediction, rtol=0, atol=1e-5)
    assert torch.allclose((theirs * x).sum(dim=(1, 2)), reference_delta(model, x, refs, target), atol=1e-5)


def test_a_wrong_backward_is_caught_by_the_completeness_check():
    """A custom autograd function (a straight-through ReLU: identity backward) gets no rule: the check raises."""
    model = frozen(Form(lambda: StraightThrough.apply))
    with pytest.raises(IncompleteAttribution, match=r"^deepshap: the attributions miss f\(x\) - f\(reference\) by "):
        deep_lift_shap(model, X, Target(), references=REFS)
    hypothetical, _ = deep_lift_shap(model, X, Target(), references=REFS, check=None)  # asked for: no check
    assert hypothetical.shape == X.shape


def test_op_names_and_labels_join_every_form():
    assert {op_name(f) for f in (torch.relu, torch.Tensor.relu, F.relu, torch.ops.aten.relu.default)} == {"relu"}
    assert op_name(torch.ops.aten.relu_.default) == op_name(torch.Tensor.relu_) == "relu_"
    assert op_label(torch.clamp_min) == "torch.clamp_min"
    assert op_label(torch.Tensor.tanh_) == "Tensor.tanh_"
    assert op_label(F.gelu) == "torch.nn.functional.gelu"
    assert op_label(torch.ops.aten.max_pool1d.default) == "aten.max_pool1d.default"


@pytest.mark.parametrize("two_d", [False, True])
def test_pool_with_indices_is_torchs_pooling(two_d):
    """The channels-last pooling of the rules gives torch's values and argmaxes exactly: ties (ReLU zeros, +0 and
    -0), NaN and -inf, strides, padding, dilation and ceil mode."""
    import itertools

    from seqsal.methods.deeplift_rules import pool_with_indices

    gen = torch.Generator().manual_seed(7)
    shape = (3, 16, 9, 23) if two_d else (3, 16, 41)
    ties = torch.relu(torch.randint(-2, 3, shape, generator=gen).float())
    ties[(ties == 0) & (torch.rand(shape, generator=gen) < 0.5)] = -0.0
    odd = torch.randn(shape, generator=gen)
    odd[odd > 1.5], odd[odd < -1.5] = float("nan"), float("-inf")
    base = F.max_pool2d_with_indices if two_d else F.max_pool1d_with_indices
    checked = 0
    for kernel, stride, padding, dilation, ceil in itertools.product([2, 3, 4], [None, 1, 4, 5], [0, 1], [1, 2],
                                                                     [False, True]):
        params = {"kernel_size": kernel, "padding": padding, "dilation": dilation, "ceil_mode": ceil,
                  **({} if stride is None else {"stride": stride})}
        if two_d:
            params = {key: value if key == "ceil_mode" else (value, value) for key, value in params.items()}
        for x in (ties, odd, ties[:, :4]):  # 4 channels: torch's own kernel
            try:
                expected = base(x, return_indices=True, **params)
            except RuntimeError:  # a combination torch refuses (padding over half the kernel)
                continue
            values, index = pool_with_indices(x, params, two_d)
            assert torch.equal(index, expected[1])
            torch.testing.assert_close(values, expected[0], rtol=0, atol=0, equal_nan=True)
            assert torch.equal(values.signbit(), expected[0].signbit())
            checked += 1
    assert checked > 50
