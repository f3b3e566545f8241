"""Integrated gradients (Sundararajan et al. 2017) and the completeness check of baseline methods.

The path integral from each baseline to ``x`` is taken with Gauss–Legendre quadrature (midpoints on request);
with several baselines (dinucleotide shuffles) the result is their average, i.e. expected gradients over
shuffles. Multipliers become hypothetical contributions as for DeepSHAP
(:func:`~seqsal.methods.references.hypothetical_from_multipliers`), so the projected map sums to
``f(x) - mean f(baselines)`` up to the quadrature error (:func:`completeness`).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..attribution import Target, input_gradient
from ..errors import InputError, option
from .inputs import method_entry, method_inputs
from .references import check_completeness, hypothetical_from_multipliers, resolve_references

# the completeness error a window of ig may keep, relative to Σ |attributions| + |delta| (see
# references.relative_completeness): the quadrature error of the default 32 points reaches 0.014 on the demo model
IG_TOLERANCE = 0.05
IG_ADVICE = ("the path integral is too coarse for this model: raise --steps; if more steps do not help, the model's "
             "gradient is not its derivative (a .detach(), torch.no_grad() or straight-through step in its forward): "
             "explain it with --method ism")


def _quadrature(steps: int, method: str = "gausslegendre") -> tuple[np.ndarray, np.ndarray]:
    """Nodes in ``(0, 1)`` and weights (summing to 1) of a ``steps``-point rule on the path: Gauss–Legendre
    (exact for polynomials of degree ``2 * steps - 1``) or midpoint ``riemann``; :class:`InputError` otherwise."""
    if steps < 1:
        raise InputError(f"{option('steps')} must be at least 1, got {steps}")
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (nodes + 1) / 2, weights / 2
    if method == "riemann":
        return (np.arange(steps) + 0.5) / steps, np.full(steps, 1 / steps)
    raise InputError(f"unknown quadrature {method!r}; use gausslegendre or riemann")


@method_entry
def integrated_gradients(
    model: nn.Module, x: torch.Tensor, target: Target | None = None, steps: int = 32, baseline: str = "zero",
    references: int | torch.Tensor = 10, seed: int = 0, point_batch: int = 512, quadrature: str = "gausslegendre",
    reference_sink: list | None = None, check: float | None = IG_TOLERANCE,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrated gradients along the straight path from a baseline (Sundararajan et al. 2017).

    Parameters
    ----------
    model, x, target
        Model (an ``nn.Module``, or what :func:`seqsal.load_model` returns: its module, task names and input
        length), one-hot ``(N, 4, L)`` (tensor; a numpy array is taken as float32), what to explain (a
        :class:`~seqsal.attribution.Target`, its string or a task index or name, as for :func:`seqsal.attribute`;
        default: task 0 of the output as it is;
        these functions apply no transform, where :func:`seqsal.attribute` explains a sigmoid or softmax
        output as its logit or log-odds).
    steps
        Quadrature nodes on the path (Gauss–Legendre by default; ``riemann``: midpoints).
    baseline
        ``zero``, ``uniform`` (0.25) or ``shuffle`` (``references`` dinucleotide shuffles, averaged: expected
        gradients over shuffles); or pass the baselines ``(N, R, 4, L)`` as ``references``.
    references
        Shuffles per sequence (``shuffle`` only), or the baselines themselves ``(N, R, 4, L)``.
    seed
        Seed of the shuffles (mixed with each sequence's bytes).
    point_batch
        Path points per forward/backward pass: at most this many are built at once (the memory of IG is
        ``point_batch`` windows, not ``N·R·steps``).
    quadrature
        ``gausslegendre`` or ``riemann`` (midpoints).
    reference_sink
        If a list, ``mean f(baselines)`` ``(N,)`` is appended to it (one extra forward pass per
        baseline, only when asked).
    check
        Raise :class:`~.references.IncompleteAttribution` when a sequence's completeness error exceeds this
        fraction of ``Σ |attributions| + |f(x) - mean f(baselines)|`` (default :data:`IG_TOLERANCE`; ``None``: no
        check, as the engine passes it, which checks each window itself; review26: a model with a ``.detach()``
        summed to the opposite sign of ``f(x) - f(0)`` through :func:`seqsal.attribute` without a word).

    Returns
    -------
    hypothetical, prediction
        ``(N, 4, L)`` (see :mod:`seqsal.methods`) and ``(N,)``. Completeness:
        ``(hypothetical * x).sum((1, 2)) ≈ f(x) - mean f(baselines)`` up to the quadrature error
        (:func:`completeness`).

    Raises
    ------
    InputError
        For ``x`` not one-hot ``(N, 4, L)`` or a bad ``target`` (:func:`~seqsal.methods.inputs.method_inputs`); for
        ``steps < 1``, an unknown quadrature or baseline, or baselines of the wrong shape;
        :class:`~.references.IncompleteAttribution` when ``check`` is exceeded.
    """
    refs = resolve_references(x, references, baseline, seed)
    n, r = refs.shape[:2]
    alphas, weights = _quadrature(int(steps), quadrature)
    alphas_t = torch.as_tensor(alphas, dtype=x.dtype, device=x.device)
    weights_t = torch.as_tensor(weights, dtype=x.dtype, device=x.device)
    with torch.no_grad():
        output = model(x)
        prediction = target.select(output).float()
    # bpnet targets keep x's softmax weights along the whole path (Target.profile_weights): exact completeness
    profile = target.profile_weights(output)
    multipliers = _path_multipliers(model, x, refs, alphas_t, weights_t, target, profile, point_batch)
    hypothetical = hypothetical_from_multipliers(multipliers, refs)
    if reference_sink is not None or check is not None:
        with torch.no_grad():
            flat_refs = refs.reshape(n * r, *x.shape[1:])
            ref_weights = None if profile is None else profile.repeat_interleave(r, dim=0)
            values = [target.select(model(flat_refs[i:i + point_batch]),
                                    None if ref_weights is None else ref_weights[i:i + point_batch]).float()
                      for i in range(0, n * r, point_batch)]
            reference = torch.cat(values).reshape(n, r).mean(dim=1) if values else x.new_zeros(0)
        if reference_sink is not None:
            reference_sink.append(reference)
        if check is not None:
            check_completeness("ig", hypothetical * x, prediction - reference, check, IG_ADVICE, prediction)
    return hypothetical, prediction


def _path_multipliers(model: nn.Module, x: torch.Tensor, refs: torch.Tensor, alphas: torch.Tensor,
                      weights: torch.Tensor, target: Target, profile: torch.Tensor | None,
                      point_batch: int) -> torch.Tensor:
    """``Σ_s w_s ∇f(ref + α_s (x - ref))`` per (sequence, baseline), ``(N, R, 4, L)``, with at most ``point_batch``
    path points alive at once (never all ``N·R·S`` of them).

    Whole paths (all ``S`` nodes of one baseline) go through a pass together when ``point_batch >= S`` (the
    passes then hold the points the one-shot computation cut into the same chunks: the same numbers); shorter
    passes cut a path into pieces whose weighted sums are added up.
    """
    n, r = refs.shape[:2]
    s = alphas.shape[0]
    shape = x.shape[1:]
    flat_refs = refs.reshape(n * r, *shape)
    multipliers = torch.zeros_like(flat_refs)
    paths = max(1, point_batch // s)  # whole paths per pass
    nodes = min(s, max(1, point_batch))  # nodes of a path per pass
    for first in range(0, n * r, paths):
        rows = torch.arange(first, min(first + paths, n * r), device=x.device)
        base = flat_refs[rows]
        diff = x[rows // r] - base
        for node in range(0, s, nodes):
            alpha, weight = alphas[node:node + nodes], weights[node:node + nodes]
            k = alpha.shape[0]
            points = (base[:, None] + alpha[None, :, None, None] * diff[:, None]).reshape(-1, *shape)
            chunk = None if profile is None else profile[rows // r].repeat_interleave(k, dim=0)
            gradient, _ = input_gradient(model, points, target, chunk)
            part = (gradient.reshape(rows.shape[0], k, *shape) * weight[None, :, None, None]).sum(dim=1)
            if node == 0:
                multipliers[rows] = part
            else:
                multipliers[rows] += part
    return multipliers.reshape(n, r, *shape)


def completeness(model: nn.Module, x: torch.Tensor, hypothetical: torch.Tensor, baselines: torch.Tensor,
                 target: Target | None = None) -> torch.Tensor:
    """The completeness gap of an attribution: ``Σ projected - (f(x) - mean f(baselines))`` per sequence.

    Completeness (Sundararajan et al. 2017) and summation-to-delta (Shrikumar et al. 2017) say this is 0: for
    integrated gradients up to the quadrature error, for DeepLIFT/DeepSHAP up to rounding.

    Parameters
    ----------
    model, x, target
        As for :func:`integrated_gradients`: what was explained. A ``bpnet`` target evaluates the baselines with
        ``x``'s softmax weights, as the methods do.
    hypothetical
        ``(N, 4, L)`` hypothetical contributions (projected: ``hypothetical * x``).
    baselines
        ``(N, R, 4, L)`` (e.g. :func:`~seqsal.methods.references.make_baselines` with the method's seed).

    Returns
    -------
    torch.Tensor
        ``(N,)`` float32, in the target's units.

    Raises
    ------
    InputError
        For ``x`` not one-hot ``(N, 4, L)`` or a bad ``target`` (:func:`~seqsal.methods.inputs.method_inputs`).
    """
    model, x, target = method_inputs(model, x, target)
    n, r = baselines.shape[:2]
    with torch.no_grad():
        output = model(x)
        fx = target.select(output).float()
        profile = target.profile_weights(output)  # bpnet: the baselines with x's weights, as the methods use them
        fb = target.select(model(baselines.reshape(n * r, *x.shape[1:])),
                           None if profile is None else profile.repeat_interleave(r, dim=0)).float()
    return (hypothetical * x).sum(dim=(1, 2)) - (fx - fb.reshape(n, r).mean(dim=1))
