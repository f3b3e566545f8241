"""The task axis of a model output of 2 or more dims, told from its position axes by running the model on a longer
input (:func:`resolve_task_axis`), never guessed."""
from __future__ import annotations

import logging
from dataclasses import replace

import torch
from torch import nn

from .attribution import NO_TASK_AXIS, Target, shape_text, target_text
from .errors import InputError, option

log = logging.getLogger("seqsal")


def task_axis_of(shape: tuple[int, ...], longer: tuple[int, ...] | None) -> int | None:
    """The task axis of a model output of 3 or more dims, told apart from its position axes.

    Parameters
    ----------
    shape, longer
        The output's shape at one input length, and at a longer one (``None``: the model ran on one
        length only).

    Returns
    -------
    int or None
        The one non-batch axis whose size does not change with the input length (positions, bins and
        profiles grow with it; tasks and tracks do not); ``None`` when not exactly one axis keeps its size.
    """
    if longer is None or len(longer) != len(shape):
        return None
    fixed = [axis for axis in range(1, len(shape)) if shape[axis] == longer[axis]]
    return fixed[0] if len(fixed) == 1 else None


def resolve_task_axis(model: nn.Module, target: Target, probe: torch.Tensor, output) -> Target:
    """``target`` with its task axis made explicit, for an output of 2 or more dims (never a guess).

    An axis the user gave is kept. Otherwise the model runs once more, on zeros twice as long as
    ``probe``, and the task axis is the one axis whose size stays (:func:`task_axis_of`). A 2-d output
    ``(N, K)`` is tasks unless its ``K`` changes with the input length: then it is a profile of one task
    (``axis="none"``), reduced over its positions as a whole (anyone's gradient of task 0 of a profile is
    position 0's, which may not even see the sequence). A 2-d output of a model that runs on one input
    length only stays tasks.

    Parameters
    ----------
    model
        The model (taking ``(N, 4, L)``).
    target
        What to explain (its ``output`` must name an output of the model).
    probe, output
        An input ``(N, 4, L)`` and the model's output on it.

    Returns
    -------
    Target
        ``target`` itself for outputs of 1 dim, 2-d outputs of tasks or a given axis, else with ``axis`` set.

    Raises
    ------
    InputError
        When the task axis cannot be told with certainty (a model of one input length, or an output whose
        axes all keep or all change their size): the message names the shape and the ``axis=`` to add.
    """
    shape = target.output_shape(output)
    if len(shape) < 2 or target.axis == NO_TASK_AXIS:
        return target
    try:
        with torch.no_grad():
            longer = target.output_shape(model(probe.new_zeros(*probe.shape[:2], 2 * probe.shape[2])))
    except Exception:  # noqa: BLE001 - a model of one input length (or out of memory): nothing to compare
        longer = None
    if target.axis is not None:  # the user's axis is kept; one that grows with the input is said (fresh25b)
        axis = target.axis % len(shape)
        if longer is not None and len(longer) == len(shape) and longer[axis] != shape[axis] and axis > 0:
            kept = [a for a in range(1, len(shape)) if shape[a] == longer[a]]
            log.warning("target: axis %d of the output %s grows with the input length (%d -> %d for an input twice "
                        "as long): a position axis, so task %s is the position %s%s", target.axis,
                        shape_text(shape), shape[axis], longer[axis], 0 if target.task is None else target.task,
                        0 if target.task is None else target.task,
                        f"; the axis that keeps its size is {kept[0]} (--target ...,axis={kept[0]})"
                        if len(kept) == 1 else "")
        return target
    if len(shape) == 2:
        grows = longer is not None and len(longer) == 2 and longer[1] != shape[1]
        return replace(target, axis=NO_TASK_AXIS) if grows else target
    axis = task_axis_of(shape, longer)
    if axis is None:
        why = ("the model does not run on inputs twice as long" if longer is None else
               f"for inputs twice as long it has shape {shape_text(longer)}")
        raise InputError(
            f"{option('target')}: the output to explain has shape {shape_text(shape)} for inputs of "
            f"{probe.shape[2]} bases, and "
            f"{why}, so its task axis cannot be told from its position axis; add the task axis to {option('target')}: "
            f"{option('target', target_text(replace(target, axis=1)))} for (N, tasks, positions) as BPNet's profile, "
            f"{option('target', target_text(replace(target, axis=-1)))} for (N, positions, tasks) as Enformer's "
            f"bins x tracks"
        )
    return replace(target, axis=axis)
