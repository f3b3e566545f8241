"""The registry of attribution methods: one explicit table, built from the method modules' imports.

Every method has the signature ``fn(model, x, target, **params) -> (hypothetical (N, 4, L), prediction (N,))``.
:data:`SPECS` says, per method, whether gradient correction applies, whether :func:`seqsal.attribute` returns
projected contributions by default, whether the method explains ``f(x) - mean f(baselines)`` (and takes a
``reference_sink``), and which command-line options it takes; the other tables are views of it. Nothing adds to
these tables at import time; :data:`METHODS` is the one the dispatcher reads at call time (tests may add to it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..attribution import saliency
from ..errors import InputError, option
from .deeplift import DEEPSHAP_ADVICE, deep_lift_shap
from .gradcam import gradcam
from .ig import IG_ADVICE, IG_TOLERANCE, integrated_gradients
from .ism import ism
from .references import BASELINES
from .smoothgrad import smoothgrad


@dataclass(frozen=True)
class MethodSpec:
    """One attribution method and how the dispatcher and the command line treat it.

    Attributes
    ----------
    function
        ``fn(model, x, target, **params) -> (hypothetical (N, 4, L), prediction (N,))``.
    corrected
        Whether gradient correction (Majdandzic et al. 2023) applies to its hypothetical contributions; not for
        methods it would break (summation-to-delta of ig and deepshap) or that are not gradients (gradcam).
    projected_by_default
        Whether :func:`seqsal.attribute` returns ``hypothetical * x`` unless asked otherwise (saliency returns
        the gradient itself).
    reference
        Whether the attributions sum to ``f(x) - mean f(baselines)`` and the function reports
        ``mean f(baselines)`` through a ``reference_sink`` list argument.
    options
        The command-line options it takes (``seed`` comes from ``--seed``).
    tolerance
        For a ``reference`` method: the largest completeness error a window may have, as a fraction of
        ``Σ |attributions| + |f(x) - mean f(baselines)|`` (:func:`~.references.relative_completeness`), before
        the engine stops the run (``--allow-incomplete`` keeps it going); ``None``: not checked.
    advice
        What to do when ``tolerance`` is exceeded (for the message).
    track
        The per-base track of the bigWig: ``projected`` (hypothetical x one-hot, summed over the channels) or
        ``magnitude`` (``max_c |hypothetical_c|``: the saliency map of Simonyan et al. 2013).
    gradient
        Whether its maps are made of the model's input gradients and nothing checks them (no completeness): the
        model is first checked against its own finite differences (:func:`~.gradient_check.check_input_gradient`;
        a ``.detach()`` in its forward is refused, not explained wrong).
    focused
        Whether the method takes a ``focus`` ``(N, 2)``: each window's ``[start, end)`` whose bases it explains
        (ISM mutates only the region's bases, not the whole model window); the engine passes it.
    layer_rules
        Whether it explains only the layers it has rules for and refuses a model with others (DeepLIFT/DeepSHAP's
        rules, Grad-CAM's feature map): ``seqsal evaluate`` runs it on one window before any other work.
    """

    function: Callable
    corrected: bool = True
    projected_by_default: bool = True
    reference: bool = False
    options: tuple[str, ...] = ()
    tolerance: float | None = None
    advice: str = ""
    track: str = "projected"
    focused: bool = False
    gradient: bool = False
    layer_rules: bool = False


# gradient x input has the same hypothetical contributions as saliency: its projected map x * dy/dx is
# hypothetical * x, which every method shares; saliency's bigWig track is the gradient's magnitude instead
# deepshap sums to delta up to float32 rounding (relative errors near 1e-7): 1e-3 flags a missing or wrong rule;
# ig misses it by its quadrature error (the demo model: up to 0.014 with the default 32 points)
SPECS: dict[str, MethodSpec] = {
    "saliency": MethodSpec(saliency, projected_by_default=False, track="magnitude", gradient=True),
    "grad_x_input": MethodSpec(saliency, gradient=True),
    "deepshap": MethodSpec(deep_lift_shap, corrected=False, reference=True, options=("references", "baseline", "seed"),
                           tolerance=1e-3, advice=DEEPSHAP_ADVICE, layer_rules=True),
    "ig": MethodSpec(integrated_gradients, corrected=False, reference=True,
                     options=("steps", "baseline", "references", "seed"), tolerance=IG_TOLERANCE, advice=IG_ADVICE),
    "smoothgrad": MethodSpec(smoothgrad, options=("samples", "noise", "seed"), gradient=True),
    "ism": MethodSpec(ism, options=("fast",), focused=True),
    "gradcam": MethodSpec(gradcam, corrected=False, options=("layer",), layer_rules=True),
}

#: method name -> function, the dispatcher's table
METHODS: dict[str, Callable] = {name: spec.function for name, spec in SPECS.items()}
# methods whose hypothetical contributions are never gradient-corrected
UNCORRECTED: frozenset[str] = frozenset(name for name, spec in SPECS.items() if not spec.corrected)
# method -> whether seqsal.attribute returns projected contributions by default (absent: True)
PROJECTED_BY_DEFAULT: dict[str, bool] = {name: spec.projected_by_default for name, spec in SPECS.items()}
# methods whose attributions sum to f(x) - mean f(baselines) (completeness / summation-to-delta) and that
# report mean f(baselines) through their ``reference_sink`` argument
REFERENCE_METHODS: frozenset[str] = frozenset(name for name, spec in SPECS.items() if spec.reference)
# methods that refuse a model whose layers they have no rule for (run first, on one window, by seqsal evaluate)
LAYER_RULE_METHODS: frozenset[str] = frozenset(name for name, spec in SPECS.items() if spec.layer_rules)
# method -> (tolerance, advice) of its completeness check (see MethodSpec.tolerance)
COMPLETENESS_TOLERANCE: dict[str, tuple[float, str]] = {
    name: (spec.tolerance, spec.advice) for name, spec in SPECS.items() if spec.reference and spec.tolerance is not None}
# methods that take each window's ``focus`` (the region's stretch of the window) from the engine
FOCUSED_METHODS: frozenset[str] = frozenset(name for name, spec in SPECS.items() if spec.focused)
# methods whose model is checked against its finite differences first (MethodSpec.gradient)
GRADIENT_CHECKED: frozenset[str] = frozenset(name for name, spec in SPECS.items() if spec.gradient)
# parameters each method takes from the command line (``seed`` comes from --seed)
METHOD_OPTIONS: dict[str, tuple[str, ...]] = {name: spec.options for name, spec in SPECS.items() if spec.options}


def completeness_check(method: str, precision: str = "fp32") -> tuple[float, str] | None:
    """``(tolerance, advice)`` of ``method``'s completeness check at ``precision`` (None: the method has none).

    Under autocast (``bf16``, ``fp16``) the model's activations and the method's multipliers are rounded to
    that precision (bf16 keeps 8 significant bits, about 0.4 % a value), which the check cannot tell from a
    missing rule: the advice then names the precision first. The tolerance is the method's at any precision
    (a looser one would also let a missing rule through).
    """
    check = COMPLETENESS_TOLERANCE.get(method)
    if check is None or precision == "fp32":
        return check
    return check[0], (f"under --precision {precision} the model's activations and the method's multipliers carry "
                      f"{precision} rounding, which this check cannot tell from a wrong rule: run {method} with "
                      f"--precision fp32 (the default); if it fails there too, {check[1]}")


def method_params(method: str, seed: int = 0, **given) -> dict:
    """The ``method_params`` of ``method`` from command-line values.

    Parameters
    ----------
    method
        A key of :data:`METHODS`.
    seed
        ``--seed``; passed on to the methods that draw references or noise.
    **given
        Option name -> value as the CLI parsed it (``None``: not given).

    Returns
    -------
    dict
        The keyword arguments for the method function.

    Raises
    ------
    InputError
        For an option the method does not take, or an unknown ``baseline``.
    """
    accepted = METHOD_OPTIONS.get(method, ())
    params = {}
    for key, value in given.items():
        if value is None:
            continue
        if key not in accepted:
            takes = ", ".join(option(name) for name in accepted if name != "seed") or "no options"
            raise InputError(f"{option(key)} does not apply to {option('method', method)} (it takes {takes})")
        params[key] = value
    if "seed" in accepted:
        params["seed"] = seed
    if params.get("baseline") not in (None, *BASELINES):
        raise InputError(f"unknown {option('baseline')} {params['baseline']!r}; choose one of {', '.join(BASELINES)}")
    return params


def attribution_track(method: str, one_hot: np.ndarray, hypothetical: np.ndarray) -> np.ndarray:
    """The per-base track a method writes to the bigWig (see :attr:`MethodSpec.track`).

    Parameters
    ----------
    method
        A key of :data:`SPECS` (an unknown name gets the projected track).
    one_hot, hypothetical
        ``(4, L)`` (or ``(..., 4, L)``) one-hot and hypothetical contributions.

    Returns
    -------
    numpy.ndarray
        ``(L,)`` float32: the projected contribution ``Σ_c hypothetical_c x_c``, or for ``saliency`` the gradient's
        magnitude ``max_c |hypothetical_c|`` (Simonyan et al. 2013 take the maximum over channels).
    """
    spec = SPECS.get(method)
    if spec is not None and spec.track == "magnitude":
        return np.abs(hypothetical).max(axis=-2).astype(np.float32, copy=False)
    return (hypothetical * one_hot).sum(axis=-2).astype(np.float32, copy=False)
