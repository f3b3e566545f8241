"""Which transform a probability output is explained through: its logit, a class's log-odds, or none.

:func:`choose_transform` reads the model's graph (:func:`seqsal.models.outputs.probability_output`) and, for a
target that leaves its ``transform`` open, picks the one that undoes a sigmoid's or softmax's saturation
(Shrikumar, Greenside & Kundaje, ICML 2017, section 3.6); :func:`probability_transform` is the rule.
"""
from __future__ import annotations

import logging
from dataclasses import replace

from torch import nn

from .attribution import NO_TASK_AXIS, Target, shape_text
from .errors import InputError, option
from .models.outputs import OutputKind, joined_part, probability_output

log = logging.getLogger("seqsal")


def choose_transform(module: nn.Module, target: Target, method: str, shape: tuple[int, ...] | None = None) -> Target:
    """``target`` with its ``transform`` chosen where the user left it open (``None``).

    The model's graph (:func:`seqsal.models.outputs.probability_output`) says whether the selected output is a
    probability; :func:`probability_transform` picks the transform that undoes its saturation (``logit`` for a
    sigmoid, ``log_odds`` / ``log_odds_logp`` for a softmax / log-softmax over the task axis), so attributions
    do not shrink where the model is confident (DeepLIFT's authors' advice, Shrikumar et al. 2017). ``none``
    otherwise, and for ``deeplift`` / ``deepshap``, whose rules act on the model's own layers and cannot take a
    transform of its output (a warning says that the probability is explained). ``shape``: the selected output's
    shape with the batch axis, from the caller's own run of the model (``seqsal.model_checks.check_model_input``;
    ``None``: not known, and a softmax is then not transformed). A transform the user chose is kept.
    """
    profile = shape is not None and (len(shape) > 2 or (len(shape) == 2 and target.axis == NO_TASK_AXIS))
    constant_checked = profile and target.reduction in ("sum", "mean")
    if target.transform is not None and not constant_checked:
        return target
    found = probability_output(module, target.output)  # one trace of the graph serves both uses
    if constant_checked:
        _refuse_constant_profile(found, target, shape)
    if target.transform is not None:
        return target
    if found.kind == "unknown":
        log.info("target: the model's graph cannot be read (torch.fx cannot trace it), so whether its output is a "
                 "probability is not known and the output is explained as it is; if it ends in a sigmoid, "
                 "--target ...,transform=logit explains its logit (a softmax's class: transform=log_odds)")
    if found.kind == "joined":
        found = _joined_part(found, target, shape)
    if not found.probability:
        return replace(target, transform="none")
    transform, why = probability_transform(found, target, shape)
    if transform != "none" and method in ("deeplift", "deepshap"):
        if found.kind == "sigmoid":  # a softmax inside the model is refused by the method's own rules, in one line
            log.warning("target: the model's output is %s; %s explains the probability itself, whose attributions "
                        "shrink where the model is confident: use a model file that returns the logit, or --method "
                        "grad_x_input, ig or ism (they explain the logit)", _KIND_TEXT[found.kind], method)
        return replace(target, transform="none")
    log.info("target: the model's output is %s, so %s%s", _KIND_TEXT[found.kind], why,
             "; --target ...,transform=none explains the output as it is" if transform != "none" else "")
    return replace(target, transform=transform)


def _joined_part(found: OutputKind, target: Target, shape: tuple[int, ...] | None) -> OutputKind:
    """The kind of the part of a ``torch.cat``/``stack`` output that ``target`` reads; ``other`` with a warning
    when the graph cannot say which part that is (fresh24: a stack of a regression and a sigmoid was explained as
    its probability without a word)."""
    part = joined_part(found, target.task, shape)
    if part is not None:
        return part
    task = 0 if target.task is None else target.task
    log.warning("target: the model's output joins probabilities with other values (torch.cat or stack), and its "
                "graph does not say which part task %s is, so it is explained as it is; if it is a probability, "
                "--target %s,transform=logit explains its logit", task, task)  # a log line: no option() markup
    return OutputKind("other")


def _refuse_constant_profile(found: OutputKind, target: Target, shape: tuple[int, ...]) -> None:
    """Refuse the sum (or mean) over positions of a softmax over those positions: 1 (or 1/L) for every sequence,
    so its attributions are float noise (verify22: max 1e-10, explained without a word)."""
    if found.kind != "softmax" or found.dim is None:
        return
    dim, task = found.dim % len(shape), target.task_axis(shape)
    if dim != 0 and dim != task:
        raise InputError(f"the output {shape_text(shape)} is a softmax over positions (axis {dim}), so its "
                         f"{target.reduction} over positions is the same for every sequence and has nothing to "
                         "explain; explain the logits before the softmax (a model that returns them), or one "
                         f"position ({option('target', 'task=K,axis=1')} on an (N, positions) output)")


_KIND_TEXT = {"sigmoid": "a sigmoid's (a probability)", "softmax": "a softmax's (class probabilities)",
              "log_softmax": "a log-softmax's (class log-probabilities)"}


def probability_transform(found: OutputKind, target: Target, shape: tuple[int, ...] | None) -> tuple[str, str]:
    """The transform that explains a probability output without its saturation, and why, in words.

    Parameters
    ----------
    found
        The output's kind (:func:`seqsal.models.outputs.probability_output`); ``sigmoid``, ``softmax`` or
        ``log_softmax``.
    target
        The target (its ``task``, ``axis`` and ``reduction``).
    shape
        The selected output's shape with the batch axis, or ``None`` when the model was not probed.

    Returns
    -------
    tuple
        ``(transform, reason)``: ``logit`` for a sigmoid's (or a softmax's class selected by indexing) one value
        per sequence; ``log_odds`` / ``log_odds_logp`` for class ``task`` of an ``(N, classes)`` softmax /
        log-softmax over the task axis; ``none`` for a profile that the target reduces over positions (the
        logit of a sum or mean of probabilities is not the value before the sigmoid), a softmax over another
        axis, or a softmax whose axis or output shape is not known.
    """
    # (N, tasks, positions), (N, bins, tracks) or a task-less (N, positions), reduced to one value
    profile = shape is not None and (len(shape) > 2 or (len(shape) == 2 and target.axis == NO_TASK_AXIS))
    if profile:
        return "none", (f"the probability is explained: the output is a profile reduced by {target.reduction} over "
                        f"positions (the logit of a {target.reduction} of probabilities is not a value before the "
                        "activation)")
    if found.kind == "sigmoid" or (found.kind == "softmax" and found.dim is None and shape is not None):
        return "logit", "its logit log(p / (1 - p)) is explained (the value before a sigmoid; a class's log-odds)"
    if shape is None or found.dim is None:
        return "none", "the output is explained as it is (its class axis is not known)"
    if len(shape) < 2 or found.dim % len(shape) != target.task_axis(shape):
        return "none", (f"the output is explained as it is: the {found.kind.replace('_', '-')} normalises axis "
                        f"{found.dim} of {shape_text(shape)}, not the task axis")
    if shape[found.dim % len(shape)] < 2:
        return "none", "the output is explained as it is (a softmax over one class is constant)"
    transform = "log_odds" if found.kind == "softmax" else "log_odds_logp"
    return transform, ("class %s's log-odds against the other classes, log(p_k / sum of the others' p), is explained "
                       "(z_k - logsumexp of the others' logits)" % (0 if target.task is None else target.task))
