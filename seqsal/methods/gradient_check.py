"""Is the model's input gradient its derivative? A finite-difference probe run before a gradient method explains it.

Autograd differentiates what a model's forward lets it see. A ``.detach()`` or ``torch.no_grad()`` around part of
the forward, a straight-through estimator (``x + (q(x) - x).detach()``) or a custom ``autograd.Function`` with its own
backward make the input gradient something other than the derivative of the output, and saliency, gradient x input
and SmoothGrad then give maps that look right and are not (a branch read through ``x.detach()``: its motifs vanish
from the map). :func:`check_input_gradient` compares the gradient with forward differences of the model itself
along random directions, the directional derivative ``g . d`` against ``(f(x + e d) - f(x)) / e`` (the standard
gradient check), on a random window and on the run's first one, each moved slightly off the one-hot lattice, and
refuses the model when they disagree at two step sizes; ISM, which only runs the
model, explains it. The probe runs on a float64 copy of the model, where rounding is far below what a hidden
gradient changes, so the tolerance can be tight (its casts to float32, float16 or bfloat16, autocast bodies
included, are kept in float64: :class:`StayFloat64`); a model that cannot run in float64 is probed as it is, with
a looser tolerance above float32 rounding, and a model that fails off the one-hot lattice is said, not probed. The
probe sees the windows it runs on: a hidden path that fires on neither the random window nor the run's first one
(a motif detector read through ``x.detach()`` whose motif first occurs in a later window) is not seen.
Integrated gradients and DeepSHAP are checked by their completeness instead
(:data:`~seqsal.methods.registry.COMPLETENESS_TOLERANCE`), which a hidden gradient breaks too.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import warnings
import weakref
from dataclasses import replace

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..attribution import Target, input_gradient
from ..devices import full_float32
from ..errors import InputError, option
from ..models.logit_output import exact_logit, written_model
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
# model -> the (fingerprint, target, device, window kind) it passed for: the engine asks once per batch, a notebook
# once per call; a changed model (a weight, a layer, a flag: models.fingerprint) is probed again
_PASSED: "weakref.WeakKeyDictionary[nn.Module, list]" = weakref.WeakKeyDictionary()
# model -> its file, named by a refusal that comes from the run's first batch (review28: the message lost it)
_PATHS: "weakref.WeakKeyDictionary[nn.Module, str]" = weakref.WeakKeyDictionary()


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


_NARROW = frozenset({torch.float32, torch.float16, torch.bfloat16})
_TYPE_NAMES = {"torch.FloatTensor": torch.float32, "torch.HalfTensor": torch.float16,
               "torch.BFloat16Tensor": torch.bfloat16}


class StayFloat64(TorchFunctionMode):
    """Inside the float64 copy's forward, a cast of a float64 tensor to a narrower floating dtype is left out.

    ``.float()``, ``.half()``, ``.bfloat16()``, ``.to(dtype)``, ``.type(dtype)`` and torch.export's ``_to_copy``
    keep float64 (a device move is kept): a correct model that ends in ``.float()`` or computes its body in
    bfloat16 is then probed in float64 at the tight tolerance, where the float32 probe refused autocast bodies at
    97-102 % and let a fifth of a hidden branch pass behind a final ``.float()`` (review28). Autocast itself leaves
    float64 tensors alone.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        source = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if source is None or source.dtype != torch.float64:
            return func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        if name in ("float", "half", "bfloat16"):
            return source.clone()  # a new tensor, as the cast makes (review28b: an in-place op after .half())
        if name == "type" and len(args) + len(kwargs) == 2:
            wanted = args[1] if len(args) == 2 else kwargs.get("dtype")
            if _TYPE_NAMES.get(wanted, wanted) in _NARROW:
                return source.clone()
        if name == "to":
            try:
                device, dtype, non_blocking, _ = torch._C._nn._parse_to(*args[1:], **kwargs)
            except Exception:  # noqa: BLE001 - not a form of .to() this reads: as it is
                return func(*args, **kwargs)
            if dtype in _NARROW:
                return source.to(device=source.device if device is None else device, dtype=torch.float64,
                                 non_blocking=non_blocking, copy=bool(kwargs.get("copy", False)))
        if name == "_to_copy.default" and kwargs.get("dtype") in _NARROW:
            return func(*args, **{**kwargs, "dtype": torch.float64})
        return func(*args, **kwargs)


def float64_copy(model: nn.Module, length: int, device) -> nn.Module | None:
    """A float64 copy of ``model``, in eval mode, that runs on ``(1, 4, length)`` and answers in float64 (under
    :class:`StayFloat64`, as the probe runs it, or, where the copy fails under it, without it:
    :func:`keeps_casts` tells which); ``None`` where it cannot be made or run (a forward that makes float32
    tensors of its own) or answers in another dtype."""
    try:
        with warnings.catch_warnings():  # copying an exported program warns of torch's own deprecations
            warnings.simplefilter("ignore")
            double = copy.deepcopy(model).double()
        with contextlib.suppress(AttributeError, NotImplementedError):  # review28: the written model of a
            double.eval()  # rewrite, left in training mode, ran its dropout in the probe (torch.export: no eval())
    except Exception:  # noqa: BLE001 - any failure (a dtype the forward fixes, memory): probe the model as it is
        return None
    output = None
    for keep in (True, False):  # review28b: x.float() @ a float32 table of its own fails under the mode only
        try:
            with torch.no_grad(), StayFloat64() if keep else contextlib.nullcontext():
                output = double(torch.zeros(1, 4, length, device=device, dtype=torch.float64))
        except Exception:  # noqa: BLE001 - any failure: the other way, then the model as it is
            continue
        with contextlib.suppress(TypeError):
            _KEEPS_CASTS[double] = keep
        break
    if output is None:
        return None
    leaves = output.values() if isinstance(output, dict) else output if isinstance(output, (tuple, list)) else [output]
    if any(isinstance(leaf, torch.Tensor) and leaf.is_floating_point() and leaf.dtype != torch.float64
           for leaf in leaves):  # review27b: an output cast to float32 read its rounding as a hidden gradient
        return None
    return double


_WARNED: "weakref.WeakSet[nn.Module]" = weakref.WeakSet()
_KEEPS_CASTS: "weakref.WeakKeyDictionary[nn.Module, bool]" = weakref.WeakKeyDictionary()


def keeps_casts(double: nn.Module) -> bool:
    """Whether :func:`float64_copy`'s copy runs under :class:`StayFloat64` (else as it is)."""
    try:
        return _KEEPS_CASTS.get(double, True)
    except TypeError:
        return True


def _warned(model: nn.Module) -> bool:
    """Whether the inconclusive probe was already said for ``model`` (said once: a run probes twice)."""
    try:
        if model in _WARNED:
            return True
        _WARNED.add(model)
    except TypeError:
        pass
    return False


def _worst(model: nn.Module, windows: list[torch.Tensor], target: Target, dtype: torch.dtype, seed: int
           ) -> tuple[float | None, bool]:
    """The disagreement of the worst window at the step where it is smallest, and whether every window was
    inconclusive (:func:`gradient_disagreement` ``None``). Windows are moved off the one-hot lattice by up to 0.01
    a value: a one-hot window sits on kinks (max-pool ties of repeated k-mers, a clamp or ReLU of the input) where
    autograd's subgradient is one side's derivative and a difference the other's (fresh27b: correct k=3 max-pool
    models refused at 0.08-0.52)."""
    generator = torch.Generator().manual_seed(seed)
    worst, inconclusive = 0.0, True
    for window in windows:
        device = window.device
        x = (window.detach().double().cpu() + 0.01 * torch.rand(window.shape, generator=generator,
                                                                 dtype=torch.float64))[None]
        directions = torch.randn(DIRECTIONS, *window.shape, generator=generator, dtype=torch.float64)
        directions = directions / directions.flatten(1).norm(dim=1)[:, None, None]
        x, directions = x.to(device=device, dtype=dtype), directions.to(device=device, dtype=dtype)
        errors = []
        for step in STEPS[dtype]:  # the smaller step only where the larger one disagrees
            errors.append(gradient_disagreement(model, x, target, step, directions))
            if errors[-1] is None or errors[-1] <= TOLERANCE[dtype]:
                break
        if all(error is None for error in errors):
            continue
        inconclusive = False
        worst = max(worst, min(error for error in errors if error is not None))
    return (None if inconclusive else worst), inconclusive


def _runs_on(model: nn.Module, windows: list[torch.Tensor], target: Target) -> bool:
    """Whether the model runs on each one-hot window as it is (a model that fails only off the lattice: True)."""
    try:
        with torch.no_grad():
            for window in windows:
                _value(model, window[None].float(), target, None)
    except Exception:  # noqa: BLE001 - any failure: the window itself is the problem
        return False
    return True


def check_input_gradient(model: nn.Module, length: int, target: Target, device, method: str,
                         path: str | None = None, seed: int = 0, window: torch.Tensor | None = None) -> None:
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
        Seeds the probe's random window, jitter and directions (the check itself is deterministic).
    window
        One of the run's own one-hot windows ``(4, length)``, probed besides the random one (once per model and
        target): a path the model hides from autograd may be silent on random sequence (fresh27b: a motif
        detector read through ``x.detach()`` never fired on it).

    Raises
    ------
    InputError
        When the disagreement exceeds :data:`TOLERANCE` at both :data:`STEPS` on a probed window (a kink of a ReLU
        or max-pool that the step crosses shrinks with the step; a gradient autograd cannot see does not).
    """
    # not per length (review27b: a run of 185 region widths fed whole probed 356 times, 3x slower): a path hidden
    # from autograd does not depend on the input's length
    base = (model_fingerprint(model), target, torch.device(device).type)
    with contextlib.suppress(TypeError):  # not weakly referable: the message names no file
        if path is not None:
            _PATHS[model] = path
        path = _PATHS.get(model)
    try:
        passed = _PASSED.setdefault(model, [])
    except TypeError:  # a module that cannot be weakly referenced: probed each time
        passed = []
    probes = [(key, x) for key, x in (((*base, "random"), None), ((*base, "run"), window))
              if key not in passed and (x is not None or key[-1] == "random")]
    if not probes:  # the engine asks on every batch: nothing is drawn or run once both verdicts are cached
        return
    if probes[0][0][-1] == "random":
        generator = torch.Generator().manual_seed(seed)
        drawn = torch.nn.functional.one_hot(torch.randint(4, (length,), generator=generator), 4).T.float()
        probes[0] = (probes[0][0], drawn.to(device))
    windows = [x for _, x in probes]
    written = written_model(model)  # fresh27c: a TorchScript logit rewrite cannot be copied; its model can
    double = float64_copy(model if written is None else written, length, device)
    worst, inconclusive, dtype = None, True, torch.float64
    if double is not None:
        try:  # the copy of a written model is rewritten for its logit again (by _value and input_gradient)
            with StayFloat64() if keeps_casts(double) else contextlib.nullcontext():
                worst, inconclusive = _worst(double, windows, target if written is None else
                                             replace(target, model_logit=False), torch.float64, seed)
        except Exception:  # noqa: BLE001 - fresh27b: a float32 table the forward uses on some windows only
            double = None
        if double is not None and not keeps_casts(double):  # float32 inside the copy: its rounding at float64's
            dtype = torch.float32  # steps reads as disagreement (a correct model at 8 %): float32's tolerance
    if double is None:
        dtype, failed = torch.float32, None
        try:
            with full_float32():
                worst, inconclusive = _worst(model, windows, target, torch.float32, seed)
        except Exception as error:  # noqa: BLE001 - review28: a model that asserts one-hot input (a traceback)
            if not _runs_on(model, windows, target):  # fails on the windows themselves: the run says why
                raise
            failed = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if (inconclusive or failed) and not _warned(model):
            why = (f"the model fails on inputs moved off the one-hot lattice ({failed})" if failed else
                   "the model does not run in float64, and in float32 its output moves less than its rounding")
            log.warning("the gradient check could not compare %s's gradient with the model's finite differences: %s; "
                        "if its forward hides part of it from autograd (a .detach(), no_grad), the maps miss that "
                        "part (--method ism only runs the model)", method, why)
        if failed:
            worst = None
    if worst is None or worst <= TOLERANCE[dtype]:
        passed[:] = [*passed[-6:], *(key for key, _ in probes)]
        return
    probed = "" if dtype == torch.float64 else (" (probed with float32 inside: the model does not run wholly in "
                                                "float64, and large values inside it can make float32 rounding look "
                                                "like this)")
    raise InputError(
        f"the model's input gradient is not the derivative of its output: along {DIRECTIONS} random directions it "
        f"differs from the model's own finite differences by {worst:.0%}{probed}, so {method} would give wrong maps. "
        "Part of its forward is hidden from autograd (a .detach(), torch.no_grad(), a straight-through estimator or "
        "an autograd.Function with its own backward); remove it, or explain the model with "
        f"{option('method', 'ism')} (API: method='ism'), which only runs the model", path)
