"""Is the model's input gradient its derivative? A finite-difference probe run before a gradient method explains it.

Autograd differentiates what a model's forward lets it see. A ``.detach()`` or ``torch.no_grad()`` around part of
the forward, a straight-through estimator (``x + (q(x) - x).detach()``) or a custom ``autograd.Function`` with its own
backward make the input gradient something other than the derivative of the output, and saliency, gradient x input
and SmoothGrad then give maps that look right and are not (a branch read through ``x.detach()``: its motifs vanish
from the map). :func:`check_input_gradient` compares the gradient with central differences of the model itself
along random directions, the directional derivative ``g . d`` against ``(f(x + e d) - f(x)) / e`` (the
standard gradient check), and refuses the model when they disagree at two step sizes; ISM, which only runs the
model, explains it. The probe runs on a float64 copy of the model, where rounding is far below what a hidden
gradient changes, so the tolerance can be tight; a model that cannot run in float64 is probed as it is, with a
looser tolerance above float32 rounding. Integrated gradients and DeepSHAP are checked by their completeness instead
(:data:`~seqsal.methods.registry.COMPLETENESS_TOLERANCE`), which a hidden gradient breaks too.
"""
from __future__ import annotations

import copy
import logging
import warnings
import weakref

import torch
from torch import nn

from ..attribution import Target, input_gradient
from ..errors import InputError, option
from ..models.logit_output import exact_logit
from ..models.fingerprint import model_fingerprint

log = logging.getLogger("seqsal")

#: the largest relative disagreement a correct model may show, in float64 and in float32 (session 27, the demo and
#: the zoo's Basset, BPNet profile and counts, RC-conjoined, dilated 10-kb, max-pool and sigmoid models, 10 random
#: windows each: at most 6.2e-7 in float64; in float32 up to 0.19 at one step and 0.15 at the other, never both;
#: a tenth of a branch hidden from autograd: 0.026 and above in float64, a whole branch 0.25-0.9)
TOLERANCE = {torch.float64: 0.01, torch.float32: 0.3}
#: the steps ``e`` along each unit-norm direction (over the window's 4 x L values), per dtype
STEPS = {torch.float64: (1e-5, 1e-6), torch.float32: (0.01, 0.0025)}
#: random directions per probe
DIRECTIONS = 4
# model -> the (fingerprint, target, length, device) it passed for: the engine asks once per batch, a notebook once
# per call; a changed model (a weight, a layer, a flag: models.fingerprint) is probed again
_PASSED: "weakref.WeakKeyDictionary[nn.Module, list]" = weakref.WeakKeyDictionary()


def _value(model: nn.Module, x: torch.Tensor, target: Target, weights: torch.Tensor | None) -> torch.Tensor:
    """The target's value per window ``(N,)``, in the model's own dtype (the methods' forward casts to float32)."""
    model, target = exact_logit(model, target)
    return target.select(model(x), weights)


def gradient_disagreement(model: nn.Module, x: torch.Tensor, target: Target, step: float,
                          directions: torch.Tensor) -> float | None:
    """Relative disagreement between the input gradient and forward differences along ``directions``.

    Parameters
    ----------
    model, target
        The model (in eval mode) and what to explain, as the methods run them.
    x
        One window ``(1, 4, L)``, in the model's dtype.
    step
        The step ``e`` along each unit-norm direction.
    directions
        ``(K, 4, L)``, each of unit norm.

    Returns
    -------
    float or None
        ``sum_k |fd_k - g.d_k| / sum_k max(|fd_k|, |g.d_k|)`` with ``fd_k = (f(x + e d_k) - f(x)) / e``; ``None``
        when both are within the dtype's rounding of the output (a flat model: nothing to compare) or not finite.
    """
    weights = None
    if target.reduction == "bpnet":  # the bpnet target holds the softmax weights of x fixed (its gradient does too)
        with torch.no_grad():
            weights = target.profile_weights(model(x))
    gradient, _ = input_gradient(model, x, target, weights)
    along = (gradient * directions).sum(dim=(1, 2)).double()  # (K,)
    with torch.no_grad():  # f(x) again, in the model's dtype (input_gradient's value is float32); one window a pass
        values = torch.cat([_value(model, window[None], target, weights).double()
                            for window in torch.cat([x, x + step * directions])])
    if not (bool(torch.isfinite(values).all()) and bool(torch.isfinite(along).all())):
        return None  # NaN/Inf: the run's own on_error rule answers it
    differences = (values[1:] - values[0]) / step
    floor = 64 * torch.finfo(x.dtype).eps * (float(values.abs().max()) + 1.0) / step
    scale = torch.maximum(differences.abs(), along.abs())
    if float(scale.max()) <= floor:
        return None
    return float((differences - along).abs().sum() / scale.sum())


def float64_copy(model: nn.Module, length: int, device) -> nn.Module | None:
    """A float64 copy of ``model`` that runs on ``(1, 4, length)``; ``None`` where it cannot be made or run (an
    exported program, a forward that makes float32 tensors of its own)."""
    try:
        with warnings.catch_warnings():  # copying an exported program warns of torch's own deprecations
            warnings.simplefilter("ignore")
            double = copy.deepcopy(model).double()
        with torch.no_grad():
            double(torch.zeros(1, 4, length, device=device, dtype=torch.float64))
    except Exception:  # noqa: BLE001 - any failure (a dtype the forward fixes, memory): probe the model as it is
        return None
    return double


def check_input_gradient(model: nn.Module, length: int, target: Target, device, method: str,
                         path: str | None = None, seed: int = 0) -> None:
    """Refuse a model whose input gradient is not the derivative of its output (see the module's text).

    Parameters
    ----------
    model
        The model, in eval mode, on ``device``.
    length
        The input length it takes.
    target
        What the method explains (resolved, with its transform).
    method
        The gradient method's name, for the message.
    path
        The model file, named by the message.
    seed
        Seeds the probe's random window and directions (the check itself is deterministic).

    Raises
    ------
    InputError
        When the disagreement exceeds :data:`TOLERANCE` at both :data:`STEPS` (a kink of a ReLU or max-pool that
        the step crosses shrinks with it; a gradient autograd cannot see does not).
    """
    key = (model_fingerprint(model), target, int(length), torch.device(device).type)
    try:
        passed = _PASSED.setdefault(model, [])
    except TypeError:  # a module that cannot be weakly referenced: probed each time
        passed = []
    if key in passed:
        return
    probe = float64_copy(model, length, device)
    dtype = torch.float64 if probe is not None else torch.float32
    if probe is None:
        probe = model
        log.debug("the gradient check runs the model in float32 (it does not run in float64)")
    generator = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.one_hot(torch.randint(4, (1, length), generator=generator), 4).permute(0, 2, 1)
    x = x.to(device=device, dtype=dtype)
    directions = torch.randn(DIRECTIONS, 4, length, generator=generator, dtype=torch.float64)
    directions = (directions / directions.flatten(1).norm(dim=1)[:, None, None]).to(device=device, dtype=dtype)
    errors = []
    for step in STEPS[dtype]:
        error = gradient_disagreement(probe, x, target, step, directions)
        if error is None or error <= TOLERANCE[dtype]:
            passed[:] = [*passed[-7:], key]
            return
        errors.append(error)
    raise InputError(
        f"the model's input gradient is not the derivative of its output: along {DIRECTIONS} random directions it "
        f"differs from the model's own finite differences by {min(errors):.0%}, so {method} would give wrong maps. "
        "Part of its forward is hidden from autograd (a .detach(), torch.no_grad(), a straight-through estimator or "
        "an autograd.Function with its own backward); remove it, or explain the model with "
        f"{option('method', 'ism')} (API: method='ism'), which only runs the model", path)
