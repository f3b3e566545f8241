"""What a model must do before a run attributes anything with it: take the run's windows (shape, layout, the
targeted output: :func:`check_model_input`) and give the same output for the same window whatever else is in its batch
(:func:`check_model_determinism`). Used by :mod:`seqsal.pipeline` (the CLI's ``attribute`` and
:func:`seqsal.iter_attributions`).
"""
from __future__ import annotations

import logging
from dataclasses import replace

import torch
from torch import nn

from .attribution import NO_TASK_AXIS, Target, eval_mode, shape_text
from .devices import device_mismatch
from .task_axis import resolve_task_axis
from .errors import InputError, option
from .methods.dispatch import check_gradient_method
from .models import LoadedModel
from .models.files import model_file
from .models.probes import (check_deterministic, check_float32, check_task_names, more_inputs_text,
                            output_task_names)
from .models.user import layout_hint

log = logging.getLogger("seqsal")


def check_model_input(model: LoadedModel, window: int | None, length: int, target: Target, device,
                      layout: str = "ncl") -> tuple[Target, tuple[int, ...]]:
    """Run the model once on zeros to catch a wrong input length, layout (the one it was loaded with) or target
    early.

    Returns ``target`` with the task axis of an output of 2 or more dims made explicit
    (:func:`seqsal.task_axis.resolve_task_axis`: given, or found with certainty; else :class:`InputError`),
    and the shape of the output it selects (for :func:`~seqsal.output_transforms.choose_transform` and ``run.json``).
    """
    where = model_file(model.module)  # the model file, named by every message here (None: a module given)
    check_float32(model.module, where)  # anymodel: a float64 model was told to give its input length
    probe_length = window or length
    x = torch.zeros(2, 4, probe_length, device=device)
    try:
        with torch.no_grad():
            output = model.module(x)
    except Exception as error:  # noqa: BLE001 - any failure here is a mismatch the user must fix
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        # TorchScript puts the cause on the last line, after its own traceback
        detail = (lines[-1] if lines[0].startswith("The following operation failed") else lines[0])[:200] \
            if lines else type(error).__name__
        if (more := more_inputs_text(error)) is not None:  # review26: told its first layer takes 5 channels
            raise InputError(more, where) from None
        if (mismatch := device_mismatch(error, x.device)) is not None:  # was "give --window" (session 32, GPU)
            raise InputError(mismatch, where) from None
        if "cuda" in str(error).lower() and x.device.type != "cuda":
            raise InputError(f"the model fails on the {x.device.type} device ({detail}): it was saved with operations "
                             f"or tensors that need a CUDA GPU; run on a machine with one "
                             f"({option('device', 'cuda')}), or re-save the model from the CPU (e.g. model.cpu() "
                             "before torch.jit.save)", where) from None
        other = other_layout(model.module, x, layout)
        if other is not None:
            shape = (f"(N, 4, {probe_length})" if layout == "ncl" else f"(N, {probe_length}, 4)")
            raise InputError(f"the model fails on {shape} ({detail}) but runs on {layout_hint(other)}", where) from None
        if any(isinstance(layer, nn.Embedding) for layer in model.module.modules()):  # anymodel: "takes 8 channels"
            raise InputError(
                f"the model fails on one-hot DNA (N, 4, {probe_length}) ({detail}) and holds an embedding "
                "(nn.Embedding): it takes token indices, not one-hot DNA; wrap it so that forward takes one-hot "
                "(N, 4, L) and passes x.argmax(1) on (its gradient is 0 everywhere: explain it with "
                f"{option('method', 'ism')})", where
            ) from None
        channels = first_layer_channels(model.module)
        if channels not in (None, 4):
            raise InputError(
                f"the model's first layer takes {channels} input channels, but seqsal feeds one-hot DNA with 4 "
                "(A, C, G, T); use a model trained on one-hot DNA of shape (N, 4, L)", where
            ) from None
        raise InputError(
            f"the model fails on an input of shape (N, 4, {probe_length}): {detail}. It takes one-hot DNA "
            f"(N, 4, L); give {option('window')} (or {option('width')}) with the input length it was trained on",
            where) from None
    check_batch_axis(target, output, x.shape[0], where)
    with torch.no_grad():  # (tasks, N) with 2 tasks, or (tasks,) averaged over the batch, pass at 2: not at 3
        check_batch_axis(target, model.module(torch.zeros(3, 4, probe_length, device=device)), 3, where)
    resolved = resolve_task_axis(model.module, target, x, output)
    resolved.select(output)
    if isinstance(output, (tuple, list)) and target.output is None:  # fresh16: which one was said nowhere
        shapes = ", ".join(shape_text(o.shape) for o in output if isinstance(o, torch.Tensor))
        picked = resolved.output_shape(output)  # values per position left once the task is taken: a profile
        profile = len(picked) - (resolved.task_axis(picked) is not None) > 1
        # fresh27a: a BPNet's profile logits summed (not warned of where reduce=sum was asked for)
        if profile and resolved.reduction == "sum" and not target.reduction_named:
            log.warning("target: the model returns %d outputs %s, and output 0 is a profile (values per position), "
                        "explained as their sum over positions; the logits of a profile under a softmax (BPNet's "
                        "profile head) are fixed only up to a constant, so their sum is not a prediction: --target "
                        "output=0,reduce=bpnet explains the profile as BPNet does, --target output=1 the next output "
                        "(BPNet's counts); --target output=0 keeps the sum", len(output), shapes)
        else:
            log.info("target: the model returns %d outputs %s; output 0 is explained (--target output=K picks "
                     "another)", len(output), shapes)
    shape = resolved.output_shape(output)
    if resolved.axis == NO_TASK_AXIS and target.axis is None:  # anymodel: an (N, L) profile was explained at position 0
        log.info("target: the output %s grows with the input length: a profile of one task, explained as its %s "
                 "over positions (--target ...,axis=N names a task axis instead)", shape_text(shape),
                 resolved.reduction)
    elif resolved.axis != target.axis:
        log.info("target: task axis %d of the output %s (the one axis whose size does not change with the input "
                 "length; --target ...,axis=N sets it)", resolved.axis, shape_text(shape))
    elif len(shape) == 2 and target.axis is None and shape[1] == x.shape[2] > 1:
        log.warning("target: the output %s has one value per input base, yet an input twice as long does not "
                    "make it grow (or the model takes one length only), so it is read as %d tasks and task %s is "
                    "explained; if these values are positions (a profile), "
                    "--target ...,axis=%s explains their %s", shape_text(shape), shape[1],
                    0 if resolved.task is None else resolved.task, NO_TASK_AXIS, resolved.reduction)
    elif len(shape) == 2 and target.axis is None and target.task is None and not model.task_names \
            and 1 < shape[1] and 4 * shape[1] >= x.shape[2]:  # many unnamed columns, none asked for (fresh25b)
        log.warning("target: the output %s (for %d input bases) is read as %d tasks and task 0 is explained; if its "
                    "columns are positions (a profile cropped to fewer bases than the input, as ChromBPNet's), "
                    "--target axis=%s explains their sum; --target 0 (or a task name) says they are tasks",
                    shape_text(shape), x.shape[2], shape[1], NO_TASK_AXIS)
    check_task_names(shape, resolved.task_axis(shape) if len(shape) > 1 else None,
                     output_task_names(model.task_names, resolved.output))
    if isinstance(resolved.task, int) and resolved.task < 0:  # -1: the last task, recorded as its index (fresh16)
        resolved = replace(resolved, task=resolved.task + shape[resolved.task_axis(shape)])
    return resolved, shape


def check_batch_axis(target: Target, output, batch: int, where: str | None) -> None:
    """Refuse an output (the one ``target`` picks) with no batch axis first: a 0-d tensor (one number for the whole
    batch: a traceback, fresh25b) or a first axis that is not the batch (``(tasks, N)``: it was refused as a model
    whose windows depend on each other). :func:`check_model_input` asks it at two batch sizes, 2 and 3, since an
    output with 2 tasks first has the batch's size at 2."""
    try:
        shape = target.output_shape(output)
    except (InputError, AttributeError):
        return  # a target naming no output of the model (refused where it is read), or no tensor
    if not shape:
        raise InputError("the model returns one number for the whole batch (a 0-d tensor); it must return one value "
                         "(or one row) per window, shape (N,) or (N, tasks): drop the reduction over the batch "
                         "(e.g. .mean()) from its forward", where)
    if shape[0] != batch:
        raise InputError(f"the model's output has shape {shape} for a batch of {batch} windows: "
                         f"its first axis must be the batch (N, ...); transpose it in the model's forward", where)


def other_layout(module: nn.Module, x: torch.Tensor, layout: str) -> str | None:
    """The other input layout when ``module`` (loaded with ``layout``) fails on ``x`` ``(N, 4, L)`` but runs on it
    transposed: a model of channels-last input loaded as ``ncl``, or the other way round; else ``None``."""
    if x.shape[2] == 4:  # a transpose would not tell the layouts apart
        return None
    try:
        with torch.no_grad():
            module(x.transpose(1, 2))
    except Exception:  # noqa: BLE001 - it fails either way: not a layout problem
        return None
    return "nlc" if layout == "ncl" else "ncl"


def check_model_determinism(model: LoadedModel, length: int, device, path: str | None = None,
                            batch_size: int = 3) -> None:
    """:func:`seqsal.models.probes.check_deterministic` on the model as the engine runs it (in eval mode): the same
    window twice, and alone vs among other windows or zero padding, must give the same output; else
    :class:`InputError` with the reason (dropout or batch norm left in training mode). ``batch_size``: the batch
    size of the run (a batch of up to :data:`~seqsal.models.probes.PROBE_BATCH` windows stands for it)."""
    where = path if path is not None else model_file(model.module)
    with eval_mode(model.module):
        check_deterministic(model.module, length, device, path=where, batch_size=batch_size, source=model.source)


def check_model_gradient(model: LoadedModel, length: int, target: Target, device, method: str,
                         path: str | None = None) -> None:
    """:func:`seqsal.methods.dispatch.check_gradient_method` on the model as the engine runs it: a gradient method
    refuses a model whose input gradient is not its derivative (a ``.detach()`` in its forward), naming its file."""
    check_gradient_method(model.module, length, target, device, method,
                          path if path is not None else model_file(model.module))


def first_layer_channels(module: nn.Module) -> int | None:
    """Input channels of a model's first 1-d convolution (its first 3-d weight ``(out, in, k)``), if any."""
    for parameter in module.parameters():
        if parameter.ndim == 3:
            return int(parameter.shape[1])
    return None
