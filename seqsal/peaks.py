"""Peak calling: per-base attribution tracks -> seqlets and candidate regulatory elements.

Two scales are called:

* **seqlets** — motif-scale stretches (5–30 bp) of unusually high (``+``) or
  unusually negative (``-``) contribution: candidate transcription-factor sites;
* **elements** — clusters of significant seqlets (50–1,000 bp): candidate
  regulatory elements.

Statistics
----------
Each sign is called on its own, with its own null. For a sign ``s`` the track
``y = s * x`` is summed over sliding windows of ``window`` bases (windows that
touch an invalid base — N, padding past a chromosome end, beyond the region's
length — are never tested). The **tests** are the windows that are the
largest within ``window - 1`` bases on either side (non-overlapping local
maxima) and positive; their statistic is the window sum. The **null** is the
distribution of the same statistic under no signal:

``shuffle``
    the same candidates extracted, with the same rules, from attributions of
    dinucleotide-shuffled copies of a sample of the regions (computed by the
    engine; see :func:`shuffled_null`). P-values are empirical,
    ``(1 + #null >= s) / (n + 1)``; beyond the tenth-largest null value (where the
    empirical count is too small to resolve) an exponential tail is fitted to
    the top 25 % (at least 20 values) of the null (a generalized Pareto tail with
    shape 0, as in Knijnenburg et al. 2009), with the upper 80 % confidence
    bound of its scale so that a small null sample errs on the safe side. The
    top 5 % gave calls that swung with the null sample's random draw (0 to 197
    calls at FDR 0.05 over five seeds of the demo; 20-30 tail values, several
    from one shuffled region); the top 25 % gave 123-177 calls with empirical
    FDRs of 0.055-0.10 (see benchmarks/RESULTS.md).
``laplace``
    a one-sided Laplace (exponential) fitted to the bulk of the *observed*
    candidates of the run: location at their median, scale from their 55th–90th
    percentiles (as tfmodisco-lite's Laplace null does for window sums). Real
    sites sit in the upper tail and inflate the scale a little, which makes the
    null conservative.

Every candidate of the run, of both signs, is a test; Benjamini–Hochberg
q-values are taken over all of them and seqlets are the candidates with
``q <= fdr``. Only candidates with ``p <= fdr`` are kept while the tests are
streamed (BH passes no other, and the q-value of one that passes is reached at
a p-value ``<= fdr``), so the observed tests take no memory per region (the
``shuffle`` null's statistics, about ``null_fraction`` of the run's tests, are held);
every reported q-value is ``<= fdr`` and exactly the one BH over all tests
gives. A null with fewer than ``min_null_candidates`` values cannot be
fitted: that sign is not called (a warning says so), so a single short sequence
never floods the output. P-values lie in ``(0, 1]``.

A seqlet's extent is the maximal-scoring stretch of ``y - tau`` that contains
its summit (the best base of the tested window) within ``(max_length -
window) / 2`` bases of the window, ``tau = extend_fraction * (window sum /
window)``; it is at least ``min_length`` bases, never crosses an invalid base,
significant same-sign seqlets that overlap (or lie within ``merge_gap`` bases)
are folded into the more significant one — joined while the union stays within
``max_length``, dropped when their summit lies inside it (one call per site: a
21-bp site holds several 6-bp windows; see :func:`absorb_overlaps`) — and
same-sign neighbours that still overlap are cut at the midpoint of their summits. Its score is the summed
projected attribution over the extent (negative for ``-`` seqlets).

Defaults (6-bp windows, seqlets of at least 12 bp) were chosen on the
planted-motif benchmark (``benchmarks/peaks_planted.py``): short windows
resolve 10-bp motifs from background better than 10-bp windows, and
12-20-bp extents meet planted sites of 10-21 bp with >= 50 % reciprocal overlap.

Elements join significant seqlets of one sign and one region that lie within
``element_gap`` bases of each other (with no invalid base between), widened by
``element_flank`` on each side, to at least ``element_min_length`` and at most
``element_max_length`` bases. An element's p-value is the Simes combination of
its seqlets' p-values; its q-value is the smallest q-value of its seqlets (it
holds a discovery at that FDR); its score is the summed attribution of its
seqlets (so its sign always agrees with theirs; the flanks are not summed).

Coordinates are 0-based, half-open; ``offset_*`` are positions within a
region's row of ``attributions.npz`` (+ strand), ``start``/``end``/``summit``
genome positions.
"""
from __future__ import annotations

import bisect
import hashlib
import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from .errors import InputError
from .io import npz_members, write_table_atomic, write_text_atomic

log = logging.getLogger("seqsal")

NULLS = ("shuffle", "laplace")
PEAK_FILES = ("seqlets.bed", "elements.bed", "seqlets.tsv", "elements.tsv")
NULL_FILE = "null.npz"
SEQLET_COLUMNS = [
    "name", "region_index", "region_name", "chrom", "start", "end", "offset_start", "offset_end", "sign", "score",
    "pvalue", "qvalue", "summit", "summit_offset", "rank", "n_seqlets", "sequence", "duplicate_of",
]
API_COLUMNS = ["region_index", "offset_start", "offset_end", "sign", "score", "pvalue", "qvalue", "summit_offset",
               "rank", "n_seqlets"]
_CHUNK_POSITIONS = 1 << 20  # track positions per chunk when streaming rows (bounded memory: ~30 B each at peak)
_TAIL_COUNT = 10  # below this many null values at or above a score, the tail model takes over
_TAIL_FRACTION = 0.25  # share of the null sample the exponential tail is fitted to (see the module docstring)
LAPLACE_PERCENTILES = np.arange(55, 91, 5, dtype=np.float64)  # the bulk quantiles the Laplace null is fitted to


@dataclass
class PeakOptions:
    """Parameters of the peak caller (all recorded in ``run.json``).

    Attributes
    ----------
    fdr
        Target false discovery rate (Benjamini–Hochberg over all tests of the run).
    null
        ``shuffle`` (attributions of dinucleotide-shuffled copies) or ``laplace``
        (a fit to the bulk of the observed candidates).
    null_fraction
        Fraction of regions shuffled and attributed for the ``shuffle`` null
        (about that fraction of extra model work).
    window
        Width of the tested windows (bp).
    min_length, max_length
        Bounds of a seqlet's extent (bp).
    extend_fraction
        Per-base contribution, as a fraction of the window's mean, a flank base
        must beat to join a seqlet.
    element_gap, element_flank, element_min_length, element_max_length
        Seqlets closer than ``element_gap`` join one element; flanks and bounds (bp).
    min_null_candidates
        Fewest null values a sign's null is fitted from.
    merge_gap
        Significant same-sign seqlets that overlap or lie within this many bases join one seqlet.
    seed
        Seed of the region sample and the shuffles of the ``shuffle`` null.
    """

    fdr: float = 0.05
    null: str = "shuffle"
    null_fraction: float = 0.1
    window: int = 6
    min_length: int = 12
    max_length: int = 30
    extend_fraction: float = 0.15
    element_gap: int = 100
    element_flank: int = 20
    element_min_length: int = 50
    element_max_length: int = 1000
    min_null_candidates: int = 50
    merge_gap: int = 0
    seed: int = 0

    def check(self) -> "PeakOptions":
        """Raise :class:`InputError` on an out-of-range option; return ``self``."""
        if not 0 < self.fdr <= 1:
            raise InputError(f"--fdr must be in (0, 1], got {self.fdr}")
        if self.null not in NULLS:
            raise InputError(f"unknown --null {self.null!r}; choose shuffle or laplace")
        if not 0 < self.null_fraction <= 1:
            raise InputError(f"--null-fraction must be in (0, 1], got {self.null_fraction}")
        if not 2 <= self.window <= self.max_length:
            raise InputError(f"the seqlet window ({self.window}) must be at least 2 and at most max_length "
                             f"({self.max_length})")
        if not 1 <= self.min_length <= self.max_length:
            raise InputError(f"min_length ({self.min_length}) must be between 1 and max_length ({self.max_length})")
        if self.element_min_length > self.element_max_length:
            raise InputError("element_min_length must not exceed element_max_length")
        return self


# ---------------------------------------------------------------------------------------------------------------
# The numeric core: windows, candidates, nulls, Benjamini–Hochberg


def sliding_max(values: np.ndarray, width: int) -> np.ndarray:
    """Maximum over every window of ``width`` along the last axis (doubling: O(L log width)).

    Parameters
    ----------
    values
        ``(N, L)`` array (numbers or bool).
    width
        Window width, ``1 <= width <= L``.

    Returns
    -------
    np.ndarray
        ``(N, L - width + 1)``; element ``i`` is ``values[:, i:i + width].max(-1)``.
    """
    count = values.shape[1] - width + 1
    result, span = values, 1
    while span * 2 <= width:  # result[:, i] = max(values[:, i:i + span])
        result = np.maximum(result[:, :-span], result[:, span:])
        span *= 2
    if span < width:
        result = np.maximum(result[:, :count], result[:, width - span:width - span + count])
    return result[:, :count]


def window_sums(track: np.ndarray, valid: np.ndarray, window: int) -> np.ndarray:
    """Sums of ``track`` over every window of ``window`` bases; ``-inf`` where a window touches an invalid base.

    Parameters
    ----------
    track
        ``(N, L)`` per-base values.
    valid
        ``(N, L)`` bool, False at N bases, padding and beyond each row's length.

    Returns
    -------
    np.ndarray
        ``(N, L - window + 1)`` float64 (empty rows when ``L < window``).
    """
    n, length = track.shape
    if length < window:
        return np.zeros((n, 0))
    total = np.zeros((n, length + 1))
    np.cumsum(np.where(valid, track, 0), axis=1, dtype=np.float64, out=total[:, 1:])
    sums = total[:, window:] - total[:, :-window]
    if not valid.all():
        sums[sliding_max(~valid, window)] = -np.inf  # a window with any invalid base is never tested
    return sums


def find_candidates(track: np.ndarray, valid: np.ndarray, sign: int, window: int) -> tuple[np.ndarray, ...]:
    """The tests of one sign: positive window sums that are the largest within ``window - 1`` bases.

    Parameters
    ----------
    track, valid
        ``(N, L)`` per-base values and validity.
    sign
        ``+1`` (positive contribution) or ``-1`` (negative).
    window
        Window width (bp).

    Returns
    -------
    rows, starts, scores
        Row and first base of each tested window, and its sum of ``sign * track``
        (float64, > 0). Ties go to the leftmost window, so tested windows never overlap.
    """
    parts = [(rows, starts, scores) for s, rows, starts, scores in block_tests(track, valid, window) if s == sign]
    return tuple(np.concatenate([part[k] for part in parts]) for k in range(3))


def block_tests(track: np.ndarray, valid: np.ndarray, window: int,
                block: int | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """The tests of ``(N, L)`` tracks, ``(sign, rows, starts, scores)`` per block of window starts (``+`` then ``-``).

    Rows longer than ``block`` positions (default ``_CHUNK_POSITIONS``) are cut
    into blocks of window starts, each computed with the ``window - 1`` starts
    on either side that the local-maximum rule looks at, so one long row needs
    no row-long temporaries. The tests are those of :func:`find_candidates`.
    """
    block = _CHUNK_POSITIONS if block is None else block
    length = track.shape[1]
    n_starts = max(length - window + 1, 0)
    if n_starts <= block:
        sums = window_sums(track, valid, window)
        for sign in (1, -1):
            yield (sign, *_local_maxima(sums, window, sign))
        return
    reach = window - 1
    for first in range(0, n_starts, block):
        stop = min(first + block, n_starts)
        lo, hi = max(first - reach, 0), min(stop + reach, n_starts)
        sums = window_sums(track[:, lo:hi + window - 1], valid[:, lo:hi + window - 1], window)
        for sign in (1, -1):
            rows, starts, scores = _local_maxima(sums, window, sign)
            starts += lo
            keep = (starts >= first) & (starts < stop)
            yield sign, rows[keep], starts[keep], scores[keep]


def _local_maxima(sums: np.ndarray, window: int, sign: int = 1) -> tuple[np.ndarray, ...]:
    """Tests of ``sign * sums`` (``-inf`` windows, invalid, stay ``-inf``): see :func:`find_candidates`."""
    if sums.shape[1] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    reach = window - 1
    padded = np.empty((sums.shape[0], sums.shape[1] + 2 * reach), dtype=np.float32)
    padded[:, :reach] = -np.inf
    padded[:, reach + sums.shape[1]:] = -np.inf
    view = padded[:, reach:reach + sums.shape[1]]
    np.multiply(sums, sign, out=view, casting="same_kind")  # float32 halves the memory traffic of the comparisons
    if sign < 0:
        view[view == np.inf] = -np.inf  # invalid windows (-inf) flipped to +inf by the sign
    sums = view
    neighbours = sliding_max(padded, reach)  # neighbours[:, j] = max(padded[:, j:j + reach])
    left = neighbours[:, :sums.shape[1]]
    right = neighbours[:, reach + 1:reach + 1 + sums.shape[1]]
    keep = (sums > 0) & (sums > left) & (sums >= right)
    rows, starts = np.nonzero(keep)
    return rows.astype(np.int64), starts.astype(np.int64), sums[rows, starts].astype(np.float64)


@dataclass
class NullModel:
    """Survival function ``P(S >= s)`` of the candidate statistic under no signal, for one sign.

    ``kind`` is ``empirical`` (from null candidates, exponential tail beyond the
    resolvable range), ``laplace`` (exponential fitted to the bulk of the
    observed candidates) or ``none`` (too few values: nothing is called).
    """

    kind: str
    n: int
    sorted_values: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    location: float = float("nan")
    scale: float = float("nan")
    tail_mass: float = float("nan")
    sampled_from: int | None = None  # the number of null tests ``n`` was drawn from, when ``n`` is a sample

    @classmethod
    def empirical(cls, values: np.ndarray, min_count: int) -> "NullModel":
        values = np.sort(np.asarray(values, dtype=np.float64))
        n = values.shape[0]
        if n < min_count:
            return cls("none", n)
        n_tail = max(2 * _TAIL_COUNT, int(math.ceil(_TAIL_FRACTION * n)))
        top = values[n - n_tail:]
        location = float(top[0])
        # upper 80 % confidence bound of the exponential scale (2 k mean / scale ~ chi2 with 2k degrees of
        # freedom; Wilson-Hilferty quantile): a small null sample errs towards larger p-values
        dof = 2 * (n_tail - 1)
        chi2_low = dof * (1 - 2 / (9 * dof) - 0.8416 * math.sqrt(2 / (9 * dof))) ** 3
        scale = float(max(np.sum(top - location) * 2 / chi2_low, 1e-12))
        # count of null values >= location, as the empirical part would give it
        at_or_above = n - int(np.searchsorted(values, location, side="left"))
        return cls("empirical", n, values, location, scale, at_or_above / (n + 1))

    @classmethod
    def laplace(cls, observed: np.ndarray, min_count: int) -> "NullModel":
        observed = np.asarray(observed, dtype=np.float64)
        n = observed.shape[0]
        if n < min_count:
            return cls("none", n)
        return cls.laplace_from_quantiles(n, float(np.median(observed)), np.percentile(observed, LAPLACE_PERCENTILES))

    @classmethod
    def laplace_from_quantiles(cls, n: int, median: float, upper: np.ndarray) -> "NullModel":
        """The ``laplace`` null from the median and the :data:`LAPLACE_PERCENTILES` of ``n`` observed statistics."""
        percentiles = LAPLACE_PERCENTILES
        scales = (upper - median) / np.log(0.5 / (1 - percentiles / 100))
        scale = float(max(np.mean(scales), 1e-12))
        return cls("laplace", n, location=median, scale=scale, tail_mass=0.5)

    def pvalues(self, scores: np.ndarray) -> np.ndarray:
        """P-values ``(K,)`` in ``(0, 1]`` of candidate statistics ``scores`` ``(K,)``."""
        scores = np.asarray(scores, dtype=np.float64)
        if self.kind == "none":
            return np.ones_like(scores)
        tail = self.tail_mass * np.exp(-(scores - self.location) / self.scale)
        if self.kind == "laplace":
            return np.clip(tail, np.finfo(np.float64).tiny, 1.0)
        n = self.n
        count = n - np.searchsorted(self.sorted_values, scores, side="left")
        empirical = (1.0 + count) / (n + 1.0)
        p = np.where(count >= _TAIL_COUNT, empirical, np.minimum(empirical, tail))
        return np.clip(p, np.finfo(np.float64).tiny, 1.0)

    def describe(self) -> dict:
        return {"kind": self.kind, "n": int(self.n), "location": _finite(self.location),
                "scale": _finite(self.scale), "tail_mass": _finite(self.tail_mass),
                **({"sampled_from": int(self.sampled_from)} if self.sampled_from else {})}


def _finite(value: float):
    return None if not np.isfinite(value) else round(float(value), 8)


def benjamini_hochberg(pvalues: np.ndarray, n_tests: int | None = None) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values) ``(K,)`` of ``pvalues`` ``(K,)``, in ``[0, 1]``.

    ``n_tests`` (default ``K``): the number of tests when ``pvalues`` are only the
    smallest of them, all p-values ``<= t`` for some ``t`` (the others left out).
    Every q-value ``<= t`` is then exactly the one the full set gives (the minimum
    over ``p_(j) m / j`` is reached at a kept ``p_(j)``: a left-out term exceeds
    ``t m / j >= t``); q-values above ``t`` are lower bounds of the full ones.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    k = p.shape[0]
    m = k if n_tests is None else int(n_tests)
    if k > m:
        raise ValueError(f"{k} p-values for {m} tests")
    if k == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, k + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(k)
    q[order] = np.minimum(adjusted, 1.0)
    return q


# ---------------------------------------------------------------------------------------------------------------
# Chunks of tracks: one code path for numpy arrays (notebooks) and for run folders (streamed from disk)


@dataclass
class TrackChunk:
    """Consecutive rows of tracks: ``rows`` ``(n,)`` global row indices, ``track`` ``(n, L)`` float32,
    ``valid`` ``(n, L)`` bool, and optionally ``one_hot`` ``(n, 4, L)`` (for sequences)."""

    rows: np.ndarray
    track: np.ndarray
    valid: np.ndarray
    one_hot: np.ndarray | None = None


ChunkSource = Callable[[np.ndarray | None], Iterator[TrackChunk]]


def _array_chunks(track: np.ndarray, valid: np.ndarray, one_hot: np.ndarray | None = None) -> ChunkSource:
    def chunks(rows: np.ndarray | None = None) -> Iterator[TrackChunk]:
        wanted = np.arange(track.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
        step = max(1, _CHUNK_POSITIONS // max(track.shape[1], 1))
        for first in range(0, wanted.shape[0], step):
            index = wanted[first:first + step]
            if index.shape[0] == wanted.shape[0] and rows is None:
                yield TrackChunk(index, track, valid, one_hot)
            else:
                yield TrackChunk(index, track[index], valid[index], None if one_hot is None else one_hot[index])

    return chunks


def _as_tracks(track, lengths=None, valid=None, name: str = "track") -> tuple[np.ndarray, np.ndarray]:
    array = np.asarray(track, dtype=np.float32)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2:
        raise InputError(f"{name} must be (L,) or (N, L), got shape {array.shape}")
    mask = np.isfinite(array)
    if valid is not None:
        given = np.asarray(valid, dtype=bool)
        given = given[None] if given.ndim == 1 else given
        if given.shape != array.shape:
            raise InputError(f"valid mask of {name} has shape {given.shape}, expected {array.shape}")
        mask &= given
    if lengths is not None:
        lengths = np.atleast_1d(np.asarray(lengths, dtype=np.int64))
        if lengths.shape[0] != array.shape[0]:
            raise InputError(f"lengths of {name} has {lengths.shape[0]} entries for {array.shape[0]} rows")
        mask &= np.arange(array.shape[1])[None, :] < lengths[:, None]
    return np.where(mask, array, np.float32(0)).astype(np.float32, copy=False), mask


# ---------------------------------------------------------------------------------------------------------------
# The caller


@dataclass
class PeakCalls:
    """The result of a call: ``seqlets`` and ``elements`` tables, and ``info`` (null, counts; for ``run.json``)."""

    seqlets: pd.DataFrame
    elements: pd.DataFrame
    info: dict


def _iter_candidates(source: ChunkSource, window: int, rows: np.ndarray | None = None) -> Iterator[tuple]:
    """``(sign, rows, starts, scores)`` of the tests of each chunk (``+`` then ``-``), with global row indices.

    Every row's tests depend on that row alone, so any pass over any rows finds the same ones.
    """
    for chunk in source(rows):
        for sign, local, starts, scores in block_tests(chunk.track, chunk.valid, window):
            yield sign, chunk.rows[local], starts, scores


_TESTS_HELD = 1 << 22  # tests kept between passes (16 B each: 64 MB at most); beyond, every pass recomputes them


class TestStream:
    """The tests of a chunk source, ``(sign, rows, starts, scores)`` per chunk and sign, iterable many times.

    The first pass computes them (:func:`_iter_candidates`: window sums and local
    maxima over the whole track); while they number at most ``limit`` they are
    kept (starts as int32, scores as the float32 they were computed in: exact)
    and later passes replay them, else every pass recomputes them (bounded memory
    for tracks of any size).
    """

    __test__ = False  # not a pytest class

    def __init__(self, source: ChunkSource, window: int, limit: int | None = None):
        self.source, self.window = source, window
        self.limit = _TESTS_HELD if limit is None else limit
        self._held: list | None = None

    @property
    def held(self) -> bool:
        return self._held is not None

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        if self._held is not None:
            for sign, rows, starts, scores in self._held:
                yield sign, rows, starts.astype(np.int64), scores.astype(np.float64)
            return
        held: list | None = []
        count = 0
        for sign, rows, starts, scores in _iter_candidates(self.source, self.window):
            if held is not None:
                count += rows.shape[0]
                held = held if count <= self.limit else None
                if held is not None:
                    held.append((sign, rows, starts.astype(np.int32), scores.astype(np.float32)))
            yield sign, rows, starts, scores
        self._held = held

    def keys(self, sign: int) -> np.ndarray:
        """Sorted ``row * 2**32 + start`` of the held tests of ``sign`` (call only when :attr:`held`)."""
        parts = [rows.astype(np.int64) * (1 << 32) + starts for s, rows, starts, _ in self._held if s == sign]
        return np.sort(np.concatenate(parts), kind="stable") if parts else np.zeros(0, np.int64)


_NULL_HELD = 1 << 22  # null statistics kept per sign (8 B each: 32 MB); beyond, a uniform random sample of them


def _null_scores(source: ChunkSource, window: int, limit: int | None = None,
                 seed: int = 0) -> tuple[dict[int, np.ndarray], dict[int, int]]:
    """The statistics of the null's tests per sign, and how many tests each sign had.

    The empirical null is their distribution: all of them while a sign has at
    most ``limit`` (:data:`_NULL_HELD`), else a uniform random sample of
    ``limit / 2`` to ``limit`` of them (each test kept with probability
    ``2**-k``, halving the sample whenever it overflows; deterministic for a
    seed), so memory stays bounded however many regions the null covers. A
    sample of 2**21 or more resolves p-values down to ~5e-7, below which the
    exponential tail takes over as it does for any null.
    """
    limit = _NULL_HELD if limit is None else limit
    rng = np.random.default_rng(seed)
    found: dict[int, list] = {1: [], -1: []}
    held = {1: 0, -1: 0}
    total = {1: 0, -1: 0}
    halvings = {1: 0, -1: 0}
    for sign, _, _, scores in _iter_candidates(source, window):
        total[sign] += scores.shape[0]
        if halvings[sign]:
            scores = scores[rng.random(scores.shape[0]) < 0.5 ** halvings[sign]]
        found[sign].append(scores)
        held[sign] += scores.shape[0]
        while held[sign] > limit:
            merged = np.concatenate(found[sign])
            merged = merged[rng.random(merged.shape[0]) < 0.5]
            found[sign], held[sign] = [merged], merged.shape[0]
            halvings[sign] += 1
    scores = {sign: np.concatenate(parts) if parts else np.zeros(0) for sign, parts in found.items()}
    return scores, total


def _bits(scores: np.ndarray) -> np.ndarray:
    """Bit patterns of positive statistics (float32 values held as float64): they sort as the values do."""
    return scores.astype(np.float32).view(np.uint32)


def _high_histograms(tests: TestStream) -> dict[int, np.ndarray]:
    """Per sign, counts of the tests' statistics by the upper 16 bits of their float32 pattern (one pass)."""
    high = {sign: np.zeros(1 << 16, np.int64) for sign in (1, -1)}
    for sign, _, _, scores in tests:
        high[sign] += np.bincount(_bits(scores) >> 16, minlength=1 << 16)
    return high


def _order_statistics(tests: TestStream, high: dict[int, np.ndarray],
                      ranks: dict[int, list[int]]) -> dict[int, dict[int, float]]:
    """Exact order statistics (0-based ``ranks``, ascending) of each sign's test statistics, in bounded memory.

    ``high`` is :func:`_high_histograms`; one more pass counts the lower 16 bits within the upper bins
    that hold a wanted rank, which pins each value down exactly.
    """
    bits = _bits
    wanted: dict[int, dict[int, tuple[int, int]]] = {}  # sign -> rank -> (upper bin, rank within it)
    for sign, rank_list in ranks.items():
        below = np.concatenate([[0], np.cumsum(high[sign])])
        bins = np.searchsorted(below, np.asarray(rank_list, np.int64), side="right") - 1
        wanted[sign] = {int(r): (int(b), int(r - below[b])) for r, b in zip(rank_list, bins)}
    low = {sign: {b: np.zeros(1 << 16, np.int64) for b, _ in wanted[sign].values()} for sign in ranks}
    for sign, _, _, scores in tests:
        if sign not in ranks:
            continue
        pattern = bits(scores)
        upper = pattern >> 16
        for b, counts in low[sign].items():
            counts += np.bincount(pattern[upper == b] & 0xFFFF, minlength=1 << 16)
    result: dict[int, dict[int, float]] = {}
    for sign in ranks:
        result[sign] = {}
        for rank, (b, within) in wanted[sign].items():
            lower = int(np.searchsorted(np.cumsum(low[sign][b]), within, side="right"))
            value = np.array([(b << 16) | lower], np.uint32).view(np.float32)[0]
            result[sign][rank] = float(value)
    return result


def _laplace_nulls(tests: TestStream, options: PeakOptions) -> dict[int, NullModel]:
    """:meth:`NullModel.laplace` of each sign's observed tests, without holding them (two passes).

    The median and percentiles are interpolated between exact order statistics as ``np.median`` and
    ``np.percentile`` (linear) interpolate them, so the fit is the one of the whole array.
    """
    high = _high_histograms(tests)
    counts = {sign: int(high[sign].sum()) for sign in (1, -1)}
    models = {sign: NullModel("none", n) for sign, n in counts.items() if n < options.min_null_candidates}
    plans, ranks = {}, {}  # ranks: the order statistics np.median / np.percentile would read
    q = np.true_divide(LAPLACE_PERCENTILES, 100)
    for sign, n in counts.items():
        if sign in models:
            continue
        median_ranks = [n // 2 - 1, n // 2] if n % 2 == 0 else [n // 2]
        virtual = (n - 1) * q  # as numpy's "linear" method
        previous = np.floor(virtual)
        gamma = virtual - previous.astype(np.intp)
        previous = previous.astype(np.intp)
        plans[sign] = (median_ranks, previous, gamma)
        ranks[sign] = sorted({*median_ranks, *previous.tolist(), *(previous + 1).tolist()})
    values = _order_statistics(tests, high, ranks) if ranks else {}
    for sign, (median_ranks, previous, gamma) in plans.items():
        at = values[sign]
        median = float(np.mean(np.array([at[r] for r in median_ranks])))
        a = np.array([at[r] for r in previous.tolist()])
        b = np.array([at[r + 1] for r in previous.tolist()])
        diff = b - a
        upper = np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)
        models[sign] = NullModel.laplace_from_quantiles(counts[sign], median, upper)
    return {sign: models[sign] for sign in (1, -1)}


def _fit_nulls(options: PeakOptions, tests: TestStream, null_source: ChunkSource | None) -> tuple[dict, str]:
    """Per-sign :class:`NullModel` and the name of the null used."""
    if null_source is not None:
        null_scores, null_tests = _null_scores(null_source, options.window, seed=options.seed)
        models = {sign: NullModel.empirical(null_scores[sign], options.min_null_candidates) for sign in (1, -1)}
        del null_scores
        for sign, model in models.items():
            if null_tests[sign] > model.n:
                model.sampled_from = null_tests[sign]
        if all(model.kind != "none" for model in models.values()):
            return models, "shuffle"
        log.warning("the shuffled null holds too few candidates (%s; need %d per sign): using the Laplace null",
                    ", ".join(f"{'+' if s > 0 else '-'}: {models[s].n}" for s in (1, -1)),
                    options.min_null_candidates)
    models = _laplace_nulls(tests, options)
    for sign, model in models.items():
        if model.kind == "none":
            log.warning("too few %s candidates (%d < %d) to fit a null: no %s seqlets are called; give a longer "
                        "track or a null sample", "positive" if sign > 0 else "negative", model.n,
                        options.min_null_candidates, "positive" if sign > 0 else "negative")
    return models, "laplace"


def _significant_tests(tests: TestStream, models: dict, options: PeakOptions) -> tuple[pd.DataFrame, int, float]:
    """One streaming pass over the tests: the ones that can pass BH (``p <= fdr``), with their q-values.

    Returns the significant tests (``q <= fdr``; ``+`` then ``-``, each in row order, as the
    whole table of tests would list them), the number of tests and the smallest p-value. A test
    with ``p > fdr`` never passes, and the q-value of every test that passes is reached at a
    p-value ``<= fdr`` (see :func:`benjamini_hochberg`), so all others are dropped when tested.
    """
    kept: dict[int, list] = {1: [], -1: []}
    n_tests, smallest = 0, 1.0
    for sign, rows, starts, scores in tests:
        pvalue = models[sign].pvalues(scores)
        n_tests += int(pvalue.shape[0])
        if pvalue.shape[0]:
            smallest = min(smallest, float(pvalue.min()))
        keep = pvalue <= options.fdr
        if keep.any():
            kept[sign].append((rows[keep], starts[keep], scores[keep], pvalue[keep]))
    tables = []
    for sign in (1, -1):
        parts = kept.pop(sign)
        rows, starts, scores, pvalue = (np.concatenate([part[k] for part in parts]) if parts else
                                        np.zeros(0, np.int64 if k < 2 else np.float64) for k in range(4))
        tables.append(pd.DataFrame({"region_index": rows.astype(np.int64), "window_start": starts.astype(np.int64),
                                    "sign": np.full(rows.shape[0], sign, np.int64), "statistic": scores,
                                    "pvalue": pvalue}))
    tests = pd.concat(tables, ignore_index=True)
    tests["qvalue"] = benjamini_hochberg(tests["pvalue"].to_numpy(), n_tests)
    return tests[tests["qvalue"] <= options.fdr], n_tests, smallest


def _extents(track: np.ndarray, valid: np.ndarray, rows: np.ndarray, starts: np.ndarray, signs: np.ndarray,
             scores: np.ndarray, options: PeakOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Extent ``[a, b)`` and summit of significant candidates (row-local indices into ``track``)."""
    w, length = options.window, track.shape[1]
    extra = max(0, (options.max_length - w) // 2)
    reach = w + extra
    if rows.shape[0] == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    core = starts[:, None] + np.arange(w)[None, :]
    summits = starts + np.argmax(track[rows[:, None], core] * signs[:, None], axis=1)
    tau = options.extend_fraction * scores / w

    def best_extension(direction: int) -> tuple[np.ndarray, np.ndarray]:
        steps = np.arange(reach)[None, :]
        index = summits[:, None] + direction * (steps + 1)
        limit_lo, limit_hi = starts - extra, starts + w + extra - 1
        inside = (index >= np.maximum(limit_lo, 0)[:, None]) & (index <= np.minimum(limit_hi, length - 1)[:, None])
        safe = np.clip(index, 0, length - 1)
        allowed = np.logical_and.accumulate(inside & valid[rows[:, None], safe], axis=1)
        gain = np.where(allowed, track[rows[:, None], safe] * signs[:, None] - tau[:, None], -np.inf)
        cumulative = np.concatenate([np.zeros((rows.shape[0], 1)), np.cumsum(gain, axis=1)], axis=1)
        return np.argmax(cumulative, axis=1), allowed.sum(axis=1)

    left, left_room = best_extension(-1)
    right, right_room = best_extension(1)
    short = np.maximum(options.min_length - (left + right + 1), 0)
    add_left = np.minimum(short // 2, left_room - left)
    add_right = np.minimum(short - add_left, right_room - right)
    add_left = np.minimum(short - add_right, left_room - left)
    first, stop = summits - left - add_left, summits + right + add_right + 1
    span = first[:, None] + np.arange(reach + extra + 1)[None, :]
    inside = span < stop[:, None]
    values = np.where(inside, track[rows[:, None], np.minimum(span, length - 1)] * signs[:, None], -np.inf)
    return first, stop, first + np.argmax(values, axis=1)  # summit: the best base of the extent


def absorb_overlaps(region: np.ndarray, sign: np.ndarray, start: np.ndarray, end: np.ndarray, summit: np.ndarray,
                    order: np.ndarray, gap: int, max_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One call per site: fold same-sign seqlets of a region into the more significant ones they overlap.

    Seqlets are visited from the most significant (``order``). One that overlaps
    (or lies within ``gap`` bases of) a kept seqlet of its region and sign is
    joined to it when the union is at most ``max_length`` bases, dropped when
    its summit lies inside the kept one, and kept otherwise.

    Parameters
    ----------
    region, sign, start, end, summit
        ``(K,)`` seqlets; ``[start, end)`` and ``summit`` are row offsets.
    order
        ``(K,)`` indices, most significant first.

    Returns
    -------
    keep, start, end
        ``(K,)`` bool and the new ``[start, end)`` of kept seqlets.
    """
    start, end = start.astype(np.int64).copy(), end.astype(np.int64).copy()
    keep = np.zeros(start.shape[0], bool)
    # a seqlet that can overlap i starts within max_length + gap before i's end: look only there (sorted keys)
    key = (region.astype(np.int64) * 2 + (sign > 0)) * (1 << 40) + start
    by_key = np.argsort(key, kind="stable")
    sorted_key = key[by_key]
    lo = np.searchsorted(sorted_key, key - max_length - gap, "left")
    hi = np.searchsorted(sorted_key, key + (end - start) + gap, "right")
    for i in order.tolist():  # sequential by construction; K (the calls) is small
        for j in by_key[lo[i]:hi[i]].tolist():
            if not keep[j] or not (start[i] <= end[j] + gap and start[j] <= end[i] + gap):
                continue
            united_lo, united_hi = min(start[i], start[j]), max(end[i], end[j])
            if united_hi - united_lo <= max_length:
                start[j], end[j] = united_lo, united_hi
                break
            if start[j] <= summit[i] < end[j]:
                break
        else:
            keep[i] = True
    return keep, start, end


def _merge_overlaps(frame: pd.DataFrame, options: PeakOptions) -> pd.DataFrame:
    """:func:`absorb_overlaps` on a table of significant candidates with extents (most significant first)."""
    if frame.empty:
        return frame
    order = np.lexsort((-frame["statistic"].to_numpy(), frame["pvalue"].to_numpy()))
    keep, start, end = absorb_overlaps(frame["region_index"].to_numpy(), frame["sign"].to_numpy(),
                                       frame["offset_start"].to_numpy(), frame["offset_end"].to_numpy(),
                                       frame["summit_offset"].to_numpy(), order, options.merge_gap, options.max_length)
    return frame.assign(offset_start=start, offset_end=end)[keep]


def _split_overlaps(frame: pd.DataFrame) -> pd.DataFrame:
    """Cut overlapping same-sign seqlets of a region at the midpoint of their summits."""
    frame = frame.sort_values(["region_index", "sign", "offset_start"], kind="stable").reset_index(drop=True)
    start, end, summit = (frame[c].to_numpy().copy() for c in ("offset_start", "offset_end", "summit_offset"))
    same = (frame["region_index"].to_numpy()[1:] == frame["region_index"].to_numpy()[:-1]) & \
           (frame["sign"].to_numpy()[1:] == frame["sign"].to_numpy()[:-1])
    overlap = np.nonzero(same & (end[:-1] > start[1:]))[0]
    for k in overlap:
        cut = (summit[k] + summit[k + 1] + 1) // 2
        end[k] = max(summit[k] + 1, min(end[k], cut))
        start[k + 1] = min(summit[k + 1], max(start[k + 1], cut))
    return frame.assign(offset_start=start, offset_end=end)


def _decode(one_hot: np.ndarray) -> str:
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)[one_hot.argmax(axis=0)]
    return np.where(one_hot.max(axis=0) == 1, letters, ord("N")).astype(np.uint8).tobytes().decode("ascii")


def _seqlet_table(source: ChunkSource, candidates: pd.DataFrame, options: PeakOptions) -> pd.DataFrame:
    """Extents, summits, scores (and sequences when the source has one-hot) of the significant candidates."""
    parts = []
    candidates = candidates.sort_values(["region_index", "window_start"], kind="stable")
    region = candidates["region_index"].to_numpy(np.int64)
    wanted = np.unique(region)
    for chunk in source(wanted):
        lo, hi = np.searchsorted(region, chunk.rows[0], "left"), np.searchsorted(region, chunk.rows[-1], "right")
        block = candidates.iloc[lo:hi]
        block = block[np.isin(block["region_index"].to_numpy(), chunk.rows)]
        rows = np.searchsorted(chunk.rows, block["region_index"].to_numpy(np.int64))
        signs = block["sign"].to_numpy(dtype=np.int64)
        a, b, summit = _extents(chunk.track, chunk.valid, rows, block["window_start"].to_numpy(np.int64), signs,
                                block["statistic"].to_numpy(), options)
        frame = block.assign(offset_start=a, offset_end=b, summit_offset=summit, _local=rows)
        frame = _split_overlaps(_merge_overlaps(frame, options))
        rows, a, b = frame["_local"].to_numpy(), frame["offset_start"].to_numpy(), frame["offset_end"].to_numpy()
        frame["score"] = _span_sums(chunk.track, rows, a, b)
        if chunk.one_hot is not None:
            frame["sequence"] = [_decode(chunk.one_hot[r, :, s:e]) for r, s, e in zip(rows, a, b)]
        parts.append(frame.drop(columns="_local"))
    return pd.concat(parts, ignore_index=True)


def _span_sums(track: np.ndarray, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``track[rows[i], starts[i]:ends[i]].sum()`` for every ``i`` (float64; spans are seqlet-short)."""
    if rows.shape[0] == 0:
        return np.zeros(0)
    offsets = np.arange(int((ends - starts).max()))[None, :]
    index = starts[:, None] + offsets
    inside = index < ends[:, None]
    values = track[rows[:, None], np.minimum(index, track.shape[1] - 1)].astype(np.float64)
    return np.where(inside, values, 0.0).sum(axis=1)


def _elements(seqlets: pd.DataFrame, source: ChunkSource, options: PeakOptions,
              tests: TestStream | None = None) -> pd.DataFrame:
    """Join significant seqlets into elements (one sign, one region each); see the module docstring.

    Seqlets are grouped row by row (a short loop over the calls); the elements' bounds, test counts, Simes
    p-values, scores and summits are then computed for all groups at once.
    """
    columns = ["region_index", "offset_start", "offset_end", "sign", "score", "pvalue", "qvalue", "summit_offset",
               "n_seqlets", "sequence"]
    if seqlets.empty:
        return pd.DataFrame(columns=columns)
    ordered = seqlets.sort_values(["region_index", "sign", "offset_start"], kind="stable")
    region, sign, first, stop, pvalue, qvalue, summit, score = (
        ordered[c].to_numpy() for c in ("region_index", "sign", "offset_start", "offset_end", "pvalue", "qvalue",
                                         "summit_offset", "score"))
    held_keys = {s: tests.keys(s) for s in (1, -1)} if tests is not None and tests.held else None
    parts: list[dict] = []
    for chunk in source(np.unique(region)):
        if held_keys is not None:
            test_keys = held_keys
        else:  # the tests of these rows (the same as the run's: a row's tests depend on that row alone)
            found: dict[int, list] = {1: [], -1: []}
            for s, local, starts, _ in block_tests(chunk.track, chunk.valid, options.window):
                found[s].append(chunk.rows[local].astype(np.int64) * (1 << 32) + starts.astype(np.int64))
            test_keys = {s: np.sort(np.concatenate(found_parts)) for s, found_parts in found.items()}
        groups = _group_seqlets(chunk, region, sign, first, stop, options)
        if groups is None:
            continue
        _element_bounds(groups, options)
        groups["n_tests"] = np.zeros(groups["row"].shape[0], np.int64)
        for s in (1, -1):
            mask = groups["sign"] == s
            base = groups["row"][mask] * (1 << 32)
            keys = test_keys[s]
            groups["n_tests"][mask] = (np.searchsorted(keys, base + groups["end"][mask] - options.window, side="right")
                                       - np.searchsorted(keys, base + groups["start"][mask], side="left"))
        if chunk.one_hot is not None:
            local = np.searchsorted(chunk.rows, groups["row"])
            groups["sequence"] = [_decode(chunk.one_hot[k, :, a:b])
                                  for k, a, b in zip(local, groups["start"], groups["end"])]
        parts.append(groups)
    if not parts:
        return pd.DataFrame(columns=columns)
    groups = {key: np.concatenate([part[key] for part in parts]) for key in parts[0] if key != "sequence"}
    groups["sequence"] = [text for part in parts for text in part.get("sequence", [None] * part["row"].shape[0])]
    return _element_table(groups, pvalue, qvalue, summit, score, columns)


def _group_seqlets(chunk: TrackChunk, region, sign, first, stop, options: PeakOptions) -> dict | None:
    """Groups of same-sign seqlets of the chunk's rows, as arrays: row, sign, first/last base, seqlet range
    ``[t0, t1)`` (indices into the ordered seqlet arrays), valid stretch ``[lo, hi)`` holding them."""
    i, hi = np.searchsorted(region, chunk.rows[0], "left"), np.searchsorted(region, chunk.rows[-1], "right")
    out: dict[str, list] = {key: [] for key in ("row", "sign", "first", "last", "t0", "t1", "lo", "hi")}
    while i < hi:
        row = int(region[i])
        j = int(np.searchsorted(region, row, "right"))
        k = int(np.searchsorted(chunk.rows, row))
        if k < len(chunk.rows) and chunk.rows[k] == row:
            valid = chunk.valid[k]
            length = valid.shape[0]
            invalid = None if valid.all() else np.flatnonzero(~valid)
            current = None  # [sign, first, last, t0]
            for t in range(i, j + 1):
                if t < j:
                    a, b, s = int(first[t]), int(stop[t]), int(sign[t])
                    if current is not None and current[0] == s:
                        span = max(current[2], b) - current[1] + 2 * options.element_flank
                        clear = invalid is None or (np.searchsorted(invalid, max(a, current[2]))
                                                    == np.searchsorted(invalid, current[2]))
                        if a - current[2] <= options.element_gap and clear and span <= options.element_max_length:
                            current[2] = max(current[2], b)
                            continue
                if current is not None:  # close the current group
                    s0, a0, b0, t0 = current
                    if invalid is None:
                        lo, hi_bound = 0, length
                    else:  # the contiguous valid stretch holding the seqlets bounds the element
                        before = int(np.searchsorted(invalid, a0))
                        lo = int(invalid[before - 1]) + 1 if before else 0
                        hi_bound = int(invalid[before]) if before < invalid.shape[0] else length
                    for key, value in zip(out, (row, s0, a0, b0, t0, t, lo, hi_bound)):
                        out[key].append(value)
                if t < j:
                    current = [s, a, b, t]
        i = j
    if not out["row"]:
        return None
    return {key: np.asarray(values, dtype=np.int64) for key, values in out.items()}


def _element_bounds(groups: dict, options: PeakOptions) -> None:
    """``start``/``end`` of each element: its seqlets widened by the flank, grown to the minimum length, all
    within the valid stretch ``[lo, hi)`` (adds the keys to ``groups``)."""
    lo, hi = groups["lo"], groups["hi"]
    start = np.maximum(lo, groups["first"] - options.element_flank)
    end = np.minimum(hi, groups["last"] + options.element_flank)
    short = options.element_min_length - (end - start)
    grow = short > 0
    grow_left = np.minimum(short // 2, start - lo)
    grow_right = np.minimum(short - grow_left, hi - end)
    grow_left = np.minimum(short - grow_right, start - lo)
    groups["start"] = np.where(grow, start - grow_left, start)
    groups["end"] = np.where(grow, end + grow_right, end)


def _element_table(groups: dict, pvalue, qvalue, summit, score, columns: list[str]) -> pd.DataFrame:
    """Elements of the groups: summed seqlet score, Simes p-value over the element's tests, smallest q-value,
    summit of the strongest seqlet."""
    t0, t1 = groups["t0"], groups["t1"]
    sizes = t1 - t0
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    gid = np.repeat(np.arange(sizes.shape[0]), sizes)
    members = t0[gid] + (np.arange(gid.shape[0]) - offsets[gid])
    n_tests = np.maximum(groups["n_tests"], sizes)
    strength = np.abs(score[members])
    is_best = strength == np.maximum.reduceat(strength, offsets)[gid]
    best = members[np.minimum.reduceat(np.where(is_best, np.arange(gid.shape[0]), gid.shape[0]), offsets)]
    order = np.lexsort((pvalue[members], gid))  # by group, then p-value
    rank = np.arange(gid.shape[0]) - offsets[gid] + 1
    simes = np.minimum.reduceat(n_tests[gid] * pvalue[members][order] / rank, offsets)
    return pd.DataFrame({
        "region_index": groups["row"], "offset_start": groups["start"], "offset_end": groups["end"],
        "sign": groups["sign"],
        # its seqlets' summed attribution: the flanks around them may hold the other sign, and the sum over the
        # whole element could then contradict the element's sign (an element '-' scored +4.09 was seen)
        "score": np.add.reduceat(score[members].astype(np.float64), offsets),
        "pvalue": np.minimum(simes, 1.0), "qvalue": np.minimum.reduceat(qvalue[members].astype(np.float64), offsets),
        "summit_offset": summit[best].astype(np.int64), "n_seqlets": sizes,
        "sequence": groups["sequence"],
    }, columns=columns)


def _rank(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame.assign(rank=pd.Series(dtype=np.int64))
    order = np.lexsort((frame["offset_start"].to_numpy(), frame["region_index"].to_numpy(),
                        -np.abs(frame["score"].to_numpy()), frame["pvalue"].to_numpy()))
    rank = np.empty(len(frame), dtype=np.int64)
    rank[order] = np.arange(1, len(frame) + 1)
    return frame.assign(rank=rank)


def call_source(source: ChunkSource, options: PeakOptions, null_source: ChunkSource | None = None) -> PeakCalls:
    """Call seqlets and elements on tracks served by ``source`` (see :class:`TrackChunk`).

    The tracks are streamed in bounded chunks and nothing is held per region or
    per test: one pass tests every candidate and keeps only those with
    ``p <= fdr`` (the only ones BH can pass; see :func:`benjamini_hochberg`) and
    the number of tests; the rows with calls are read again for extents,
    sequences and elements. The ``laplace`` null takes two more passes before
    that (exact order statistics of the observed tests, see :func:`_laplace_nulls`).
    ``null_source`` serves the null tracks of the ``shuffle`` null (its test
    statistics are held: they are the null distribution); without it the
    ``laplace`` null is used.
    """
    options.check()
    tests = TestStream(source, options.window)
    models, used = _fit_nulls(options, tests, null_source)
    significant, n_tests, smallest = _significant_tests(tests, models, options)
    info = {"null": used, "null_model": {"+": models[1].describe(), "-": models[-1].describe()},
            "n_tests": n_tests, "fdr": options.fdr, "options": asdict(options)}
    if significant.empty:
        log.info("no seqlet passed FDR %g (%d tests; smallest p-value %.3g): writing empty peak files",
                 options.fdr, n_tests, smallest if n_tests else float("nan"))
        seqlets = pd.DataFrame(columns=API_COLUMNS + ["window_start", "statistic", "sequence"])
    else:
        seqlets = _seqlet_table(source, significant, options)
    seqlets = _rank(seqlets.assign(n_seqlets=1))
    elements = _rank(_elements(seqlets, source, options, tests))
    info.update(n_seqlets=int(len(seqlets)), n_elements=int(len(elements)),
                n_seqlets_by_sign={"+": int((seqlets["sign"] == 1).sum()), "-": int((seqlets["sign"] == -1).sum())})
    return PeakCalls(seqlets, elements, info)


def _api_table(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.reindex(columns=API_COLUMNS).copy()
    out["sign"] = np.where(out["sign"].to_numpy() > 0, "+", "-") if len(out) else pd.Series(dtype=object)
    out = out.sort_values(["region_index", "offset_start", "offset_end", "sign"], kind="stable")
    return out.reset_index(drop=True).astype({c: np.int64 for c in ("region_index", "offset_start", "offset_end",
                                                                   "summit_offset", "rank", "n_seqlets")})


def call_peaks(
    track: np.ndarray,
    lengths: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    *,
    null_track: np.ndarray | None = None,
    null_lengths: np.ndarray | None = None,
    null_valid: np.ndarray | None = None,
    fdr: float = 0.05,
    level: str = "seqlets",
    **options,
) -> pd.DataFrame:
    """Call seqlets (or elements) on per-base attribution tracks held in memory.

    Parameters
    ----------
    track
        ``(L,)`` or ``(N, L)`` per-base projected attribution (hypothetical x
        one-hot summed over channels), + strand.
    lengths
        ``(N,)`` true length of each row (positions past it are padding).
    valid
        ``(L,)`` or ``(N, L)`` bool; False at N bases and padding (no call there).
        Non-finite values are invalid too.
    null_track, null_lengths, null_valid
        Attribution tracks of sequences without signal (e.g. dinucleotide-shuffled
        copies, see :func:`seqsal.dinucleotide_shuffle`): the ``shuffle`` null.
        Without them the ``laplace`` null (a fit to the bulk of ``track``) is used.
    fdr
        Target false discovery rate (Benjamini–Hochberg over all tests).
    level
        ``seqlets`` or ``elements``.
    options
        Other fields of :class:`PeakOptions` (``window``, ``max_length``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per call, sorted by row and position: ``region_index`` (row),
        ``offset_start``, ``offset_end`` (0-based half-open within the row),
        ``sign`` (``+``/``-``), ``score`` (summed attribution), ``pvalue``,
        ``qvalue``, ``summit_offset``, ``rank`` (1 = most significant),
        ``n_seqlets``. ``DataFrame.attrs["peaks"]`` holds the null used and counts.
    """
    if level not in ("seqlets", "elements"):
        raise InputError(f"unknown level {level!r}; choose seqlets or elements")
    unknown = set(options) - set(PeakOptions.__dataclass_fields__)
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(sorted(unknown))}; see seqsal.peaks.PeakOptions")
    values, mask = _as_tracks(track, lengths, valid)
    null_source = None
    if null_track is not None:
        null_values, null_mask = _as_tracks(null_track, null_lengths, null_valid, "null_track")
        null_source = _array_chunks(null_values, null_mask)
    peak_options = PeakOptions(fdr=fdr, null="shuffle" if null_source is not None else "laplace", **options)
    calls = call_source(_array_chunks(values, mask), peak_options, null_source)
    table = _api_table(calls.seqlets if level == "seqlets" else calls.elements)
    table.attrs["peaks"] = calls.info
    return table


# ---------------------------------------------------------------------------------------------------------------
# Run folders: streamed reading of attributions.npz / null.npz, the shuffled null, output files


def _row_blocks(arrays: dict[str, np.ndarray], rows: np.ndarray,
                max_positions: int = _CHUNK_POSITIONS) -> Iterator[tuple[np.ndarray, dict]]:
    """Yield ``(row indices, {key: rows of array})`` for sorted ``rows``: runs of consecutive rows read at once."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return
    first_array = next(iter(arrays.values()))
    step = max(1, max_positions // max(int(np.prod(first_array.shape[1:])), 1))
    for run in np.split(rows, np.nonzero(np.diff(rows) != 1)[0] + 1):
        for first in range(0, run.shape[0], step):
            block = run[first:first + step]
            yield block, {key: np.asarray(array[block[0]:block[-1] + 1]) for key, array in arrays.items()}


def _valid_mask(one_hot: np.ndarray, lengths: np.ndarray, starts: np.ndarray, ends_limit: np.ndarray) -> np.ndarray:
    """``(n, L)`` True where a base is A/C/G/T, inside the region's length and inside its chromosome."""
    offsets = np.arange(one_hot.shape[2])[None, :]
    genome = starts[:, None] + offsets
    return ((one_hot.max(axis=1) == 1) & (offsets < lengths[:, None]) & (genome >= 0)
            & (genome < ends_limit[:, None]))


def _run_source(out: Path, regions: pd.DataFrame, chrom_sizes: dict[str, int]) -> ChunkSource:
    arrays = npz_members(out / "attributions.npz", ("one_hot", "hypothetical"))
    n = arrays["one_hot"].shape[0]
    if n != len(regions):
        raise InputError(f"attributions.npz holds {n} rows but regions.tsv {len(regions)}; the run is incomplete",
                         str(out))
    starts = regions["start"].to_numpy(np.int64)
    limits = regions["chrom"].map(chrom_sizes).fillna(0).to_numpy(np.int64)
    lengths = (regions["end"] - regions["start"]).to_numpy(np.int64)

    def chunks(rows: np.ndarray | None = None) -> Iterator[TrackChunk]:
        wanted = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
        for block, rows_of in _row_blocks(arrays, wanted):
            one_hot = rows_of["one_hot"]
            track = (rows_of["hypothetical"] * one_hot).sum(axis=1)
            valid = _valid_mask(one_hot, lengths[block], starts[block], limits[block])
            yield TrackChunk(block, np.where(valid, track, 0).astype(np.float32), valid, one_hot)

    return chunks


def _null_source(path: Path) -> ChunkSource:
    arrays = npz_members(path, ("projected", "valid"))
    n = arrays["projected"].shape[0]

    def chunks(rows: np.ndarray | None = None) -> Iterator[TrackChunk]:
        wanted = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
        for block, rows_of in _row_blocks(arrays, wanted):
            yield TrackChunk(block, np.asarray(rows_of["projected"], np.float32), np.asarray(rows_of["valid"], bool))

    return chunks


def null_sample(regions: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """Indices of the regions whose shuffled copies make the null, chosen per region.

    A region is in the sample when a hash of its chrom, start, end, name and
    ``seed`` (a uniform number in [0, 1)) is below ``fraction``, so a run split
    into shards samples exactly the regions a single run would.
    """
    keys = _region_keys(regions)
    uniform = np.array([_uniform(f"sample\t{seed}\t{key}") for key in keys])
    return np.nonzero(uniform < fraction)[0].astype(np.int64)


def _region_keys(regions: pd.DataFrame) -> list[str]:
    return [f"{c}\t{s}\t{e}\t{n}" for c, s, e, n in
            zip(regions["chrom"], regions["start"], regions["end"], regions["name"])]


def _uniform(text: str) -> float:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") / 2.0 ** 64


def shuffled_fetch(fetch: Callable[[str, int, int], str], seed: int,
                   plan: list[tuple[str, int, int]] | None = None, block: int = 256) -> Callable[[str, int, int], str]:
    """A ``fetch`` that returns a dinucleotide shuffle of each requested stretch (N kept in place).

    The shuffle's seed is a hash of ``(seed, chrom, start, end)``: the same
    stretch always gets the same shuffle, whatever the order of requests.
    With ``plan`` (the stretches in the order they will be requested), a
    request that misses shuffles the next ``block`` planned stretches at once
    (one vectorised walk, :func:`seqsal.shuffle.dinucleotide_shuffle_ragged`:
    the same shuffles; 0.19 vs 1.1 ms per 500-bp stretch here) and keeps them until asked.
    """
    from .encode import one_hot_encode
    from .shuffle import dinucleotide_shuffle_ragged

    def generator(chrom: str, start: int, end: int) -> np.random.Generator:
        key = int.from_bytes(hashlib.blake2b(f"shuffle\t{seed}\t{chrom}\t{start}\t{end}".encode(),
                                             digest_size=8).digest(), "little")
        return np.random.default_rng(key)

    position = {key: k for k, key in enumerate(plan or [])}
    ready: dict[tuple[str, int, int], str] = {}  # shuffled ahead of their request: at most one block

    def fetch_shuffled(chrom: str, start: int, end: int) -> str:
        wanted = (chrom, start, end)
        if wanted not in ready:
            k = position.get(wanted)
            todo = [wanted] if k is None else [key for key in plan[k:k + block] if key not in ready]
            shuffled = dinucleotide_shuffle_ragged([one_hot_encode(fetch(*key)) for key in todo],
                                                   [generator(*key) for key in todo])
            ready.update(zip(todo, (_decode(x) for x in shuffled)))
        return ready.pop(wanted)

    return fetch_shuffled


def write_shuffled_null(
    out: str | os.PathLike,
    regions: pd.DataFrame,
    attribute_regions: Callable[[pd.DataFrame, Callable], Iterator],
    fetch: Callable[[str, int, int], str],
    chrom_sizes: dict[str, int],
    fraction: float,
    seed: int,
    window: int | None = None,
) -> dict:
    """Attribute dinucleotide-shuffled copies of a per-region sample and write ``null.npz``.

    Parameters
    ----------
    out
        Run folder.
    regions
        The run's regions table (``chrom``, ``start``, ``end``, ``name``).
    attribute_regions
        ``(table, fetch) -> iterator of RegionResult`` in table order (the engine,
        with the run's model and parameters).
    fetch
        The genome's ``(chrom, start, end) -> str``.
    window
        The model's input length, as the engine uses it (regions shorter than it are fetched widened,
        :func:`seqsal.engine.fetch_span`): lets the shuffles be drawn in blocks ahead of the requests.

    Returns
    -------
    dict
        What ``run.json`` records: fraction, seed, sampled regions and bases.

    ``null.npz`` holds ``projected`` ``(K, Lmax)`` float32 per-base tracks,
    ``valid`` ``(K, Lmax)`` bool, ``length`` ``(K,)``, ``region_index`` ``(K,)``
    (rows of the run) and ``region_key`` ``(K,)`` (chrom, start, end, name).
    """
    from .io import NpyStream, write_npz

    chosen = null_sample(regions, fraction, seed)
    subset = regions.iloc[chosen].reset_index(drop=True)
    lengths = (subset["end"] - subset["start"]).to_numpy(np.int64)
    width = int(lengths.max()) if len(lengths) else 0
    valid_path = Path(out) / f".{NULL_FILE}.valid.npy"  # rows of `valid`, streamed beside the tracks
    valid_store = NpyStream(str(valid_path), (len(subset), width), dtype=bool)

    def projected_rows() -> Iterator[np.ndarray]:
        """Each sampled region's null track, one ``(1, width)`` row at a time (its validity goes to the store)."""
        try:
            if len(subset):
                limits = subset["chrom"].map(chrom_sizes).fillna(0).to_numpy(np.int64)
                starts = subset["start"].to_numpy(np.int64)
                from .engine import fetch_span

                plan = [(chrom, *fetch_span(int(start), int(end), window))
                        for chrom, start, end in zip(subset["chrom"], subset["start"], subset["end"])]
                for result in attribute_regions(subset, shuffled_fetch(fetch, seed, plan)):
                    k, length = result.index, lengths[result.index]
                    mask = _valid_mask(result.one_hot[None], lengths[k:k + 1], starts[k:k + 1], limits[k:k + 1])[0]
                    row, valid_row = np.zeros((1, width), np.float32), np.zeros(width, bool)
                    row[0, :length] = np.where(mask, result.projected, 0)
                    valid_row[:length] = mask
                    valid_store.write_row(k, valid_row)
                    yield row
        finally:
            valid_store.close()

    keys = np.array(_region_keys(subset), dtype=str) if len(subset) else np.zeros(0, dtype="<U1")
    try:  # members in this order: `valid` is complete once the tracks have been streamed
        write_npz(Path(out) / NULL_FILE, {
            "projected": ((len(subset), width), np.float32, projected_rows()), "valid": str(valid_path),
            "length": lengths, "region_index": np.asarray(chosen), "region_key": keys,
            "fraction": np.asarray(fraction, np.float64), "seed": np.asarray(seed, np.int64),
        })
    finally:
        valid_path.unlink(missing_ok=True)
    return {"fraction": fraction, "seed": seed, "n_regions": int(len(subset)), "bases": int(lengths.sum()),
            "file": NULL_FILE}


def _chrom_sizes(out: Path) -> dict[str, int]:
    bigwig = out / "attributions.bw"
    if bigwig.exists():
        import pyBigWig

        handle = pyBigWig.open(str(bigwig))
        try:
            return dict(handle.chroms())
        finally:
            handle.close()
    run = out / "run.json"
    if run.exists():
        from .genome import Genome

        with Genome(json.loads(run.read_text())["genome"]) as genome:
            return dict(genome.chrom_sizes)
    raise InputError("neither attributions.bw nor run.json is there to give chromosome sizes", str(out))


def call_peaks_from_run(
    out_dir: str | os.PathLike,
    options: PeakOptions | None = None,
    chrom_sizes: dict[str, int] | None = None,
    write: bool = True,
    **overrides,
) -> PeakCalls:
    """(Re-)call seqlets and elements of a run folder without recomputing attributions.

    Reads ``attributions.npz`` in bounded row blocks, ``regions.tsv`` and (for
    the ``shuffle`` null) ``null.npz``; writes ``seqlets.bed``, ``elements.bed``
    (narrowPeak), ``seqlets.tsv`` and ``elements.tsv`` when ``write``.

    Parameters
    ----------
    out_dir
        Output folder of ``seqsal attribute``.
    options, overrides
        :class:`PeakOptions`, or its fields as keyword arguments. ``null=None``
        picks ``shuffle`` when the folder holds ``null.npz``, else ``laplace``.
    chrom_sizes
        Chromosome lengths (default: from ``attributions.bw``, else the genome of ``run.json``).

    Returns
    -------
    PeakCalls
        ``seqlets`` and ``elements`` with the columns of the TSV files, and ``info``.
    """
    out = Path(out_dir)
    for name in ("attributions.npz", "regions.tsv"):
        if not (out / name).exists():
            raise InputError(f"no {name} here: give the output folder of `seqsal attribute`", str(out))
    options = PeakOptions(**asdict(options)) if options is not None else PeakOptions(null=None)
    for key, value in overrides.items():
        if key not in PeakOptions.__dataclass_fields__:
            raise InputError(f"unknown peak option {key!r}")
        if value is not None:
            setattr(options, key, value)
    null_path = out / NULL_FILE
    if options.null is None:
        options.null = "shuffle" if null_path.exists() else "laplace"
    if options.null == "shuffle" and not null_path.exists():
        raise InputError("--null shuffle: this run has no null.npz (it ran with --null laplace or --no-peaks); "
                         "use --null laplace, or rerun `seqsal attribute` with --null shuffle", str(out))
    options.check()
    regions = pd.read_csv(out / "regions.tsv", sep="\t", dtype={"name": str, "chrom": str}, keep_default_na=False)
    chrom_sizes = chrom_sizes if chrom_sizes is not None else _chrom_sizes(out)
    source = _run_source(out, regions, chrom_sizes)
    null_source = _null_source(null_path) if options.null == "shuffle" else None
    calls = call_source(source, options, null_source)
    seqlets = _genome_table(calls.seqlets, regions, "seqlet")
    elements = _genome_table(calls.elements, regions, "element")
    if options.null == "shuffle":
        with np.load(null_path) as null:
            calls.info["null_sample"] = {"file": NULL_FILE, "n_regions": int(null["region_index"].shape[0]),
                                         "bases": int(null["length"].sum()), "fraction": float(null["fraction"]),
                                         "seed": int(null["seed"])}
    calls.info["repeats"] = {"seqlets": int(len(seqlets) - len(unique_calls(seqlets))),
                             "elements": int(len(elements) - len(unique_calls(elements))),
                             "meaning": "calls that repeat a more significant call of an overlapping region "
                                        "(duplicate_of in the TSVs; not in the BED files)"}
    if write:
        write_peak_files(out, seqlets, elements, chrom_sizes)
    calls.info["outputs"] = list(PEAK_FILES)
    return PeakCalls(seqlets, elements, calls.info)


def _genome_table(frame: pd.DataFrame, regions: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Add region and genome columns; sort by genome position (chromosome names byte-wise, as ``sort -k1,1``)."""
    if frame.empty:
        return pd.DataFrame(columns=SEQLET_COLUMNS)
    index = frame["region_index"].to_numpy(np.int64)
    start0 = regions["start"].to_numpy(np.int64)[index]
    table = pd.DataFrame({
        "region_index": index, "region_name": regions["name"].to_numpy()[index],
        "chrom": regions["chrom"].to_numpy()[index],
        "start": start0 + frame["offset_start"].to_numpy(np.int64), "end": start0 + frame["offset_end"].to_numpy(np.int64),
        "offset_start": frame["offset_start"].to_numpy(np.int64), "offset_end": frame["offset_end"].to_numpy(np.int64),
        "sign": np.where(frame["sign"].to_numpy() > 0, "+", "-"), "score": frame["score"].to_numpy(np.float64),
        "pvalue": frame["pvalue"].to_numpy(np.float64), "qvalue": frame["qvalue"].to_numpy(np.float64),
        "summit": start0 + frame["summit_offset"].to_numpy(np.int64),
        "summit_offset": frame["summit_offset"].to_numpy(np.int64), "rank": frame["rank"].to_numpy(np.int64),
        "n_seqlets": frame["n_seqlets"].to_numpy(np.int64), "sequence": frame["sequence"].to_numpy(),
    })
    chrom_key = table["chrom"].map(lambda name: name.encode())
    order = np.lexsort((table["region_index"].to_numpy(), table["sign"].to_numpy(), table["end"].to_numpy(),
                        table["start"].to_numpy(), chrom_key.to_numpy()))
    table = table.iloc[order].reset_index(drop=True)
    table.insert(0, "name", [f"{prefix}_{k + 1:06d}" for k in range(len(table))])
    kept = duplicate_of(table)
    table["duplicate_of"] = np.where(kept >= 0, table["name"].to_numpy()[np.maximum(kept, 0)], "")
    return table[SEQLET_COLUMNS]


def unique_calls(table: pd.DataFrame) -> pd.DataFrame:
    """The calls of a seqlet/element table that are not a repeat of another (``duplicate_of`` empty or absent)."""
    if "duplicate_of" not in table or table.empty:
        return table
    return table[table["duplicate_of"].fillna("").astype(str) == ""]


def duplicate_of(table: pd.DataFrame) -> np.ndarray:
    """For calls of overlapping input regions that are the same site: the row of the call each one repeats.

    Parameters
    ----------
    table
        Calls with ``chrom``, ``start``, ``end`` (genome, 0-based half-open),
        ``sign``, ``pvalue`` and ``region_index``.

    Returns
    -------
    np.ndarray
        ``(K,)`` int64: -1 for a call that is reported, else the row of the
        more significant same-sign call (of another region; calls of one region
        never overlap) that it overlaps on the genome. Calls are visited by
        p-value (ties: lower region index, then position), so of a site seen
        from several regions the best-supported call is the one kept.
    """
    out = np.full(len(table), -1, dtype=np.int64)
    if table.empty:
        return out
    chrom = table["chrom"].to_numpy()
    sign = table["sign"].to_numpy()
    start = table["start"].to_numpy(np.int64)
    end = table["end"].to_numpy(np.int64)
    order = np.lexsort((start, table["region_index"].to_numpy(), table["pvalue"].to_numpy(np.float64)))
    kept: dict[tuple, tuple[list, list, list]] = {}  # (chrom, sign) -> sorted starts, their ends, their rows
    for row in order:
        starts, ends, rows = kept.setdefault((chrom[row], sign[row]), ([], [], []))
        at = bisect.bisect_left(starts, start[row])
        # kept calls do not overlap one another: only the neighbours on either side can overlap this one
        for k in (at - 1, at):
            if 0 <= k < len(starts) and starts[k] < end[row] and start[row] < ends[k]:
                out[row] = rows[k]
                break
        else:
            starts.insert(at, int(start[row]))
            ends.insert(at, int(end[row]))
            rows.insert(at, int(row))
    return out


def narrowpeak(table: pd.DataFrame) -> pd.DataFrame:
    """narrowPeak rows (10 columns) of a seqlet/element table in genome coordinates.

    score: ``min(1000, round(-10 log10 q))``; strand ``.``; signalValue: summed
    attribution (signed); pValue, qValue: ``-log10``; peak: summit - start.
    """
    if table.empty:
        return pd.DataFrame(columns=["chrom", "start", "end", "name", "score", "strand", "signalValue", "pValue",
                                     "qValue", "peak"])
    p = -np.log10(np.clip(table["pvalue"].to_numpy(np.float64), 1e-300, 1.0))
    q = -np.log10(np.clip(table["qvalue"].to_numpy(np.float64), 1e-300, 1.0))
    return pd.DataFrame({
        "chrom": table["chrom"], "start": table["start"].astype(np.int64), "end": table["end"].astype(np.int64),
        "name": table["name"], "score": np.minimum(1000, np.round(10 * q)).astype(np.int64), "strand": ".",
        "signalValue": table["score"].map(lambda v: f"{v:.6g}"), "pValue": [f"{v:.4f}" for v in p],
        "qValue": [f"{v:.4f}" for v in q], "peak": (table["summit"] - table["start"]).astype(np.int64),
    })


def write_peak_files(out: str | os.PathLike, seqlets: pd.DataFrame, elements: pd.DataFrame,
                     chrom_sizes: dict[str, int] | None = None) -> None:
    """Write ``seqlets.bed``, ``elements.bed`` (narrowPeak, clipped calls never leave the chromosome),
    ``seqlets.tsv`` and ``elements.tsv`` atomically. The BED files list each site once: a call that repeats a
    more significant one of an overlapping region (``duplicate_of``) is only in the TSV."""
    out = Path(out)
    for name, table in (("seqlets", seqlets), ("elements", elements)):
        if chrom_sizes is not None and not table.empty:
            limits = table["chrom"].map(chrom_sizes).to_numpy()
            if ((table["start"] < 0) | (table["end"] > limits)).any():
                raise AssertionError(f"{name} outside a chromosome: a bug in the peak caller")
        write_table_atomic(out / f"{name}.bed", narrowpeak(unique_calls(table)), header=False)
        write_table_atomic(out / f"{name}.tsv", table)


def update_run_record(out_dir: str | os.PathLike, info: dict) -> None:
    """Store ``info`` as the ``peaks`` entry of ``run.json`` (and list the peak files among its outputs)."""
    path = Path(out_dir) / "run.json"
    if not path.exists():
        return
    record = json.loads(path.read_text())
    record["peaks"] = info
    record["outputs"] = list(dict.fromkeys([*record.get("outputs", []), *info.get("outputs", [])]))
    write_text_atomic(path, json.dumps(record, indent=2, default=str) + "\n")


def remove_peak_files(out_dir: str | os.PathLike, null: bool = True) -> None:
    """Delete peak outputs of an earlier run in this folder (they would not match new attributions)."""
    for name in (*PEAK_FILES, *((NULL_FILE,) if null else ())):
        path = Path(out_dir) / name
        if path.exists():
            path.unlink()


def run_peaks_stage(
    out_dir: str | os.PathLike,
    options: PeakOptions,
    regions: pd.DataFrame,
    attribute_regions: Callable[[pd.DataFrame, Callable], Iterator],
    fetch: Callable[[str, int, int], str],
    chrom_sizes: dict[str, int],
    call: bool = True,
    window: int | None = None,
) -> dict:
    """The peak stage of ``seqsal attribute``: shuffled null (when asked for), then calls from the run folder.

    Calls go through :func:`call_peaks_from_run`, the same path as ``seqsal
    call-peaks``, so re-calling with the same options gives the same files.
    ``call=False`` (a shard of a job) only draws the null: the calls of a shard
    would be thrown away, since the job is called once its shards are merged.
    Returns the ``peaks`` entry of ``run.json``.
    """
    import time

    options = PeakOptions(**asdict(options)).check()
    out = Path(out_dir)
    remove_peak_files(out)
    started = time.perf_counter()
    null_info = None
    if options.null == "shuffle":
        log.info("shuffled null: attributing dinucleotide-shuffled copies of %.0f%% of the regions",
                 100 * options.null_fraction)
        null_info = write_shuffled_null(out, regions, attribute_regions, fetch, chrom_sizes, options.null_fraction,
                                        options.seed, window)
    null_seconds = time.perf_counter() - started
    if not call:
        return {"null": options.null, "requested_null": options.null, "fdr": options.fdr,
                "calls": "not made in a shard: `seqsal merge` the shards, then `seqsal call-peaks` the merged folder",
                **({"null_sample": null_info} if null_info is not None else {}),
                "outputs": [NULL_FILE] if null_info is not None else [],
                "timing_seconds": {"null_attribution": round(null_seconds, 3)}}
    calls = call_peaks_from_run(out, options, chrom_sizes=chrom_sizes)
    info = {**calls.info, "requested_null": options.null,
            "timing_seconds": {"null_attribution": round(null_seconds, 3),
                               "calling": round(time.perf_counter() - started - null_seconds, 3)}}
    if null_info is not None:
        info["outputs"] = [*info["outputs"], NULL_FILE]
    log.info("%s", describe_calls(info, options.fdr))
    return info


def describe_calls(info: dict, fdr: float) -> str:
    """One log line for the ``peaks`` record of a call: counts by sign, FDR, null, repeated sites."""
    repeats = info.get("repeats", {})
    line = (f"{info['n_seqlets']} seqlets ({info['n_seqlets_by_sign']['+']} +, {info['n_seqlets_by_sign']['-']} -) "
            f"and {info['n_elements']} elements at FDR {fdr:g} ({info['null']} null)")
    if repeats.get("seqlets") or repeats.get("elements"):
        line += (f"; {repeats['seqlets']} seqlets and {repeats['elements']} elements repeat a site of an overlapping "
                 "region (duplicate_of; left out of the BED files)")
    return line
