"""DeepLIFT's rules as autograd functions, and how a max-pooling or max-reduction call becomes one.

* :class:`Rescale` — an elementwise nonlinearity with the rescale rule (Shrikumar et al. 2017): its multiplier is
  the secant ``Δy/Δx`` between the sequence and the reference (the local derivative where ``|Δx| < 1e-6``).
* :class:`MaxPoolRule` — max pooling as captum and tangermeme treat it: the change of each pooled output is routed
  to the argmax of the larger of the pair and divided by the change of that input.
* :func:`pooling_call` — a call of any form of max pooling (``F.max_pool1d``, ``nn.MaxPool1d``,
  ``aten.max_pool1d.default``, ``aten.max_pool2d_with_indices.default``, adaptive max pooling to a size that divides
  the length) or of a maximum/minimum over one dimension (``h.max(dim=-1)``, ``torch.amax``: global max pooling),
  as the pooling :class:`MaxPoolRule` applies.

The autograd functions save only tensors they make themselves, so a model that later writes into an activation in
place (``nn.ReLU(inplace=True)`` after a pooling) does not invalidate them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .ops import argument


class Shared:
    """Which reference a backward pass is for, when one sequence pass serves ``r`` references.

    The sequence's activations do not depend on the reference, so the rules run the sequence once (``(k, ...)``)
    against its references stacked reference-major (``(r * k, ...)``: row ``ρ k + i`` is reference ``ρ`` of
    sequence ``i``); they keep one multiplier per pair and each backward pass uses reference :attr:`rho`'s.
    ``r = 1`` is plain pairs: one reference per sequence.
    """

    def __init__(self, r: int = 1):
        self.r, self.rho = int(r), 0

    def split(self, t: torch.Tensor, k: int) -> torch.Tensor:
        """``(r * k, ...) -> (r, k, ...)`` (a view)."""
        return t.reshape(self.r, k, *t.shape[1:])


_PLAIN = Shared(1)


class Rescale(torch.autograd.Function):
    """Elementwise nonlinearity with the DeepLIFT rescale rule: multiplier ``Δy/Δx`` (the local derivative where
    ``|Δx| < 1e-6``), computed in the forward pass; ``apply(x, x_ref, y_ref, function, is_relu, shared)`` with
    ``x`` ``(k, ...)`` and ``x_ref``, ``y_ref`` ``(r * k, ...)`` (see :class:`Shared`; default: one reference)."""

    @staticmethod
    def forward(ctx, x, x_ref, y_ref, function, is_relu=False, shared=_PLAIN):
        k = x.shape[0]
        y = function(x)
        delta = x[None] - shared.split(x_ref, k)  # (r, k, ...)
        if is_relu:  # the local derivative in closed form; the ratio where |Δx| is small is discarded
            ratio = (y[None] - shared.split(y_ref, k)).div_(delta)
            multiplier = torch.where(delta.abs_() < 1e-6, (x > 0)[None], ratio, out=ratio)
        else:
            small = delta.abs() < 1e-6
            multiplier = (y[None] - shared.split(y_ref, k)).div_(delta.masked_fill_(small, 1.0))
            if bool(small.any()):
                with torch.enable_grad():
                    leaf = x.detach().requires_grad_(True)
                    value = function(leaf)
                    (local,) = torch.autograd.grad(value, leaf, torch.ones_like(value))
                multiplier = torch.where(small, local.to(multiplier.dtype)[None], multiplier)
        ctx.shared = shared
        ctx.save_for_backward(multiplier)
        return y

    @staticmethod
    def backward(ctx, grad):
        (multiplier,) = ctx.saved_tensors
        return grad * multiplier[ctx.shared.rho], None, None, None, None, None


class MaxPoolRule(torch.autograd.Function):
    """Max pooling with DeepLIFT's rule (as captum and tangermeme): ``apply(x, x_ref, y_ref, index_ref, pool,
    disjoint, shared)`` with ``pool: t -> (y, flat argmax)`` over ``(N, C, *L)``; ``disjoint`` when no input is in
    two windows (a pooled-size backward); ``x`` ``(k, ...)``, the reference's tensors ``(r * k, ...)`` (see
    :class:`Shared`; default: one reference)."""

    @staticmethod
    def forward(ctx, x, x_ref, y_ref, index_ref, pool, disjoint=False, shared=_PLAIN):
        y, index = pool(x)
        if y._is_view():  # a view cannot be written in place by the model afterwards (nn.ReLU(inplace=True))
            y = y.clone()
        k, c, r = x.shape[0], x.shape[1], shared.r
        y_ref, index_ref = shared.split(y_ref, k), shared.split(index_ref, k)
        top = torch.maximum(y[None], y_ref)
        ctx.disjoint, ctx.shared, ctx.shape = disjoint, shared, x.shape
        if disjoint:  # what each window sends to its two argmaxes, per unit of incoming gradient (pooled size)
            flat_ref = shared.split(x_ref, k).reshape(r, k, c, -1)
            i, j = index.reshape(k, c, -1), index_ref.reshape(r, k, c, -1)
            pooled = y.reshape(k, c, -1)[None]
            # the input at a window's argmax is the window's maximum: y at i, y_ref at j
            delta_i = flat_ref.gather(-1, i[None].expand(r, *i.shape)).neg_().add_(pooled)
            delta_j = x.reshape(k, c, -1)[None].expand(r, k, c, -1).gather(-1, j).sub_(y_ref.reshape(j.shape))
            to_j = (y[None] - top).reshape(j.shape)
            to_i = top.sub_(y_ref).reshape(j.shape)
            ctx.save_for_backward(*disjoint_pool_coefficients(delta_i, delta_j, to_i, to_j, i, j), i, j)
        else:
            ctx.save_for_backward(x[None] - shared.split(x_ref, k), top - y_ref, y[None] - top, index, index_ref)
        return y

    @staticmethod
    def backward(ctx, grad):
        rho = ctx.shared.rho
        if ctx.disjoint:
            to_i, to_j, i, j = ctx.saved_tensors
            n, c = ctx.shape[:2]
            g = grad.reshape(n, c, -1)
            result = g.new_zeros((n, c, int(np.prod(ctx.shape[2:]))))
            result.scatter_(-1, i, g * to_i[rho])
            result.scatter_add_(-1, j[rho], g * to_j[rho])
            return result.reshape(ctx.shape), None, None, None, None, None, None
        delta, to_i, to_j, index, index_ref = ctx.saved_tensors
        delta, to_i, to_j, index_ref = delta[rho], to_i[rho], to_j[rho], index_ref[rho]
        n, c = delta.shape[:2]
        routed = torch.zeros(n, c, delta[0, 0].numel(), dtype=grad.dtype, device=grad.device)
        routed.scatter_add_(-1, index.reshape(n, c, -1), (grad * to_i).reshape(n, c, -1))
        routed.scatter_add_(-1, index_ref.reshape(n, c, -1), (grad * to_j).reshape(n, c, -1))
        zero = delta == 0
        result = routed.reshape(delta.shape).div_(delta.masked_fill(zero, 1.0))
        if bool(zero.any()):
            plain = torch.zeros(n, c, delta[0, 0].numel(), dtype=grad.dtype, device=grad.device)
            plain.scatter_add_(-1, index.reshape(n, c, -1), grad.reshape(n, c, -1))
            result = torch.where(zero, plain.reshape(delta.shape), result)
        return result, None, None, None, None, None, None


def disjoint_pool_coefficients(delta_i: torch.Tensor, delta_j: torch.Tensor, to_i: torch.Tensor, to_j: torch.Tensor,
                               i: torch.Tensor, j: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:class:`MaxPoolRule` when no input is in two windows (stride >= kernel): what each window sends back.

    Parameters
    ----------
    delta_i, delta_j
        ``(..., N, C, L')``: the change of the pooling input (sequence minus reference) at each window's sequence
        argmax ``i`` and reference argmax ``j``.
    to_i, to_j
        ``(..., N, C, L')``: ``top - y_ref`` and ``y - top`` with ``top = max(y, y_ref)`` of the pooled outputs.
    i, j
        ``(..., N, C, L')`` argmax of each window (flat input positions) in the sequence and the reference
        (broadcast against each other).

    Returns
    -------
    a_i, a_j
        ``(..., N, C, L')`` (``to_i`` and ``to_j``, overwritten): the input's multiplier at ``i`` and ``j`` per unit of the window's incoming gradient
        ``g``. The backward is ``g * a_i`` scattered to ``i`` plus ``g * a_j`` added at ``j``: the general rule's
        values. Each window sends ``to_i`` to its sequence argmax ``i`` and ``to_j`` to its reference argmax ``j``,
        each divided by that input's change; a zero change gives 1 at ``i`` (the plain gradient) and 0 at
        ``j != i`` (no other window reaches ``j``).
    """
    same = i == j
    # at i == j the window's change is its input's (to_i + to_j = y - y_ref = delta_i): a_i = 1, a_j = 0
    a_i = to_i.div_(delta_i).masked_fill_((delta_i == 0).logical_or_(same), 1.0)
    a_j = to_j.div_(delta_j).masked_fill_((delta_j == 0).logical_or_(same), 0.0)
    return a_i, a_j


@dataclass
class Pooling:
    """One max-pooling (or max-reduction) call as :class:`MaxPoolRule` applies it.

    Attributes
    ----------
    before
        The pooling input as the rule sees it, ``(N, C, *L)``, from the call's input (a reduction over a dimension
        moves it last and pools ``(M, 1, L)`` with one window; a minimum is the maximum of the negation).
    pool
        ``(N, C, *L) -> (pooled, flat argmax)``.
    disjoint
        No input in two windows.
    finish
        ``(pooled, argmax or None) -> what the call returns`` (the indices when the call returns them).
    wants_indices
        Whether the call returns the argmax too.
    """

    before: Callable[[torch.Tensor], torch.Tensor]
    pool: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
    disjoint: bool
    finish: Callable[[torch.Tensor, torch.Tensor | None], Any]
    wants_indices: bool


def _ints(value) -> np.ndarray:
    return np.atleast_1d(np.asarray(value if value is not None else [], dtype=np.int64))


def _window_pooling(func, name: str, args: tuple, kwargs: dict) -> Pooling | str:
    x = args[0]
    two_d = "2d" in name
    if x.dim() != (4 if two_d else 3):
        return f"max pooling of a {x.dim()}-d tensor (the rule takes (N, C, L) or (N, C, H, W))"
    adaptive = name.startswith("adaptive")
    wants = name.endswith("_with_indices") or (isinstance(func, torch._ops.OpOverload) and adaptive) \
        or bool(argument(func, args, kwargs, ("return_indices",), 2 if adaptive else 6, False))
    if adaptive:
        size = argument(func, args, kwargs, ("output_size",), 1)
        lengths = x.shape[2:]
        size = [length if s is None else int(s) for s, length in zip(np.broadcast_to(np.array(size, dtype=object),
                                                                                     (len(lengths),)), lengths)]
        if any(length % s for length, s in zip(lengths, size)):
            return f"adaptive max pooling from length {tuple(lengths)} to {tuple(size)}, which does not divide it"
        kernel = [length // s for length, s in zip(lengths, size)]
        params = {"kernel_size": kernel, "stride": kernel}
    else:
        names = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")
        params = {key: argument(func, args, kwargs, (key,), i + 1) for i, key in enumerate(names)}
        params = {key: value for key, value in params.items() if value is not None}
        if np.size(params.get("stride", [])) == 0:
            params.pop("stride", None)
    base = F.max_pool2d_with_indices if two_d else F.max_pool1d_with_indices
    kernel = _ints(params["kernel_size"])
    stride = _ints(params.get("stride", kernel))
    disjoint = bool(np.all(_ints(params.get("dilation", 1)) == 1) and np.all(stride >= kernel))
    return Pooling(lambda t: t, lambda t: base(t, return_indices=True, **params), disjoint,
                   lambda y, index: (y, index) if wants else y, wants)


def _reduction_pooling(func, name: str, args: tuple, kwargs: dict) -> Pooling | str:
    x = args[0]
    dim = argument(func, args, kwargs, ("dim",), 1)
    if isinstance(dim, (list, tuple)):
        dim = dim[0] if len(dim) == 1 else None
    if dim is None:
        return "a maximum or minimum over more than one dimension (over the batch too)"
    dim = int(dim) % x.dim()
    keepdim = bool(argument(func, args, kwargs, ("keepdim",), 2, False))
    sign = -1.0 if name in ("min", "amin") else 1.0
    length = x.shape[dim]
    shape = list(x.shape)
    shape[dim] = 1
    if not keepdim:
        del shape[dim]
    returns_indices = name in ("max", "min")

    def before(t: torch.Tensor) -> torch.Tensor:
        return (sign * t).movedim(dim, -1).reshape(-1, 1, length)

    def finish(y: torch.Tensor, index: torch.Tensor | None):
        values = sign * y.reshape(shape)
        if not returns_indices:
            return values
        kind = torch.return_types.max if name == "max" else torch.return_types.min
        return kind((values, index.reshape(shape)))

    return Pooling(before, lambda t: F.max_pool1d_with_indices(t, length, length, return_indices=True), True, finish,
                   returns_indices)


def pooling_call(func, name: str, args: tuple, kwargs: dict) -> Pooling | str:
    """A max-pooling or max/min-reduction call as :class:`MaxPoolRule` applies it, or why it cannot.

    Parameters
    ----------
    func, args, kwargs
        The call (any form: ``torch.nn.functional``, ``torch``, ``Tensor`` method, ATen overload).
    name
        Its :func:`~seqsal.methods.ops.op_name`: one of :data:`~seqsal.methods.ops.MAX_POOLS` or
        :data:`~seqsal.methods.ops.MAX_REDUCTIONS`.

    Returns
    -------
    Pooling or str
        The pooling, or the reason no rule covers this call (a reduction over several dimensions, adaptive pooling
        to a size that does not divide the length, an input of another rank).
    """
    if not isinstance(args[0], torch.Tensor):
        return "max pooling of something that is not a tensor"
    if name in ("max", "min", "amax", "amin"):
        return _reduction_pooling(func, name, args, kwargs)
    return _window_pooling(func, name, args, kwargs)
