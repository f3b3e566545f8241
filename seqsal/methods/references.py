"""Baselines and references shared by the methods that explain ``f(x) - f(reference)`` (IG and DeepSHAP).

Dinucleotide-shuffled references (the usual references of DeepLIFT/DeepSHAP on DNA, as in BPNet's and
tangermeme's pipelines), all-zero and uniform (0.25) baselines, and the step from multipliers to hypothetical
contributions that both methods share. References are drawn from a generator seeded by ``seed`` and the bytes of
each sequence, so a sequence gets the same references whatever batch it lands in (same seed, same bytes out).
"""
from __future__ import annotations

import zlib

import numpy as np
import torch

from ..errors import InputError, option
from ..shuffle import dinucleotide_shuffle

BASELINES = ("shuffle", "zero", "uniform")


def sequence_rng(x: torch.Tensor, seed: int) -> np.random.Generator:
    """A generator seeded by ``seed`` and the bytes of one sequence.

    Parameters
    ----------
    x
        One sequence ``(4, L)`` (any device; read as float32 bytes).
    seed
        The run's seed (``--seed``); only its low 32 bits are used.

    Returns
    -------
    numpy.random.Generator
        The same stream for the same seed and bytes, whatever batch the sequence is in.
    """
    digest = zlib.crc32(np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32).tobytes())
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, digest])


def make_baselines(x: torch.Tensor, baseline: str = "shuffle", references: int = 20, seed: int = 0) -> torch.Tensor:
    """Baselines for each sequence.

    Parameters
    ----------
    x
        One-hot ``(N, 4, L)``.
    baseline
        ``shuffle`` (dinucleotide shuffles, N kept in place), ``zero`` or ``uniform`` (0.25 at each base, an
        all-zero column where ``x`` has one: an N is kept in place, as the shuffles keep it, so that the
        contributions, which are 0 at an N, still sum to ``f(x) - f(baseline)``).
    references
        Shuffles per sequence (``shuffle`` only; the others give one baseline).
    seed
        Seed of the shuffles, mixed with each sequence's bytes (a sequence gets the same shuffles in any batch).
        The shuffles keep each sequence's dinucleotide counts (Altschul & Erikson 1985), as tangermeme's
        ``dinucleotide_shuffle`` does.

    Returns
    -------
    torch.Tensor
        ``(N, R, 4, L)`` on ``x``'s device and dtype (``R = references`` for ``shuffle``, else 1).

    Raises
    ------
    InputError
        For an unknown ``baseline`` or ``references < 1``.
    """
    if baseline == "zero":
        return torch.zeros_like(x)[:, None]
    if baseline == "uniform":
        known = (x != 0).any(dim=1, keepdim=True)
        return (0.25 * known.to(x.dtype)).expand_as(x)[:, None].contiguous()
    if baseline != "shuffle":
        raise InputError(f"unknown {option('baseline')} {baseline!r}; choose one of {', '.join(BASELINES)}")
    if references < 1:
        raise InputError(f"{option('references')} must be at least 1, got {references}")
    if not x.shape[0]:
        return x.new_zeros((0, references, *x.shape[1:]))
    # one vectorised shuffle of the whole batch; each row still draws from its own generator, so a row's
    # references do not depend on the batch it came in
    out = dinucleotide_shuffle(x.detach().cpu().numpy(), references, [sequence_rng(row, seed) for row in x])
    return torch.from_numpy(out).to(device=x.device, dtype=x.dtype)


def check_references(x: torch.Tensor, references: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Given references as a tensor on ``x``'s device and dtype, after checking their shape.

    Parameters
    ----------
    x
        One-hot ``(N, 4, L)``.
    references
        ``(N, R, 4, L)``: ``R`` references for each sequence.

    Returns
    -------
    torch.Tensor
        ``(N, R, 4, L)`` on ``x``'s device and dtype.

    Raises
    ------
    InputError
        When the shape is not ``(N, R, 4, L)`` for ``x``'s ``N``, ``4`` and ``L``.
    """
    references = torch.as_tensor(references, dtype=x.dtype, device=x.device)
    if references.ndim != 4 or references.shape[0] != x.shape[0] or references.shape[2:] != x.shape[1:]:
        raise InputError(f"references must have shape (N, R, 4, L) = ({x.shape[0]}, R, {x.shape[1]}, {x.shape[2]}), "
                         f"got {tuple(references.shape)}")
    return references


def hypothetical_from_multipliers(multipliers: torch.Tensor, baselines: torch.Tensor) -> torch.Tensor:
    """Hypothetical contributions from multipliers: ``m_i - Σ_c b_c m_c``, averaged over the baselines.

    Parameters
    ----------
    multipliers
        ``(N, R, 4, L)``: the multipliers ``m`` of each sequence against each of its ``R`` baselines (DeepLIFT
        multipliers, or the path-averaged gradient of integrated gradients).
    baselines
        ``(N, R, 4, L)``: the baselines ``b``.

    Returns
    -------
    torch.Tensor
        ``(N, 4, L)``: ``(e_i - b) · m`` for each base ``i``, averaged over the ``R`` baselines (see
        :mod:`seqsal.methods`).
    """
    return (multipliers - (baselines * multipliers).sum(dim=-2, keepdim=True)).mean(dim=1)


def resolve_references(x: torch.Tensor, references: int | torch.Tensor | np.ndarray, baseline: str, seed: int
                       ) -> torch.Tensor:
    """The references of a batch: the ones given, or ``references`` drawn with :func:`make_baselines`.

    Parameters
    ----------
    x
        One-hot ``(N, 4, L)``.
    references
        The references themselves ``(N, R, 4, L)`` (tensor or array), or a count of shuffles per sequence.
    baseline, seed
        See :func:`make_baselines` (used only when ``references`` is a count).

    Returns
    -------
    torch.Tensor
        ``(N, R, 4, L)`` on ``x``'s device and dtype.

    Raises
    ------
    InputError
        For references of the wrong shape, an unknown baseline or a count below 1.
    """
    if isinstance(references, (torch.Tensor, np.ndarray)):
        return check_references(x, references)
    return make_baselines(x, baseline, int(references), seed)


class IncompleteAttribution(InputError):
    """Attributions that miss ``f(x) - mean f(baselines)`` by more than their method's tolerance."""


# The error a completeness check forgives as float32 rounding, in units of float32's machine epsilon times the
# outputs' size |f(x)| + |mean f(baselines)|. A window's target moves by this much between batch compositions (the
# kernels sum in another order) and the mean over references rounds too; measured on 64 windows (poly-A, ACGT
# repeats, random), batches of 1, 3, 7, 17 and 64: up to 9 units of eps·|f(x)| for the demo model, 15 for a random
# basset, 98 for a random bpnet (small outputs left by larger partial sums). 256 units of the summed outputs leave
# a margin of 5 over the worst; a window whose references reach f(x) - f(ref) of 3e-5·|f| is one whose
# attributions are all rounding (a low-complexity window: its dinucleotide shuffles are the window itself).
ROUNDING_UNITS = 256.0


def rounding_allowance(prediction: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """The part of a completeness error that float32 rounding of the model's outputs explains.

    Parameters
    ----------
    prediction
        ``(N,)`` ``f(x)`` (the target).
    delta
        ``(N,)`` ``f(x) - mean f(baselines)`` (or ``f(x) - f(reference)`` of each pair).

    Returns
    -------
    torch.Tensor
        ``(N,)`` float32: ``ROUNDING_UNITS · eps_float32 · (|f(x)| + |f(x) - delta|)``, ``eps_float32`` = 2^-23.
    """
    prediction = prediction.float()
    reference = prediction - delta.float()
    return ROUNDING_UNITS * torch.finfo(torch.float32).eps * (prediction.abs() + reference.abs())


def relative_completeness(projected_sum: torch.Tensor, projected_abs_sum: torch.Tensor, delta: torch.Tensor,
                          allowance: torch.Tensor | None = None) -> torch.Tensor:
    """How far attributions miss completeness, relative to their own size.

    Parameters
    ----------
    projected_sum, projected_abs_sum
        ``(N,)``: ``Σ projected`` and ``Σ |projected|`` of each sequence (projected = hypothetical x one-hot).
    delta
        ``(N,)``: ``f(x) - mean f(baselines)``.
    allowance
        ``(N,)`` error forgiven as rounding (:func:`rounding_allowance`), or ``None`` (nothing forgiven).

    Returns
    -------
    torch.Tensor
        ``(N,)``: ``max(|Σ projected - delta| - allowance, 0) / (Σ |projected| + |delta|)``, 0 where that error is
        0. Rounding in float32 keeps it near 1e-7 for DeepLIFT (exact up to rounding); a missing rule makes it of
        order 1. Without the allowance, a window whose attributions and delta are both rounding (a low-complexity
        window, whose dinucleotide shuffles are the window itself) would count its rounding as 100 % of its size.
    """
    error = (projected_sum - delta).abs()
    if allowance is not None:
        error = (error - allowance).clamp_min(0)
    scale = projected_abs_sum + delta.abs()
    return torch.where(error > 0, error / scale.clamp_min(torch.finfo(scale.dtype).tiny), torch.zeros_like(error))


def check_completeness(method: str, projected: torch.Tensor, delta: torch.Tensor, tolerance: float, advice: str,
                       prediction: torch.Tensor | None = None) -> None:
    """Raise :class:`IncompleteAttribution` when attributions miss ``f(x) - mean f(baselines)`` beyond ``tolerance``.

    Parameters
    ----------
    method
        The method's name, for the message.
    projected
        ``(N, ...)`` projected attributions of each sequence (or of each sequence-reference pair).
    delta
        ``(N,)`` ``f(x) - f(reference)`` (or its mean over the references).
    tolerance
        Largest :func:`relative_completeness` accepted.
    advice
        What to do, for the message.
    prediction
        ``(N,)`` ``f(x)`` of each row: the error float32 rounding of ``f(x)`` and ``f(reference)`` explains
        (:func:`rounding_allowance`) is then forgiven. ``None``: nothing is.

    Raises
    ------
    IncompleteAttribution
        Naming the largest error, its relative size and the tolerance.
    """
    if not projected.shape[0]:
        return
    flat = projected.reshape(projected.shape[0], -1).float()
    total = flat.sum(dim=1)
    delta = delta.float()
    allowance = None if prediction is None else rounding_allowance(prediction, delta)
    relative = relative_completeness(total, flat.abs().sum(dim=1), delta, allowance)
    worst = int(relative.argmax())
    if float(relative[worst]) > tolerance:
        raise IncompleteAttribution(
            f"{method}: the attributions miss f(x) - f(reference) by {float((total - delta)[worst]):.3g} "
            f"({float(relative[worst]):.2g} of their size; tolerance {tolerance:g}); {advice} (or check=None to keep "
            "such attributions)")
