"""The gradient layer under every attribution method: targets, input gradients, gradient correction.

* :class:`Target` — which scalar of a model's output to explain (output by index or dict key, task, task axis,
  profile reduction); :func:`seqsal.task_axis.resolve_task_axis` makes the task axis of a 2-d or larger output
  explicit;
* :func:`input_gradient` — ``d target / d x`` for a one-hot batch ``(N, 4, L)``, taken with
  :func:`torch.autograd.grad` with respect to the input only, so model parameters never accumulate ``.grad``;
* :func:`saliency` — the ``saliency`` and ``grad_x_input`` methods (the gradient is the hypothetical
  contribution; ``hypothetical * x`` is gradient x input);
* :func:`correct_gradient` — gradient correction (Majdandzic et al. 2023);
* :func:`eval_mode` — a model in eval mode for a block.

The other methods, their registry and the dispatcher (``seqsal.attribute``) live in :mod:`seqsal.methods`, above
this module; nothing here imports them.
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from .errors import InputError, option
from .models.probes import output_task_names
from .text import plural

log = logging.getLogger("seqsal")

REDUCTIONS = ("sum", "mean", "bpnet")
TRANSFORMS = ("none", "logit", "log_odds", "log_odds_logp")
NO_TASK_AXIS = "none"  # Target.axis of an output whose every non-batch axis is positions (a (N, L_out) profile)
_LOG_ODDS = ("log_odds", "log_odds_logp")  # class k of a softmax (or log-softmax) over the task axis
_TARGET_EXAMPLES = ("'2', 'enhancer', 'output=1,task=0,reduce=bpnet', 'output=human,task=2', 'task=3,axis=-1', "
                    "'task=3,axis=-1,positions=14:18' or '0,transform=logit'")


def shape_text(shape: tuple[int, ...] | torch.Size) -> str:
    """A model output's shape with its batch axis as ``N``: ``(N, 8, 3)``."""
    return "(" + ", ".join(["N", *(str(size) for size in tuple(shape)[1:])]) + (",)" if len(shape) == 1 else ")")


def _integer(text: str) -> bool:
    return text.lstrip("-").isdigit()


@dataclass(frozen=True)
class Target:
    """Which scalar of a model's output to explain.

    The default explains task 0 of the output; where that output is a
    probability (a sigmoid or softmax inside the model), the pipeline explains its logit or log-odds,
    never the probability, whose saturation hides features (a saturated sigmoid
    gives its smallest attributions where the model is most active:
    benchmarks/RESULTS.md, issue 13).

    Parameters
    ----------
    output
        Which output of a model that returns several: an index into a tuple/list output, or a key of a
        dict output (``{"human": (N, 3), "mouse": (N, 2)}``). ``None``: the output is one tensor, element
        0 of a tuple, or the only entry of a dict (a dict of several outputs must be named).
    task
        Index (or name, resolved with the model's task names) along the task axis of a ``(N, T)``,
        ``(N, T, L_out)`` or ``(N, bins, tracks)`` output. ``None``: task 0.
    reduction
        How the rest of the selected output (a profile ``(N, L_out)``, or bins) becomes one scalar per
        sequence: ``sum``, ``mean`` or ``bpnet`` (the softmax-weighted profile of BPNet,
        ``sum(softmax(z).detach() * (z - mean(z)))``).
    axis
        The task axis of an output of 2 or more dims, counted with the batch axis as 0 (``1``: tasks x
        positions, as BPNet's profile ``(N, T, L_out)``; ``-1``: positions x tasks, as Enformer's
        ``(N, bins, tracks)``), or ``"none"`` (:data:`NO_TASK_AXIS`): every axis but the batch's is positions,
        as a one-task profile ``(N, L_out)``, reduced as a whole. ``None``: axis 1. The command line never
        leaves an output of 3 or more dims to that default: it takes the axis the user names, or the one
        :func:`seqsal.task_axis.resolve_task_axis` finds with certainty, or stops; a 2-d output whose axis 1
        grows with the input length is a profile (``"none"``), found the same way.
    transform
        ``none``, or how a probability output is explained without its saturation (Shrikumar, Greenside &
        Kundaje, ICML 2017, section 3.6; :mod:`seqsal.models.outputs`):

        * ``logit``: ``log(p / (1 - p))`` of the selected scalar, for a sigmoid inside ``forward`` (e.g. a
          TorchScript classifier that returns no logit). Its gradient is the pre-sigmoid logit's
          (``d logit(sigmoid(z)) = dz``). Outputs outside ``(0, 1)`` are refused.
        * ``log_odds``: the log-odds of class ``task`` against the other classes of a softmax over the task
          axis, ``log(p_k / sum_{j != k} p_j) = z_k - logsumexp_{j != k} z_j``, for an ``(N, classes)`` output
          of probabilities; the complement is summed from the other classes, never taken as ``1 - p_k``, so a
          class whose ``p_k`` rounds to 1 in float32 is still explained exactly while the others' ``p`` stay above
          0 (where they all underflow to 0 the log-odds is out of the probabilities' reach: refused). Two
          classes: ``z_1 - z_0``.
        * ``log_odds_logp``: the same log-odds from log-probabilities (a log-softmax inside ``forward``):
          ``log p_k - logsumexp_{j != k} log p_j``.

        Gradient methods, integrated gradients and ISM explain the transformed value exactly;
        DeepLIFT/DeepSHAP refuse a transform (their rescale rules act inside the model). ``None`` (not
        chosen): the pipeline (``seqsal attribute``, :func:`seqsal.pipeline.run_attribute`,
        :func:`~seqsal.pipeline.iter_attributions`) chooses the transform the model's graph calls for
        (:func:`seqsal.output_transforms.choose_transform`), else ``none``, and records the choice.
    positions
        ``(start, end)``: only the positions ``start:end`` (0-based, half-open, Python's slice: negatives count
        from the end) of the output's one position axis are reduced, e.g. the bins of a ``(N, bins, tracks)``
        output that cover the region centred in a longer model window (fresh28: Basenji/Enformer-like models
        were explained over every bin of the window). ``None``: all of them. Refused for an output without a
        position axis, or with several.
    model_logit
        Internal: the model returns the logit itself (:func:`seqsal.models.logit_output.exact_logit`).
    reduction_named
        Internal: ``reduce=`` was written in the parsed text (a profile summed on purpose is not warned of).

    Raises
    ------
    InputError
        For an unknown ``reduction`` or ``transform``, or an ``axis`` given as text other than ``"none"``. A task
        or output the model lacks is refused when the target is applied to an output (:meth:`select`).
    """

    output: int | str | None = None
    task: int | str | None = None
    reduction: str = "sum"
    axis: int | str | None = None
    transform: str | None = None
    positions: tuple[int, int] | None = None
    model_logit: bool = field(default=False, repr=False, compare=False)
    reduction_named: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self):
        if self.reduction not in REDUCTIONS:
            raise InputError(f"unknown reduction {self.reduction!r}; choose one of {', '.join(REDUCTIONS)}")
        if isinstance(self.axis, str) and self.axis != NO_TASK_AXIS:
            raise InputError(f"{option('target', f'axis={self.axis}')}: the task axis is an integer, or "
                             f"{NO_TASK_AXIS} for an output without one (a profile (N, positions))")
        if self.transform is not None and self.transform not in TRANSFORMS:
            raise InputError(f"{option('target', f'transform={self.transform}')}: unknown; choose one of "
                             f"{', '.join(TRANSFORMS)}")
        if self.positions is not None:
            if not (isinstance(self.positions, (tuple, list)) and len(self.positions) == 2
                    and all(isinstance(p, int) and not isinstance(p, bool) for p in self.positions)):
                raise InputError(f"{option('target', 'positions=START:END')}: two integers, e.g. positions=14:18, "
                                 f"got {self.positions!r}")
            object.__setattr__(self, "positions", tuple(self.positions))

    @classmethod
    def parse(cls, text: str | None) -> "Target":
        """Parse a CLI target.

        ``"3"`` or ``"enhancer"`` (a task), or ``key=value`` pairs joined by commas: ``output`` (an index,
        or a dict key), ``task`` (an index or name), ``axis`` (the task axis, an integer) and ``reduce``
        (``sum``, ``mean``, ``bpnet``), e.g. ``"output=1,task=0,reduce=bpnet"``, ``"output=human,task=2"``,
        ``"task=3,axis=-1"``, ``"task=3,axis=-1,positions=14:18"`` (only those positions of the task's profile:
        :attr:`positions`); ``transform=logit`` explains the logit of a sigmoid's probability, ``log_odds``
        (``log_odds_logp``) the log-odds of a softmax's (log-softmax's) class. A text without ``=`` is one task
        however many commas it holds, and a task (bare or ``task=``) runs on over commas until the next ``key=``: task
        names with commas, as Basenji's and Enformer's track descriptions, are given as they are.

        Raises
        ------
        InputError
            For an unknown key, an empty value or a non-integer ``axis``.
        """
        if text is None or text == "":
            return cls()
        if "=" not in text:  # a task alone: its name may hold commas (Basenji's "CAGE:..., biol_" descriptions)
            value = text.strip()
            return cls(task=int(value) if _integer(value) else value)
        fields: dict = {}
        task = None  # the task's text so far, while the parts after it hold no "="
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep and task is not None:  # the rest of a task name holding a comma (fresh28: bare or task=)
                task += "," + part
                fields["task"] = task.strip()
                continue
            if not sep:
                key, value = "task", part
            task = value if key.strip() == "task" else None
            key, value = key.strip(), value.strip()
            if key not in ("output", "task", "axis", "reduce", "reduction", "transform", "positions"):
                raise InputError(f"{option('target')}: unknown key {key!r}; write e.g. {_TARGET_EXAMPLES}")
            name = {"reduce": "reduction"}.get(key, key)
            if name in fields:
                raise InputError(f"{option('target')}: {key} is given twice in {text!r}; give each key once")
            if not value:
                raise InputError(f"{option('target', f'{key}=')} has no value; write e.g. {_TARGET_EXAMPLES}")
            if key in ("reduce", "reduction"):
                fields["reduction"] = value
            elif key == "transform":
                fields["transform"] = value
            elif key == "positions":
                start, colon, end = value.partition(":")
                if not (colon and _integer(start.strip()) and _integer(end.strip())):
                    raise InputError(f"{option('target', f'positions={value}')}: write START:END, 0-based and "
                                     "half-open over the output's positions (bins), e.g. positions=14:18")
                fields["positions"] = (int(start), int(end))
            elif key == "axis" and value == NO_TASK_AXIS:
                fields["axis"] = value
            elif key == "axis":
                if not _integer(value):
                    raise InputError(f"{option('target')} axis must be an integer (the task axis of the output, "
                                     f"e.g. axis=-1) or {NO_TASK_AXIS} (a profile (N, positions) without one), "
                                     f"got {value!r}")
                fields["axis"] = int(value)
            else:
                fields[key] = int(value) if _integer(value) else value
        return cls(**fields, reduction_named="reduction" in fields)

    def resolve(self, task_names: list[str] | dict | None) -> "Target":
        """Replace a task name by its index (raises :class:`InputError` if unknown); ``task_names`` a list, or a
        dict of lists per output (:func:`seqsal.models.probes.output_task_names`)."""
        given, task_names = task_names, output_task_names(task_names, self.output)
        if isinstance(self.task, str):
            if not task_names and isinstance(given, dict) and given:  # fresh30: keyed by head names on a tuple
                output, keys = 0 if self.output is None else self.output, ", ".join(map(repr, given))
                if str(output) in map(str, given) or all(str(key).lstrip("-").isdigit() for key in given):
                    raise InputError(f"{option('target')} task {self.task!r}: the model names no tasks of output "
                                     f"{output!r} (its task_names name outputs {keys}): name the task by its index")
                raise InputError(f"{option('target')} task {self.task!r}: the model's task_names are keyed by {keys}, "
                                 f"none of them output {output!r}: name one of those outputs, or key each output's "
                                 "list by its index in the output tuple (0, 1, ...) or its key in the output dict")
            if not task_names or self.task not in task_names:
                known = ", ".join(task_names) if task_names else (
                    "none (the model file names no tasks): name the task by its index, or give the model a task_names "
                    "attribute (a list of str) before saving it (a torch.export .pt2 keeps no attribute: torch.export"
                    ".save(program, path, extra_files={'seqsal.json': json.dumps({'task_names': [...]})}))")
                raise InputError(f"{option('target')} task {self.task!r} is not one of the model's tasks: {known}")
            if len(twice := [k for k, name in enumerate(task_names) if name == self.task]) > 1:  # fresh26a: the first
                raise InputError(f"the model names tasks {twice} {self.task!r}: give the one meant by its index")
            return replace(self, task=twice[0])
        if isinstance(self.task, int) and task_names and str(self.task) in task_names:  # numbers as names (fresh25b)
            named = task_names.index(str(self.task))
            if not -len(task_names) <= self.task < len(task_names):  # no such index: the name is meant
                return replace(self, task=named)
            if named != self.task % len(task_names):
                log.warning("target: task %d is read as the index %d (the task named %r); the task named %r is "
                            "index %d", self.task, self.task, task_names[self.task], str(self.task), named)
        return self

    def select(self, output, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Reduce a model output to the target scalar per sequence, shape ``(N,)``.

        ``weights`` (``bpnet`` only): the softmax weights ``(N, L_out)`` to use
        instead of the output's own (see :meth:`profile_weights`).
        """
        if self.transform in _LOG_ODDS:
            return self._log_odds(self._picked(output))
        selected = self._selected(output)
        if selected.ndim > 1 and self.transform == "logit":  # verify22: the summed profile was called saturated
            raise InputError(f"{option('target', 'transform=logit')} explains one probability per sequence, but the "
                             f"target reduces a profile by {self.reduction} over positions, which is no probability; "
                             "drop transform= (the profile is explained as it is)")
        if selected.ndim == 1:
            if self.reduction != "sum":
                raise InputError(f"{option('target', f'reduce={self.reduction}')} reduces a profile over positions, "
                                 "but the output to explain is one value per sequence; drop reduce= (or, for an "
                                 f"output (N, positions) of one task, add axis={NO_TASK_AXIS})")
            value = selected
        elif self.reduction == "sum":
            value = selected.sum(dim=1)
        elif self.reduction == "mean":
            value = selected.mean(dim=1)
        else:
            centred = selected - selected.mean(dim=1, keepdim=True)
            if weights is None:
                weights = torch.softmax(centred, dim=1).detach()
            value = (centred * weights).sum(dim=1)
        return self._transformed(value)

    def _log_odds(self, output: torch.Tensor) -> torch.Tensor:
        """Class ``task``'s log-odds against the other classes of an ``(N, classes)`` softmax output, ``(N,)``.

        In float64, from the probabilities (``log_odds``) or log-probabilities (``log_odds_logp``); the other
        classes' mass is their sum (or logsumexp), so it keeps its precision where ``p_k`` is near 1.
        """
        if output.ndim != 2:
            raise InputError(f"{option('target', f'transform={self.transform}')} explains one class of an (N, "
                             f"classes) output, but the output is {shape_text(output.shape)}: pass "
                             f"{option('target', '...,transform=none')}")
        axis = self.task_axis(tuple(output.shape))
        if axis is None:
            raise InputError(f"{option('target', f'transform={self.transform}')} explains one class of a class "
                             f"axis, but the target says the output {shape_text(output.shape)} has none "
                             f"(axis={NO_TASK_AXIS})")
        task, size = 0 if self.task is None else self.task, output.shape[axis]
        if size < 2 or not -size <= task < size:
            raise InputError(f"{option('target', f'transform={self.transform}')} needs a class {task} and at "
                             f"least one other "
                             f"class on axis {axis} of the output {shape_text(output.shape)}")
        task %= size
        values = output.double()
        own = values.select(axis, task)
        others = torch.cat([values.narrow(axis, 0, task), values.narrow(axis, task + 1, size - task - 1)], axis)
        if self.transform == "log_odds_logp":
            total = torch.logsumexp(values, dim=axis)  # 0 for log-probabilities
            bad = ~torch.isfinite(own) | (total.abs() > 1e-3)
            value = own - torch.logsumexp(others, dim=axis)

            def seen(row: int) -> str:
                return (f"log p_k - logsumexp of the other classes' log p of a log-softmax's output, but the model's "
                        f"outputs give logsumexp {float(total[row]):g} over the classes, not 0: they are not "
                        "log-probabilities (probabilities: transform=log_odds")
        else:
            rest = others.sum(dim=axis)
            bad = (own <= 0) | (rest <= 0) | ~torch.isfinite(own) | ~torch.isfinite(rest) | (own + rest > 1.0 + 1e-3)
            value = torch.log(own) - torch.log(rest)

            def seen(row: int) -> str:
                given = (f"log(p_k / sum of the other classes' p) of a softmax's probabilities, but the model gave "
                         f"p_k {float(own[row]):g} with the others summing to {float(rest[row]):g}")
                if float(own[row]) + float(rest[row]) == 1.0:  # anymodel: [0, 1, 0] was said not to sum to 1
                    return (given + ": the softmax saturates (its float32 probabilities underflow to 0 beyond about "
                            "100 nats of log-odds), so they cannot give the log-odds; explain the model's logits (a "
                            "model that returns them: the softmax left out")
                return given + (": the output is not probabilities that sum to 1 (log-probabilities: "
                                "transform=log_odds_logp")
        if bool(bad.any()):
            raise InputError(f"{option('target', f'transform={self.transform}')} explains "
                             f"{seen(int(torch.nonzero(bad)[0, 0]))}; "
                             "else transform=none)")
        return value.to(output.dtype)

    def _transformed(self, value: torch.Tensor) -> torch.Tensor:
        """``value`` through :attr:`transform` (``logit``: refuses values outside ``(0, 1)``; see model_logit)."""
        if self.transform in (None, "none") or self.model_logit:
            return value
        outside = (value <= 0) | (value >= 1) | ~torch.isfinite(value)
        if bool(outside.any()):
            bad = float(value.detach()[outside][0])
            raise InputError(f"the logit log(p / (1 - p)) of the output is explained (transform=logit: given, or "
                             f"chosen because the model's output is a sigmoid's), which needs outputs in (0, 1), but "
                             f"the model "
                             f"gave {bad:g} (a sigmoid saturates to exactly 0 or 1 in float32 beyond |logit| ~17): "
                             f"pass {option('target', '...,transform=none')} to explain the output as it is")
        from .models.logit_output import warn_imprecise_logit; warn_imprecise_logit(value)  # noqa: E702 (a cycle)
        return torch.logit(value.double()).to(value.dtype)

    def profile_weights(self, output) -> torch.Tensor | None:
        """The ``bpnet`` reduction's softmax weights ``(N, L_out)`` of an output (detached); ``None`` otherwise.

        The ``bpnet`` target of a sequence ``x`` is linear in the profile logits
        with weights fixed at ``x``'s softmax: ``l_x(z) = sum(w_x * (z - mean z))``.
        Its gradient at ``x`` is the usual one; methods that evaluate the model
        elsewhere (references, path points) use ``w_x`` there too, so that their
        attributions sum exactly to ``l_x(x) - l_x(reference)`` (evaluating each
        reference with its own softmax, as tangermeme and shap do, leaves a gap).
        """
        if self.reduction != "bpnet":
            return None
        with torch.no_grad():
            selected = self._selected(output)
            if selected.ndim == 1:
                return None
            return torch.softmax(selected - selected.mean(dim=1, keepdim=True), dim=1)

    def output_shape(self, output) -> tuple[int, ...]:
        """The shape of the output tensor this target picks from a model's output (a tensor, tuple or dict)."""
        return tuple(self._picked(output).shape)

    def _picked(self, output) -> torch.Tensor:
        """The output tensor named by ``self.output``: of a tuple/list by index, of a dict by key."""
        if isinstance(output, dict):
            output = self._from_dict(output)
        elif isinstance(output, (tuple, list)):
            index = 0 if self.output is None else self.output
            if isinstance(index, str):
                raise InputError(
                    f"{option('target', f'output={index}')}: the model returns a tuple of "
                    f"{plural(len(output), 'output')}, not a "
                    f"dict; name one by its index (0..{len(output) - 1})"
                )
            if not -len(output) <= index < len(output):
                raise InputError(
                    f"{option('target', f'output={index}')} is out of range: the model returns "
                    f"{plural(len(output), 'output')} "
                    f"(0..{len(output) - 1})"
                )
            output = output[index]
        elif self.output not in (None, 0):
            raise InputError(f"{option('target', f'output={self.output}')}: the model returns a single tensor, "
                             f"use output=0")
        if not isinstance(output, torch.Tensor):
            raise InputError(
                f"the model's output{'' if self.output is None else ' ' + str(self.output)} is a "
                f"{type(output).__name__}, not a tensor; seqsal explains one tensor of the output: give the model a "
                "forward that returns tensors, a tuple or a dict of tensors"
            )
        return output

    def _from_dict(self, output: dict) -> torch.Tensor:
        keys = list(output)
        names = ", ".join(map(str, keys))
        if self.output is None:
            if len(keys) != 1:
                example = keys[0] if keys else "name"
                raise InputError(
                    f"the model returns a dict of {plural(len(keys), 'output')} ({names}); name the one to explain "
                    f"with {option('target', 'output=<key>')}, e.g. {option('target', f'output={example}')}"
                )
            return output[keys[0]]
        for key in (self.output, str(self.output)):
            if key in output:
                return output[key]
        raise InputError(f"{option('target', f'output={self.output}')} is not an output of the model; its "
                         f"outputs: {names}")

    def task_axis(self, shape: tuple[int, ...]) -> int | None:
        """The task axis of an output of ``shape`` (2 or more dims): ``axis``, or 1 when none is given; ``None``
        for ``axis="none"`` (a profile without tasks)."""
        if self.axis == NO_TASK_AXIS:
            return None
        if self.axis is None:
            return 1
        axis = self.axis + len(shape) if self.axis < 0 else self.axis
        if not 1 <= axis < len(shape):
            raise InputError(
                f"{option('target', f'axis={self.axis}')} is not a task axis of the output {shape_text(shape)} "
                f"(axis 0 is the "
                f"sequences); use an axis from 1 to {len(shape) - 1}, or -1"
            )
        return axis

    def _selected(self, output) -> torch.Tensor:
        """The targeted output of each sequence: ``(N,)``, or the rest of the output flattened to ``(N, L_out)``."""
        output = self._picked(output)
        output = output.reshape(1) if output.ndim == 0 else output  # fresh27b: a batch of one through .squeeze()
        if output.ndim == 1:
            if self.task not in (None, 0):
                raise InputError(f"{option('target')} task {self.task}: the model has one output per sequence (task 0)")
            if self.axis is not None:
                raise InputError(f"{option('target', f'axis={self.axis}')}: the model has one output per sequence "
                                 "(no task axis); drop axis")
            if self.positions is not None:
                raise InputError(f"{option('target', 'positions=...')}: the model has one output per sequence (no "
                                 "positions to pick); drop positions")
            return output
        axis = self.task_axis(tuple(output.shape))
        if axis is None:  # a profile without tasks: all of it, reduced over its positions
            if self.task not in (None, 0):
                raise InputError(f"{option('target')} task {self.task}: the output {shape_text(output.shape)} has no "
                                 f"task axis (axis={NO_TASK_AXIS}: every axis but the batch's is positions), so "
                                 "one task, 0")
            return self._positioned(output)
        task, size = 0 if self.task is None else self.task, output.shape[axis]
        if not -size <= task < size:
            where = f" on axis {axis} of its output {shape_text(output.shape)}" if output.ndim > 2 else ""
            raise InputError(
                f"{option('target')} task {task} is out of range: the model has {plural(size, 'task')}{where} "
                f"(0..{size - 1})"
            )
        selected = output.select(axis, task)
        if selected.ndim == 1 and self.positions is not None:
            raise InputError(f"{option('target', 'positions=...')}: the output {shape_text(output.shape)} has no "
                             "positions once the task is picked; drop positions")
        return selected if selected.ndim == 1 else self._positioned(selected)

    def _positioned(self, selected: torch.Tensor) -> torch.Tensor:
        """``(N, ...)`` positions of one task, as ``(N, L_out)``, cut to :attr:`positions` where given."""
        if self.positions is None:
            return selected.reshape(selected.shape[0], -1)
        if selected.ndim != 2:
            raise InputError(f"{option('target', 'positions=...')} picks positions on one axis, but the output has "
                             f"{selected.ndim - 1} position axes once the task is picked "
                             f"({shape_text(selected.shape)})")
        start, end = self.positions
        kept = selected[:, start:end]
        if kept.shape[1] == 0:
            raise InputError(f"{option('target', f'positions={start}:{end}')} holds none of the output's "
                             f"{selected.shape[1]} positions (0..{selected.shape[1] - 1})")
        return kept


def target_text(target: Target) -> str:
    """The ``--target`` text of ``target`` (the keys it sets, defaults left out): ``output=0,task=1,reduce=bpnet``."""
    parts = [f"output={target.output}"] if target.output is not None else []
    parts.append(f"task={0 if target.task is None else target.task}")
    if target.reduction != "sum":
        parts.append(f"reduce={target.reduction}")
    if target.axis is not None:
        parts.append(f"axis={target.axis}")
    if target.transform is not None:
        parts.append(f"transform={target.transform}")
    if target.positions is not None:
        parts.append(f"positions={target.positions[0]}:{target.positions[1]}")
    return ",".join(parts)


def _forward_target(model: nn.Module, x: torch.Tensor, target: Target,
                    weights: torch.Tensor | None = None) -> torch.Tensor:
    from .models.logit_output import exact_logit  # a sigmoid's logit from its input (models imports no attribution)
    model, target = exact_logit(model, target)
    return target.select(model(x), weights).float()


def input_gradient(model: nn.Module, x: torch.Tensor, target: Target,
                   weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of the target with respect to the input, and the target itself.

    Parameters
    ----------
    model
        Maps ``(N, 4, L)`` to an output that ``target`` reduces to ``(N,)``.
    x
        One-hot (or any) input ``(N, 4, L)``.
    weights
        ``bpnet`` targets: softmax weights ``(N, L_out)`` to hold fixed (:meth:`Target.profile_weights`).

    Returns
    -------
    gradient, prediction
        ``(N, 4, L)`` and ``(N,)``, both detached, in ``x``'s dtype.
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        prediction = _forward_target(model, x, target, weights)
        unused = not prediction.requires_grad  # anymodel: argmax -> nn.Embedding gave autograd's traceback
        try:
            (gradient,) = (None,) if unused else torch.autograd.grad(prediction.sum(), x)
        except RuntimeError as error:
            if "inplace operation" in str(error):
                raise InputError("autograd cannot differentiate the model: its forward changes in place a tensor the "
                                 "gradient needs (e.g. h.relu_(), h += 1, h.tanh_()); write those operations out of "
                                 "place (h = h.relu(), h = h + 1), or use --method ism or deepshap (API: method=...)"
                                 ) from None
            if "not have been used in the graph" not in str(error):
                raise
            unused = True
        if unused:
            raise InputError("the explained output does not depend on the one-hot input through operations autograd "
                             "can differentiate (an argmax, token indices into an embedding, a .detach() or "
                             "torch.no_grad() in forward): gradient methods have no gradient to give; use --method "
                             "ism (API: method='ism'), which runs the model on each mutation")
    return gradient.detach(), prediction.detach()


def saliency(model: nn.Module, x: torch.Tensor, target: Target) -> tuple[torch.Tensor, torch.Tensor]:
    """Saliency (Simonyan et al. 2014): the raw input gradient ``dy/dx``, itself the hypothetical contribution.

    Also the ``grad_x_input`` method (Shrikumar et al. 2016): its projected map ``x * dy/dx`` is
    ``hypothetical * x``, as for every method.

    Parameters
    ----------
    model, x, target
        Model, one-hot ``(N, 4, L)``, what to explain.

    Returns
    -------
    gradient, prediction
        ``(N, 4, L)`` and ``(N,)`` (see :func:`input_gradient`).
    """
    return input_gradient(model, x, target)


def correct_gradient(hypothetical: torch.Tensor) -> torch.Tensor:
    """Gradient correction (Majdandzic et al. 2023): subtract the mean of the 4 channels at each position.

    Parameters
    ----------
    hypothetical
        ``(..., 4, L)`` hypothetical contributions (channels on the second-to-last axis).

    Returns
    -------
    torch.Tensor
        The same shape, summing to 0 over the channels at each position.
    """
    return hypothetical - hypothetical.mean(dim=-2, keepdim=True)


@contextlib.contextmanager
def eval_mode(model: nn.Module):
    """Put ``model`` in eval mode for the block and restore its previous mode afterwards."""
    was_training = getattr(model, "training", False)
    try:
        model.eval()
    except (AttributeError, NotImplementedError):  # torch.export modules are fixed in their exported mode
        was_training = False
    try:
        yield model
    finally:
        if was_training:
            model.train()
