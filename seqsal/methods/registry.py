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

from ..attribution import saliency
from ..errors import InputError
from .deeplift import deep_lift_shap
from .gradcam import gradcam
from .ig import integrated_gradients
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
    """

    function: Callable
    corrected: bool = True
    projected_by_default: bool = True
    reference: bool = False
    options: tuple[str, ...] = ()


# gradient x input has the same hypothetical contributions as saliency: its projected map x * dy/dx is
# hypothetical * x, which every method shares
SPECS: dict[str, MethodSpec] = {
    "saliency": MethodSpec(saliency, projected_by_default=False),
    "grad_x_input": MethodSpec(saliency),
    "deepshap": MethodSpec(deep_lift_shap, corrected=False, reference=True, options=("references", "baseline", "seed")),
    "ig": MethodSpec(integrated_gradients, corrected=False, reference=True,
                     options=("steps", "baseline", "references", "seed")),
    "smoothgrad": MethodSpec(smoothgrad, options=("samples", "noise", "seed")),
    "ism": MethodSpec(ism, options=("fast",)),
    "gradcam": MethodSpec(gradcam, corrected=False, options=("layer",)),
}

# method name -> function, the dispatcher's table
METHODS: dict[str, Callable] = {name: spec.function for name, spec in SPECS.items()}
# methods whose hypothetical contributions are never gradient-corrected
UNCORRECTED: frozenset[str] = frozenset(name for name, spec in SPECS.items() if not spec.corrected)
# method -> whether seqsal.attribute returns projected contributions by default (absent: True)
PROJECTED_BY_DEFAULT: dict[str, bool] = {name: spec.projected_by_default for name, spec in SPECS.items()}
# methods whose attributions sum to f(x) - mean f(baselines) (completeness / summation-to-delta) and that
# report mean f(baselines) through their ``reference_sink`` argument
REFERENCE_METHODS: frozenset[str] = frozenset(name for name, spec in SPECS.items() if spec.reference)
# parameters each method takes from the command line (``seed`` comes from --seed)
METHOD_OPTIONS: dict[str, tuple[str, ...]] = {name: spec.options for name, spec in SPECS.items() if spec.options}


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
            takes = ", ".join(f"--{name}" for name in accepted if name != "seed") or "no options"
            raise InputError(f"--{key.replace('_', '-')} does not apply to --method {method} (it takes {takes})")
        params[key] = value
    if "seed" in accepted:
        params["seed"] = seed
    if params.get("baseline") not in (None, *BASELINES):
        raise InputError(f"unknown --baseline {params['baseline']!r}; choose one of {', '.join(BASELINES)}")
    return params
