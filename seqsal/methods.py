"""Attribution methods beyond plain gradients, registered into :data:`seqsal.attribution.METHODS`.

Every method keeps the contract ``fn(model, x, target, **params) -> (hypothetical (N, 4, L), prediction (N,))``
and ``projected = hypothetical * x``. What *hypothetical* means per method:

``smoothgrad``
    Mean input gradient over ``samples`` noisy copies ``x + N(0, noise²)``; a gradient like saliency
    (gradient correction applies as usual).
``ig`` (integrated gradients) and ``deepshap`` (DeepLIFT/DeepSHAP, rescale rule)
    From multipliers ``m`` (the path-averaged gradient, or the DeepLIFT multipliers) and a baseline ``b``
    the hypothetical contribution of base ``i`` is ``m_i - Σ_c b_c m_c``, i.e. ``(e_i - b) · m`` — what the
    position would contribute if it held base ``i`` — averaged over baselines. For one-hot ``x``,
    ``(hypothetical * x).sum(channels)`` is ``(x - b) · m``, the method's per-base attribution, so the sum
    over positions is ``f(x) - mean f(b)`` (completeness / summation-to-delta). The same convention as
    tangermeme's ``deep_lift_shap(hypothetical=True)``. Gradient correction is *not* applied to these
    (it would break summation-to-delta): they are listed in :data:`seqsal.attribution.UNCORRECTED`.
``ism`` (in-silico saturation mutagenesis)
    ``delta[b, p] = f(x with base b at p) - f(x)`` centred over the four bases at each position: the
    projected value at ``p`` is minus the mean effect of the substitutions there. Uncentred deltas:
    :func:`ism_deltas`.
``gradcam``
    Grad-CAM of a convolutional layer (``layer``, default the last ``Conv1d``), linearly upsampled to
    bases and repeated over the four channels, so the projected track is the Grad-CAM value at each base
    (0 at N). Not corrected.

References and noise are drawn from a generator seeded by ``seed`` and the bytes of each sequence, so a
sequence gets the same references whatever batch it lands in (same seed, same bytes out).
"""
from __future__ import annotations

import logging
import zlib
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from .attribution import METHODS, UNCORRECTED, Target, input_gradient
from .errors import InputError
from .shuffle import dinucleotide_shuffle

log = logging.getLogger("seqsal")

BASELINES = ("shuffle", "zero", "uniform")
# methods whose attributions sum to f(x) - mean f(baselines) (completeness / summation-to-delta) and that
# report mean f(baselines) through their ``reference_sink`` argument
REFERENCE_METHODS = frozenset({"ig", "deepshap"})


# --------------------------------------------------------------------------- references


def sequence_rng(x: torch.Tensor, seed: int) -> np.random.Generator:
    """A generator seeded by ``seed`` and the bytes of one sequence ``(4, L)``."""
    digest = zlib.crc32(np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32).tobytes())
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, digest])


def make_baselines(x: torch.Tensor, baseline: str = "shuffle", references: int = 20, seed: int = 0) -> torch.Tensor:
    """Baselines for each sequence.

    Parameters
    ----------
    x
        One-hot ``(N, 4, L)``.
    baseline
        ``shuffle`` (dinucleotide shuffles, N kept in place), ``zero`` or ``uniform`` (0.25).
    references
        Shuffles per sequence (``shuffle`` only; the others give one baseline).

    Returns
    -------
    torch.Tensor
        ``(N, R, 4, L)`` on ``x``'s device and dtype.
    """
    if baseline == "zero":
        return torch.zeros_like(x)[:, None]
    if baseline == "uniform":
        return torch.full_like(x, 0.25)[:, None]
    if baseline != "shuffle":
        raise InputError(f"unknown --baseline {baseline!r}; choose one of {', '.join(BASELINES)}")
    if references < 1:
        raise InputError(f"--references must be at least 1, got {references}")
    if not x.shape[0]:
        return x.new_zeros((0, references, *x.shape[1:]))
    # one vectorised shuffle of the whole batch; each row still draws from its own generator, so a row's
    # references do not depend on the batch it came in
    out = dinucleotide_shuffle(x.detach().cpu().numpy(), references, [sequence_rng(row, seed) for row in x])
    return torch.from_numpy(out).to(device=x.device, dtype=x.dtype)


def _check_references(x: torch.Tensor, references) -> torch.Tensor:
    references = torch.as_tensor(references, dtype=x.dtype, device=x.device)
    if references.ndim != 4 or references.shape[0] != x.shape[0] or references.shape[2:] != x.shape[1:]:
        raise InputError(f"references must have shape (N, R, 4, L) = ({x.shape[0]}, R, {x.shape[1]}, {x.shape[2]}), "
                         f"got {tuple(references.shape)}")
    return references


def _hypothetical_from_multipliers(multipliers: torch.Tensor, baselines: torch.Tensor) -> torch.Tensor:
    """``m_i - Σ_c b_c m_c`` per pair ``(N, R, 4, L)``, averaged over the R baselines -> ``(N, 4, L)``."""
    return (multipliers - (baselines * multipliers).sum(dim=-2, keepdim=True)).mean(dim=1)


# --------------------------------------------------------------------------- DeepLIFT


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

    Returns
    -------
    multipliers, prediction, reference_prediction
        ``(P, 4, L)``, ``(P,)``, ``(P,)``.
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
        ``(N, 4, L)`` (see the module docstring) and ``(N,)``.
    """
    target = target or Target()
    refs = _check_references(x, references) if isinstance(references, (torch.Tensor, np.ndarray)) else \
        make_baselines(x, baseline, int(references), seed)
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
        hypothetical.append(_hypothetical_from_multipliers(multipliers.reshape(k, r, *xs.shape[1:]), rs))
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


# --------------------------------------------------------------------------- integrated gradients


def _quadrature(steps: int, method: str = "gausslegendre") -> tuple[np.ndarray, np.ndarray]:
    if steps < 1:
        raise InputError(f"--steps must be at least 1, got {steps}")
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (nodes + 1) / 2, weights / 2
    if method == "riemann":
        return (np.arange(steps) + 0.5) / steps, np.full(steps, 1 / steps)
    raise InputError(f"unknown quadrature {method!r}; use gausslegendre or riemann")


def integrated_gradients(
    model: nn.Module, x: torch.Tensor, target: Target | None = None, steps: int = 32, baseline: str = "zero",
    references: int | torch.Tensor = 10, seed: int = 0, point_batch: int = 512, quadrature: str = "gausslegendre",
    reference_sink: list | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrated gradients along the straight path from a baseline (Sundararajan et al. 2017).

    Parameters
    ----------
    steps
        Quadrature nodes on the path (Gauss–Legendre by default; ``riemann``: midpoints).
    baseline
        ``zero``, ``uniform`` (0.25) or ``shuffle`` (``references`` dinucleotide shuffles, averaged: expected
        gradients over shuffles); or pass the baselines ``(N, R, 4, L)`` as ``references``.
    point_batch
        Path points per forward/backward pass.
    reference_sink
        If a list, ``mean f(baselines)`` ``(N,)`` is appended to it (one extra forward pass per
        baseline, only when asked).

    Returns
    -------
    hypothetical, prediction
        ``(N, 4, L)`` (see the module docstring) and ``(N,)``. Completeness:
        ``(hypothetical * x).sum((1, 2)) ≈ f(x) - mean f(baselines)`` up to the quadrature error
        (:func:`completeness`).
    """
    target = target or Target()
    refs = _check_references(x, references) if isinstance(references, (torch.Tensor, np.ndarray)) else \
        make_baselines(x, baseline, int(references), seed)
    n, r = refs.shape[:2]
    alphas, weights = _quadrature(int(steps), quadrature)
    alphas_t = torch.as_tensor(alphas, dtype=x.dtype, device=x.device)
    weights_t = torch.as_tensor(weights, dtype=x.dtype, device=x.device)
    s = alphas_t.shape[0]
    diff = x[:, None] - refs  # (N, R, 4, L)
    points = refs[:, :, None] + alphas_t[None, None, :, None, None] * diff[:, :, None]  # (N, R, S, 4, L)
    flat = points.reshape(n * r * s, *x.shape[1:])
    with torch.no_grad():
        output = model(x)
        prediction = target.select(output).float()
    # bpnet targets keep x's softmax weights along the whole path (Target.profile_weights): exact completeness
    profile = target.profile_weights(output)
    point_weights = None if profile is None else profile.repeat_interleave(r * s, dim=0)
    gradients = []
    for first in range(0, flat.shape[0], point_batch):
        chunk = None if point_weights is None else point_weights[first:first + point_batch]
        gradient, _ = input_gradient(model, flat[first:first + point_batch], target, chunk)
        gradients.append(gradient)
    gradient = torch.cat(gradients).reshape(n, r, s, *x.shape[1:])
    multipliers = (gradient * weights_t[None, None, :, None, None]).sum(dim=2)  # (N, R, 4, L)
    with torch.no_grad():
        if reference_sink is not None:
            flat_refs = refs.reshape(n * r, *x.shape[1:])
            ref_weights = None if profile is None else profile.repeat_interleave(r, dim=0)
            values = [target.select(model(flat_refs[i:i + point_batch]),
                                    None if ref_weights is None else ref_weights[i:i + point_batch]).float()
                      for i in range(0, n * r, point_batch)]
            reference_sink.append(torch.cat(values).reshape(n, r).mean(dim=1) if values else x.new_zeros(0))
    return _hypothetical_from_multipliers(multipliers, refs), prediction


def completeness(model: nn.Module, x: torch.Tensor, hypothetical: torch.Tensor, baselines: torch.Tensor,
                 target: Target | None = None) -> torch.Tensor:
    """``Σ projected - (f(x) - mean f(baselines))`` per sequence ``(N,)``: 0 for a complete attribution.

    ``baselines`` is ``(N, R, 4, L)`` (e.g. :func:`make_baselines` with the same seed as the method).
    """
    target = target or Target()
    n, r = baselines.shape[:2]
    with torch.no_grad():
        output = model(x)
        fx = target.select(output).float()
        profile = target.profile_weights(output)  # bpnet: the baselines with x's weights, as the methods use them
        fb = target.select(model(baselines.reshape(n * r, *x.shape[1:])),
                           None if profile is None else profile.repeat_interleave(r, dim=0)).float()
    return (hypothetical * x).sum(dim=(1, 2)) - (fx - fb.reshape(n, r).mean(dim=1))


# --------------------------------------------------------------------------- SmoothGrad


def smoothgrad(model: nn.Module, x: torch.Tensor, target: Target | None = None, samples: int = 20,
               noise: float = 0.1, seed: int = 0, point_batch: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """SmoothGrad (Smilkov et al. 2017): the input gradient averaged over ``samples`` copies ``x + N(0, noise²)``.

    ``noise`` is the standard deviation in one-hot units (the input range is 1). Returns the mean gradient
    ``(N, 4, L)`` (corrected like saliency by the engine) and the prediction on the clean ``x``.
    """
    target = target or Target()
    if samples < 1:
        raise InputError(f"--samples must be at least 1, got {samples}")
    if noise < 0:
        raise InputError(f"--noise must be >= 0, got {noise}")
    n = x.shape[0]
    draws = []
    for row in x:
        rng = sequence_rng(row, seed)
        draws.append(torch.from_numpy(rng.standard_normal((samples, *x.shape[1:]), dtype=np.float32)))
    eps = torch.stack(draws).to(device=x.device, dtype=x.dtype) if draws else x.new_zeros((0, samples, *x.shape[1:]))
    flat = (x[:, None] + noise * eps).reshape(n * samples, *x.shape[1:])
    gradients = [input_gradient(model, flat[i:i + point_batch], target)[0] for i in range(0, flat.shape[0], point_batch)]
    gradient = torch.cat(gradients).reshape(n, samples, *x.shape[1:]).mean(dim=1) if gradients else torch.zeros_like(x)
    with torch.no_grad():
        prediction = target.select(model(x)).float()
    return gradient, prediction


# --------------------------------------------------------------------------- ISM


def _mutants_of(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Positions and bases of every single substitution of one sequence ``(4, L)`` (skipping the base present)."""
    present = (x.detach().cpu().numpy() == 1)
    bases, positions = np.nonzero(~present)
    return positions, bases


def ism_deltas(model: nn.Module, x: torch.Tensor, target: Target | None = None, fast: bool | str = "auto",
               mutant_batch: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Change of the target for every single-base substitution.

    Parameters
    ----------
    fast
        ``True``: recompute only the receptive field of each substitution (built-in Basset and BPNet
        architectures; raises otherwise); ``False``: run the whole model on every mutant; ``"auto"``: fast
        when the model supports it.
    mutant_batch
        Mutants per pass.

    Returns
    -------
    deltas, prediction
        ``(N, 4, L)`` with 0 at the base present, and ``(N,)``.
    """
    target = target or Target()
    plan = ism_plan(model) if fast else None
    if fast is True and plan is None:
        raise InputError(f"no fast ISM path for {type(model).__name__}; use fast='auto' or False")
    deltas = torch.zeros_like(x)
    predictions = []
    with torch.no_grad():
        for i in range(x.shape[0]):
            row = x[i]
            positions, bases = _mutants_of(row)
            if plan is not None:
                values, reference = _fast_ism_row(plan, row, positions, bases, target, mutant_batch)
            else:
                values, reference = _naive_ism_row(model, row, positions, bases, target, mutant_batch)
            deltas[i, torch.as_tensor(bases, device=x.device), torch.as_tensor(positions, device=x.device)] = \
                values - reference
            predictions.append(reference)
    prediction = torch.stack(predictions) if predictions else x.new_zeros(0)
    return deltas, prediction


def _mutant_batch(row: torch.Tensor, positions: np.ndarray, bases: np.ndarray) -> torch.Tensor:
    batch = row[None].repeat(len(positions), 1, 1)
    index = torch.arange(len(positions), device=row.device)
    p = torch.as_tensor(positions, device=row.device)
    batch[index, :, p] = 0
    batch[index, torch.as_tensor(bases, device=row.device), p] = 1
    return batch


def _naive_ism_row(model, row, positions, bases, target, mutant_batch):
    reference = target.select(model(row[None])).float()[0]
    values = [target.select(model(_mutant_batch(row, positions[i:i + mutant_batch], bases[i:i + mutant_batch]))).float()
              for i in range(0, len(positions), mutant_batch)]
    return (torch.cat(values) if values else row.new_zeros(0)), reference


def ism(model: nn.Module, x: torch.Tensor, target: Target | None = None, fast: bool | str = "auto",
        mutant_batch: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """ISM as an attribution method: deltas centred over the four bases at each position (see the module docstring)."""
    deltas, prediction = ism_deltas(model, x, target, fast, mutant_batch)
    return deltas - deltas.mean(dim=-2, keepdim=True), prediction


class _Stage:
    """One local stage of a convolutional trunk: a ``same``-padded convolution first, then elementwise ops and
    at most a non-overlapping pooling. ``radius`` is the convolution's reach, ``stride`` the pooling factor."""

    def __init__(self, function: Callable, conv: nn.Conv1d, stride: int = 1, valid: Callable | None = None):
        kernel, dilation = conv.kernel_size[0], conv.dilation[0]
        self.radius = dilation * (kernel - 1) // 2
        if conv.stride[0] != 1 or dilation * (kernel - 1) % 2 or conv.padding != (self.radius,) or \
                conv.padding_mode != "zeros":
            raise ValueError("not a same-padded stride-1 convolution")
        # valid (stride 1 only): the stage on a window (M, C, W) without padding -> (M, C', W - 2 * radius),
        # i.e. only the outputs whose whole receptive field is in the window
        self.function, self.stride, self.valid = function, stride, valid
        self.channels = conv.out_channels


def _valid_conv(conv: nn.Conv1d, h: torch.Tensor) -> torch.Tensor:
    """``conv`` without its padding: ``(M, C, W) -> (M, C', W - dilation * (kernel - 1))``."""
    return F.conv1d(h, conv.weight, conv.bias, stride=1, padding=0, dilation=conv.dilation)


class ISMPlan:
    """A model cut into local stages and a head, for the fast ISM path."""

    def __init__(self, stages: list[_Stage], head: Callable, local_head: Callable | None = None):
        # local_head(final, patch, start, target) -> (M,) target values, or None when it cannot give this
        # target: the head from the reference's final activations (C, L) and each mutant's changed
        # columns patch (M, C, width) starting at start (M,), without rebuilding whole activations
        self.stages, self.head, self.local_head = stages, head, local_head

    @property
    def batch_cap(self) -> int | None:
        """Mutants per pass that keep a stage's window of activations near 8 MB (``None``: no cap).

        Without pooling the changed span grows to the whole receptive field (about 1,000 bp in BPNet), and
        large batches of such windows run out of cache: on BPNet (64 filters, 2,114 bp) 32 mutants per pass
        took 0.06 forward-pass equivalents per edit, 512 took 0.12.
        """
        if any(stage.stride != 1 for stage in self.stages):
            return None
        span = 1 + 2 * sum(stage.radius for stage in self.stages)
        channels = max(stage.channels for stage in self.stages)
        return int(min(512, max(16, 2 ** 21 // (span * channels))))


def _pool_stride(module) -> int | None:
    if isinstance(module, nn.MaxPool1d) or isinstance(module, nn.AvgPool1d):
        k = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
        s = module.stride if isinstance(module.stride, int) else module.stride[0]
        pad = module.padding if isinstance(module.padding, int) else module.padding[0]
        if k == s and pad == 0 and not module.ceil_mode and getattr(module, "dilation", 1) in (1, (1,)):
            return k
    return None


def ism_plan(model: nn.Module) -> ISMPlan | None:
    """The fast-ISM decomposition of a built-in model (``BassetCNN``, ``BPNet``), or ``None``."""
    from .models.architectures import BassetCNN, BPNet

    try:
        if type(model) is BassetCNN:
            layers = list(model.features)
            stages = []
            for i in range(0, len(layers), 4):
                conv, norm, act, pool = layers[i:i + 4]
                stride = _pool_stride(pool)
                if not isinstance(conv, nn.Conv1d) or stride is None or not isinstance(act, nn.ReLU):
                    return None
                stages.append(_Stage(nn.Sequential(conv, norm, act, pool), conv, stride))
            return ISMPlan(stages, model.head)
        if type(model) is BPNet:
            stages = [_Stage(lambda h: torch.relu(model.first(h)), model.first,
                             valid=lambda h: torch.relu(_valid_conv(model.first, h)))]
            for conv in model.dilated:
                r = conv.dilation[0] * (conv.kernel_size[0] - 1) // 2
                stages.append(_Stage(lambda h, conv=conv: h + torch.relu(conv(h)), conv,
                                     valid=lambda h, conv=conv, r=r: _valid_conv(conv, h).relu_().add_(
                                         h[:, :, r:h.shape[-1] - r])))

            def head(h):
                end = h.shape[-1] - model.trimming
                profile = model.profile_head(h)[:, :, model.trimming:end]
                counts = model.counts_head(h[:, :, model.trimming:end].mean(dim=-1))
                return profile, counts

            def local_head(final, patch, start, target):
                """Counts only: the trimmed mean moves by the patch's change inside the trimmed span."""
                if target.output != 1:
                    return None
                length = final.shape[-1]
                lo, hi = model.trimming, length - model.trimming
                cols = start[:, None] + torch.arange(patch.shape[-1], device=patch.device)[None]  # (M, width)
                inside = ((cols >= lo) & (cols < hi)).to(patch.dtype)
                change = ((patch - final[:, cols.clamp(0, length - 1)].permute(1, 0, 2)) * inside[:, None]).sum(-1)
                mean = final[:, lo:hi].mean(dim=-1)[None] + change / (hi - lo)
                return target.select((None, model.counts_head(mean)))

            return ISMPlan(stages, head, local_head)
    except ValueError:
        return None
    return None


def _windows(previous: torch.Tensor, window_start: torch.Tensor, width: int) -> torch.Tensor:
    """Windows ``[window_start, window_start + width)`` of ``previous`` ``(C, L)``, zero outside ``[0, L)``.

    Returns ``(M, C, width)`` (a copy), one window per entry of ``window_start`` ``(M,)``.
    """
    length = previous.shape[-1]
    if width == 0:
        return previous.new_zeros((window_start.shape[0], previous.shape[0], 0))
    before = max(0, -int(window_start.min()))
    after = max(0, int(window_start.max()) + width - length)
    padded = F.pad(previous, (before, after))
    return padded.unfold(-1, width, 1).permute(1, 0, 2)[window_start + before]


def _fast_ism_row(plan: ISMPlan, row, positions, bases, target, mutant_batch):
    """Receptive-field ISM: each stage recomputes only the window its input changed in."""
    mutant_batch = min(mutant_batch, plan.batch_cap or mutant_batch)
    activations = [row[None]]
    for stage in plan.stages:
        activations.append(stage.function(activations[-1]))
    reference = target.select(plan.head(activations[-1])).float()[0]
    values = []
    for first in range(0, len(positions), mutant_batch):
        p = torch.as_tensor(positions[first:first + mutant_batch], device=row.device)
        b = torch.as_tensor(bases[first:first + mutant_batch], device=row.device)
        m = p.shape[0]
        # patch: (M, C, width) values of the current stage output on [start, start + width)
        patch = torch.zeros(m, 4, 1, dtype=row.dtype, device=row.device)
        patch[torch.arange(m, device=row.device), b, 0] = 1
        start, width = p, 1
        for k, stage in enumerate(plan.stages):
            previous = activations[k][0]  # (C, L_prev)
            length_prev = previous.shape[-1]
            s, c = stage.stride, -(-stage.radius // stage.stride)
            lo = torch.div(start - stage.radius, s, rounding_mode="floor")  # first output the change reaches
            hi = torch.div(start + width - 1 + stage.radius, s, rounding_mode="floor")
            count = int((hi - lo).max()) + 1
            window_start = (lo - c) * s
            window_width = s * (count + 2 * c)
            if s == 1 and window_width >= length_prev + 2 * c:  # covers everything: one shared window
                window_start = torch.full_like(window_start, -c)
                window_width = length_prev + 2 * c
                lo, count = torch.zeros_like(lo), length_prev
            # the window: reference values around the changed segment, the segment's new values inside
            rel = start - window_start  # (M,)
            columns = start[:, None] + torch.arange(width, device=row.device)[None]  # (M, width)
            off = bool(start.min() < 0) or bool((start + width).max() > length_prev)
            first_rel = int(rel[0])
            if bool((rel == first_rel).all()) and first_rel >= 0 and first_rel + width <= window_width:
                # same offset in every window: margins from the reference, joined to the segment
                right = window_width - first_rel - width
                if off:  # columns off the sequence are zero padding
                    patch = patch * ((columns >= 0) & (columns < length_prev))[:, None].to(patch.dtype)
                gathered = torch.cat([_windows(previous, window_start, first_rel), patch,
                                      _windows(previous, start + width, right)], dim=-1)
            else:
                gathered = _windows(previous, window_start, window_width)  # (M, C, W), zeros off the sequence
                real = (columns >= 0) & (columns < length_prev)
                seg = rel[:, None] + torch.arange(width, device=row.device)[None]
                seg_inside = (seg >= 0) & (seg < window_width) & real
                rows = torch.arange(m, device=row.device)[:, None].expand_as(seg)
                gathered.permute(0, 2, 1)[rows[seg_inside], seg[seg_inside]] = patch.permute(0, 2, 1)[seg_inside]
            if stage.valid is not None and s == 1:
                # the kept outputs [lo, lo + count) are exactly those whose reach lies in the window
                patch = stage.valid(gathered.contiguous())
            else:
                out = stage.function(gathered.contiguous())
                # output index k of the window corresponds to (window_start / s) + k; keep [lo, lo + count)
                keep = (lo - window_start // s)[:, None] + torch.arange(count, device=row.device)[None]
                keep = keep.clamp(0, out.shape[-1] - 1)
                patch = torch.gather(out, 2, keep[:, None, :].expand(m, out.shape[1], count))
            start, width = lo, count
        final = activations[-1][0]
        if plan.local_head is not None:
            local = plan.local_head(final, patch, start, target)
            if local is not None:
                values.append(local.float())
                continue
        length = final.shape[-1]
        full = final[None].repeat(m, 1, 1)
        cols = start[:, None] + torch.arange(width, device=row.device)[None]
        valid = (cols >= 0) & (cols < length)
        rows = torch.arange(m, device=row.device)[:, None].expand_as(cols)
        full = full.permute(0, 2, 1)
        full[rows[valid], cols[valid]] = patch.permute(0, 2, 1)[valid]
        values.append(target.select(plan.head(full.permute(0, 2, 1).contiguous())).float())
    return (torch.cat(values) if values else row.new_zeros(0)), reference


# --------------------------------------------------------------------------- Grad-CAM


def _find_layer(model: nn.Module, layer: str | None) -> tuple[str, nn.Module]:
    modules = dict(model.named_modules()) if isinstance(model, nn.Module) else {}
    if layer:
        if layer not in modules:
            convs = [name for name, m in modules.items() if isinstance(m, nn.Conv1d)]
            raise InputError(f"--layer {layer!r} is not a module of the model; its convolutions: {', '.join(convs)}")
        return layer, modules[layer]
    convs = [(name, m) for name, m in modules.items() if isinstance(m, nn.Conv1d)]
    if not convs:
        raise InputError("gradcam needs a model with a Conv1d layer (name it with --layer)")
    return convs[-1]


def gradcam(model: nn.Module, x: torch.Tensor, target: Target | None = None, layer: str | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM (Selvaraju et al. 2017) of a convolutional layer, upsampled to bases.

    ``ReLU(Σ_k α_k A_k)`` with ``α_k`` the mean gradient of the target over the positions of channel ``k``
    of the layer's output ``A``; linearly interpolated from the layer's length to ``L`` and repeated over the
    four channels ``(N, 4, L)``.
    """
    target = target or Target()
    _, module = _find_layer(model, layer)
    captured = {}
    handle = module.register_forward_hook(lambda _m, _i, out: captured.__setitem__("a", out))
    try:
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            prediction = target.select(model(leaf)).float()
            activation = captured["a"]
            (gradient,) = torch.autograd.grad(prediction.sum(), activation)
    finally:
        handle.remove()
    weights = gradient.mean(dim=-1, keepdim=True)
    cam = torch.relu((weights * activation).sum(dim=1, keepdim=True)).detach()  # (N, 1, L')
    cam = F.interpolate(cam, size=x.shape[-1], mode="linear", align_corners=False)
    return cam.expand(-1, x.shape[1], -1).contiguous(), prediction.detach()


# --------------------------------------------------------------------------- registry


def _register() -> None:
    METHODS.update({
        "deepshap": deep_lift_shap, "ig": integrated_gradients, "smoothgrad": smoothgrad, "ism": ism,
        "gradcam": gradcam,
    })
    UNCORRECTED.update({"deepshap", "ig", "gradcam"})


_register()


# parameters each method takes from the command line (``seed`` comes from --seed)
METHOD_OPTIONS: dict[str, tuple[str, ...]] = {
    "deepshap": ("references", "baseline", "seed"),
    "ig": ("steps", "baseline", "references", "seed"),
    "smoothgrad": ("samples", "noise", "seed"),
    "ism": ("fast",),
    "gradcam": ("layer",),
}


def method_params(method: str, seed: int = 0, **given) -> dict:
    """The ``method_params`` of ``method`` from command-line values (``None``: not given).

    Raises :class:`InputError` for an option the method does not take.
    """
    accepted = METHOD_OPTIONS.get(method, ())
    params = {}
    for key, value in given.items():
        if value is None:
            continue
        if key not in accepted:
            takes = ", ".join(f"--{name}" for name in accepted if name != "seed") or "no options"
            raise InputError(f"--{key.replace('_', '-')} does not apply to --method {method} (it takes {takes})")
        params[key] = value
    if "seed" in accepted:
        params["seed"] = seed
    if params.get("baseline") not in (None, *BASELINES):
        raise InputError(f"unknown --baseline {params['baseline']!r}; choose one of {', '.join(BASELINES)}")
    return params
