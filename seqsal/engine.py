"""Batching, out-of-memory recovery, long-region tiling and stitching (devices: :mod:`seqsal.devices`).

:func:`iter_region_attributions` is the engine: it reads each region from the
genome on a background thread, encodes it, cuts it into model-sized windows,
packs them into batches (:mod:`seqsal.batches`: only real windows, cut the same
way in every run, shard or resume of a job), runs one attribution per batch and
stitches the window results back into one track per region, yielded in the order
of the regions. The batch and the methods' inner chunks are sized to
``max_memory`` (:mod:`seqsal.memory`); an out-of-memory error halves the batch.
Memory is bounded by the batch and the regions in flight, never by the number of
regions.
"""
from __future__ import annotations

import gc
import inspect
import logging
import threading
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import torch
from torch import nn

from .attribution import Target, eval_mode, input_gradient
from .batches import batch_arrays, prefetch, schedule
from .devices import autocast_dtype_for, cuda_index, device_for, device_mismatch, placed, precision_context
from .errors import InputError, option
from .memory import MemoryPlan, below_one_window, default_budget, measure_window_cost, parse_memory, plan_memory
from .methods import (FOCUSED_METHODS, METHODS, REFERENCE_METHODS, IncompleteAttribution, check_on_error,
                      hypothetical_attributions, nonfinite_rows, on_nonfinite, relative_completeness)
from .methods.references import rounding_allowance
from .methods.registry import completeness_check
from .stitch import RegionResult, RegionState, Stitcher, plan_region, restored_stitcher, state_of, window_focus
from .text import plural

log = logging.getLogger("seqsal")

STITCH_MODES = ("mean", "centre")


def is_out_of_memory(error: BaseException) -> bool:
    """True for an out-of-memory error the batch can be split and retried after: CUDA/MPS (``out of memory``),
    the CPU allocator's ``DefaultCPUAllocator: can't allocate memory`` and Python's :class:`MemoryError`."""
    if isinstance(error, (MemoryError, getattr(torch.cuda, "OutOfMemoryError", MemoryError))):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


class AdaptiveBatch:
    """Runs a batch function, halving the batch on out-of-memory errors and remembering the size that fits.

    Only real windows are computed: a short batch stays short (:mod:`seqsal.batches` cuts the batches the same way
    in every run of a job, so a window meets the same batch in a single, sharded or resumed run). After an
    out-of-memory error the batches are cut smaller than the schedule's, and their windows may differ from an
    uninterrupted run's in the last bits (float32 rounding); a warning says so.

    Parameters
    ----------
    function
        ``(N, 4, W) tensor -> tuple of tensors with leading dimension N``.
    batch_size
        Initial largest batch.
    """

    def __init__(self, function: Callable, batch_size: int):
        self.function = function
        self.batch_size = batch_size

    def __call__(self, x: torch.Tensor, *rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        parts, first = [], 0
        while first < x.shape[0]:  # the size that fits may shrink on the way: no batch known too big is tried
            size = self.batch_size
            parts.append(self._run(x[first:first + size], *(r[first:first + size] for r in rows)))
            first += size
        if len(parts) == 1:  # the usual case: no copy
            return tuple(parts[0])
        return tuple(torch.cat(column, dim=0) for column in zip(*parts))

    def _run(self, x: torch.Tensor, *rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        try:
            return self.function(x, *rows)
        except Exception as error:  # noqa: BLE001 - only out-of-memory is handled
            if not is_out_of_memory(error) or x.shape[0] == 1:
                raise
        gc.collect()
        if x.device.type == "cuda":
            torch.cuda.empty_cache()
        self.batch_size = max(1, x.shape[0] // 2)
        log.warning("out of memory with a batch of %s; continuing with %d (windows of smaller batches may differ "
                    "from an uninterrupted run's in the last bits)", plural(x.shape[0], "window"), self.batch_size)
        return self(x, *rows)


def completeness_errors(x: torch.Tensor, hypothetical: torch.Tensor, prediction: torch.Tensor,
                        reference_prediction: torch.Tensor, rc: bool) -> torch.Tensor:
    """``Σ hypothetical·x - (prediction - mean f(baselines))`` per window ``(N,)``.

    Parameters
    ----------
    x, hypothetical
        ``(N, 4, W)`` windows and their (strand-averaged when ``rc``) hypothetical contributions.
    prediction
        ``(N,)`` target (strand-averaged when ``rc``).
    reference_prediction
        ``(N,)``, or ``(2N,)`` with ``rc`` (windows, then their reverse complements, as the method saw
        them): mean target over each window's baselines.
    """
    reference = reference_prediction.float()
    if rc:
        n = x.shape[0]
        reference = 0.5 * (reference[:n] + reference[n:])
    return (hypothetical * x).sum(dim=(1, 2)) - (prediction - reference)


def relative_errors(x: torch.Tensor, hypothetical: torch.Tensor, errors: torch.Tensor, prediction: torch.Tensor
                    ) -> torch.Tensor:
    """The completeness errors of :func:`completeness_errors` relative to the attributions' size, ``(N,)``.

    Parameters
    ----------
    x, hypothetical
        ``(N, 4, W)`` windows and their hypothetical contributions.
    errors
        ``(N,)`` :func:`completeness_errors`.
    prediction
        ``(N,)`` the target ``f(x)``: with ``f(x) - errors`` rebuilt from the two, the error float32 rounding of
        the outputs explains (:func:`seqsal.methods.references.rounding_allowance`) is not counted.

    Returns
    -------
    torch.Tensor
        ``(N,)``: ``max(|error| - allowance, 0) / (Σ |hypothetical·x| + |f(x) - mean f(baselines)|)``
        (:func:`seqsal.methods.relative_completeness`): a low-complexity window, whose shuffles are itself,
        gets 0, not its rounding as 100 % of its (rounding-sized) attributions.
    """
    projected = hypothetical * x
    total = projected.sum(dim=(1, 2))
    delta = total - errors
    return relative_completeness(total, projected.abs().sum(dim=(1, 2)), delta,
                                 rounding_allowance(prediction, delta))


def _incomplete_message(method: str, row, error: float, relative: float, tolerance: float, advice: str) -> str:
    return (f"{method}: the attributions of region {row.get('name', f'at row {row.name}')} "
            f"({row['chrom']}:{row['start']}-{row['end']}) miss "
            f"f(x) - mean f(baselines) by {error:.3g} ({relative:.2g} of their size; tolerance {tolerance:g}): "
            f"{advice}, or pass --allow-incomplete to write such maps anyway")


def _short_region(row, length: int, error: RuntimeError) -> str:
    line = f"line {int(row['line'])} of the regions, " if int(row.get("line", 0) or 0) > 0 else ""
    cause = (str(error).strip() or type(error).__name__).splitlines()[0][:160]
    name = row.get("name", f"at row {row.name}")  # a notebook's table may have no name column
    return (f"the model failed on region {name} ({line}{row['chrom']}:{row['start']}-{row['end']}, fed whole "
            f"as {length} bp: the model declares no input length): {cause}; if the region is shorter than the "
            f"model's layers need, give --window (the model's input length), or leave out regions this short")


def fit_memory(model: nn.Module, target: Target, method: str, params: dict, rc: bool, batch_size: int,
               max_memory: int | str | None, device: torch.device, autocast_dtype: torch.dtype | None,
               width: int) -> tuple[int, dict, MemoryPlan | None]:
    """The batch size and method parameters that fit ``max_memory`` (:mod:`seqsal.memory`).

    Parameters
    ----------
    model, target, method, params, rc, device, autocast_dtype
        As the engine runs them.
    batch_size
        The largest batch asked for.
    max_memory
        Bytes, a size such as ``4G``, or ``None``: :func:`seqsal.memory.default_budget` of the device.
    width
        The widest window of the job (bases).

    Returns
    -------
    batch_size, params, plan
        ``params`` with the method's inner chunk set when the budget needs it; ``plan`` is ``None`` when the
        model could not be measured (then nothing is changed).
    """
    budget = parse_memory(max_memory) or default_budget(device)

    def probe(x: torch.Tensor) -> None:
        with precision_context(device, autocast_dtype):
            input_gradient(model, x, target)

    cost = measure_window_cost(probe, width, device)
    if cost is None:
        return batch_size, params, None
    function = METHODS.get(method)
    accepted = set(inspect.signature(function).parameters) if function is not None else set()
    plan = plan_memory(method, params, rc, batch_size, budget, cost, width, accepts=accepted.__contains__)
    if max_memory is not None and (need := below_one_window(budget, cost, rc)) is not None:
        log.warning("--max-memory %s is below what one window of this model needs (%.3g MB measured): windows go one "
                    "at a time and use more than the budget; give at least %.0f MB", max_memory, need / 1e6,
                    need / 1e6 + 1)
    if plan.batch_size < batch_size or (plan.inner and plan.inner[1] < params.get(plan.inner[0], plan.inner[1] + 1)):
        log.info("memory plan: %.3g MB per window (measured), budget %.3g GB: batches of %s%s", cost.per_window / 1e6,
                 budget / 1e9, plural(plan.batch_size, "window"),
                 f", {plan.inner[0]} {plan.inner[1]}" if plan.inner else "")
    if plan.inner is not None:
        params = {**params, plan.inner[0]: plan.inner[1]}
    return plan.batch_size, params, plan


def _cap_gpu(device: torch.device, max_memory: int | str | None) -> bool:
    """With an explicit ``max_memory`` on a CUDA device, make the caching allocator refuse to go beyond it (then
    the out-of-memory back-off, not the plan alone, keeps the run inside); returns whether a cap was set."""
    if device.type != "cuda" or max_memory is None:
        return False
    budget, index = parse_memory(max_memory), cuda_index(device)
    total = torch.cuda.get_device_properties(index).total_memory
    fraction = min(1.0, (budget + torch.cuda.memory_allocated(index)) / total)
    torch.cuda.set_per_process_memory_fraction(fraction, index)
    return True


def _finished(result: RegionResult, table: pd.DataFrame, row_number: int, on_error: str,
              warned: set | None = None) -> RegionResult:
    """A region's result as yielded: a NaN/Inf region stops the run, or is zeroed (``on_error="skip"``; logged once
    per region name in ``warned``: the shuffled null's copies of a region repeat its name). Row ``row_number`` of
    ``table`` is read only for a message (a pandas row for every region cost 55 us, a fifth of the host's time)."""
    if result.status != "nonfinite":
        return result
    row = table.iloc[row_number]  # a nameless region is named by its row label, as the other messages name it
    on_nonfinite(f"region {row.get('name', f'at row {row.name}')}", f"{row['chrom']}:{row['start']}-{row['end']}",
                 on_error, warned)
    result.hypothetical = np.zeros_like(result.hypothetical)
    result.prediction = float("nan")
    return result


def iter_region_attributions(
    model: nn.Module,
    fetch: Callable[[str, int, int], str],
    regions: pd.DataFrame,
    method: str = "grad_x_input",
    target: Target | None = None,
    window: int | None = None,
    stride: int | None = None,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    precision: str = "fp32",
    rc: bool = False,
    correct: bool = True,
    stitch: str = "mean",
    n_value: float = 0.0,
    on_error: str = "stop",
    skip: int = 0,
    method_params: dict | None = None,
    allow_incomplete: bool = False,
    max_memory: int | str | None = None,
    whole_table: tuple[pd.DataFrame, int] | None = None,
    on_windows: Callable[[int], object] | None = None,
    region_state: RegionState | None = None,
    on_region_state: Callable[[Callable[[], RegionState]], object] | None = None,
) -> Iterator[RegionResult]:
    """Attribute every region, yielding one :class:`RegionResult` per region in table order.

    Parameters
    ----------
    model
        Module taking ``(N, 4, W)``; parameters need no gradients.
    fetch
        ``(chrom, start, end) -> str`` (e.g. :meth:`seqsal.genome.Genome.fetch`), N-padded.
    regions
        Table with ``chrom``, ``start``, ``end``, ``strand`` (0-based half-open).
    method, target, correct, rc, method_params
        See :func:`seqsal.methods.hypothetical_attributions`; ``method_params``: the method's own (``{"steps": 64}``).
    window
        Model input length; ``None`` feeds each region whole (regions of one length share batches).
    stride
        Offset between windows of a tiled region (default: the window, no overlap).
    batch_size
        Largest number of windows per forward/backward pass (lowered to fit ``max_memory``, halved on
        out-of-memory). Only real windows are computed; which windows share a batch depends on the job's table
        alone (:mod:`seqsal.batches`), so the bytes out do not depend on sharding or resuming.
    device, precision
        ``cuda``/``mps``/``cpu``/``None`` (auto), and ``fp32``/``bf16``/``fp16``.
    stitch
        ``mean`` of overlapping windows, or ``centre``: each base from the window
        whose centre is nearest (avoids edge effects of windows).
    n_value
        Encoding of non-ACGT bases (0 or 0.25).
    on_error
        ``stop`` raises :class:`InputError` naming the first region whose
        prediction or attribution is NaN/Inf; ``skip`` zeroes it and marks its
        status ``nonfinite``.
    skip
        Regions at the start of the table already done (for resuming).
    allow_incomplete
        Keep going when a window of a method with a baseline misses completeness by more than the method's
        tolerance (:func:`seqsal.methods.registry.completeness_check`); by default that raises
        :class:`seqsal.methods.IncompleteAttribution` (an :class:`InputError`) naming the region. The errors are
        reported in :attr:`RegionResult.completeness_error` either way.
    max_memory
        Memory budget of a batch: bytes or a size such as ``"4G"``; ``None``: half the RAM, or 80 % of the GPU
        (:func:`fit_memory`). On a CUDA device an explicit budget is also enforced (the allocator refuses more,
        and the back-off halves the batch).
    whole_table
        ``(table, first)`` when ``regions`` are the rows ``first, first + 1, ...`` of a larger job (a shard):
        batches are cut as in a run over the whole table (a few windows of neighbouring regions complete the
        batches at the ends), so the shards give the bytes of the single run. Results are indexed in ``regions``.
    on_windows
        Called after each batch with the number of this run's windows it computed (a progress bar's ``update``:
        a long region's progress shows before its result; :func:`seqsal.batches.window_counts` gives the total).
    region_state
        The first region left (row ``skip``) part-done by an earlier run (its ``on_region_state``): its windows
        already summed are not computed again (a resumed run of a long region keeps what the killed one did).
        Its windows and stitching must be this call's (else :class:`InputError`); that it came from the same model,
        method and target is the caller's to keep (the CLI's checkpoint digest holds them).
    on_region_state
        Called after a batch that leaves the next region to yield part-done, every region before it yielded, with
        a function that returns that region's :class:`RegionState` (its windows summed so far; a copy, made only
        when called); with a model window only (regions fed whole are one window each).

    Raises
    ------
    InputError
        For an unknown ``stitch`` or ``on_error``, a bad ``max_memory``, NaN/Inf (``on_error="stop"``), an
        incomplete attribution, or (no ``window``) a region the model fails on, fed whole (too short for it).
    """
    if stitch not in STITCH_MODES:
        raise InputError(f"unknown {option('stitch')} {stitch!r}; choose mean or centre")
    check_on_error(on_error)
    parse_memory(max_memory)
    device = device_for(device, model)
    autocast_dtype = autocast_dtype_for(precision, device)
    target = target or Target()
    pin = device.type == "cuda"
    method_params = method_params or {}
    check_completeness = method in REFERENCE_METHODS  # baseline methods: reference predictions come for free
    tolerance = None if allow_incomplete else completeness_check(method, precision)
    context, base = whole_table if whole_table is not None else (regions, 0)
    lengths = (context["end"] - context["start"]).to_numpy(dtype=np.int64)
    first, stop_row = base + skip, base + len(regions)
    if first >= stop_row:
        return
    # one placement for the memory plan, the cap and the run: a notebook's model on the CPU runs on the GPU
    # chosen and goes back after (session 32, an H200); an exported program stays where it was exported
    with placed(model, device):
        with eval_mode(model):  # fit_memory measures it where it runs
            batch_size, method_params, _ = fit_memory(model, target, method, method_params, rc, batch_size, max_memory,
                                                      device, autocast_dtype, window or int(lengths.max()))

        def run_batch(x: torch.Tensor, focus: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
            sink: list | None = [] if check_completeness else None
            # the methods' own checks are off: each window is checked below, naming its region
            extra = {"reference_sink": sink, "check": None} if sink is not None else {}
            if focus is not None:  # ism: only the region's bases of each window are mutated
                extra["focus"] = focus
            hyp, prediction = hypothetical_attributions(
                model, x, method, target, correct=correct, rc=rc, autocast_dtype=autocast_dtype, **method_params,
                **extra
            )
            if not sink:
                return hyp.cpu(), prediction.cpu()
            errors = completeness_errors(x, hyp, prediction, sink[0], rc)
            deltas = (hyp * x).sum(dim=(1, 2)) - errors  # f(x) - mean f(baselines), as the errors were taken
            return (hyp.cpu(), prediction.cpu(), errors.cpu(), relative_errors(x, hyp, errors, prediction).cpu(),
                    deltas.cpu())

        adaptive = AdaptiveBatch(run_batch, batch_size)
        columns = {name: context[name].to_numpy() for name in ("chrom", "start", "end", "strand")}
        stop = threading.Event()

        resume_batch, resume_row = -1, -1  # windows of earlier batches are in region_state's sums (or regions done)
        if region_state is not None:
            resume_row = first
            if region_state.index != skip:
                raise ValueError(f"the part-done region is row {region_state.index}, not the first one left ({skip})")
            for portion in schedule(lengths, window, stride, batch_size, first, stop_row):
                if portion.region == first:
                    resume_batch = int(portion.batches[min(region_state.windows_done, len(portion.batches) - 1)])
                    break

        def windows():
            for portion in schedule(lengths, window, stride, batch_size, first, stop_row):
                i = portion.region
                plan = plan_region(i, columns["chrom"][i], int(columns["start"][i]), int(columns["end"][i]),
                                   columns["strand"][i], fetch, window, stride, n_value)
                for k, batch in zip(portion.windows, portion.batches):
                    if batch < resume_batch or (i == resume_row and k < region_state.windows_done):
                        continue
                    yield plan, int(plan.starts[k]), int(batch), portion.wanted

        def produce():
            for items, array in batch_arrays(windows(), stop):
                tensor = torch.from_numpy(array)
                if pin:
                    tensor = tensor.pin_memory()
                yield items, tensor

        stitchers: dict[int, Stitcher] = {}
        done: dict[int, RegionResult] = {}  # finished out of table order (regions grouped by length), held back
        warned: set = set()  # regions whose NaN/Inf was logged
        capped = _cap_gpu(device, max_memory)
        try:
            with eval_mode(model):
                for items, tensor in prefetch(produce(), depth=3, stop=stop):
                    focus = (torch.tensor([window_focus(plan, offset, stitch) for plan, offset, _ in items])
                             if method in FOCUSED_METHODS else None)
                    try:
                        hyp, prediction, *rest = adaptive(tensor.to(device, non_blocking=pin),
                                                          *([] if focus is None else [focus]))
                    except RuntimeError as error:  # regions fed whole: one too short for the model's layers
                        if (mismatch := device_mismatch(error, device)) is not None:  # not "too short" (session 32)
                            raise InputError(mismatch) from None
                        if window is not None or is_out_of_memory(error):
                            raise
                        raise InputError(_short_region(context.iloc[items[0][0].index], tensor.shape[-1],
                                                       error)) from None
                    hyp_np, prediction_np = hyp.numpy(), prediction.numpy()
                    bad = nonfinite_rows(hyp, prediction).numpy()
                    errors = rest[0].numpy() if rest else None
                    if on_windows is not None:
                        on_windows(sum(1 for _, _, wanted in items if wanted))
                    for k, (plan, offset, wanted) in enumerate(items):
                        if not wanted:  # completes a batch of the job's schedule: another shard's region
                            continue
                        index = plan.index
                        if tolerance is not None and rest and float(rest[1][k]) > tolerance[0] and not plan.all_n:
                            raise IncompleteAttribution(_incomplete_message(
                                method, context.iloc[index], float(errors[k]), float(rest[1][k]), *tolerance))
                        stitcher = stitchers.get(index)
                        if stitcher is None:
                            stitcher = stitchers[index] = (restored_stitcher(plan, stitch, region_state)
                                                           if region_state is not None and index == base + skip
                                                           else Stitcher(plan, stitch))
                        stitcher.add(offset, hyp_np[k], float(prediction_np[k]),
                                     None if errors is None else float(errors[k]), bool(bad[k]),
                                     None if errors is None else float(rest[2][k]))
                        if stitcher.complete:
                            del stitchers[index]
                            done[index] = stitcher.result()
                    while first in done:
                        result = _finished(done.pop(first), context, first, on_error, warned)
                        result.index = first - base
                        first += 1
                        yield result
                    if on_region_state is not None and window is not None and first in stitchers:
                        on_region_state(lambda stitcher=stitchers[first], row=first - base: state_of(stitcher, row))
        finally:
            if capped:
                torch.cuda.set_per_process_memory_fraction(1.0, cuda_index(device))
