"""Determinism probes, run once on a loaded model before any attribution.

Attributions assume a model is a function of each window alone: the same window gives the same output, whatever
else is in its batch. A model exported or traced in training mode breaks both, silently: dropout draws a new mask
at every call, and batch norm normalises by the statistics of the batch, so a window's output depends on the other
windows of the batch (:mod:`seqsal.batches` cuts them) and, for an export with a static batch size, on the zero
windows that fill its last batch (:class:`seqsal.models.user.FixedBatch`; no other model sees padding). A
``torch.export`` archive or a traced TorchScript model keeps the mode it was made in: ``model.eval()`` cannot
switch it back. :func:`check_deterministic` runs a few random one-hot windows through the model and refuses it,
with the reason, when

* two runs on the same batch differ (dropout or another random layer is active), or
* a window alone, the same window among other windows, and the same window padded with zero windows give different
  outputs (batch statistics: batch norm in training mode).
"""
from __future__ import annotations

import torch
from torch import nn

from ..devices import precision_context
from ..errors import InputError, option

# largest difference accepted, relative to the largest output: far above the last-bit differences that kernels
# chosen by batch size (or TF32 convolutions on a GPU) make, far below what dropout or batch statistics do
TOLERANCE = 1e-3
_EVAL_ADVICE = ("export or trace the model in eval mode (call model.eval() before torch.export.export or "
                "torch.jit.trace)")
_FROZEN = {"random": "dropout or another random layer is active (a model exported or traced in training mode); "
                     + _EVAL_ADVICE,
           "batch": "batch norm in training mode (batch statistics); " + _EVAL_ADVICE,
           "one": "its output depends on the rest of its batch (batch norm in training mode?); " + _EVAL_ADVICE,
           "size": "its output depends on the size of its batch; " + _EVAL_ADVICE}
# a Python module (architecture file + state_dict, a built-in, an nn.Module given): seqsal has called .eval() on
# it, so what stays random or batch-dependent is its forward's own doing (byom: F.dropout(training=True))
_MIXES = "make each window's output depend on that window alone in eval mode"
_PYTHON = {"random": "its forward draws random numbers even in eval mode (F.dropout(training=True), torch.randn, "
                     "...), and seqsal runs it in eval mode; make it deterministic in eval mode "
                     "(F.dropout(x, p, training=self.training), noise only while self.training)",
           "batch": "its forward mixes the windows of its batch even in eval mode (batch statistics: "
                    "x.mean(0), F.batch_norm(training=True), ...); " + _MIXES,
           "one": "its output depends on the rest of its batch (statistics over the batch axis in forward?); "
                  + _MIXES,
           "size": "its output depends on the size of its batch; " + _MIXES}


def _reasons(model: nn.Module, source: str | None) -> dict[str, str]:
    """The reasons and advice of the refusals for ``model``: a frozen graph (TorchScript, ``torch.export``; or a
    Python module still in training mode) keeps the mode it was made in, so the advice is to make it in eval mode;
    a Python module in eval mode draws random numbers or mixes windows in its own forward."""
    graphs = (torch.jit.ScriptModule, torch.fx.GraphModule)  # in a wrapper too (ChannelsLast, FixedBatch)
    frozen = source in ("torchscript", "export") or not isinstance(model, nn.Module) or model.training \
        or any(isinstance(module, graphs) for module in model.modules())
    return _FROZEN if frozen else _PYTHON


def more_inputs_text(error: BaseException) -> str | None:
    """What to say when calling a model with the one-hot ``x`` alone failed because its ``forward`` takes more
    arguments (a ``TypeError`` such as "missing 1 required positional argument: 'track'"); else ``None``
    (review26: a two-input model was told its first layer takes 5 channels, or got Python's TypeError)."""
    text = str(error).strip()
    if not isinstance(error, TypeError) or not ("positional argument" in text or "required" in text):
        return None
    return (f"the model's forward takes more than the one-hot sequence ({text.splitlines()[0][:160]}); seqsal calls "
            "it with one tensor, (N, 4, L): wrap it in a module whose forward(x) supplies the other inputs")


def probe_windows(n: int, length: int, seed: int = 0, device: str | torch.device = "cpu") -> torch.Tensor:
    """``(n, 4, length)`` float32 one-hot windows of uniform random bases, the same for the same seed."""
    generator = torch.Generator().manual_seed(seed)
    index = torch.randint(0, 4, (n, length), generator=generator)
    return torch.nn.functional.one_hot(index, 4).permute(0, 2, 1).to(device=device, dtype=torch.float32)


def output_leaves(output) -> list[torch.Tensor]:
    """The tensors of a model output (a tensor, or tuples, lists and dicts of them), in order, as float32."""
    if isinstance(output, torch.Tensor):
        return [output.detach().float()]
    if isinstance(output, dict):
        return [leaf for value in output.values() for leaf in output_leaves(value)]
    if isinstance(output, (list, tuple)):
        return [leaf for value in output for leaf in output_leaves(value)]
    return []


def _row(leaf: torch.Tensor, row: int | None, rows: int) -> torch.Tensor:
    """Row ``row`` (``None``: all) of a batched output leaf, flat (a leaf without the batch axis, as ``squeeze()``
    makes of a batch of one, is taken whole)."""
    if row is not None and leaf.dim() and leaf.shape[0] == rows:
        return leaf[row].reshape(-1)
    return leaf.reshape(-1)


def _difference(first: list[torch.Tensor], second: list[torch.Tensor], rows: tuple[int, int], row: int | None = 0
                ) -> float | None:
    """Largest difference between row ``row`` (``None``: all rows) of two outputs (of batches of ``rows``),
    relative to the first's largest value; ``None`` when the outputs do not line up (nothing to compare)."""
    if len(first) != len(second):
        return None
    worst = 0.0
    for a, b in zip(first, second):
        a, b = _row(a, row, rows[0]), _row(b, row, rows[1])
        if a.shape != b.shape:
            return None
        scale = float(torch.nan_to_num(a, posinf=0.0, neginf=0.0).abs().max()) if a.numel() else 0.0
        same = (a == b) | (torch.isnan(a) & torch.isnan(b))  # NaN where both give NaN is the same output (a model
        a, b = torch.where(same, 0.0, a), torch.where(same, 0.0, b)  # of NaN is refused later, per region)
        difference = float((a - b).abs().max()) if a.numel() else 0.0
        if difference != difference:  # NaN on one side only
            return float("inf")
        worst = max(worst, difference / max(scale, 1e-6))
    return worst


def _first_value(leaves: list[torch.Tensor], rows: int) -> str:
    return f"{float(_row(leaves[0], 0, rows)[0]):.4g}" if leaves and leaves[0].numel() else "?"


PROBE_BATCH = 16
"""Most windows of the probe batch that stands for a run's batches in :func:`check_deterministic`."""
PROBE_BASES = 2_000_000
"""Most bases of that batch: fewer windows of a long one (long23: 16 windows of a 2-Mb region took 5 GB before the
run, whatever ``--max-memory`` said; a batch of 3 or fewer is not run)."""


def check_deterministic(model: nn.Module, length: int, device: str | torch.device = "cpu", seed: int = 0,
                        tolerance: float = TOLERANCE, path: str | None = None, batch_size: int = 3,
                        source: str | None = None) -> None:
    """Refuse a model whose output is random, depends on the other windows of its batch, or that writes into its
    input.

    Runs, without gradients: a batch of 3 random one-hot windows twice; its first window alone (a batch of one);
    that window followed by 2 zero windows (the padding of a short batch); and, for ``batch_size`` above 3, the 3
    windows among others in a batch of ``min(batch_size, PROBE_BATCH, PROBE_BASES // length)`` (a layer that takes
    batch statistics only in large batches; skipped where that batch does not fit in memory or holds 3 or fewer).

    Parameters
    ----------
    model
        The model as the engine runs it (in eval mode where it has one), taking one-hot ``(N, 4, L)``.
    length
        Window length ``L`` in bases.
    device
        Where the model runs.
    seed
        Seed of the probe windows.
    tolerance
        Largest difference accepted, relative to the largest output value.
    path
        The model file, named in the message.
    batch_size
        The batch size the model will be run at.
    source
        Where the model comes from (:attr:`seqsal.models.LoadedModel.source`; ``None``: told from its type): the
        advice of a TorchScript or ``torch.export`` model is to make it in eval mode, that of a Python module (which
        seqsal has put in eval mode) to make its forward deterministic.

    Raises
    ------
    InputError
        When two runs on the same input differ (dropout or another random layer active), when a window's output
        changes with the rest of its batch (batch norm in training mode; the message gives the values seen and says
        to export the model in eval mode, or, for a Python module, to make its forward deterministic), or when the
        model changes its input tensor in place.
    """
    reasons = _reasons(model, source)
    x = probe_windows(3, length, seed, device)
    padded = torch.cat([x[:1], torch.zeros_like(x[1:])])
    kept = x.clone()
    # batches of 1, 3 and 16 compared at 1e-3: in float32, not TF32, whose rounding differs with the batch (review32)
    with torch.no_grad(), precision_context(torch.device(device), None):
        first = output_leaves(model(x))
        if not torch.equal(x, kept):  # anymodel: x.mul_(2) in forward was taken for dropout
            raise InputError("the model writes into its input tensor (an in-place operation on x in forward, such "
                             "as x.mul_() or x[...] = ...): seqsal reuses each input (for the gradient, the reverse "
                             "strand, a reference), so the model must leave it as it is; make forward work on a copy "
                             "(x = x * 2, x = x.clone())", path)
        second = output_leaves(model(x))
        repeat = _difference(first, second, (3, 3), row=None)
        if repeat is not None and repeat > tolerance:
            raise InputError(
                f"the model gives different outputs for the same input ({_first_value(first, 3)}, then "
                f"{_first_value(second, 3)}): {reasons['random']}", path)
        try:
            alone = output_leaves(model(x[:1]))
        except Exception as error:  # noqa: BLE001 - a batch of one failing where a batch of 3 runs is the finding
            detail = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
            raise InputError(
                f"the model fails on a batch of one window ({detail}) but runs on a batch of 3: {reasons['one']}",
                path) from None
        with_zeros = output_leaves(model(padded))
        large = min(batch_size, PROBE_BATCH, PROBE_BASES // max(length, 1))
        among = _large_batch(model, torch.cat([x, probe_windows(large - 3, length, seed + 1, device)]), path,
                             reasons) \
            if large > 3 else None
    differences = [_difference(first, alone, (3, 1)), _difference(first, with_zeros, (3, 3))]
    if among is not None:  # the 3 windows among 13 others: rows 0-2 of both
        differences += [_difference(first, among, (3, large), row=row) for row in range(3)]
    if any(difference is not None and difference > tolerance for difference in differences):
        raise InputError(
            f"the model's output for a window depends on the other windows of its batch (alone: "
            f"{_first_value(alone, 1)}; among 2 other windows: {_first_value(first, 3)}; padded with 2 zero windows: "
            f"{_first_value(with_zeros, 3)}"
            + (f"; among {large - 1} other windows: {_first_value(among, large)}" if among is not None else "")
            + f"): {reasons['batch']}", path)


def _large_batch(model: nn.Module, x: torch.Tensor, path: str | None, reasons: dict[str, str]
                 ) -> list[torch.Tensor] | None:
    """The model's output leaves on the probe batch ``x``; ``None`` where it does not fit in memory."""
    try:
        return output_leaves(model(x))
    except torch.cuda.OutOfMemoryError:
        return None
    except RuntimeError as error:
        if "out of memory" in str(error).lower():
            return None
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise InputError(f"the model fails on a batch of {x.shape[0]} windows ({detail}) but runs on a batch of 3: "
                         f"{reasons['size']}", path) from None


def output_task_names(task_names: list[str] | dict | None, output: int | str | None) -> list[str] | None:
    """The task names of the output a target picks.

    ``task_names`` is a list (the tasks of whichever output is explained, as a model of one output has them) or a
    dict of lists keyed by output, as a dict key (``{"human": [...], "mouse": [...]}``, Enformer's heads) or an
    index of a tuple output (fresh28: one list labelled the mouse head with the human tracks' names). ``output``
    ``None`` picks output 0, or a dict's only entry. ``None`` where the output has no names.
    """
    if not isinstance(task_names, dict):
        return list(task_names) if task_names else None
    keys = (0, "0") if output is None else (output, str(output))
    for key in keys:
        if key in task_names:
            return list(task_names[key]) or None
    return next(iter(task_names.values())) if output is None and len(task_names) == 1 else None


def check_task_names(shape: tuple[int, ...], axis: int | None, task_names: list[str] | None) -> None:
    """Refuse a model whose task names do not fit the task axis of the output explained (fresh16: with
    ``--target task=gata,axis=1`` a profile ``(N, 125, 3)`` was explained at bin 1 of every task, under the name of
    task 1; 3 names on 5 outputs labelled whatever index was asked).

    Parameters
    ----------
    shape
        The shape of the output explained (the one the target picks).
    axis
        Its task axis (None: a ``(N,)`` output, one task).
    task_names
        The model's task names (None or empty: nothing to check).

    Raises
    ------
    InputError
        When the task axis has another number of entries than ``task_names``.
    """
    if not task_names:
        return
    size = 1 if axis is None else shape[axis]
    if size == len(task_names):
        return
    text = "(" + ", ".join(["N", *(str(n) for n in shape[1:])]) + (",)" if len(shape) == 1 else ")")
    where = (f"its output {text} has one value per sequence" if axis is None else
             f"axis {axis} of its output {text} has {size}" if len(shape) > 2 else f"its output {text} has {size}")
    names = ", ".join(task_names[:6]) + (", ..." if len(task_names) > 6 else "")
    raise InputError(f"the model names {len(task_names)} tasks ({names}) but {where}: the names would label other "
                     "values than its tasks; " + (f"give its task axis, {option('target', '...,axis=N')}, or "
                                                  if len(shape) > 2 else "") +
                     "save the model with task names that match its outputs (a model of several outputs names "
                     "each one's tasks: task_names = {output: [names]})")


def check_float32(module: nn.Module, path: str | None = None) -> None:
    """Refuse a module whose floating parameters are not all float32 (float64, half): seqsal feeds float32 input
    (bf16/fp16 by autocast on a GPU), which such a model fails on or would run in another precision. ``path``:
    the model file, named in the message.

    Raises
    ------
    InputError
        Naming the parameters' types and ``model.float()``.
    """
    floating = {p.dtype for p in module.parameters() if p.is_floating_point()} if isinstance(module, nn.Module) \
        else set()
    if floating - {torch.float32}:
        names = ", ".join(sorted(str(dtype).split(".")[-1] for dtype in floating))
        raise InputError(f"the model's parameters are {names}; seqsal runs models in float32 (bf16/fp16 by "
                         "autocast on a GPU: precision=): call model.float() first (before saving it)", path)
