"""In-silico saturation mutagenesis (ISM), with a receptive-field fast path for the built-in models.

``delta[b, p] = f(x with base b at p) - f(x)`` for every single substitution (as tangermeme's
``saturation_mutagenesis``). :func:`ism` centres the deltas over the four bases at each position, so the
projected value at ``p`` is minus the mean effect of the substitutions there; :func:`ism_deltas` gives them
uncentred.

The fast path (Nair et al. 2022, "fastISM") cuts a convolutional trunk into local stages (:func:`ism_plan`) and
recomputes, at each stage, only the window a substitution can reach, starting from the reference's activations;
it gives the naive path's values (tested to 1e-5) at a fraction of the cost. Any other model whose graph can be
traced gets the same from :mod:`.receptive` (checked against the naive path before it is used); the rest get the
naive path. ``focus`` limits the substitutions to a stretch of each sequence (the engine passes the region's
bases in each model window).
"""
from __future__ import annotations

import logging
import weakref
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..attribution import Target
from ..errors import InputError
from ..models.architectures import BassetCNN, BPNet
from .inputs import method_entry
from ..models.fingerprint import model_fingerprint
from .receptive import TracePlan, trace_ism_row, trace_plan

log = logging.getLogger("seqsal")


def _mutants_of(x: torch.Tensor, start: int = 0, end: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Positions and bases of every single substitution of one sequence ``(4, L)`` in ``[start, end)`` (skipping
    the base present)."""
    present = (x.detach().cpu().numpy() == 1)
    end = present.shape[-1] if end is None else end
    bases, positions = np.nonzero(~present[:, start:end])
    return positions + start, bases


def focus_spans(x: torch.Tensor, focus=None, span: int = 0) -> np.ndarray:
    """The stretch of each sequence whose bases ISM mutates: ``focus`` widened by ``span`` on each side.

    Parameters
    ----------
    x
        One-hot ``(N, 4, L)``.
    focus
        ``None`` (the whole sequence), ``(start, end)`` for every sequence, or ``(N, 2)``: 0-based half-open
        coordinates in the sequence (e.g. a region inside its model window).
    span
        Bases added on each side of ``focus`` (clipped to the sequence).

    Returns
    -------
    numpy.ndarray
        ``(N, 2)`` int64 ``[start, end)`` within ``[0, L]``.

    Raises
    ------
    InputError
        For a ``focus`` of the wrong shape, or a negative ``span``.
    """
    n, length = x.shape[0], x.shape[-1]
    if span < 0:
        raise InputError(f"the ISM span must be at least 0 bases, got {span}")
    if focus is None:
        return np.tile(np.array([0, length], dtype=np.int64), (n, 1))
    spans = np.asarray(focus.cpu() if isinstance(focus, torch.Tensor) else focus, dtype=np.int64)
    if spans.shape == (2,):
        spans = np.tile(spans, (n, 1))
    if spans.shape != (n, 2):
        raise InputError(f"the ISM focus must be (start, end) or one (start, end) per sequence ({n}, 2), got "
                         f"shape {spans.shape}")
    return np.clip(spans + np.array([-span, span]), 0, length)


@method_entry
def ism_deltas(model: nn.Module, x: torch.Tensor, target: Target | None = None, fast: bool | str = "auto",
               mutant_batch: int = 512, focus=None, span: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Change of the target for every single-base substitution (in-silico saturation mutagenesis: Alipanahi et al.
    2015, Zhou & Troyanskaya 2015).

    Parameters
    ----------
    model, x, target
        Model (an ``nn.Module``, or what :func:`seqsal.load_model` returns: its module, task names and input
        length), one-hot ``(N, 4, L)`` (tensor; a numpy array is taken as float32), what to explain (a
        :class:`~seqsal.attribution.Target`, its string or a task index or name, as for :func:`seqsal.attribute`;
        default: task 0 of the output as it is;
        these functions apply no transform, where :func:`seqsal.attribute` explains a sigmoid or softmax
        output as its logit or log-odds).
    fast
        ``True``: recompute only the receptive field of each substitution (the built-in Basset and BPNet
        architectures, or any model whose traced graph has a local trunk, see :mod:`.receptive`; raises
        otherwise); ``False``: run the whole model on every mutant; ``"auto"``: fast when the model supports it
        (a traced model only once the fast path has matched the naive one, see :func:`checked_trace_plan`).
    mutant_batch
        Mutants per pass.
    focus, span
        Mutate only the bases in ``focus`` widened by ``span`` (see :func:`focus_spans`; default: every base).
        The engine passes each window's region, so a 101-bp region in a 10-kb window costs 303 mutants.

    Returns
    -------
    deltas, prediction
        ``(N, 4, L)`` ``f(x with base b at p) - f(x)`` with 0 at the base present and outside the focus, and
        ``f(x)`` ``(N,)``.

    Raises
    ------
    InputError
        For ``x`` not one-hot ``(N, 4, L)`` or a bad ``target`` (:func:`~seqsal.methods.inputs.method_inputs`); for
        ``fast=True`` on a model with no fast path, or a bad ``focus``/``span``.
    """
    spans = focus_spans(x, focus, span)
    plan = ism_plan(model) if fast else None
    deltas = torch.zeros_like(x)
    predictions = []
    checked: set[int] = set()  # the lengths whose cached plan this call has checked against naive ISM
    with torch.no_grad():
        for i in range(x.shape[0]):
            row = x[i]
            positions, bases = _mutants_of(row, int(spans[i, 0]), int(spans[i, 1]))
            traced = None if plan is not None or not fast else checked_trace_plan(model, row, target, fast is True,
                                                                                  checked)
            if fast is True and plan is None and traced is None:
                raise InputError(f"no fast ISM path for {type(model).__name__}: its graph cannot be traced, or has "
                                 "no local trunk; use fast='auto' or False")
            if plan is not None:
                values, reference = _fast_ism_row(plan, row, positions, bases, target, mutant_batch)
            elif traced is not None:
                values, reference = trace_ism_row(traced, row, positions, bases, target.select,
                                                  min(mutant_batch, traced_batch(traced, row)))
            else:
                values, reference = _naive_ism_row(model, row, positions, bases, target, mutant_batch)
            deltas[i, torch.as_tensor(bases, device=x.device), torch.as_tensor(positions, device=x.device)] = \
                (values - reference).to(deltas.dtype)
            predictions.append(reference)
    prediction = torch.stack(predictions) if predictions else x.new_zeros(0)
    return deltas, prediction


# model -> (its model_fingerprint when traced, the plan or None)
_TRACED: "weakref.WeakKeyDictionary[nn.Module, tuple[tuple, TracePlan | None]]" = weakref.WeakKeyDictionary()


def checked_trace_plan(model: nn.Module, row: torch.Tensor, target: Target, required: bool = False,
                       checked: set[int] | None = None) -> TracePlan | None:
    """The model's :class:`~.receptive.TracePlan`, trusted only once it matches naive ISM at this length.

    The plan is traced once per model and state (kept while the model lives): any change of the model since,
    in place or not (an optimizer step, ``load_state_dict``, a replaced layer or parameter, a hook, ``train()``;
    see :func:`~seqsal.models.fingerprint.model_fingerprint`), traces and checks it anew. For each input length, up
    to eight substitutions of ``row`` (both ends, the middle and between) go through the fast and the naive path; the
    plan is used only when they agree to float32 rounding (``1e-5 |f(x)| + 1e-4 max |delta|``), otherwise that
    length gets naive ISM (with a warning).

    Parameters
    ----------
    model, row, target
        The model, one sequence ``(4, L)``, what ISM explains.
    required
        Raise instead of warning when the check fails (``fast=True``).
    checked
        The lengths checked so far by the calling :func:`ism_deltas` call: a plan that passed before is checked
        again on the first row of each call (eight substitutions next to the call's thousands), since the
        fingerprint cannot see every change a trace bakes in (a class attribute, a config object's field or a
        module-level global read in ``forward``: review27); if it now disagrees, the model is traced again.

    Returns
    -------
    TracePlan or None
        ``None`` when the model has no traceable local trunk or the check failed.

    Raises
    ------
    InputError
        With ``required``, when the fast path disagrees with the naive one.
    """
    if not isinstance(model, nn.Module):
        return None
    fingerprint = model_fingerprint(model)
    cached = _TRACED.get(model)
    if cached is None or cached[0] != fingerprint:
        cached = _TRACED[model] = (fingerprint, trace_plan(model, row[None]))
    plan = cached[1]
    if plan is None:
        return None
    length = row.shape[-1]
    if plan.verified.get(length) and checked is not None and length not in checked:
        checked.add(length)
        if not _agrees_with_naive(model, plan, row, target):  # changed where the fingerprint does not look
            _TRACED[model] = (fingerprint, trace_plan(model, row[None]))
            plan = _TRACED[model][1]
            if plan is None:
                return None
    if length not in plan.verified:
        if checked is not None:
            checked.add(length)
        plan.verified[length] = _agrees_with_naive(model, plan, row, target)
        if not plan.verified[length]:
            message = (f"ism: the receptive-field fast path of {type(model).__name__} disagrees with naive ISM (or "
                       f"fails) at length {length}")
            if required:
                raise InputError(f"{message}; use fast='auto' or False")
            log.warning("%s; using naive ISM", message)
    return plan if plan.verified[length] else None


def _agrees_with_naive(model: nn.Module, plan: TracePlan, row: torch.Tensor, target: Target) -> bool:
    """Whether the traced fast path gives naive ISM's values at up to eight substitutions of ``row``."""
    length = row.shape[-1]
    with torch.no_grad():
        positions = np.unique(np.clip([0, 1, length // 4, length // 2, length // 2 + 1, 3 * length // 4,
                                       length - 2, length - 1], 0, length - 1))
        present = row[:, positions].argmax(dim=0).cpu().numpy()
        bases = (present + 1 + np.arange(len(positions)) % 3) % 4
        naive, reference = _naive_ism_row(model, row, positions, bases, target, len(positions))
        try:
            fast, _ = trace_ism_row(plan, row, positions, bases, target.select, len(positions))
        except Exception:  # noqa: BLE001 - e.g. a converted TorchScript graph returning a tuple for a dict: naive
            return False
    # float32 rounding of f(x) and of the deltas; a missed reach errs by the size of the deltas
    tolerance = 1e-5 * float(reference.abs()) + 1e-4 * float((naive - reference).abs().max()) + 1e-7
    return bool(((fast - naive).abs() <= tolerance).all())


def traced_batch(plan: TracePlan, row: torch.Tensor) -> int:
    """Mutants per pass of a traced plan that keep its largest window of activations near 8 MB (16 to 512).

    A substitution's window at each trunk node grows with the node's reach (``ceil((w + reach - 1) / stride)``
    from width 1 at the input); the rebuilt activations the head reads are whole. As for the built-in BPNet
    path, large batches of wide windows run out of cache.
    """
    source = next(node for node in plan.graph.nodes if node.op == "placeholder")
    widths, sizes = {source: 1}, [row.shape[0]]
    for node, local in plan.locals.items():
        if node is source:
            continue
        width = max(widths[a] for a in local.inputs)
        widths[node] = min(-(-(width + local.reach - 1) // local.stride), plan.shapes[node][-1])
        sizes.append(widths[node] * plan.shapes[node][1])
    sizes += [int(np.prod(plan.shapes[node][1:])) for node in plan.boundary]
    return int(max(16, min(512, 2 ** 21 // max(sizes))))


def _mutant_batch(row: torch.Tensor, positions: np.ndarray, bases: np.ndarray) -> torch.Tensor:
    batch = row[None].repeat(len(positions), 1, 1)
    index = torch.arange(len(positions), device=row.device)
    p = torch.as_tensor(positions, device=row.device)
    batch[index, :, p] = 0
    batch[index, torch.as_tensor(bases, device=row.device), p] = 1
    return batch


def _naive_ism_row(model, row, positions, bases, target, mutant_batch):
    reference = target.select(model(row[None])).float()[0]
    values = [target.select(model(_mutant_batch(row, positions[i:i + mutant_batch], bases[i:i + mutant_batch]))).float()
              for i in range(0, len(positions), mutant_batch)]
    return (torch.cat(values) if values else row.new_zeros(0)), reference


@method_entry
def ism(model: nn.Module, x: torch.Tensor, target: Target | None = None, fast: bool | str = "auto",
        mutant_batch: int = 512, focus=None, span: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """ISM as an attribution method: :func:`ism_deltas` centred over the four bases at each position.

    Parameters
    ----------
    model, x, target, fast, mutant_batch, focus, span
        As for :func:`ism_deltas`.

    Returns
    -------
    hypothetical, prediction
        ``(N, 4, L)`` centred deltas (the projected value at ``p`` is minus the mean effect of the substitutions
        there; 0 outside the focus), and ``(N,)``.

    Raises
    ------
    InputError
        For ``x`` not one-hot ``(N, 4, L)`` or a bad ``target`` (:func:`~seqsal.methods.inputs.method_inputs`); for
        ``fast=True`` on a model with no fast path.
    """
    deltas, prediction = ism_deltas(model, x, target, fast, mutant_batch, focus, span)
    return deltas - deltas.mean(dim=-2, keepdim=True), prediction


class _Stage:
    """One local stage of a convolutional trunk: a ``same``-padded convolution first, then elementwise ops and
    at most a non-overlapping pooling. ``radius`` is the convolution's reach, ``stride`` the pooling factor."""

    def __init__(self, function: Callable, conv: nn.Conv1d, stride: int = 1, valid: Callable | None = None):
        kernel, dilation = conv.kernel_size[0], conv.dilation[0]
        self.radius = dilation * (kernel - 1) // 2
        if conv.stride[0] != 1 or dilation * (kernel - 1) % 2 or conv.padding != (self.radius,) or \
                conv.padding_mode != "zeros":
            raise ValueError("not a same-padded stride-1 convolution")
        # valid (stride 1 only): the stage on a window (M, C, W) without padding -> (M, C', W - 2 * radius),
        # i.e. only the outputs whose whole receptive field is in the window
        self.function, self.stride, self.valid = function, stride, valid
        self.channels = conv.out_channels


def _valid_conv(conv: nn.Conv1d, h: torch.Tensor) -> torch.Tensor:
    """``conv`` without its padding: ``(M, C, W) -> (M, C', W - dilation * (kernel - 1))``."""
    return F.conv1d(h, conv.weight, conv.bias, stride=1, padding=0, dilation=conv.dilation)


class ISMPlan:
    """A model cut into local stages and a head, for the fast ISM path."""

    def __init__(self, stages: list[_Stage], head: Callable, local_head: Callable | None = None):
        # local_head(final, patch, start, target) -> (M,) target values, or None when it cannot give this
        # target: the head from the reference's final activations (C, L) and each mutant's changed
        # columns patch (M, C, width) starting at start (M,), without rebuilding whole activations
        self.stages, self.head, self.local_head = stages, head, local_head

    @property
    def batch_cap(self) -> int | None:
        """Mutants per pass that keep a stage's window of activations near 8 MB (``None``: no cap).

        Without pooling the changed span grows to the whole receptive field (about 1,000 bp in BPNet), and
        large batches of such windows run out of cache: on BPNet (64 filters, 2,114 bp) 32 mutants per pass
        took 0.06 forward-pass equivalents per edit, 512 took 0.12.
        """
        if any(stage.stride != 1 for stage in self.stages):
            return None
        span = 1 + 2 * sum(stage.radius for stage in self.stages)
        channels = max(stage.channels for stage in self.stages)
        return int(min(512, max(16, 2 ** 21 // (span * channels))))


def _pool_stride(module) -> int | None:
    if isinstance(module, nn.MaxPool1d) or isinstance(module, nn.AvgPool1d):
        k = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
        s = module.stride if isinstance(module.stride, int) else module.stride[0]
        pad = module.padding if isinstance(module.padding, int) else module.padding[0]
        if k == s and pad == 0 and not module.ceil_mode and getattr(module, "dilation", 1) in (1, (1,)):
            return k
    return None


def ism_plan(model: nn.Module) -> ISMPlan | None:
    """The fast-ISM decomposition of a built-in model, or ``None``.

    Parameters
    ----------
    model
        Any model; only an exact ``BassetCNN`` (conv, norm, ReLU, non-overlapping pooling blocks) or ``BPNet``
        (same-padded dilated residual convolutions) is cut into stages.

    Returns
    -------
    ISMPlan or None
        The stages and head, or ``None`` when the model (or one of its layers) does not fit the scheme.
    """
    try:
        if type(model) is BassetCNN:
            layers = list(model.features)
            stages = []
            for i in range(0, len(layers), 4):
                conv, norm, act, pool = layers[i:i + 4]
                stride = _pool_stride(pool)
                if not isinstance(conv, nn.Conv1d) or stride is None or not isinstance(act, nn.ReLU):
                    return None
                stages.append(_Stage(nn.Sequential(conv, norm, act, pool), conv, stride))
            return ISMPlan(stages, model.head)
        if type(model) is BPNet:
            stages = [_Stage(lambda h: torch.relu(model.first(h)), model.first,
                             valid=lambda h: torch.relu(_valid_conv(model.first, h)))]
            for conv in model.dilated:
                r = conv.dilation[0] * (conv.kernel_size[0] - 1) // 2
                stages.append(_Stage(lambda h, conv=conv: h + torch.relu(conv(h)), conv,
                                     valid=lambda h, conv=conv, r=r: _valid_conv(conv, h).relu_().add_(
                                         h[:, :, r:h.shape[-1] - r])))

            def head(h):
                end = h.shape[-1] - model.trimming
                profile = model.profile_head(h)[:, :, model.trimming:end]
                counts = model.counts_head(h[:, :, model.trimming:end].mean(dim=-1))
                return profile, counts

            def local_head(final, patch, start, target):
                """Counts only: the trimmed mean moves by the patch's change inside the trimmed span."""
                if target.output != 1:
                    return None
                length = final.shape[-1]
                lo, hi = model.trimming, length - model.trimming
                cols = start[:, None] + torch.arange(patch.shape[-1], device=patch.device)[None]  # (M, width)
                inside = ((cols >= lo) & (cols < hi)).to(patch.dtype)
                change = ((patch - final[:, cols.clamp(0, length - 1)].permute(1, 0, 2)) * inside[:, None]).sum(-1)
                mean = final[:, lo:hi].mean(dim=-1)[None] + change / (hi - lo)
                return target.select((None, model.counts_head(mean)))

            return ISMPlan(stages, head, local_head)
    except ValueError:
        return None
    return None


def _windows(previous: torch.Tensor, window_start: torch.Tensor, width: int) -> torch.Tensor:
    """Windows ``[window_start, window_start + width)`` of ``previous`` ``(C, L)``, zero outside ``[0, L)``.

    Returns ``(M, C, width)`` (a copy), one window per entry of ``window_start`` ``(M,)``.
    """
    length = previous.shape[-1]
    if width == 0:
        return previous.new_zeros((window_start.shape[0], previous.shape[0], 0))
    before = max(0, -int(window_start.min()))
    after = max(0, int(window_start.max()) + width - length)
    padded = F.pad(previous, (before, after))
    return padded.unfold(-1, width, 1).permute(1, 0, 2)[window_start + before]


def _fast_ism_row(plan: ISMPlan, row, positions, bases, target, mutant_batch):
    """Receptive-field ISM: each stage recomputes only the window its input changed in."""
    mutant_batch = min(mutant_batch, plan.batch_cap or mutant_batch)
    activations = [row[None]]
    for stage in plan.stages:
        activations.append(stage.function(activations[-1]))
    reference = target.select(plan.head(activations[-1])).float()[0]
    values = []
    for first in range(0, len(positions), mutant_batch):
        p = torch.as_tensor(positions[first:first + mutant_batch], device=row.device)
        b = torch.as_tensor(bases[first:first + mutant_batch], device=row.device)
        m = p.shape[0]
        # patch: (M, C, width) values of the current stage output on [start, start + width)
        patch = torch.zeros(m, 4, 1, dtype=row.dtype, device=row.device)
        patch[torch.arange(m, device=row.device), b, 0] = 1
        start, width = p, 1
        for k, stage in enumerate(plan.stages):
            previous = activations[k][0]  # (C, L_prev)
            length_prev = previous.shape[-1]
            s, c = stage.stride, -(-stage.radius // stage.stride)
            lo = torch.div(start - stage.radius, s, rounding_mode="floor")  # first output the change reaches
            hi = torch.div(start + width - 1 + stage.radius, s, rounding_mode="floor")
            count = int((hi - lo).max()) + 1
            window_start = (lo - c) * s
            window_width = s * (count + 2 * c)
            if s == 1 and window_width >= length_prev + 2 * c:  # covers everything: one shared window
                window_start = torch.full_like(window_start, -c)
                window_width = length_prev + 2 * c
                lo, count = torch.zeros_like(lo), length_prev
            # the window: reference values around the changed segment, the segment's new values inside
            rel = start - window_start  # (M,)
            columns = start[:, None] + torch.arange(width, device=row.device)[None]  # (M, width)
            off = bool(start.min() < 0) or bool((start + width).max() > length_prev)
            first_rel = int(rel[0])
            if bool((rel == first_rel).all()) and first_rel >= 0 and first_rel + width <= window_width:
                # same offset in every window: margins from the reference, joined to the segment
                right = window_width - first_rel - width
                if off:  # columns off the sequence are zero padding
                    patch = patch * ((columns >= 0) & (columns < length_prev))[:, None].to(patch.dtype)
                gathered = torch.cat([_windows(previous, window_start, first_rel), patch,
                                      _windows(previous, start + width, right)], dim=-1)
            else:
                gathered = _windows(previous, window_start, window_width)  # (M, C, W), zeros off the sequence
                real = (columns >= 0) & (columns < length_prev)
                seg = rel[:, None] + torch.arange(width, device=row.device)[None]
                seg_inside = (seg >= 0) & (seg < window_width) & real
                rows = torch.arange(m, device=row.device)[:, None].expand_as(seg)
                gathered.permute(0, 2, 1)[rows[seg_inside], seg[seg_inside]] = patch.permute(0, 2, 1)[seg_inside]
            if stage.valid is not None and s == 1:
                # the kept outputs [lo, lo + count) are exactly those whose reach lies in the window
                patch = stage.valid(gathered.contiguous())
            else:
                out = stage.function(gathered.contiguous())
                # output index k of the window corresponds to (window_start / s) + k; keep [lo, lo + count)
                keep = (lo - window_start // s)[:, None] + torch.arange(count, device=row.device)[None]
                keep = keep.clamp(0, out.shape[-1] - 1)
                patch = torch.gather(out, 2, keep[:, None, :].expand(m, out.shape[1], count))
            start, width = lo, count
        final = activations[-1][0]
        if plan.local_head is not None:
            local = plan.local_head(final, patch, start, target)
            if local is not None:
                values.append(local.float())
                continue
        length = final.shape[-1]
        full = final[None].repeat(m, 1, 1)
        cols = start[:, None] + torch.arange(width, device=row.device)[None]
        valid = (cols >= 0) & (cols < length)
        rows = torch.arange(m, device=row.device)[:, None].expand_as(cols)
        full = full.permute(0, 2, 1)
        full[rows[valid], cols[valid]] = patch.permute(0, 2, 1)[valid]
        values.append(target.select(plan.head(full.permute(0, 2, 1).contiguous())).float())
    return (torch.cat(values) if values else row.new_zeros(0)), reference
