"""Attribution methods over one-hot batches ``(N, 4, L)``.

Every method in :data:`METHODS` has the signature
``method(model, x, target, **params) -> (hypothetical, prediction)``:

* ``hypothetical`` — ``(N, 4, L)`` float32: what each base would contribute
  at each position; the *projected* contribution is ``hypothetical * x``;
* ``prediction`` — ``(N,)`` the target scalar of the model on ``x``.

Gradients are taken with :func:`torch.autograd.grad` with respect to the
input only, so model parameters never accumulate ``.grad``.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .encode import reverse_complement_one_hot
from .errors import InputError

REDUCTIONS = ("sum", "mean", "bpnet")


@dataclass(frozen=True)
class Target:
    """Which scalar of a model's output to explain.

    Parameters
    ----------
    output
        Index into a tuple/list output (``None``: the output is one tensor, or
        take element 0 of a tuple).
    task
        Index (or name, resolved with the model's task names) along dimension
        1 of a ``(N, T)`` or ``(N, T, L_out)`` output. ``None``: task 0.
    reduction
        How a profile ``(N, T, L_out)`` becomes one scalar per sequence:
        ``sum``, ``mean`` or ``bpnet`` (the softmax-weighted profile of BPNet,
        ``sum(softmax(z).detach() * (z - mean(z)))``).

    The default explains the logit of task 0 — never a post-softmax/sigmoid
    probability, whose saturation hides features.
    """

    output: int | None = None
    task: int | str | None = None
    reduction: str = "sum"

    def __post_init__(self):
        if self.reduction not in REDUCTIONS:
            raise InputError(f"unknown reduction {self.reduction!r}; choose one of {', '.join(REDUCTIONS)}")

    @classmethod
    def parse(cls, text: str | None) -> "Target":
        """Parse a CLI target: ``"3"``, ``"enhancer"`` or ``"output=1,task=0,reduce=bpnet"``."""
        if text is None or text == "":
            return cls()
        fields: dict = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                key, value = "task", part
            key = key.strip()
            if key in ("reduce", "reduction"):
                fields["reduction"] = value.strip()
            elif key in ("output", "task"):
                value = value.strip()
                fields[key] = int(value) if value.lstrip("-").isdigit() else value
                if key == "output" and not isinstance(fields[key], int):
                    raise InputError(f"--target output must be an integer, got {value!r}")
            else:
                raise InputError(
                    f"--target: unknown key {key!r}; write e.g. '2', 'taskname' or 'output=1,task=0,reduce=bpnet'"
                )
        return cls(**fields)

    def resolve(self, task_names: list[str] | None) -> "Target":
        """Replace a task name by its index (raises :class:`InputError` if unknown)."""
        if isinstance(self.task, str):
            if not task_names or self.task not in task_names:
                known = ", ".join(task_names) if task_names else "none (the model file names no tasks)"
                raise InputError(f"--target task {self.task!r} is not a task of the model; its tasks: {known}")
            return Target(self.output, task_names.index(self.task), self.reduction)
        return self

    def select(self, output, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Reduce a model output to the target scalar per sequence, shape ``(N,)``.

        ``weights`` (``bpnet`` only): the softmax weights ``(N, L_out)`` to use
        instead of the output's own (see :meth:`profile_weights`).
        """
        selected = self._selected(output)
        if selected.ndim == 1:
            return selected
        if self.reduction == "sum":
            return selected.sum(dim=1)
        if self.reduction == "mean":
            return selected.mean(dim=1)
        centred = selected - selected.mean(dim=1, keepdim=True)
        if weights is None:
            weights = torch.softmax(centred, dim=1).detach()
        return (centred * weights).sum(dim=1)

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

    def _selected(self, output) -> torch.Tensor:
        """The targeted output of each sequence: ``(N,)``, or a profile flattened to ``(N, L_out)``."""
        if isinstance(output, (tuple, list)):
            index = 0 if self.output is None else self.output
            if not -len(output) <= index < len(output):
                raise InputError(
                    f"--target output={index} is out of range: the model returns {len(output)} outputs "
                    f"(0..{len(output) - 1})"
                )
            output = output[index]
        elif self.output not in (None, 0):
            raise InputError(f"--target output={self.output}: the model returns a single tensor, use output=0")
        if output.ndim == 1:
            if self.task not in (None, 0):
                raise InputError(f"--target task {self.task}: the model has one output per sequence (task 0)")
            return output
        task = 0 if self.task is None else self.task
        if not -output.shape[1] <= task < output.shape[1]:
            raise InputError(
                f"--target task {task} is out of range: the model has {output.shape[1]} tasks "
                f"(0..{output.shape[1] - 1})"
            )
        selected = output[:, task]
        return selected if selected.ndim == 1 else selected.reshape(selected.shape[0], -1)


def _forward_target(model: nn.Module, x: torch.Tensor, target: Target,
                    weights: torch.Tensor | None = None) -> torch.Tensor:
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
        (gradient,) = torch.autograd.grad(prediction.sum(), x)
    return gradient.detach(), prediction.detach()


def saliency(model: nn.Module, x: torch.Tensor, target: Target) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw input gradient ``dy/dx``; it is itself the hypothetical contribution."""
    return input_gradient(model, x, target)


# gradient x input has the same hypothetical contributions as saliency: its
# projected map x * dy/dx is hypothetical * x, which every method shares.
METHODS: dict[str, Callable] = {"saliency": saliency, "grad_x_input": saliency}
PROJECTED_BY_DEFAULT = {"saliency": False}
# methods whose hypothetical contributions must not be gradient-corrected (it would break their
# summation-to-delta, or they are not gradients); seqsal.methods adds its own
UNCORRECTED: set[str] = set()


def correct_gradient(hypothetical: torch.Tensor) -> torch.Tensor:
    """Gradient correction (Majdandzic et al. 2023): subtract the mean of the 4 channels at each position."""
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
        A key of :data:`METHODS`.
    target
        What to explain (default: the logit of task 0).
    correct
        Apply gradient correction (default on, as tangermeme does).
    rc
        Average with the attribution of the reverse complement, mapped back
        (for unstranded models); the prediction is averaged too.
    autocast_dtype
        ``torch.bfloat16`` / ``torch.float16`` to run the model under autocast.

    Returns
    -------
    hypothetical, prediction
        ``(N, 4, L)`` float32 and ``(N,)`` float32.
    """
    if method not in METHODS:
        raise InputError(f"unknown attribution method {method!r}; choose one of {', '.join(sorted(METHODS))}")
    target = target or Target()
    function = METHODS[method]
    autocast = (
        torch.autocast(device_type=x.device.type, dtype=autocast_dtype)
        if autocast_dtype is not None
        else contextlib.nullcontext()
    )
    if rc:
        batch = torch.cat([x, reverse_complement_one_hot(x)], dim=0)
    else:
        batch = x
    with autocast:
        hypothetical, prediction = function(model, batch, target, **params)
    hypothetical, prediction = hypothetical.float(), prediction.float()
    if rc:
        n = x.shape[0]
        hypothetical = 0.5 * (hypothetical[:n] + reverse_complement_one_hot(hypothetical[n:]))
        prediction = 0.5 * (prediction[:n] + prediction[n:])
    if correct and method not in UNCORRECTED:
        hypothetical = correct_gradient(hypothetical)
    return hypothetical, prediction


def attribute(
    model: nn.Module,
    x: torch.Tensor,
    method: str = "grad_x_input",
    target: Target | str | None = None,
    correct: bool = True,
    rc: bool = False,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    precision: str = "fp32",
    hypothetical: bool | None = None,
    **params,
) -> torch.Tensor:
    """Attributions of a batch of one-hot sequences, for notebooks.

    Parameters
    ----------
    model
        Any ``nn.Module`` taking ``(N, 4, L)``.
    x
        One-hot ``(N, 4, L)`` (torch tensor or numpy array).
    method
        ``saliency``, ``grad_x_input`` or another key of :data:`METHODS`.
    target
        :class:`Target` or its string form (see :meth:`Target.parse`).
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

    Returns
    -------
    torch.Tensor
        ``(N, 4, L)`` float32 on the CPU.
    """
    from .engine import autocast_dtype_for, select_device

    target = Target.parse(target) if isinstance(target, str) or target is None else target
    target = target.resolve(getattr(model, "task_names", None))
    x = torch.as_tensor(x, dtype=torch.float32)
    device = select_device(device)
    dtype = autocast_dtype_for(precision, device)
    if hypothetical is None:
        hypothetical = not PROJECTED_BY_DEFAULT.get(method, True)
    if isinstance(model, nn.Module) and not isinstance(model, torch.jit.ScriptModule) and not _on_device(model, device):
        model = model.to(device)
    outputs = []
    with eval_mode(model):
        for first in range(0, x.shape[0], batch_size):
            chunk = x[first:first + batch_size].to(device)
            hyp, _ = hypothetical_attributions(
                model, chunk, method, target, correct=correct, rc=rc, autocast_dtype=dtype, **params
            )
            outputs.append((hyp if hypothetical else hyp * chunk).cpu())
    if len(outputs) == 1:  # one batch: no copy
        return outputs[0]
    return torch.cat(outputs, dim=0) if outputs else torch.zeros_like(x)


def _on_device(model: nn.Module, device: torch.device) -> bool:
    """True when every parameter and buffer of ``model`` is on ``device`` already (``.to`` would be a no-op walk)."""
    index = device.index
    if index is None and device.type == "cuda":
        index = torch.cuda.current_device()
    tensors = [*model.parameters(), *model.buffers()]
    return bool(tensors) and all(
        t.device.type == device.type and (index is None or t.device.index == index) for t in tensors
    )


from . import methods as _methods  # noqa: E402,F401 - registers deepshap, ig, smoothgrad, ism, gradcam
