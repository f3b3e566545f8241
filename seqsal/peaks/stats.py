"""The statistics of the peak caller: window sums, local maxima, nulls and their tails, Benjamini–Hochberg.

Pure numpy over plain arrays; nothing here reads files or calls a model.

Each sign is called on its own, with its own null. For a sign ``s`` the track
``y = s * x`` is summed over sliding windows of ``test_width`` bases (windows
that touch an invalid base — N, padding past a chromosome end, beyond the
region's length — are never tested). The **tests** are the windows that are the
largest within ``test_width - 1`` bases on either side (non-overlapping local
maxima) and positive; their statistic is the window sum. The **null** is the
distribution of the same statistic under no signal:

``shuffle``
    the same candidates extracted, with the same rules, from attributions of
    dinucleotide-shuffled copies of a sample of the regions (computed by the
    engine; see :func:`seqsal.peaks.nulls.write_shuffled_null`). P-values are
    empirical, ``(1 + #null >= s) / (n + 1)`` (never smaller than the null
    supports). Where fewer than 10 null values reach a score, a generalized
    Pareto tail (GPD; Knijnenburg et al. 2009, Bioinformatics 25:2586) fitted to
    the null takes over. Three tails are fitted, to the top 25 %, 10 % and 5 %
    (at least 20 values each), and the largest of their survivals is used (the
    tail of a heavy-tailed null shows only above a high threshold); each shape
    by probability-weighted moments (Hosking & Wallis 1987, Technometrics
    29:339), raised to its upper 95 % confidence bound and never below 0 (an
    exponential tail), its scale from the mean excess at that shape, widened
    to its upper 80 % bound.
    A tail heavier than exponential (Student-t, log-normal attribution noise)
    therefore gets p-values at least as large as it supports: on complete
    nulls of seven noise families (Gaussian, Laplace, Student-t with 3 and 2
    degrees of freedom, sparse spikes, signed log-normal, skewed) at most 4 %
    of runs call anything at FDR 0.05, where one exponential tail fitted to the
    top 25 % made 26 of 60 Student-t runs call (benchmarks/RESULTS.md). The fit is checked: where the fitted tail
    under-predicts the null's own top counts by more than their sampling error,
    the tail is not used and p-values stay empirical (``tail_fit_ok`` false in
    ``run.json``, with a warning).
``laplace``
    a one-sided Laplace (exponential) fitted to the bulk of the *observed*
    candidates of the run: location at their median, scale from their 55th–90th
    percentiles (as tfmodisco-lite's Laplace null does for window sums). Real
    sites sit in the upper tail and inflate the scale a little, which makes the
    null conservative. :func:`laplace_nulls` fits it from exact order statistics
    of a stream of tests, without holding them.

Every candidate of the run is a test; Benjamini–Hochberg q-values are taken
within each sign's tests, gated by the Simes test of both signs
(:func:`seqsal.peaks.spill.sign_passing_qvalues`), and seqlets are the
candidates with ``q <= fdr``. Only candidates with ``p <= fdr`` are kept while the tests are
streamed (BH passes no other, and the q-value of one that passes is reached at
a p-value ``<= fdr``; see :func:`benjamini_hochberg`), so the observed tests
take no memory per region (the ``shuffle`` null's statistics, about
``null_fraction`` of the run's tests, are held, up to a bounded sample:
:func:`null_statistics`); every reported q-value is ``<= fdr`` and exactly the
one its family over all tests gives. A null with fewer than ``min_null_candidates``
values cannot be fitted: that sign is not called, so a single short sequence
never floods the output. P-values lie in ``(0, 1]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

# (sign, rows, window starts, statistics) of a block of tests; a stream of them is iterated once or, for
# laplace_nulls, several times (seqsal.peaks.widths.LadderTests)
Tests = Iterable[tuple[int, np.ndarray, np.ndarray, np.ndarray]]

CHUNK_POSITIONS = 1 << 18  # track positions per chunk of rows read (bounded memory: ~30 B each at peak; at 2^20
# the null of a 1,000-region run of 500 bp, 200,000 bases, did not fill one chunk, so larger runs peaked 10-15 MiB
# higher for that alone; chunks change no call, and 4x as many cost no measurable time at 100,000 regions)
BLOCK_POSITIONS = 1 << 20  # window starts per block of a long row (block_tests; fixed: where a row is cut sets
# the float64 rounding of its window sums, so it is not tied to the chunk size)
_TAIL_COUNT = 10  # below this many null values at or above a score, the tail model takes over
_TAIL_FRACTIONS = (0.25, 0.1, 0.05)  # shares of the null the GPD tails are fitted to; the largest tail is used
_SHAPE_Z = 1.645  # one-sided 95 % normal quantile: each GPD shape used is its estimate + this many standard errors
_SCALE_Z = 0.8416  # one-sided 80 % normal quantile: the scale's upper confidence bound (chi-square, Wilson-Hilferty)
LAPLACE_PERCENTILES = np.arange(55, 91, 5, dtype=np.float64)  # the bulk quantiles the Laplace null is fitted to


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


def window_sums(track: np.ndarray, valid: np.ndarray, width: int) -> np.ndarray:
    """Sums of ``track`` over every window of ``width`` bases; ``-inf`` where a window touches an invalid base.

    Parameters
    ----------
    track
        ``(N, L)`` per-base values.
    valid
        ``(N, L)`` bool, False at N bases, padding and beyond each row's length.

    Returns
    -------
    np.ndarray
        ``(N, L - width + 1)`` float64 (empty rows when ``L < width``).
    """
    n, length = track.shape
    if length < width:
        return np.zeros((n, 0))
    total = np.zeros((n, length + 1))
    np.cumsum(np.where(valid, track, 0), axis=1, dtype=np.float64, out=total[:, 1:])
    sums = total[:, width:] - total[:, :-width]
    if not valid.all():
        sums[sliding_max(~valid, width)] = -np.inf  # a window with any invalid base is never tested
    return sums


def find_candidates(track: np.ndarray, valid: np.ndarray, sign: int, width: int) -> tuple[np.ndarray, ...]:
    """The tests of one sign: positive window sums that are the largest within ``width - 1`` bases.

    Parameters
    ----------
    track, valid
        ``(N, L)`` per-base values and validity.
    sign
        ``+1`` (positive contribution) or ``-1`` (negative).
    width
        Width of the tested windows (bp): the caller's ``test_width``.

    Returns
    -------
    rows, starts, scores
        Row and first base of each tested window, and its sum of ``sign * track``
        (float64, > 0). Ties go to the leftmost window, so tested windows never overlap.
    """
    parts = [(rows, starts, scores) for s, rows, starts, scores in block_tests(track, valid, width) if s == sign]
    return tuple(np.concatenate([part[k] for part in parts]) for k in range(3))


def block_tests(track: np.ndarray, valid: np.ndarray, width: int,
                block: int | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """The tests of ``(N, L)`` tracks, ``(sign, rows, starts, scores)`` per block of window starts (``+`` then ``-``).

    Rows longer than ``block`` positions (default :data:`BLOCK_POSITIONS`) are cut
    into blocks of window starts, each computed with the ``width - 1`` starts
    on either side that the local-maximum rule looks at, so one long row needs
    no row-long temporaries. The tests are those of :func:`find_candidates`.
    """
    block = BLOCK_POSITIONS if block is None else block
    length = track.shape[1]
    n_starts = max(length - width + 1, 0)
    if n_starts <= block:
        sums = window_sums(track, valid, width)
        for sign in (1, -1):
            yield (sign, *_local_maxima(sums, width, sign))
        return
    reach = width - 1
    for first in range(0, n_starts, block):
        stop = min(first + block, n_starts)
        lo, hi = max(first - reach, 0), min(stop + reach, n_starts)
        sums = window_sums(track[:, lo:hi + width - 1], valid[:, lo:hi + width - 1], width)
        for sign in (1, -1):
            rows, starts, scores = _local_maxima(sums, width, sign)
            starts += lo
            keep = (starts >= first) & (starts < stop)
            yield sign, rows[keep], starts[keep], scores[keep]


def _local_maxima(sums: np.ndarray, width: int, sign: int = 1) -> tuple[np.ndarray, ...]:
    """Tests of ``sign * sums`` (``-inf`` windows, invalid, stay ``-inf``): see :func:`find_candidates`."""
    if sums.shape[1] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    reach = width - 1
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
    location: float = float("nan")  # threshold of the (first) tail; for ``laplace`` the median
    scale: float = float("nan")
    tail_mass: float = float("nan")  # P(S >= location)
    sampled_from: int | None = None  # the number of null tests ``n`` was drawn from, when ``n`` is a sample
    shape: float = 0.0  # GPD shape of the tail (0: exponential)
    shape_estimate: float = float("nan")  # the shape's point estimate, before its confidence bound
    higher_tails: tuple = ()  # further (location, scale, tail_mass, shape, estimate) fitted above higher thresholds
    tail_fit_ok: bool = True  # False: the tail under-predicts the null's own top counts and is not used

    @classmethod
    def empirical(cls, values: np.ndarray, min_count: int) -> "NullModel":
        """The ``empirical`` null of null statistics ``values`` ``(n,)`` (``none`` when ``n < min_count``).

        Empirical p-values ``(1 + #null >= s) / (n + 1)``; where fewer than 10 null values reach a score, a
        generalized Pareto tail fitted to the top 25 % (at least 20) of the values (:func:`gpd_tail`) takes
        over, unless its fit check fails (:func:`tail_fit_holds`). float32 ``values`` (the window sums of
        :func:`null_statistics` with ``dtype=np.float32``) are kept as float32, half the memory; every
        computation on them is the float64 one (exact: float32 values are float64 values), so the p-values
        are those of the same values as float64.
        """
        values = np.asarray(values)
        values = values if values.dtype == np.float32 else values.astype(np.float64, copy=False)
        if values.shape[0] > 1 and not bool((values[1:] >= values[:-1]).all()):
            values = np.sort(values)  # an ascending array (as null_statistics gives) is kept, not copied
        n = values.shape[0]
        if n < min_count:
            return cls("none", n)
        tails = []
        for fraction in _TAIL_FRACTIONS:
            n_tail = min(n, max(2 * _TAIL_COUNT, int(math.ceil(fraction * n))))
            location = float(values[n - n_tail])
            shape, scale, estimate = gpd_tail(values[n - n_tail:].astype(np.float64) - location)
            # the tail mass: null values >= location over n + 1, as the empirical part would count them
            at_or_above = n - int(np.searchsorted(values, values[n - n_tail], side="left"))
            tails.append((location, scale, at_or_above / (n + 1), shape, estimate))
        (location, scale, mass, shape, estimate), *higher = tails
        model = cls("empirical", n, values, location, scale, mass, shape=shape, shape_estimate=estimate,
                    higher_tails=tuple(higher))
        model.tail_fit_ok = tail_fit_holds(model)
        return model

    @classmethod
    def laplace(cls, observed: np.ndarray, min_count: int) -> "NullModel":
        """The ``laplace`` null of observed statistics ``(n,)``: a one-sided Laplace at their median, its scale
        from their 55th-90th percentiles (as tfmodisco-lite's Laplace null); ``none`` when ``n < min_count``."""
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
        scale = float(np.mean(scales))
        # relative to the statistics' own magnitude (an absolute floor of 1e-12 made tracks of scale 1e-20 call
        # thousands of seqlets on a complete null, fresh13); a bulk of equal values has nothing to fit
        if not scale > 1e-9 * max(abs(median), float(np.max(np.abs(upper)))):
            return cls("none", n)
        return cls("laplace", n, location=median, scale=scale, tail_mass=0.5)

    def tail(self, scores: np.ndarray) -> np.ndarray:
        """The fitted tail's ``P(S >= s)`` ``(K,)`` for ``scores`` ``(K,)``: the largest of the fitted tails."""
        scores = np.asarray(scores, dtype=np.float64)
        survival = _gpd_survival(scores, self.location, self.scale, self.tail_mass, self.shape)
        for location, scale, mass, shape, _ in self.higher_tails:
            survival = np.maximum(survival, _gpd_survival(scores, location, scale, mass, shape))
        return survival

    def pvalues(self, scores: np.ndarray) -> np.ndarray:
        """P-values ``(K,)`` in ``(0, 1]`` of candidate statistics ``scores`` ``(K,)``."""
        scores = np.asarray(scores, dtype=np.float64)
        if self.kind == "none":
            return np.ones_like(scores)
        if self.kind == "laplace":  # a two-sided Laplace: its CDF below the median, so p stays continuous there
            below = 1.0 - 0.5 * np.exp(-np.maximum(self.location - scores, 0.0) / self.scale)
            p = np.where(scores >= self.location, self.tail(scores), below)
            return np.clip(p, np.finfo(np.float64).tiny, 1.0)
        n = self.n
        count = n - count_below(self.sorted_values, scores)
        empirical = (1.0 + count) / (n + 1.0)
        if not self.tail_fit_ok:
            return empirical
        p = np.where(count >= _TAIL_COUNT, empirical, np.minimum(empirical, self.tail(scores)))
        return np.clip(p, np.finfo(np.float64).tiny, 1.0)

    def describe(self) -> dict:
        """The fit as ``run.json`` records it (``kind``, ``n``, ``location``, ``scale``, ``tail_mass``)."""
        return {"kind": self.kind, "n": int(self.n), "location": _finite(self.location),
                "scale": _finite(self.scale), "tail_mass": _finite(self.tail_mass),
                **({"shape": _finite(self.shape), "shape_estimate": _finite(self.shape_estimate),
                    "higher_tails": [dict(zip(("location", "scale", "tail_mass", "shape", "shape_estimate"),
                                              map(_finite, tail))) for tail in self.higher_tails],
                    "tail_fit_ok": bool(self.tail_fit_ok)} if self.kind == "empirical" else {}),
                **({"sampled_from": int(self.sampled_from)} if self.sampled_from else {})}


def count_below(ascending: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``np.searchsorted(ascending, scores, side="left")`` ``(K,)`` (the number of values ``< s``) for float64
    ``scores`` ``(K,)``, also where ``ascending`` ``(n,)`` is float32: each score is then replaced by the
    smallest float32 ``>= s`` (a float32 value is ``>= s`` exactly when it is ``>=`` that one), which gives the
    float64 comparison's count without the float64 copy of ``ascending`` numpy would make for mixed types."""
    if ascending.dtype != np.float32:
        return np.searchsorted(ascending, scores, side="left")
    with np.errstate(over="ignore"):  # beyond float32's range: +-inf, which compares as the score does
        query = scores.astype(np.float32)
    low = query.astype(np.float64) < scores  # rounded down: the next float32 up is the smallest >= s
    query[low] = np.nextafter(query[low], np.float32(np.inf))
    return np.searchsorted(ascending, query, side="left")


def _gpd_survival(scores: np.ndarray, location: float, scale: float, mass: float, shape: float) -> np.ndarray:
    """``mass * P(Y >= s - location)`` of a GPD excess ``Y`` (shape 0: exponential, extended below ``location``
    as the Laplace null's body is; a GPD's survival is ``mass`` there)."""
    excess = scores - location
    if shape <= 0:
        return mass * np.exp(-excess / scale)
    return mass * np.exp(-np.log1p(shape * np.maximum(excess, 0.0) / scale) / shape)


def gpd_tail(excess: np.ndarray) -> tuple[float, float, float]:
    """A conservative generalized Pareto fit to tail excesses: ``(shape used, scale used, shape estimate)``.

    The GPD survival is ``(1 + xi y / sigma) ** (-1 / xi)`` (``exp(-y / sigma)`` at ``xi = 0``).
    ``xi`` is estimated by probability-weighted moments (Hosking & Wallis 1987), then raised to its
    upper 95 % bound ``xi + 1.645 (1 + xi) / sqrt(k)`` (the asymptotic standard error of the estimate
    for ``xi`` near 0) and floored at 0, so a tail is never taken as lighter than exponential. The
    scale is the mean excess times ``1 - xi`` at that shape (the GPD mean is ``sigma / (1 - xi)``),
    widened to its upper 80 % chi-square bound (a small null errs towards larger p-values).

    Parameters
    ----------
    excess
        ``(k,)`` non-negative excesses over the tail's threshold, ``k >= 2``.

    Returns
    -------
    tuple of float
        Shape used (``>= 0``), scale used (``> 0``), and the PWM point estimate of the shape.
    """
    y = np.sort(np.asarray(excess, dtype=np.float64))
    k = y.shape[0]
    a0 = float(y.mean())
    a1 = float(np.mean((1 - (np.arange(1, k + 1) - 0.35) / k) * y))
    denominator = a0 - 2 * a1
    estimate = 2 - a0 / denominator if denominator > 1e-12 * max(a0, 1e-300) else float("inf")
    shape = max(0.0, estimate + _SHAPE_Z * (1 + max(estimate, 0.0)) / math.sqrt(k)) if math.isfinite(estimate) else 1.0
    shape = min(shape, 0.95)  # the mean excess exists below 1; a tail this heavy fails the fit check anyway
    dof = 2 * (k - 1)
    chi2_low = dof * (1 - 2 / (9 * dof) - _SCALE_Z * math.sqrt(2 / (9 * dof))) ** 3
    scale = max(a0 * (1 - shape) * (2 * k / chi2_low), 1e-12)
    return shape, float(scale), float(estimate)


def tail_fit_holds(model: "NullModel", top: int = 50) -> bool:
    """Does the fitted tail predict at least the null's own counts at its top values? (the fit check)

    For each of the ``top`` largest null values ``v_j`` (``j`` of them at or above), the tail's
    expected count ``(n + 1) P(S >= v_j)`` must not fall below ``j`` by more than 2.5 Poisson
    standard deviations plus one: a tail that predicts too few extremes where the null can still be
    counted would give too-small p-values beyond them, so the tail is then not used.
    """
    values = model.sorted_values
    n = values.shape[0]
    j = np.arange(1, min(top, n) + 1, dtype=np.float64)
    predicted = (n + 1) * model.tail(values[n - j.astype(np.int64)])
    return bool(np.all(predicted >= j - 2.5 * np.sqrt(j) - 1))


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
    q = np.empty(k)
    q[order] = sorted_qvalues(p[order], m)
    return q


def sorted_qvalues(ascending: np.ndarray, n_tests: int) -> np.ndarray:
    """The Benjamini–Hochberg q-values ``(K,)`` of p-values ``(K,)`` sorted ascending (see
    :func:`benjamini_hochberg`, whose arithmetic this is): ``min(1, min_{j >= i} p_(j) m / j)``.

    A q-value is a function of its p-value alone (tied p-values share one), so the q-value of any p-value ``p``
    of the set is ``out[np.searchsorted(ascending, p)]``: a caller can keep the p-values of a family, sorted, and
    look the q-values up later without holding anything else of its tests.
    """
    k = ascending.shape[0]
    adjusted = ascending * int(n_tests)
    adjusted /= np.arange(1, k + 1)  # in place: two arrays of K at a time, however large the family
    np.minimum.accumulate(adjusted[::-1], out=adjusted[::-1])
    return np.minimum(adjusted, 1.0, out=adjusted)


_NULL_HELD = 1 << 22  # null statistics kept per key (8 B each: 32 MB; float32: 16 MB); beyond, a uniform sample


def null_statistics(tests: Tests, limit: int | None = None, seed: int = 0,
                    keys: Iterable = (1, -1), dtype: type = np.float64) -> tuple[dict, dict]:
    """The statistics of the null's tests per sign, and how many tests each sign had.

    Parameters
    ----------
    tests
        ``(sign, rows, starts, scores)`` of the null tracks' tests (one pass is made).
    limit
        Most statistics held per sign (default :data:`_NULL_HELD`).
    seed
        Seed of the sample drawn past ``limit``.
    keys
        What the first element of each test block can be (the sign, or ``(width, sign)`` for
        :class:`seqsal.peaks.widths.ByWidth`); each key is its own null.
    dtype
        ``np.float32`` where the statistics are float32 values (the window sums of :func:`block_tests` are:
        they are compared in float32): held as float32, half the memory (:class:`NullModel` computes on them
        in float64, so its p-values do not change); a ``ValueError`` if one is not.

    Returns
    -------
    scores, total
        Per key: the statistics ``(K,)`` kept (``dtype``), ascending, and the number of tests seen.

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
    keys = list(keys)
    found: dict = {key: [] for key in keys}
    held = {key: 0 for key in keys}
    total = {key: 0 for key in keys}
    halvings = {key: 0 for key in keys}
    for sign, _, _, scores in tests:
        total[sign] += scores.shape[0]
        if halvings[sign]:
            scores = scores[rng.random(scores.shape[0]) < 0.5 ** halvings[sign]]
        stored = scores.astype(dtype, copy=False)
        if dtype != np.float64 and not np.array_equal(stored, scores):
            raise ValueError(f"null statistics are not {np.dtype(dtype).name} values; hold them as float64")
        found[sign].append(stored)
        held[sign] += scores.shape[0]
        while held[sign] > limit:
            merged = np.concatenate(found[sign])
            merged = merged[rng.random(merged.shape[0]) < 0.5]
            found[sign], held[sign] = [merged], merged.shape[0]
            halvings[sign] += 1
    scores = {}
    for sign in keys:  # one key's parts at a time, each freed once copied: the copies never coexist
        parts = found.pop(sign)
        out, at = np.empty(sum(part.shape[0] for part in parts), dtype), 0
        while parts:
            size = parts[0].shape[0]
            out[at:at + size] = parts.pop(0)
            at += size
        out.sort()  # in place: NullModel.empirical then keeps it as it is
        scores[sign] = out
    return scores, total


def _bits(scores: np.ndarray) -> np.ndarray:
    """Bit patterns of positive statistics (float32 values held as float64): they sort as the values do."""
    return scores.astype(np.float32).view(np.uint32)


def _high_histograms(tests: Tests, keys: Iterable = (1, -1)) -> dict:
    """Per key (sign), counts of the tests' statistics by the upper 16 bits of their float32 pattern (one pass)."""
    high = {key: np.zeros(1 << 16, np.int64) for key in keys}
    for sign, _, _, scores in tests:
        high[sign] += np.bincount(_bits(scores) >> 16, minlength=1 << 16)
    return high


def _order_statistics(tests: Tests, high: dict[int, np.ndarray],
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


def laplace_nulls(tests: Tests, min_count: int, keys: Iterable = (1, -1)) -> dict:
    """:meth:`NullModel.laplace` of each sign's observed tests, without holding them (two passes).

    The median and percentiles are interpolated between exact order statistics as ``np.median`` and
    ``np.percentile`` (linear) interpolate them, so the fit is the one of the whole array.

    Parameters
    ----------
    tests
        ``(sign, rows, starts, scores)`` of the observed tests; iterated twice, so it must give the same
        tests on every pass (e.g. :class:`seqsal.peaks.widths.ByWidth`, not a generator).
    min_count
        Fewest tests a sign's null is fitted from (``kind="none"`` below it).
    keys
        What the first element of each test block can be (see :func:`null_statistics`).

    Returns
    -------
    dict
        ``{key: NullModel}``: ``{1: ..., -1: ...}`` for the default keys.
    """
    keys = list(keys)
    high = _high_histograms(tests, keys)
    counts = {key: int(high[key].sum()) for key in keys}
    models = {sign: NullModel("none", n) for sign, n in counts.items() if n < min_count}
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
    return {key: models[key] for key in keys}
