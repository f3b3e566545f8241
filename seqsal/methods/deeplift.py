"""DeepLIFT and DeepSHAP (rescale rule), as a rules engine over the model's own operations.

DeepLIFT (Shrikumar et al. 2017) explains ``f(x) - f(reference)`` with multipliers that replace each
nonlinearity's gradient by its secant ``Δy/Δx`` between the sequence and the reference; DeepSHAP (Lundberg & Lee
2017) averages over references. Rather than hooking modules (captum, tangermeme), a :class:`TorchFunctionMode`
intercepts every torch call of the forward pass, so functional activations (``torch.relu`` inside a
``forward``) get the rule too:

* elementwise nonlinearities: the rescale rule (:class:`_Rescale`);
* max pooling: the change of each window routed to the argmax of the larger of the pair (:class:`_MaxPoolRule`,
  as captum and tangermeme), with a pooled-size backward for non-overlapping windows;
* linear operations (convolutions, linear layers, eval batch norm, average pooling, sums): as they are;
* anything else that would break summation-to-delta (softmax, normalisation, products of two sequence-dependent
  tensors, ...): :class:`UnsupportedLayer`, naming the layer.

For one-hot ``x`` the projected attributions sum to ``f(x) - mean f(references)`` (summation-to-delta).
"""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from ..attribution import Target
from ..errors import InputError
from .references import hypothetical_from_multipliers, resolve_references

log = logging.getLogger("seqsal")


class UnsupportedLayer(InputError):
    """A model operation that DeepLIFT's rules do not cover."""


_ELEMENTWISE_NAMES = {
    "relu", "relu_", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "celu", "gelu", "silu", "mish", "sigmoid",
    "tanh", "softplus", "relu6", "hardtanh", "hardtanh_", "hardswish", "hardsigmoid", "logsigmoid", "softsign",
    "exp", "abs", "sqrt", "square", "clamp", "clip", "log", "log1p", "expm1", "sin", "cos", "erf", "prelu", "rrelu",
}
_UNSUPPORTED_NAMES = {
    "softmax", "log_softmax", "softmin", "layer_norm", "group_norm", "instance_norm", "local_response_norm",
    "rms_norm", "normalize", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool1d_with_indices",
    "max", "min", "amax", "amin", "sort", "topk", "logsumexp", "prod", "cumprod", "scaled_dot_product_attention",
    "multi_head_attention_forward", "glu", "gumbel_softmax", "pow", "__pow__", "__rpow__", "fractional_max_pool2d",
    "lp_pool1d", "lp_pool2d", "max_pool3d", "norm", "std", "var",
}
_PRODUCTS = {"mul", "__mul__", "__rmul__", "mul_", "__imul__", "matmul", "__matmul__", "__rmatmul__", "bmm", "mm",
             "einsum", "bilinear", "outer", "addcmul", "baddbmm", "addmm", "addbmm", "dot", "tensordot"}
_DIVISIONS = {"div", "__truediv__", "__rtruediv__", "true_divide", "divide", "__div__", "div_", "__itruediv__"}
_MAXPOOLS = {F.max_pool1d, F.max_pool2d, torch.max_pool1d, torch.max_pool2d, F.max_pool1d_with_indices,
             F.max_pool2d_with_indices}


def _name(func) -> str:
    return getattr(func, "__name__", str(func))


def _grad_tensors(values) -> list[torch.Tensor]:
    found = []
    for value in values:
        if isinstance(value, torch.Tensor) and value.requires_grad:
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found += _grad_tensors(value)
    return found


class _Rescale(torch.autograd.Function):
    """Elementwise nonlinearity with the DeepLIFT rescale rule: multiplier ``Δy/Δx`` (gradient where ``|Δx| < 1e-6``)."""

    @staticmethod
    def forward(ctx, x, x_ref, y_ref, function, is_relu=False):
        y = function(x)
        ctx.function, ctx.is_relu = function, is_relu
        ctx.save_for_backward(x, x_ref, y, y_ref)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, x_ref, y, y_ref = ctx.saved_tensors
        delta = x - x_ref
        small = delta.abs() < 1e-6
        secant = (y - y_ref).div_(delta.masked_fill_(small, 1.0)).mul_(grad)
        if bool(small.any()):
            if ctx.is_relu:  # the local gradient in closed form, written into secant (no autograd re-run)
                torch.where(small, grad * (x > 0), secant, out=secant)
                return secant, None, None, None, None
            with torch.enable_grad():
                leaf = x.detach().requires_grad_(True)
                (local,) = torch.autograd.grad(ctx.function(leaf), leaf, grad)
            secant = torch.where(small, local, secant)
        return secant, None, None, None, None


class _MaxPoolRule(torch.autograd.Function):
    """Max pooling with DeepLIFT's rule (as captum and tangermeme): the change of each pooled output is
    routed to the argmax of the larger of the pair, and divided by the change of that input."""

    @staticmethod
    def forward(ctx, x, x_ref, y_ref, index_ref, pool, disjoint=False):
        y, index = pool(x)
        ctx.disjoint = disjoint
        ctx.save_for_backward(x, x_ref, y, y_ref, index, index_ref)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, x_ref, y, y_ref, index, index_ref = ctx.saved_tensors
        if ctx.disjoint:
            return _disjoint_pool_backward(x, x_ref, y, y_ref, index, index_ref, grad), None, None, None, None, None
        top = torch.maximum(y, y_ref)
        n, c = x.shape[:2]
        routed = torch.zeros(n, c, x[0, 0].numel(), dtype=grad.dtype, device=grad.device)
        routed.scatter_add_(-1, index.reshape(n, c, -1), (grad * (top - y_ref)).reshape(n, c, -1))
        routed.scatter_add_(-1, index_ref.reshape(n, c, -1), (grad * (y - top)).reshape(n, c, -1))
        routed = routed.reshape(x.shape)
        delta = x - x_ref
        zero = delta == 0
        result = routed.div_(delta.masked_fill_(zero, 1.0))
        if bool(zero.any()):
            plain = torch.zeros(n, c, x[0, 0].numel(), dtype=grad.dtype, device=grad.device)
            plain.scatter_add_(-1, index.reshape(n, c, -1), grad.reshape(n, c, -1))
            result = torch.where(zero, plain.reshape(x.shape), result)
        return result, None, None, None, None, None


def _disjoint_pool_backward(x: torch.Tensor, x_ref: torch.Tensor, y: torch.Tensor, y_ref: torch.Tensor,
                            index: torch.Tensor, index_ref: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """:class:`_MaxPoolRule`'s backward when no input is in two windows (stride >= kernel), at pooled size.

    Parameters
    ----------
    x, x_ref
        ``(N, C, *L)`` pooling inputs of the sequences and references.
    y, y_ref, index, index_ref, grad
        ``(N, C, *L')`` pooled outputs, their argmax (flat input positions) and the incoming gradient.

    Returns
    -------
    torch.Tensor
        ``(N, C, *L)``: the same values as the general rule. Each window sends ``grad * (top - y_ref)`` to
        its sequence argmax ``i`` and ``grad * (y - top)`` to its reference argmax ``j``, each divided by
        that input's change; a zero change gives ``grad`` at ``i`` (the plain gradient) and 0 at ``j != i``
        (no other window reaches ``j``). Only the argmax inputs are gathered, not whole inputs divided.
    """
    n, c = x.shape[:2]
    flat_x, flat_ref = x.reshape(n, c, -1), x_ref.reshape(n, c, -1)
    i, j = index.reshape(n, c, -1), index_ref.reshape(n, c, -1)
    g, y, y_ref = grad.reshape(n, c, -1), y.reshape(n, c, -1), y_ref.reshape(n, c, -1)
    top = torch.maximum(y, y_ref)
    to_i, to_j = g * (top - y_ref), g * (y - top)
    same = i == j
    delta_i = flat_x.gather(-1, i) - flat_ref.gather(-1, i)
    delta_j = flat_x.gather(-1, j) - flat_ref.gather(-1, j)
    zero_i, zero_j = delta_i == 0, (delta_j == 0) | same
    out_i = torch.where(zero_i, g, torch.where(same, to_i + to_j, to_i) / delta_i.masked_fill(zero_i, 1.0))
    out_j = torch.where(zero_j, torch.zeros_like(g), to_j / delta_j.masked_fill(zero_j, 1.0))
    result = torch.zeros_like(flat_x)
    result.scatter_(-1, i, out_i)
    result.scatter_add_(-1, j, out_j)
    return result.reshape(x.shape)


def _pool_function(func, args, kwargs) -> tuple[Callable, str]:
    names = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
    params = dict(zip(names, args[1:]))
    params.update(kwargs)
    wants_indices = bool(params.pop("return_indices", False)) or func in (F.max_pool1d_with_indices,
                                                                          F.max_pool2d_with_indices)
    two_d = func in (F.max_pool2d, torch.max_pool2d, F.max_pool2d_with_indices)
    base = F.max_pool2d_with_indices if two_d else F.max_pool1d_with_indices
    if params.get("stride") is None:
        params.pop("stride", None)
    return (lambda t: base(t, return_indices=True, **params)), wants_indices


def _disjoint(func, args, kwargs) -> bool:
    """Whether a max-pool call's windows never share an input (stride >= kernel, dilation 1)."""
    names = ("kernel_size", "stride", "padding", "dilation")
    params = dict(zip(names, args[1:]))
    params.update({k: v for k, v in kwargs.items() if k in names})
    kernel = np.atleast_1d(params.get("kernel_size"))
    stride = params.get("stride")
    stride = kernel if stride is None or (np.size(stride) == 0) else np.atleast_1d(stride)
    dilation = np.atleast_1d(params.get("dilation", 1))
    return bool(np.all(dilation == 1) and np.all(stride >= kernel))


class _DeepLiftMode(TorchFunctionMode):
    """Intercepts the model's operations: records reference activations at every nonlinearity (``record``),
    or applies the DeepLIFT rules to the sequence pass, pairing each call with the recorded one."""

    def __init__(self, record: bool, saved: list, where: list[str]):
        super().__init__()
        self.record, self.saved, self.where, self.index = record, saved, where, 0

    def _fail(self, func, why: str):
        layer = self.where[-1] if self.where else "the model's forward"
        raise UnsupportedLayer(
            f"deepshap cannot handle {_name(func)} in layer {layer!r} ({why}); supported: convolutions, linear "
            "layers, batch norm (eval), pooling (average/max), elementwise activations (ReLU, sigmoid, tanh, GELU, "
            "...). Use --method ig or ism for this model")

    def _paired(self, func):
        if self.index >= len(self.saved):
            self._fail(func, "the model ran differently on the references")
        item = self.saved[self.index]
        self.index += 1
        return item

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = _name(func)
        inputs = _grad_tensors(list(args) + list(kwargs.values()))
        if func in _MAXPOOLS:
            pool, wants_indices = _pool_function(func, args, kwargs)
            x = args[0]
            if self.record:
                y, index = pool(x)
                self.saved.append((x, y, index))
                return (y, index) if wants_indices else y
            x_ref, y_ref, index_ref = self._paired(func)
            if x_ref.shape != x.shape:
                self._fail(func, "the model ran differently on the references")
            y = _MaxPoolRule.apply(x, x_ref, y_ref, index_ref, pool, _disjoint(func, args, kwargs))
            return (y, pool(x.detach())[1]) if wants_indices else y
        if name in _ELEMENTWISE_NAMES and args and isinstance(args[0], torch.Tensor):
            if len(inputs) > 1:
                self._fail(func, "an elementwise function of two inputs that both depend on the sequence")
            rest, options = args[1:], {k: v for k, v in kwargs.items() if k != "inplace"}
            function = (lambda t: func(t, *rest, **options)) if not name.endswith("_") else \
                (lambda t: getattr(torch, name[:-1], None)(t, *rest, **options) if hasattr(torch, name[:-1])
                 else getattr(F, name[:-1])(t, *rest, **options))
            x = args[0]
            if self.record:
                y = function(x)
                self.saved.append((x, y))
                return y
            x_ref, y_ref = self._paired(func)
            if x_ref.shape != x.shape:
                self._fail(func, "the model ran differently on the references")
            return _Rescale.apply(x, x_ref, y_ref, function, name in ("relu", "relu_") and not rest and not options)
        if name in _UNSUPPORTED_NAMES and inputs:
            self._fail(func, "no DeepLIFT rule for it")
        if name == "batch_norm" and (kwargs.get("training") or (len(args) > 5 and args[5])):
            self._fail(func, "batch norm in training mode")
        if name in _PRODUCTS and len(inputs) > 1:
            self._fail(func, "a product of two tensors that both depend on the sequence")
        if name in _DIVISIONS and len(args) > 1 and isinstance(args[1], torch.Tensor) and args[1].requires_grad:
            self._fail(func, "a division by a tensor that depends on the sequence")
        return func(*args, **kwargs)


class _LayerNames:
    """Keeps the qualified name of the module running (for error messages) while attached."""

    def __init__(self, model: nn.Module):
        self.stack: list[str] = []
        self.handles = []
        if isinstance(model, nn.Module):
            for name, module in model.named_modules():
                label = f"{name or 'model'} ({type(module).__name__})"
                self.handles.append(module.register_forward_pre_hook(lambda *_, label=label: self._push(label)))
                self.handles.append(module.register_forward_hook(lambda *_: self._pop()))

    def _push(self, label: str) -> None:
        self.stack.append(label)

    def _pop(self) -> None:
        if self.stack:
            self.stack.pop()

    def close(self):
        for handle in self.handles:
            handle.remove()


def deeplift_multipliers(model: nn.Module, x: torch.Tensor, references: torch.Tensor, target: Target
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DeepLIFT (rescale rule) multipliers of each sequence against each reference.

    The references run once without gradients, recording their activations at every nonlinearity; the
    sequences (repeated once per reference) then run with the rules applied, paired call by call, and one
    backward pass gives the multipliers. Model parameters are frozen for the call.

    Parameters
    ----------
    x
        ``(P, 4, L)`` sequences, one per pair.
    references
        ``(P, 4, L)`` the reference of each pair.
    target
        What to explain; a ``bpnet`` target evaluates the references with the sequences' softmax weights.

    Returns
    -------
    multipliers, prediction, reference_prediction
        ``(P, 4, L)``, ``(P,)``, ``(P,)``.

    Raises
    ------
    UnsupportedLayer
        For an operation the rules do not cover, or a model that runs differently on the references.
    InputError
        For a TorchScript model (its operations run outside Python, out of the rules' reach).
    """
    if isinstance(model, torch.jit.ScriptModule):
        raise InputError("deepshap needs a Python nn.Module (a seqsal .safetensors or a state_dict): TorchScript runs "
                         "its operations outside Python where the DeepLIFT rules cannot reach; use --method ig or ism")
    parameters = [p for p in model.parameters() if p.requires_grad] if isinstance(model, nn.Module) else []
    for parameter in parameters:
        parameter.requires_grad_(False)
    names = _LayerNames(model)
    saved: list = []
    try:
        with torch.no_grad(), _DeepLiftMode(True, saved, names.stack):
            output_ref = model(references)
        leaf = x.detach().requires_grad_(True)
        with torch.enable_grad():
            mode = _DeepLiftMode(False, saved, names.stack)
            with mode:
                output = model(leaf)
            if mode.index != len(saved):
                raise UnsupportedLayer("deepshap: the model ran differently on the sequences and the references")
            prediction = target.select(output).float()
            (multipliers,) = torch.autograd.grad(prediction.sum(), leaf)
        # the reference's target with the sequence's bpnet weights (Target.profile_weights): the multipliers
        # explain exactly that difference
        reference_prediction = target.select(output_ref, target.profile_weights(output)).float()
    finally:
        names.close()
        for parameter in parameters:
            parameter.requires_grad_(True)
    return multipliers.detach(), prediction.detach(), reference_prediction.detach()


def deep_lift_shap(
    model: nn.Module, x: torch.Tensor, target: Target | None = None, references: int | torch.Tensor = 20,
    baseline: str = "shuffle", seed: int = 0, pair_batch: int = 256, check: float | None = 1e-3,
    reference_sink: list | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DeepLIFT/DeepSHAP (rescale rule) against dinucleotide-shuffled references.

    DeepLIFT's rescale rule (Shrikumar et al. 2017) averaged over references as DeepSHAP does (Lundberg & Lee
    2017); the same rules and hypothetical convention as tangermeme's ``deep_lift_shap``.

    Parameters
    ----------
    model, x, target
        Model, one-hot ``(N, 4, L)``, what to explain.
    references
        Shuffles per sequence, or the references themselves ``(N, R, 4, L)``.
    baseline
        ``shuffle`` (default), ``zero`` or ``uniform`` (then one reference).
    seed
        Seed of the shuffles (mixed with each sequence's bytes).
    pair_batch
        Sequence-reference pairs per pass.
    check
        Warn when the summation-to-delta error of a pair exceeds this fraction of ``|f(x) - f(ref)|``
        (``None``: no check).
    reference_sink
        If a list, ``mean f(references)`` ``(N,)`` is appended to it (computed anyway; for
        per-region summation-to-delta checks, see :data:`REFERENCE_METHODS`).

    Returns
    -------
    hypothetical, prediction
        ``(N, 4, L)`` (see :mod:`seqsal.methods`) and ``(N,)``.

    Raises
    ------
    UnsupportedLayer
        For a model operation the rules do not cover (an :class:`InputError` naming the layer).
    InputError
        For a TorchScript model, references of the wrong shape or an unknown baseline.
    """
    target = target or Target()
    refs = resolve_references(x, references, baseline, seed)
    n, r = refs.shape[:2]
    per_pass = max(1, pair_batch // r)
    hypothetical, predictions, reference_means = [], [], []
    for first in range(0, n, per_pass):
        xs, rs = x[first:first + per_pass], refs[first:first + per_pass]
        k = xs.shape[0]
        pairs_x = xs[:, None].expand(k, r, *xs.shape[1:]).reshape(k * r, *xs.shape[1:])
        pairs_r = rs.reshape(k * r, *xs.shape[1:])
        multipliers, prediction, prediction_ref = deeplift_multipliers(model, pairs_x, pairs_r, target)
        if check is not None:
            _warn_delta("deepshap", ((pairs_x - pairs_r) * multipliers).sum(dim=(1, 2)), prediction - prediction_ref,
                        check)
        hypothetical.append(hypothetical_from_multipliers(multipliers.reshape(k, r, *xs.shape[1:]), rs))
        predictions.append(prediction.reshape(k, r)[:, 0])
        reference_means.append(prediction_ref.reshape(k, r).mean(dim=1))
    if reference_sink is not None:
        reference_sink.append(torch.cat(reference_means) if reference_means else x.new_zeros(0))
    if not hypothetical:
        return torch.zeros_like(x), x.new_zeros(0)
    return torch.cat(hypothetical), torch.cat(predictions)


def _warn_delta(method: str, attributed: torch.Tensor, delta: torch.Tensor, tolerance: float) -> None:
    error = (attributed - delta).abs()
    relative = float((error / delta.abs().clamp_min(1e-3)).max()) if error.numel() else 0.0
    if relative > tolerance:
        log.warning("%s: attributions miss f(x) - f(reference) by up to %.3g (%.2g relative); the model may hold "
                    "an operation treated as linear", method, float(error.max()), relative)
