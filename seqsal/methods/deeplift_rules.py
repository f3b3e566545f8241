"""DeepLIFT's rules as autograd functions, and how a max-pooling or max-reduction call becomes one.

* :class:`Rescale` — an elementwise nonlinearity with the rescale rule (Shrikumar et al. 2017): its multiplier is
  the secant ``Δy/Δx`` between the sequence and the reference (the local derivative where ``|Δx| < 1e-6``).
* :class:`MaxPoolRule` — max pooling as captum and tangermeme treat it: the change of each pooled output is routed
  to the argmax of the larger of the pair and divided by the change of that input.
* :func:`pooling_call` — a call of any form of max pooling (``F.max_pool1d``, ``nn.MaxPool1d``,
  ``aten.max_pool1d.default``, ``aten.max_pool2d_with_indices.default``, adaptive max pooling to a size that divides
  the length) or of a maximum/minimum over one dimension (``h.max(dim=-1)``, ``torch.amax``: global max pooling),
  as the pooling :class:`MaxPoolRule` applies.

The autograd functions save their own copies of the sequence's tensors, so a model that later writes into an
activation in place (``nn.ReLU(inplace=True)`` after a pooling) does not invalidate them. They work out a
reference's multipliers in the backward pass for that reference (:class:`Paired`), from ``(k, ...)`` tensors that
stay in the CPU's cache, with float masks and in-place arithmetic (a boolean ``where`` or masked fill over large
tensors costs several float passes on the CPU).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .ops import argument


class Paired:
    """The reference's tensors that one rule call pairs with, filled in before each backward pass.

    A sequence's activations do not depend on the reference, only the multipliers do: one sequence pass serves
    all its references. Before the backward pass for a reference, that reference's own pass fills each rule's
    holder with its tensors at the same call, shaped like the sequence's ``(k, ...)``.

    Attributes
    ----------
    x
        The reference's input to the call (of a pooling: the pooling input as the rule sees it).
    y
        The call's output on the reference.
    index
        Of a pooling: the flat argmax of each window (:class:`MaxPoolRule`); ``None`` otherwise.
    """

    __slots__ = ("x", "y", "index")

    def __init__(self, x: torch.Tensor | None = None, y: torch.Tensor | None = None,
                 index: torch.Tensor | None = None):
        self.x, self.y, self.index = x, y, index


class Rescale(torch.autograd.Function):
    """Elementwise nonlinearity with the DeepLIFT rescale rule: multiplier ``Δy/Δx`` (the local derivative where
    ``|Δx| < 1e-6``); ``apply(x, paired, function, is_relu)`` with ``x`` ``(k, ...)`` and the reference's tensors
    in ``paired`` (:class:`Paired`), read when the backward pass runs.
    """

    @staticmethod
    def forward(ctx, x, paired, function, is_relu=False):
        y = function(x)
        if is_relu:  # the local derivative in closed form
            local = (x > 0).to(y.dtype)
        else:
            with torch.enable_grad():
                leaf = x.detach().requires_grad_(True)
                value = function(leaf)
                (local,) = torch.autograd.grad(value, leaf, torch.ones_like(value))
            local = local.to(y.dtype)
        # own copies: the model may write into its activations in place afterwards (nn.ReLU(inplace=True))
        ctx.save_for_backward(x.detach().clone(), y.detach().clone(), local)
        ctx.paired, ctx.is_relu = paired, is_relu
        return y

    @staticmethod
    def backward(ctx, grad):
        x, y, local = ctx.saved_tensors
        delta = x - ctx.paired.x
        multiplier = y - ctx.paired.y
        # float masks and in-place arithmetic: on the CPU a boolean where or masked fill costs several float passes
        small = delta.abs().lt_(1e-6)  # 1.0 where |Δx| < 1e-6, else 0.0
        if not bool(small.sum() > 0):  # the usual case: the secant everywhere (a sum is the cheapest test)
            return multiplier.div_(delta).mul_(grad), None, None, None
        multiplier.div_(delta.add_(small))  # the secant where small is 0; finite (and replaced) where it is 1
        if ctx.is_relu:  # lerp with weight 0 or 1 is exact: the secant, or the local derivative (0 or 1)
            multiplier.lerp_(local, small.to(multiplier.dtype))
        else:  # a local derivative may be infinite (sqrt at 0): no lerp
            multiplier = torch.where(small.bool(), local, multiplier)
        return multiplier.mul_(grad), None, None, None


class MaxPoolRule(torch.autograd.Function):
    """Max pooling with DeepLIFT's rule (as captum and tangermeme): ``apply(x, paired, pool, disjoint)`` with
    ``pool: t -> (y, flat argmax)`` over ``(N, C, *L)``; ``disjoint`` when no input is in two windows (a
    pooled-size backward); ``x`` ``(k, ...)`` and the reference's pooling input, output and argmax in ``paired``
    (:class:`Paired`), read when the backward pass runs."""

    @staticmethod
    def forward(ctx, x, paired, pool, disjoint=False):
        y, index = pool(x)
        if y._is_view():  # a view cannot be written in place by the model afterwards (nn.ReLU(inplace=True))
            y = y.clone()
        # own copies of the sequence's tensors: the model may write into them in place afterwards
        ctx.save_for_backward(x.detach().clone(), y.detach().clone(), index)
        ctx.paired, ctx.disjoint = paired, disjoint
        return y

    @staticmethod
    def backward(ctx, grad):
        x, y, index = ctx.saved_tensors
        x_ref, y_ref, index_ref = ctx.paired.x, ctx.paired.y, ctx.paired.index
        n, c = x.shape[:2]
        top = torch.maximum(y, y_ref)
        if ctx.disjoint:  # what each window sends to its two argmaxes (pooled size)
            i, j = index.reshape(n, c, -1), index_ref.reshape(n, c, -1)
            pooled, pooled_ref = y.reshape(n, c, -1), y_ref.reshape(n, c, -1)
            # the input at a window's argmax is the window's maximum: y at i, y_ref at j
            delta_i = x_ref.reshape(n, c, -1).gather(-1, i).neg_().add_(pooled)
            delta_j = x.reshape(n, c, -1).gather(-1, j).sub_(pooled_ref)
            to_j = (y - top).reshape(j.shape)
            to_i = top.sub_(y_ref).reshape(j.shape)
            a_i, a_j = disjoint_pool_coefficients(delta_i, delta_j, to_i, to_j)
            g = grad.reshape(n, c, -1)
            result = g.new_zeros((n, c, x[0, 0].numel()))
            result.scatter_(-1, i, a_i.mul_(g))
            result.scatter_add_(-1, j, a_j.mul_(g))
            return result.reshape(x.shape), None, None, None
        delta, to_i, to_j = x - x_ref, top - y_ref, y - top
        routed = torch.zeros(n, c, delta[0, 0].numel(), dtype=grad.dtype, device=grad.device)
        routed.scatter_add_(-1, index.reshape(n, c, -1), (grad * to_i).reshape(n, c, -1))
        routed.scatter_add_(-1, index_ref.reshape(n, c, -1), (grad * to_j).reshape(n, c, -1))
        zero = delta == 0
        result = routed.reshape(delta.shape).div_(delta.masked_fill(zero, 1.0))
        if bool(zero.any()):
            plain = torch.zeros(n, c, delta[0, 0].numel(), dtype=grad.dtype, device=grad.device)
            plain.scatter_add_(-1, index.reshape(n, c, -1), grad.reshape(n, c, -1))
            result = torch.where(zero, plain.reshape(delta.shape), result)
        return result, None, None, None


def disjoint_pool_coefficients(delta_i: torch.Tensor, delta_j: torch.Tensor, to_i: torch.Tensor, to_j: torch.Tensor
                               ) -> tuple[torch.Tensor, torch.Tensor]:
    """:class:`MaxPoolRule` when no input is in two windows (stride >= kernel): what each window sends back.

    Parameters
    ----------
    delta_i, delta_j
        ``(..., N, C, L')``: the change of the pooling input (sequence minus reference) at each window's sequence
        argmax ``i`` and reference argmax ``j``.
    to_i, to_j
        ``(..., N, C, L')``: ``top - y_ref`` and ``y - top`` with ``top = max(y, y_ref)`` of the pooled outputs.

    Returns
    -------
    a_i, a_j
        ``(..., N, C, L')`` (``to_i`` and ``to_j``, overwritten): the input's multiplier at ``i`` and ``j`` per unit
        of the window's incoming gradient ``g``. The backward is ``g * a_i`` scattered to ``i`` plus ``g * a_j``
        added at ``j``: the general rule's values. Each window sends ``to_i`` to its sequence argmax ``i`` and
        ``to_j`` to its reference argmax ``j``, each divided by that input's change; a zero change gives 1 at ``i``
        (the plain gradient) and 0 at ``j``.

    Notes
    -----
    A zero change comes with nothing to send, so the ratio is ``0 / 0`` there and only there: ``delta_i = 0`` means
    ``x_ref[i] = y <= y_ref``, so ``to_i = 0``; ``delta_j = 0`` means ``x[j] = y_ref <= y``, so ``to_j = 0``. The
    NaNs are replaced (no boolean mask over the pairs: on the CPU a masked fill costs several float passes). Where
    ``i = j`` the window's change is its input's, and exactly one of ``to_i``, ``to_j`` is non-zero and equal to
    that change (``y - y_ref``): the pair sends ``g`` to ``i``, with no case of its own. ``|a_i|, |a_j| <= 1``.
    """
    a_i = to_i.div_(delta_i).nan_to_num_(nan=1.0, posinf=float("inf"), neginf=float("-inf"))
    a_j = to_j.div_(delta_j).nan_to_num_(nan=0.0, posinf=float("inf"), neginf=float("-inf"))
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
    kernel = _ints(params["kernel_size"])
    stride = _ints(params.get("stride", kernel))
    disjoint = bool(np.all(_ints(params.get("dilation", 1)) == 1) and np.all(stride >= kernel))
    return Pooling(lambda t: t, lambda t: pool_with_indices(t, params, two_d), disjoint,
                   lambda y, index: (y, index.contiguous()) if wants else y, wants)


def _as_2d(params: dict) -> dict:
    """The parameters of a 1-d max pooling as those of a ``(1, k)`` 2-d one (over ``(N, C, 1, L)``)."""
    leading = {"kernel_size": 1, "stride": 1, "padding": 0, "dilation": 1}
    out = {key: (leading[key], int(_ints(value)[0])) for key, value in params.items() if key in leading}
    if "ceil_mode" in params:
        out["ceil_mode"] = bool(params["ceil_mode"])
    return out


def pool_with_indices(t: torch.Tensor, params: dict, two_d: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Max pooling with the flat argmax of each window, as ``F.max_pool{1,2}d_with_indices``.

    On the CPU, with 8 or more channels, the pooling runs in channels-last memory, where the kernel is vectorised
    over the channels (2-3x faster than the channels-first kernel here: in the references' pass it was the
    largest single cost of DeepSHAP on a Basset-style model). It is the same loop (the first maximum of each
    window, a NaN wins), so values and indices are identical; both come back contiguous.

    Parameters
    ----------
    t
        ``(N, C, L)`` (``two_d`` False) or ``(N, C, H, W)``.
    params
        ``kernel_size``, and optionally ``stride``, ``padding``, ``dilation``, ``ceil_mode`` of the call.
    two_d
        Whether the pooling is 2-d.

    Returns
    -------
    pooled, index
        ``(N, C, L')`` or ``(N, C, H', W')``, and the flat argmax of each window in the input's last (1-d) or
        last two (2-d) dimensions, ``int64``.
    """
    if t.device.type != "cpu" or t.shape[1] < 8:
        base = F.max_pool2d_with_indices if two_d else F.max_pool1d_with_indices
        return base(t, return_indices=True, **params)
    last = t.movedim(1, -1).contiguous().movedim(-1, 1)  # channels-last (a faster copy than .contiguous(format))
    y, index = F.max_pool2d_with_indices(last if two_d else last.unsqueeze(2), return_indices=True,
                                         **(params if two_d else _as_2d(params)))
    if not two_d:
        y, index = y.squeeze(2), index.squeeze(2)
    return y.contiguous(), index.contiguous()


def _reduction_pooling(func, name: str, args: tuple, kwargs: dict) -> Pooling | str:
    x = args[0]
    dim = argument(func, args, kwargs, ("dim",), 1)
    if dim is None or (isinstance(dim, (list, tuple)) and not dim):
        return "a maximum or minimum over every dimension (over the batch too)"
    if isinstance(dim, (list, tuple)) and len(dim) != 1:  # review26: said "over the batch too" of dim=(1, 2)
        return (f"a maximum or minimum over {len(dim)} dimensions at once; take it one dimension at a time "
                "(h.amax(dim=2).amax(dim=1)), which gives the same value and has a DeepLIFT rule")
    if isinstance(dim, (list, tuple)):
        dim = dim[0]
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
