"""Tests over a ladder of window widths: one test per site, at the width that fits it best.

A site's contribution can span 6 bp (a core) or 24 bp (a long motif, or a
spiky max-pooled track whose mass is spread over a few isolated bases); no
single window width serves every model (benchmarks/RESULTS.md, issue 13). The
caller therefore tests the windows of several widths ``w`` (default 6, 10,
16, 24 bp), each against its own null:

1. For each width, the tests of :func:`seqsal.peaks.stats.block_tests`
   (non-overlapping local maxima of ``w``-bp window sums) get a p-value
   ``p_w`` against that width's null (a :class:`~seqsal.peaks.stats.NullModel`
   of the same width's statistics).
2. Per row and sign, the tests of all widths are reduced to non-overlapping
   ones by smallest ``p_w`` (greedy: the smallest p is kept, every test that
   overlaps it dropped, and so on; :func:`select_sites`). The same rule runs
   on the null's tracks.
3. The kept test's final p-value calibrates its statistic ``-log p_w``
   against the same statistic of the null's kept tests (another
   :class:`~seqsal.peaks.stats.NullModel`: empirical, GPD tail where fewer
   than 10 null values reach it, never below what the null supports). Taking
   the smallest p over widths is thus paid for exactly as much as it costs
   on the null, where a Bonferroni or Šidák factor over widths would pay for
   independent tests that overlapping windows are not.

With one width, step 2 keeps every test and step 3 is skipped: the p-value is
``p_w`` itself. With the ``laplace`` null (no null tracks), each width's null
and the final statistic's null are fits to the bulk of the run's own tests.

Everything is computed per chunk of rows (:mod:`seqsal.peaks.streams`): a
row's tests depend on that row alone, so any pass finds the same ones.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .stats import BLOCK_POSITIONS, block_tests
from .streams import ChunkSource

_TESTS_HELD = 1 << 18  # tests kept between passes (~20 B each, 5 MB); beyond, every pass recomputes them (exact)
GROUP_POSITIONS = 1 << 16  # track positions of the rows one block_tests call sees (its temporaries: ~40 B each); a
# chunk of the null (one channel: 2^18 positions) is tested in groups of rows, with the same tests in the same order
GROUP_TESTS = 1 << 15  # tests of the rows one selection round sees (select_sites: ~100 B each); the same sites kept

# (sign, rows, starts, widths, scores) of a chunk's tests of one sign, all widths
LadderBlock = tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def ladder_tests(track: np.ndarray, valid: np.ndarray, widths: tuple[int, ...]) -> dict[int, tuple[np.ndarray, ...]]:
    """The tests of every width in ``widths`` on ``(N, L)`` tracks, per sign.

    Parameters
    ----------
    track, valid
        ``(N, L)`` float32 per-base values (0 where invalid) and bool validity.
    widths
        The window widths (bp).

    Returns
    -------
    dict
        ``{1: (rows, starts, widths, scores), -1: ...}``: row-local indices, first base of each tested
        window, its width and its statistic (the window sum of ``sign * track``, float64, > 0).

    Rows are tested in groups of about :data:`GROUP_POSITIONS` positions (each row's tests are its own): rows
    no longer than :data:`~seqsal.peaks.stats.BLOCK_POSITIONS` give one block per sign and group, so the
    groups' tests, one after the other, are the whole array's in its order (rows, then starts); longer rows
    (cut into blocks of starts) are tested all at once, as before.
    """
    parts: dict[int, list] = {1: [], -1: []}
    n, length = track.shape
    step = max(1, GROUP_POSITIONS // max(length, 1)) if length <= BLOCK_POSITIONS else max(n, 1)
    for width in widths:
        for first in range(0, n, step):
            group = slice(first, first + step)
            for sign, rows, starts, scores in block_tests(track[group], valid[group], width):
                parts[sign].append((rows + first, starts, np.full(rows.shape[0], width, np.int64), scores))
    return {sign: tuple(np.concatenate([part[k] for part in found]) if found else
                        np.zeros(0, np.float64 if k == 3 else np.int64) for k in range(4))
            for sign, found in parts.items()}


class LadderTests:
    """The tests of all widths of a chunk source, ``(sign, rows, starts, widths, scores)`` per chunk and sign.

    Iterable many times: the first pass computes them (global row indices); while they number at most
    ``limit`` they are kept (as int32/int16/float32: exact, the statistics are
    computed in float32) and later passes replay them, else every pass
    recomputes them (and, once a pass has counted more than ``limit``, none holds any again: every pass
    gives the same tests).
    """

    def __init__(self, source: ChunkSource, widths: tuple[int, ...], limit: int | None = None):
        self.source, self.widths = source, tuple(int(w) for w in widths)
        self.limit = _TESTS_HELD if limit is None else limit
        self._held: list | None = None
        self._too_many = False  # a pass counted more than ``limit`` tests: later passes hold nothing

    @property
    def held(self) -> bool:
        """Whether the tests of the last full pass are kept (later passes replay them)."""
        return self._held is not None

    def __iter__(self) -> Iterator[LadderBlock]:
        if self._held is not None:
            for sign, rows, starts, widths, scores in self._held:
                yield sign, rows, starts.astype(np.int64), widths.astype(np.int64), scores.astype(np.float64)
            return
        held: list | None = None if self._too_many else []
        count = 0
        for chunk in self.source(None):
            for sign, (local, starts, widths, scores) in ladder_tests(chunk.track, chunk.valid, self.widths).items():
                rows = chunk.rows[local]
                if held is not None:
                    count += rows.shape[0]
                    held = held if count <= self.limit else None
                    self._too_many = held is None
                    if held is not None:
                        held.append((sign, rows, starts.astype(np.int32), widths.astype(np.int16),
                                     scores.astype(np.float32)))
                yield sign, rows, starts, widths, scores
        self._held = held


class ByWidth:
    """A :class:`LadderTests` as a stream of one-width tests keyed by ``(width, sign)``: ``(key, rows, starts,
    scores)``, the form :func:`~seqsal.peaks.stats.null_statistics` and
    :func:`~seqsal.peaks.stats.laplace_nulls` read (iterable as often as ``tests``)."""

    def __init__(self, tests: LadderTests):
        self.tests = tests

    def keys(self) -> list[tuple[int, int]]:
        """Every ``(width, sign)`` key, in ladder order."""
        return [(w, s) for w in self.tests.widths for s in (1, -1)]

    def __iter__(self) -> Iterator[tuple]:
        for sign, rows, starts, widths, scores in self.tests:
            for width in self.tests.widths:
                at = widths == width
                yield (width, sign), rows[at], starts[at], scores[at]


def width_pvalues(sign: int, widths: np.ndarray, scores: np.ndarray, models: dict) -> np.ndarray:
    """P-values ``(K,)`` of tests of one sign, each against the null of its own width (``models[(w, sign)]``)."""
    pvalue = np.ones(scores.shape[0])
    for width in np.unique(widths).tolist():
        at = widths == width
        pvalue[at] = models[(int(width), sign)].pvalues(scores[at])
    return pvalue


def select_sites(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, pvalue: np.ndarray) -> np.ndarray:
    """Non-overlapping tests by smallest p-value: the indices ``(M,)`` greedy selection keeps, ascending.

    Greedy: the test with the smallest ``pvalue`` is kept and every test of its row that overlaps it is
    dropped; then the next smallest left, and so on (ties: smaller row, start, then shorter window). It is
    computed as rounds of local minima (a test kept when it beats every live test that overlaps it), which
    keeps exactly the greedy set.

    Parameters
    ----------
    rows, starts, ends
        ``(K,)`` row and window ``[start, end)`` of each test.
    pvalue
        ``(K,)`` p-values.

    Returns
    -------
    np.ndarray
        Indices of the kept tests (int64), in increasing order.

    Tests overlap within a row only, so each row's selection is its own: rows are taken in groups of about
    :data:`GROUP_TESTS` tests (whole rows), which keeps exactly the same tests with temporaries bounded by the
    group, not by the chunk of rows.
    """
    n = rows.shape[0]
    if n <= GROUP_TESTS:
        return _select_group(rows, starts, ends, pvalue)
    by_row = np.argsort(rows, kind="stable")
    ordered = rows[by_row]
    cuts = np.unique(np.searchsorted(ordered, ordered[GROUP_TESTS::GROUP_TESTS], side="left")).tolist()
    kept = []
    for lo, hi in zip([0, *cuts], [*cuts, n]):  # cut where a row begins: a long row is one group
        group = by_row[lo:hi]
        kept.append(group[_select_group(rows[group], starts[group], ends[group], pvalue[group])])
    return np.sort(np.concatenate(kept))


def _select_group(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, pvalue: np.ndarray) -> np.ndarray:
    """:func:`select_sites` on tests held at once (rounds of local minima)."""
    n = rows.shape[0]
    if n == 0:
        return np.zeros(0, np.int64)
    priority = np.empty(n, np.int64)
    priority[np.lexsort((ends - starts, starts, rows, pvalue))] = np.arange(n)
    order = np.lexsort((ends, starts, rows))
    r, a, b, pri = rows[order], starts[order], ends[order], priority[order]
    # overlapping pairs (i < j in start order): same row, j starts before i ends; j lies within the widest
    # window's reach of i, so a bounded number of shifts finds them all
    reach = int((b - a).max())
    key = r.astype(np.int64) * (1 << 40) + a
    span = int((np.searchsorted(key, key + reach, side="left") - np.arange(n)).max())
    first, second = [], []
    for k in range(1, span + 1):
        i = np.arange(n - k)
        hit = np.flatnonzero((r[k:] == r[:-k]) & (a[k:] < b[:-k]))
        first.append(i[hit])
        second.append(i[hit] + k)
    i, j = (np.concatenate(first), np.concatenate(second)) if first else (np.zeros(0, np.int64),) * 2
    alive, kept = np.ones(n, bool), np.zeros(n, bool)
    while alive.any():
        beaten = np.zeros(n, bool)
        beaten[np.where(pri[i] < pri[j], j, i)] = True  # the larger priority of each live pair is beaten
        winners = alive & ~beaten
        kept |= winners
        alive &= ~winners
        alive[j[winners[i]]] = False
        alive[i[winners[j]]] = False
        live = alive[i] & alive[j]
        i, j = i[live], j[live]
    return np.sort(order[kept])


def selection_statistic(pvalue: np.ndarray) -> np.ndarray:
    """The statistic a kept test's final p-value calibrates: ``-log p`` (larger is stronger)."""
    return -np.log(np.clip(pvalue, np.finfo(np.float64).tiny, 1.0))


class SelectedTests:
    """The kept tests of a :class:`LadderTests` (:func:`select_sites` per chunk and sign), with their per-width
    p-values: ``(sign, rows, starts, widths, scores, width_pvalues)``; iterable as often as ``tests``.

    ``widths`` (default: all of ``tests``, both signs) restricts each sign to the widths whose null could be
    fitted: ``{1: (...), -1: (...)}``, or one tuple for both."""

    def __init__(self, tests: LadderTests, models: dict, widths: dict | tuple[int, ...] | None = None):
        self.tests, self.models = tests, models
        widths = tests.widths if widths is None else widths
        self.widths = {s: tuple(widths[s] if isinstance(widths, dict) else widths) for s in (1, -1)}

    def __iter__(self) -> Iterator[tuple]:
        for sign, rows, starts, widths, scores in self.tests:
            mine = self.widths[sign]
            if mine != self.tests.widths:
                at = np.isin(widths, mine)
                rows, starts, widths, scores = rows[at], starts[at], widths[at], scores[at]
            pvalue = width_pvalues(sign, widths, scores, self.models)
            if len(mine) > 1:
                keep = select_sites(rows, starts, starts + widths, pvalue)
                rows, starts, widths, scores, pvalue = (x[keep] for x in (rows, starts, widths, scores, pvalue))
            yield sign, rows, starts, widths, scores, pvalue


class SelectionStatistics:
    """A :class:`SelectedTests` as ``(sign, rows, starts, -log p_w)``, the stream the final null is fitted to."""

    def __init__(self, selected: SelectedTests):
        self.selected = selected

    def __iter__(self) -> Iterator[tuple]:
        for sign, rows, starts, _, _, pvalue in self.selected:
            yield sign, rows, starts, selection_statistic(pvalue)


def final_pvalues(sign: int, width_p: np.ndarray, final: dict) -> np.ndarray:
    """The p-value of each kept test: its ``-log p_w`` against the null's (``final[sign]``), or ``p_w`` itself
    where the sign tests one width (``final[sign]`` is ``None``)."""
    if final[sign] is None:
        return width_p
    return final[sign].pvalues(selection_statistic(width_p))
