"""The dispatcher: one attribution method on a batch, with gradient correction, strand averaging and autocast.

:func:`hypothetical_attributions` runs one batch (the engine's unit of work); :func:`attribute` is the notebook
entry point (``seqsal.attribute``), batching a whole array on a chosen device.
"""
from __future__ import annotations

import inspect
import logging
import numbers

import torch
from torch import nn

from ..attribution import Target, correct_gradient, eval_mode
from ..task_axis import resolve_task_axis
from ..output_transforms import choose_transform
from ..devices import autocast_dtype_for, device_for, device_mismatch, placed, precision_context
from ..encode import reverse_complement_one_hot
from ..errors import InputError, option
from ..models.files import LoadedModel
from ..models.probes import check_deterministic, check_task_names, more_inputs_text, output_task_names
from ..models.logit_output import exact_logit
from .gradient_check import check_input_gradient
from .inputs import as_batch, as_module, as_target, method_inputs
from .registry import GRADIENT_CHECKED, METHODS, PROJECTED_BY_DEFAULT, UNCORRECTED

log = logging.getLogger("seqsal")

ON_ERROR = ("stop", "skip")  # what a NaN/Inf answer of the model does: stop the run, or zero it and warn


def check_on_error(on_error: str) -> None:
    """Refuse an ``on_error`` that is not one of :data:`ON_ERROR` (:class:`InputError`)."""
    if on_error not in ON_ERROR:
        raise InputError(f"unknown {option('on_error')} {on_error!r}; choose stop or skip")


def nonfinite_rows(hypothetical: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
    """Which sequences the model answered with NaN or ±Inf: the rule behind ``on_error``.

    Parameters
    ----------
    hypothetical
        ``(N, ...)`` attributions of a batch (e.g. ``(N, 4, L)``).
    prediction
        ``(N,)`` target values.

    Returns
    -------
    torch.Tensor
        ``(N,)`` bool, true where the prediction or any attribution of the row is not finite.
    """
    finite = torch.isfinite(hypothetical.reshape(hypothetical.shape[0], -1)).all(dim=1)
    return ~(finite & torch.isfinite(prediction.reshape(-1)))


def on_nonfinite(name: str, where: str, on_error: str, warned: set[str] | None = None) -> None:
    """Stop, or warn, for a sequence (or region) the model answered with NaN/Inf (:func:`nonfinite_rows`).

    Parameters
    ----------
    name, where
        What it is (``region r1``, ``sequence 3``) and where (``chr1:100-300``, ``x[3]``), for the message.
    on_error
        ``stop``: raise; ``skip``: log a warning (the caller writes zeros), once per ``name`` in ``warned``
        when given (the shuffled null's copies of a region repeat its name).

    Raises
    ------
    InputError
        With ``on_error="stop"``.
    """
    if on_error == "stop":
        raise InputError(f"the model returned NaN/Inf for {name} ({where}); check the model, or pass "
                         f"{option('on_error', 'skip')}")
    if warned is None or name not in warned:
        log.warning("%s: NaN/Inf from the model; written as zeros", name)
        if warned is not None:
            warned.add(name)


def hypothetical_attributions(
    model: nn.Module,
    x: torch.Tensor,
    method: str = "grad_x_input",
    target: Target | None = None,
    correct: bool = True,
    rc: bool = False,
    autocast_dtype: torch.dtype | None = None,
    **params,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hypothetical contributions and predictions of one batch.

    Parameters
    ----------
    model, x
        Model and one-hot batch ``(N, 4, L)`` on the same device.
    method
        A key of :data:`~seqsal.methods.registry.METHODS`.
    target
        What to explain (default: task 0 of the output as it is;
        these functions apply no transform, where :func:`seqsal.attribute` explains a sigmoid or softmax
        output as its logit or log-odds).
    correct
        Apply gradient correction (default on, as tangermeme does).
    rc
        Average with the attribution of the reverse complement, mapped back
        (for unstranded models); the prediction is averaged too.
    autocast_dtype
        ``torch.bfloat16`` / ``torch.float16`` to run the model under autocast.
    **params
        The method's own parameters (see its function).

    Returns
    -------
    hypothetical, prediction
        ``(N, 4, L)`` float32 and ``(N,)`` float32.

    Raises
    ------
    InputError
        For an unknown method, or what the method raises (bad target, unsupported layer, ...).
    """
    if method not in METHODS:
        raise InputError(f"unknown attribution method {method!r}; choose one of {', '.join(sorted(METHODS))}")
    model, x, target = method_inputs(model, x, target)
    function = METHODS[method]
    check_method_params(method, function, params)
    if method in GRADIENT_CHECKED:  # once per model, target and length (cached): the batches after it pass at once
        with eval_mode(model):
            check_input_gradient(model, x.shape[-1], target, x.device, method, window=x[0] if len(x) else None)
    if rc:
        batch = torch.cat([x, reverse_complement_one_hot(x)], dim=0)
        if params.get("focus") is not None:  # ISM's stretch of each window, mirrored on the reverse complement
            focus = torch.as_tensor(params["focus"]).reshape(-1, 2).expand(x.shape[0], 2)
            params = {**params, "focus": torch.cat([focus, x.shape[-1] - focus.flip(-1)])}
        if isinstance(params.get("references"), torch.Tensor):  # given baselines (N, R, 4, L): theirs mirrored too
            given = params["references"]
            params = {**params, "references": torch.cat([given, reverse_complement_one_hot(given)])}
    else:
        batch = x
    with precision_context(x.device, autocast_dtype):
        hypothetical, prediction = function(model, batch, target, **params)
    hypothetical, prediction = hypothetical.float(), prediction.float()
    if rc:
        n = x.shape[0]
        hypothetical = 0.5 * (hypothetical[:n] + reverse_complement_one_hot(hypothetical[n:]))
        prediction = 0.5 * (prediction[:n] + prediction[n:])
    if correct and method not in UNCORRECTED:
        hypothetical = correct_gradient(hypothetical)
    return hypothetical, prediction


def check_gradient_method(model: nn.Module, length: int, target: Target, device, method: str,
                          path: str | None = None) -> None:
    """For a gradient method (:data:`~.registry.GRADIENT_CHECKED`), refuse a model whose input gradient is not the
    derivative of its output (:func:`~.gradient_check.check_input_gradient`), before a run starts; ``path`` (the
    model file) is named by the message. The model and target are taken as :func:`hypothetical_attributions` takes
    them, so that its own check of the run's first batch finds the answer cached."""
    if method not in GRADIENT_CHECKED:
        return
    module, target = exact_logit(model, target)
    with eval_mode(module):
        check_input_gradient(module, length, target, device, method, path)


def check_method_params(method: str, function, params: dict) -> None:
    """Refuse parameters ``function`` (a method of :data:`METHODS`, ``fn(model, x, target, **params)``) does not take
    (apidoc: ``method_params={"stepz": 8}`` was Python's TypeError from inside the method)."""
    signature = inspect.signature(function)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
        return
    accepted = [name for name in list(signature.parameters)[3:]]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise InputError(f"{method} takes no parameter {', '.join(map(repr, unknown))}; its parameters: "
                         f"{', '.join(accepted) or 'none'}")


def cannot_take(x: torch.Tensor, error: Exception, device: torch.device | None = None) -> InputError:
    """The error for a model that fails on ``x``'s shape (e.g. a dense layer sized for another length), or on
    ``device`` (default ``x``'s) because it holds a tensor elsewhere."""
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if (more := more_inputs_text(error)) is not None:
        return InputError(more)
    if (mismatch := device_mismatch(error, device or x.device)) is not None:
        return InputError(mismatch)
    if "channels" in first_line and x.ndim == 3:  # e.g. "expected input[1, 100, 4] to have 4 channels": (N, L, 4)
        return InputError(f"the model cannot take x of shape {tuple(x.shape)} ({first_line}): it may read one-hot "
                          "DNA channels last, (N, L, 4); wrap it, seqsal.models.user.ChannelsLast(model), or load its "
                          "file with seqsal.load_model(path, layout='nlc')")
    return InputError(f"the model cannot take x of shape {tuple(x.shape)} ({first_line}); check the sequence "
                      "length L the model was built for")


def attribute(
    model: nn.Module | LoadedModel,
    x: torch.Tensor,
    method: str = "grad_x_input",
    target: Target | str | int | None = None,
    correct: bool = True,
    rc: bool = False,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    precision: str = "fp32",
    hypothetical: bool | None = None,
    on_error: str = "stop",
    **params,
) -> torch.Tensor:
    """Attributions of a batch of one-hot sequences, for notebooks.

    Parameters
    ----------
    model
        Any ``nn.Module`` taking ``(N, 4, L)``, or what :func:`seqsal.load_model` returns (its ``.module`` runs;
        its task names and declared input length apply).
    x
        One-hot ``(N, 4, L)`` (torch tensor or numpy array).
    method
        ``saliency``, ``grad_x_input`` or another key of :data:`~seqsal.methods.registry.METHODS`.
    target
        :class:`Target`, its string form (see :meth:`Target.parse`) or a task index (``2`` is ``"2"``). As in
        ``seqsal attribute``, the task axis of an output of 3 or more dims must be given or be found with certainty
        (:func:`~seqsal.task_axis.resolve_task_axis`), and a transform left open is chosen from the model's
        graph (:func:`~seqsal.output_transforms.choose_transform`): a sigmoid's output is explained as its logit, a
        softmax's class as its log-odds against the other classes (``transform=none``: the probability).
    correct, rc
        Gradient correction and reverse-complement averaging.
    batch_size
        Sequences per forward/backward pass.
    device
        ``cuda``, ``mps``, ``cpu`` or ``None`` for automatic choice.
    precision
        ``fp32``, ``bf16`` or ``fp16`` (autocast).
    hypothetical
        Return hypothetical contributions instead of projected ones. Default:
        ``True`` for ``saliency`` (the saliency map *is* the gradient), ``False``
        for every other method (``x * hypothetical``, e.g. gradient x input).
    on_error
        What a sequence whose prediction or attributions the model answers with NaN/Inf does, as in
        ``seqsal attribute --on-error``: ``stop`` (raise) or ``skip`` (its attributions are zeros; a warning
        names it).
    **params
        The method's own parameters (see its function, e.g. ``references`` for ``deepshap``).

    Returns
    -------
    torch.Tensor
        ``(N, 4, L)`` float32 on the CPU.

    Raises
    ------
    InputError
        For an unknown method, device, precision or ``on_error``, a bad target (of another type than the above,
        or naming a task the model lacks), ``x`` not of shape ``(N, 4, L)`` or of a length the model cannot take
        (or that its file does not declare), or (``on_error="stop"``) NaN/Inf in a sequence's prediction or
        attributions: the message names the first such sequence; a model whose output is random or depends on the
        other sequences of its batch (dropout or batch norm in training mode:
        :func:`seqsal.models.probes.check_deterministic`).
    """
    check_on_error(on_error)
    if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise InputError(f"batch_size {batch_size!r}: give a whole number >= 1")
    target = as_target(target)
    x = as_batch(x).to(torch.float32)
    model, task_names = as_module(model, x.shape[-1])
    target = target.resolve(task_names)
    device = device_for(device, model)
    dtype = autocast_dtype_for(precision, device)
    if hypothetical is None:
        hypothetical = not PROJECTED_BY_DEFAULT.get(method, True)
    with placed(model, device):  # a TorchScript module too (session 32, an H200: it stayed on the CPU)
        outputs = []
        with eval_mode(model):
            if x.shape[0] and (target.transform is None or target.axis is None):  # the CLI's target rules
                probe = x[:1].to(device)
                with torch.no_grad():
                    try:
                        output = model(probe)
                    except (RuntimeError, TypeError) as error:  # a dense layer sized for another length; 2 inputs
                        raise cannot_take(x, error, device) from None
                target = resolve_task_axis(model, target, probe, output)
                shape = target.output_shape(output)
                check_task_names(shape, target.task_axis(shape) if len(shape) > 1 else None,
                                 output_task_names(task_names, target.output))
                target = choose_transform(model, target, method, shape)
            if x.shape[0]:  # as the pipeline: a random or batch-dependent output is refused, not explained (fresh11)
                try:
                    check_deterministic(model, x.shape[-1], device, batch_size=min(batch_size, x.shape[0]))
                except RuntimeError as error:
                    raise cannot_take(x, error, device) from None
            given = params.get("references")
            if given is not None and not isinstance(given, (numbers.Integral, torch.Tensor)):
                given = torch.as_tensor(given, dtype=torch.float32)  # baselines as a numpy array
            for first in range(0, x.shape[0], batch_size):
                chunk = x[first:first + batch_size].to(device)
                # given baselines (N, R, 4, L): each batch takes its own sequences' (review26: all N were refused)
                own = ({"references": given[first:first + batch_size].to(device)}
                       if isinstance(given, torch.Tensor) and given.ndim == 4 and given.shape[0] == x.shape[0] else {})
                hyp, prediction = hypothetical_attributions(
                    model, chunk, method, target, correct=correct, rc=rc, autocast_dtype=dtype, **{**params, **own}
                )
                bad = nonfinite_rows(hyp, prediction)
                for row in (first + torch.nonzero(bad).flatten()).tolist():
                    on_nonfinite(f"sequence {row}", f"x[{row}]", on_error)
                hyp = torch.where(bad.reshape(-1, 1, 1), torch.zeros_like(hyp), hyp) if bool(bad.any()) else hyp
                outputs.append((hyp if hypothetical else hyp * chunk).cpu())
    if len(outputs) == 1:  # one batch: no copy
        return outputs[0]
    return torch.cat(outputs, dim=0) if outputs else torch.zeros_like(x)
