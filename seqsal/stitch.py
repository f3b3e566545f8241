"""One region's model windows and their attributions stitched back into one track (:func:`plan_region`,
:class:`Stitcher`), and a long region part-done between two batches (:class:`RegionState`), which a resumed run
continues from. The engine (:func:`seqsal.engine.iter_region_attributions`) drives them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .encode import one_hot_encode, reverse_complement
from .errors import InputError, option
from .regions import fetch_span, tile_starts


@dataclass
class RegionResult:
    """Attribution of one region, on the + strand, over the region's own bases.

    Attributes
    ----------
    index
        Row of the region in the regions table.
    one_hot
        ``(4, L)`` float32 one-hot of the + strand sequence (``N``: zeros, or 0.25 with ``n_value=0.25``).
    hypothetical
        ``(4, L)`` float32 hypothetical contributions (minus-strand regions: on the reverse complement, mapped back).
    prediction
        Target value (mean over the region's windows when tiled).
    n_windows
        Model windows the region was cut into.
    status
        ``ok``, ``all_N`` or ``nonfinite`` (attributions zeroed, see ``on_error``).
    completeness_error
        For methods with a baseline (:data:`seqsal.methods.REFERENCE_METHODS`): over the region's windows, the
        largest (by magnitude) ``Σ attributions - (f(window) - mean f(baselines))``, taken before stitching; ``None``
        for other methods.
    completeness_delta
        ``f(window) - mean f(baselines)`` of that window (the size the error is compared with; fresh28: rebuilt as
        the region's attribution sum minus the error, it mixed the region's bases with the whole window's).
    """

    index: int
    one_hot: np.ndarray
    hypothetical: np.ndarray
    prediction: float
    n_windows: int
    status: str = "ok"
    completeness_error: float | None = None
    completeness_delta: float | None = None

    @property
    def projected(self) -> np.ndarray:
        """Per-base projected contribution, ``(L,)``: hypothetical x one-hot summed over channels."""
        return (self.hypothetical * self.one_hot).sum(axis=0)


@dataclass
class WindowPlan:
    index: int
    one_hot: np.ndarray  # (4, fetched length) + strand
    model_input: np.ndarray  # (4, fetched length) strand the model sees
    crop: slice
    minus: bool
    starts: np.ndarray
    window: int
    all_n: bool


def plan_region(
    index: int, chrom: str, start: int, end: int, strand: str, fetch: Callable[[str, int, int], str],
    window: int | None, stride: int | None, n_value: float = 0.0,
) -> WindowPlan:
    """Fetch and encode one region and cut it into model windows.

    A region shorter than the window is widened symmetrically with its genomic context (then cropped back); a
    longer one is tiled with ``stride``. A ``fetch`` with a ``row`` attribute is called as ``fetch.row(index, chrom,
    start, end)``: the shuffled null's picks the shuffle by the row (:func:`seqsal.peaks.nulls.shuffled_fetch`).
    """
    length = end - start
    fetch_start, fetch_end = fetch_span(start, end, window)
    use_window = length if window is None or window == length else window
    sequence = getattr(fetch, "row", lambda _, *span: fetch(*span))(index, chrom, fetch_start, fetch_end)
    minus = strand == "-"
    one_hot = one_hot_encode(sequence, n_value=n_value)
    model_input = one_hot_encode(reverse_complement(sequence), n_value=n_value) if minus else one_hot
    crop = slice(start - fetch_start, start - fetch_start + length)
    starts = tile_starts(fetch_end - fetch_start, use_window, stride or use_window)
    all_n = not (one_hot[:, crop] == 1).any()  # no A/C/G/T (N encodes as 0 or 0.25)
    return WindowPlan(index, one_hot, model_input, crop, minus, starts, use_window, all_n)


class Stitcher:
    """Accumulates window attributions of one region into one track (mean or centre-most window)."""

    def __init__(self, plan: WindowPlan, mode: str):
        length = plan.model_input.shape[1]
        self.plan, self.mode = plan, mode
        self.total = np.zeros((4, length), dtype=np.float32)
        self.weight = np.zeros(length, dtype=np.float32) if mode == "mean" else np.full(length, np.inf, np.float32)
        self.predictions: list[float] = []
        self.errors: list[float] = []
        self.deltas: list[float] = []
        self.nonfinite = False

    def add(self, offset: int, hypothetical: np.ndarray, prediction: float, error: float | None = None,
            nonfinite: bool = False, delta: float | None = None) -> None:
        width = hypothetical.shape[1]
        self.nonfinite |= nonfinite  # the window's NaN/Inf, told by methods.nonfinite_rows
        self.predictions.append(prediction)
        if error is not None:
            self.errors.append(error)
            self.deltas.append(np.nan if delta is None else delta)
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
        worst = int(np.argmax(np.abs(self.errors))) if self.errors else None
        error = None if worst is None else self.errors[worst]
        delta = None if worst is None or worst >= len(self.deltas) or np.isnan(self.deltas[worst]) \
            else self.deltas[worst]
        return RegionResult(plan.index, np.ascontiguousarray(plan.one_hot[:, plan.crop]), hypothetical,
                            prediction, len(plan.starts), status, error, delta)


@dataclass
class RegionState:
    """A long region's attribution stopped between two batches: what a resumed run continues from.

    Attributes
    ----------
    index
        Row of the region in the table the run was given (as :attr:`RegionResult.index`).
    windows_done
        How many of its windows (:func:`seqsal.regions.tile_starts`, in order) are in the sums.
    total, weight
        The stitcher's sums: ``(4, fetched length)`` float32 summed (``mean``) or kept (``centre``) hypothetical
        contributions on the strand the model sees, and ``(fetched length,)`` float32 window counts (``mean``) or
        distances to the nearest window centre so far (``centre``, ``inf`` where no window yet).
    predictions, errors, deltas
        ``(windows_done,)`` float64 predictions of those windows, their completeness errors and the
        ``f(window) - mean f(baselines)`` the errors are of (both empty when the method has none; ``deltas`` NaN in
        a checkpoint of an older seqsal).
    nonfinite
        Whether one of those windows gave NaN/Inf.
    window, starts, mode
        The model window, the windows' starts and the stitching they were summed with: a state is continued only
        by a run of the same windows (review27: one of another stride was mixed in through the API).
    """

    index: int
    windows_done: int
    total: np.ndarray
    weight: np.ndarray
    predictions: np.ndarray
    errors: np.ndarray
    nonfinite: bool
    window: int
    starts: np.ndarray
    mode: str
    deltas: np.ndarray = field(default_factory=lambda: np.zeros(0))


def state_of(stitcher: Stitcher, index: int) -> RegionState:
    """A copy of ``stitcher``'s sums as a :class:`RegionState` (``index``: the region's row in the run's table)."""
    return RegionState(index, len(stitcher.predictions), stitcher.total.copy(), stitcher.weight.copy(),
                       np.asarray(stitcher.predictions, np.float64), np.asarray(stitcher.errors, np.float64),
                       stitcher.nonfinite, int(stitcher.plan.window), np.asarray(stitcher.plan.starts, np.int64),
                       stitcher.mode, np.asarray(stitcher.deltas, np.float64))


def restored_stitcher(plan: WindowPlan, mode: str, state: RegionState) -> Stitcher:
    """A stitcher of ``plan`` holding ``state``'s sums (refused when they do not fit the region's windows)."""
    stitcher = Stitcher(plan, mode)
    if (state.window, state.mode) != (plan.window, mode) or not np.array_equal(state.starts, plan.starts):
        raise InputError(f"{option('resume')}: the part-done region was summed over other windows (window "
                         f"{state.window}, {len(state.starts)} windows, {state.mode} stitching; this run: "
                         f"{plan.window}, {len(plan.starts)}, {mode}); continue it with the options it was made "
                         f"with, or start over ({option('force')})")
    if state.total.shape != stitcher.total.shape or state.weight.shape != stitcher.weight.shape \
            or not 0 < state.windows_done < len(plan.starts) or len(state.predictions) != state.windows_done:
        raise InputError(f"{option('resume')}: the part-done region in the checkpoint does not fit this run's windows "
                         f"(a damaged .partial/region_state.npz); use {option('force')} to start over")
    stitcher.total[:], stitcher.weight[:] = state.total, state.weight
    stitcher.predictions, stitcher.errors = [float(v) for v in state.predictions], [float(v) for v in state.errors]
    stitcher.deltas = ([float(v) for v in state.deltas] if len(state.deltas) == len(state.errors)
                       else [np.nan] * len(state.errors))
    stitcher.nonfinite = bool(state.nonfinite)
    return stitcher


def window_focus(plan: WindowPlan, offset: int, stitch: str = "mean") -> tuple[int, int]:
    """The region's bases in one model window ``[start, end)`` (window coordinates, the strand the model sees) that
    ISM mutates: with ``stitch="centre"`` only those the window gives the track (nearest centre, the first on a tie:
    :class:`Stitcher`; long23: each was mutated in every window covering it)."""
    length, start, end = plan.model_input.shape[1], plan.crop.start, plan.crop.stop
    if plan.minus:
        start, end = length - end, length - start
    if stitch == "centre":  # p > the midpoint of this centre and the previous one; p <= that with the next one
        twice = 2 * np.unique(plan.starts) + plan.window - 1  # twice each window centre: whole numbers
        k = int(np.searchsorted(twice, 2 * offset + plan.window - 1))
        start = max(start, (int(twice[k - 1] + twice[k])) // 4 + 1) if k > 0 else start
        end = min(end, (int(twice[k] + twice[k + 1])) // 4 + 1) if k + 1 < len(twice) else end
    lo = min(plan.window, max(0, start - offset))
    return lo, max(lo, min(plan.window, end - offset))
