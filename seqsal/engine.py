"""Batching, out-of-memory recovery, long-region tiling and stitching (devices: :mod:`seqsal.devices`).

:func:`iter_region_attributions` is the engine: it reads each region from the
genome on a background thread, encodes it, cuts it into model-sized windows,
packs windows from consecutive regions into batches, runs one attribution per
batch and stitches the window results back into one track per region, yielded
in the order of the regions. Memory is bounded by the batch and the regions
in flight, never by the number of regions.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import torch
from torch import nn

from .attribution import Target, eval_mode
from .devices import autocast_dtype_for, select_device
from .encode import one_hot_encode, reverse_complement
from .errors import InputError
from .methods import (
    COMPLETENESS_TOLERANCE,
    REFERENCE_METHODS,
    IncompleteAttribution,
    hypothetical_attributions,
    relative_completeness,
)
from .regions import tile_starts
from .text import plural

log = logging.getLogger("seqsal")

STITCH_MODES = ("mean", "centre")


def is_out_of_memory(error: BaseException) -> bool:
    """True for a CUDA/MPS out-of-memory error (the batch can be split and retried)."""
    if isinstance(error, getattr(torch.cuda, "OutOfMemoryError", ())):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


class AdaptiveBatch:
    """Runs a batch function, halving the batch on out-of-memory errors and remembering the size that fits.

    A batch smaller than the batch size is padded with zeros to the full size
    (and the padding dropped from the results): CPU kernels take different code
    paths for different batch sizes, so without it a window's attribution would
    depend, in its last bits, on how many windows shared its batch, and a
    sharded or resumed run would not give the bytes of a single run.

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

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        size = self.batch_size
        parts = [self._run(x[i:i + size]) for i in range(0, x.shape[0], size)]
        if len(parts) == 1:  # the usual case: no copy
            return tuple(parts[0])
        return tuple(torch.cat(column, dim=0) for column in zip(*parts))

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n = x.shape[0]
        try:
            if n < self.batch_size:
                padding = x.new_zeros((self.batch_size - n, *x.shape[1:]))
                return tuple(part[:n] for part in self.function(torch.cat([x, padding], dim=0)))
            return self.function(x)
        except Exception as error:  # noqa: BLE001 - only out-of-memory is handled
            if not is_out_of_memory(error) or x.shape[0] == 1:
                raise
        if x.device.type == "cuda":
            torch.cuda.empty_cache()
        self.batch_size = max(1, x.shape[0] // 2)
        log.warning("out of memory with a batch of %s; continuing with %d", plural(x.shape[0], "window"),
                    self.batch_size)
        return self(x)


@dataclass
class RegionResult:
    """Attribution of one region, on the + strand, over the region's own bases.

    Attributes
    ----------
    index
        Row of the region in the regions table.
    one_hot
        ``(4, L)`` float32 one-hot of the + strand sequence (``N`` = zeros).
    hypothetical
        ``(4, L)`` float32 hypothetical contributions (minus-strand regions are
        attributed on the reverse complement and mapped back).
    prediction
        Target value (mean over the region's windows when tiled).
    n_windows
        Model windows the region was cut into.
    status
        ``ok``, ``all_N`` or ``nonfinite`` (attributions zeroed, see ``on_error``).
    completeness_error
        For methods with a baseline (:data:`seqsal.methods.REFERENCE_METHODS`): over the region's
        windows, the largest (by magnitude) ``Σ attributions - (f(window) - mean f(baselines))``,
        taken before stitching; ``None`` for other methods.
    """

    index: int
    one_hot: np.ndarray
    hypothetical: np.ndarray
    prediction: float
    n_windows: int
    status: str = "ok"
    completeness_error: float | None = None

    @property
    def projected(self) -> np.ndarray:
        """Per-base projected contribution, ``(L,)``: hypothetical x one-hot summed over channels."""
        return (self.hypothetical * self.one_hot).sum(axis=0)


@dataclass
class _Plan:
    index: int
    one_hot: np.ndarray  # (4, fetched length) + strand
    model_input: np.ndarray  # (4, fetched length) strand the model sees
    crop: slice
    minus: bool
    starts: np.ndarray
    window: int
    all_n: bool


def fetch_span(start: int, end: int, window: int | None) -> tuple[int, int]:
    """The stretch ``[start, end)`` a region is fetched as: itself, or widened symmetrically to ``window``
    with its genomic context when shorter (0-based half-open; may reach outside the chromosome: N-padded)."""
    length = end - start
    if window is None or length >= window:
        return start, end
    fetch_start = start - (window - length) // 2
    return fetch_start, fetch_start + window


def plan_region(
    index: int, chrom: str, start: int, end: int, strand: str, fetch: Callable[[str, int, int], str],
    window: int | None, stride: int | None, n_value: float = 0.0,
) -> _Plan:
    """Fetch and encode one region and cut it into model windows.

    A region shorter than the window is widened symmetrically with its genomic
    context (then cropped back); a longer one is tiled with ``stride``.
    """
    length = end - start
    fetch_start, fetch_end = fetch_span(start, end, window)
    use_window = length if window is None or window == length else window
    sequence = fetch(chrom, fetch_start, fetch_end)
    minus = strand == "-"
    one_hot = one_hot_encode(sequence, n_value=n_value)
    model_input = one_hot_encode(reverse_complement(sequence), n_value=n_value) if minus else one_hot
    crop = slice(start - fetch_start, start - fetch_start + length)
    starts = tile_starts(fetch_end - fetch_start, use_window, stride or use_window)
    all_n = not (one_hot[:, crop] == 1).any()  # no A/C/G/T (N encodes as 0 or 0.25)
    return _Plan(index, one_hot, model_input, crop, minus, starts, use_window, all_n)


class _Stitcher:
    """Accumulates window attributions of one region into one track (mean or centre-most window)."""

    def __init__(self, plan: _Plan, mode: str):
        length = plan.model_input.shape[1]
        self.plan, self.mode = plan, mode
        self.total = np.zeros((4, length), dtype=np.float32)
        self.weight = np.zeros(length, dtype=np.float32) if mode == "mean" else np.full(length, np.inf, np.float32)
        self.predictions: list[float] = []
        self.errors: list[float] = []
        self.nonfinite = False

    def add(self, offset: int, hypothetical: np.ndarray, prediction: float, error: float | None = None) -> None:
        width = hypothetical.shape[1]
        if not (np.isfinite(prediction) and np.isfinite(hypothetical).all()):
            self.nonfinite = True
        self.predictions.append(prediction)
        if error is not None:
            self.errors.append(error)
        span = slice(offset, offset + width)
        if self.mode == "mean":
            self.total[:, span] += hypothetical
            self.weight[span] += 1
        else:
            distance = np.abs(np.arange(width, dtype=np.float32) - (width - 1) / 2)
            better = distance < self.weight[span]
            self.total[:, span][:, better] = hypothetical[:, better]
            self.weight[span] = np.where(better, distance, self.weight[span])

    @property
    def complete(self) -> bool:
        return len(self.predictions) == len(self.plan.starts)

    def result(self) -> RegionResult:
        plan = self.plan
        track = self.total / self.weight if self.mode == "mean" else self.total
        if plan.minus:
            track = track[::-1, ::-1]
        hypothetical = np.ascontiguousarray(track[:, plan.crop], dtype=np.float32)
        status = "all_N" if plan.all_n else "ok"
        if plan.all_n:  # no base to explain: attributed as zeros (the model's gradient on N is not a base's effect)
            hypothetical[:] = 0
        prediction = float(np.mean(self.predictions))
        if self.nonfinite:
            status = "nonfinite"
        error = max(self.errors, key=abs) if self.errors else None
        return RegionResult(plan.index, np.ascontiguousarray(plan.one_hot[:, plan.crop]), hypothetical,
                            prediction, len(plan.starts), status, error)


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


def relative_errors(x: torch.Tensor, hypothetical: torch.Tensor, errors: torch.Tensor) -> torch.Tensor:
    """The completeness errors of :func:`completeness_errors` relative to the attributions' size, ``(N,)``:
    ``|error| / (Σ |hypothetical·x| + |f(x) - mean f(baselines)|)`` (:func:`seqsal.methods.relative_completeness`)."""
    projected = hypothetical * x
    total = projected.sum(dim=(1, 2))
    return relative_completeness(total, projected.abs().sum(dim=(1, 2)), total - errors)


def _incomplete_message(method: str, row, error: float, relative: float, tolerance: float, advice: str) -> str:
    return (f"{method}: the attributions of region {row['name']} ({row['chrom']}:{row['start']}-{row['end']}) miss "
            f"f(x) - mean f(baselines) by {error:.3g} ({relative:.2g} of their size; tolerance {tolerance:g}): "
            f"{advice}, or pass --allow-incomplete to write such maps anyway")


def _batches(plans: Iterator[_Plan], batch_size: int, stop: threading.Event):
    """Group the windows of consecutive regions into batches of one window length.

    Yields ``(items, array)``: ``[(plan, offset)]`` and the ``(B, 4, W)`` float32 batch.
    """
    items, arrays, width = [], [], None
    for plan in plans:
        if stop.is_set():
            return
        for offset in plan.starts:
            if items and (plan.window != width or len(items) == batch_size):
                yield items, np.stack(arrays)
                items, arrays = [], []
            width = plan.window
            items.append((plan, int(offset)))
            arrays.append(plan.model_input[:, offset:offset + plan.window])
    if items:
        yield items, np.stack(arrays)


def _prefetch(generator: Iterator, depth: int, stop: threading.Event) -> Iterator:
    """Run ``generator`` on a background thread, ``depth`` items ahead; re-raise its errors here."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    sentinel = object()

    def work():
        try:
            for item in generator:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            buffer.put(error)
            return
        buffer.put(sentinel)

    thread = threading.Thread(target=work, name="seqsal-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is sentinel:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


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
    method, target, correct, rc
        See :func:`seqsal.methods.hypothetical_attributions`.
    window
        Model input length; ``None`` feeds each region whole.
    stride
        Offset between windows of a tiled region (default: the window, no overlap).
    batch_size
        Windows per forward/backward pass (halved on out-of-memory).
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
        tolerance (:data:`seqsal.methods.COMPLETENESS_TOLERANCE`); by default that raises
        :class:`seqsal.methods.IncompleteAttribution` (an :class:`InputError`) naming the region. The errors are reported in :attr:`RegionResult.completeness_error` either way.
    """
    if stitch not in STITCH_MODES:
        raise InputError(f"unknown --stitch {stitch!r}; choose mean or centre")
    if on_error not in ("stop", "skip"):
        raise InputError(f"unknown --on-error {on_error!r}; choose stop or skip")
    device = select_device(device)
    autocast_dtype = autocast_dtype_for(precision, device)
    target = target or Target()
    pin = device.type == "cuda"
    method_params = method_params or {}
    check_completeness = method in REFERENCE_METHODS  # baseline methods: reference predictions come for free
    tolerance = None if allow_incomplete else COMPLETENESS_TOLERANCE.get(method)

    def run_batch(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        sink: list | None = [] if check_completeness else None
        # the methods' own checks are off: each window is checked below, naming its region
        extra = {"reference_sink": sink, "check": None} if sink is not None else {}
        hyp, prediction = hypothetical_attributions(
            model, x, method, target, correct=correct, rc=rc, autocast_dtype=autocast_dtype, **method_params, **extra
        )
        if not sink:
            return hyp.cpu(), prediction.cpu()
        errors = completeness_errors(x, hyp, prediction, sink[0], rc)
        return hyp.cpu(), prediction.cpu(), errors.cpu(), relative_errors(x, hyp, errors).cpu()

    adaptive = AdaptiveBatch(run_batch, batch_size)
    table = regions.iloc[skip:]
    plans = (
        plan_region(skip + i, row.chrom, int(row.start), int(row.end), row.strand, fetch, window, stride, n_value)
        for i, row in enumerate(table.itertuples(index=False))
    )
    stop = threading.Event()

    def produce():
        for items, array in _batches(plans, batch_size, stop):
            tensor = torch.from_numpy(array)
            if pin:
                tensor = tensor.pin_memory()
            yield items, tensor

    stitchers: dict[int, _Stitcher] = {}
    with eval_mode(model):
        for items, tensor in _prefetch(produce(), depth=3, stop=stop):
            hyp, prediction, *rest = adaptive(tensor.to(device, non_blocking=pin))
            hyp_np, prediction_np = hyp.numpy(), prediction.numpy()
            errors = rest[0].numpy() if rest else None
            for k, (plan, offset) in enumerate(items):
                index = plan.index
                if tolerance is not None and rest and float(rest[1][k]) > tolerance[0] and not plan.all_n:
                    raise IncompleteAttribution(_incomplete_message(method, regions.iloc[index], float(errors[k]),
                                                                    float(rest[1][k]), *tolerance))
                if index not in stitchers:
                    stitchers[index] = _Stitcher(plan, stitch)
                stitcher = stitchers[index]
                stitcher.add(offset, hyp_np[k], float(prediction_np[k]),
                             None if errors is None else float(errors[k]))
                if stitcher.complete:
                    del stitchers[index]
                    result = stitcher.result()
                    if result.status == "nonfinite":
                        row = regions.iloc[index]
                        if on_error == "stop":
                            raise InputError(
                                f"the model returned NaN/Inf for region {row['name']} "
                                f"({row.chrom}:{row.start}-{row.end}); check the model, or pass --on-error skip"
                            )
                        log.warning("region %s: NaN/Inf from the model; written as zeros", row["name"])
                        result.hypothetical = np.zeros_like(result.hypothetical)
                        result.prediction = float("nan")
                    yield result
