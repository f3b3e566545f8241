"""Calling: candidate tests -> nulls -> significant windows -> seqlets (extents) -> elements.

:func:`call_source` runs the whole call on tracks served by a chunk source
(:mod:`seqsal.peaks.streams`); :func:`call_peaks` is its notebook face over
arrays. The statistics (tests, nulls, Benjamini–Hochberg) are those of
:mod:`seqsal.peaks.stats`.

Tests are the windows of a ladder of widths (:mod:`seqsal.peaks.widths`:
each width against its own null, one test per site at its best width,
calibrated against the same selection on the null), and each sign's kept
tests are one BH family, gated by the Simes test of both signs
(:func:`~seqsal.peaks.spill.sign_passing_qvalues`). A significant window becomes a seqlet through
its extent (:mod:`seqsal.peaks.extents`). Its score is the summed projected
attribution over the extent (negative for ``-`` seqlets).

The default ladder (6, 10, 16, 24 bp) was chosen on the calibration zoo
(``benchmarks/zoo/calibrate.py``, issue 13): 6-bp windows resolve 10-bp
motifs of a smooth track best, wider ones the spread-out sites of max-pooled
or long motifs; no single width served every model. Seqlets of at least 12 bp
meet planted sites of 10-21 bp with >= 50 % reciprocal overlap.

Elements have their own test and their own Benjamini–Hochberg family. The
candidate elements are the clusters of *candidate windows* with ``p <= element_fdr``
(a fixed entry threshold ``c``, whether or not a window passed as a seqlet) of
one sign and one region that lie within ``element_gap`` bases of each other
(with no invalid base between), widened by ``element_flank`` on each side, to
at least ``element_min_length`` and at most ``element_max_length`` bases. Under
the null a window's p-value given ``p <= c`` is uniform on ``(0, c]``, so an
element of ``k`` independent windows has the conditional Fisher p-value
``P(chi2(2k) >= -2 sum log(p_i / c))``. Its windows are not independent
(they overlap, and share their region's noise level), so with the shuffled
null that p-value is a statistic, calibrated against the candidate elements of
the null's own tracks (:func:`_element_nulls`); q-values are BH over all candidate
elements of the run, and elements are those with ``q <= element_fdr`` (0.05; the seqlets' ``fdr`` is 0.2 by default
and leaves the elements as they are). A cluster of
moderate sites is thus called as one element even where no single site passes,
and a lone false seqlet is no longer an element by itself (taking the smallest
seqlet q-value as the element's made 17-21 % of elements false at FDR 0.05 with
seqlets at 3-4 %). Its score is the summed window statistic of its windows
(signed; the flanks are not summed), ``n_seqlets`` the significant seqlets
whose summit lies inside it.

Coordinates are 0-based, half-open, within each row (``offset_*``).
"""
from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from typing import Iterator

import numpy as np
import pandas as pd

from ..encode import one_hot_decode
from ..errors import InputError
from .calibration import (LARGER_NULL, P_GRID, at_null_resolution, bh_outlook, calibration_summary, outlook_hint,
                          row_spread_warning, sign_outlook, smallest_pvalues)
from .options import API_COLUMNS, PeakOptions
from .elements import call_elements, null_candidate_statistics
from .extents import merge_overlaps, seqlet_extents, span_sums, split_overlaps
from .spill import WINDOW_RECORD, KeptTests, Spill, lookup_sign_qvalues, sign_passing_qvalues, window_records
from .stats import NullModel, laplace_nulls, null_statistics
from .streams import ChunkSource, array_chunks, as_tracks
from .widths import ByWidth, LadderTests, SelectedTests, SelectionStatistics, final_pvalues

log = logging.getLogger("seqsal")
ROW_SPREAD_MIN_ROWS = 30  # fewer null regions with a noise level than this: no spread is recorded


@dataclass
class PeakCalls:
    """The result of a call: ``seqlets`` and ``elements`` tables, and ``info`` (null, counts; for ``run.json``).

    Attributes
    ----------
    seqlets, elements
        One row per call. From :func:`seqsal.call_peaks_from_run`: the columns of ``seqlets.tsv``/``elements.tsv``
        (``name``, ``region_index``, ``region_name``, ``chrom``, ``start``, ``end`` (genome, 0-based half-open),
        ``offset_start``, ``offset_end`` (within the region), ``sign``, ``score``, ``pvalue``, ``qvalue``
        (Benjamini–Hochberg), ``summit``, ``summit_offset``, ``rank``, ``n_seqlets``, ``sequence``,
        ``duplicate_of``), sorted by genome position.
    info
        The null used (``laplace`` or ``shuffle``) and its fit, the numbers of tests and calls, the FDR and the
        calibration: what ``run.json`` stores as its ``peaks`` entry.
    """

    seqlets: pd.DataFrame
    elements: pd.DataFrame
    info: dict

    def __repr__(self) -> str:  # the whole info dict (null fits, grids) flooded a notebook cell (fresh11)
        return (f"PeakCalls({len(self.seqlets)} seqlets at FDR {self.info.get('fdr')}, {len(self.elements)} elements "
                f"at FDR {self.info.get('element_fdr')}, {self.info.get('null')} null; .seqlets, .elements, .info)")


def _empirical_nulls(statistics: tuple[dict, dict], min_count: int) -> dict:
    """:meth:`NullModel.empirical` of each key's null statistics (:func:`null_statistics`), noting the number of
    tests a sampled null was drawn from."""
    scores, totals = statistics
    models = {key: NullModel.empirical(values, min_count) for key, values in scores.items()}
    for key, model in models.items():
        if totals[key] > model.n:
            model.sampled_from = totals[key]
    return models


def _absent_signs(models: dict, widths: tuple[int, ...]) -> set[int]:
    """The signs of which the null holds no test at any width: a map that never takes that sign (Grad-CAM's, a
    gradient magnitude's), so that the run has nothing of it to call either."""
    return {s for s in (1, -1) if all(models[(w, s)].n == 0 for w in widths)}


def _fitted_widths(options: PeakOptions, models: dict, null: str) -> dict[int, tuple[int, ...]]:
    """Per sign, the ladder's widths whose null is fitted (wide windows are fewer: a short track or a small null
    cannot fit them); a warning names the others, an info line a sign the null never takes."""
    widths = {s: tuple(w for w in options.test_widths if models[(w, s)].kind != "none") for s in (1, -1)}
    absent = _absent_signs(models, options.test_widths)
    for s in absent:
        log.info("the %s null holds no %s test at any width tested (%s: %s): no %s seqlets are called", null,
                 "+" if s > 0 else "-", ",".join(map(str, options.test_widths)),
                 "the map never takes that sign" if len(options.test_widths) > 1 else  # fresh31: motifs tests one
                 "a map that never takes that sign, or none of that sign this wide",
                 "positive" if s > 0 else "negative")
    dropped = [f"{'+' if s > 0 else '-'}{w}" for s in (1, -1) for w in options.test_widths
               if w not in widths[s] and s not in absent and widths[s]]  # none left: calibration_summary says so
    if dropped:
        remedy = (LARGER_NULL if null == "shuffled" else
                  "give longer tracks or a null sample")
        log.warning("the %s null holds too few tests at width(s) %s (%s; need %d per sign and width): testing "
                    "+ at %s, - at %s; %s", null, ",".join(dropped),
                    ", ".join(f"{'+' if s > 0 else '-'}{w}: {m.n}" for (w, s), m in models.items()),
                    options.min_null_candidates, ",".join(map(str, widths[1])) or "none",
                    ",".join(map(str, widths[-1])) or "none", remedy)
    return widths


def no_test_cause(models: dict, widths: dict, null: str, shortest: int) -> str:
    """Why a run has no test at all: a shuffled null that holds tests yet too few to fit at any width (the lines
    before name its counts and the remedy; fresh20 saw "no valid bases?" there), else the observed tracks
    (``models``, ``widths`` as :func:`_fit_nulls` gives)."""
    if null == "shuffle" and not (widths[1] or widths[-1]) and any(model.n for model in models.values()):
        return "the shuffled null is too small to fit at any width: its remedy is given above"
    return (f"no valid bases? tracks too short to fit a null at any width, regions all N or shorter than {shortest} "
            "bp, or chromosome sizes that do not name the regions' chromosomes")


def _final_nulls(selected: SelectedTests, fit) -> dict:
    """Per sign, ``fit`` of the kept tests' ``-log p`` where the sign tests several widths, else ``None``."""
    several = [s for s in (1, -1) if len(selected.widths[s]) > 1]
    fitted = fit(SelectionStatistics(selected)) if several else {}
    return {s: fitted[s] if s in several else None for s in (1, -1)}


def _fit_nulls(options: PeakOptions, source: ChunkSource,
               null_source: ChunkSource | None) -> tuple[LadderTests, dict, dict, dict, str]:
    """The observed tests, the widths tested per sign, the per-width nulls (keyed ``(width, sign)``), the final
    nulls (per sign, of the kept tests' ``-log p``; ``None`` for a sign that tests one width) and the name of the
    null used (:mod:`seqsal.peaks.widths`).

    Each width's null is the shuffled null's tests of that width (held, as the selection reads them again), or,
    without null tracks, the Laplace fit to the run's own tests of that width; the final null is the same
    selection run on the null's tests (shuffle) or a Laplace fit to the run's own kept tests. Widths whose null
    cannot be fitted are not tested, and a sign whose shuffled null is too small calls nothing (it used to fall
    back to the Laplace null, whose exponential tail is lighter than a heavy-tailed track's: 100 of 100
    complete-null runs of Student-t 2 d.o.f. noise made calls, fresh13).
    """
    min_count = options.min_null_candidates
    if null_source is not None:
        null_tests = LadderTests(null_source, options.test_widths)  # read twice: held while it fits
        keyed = ByWidth(null_tests)
        models = _empirical_nulls(null_statistics(keyed, seed=options.seed, keys=keyed.keys(), dtype=np.float32),
                                  min_count)  # window sums are float32 values: held as such (half the memory)
        widths = _fitted_widths(options, models, "shuffled")
        final = _final_nulls(SelectedTests(null_tests, models, widths),  # a sign it cannot fit calls nothing
                             lambda stream: _empirical_nulls(null_statistics(stream, seed=options.seed), min_count))
        tested = tuple(sorted(set(widths[1]) | set(widths[-1]))) or options.test_widths[:1]
        return LadderTests(source, tested, limit=0), widths, models, final, "shuffle"  # one pass: not held
    tests = LadderTests(source, options.test_widths)  # read by several passes: held while it fits
    keyed = ByWidth(tests)
    models = laplace_nulls(keyed, min_count, keys=keyed.keys())
    widths = _fitted_widths(options, models, "Laplace")
    final = _final_nulls(SelectedTests(tests, models, widths), lambda stream: laplace_nulls(stream, min_count))
    return tests, widths, models, final, "laplace"  # a sign it cannot fit: calibration_summary says so


def _tested_windows(tests: LadderTests, widths: dict, models: dict, final: dict, fdr: float) -> Iterator[tuple]:
    """Per block of the kept tests (:class:`SelectedTests`): ``(sign, p-values (K,), the tests with p <= fdr as
    WINDOW_RECORD records)``; a sign without a usable null gets p-values of 1. The run's tests and, for the
    elements' null, the null's own go through this one path."""
    usable = {sign: bool(widths[sign]) and (final[sign] is None or final[sign].kind != "none") for sign in (1, -1)}
    for sign, rows, starts, widths_kept, scores, width_p in SelectedTests(tests, models, widths):
        pvalue = final_pvalues(sign, width_p, final) if usable[sign] else np.ones_like(width_p)
        keep = pvalue <= fdr
        yield sign, pvalue, window_records(sign, rows[keep], starts[keep], widths_kept[keep], scores[keep],
                                           pvalue[keep])


def _significant_tests(tests: LadderTests, widths: dict, models: dict, final: dict, options: PeakOptions,
                       scratch: str | os.PathLike | None = None, keep: float = 0.0
                       ) -> tuple[pd.DataFrame, KeptTests, dict, dict, dict]:
    """One streaming pass over the kept tests: the ones that can pass BH (``p <= fdr``), with their q-values.

    Returns the significant tests (``q <= fdr``; ``+`` then ``-``, each in row order, as the
    whole table of tests would list them), every kept test with ``p <= max(fdr, keep)`` (the seqlets' BH
    reads those at ``p <= fdr``; ``keep``, the elements' level, keeps their candidates' windows too; spilled to a
    scratch file in ``scratch``: :class:`KeptTests`; the caller closes it), and per sign
    the number of tests, the counts of tests with ``p <= t`` for ``t`` in :data:`P_GRID` and the smallest
    p-values (:func:`~seqsal.peaks.calibration.smallest_pvalues`, for
    :func:`~seqsal.peaks.calibration.sign_outlook`). The q-values are those of each sign's own family, gated by
    both signs' Simes test (:func:`~seqsal.peaks.spill.sign_passing_qvalues`). A test with
    ``p > fdr`` never passes, and the q-value of every test that passes is reached at
    a p-value ``<= fdr`` (see :func:`~seqsal.peaks.stats.benjamini_hochberg`), so all others are dropped when
    tested. Held while the tests stream: a mark per region (1 B) of those with a kept test; then their p-values
    (8 B each), read back from the spill and sorted for BH, then the passing ones and their q-values; the
    significant tests are read back from the spill.
    """
    spill = Spill(WINDOW_RECORD, scratch)
    rows_with = np.zeros(0, bool)  # per region: does it hold a kept test? (1 B a region, not a list of rows)
    n_tests = {1: 0, -1: 0}
    lowest = {1: np.zeros(0), -1: np.zeros(0)}
    at_or_below = {1: np.zeros(P_GRID.shape[0], np.int64), -1: np.zeros(P_GRID.shape[0], np.int64)}
    try:
        for sign, pvalue, kept in _tested_windows(tests, widths, models, final, max(options.fdr, keep)):
            at_or_below[sign] += np.searchsorted(np.sort(pvalue), P_GRID, side="right")
            n_tests[sign] += int(pvalue.shape[0])
            if pvalue.shape[0]:
                lowest[sign] = smallest_pvalues(lowest[sign], pvalue)
            if kept.shape[0]:
                spill.append(kept)
                rows_with = _mark(rows_with, kept["row"])
        # read back once the tests are done: not held while they stream
        families = sign_passing_qvalues(spill.column("pvalue"), spill.column("sign"), n_tests, options.fdr,
                                        family=options.bh_family)
        found = {1: [], -1: []}
        for part in spill.parts():
            q = lookup_sign_qvalues(part, families)
            passed = q <= options.fdr
            for sign in (1, -1):
                mine = passed & (part["sign"] == sign)
                if mine.any():
                    found[sign].append((part[mine], q[mine]))
    except BaseException:
        spill.close()
        raise
    tables = []
    for sign in (1, -1):
        records = np.concatenate([r for r, _ in found[sign]]) if found[sign] else np.zeros(0, WINDOW_RECORD)
        q = np.concatenate([q for _, q in found[sign]]) if found[sign] else np.zeros(0)
        order = np.lexsort((records["start"], records["row"]))
        tables.append(pd.DataFrame({"region_index": records["row"][order].astype(np.int64),
                                    "window_start": records["start"][order].astype(np.int64),
                                    "width": records["width"][order].astype(np.int64),
                                    "sign": np.full(records.shape[0], sign, np.int64),
                                    "statistic": records["statistic"][order].astype(np.float64),
                                    "pvalue": records["pvalue"][order].astype(np.float64), "qvalue": q[order]}))
    return (pd.concat(tables, ignore_index=True), KeptTests(spill, np.flatnonzero(rows_with).astype(np.int64)),
            n_tests, at_or_below, lowest)


def _element_nulls(null_source: ChunkSource, widths: dict, models: dict, final: dict, options: PeakOptions) -> dict:
    """Per sign, the :class:`NullModel` of the null's own candidate elements' ``-log`` Fisher p-values: the null's
    tests selected and given p-values as the run's are (against the null itself), those with ``p <= element_fdr``
    grouped into candidates as the run's are (:func:`~seqsal.peaks.elements.null_candidate_statistics`). One more pass
    over the null's tracks; its kept tests are held (29 B each)."""
    tested = LadderTests(null_source, tuple(sorted(set(widths[1]) | set(widths[-1]))), limit=0)
    parts = [kept for _, _, kept in _tested_windows(tested, widths, models, final, options.element_fdr)]
    records = np.concatenate(parts) if parts else np.zeros(0, WINDOW_RECORD)
    statistics = null_candidate_statistics(records, null_source, options)
    return {sign: NullModel.empirical(values, options.min_null_candidates) for sign, values in statistics.items()}


def row_scale_spread(source: ChunkSource) -> dict | None:
    """How much the noise level differs between the regions of a null: ``{"regions", "sd_log_scale"}``.

    Each region's noise level is the median ``|x|`` over its valid, non-zero bases (a max-pooled model's zeros
    left out; robust to the few large bases a site adds); the spread is the standard deviation of its log over
    the regions (a log-normal noise level of sigma ``s`` gives about ``s``). The p-values assume the null's
    regions and the run's share one noise distribution; when regions differ this much, the extreme tests of a
    run come from its noisiest few regions, and a null of a few hundred regions under-represents them
    (benchmarks/RESULTS.md, session 17: the zoo's models 0.05-0.50, which hold; at 0.75, 45-60 % of complete-null
    runs called elements at FDR 0.2 against a null of a tenth of the run's regions, and 14-16 % at 0.05 against
    twice as many). None when fewer than 30 regions have a noise level.

    Parameters
    ----------
    source
        The null's tracks (:class:`~seqsal.peaks.streams.TrackChunk` per block of rows).
    """
    logs = []
    for chunk in source(None):
        magnitude = np.where(chunk.valid, np.abs(chunk.track), 0.0)
        for row in magnitude:
            nonzero = row[row > 0]
            if nonzero.shape[0]:
                logs.append(float(np.log(np.median(nonzero))))
    if len(logs) < ROW_SPREAD_MIN_ROWS:
        return None
    return {"regions": len(logs), "sd_log_scale": round(float(np.std(logs)), 4)}


def _sign_outlooks(lowest: dict, n_tests: dict, at_or_below: dict, per_sign: dict) -> dict:
    """Per sign (``"+"``, ``"-"``): its own family's :func:`~seqsal.peaks.calibration.bh_outlook` (the q-values
    before the gate), its number of tests and whether its smallest p-value is its null's resolution."""
    out = {}
    for sign, name in ((1, "+"), (-1, "-")):
        smallest = float(lowest[sign].min()) if lowest[sign].shape[0] else 1.0
        out[name] = {**bh_outlook(lowest[sign], n_tests[sign], at_or_below[sign]), "n_tests": int(n_tests[sign]),
                     "null_resolution_bound": at_null_resolution({sign: per_sign[sign]}, smallest)}
    return out


def _log_sign_without_calls(significant: pd.DataFrame, by_sign: dict, fdr: float, signs: str = "+-") -> None:
    """Say so when one sign has calls and the other, tested, has none: each sign answers to its own family, so the
    other's calls no longer carry it (review29: the demo's + seqlets at FDR 0.05, best own q-value 0.107). Signs
    not called (``signs``) are not spoken of."""
    for sign, name in ((1, "+"), (-1, "-")):
        outlook = by_sign[name]
        if name not in signs:
            continue
        if (significant["sign"] == sign).any() or not outlook["n_tests"] or outlook["smallest_qvalue"] is None:
            continue
        inside, after = outlook_hint(outlook, fdr)
        inside = inside.replace(", q-value", ", smallest q-value", 1)
        log.warning("no %s seqlet passed FDR %g in its own sign's family (%d %s tests%s)%s", name, fdr,
                    outlook["n_tests"], name, inside, after)


def _log_warnings(warnings: list[str]) -> None:
    """Log the calibration warnings (``run.json`` keeps each whole): where several end in the same remedy (a
    larger null), it is said once, after them."""
    shared = sum(warning.endswith(LARGER_NULL) for warning in warnings) > 1
    for warning in warnings:
        log.warning("%s", warning[:-len(LARGER_NULL)].rstrip("; ") if shared and warning.endswith(LARGER_NULL)
                    else warning)
    if shared:
        log.warning("for the null's size above: %s", LARGER_NULL)


def _mark(marks: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``marks`` ``(R,)`` bool with ``rows`` set, grown (doubling) to hold the largest of them."""
    need = int(rows.max()) + 1
    if need > marks.shape[0]:
        marks = np.concatenate([marks, np.zeros(max(need, 2 * marks.shape[0]) - marks.shape[0], bool)])
    marks[rows] = True
    return marks


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
        a, b, summit = seqlet_extents(chunk.track, chunk.valid, rows, block["window_start"].to_numpy(np.int64),
                                      block["width"].to_numpy(np.int64), signs, block["statistic"].to_numpy(), options)
        frame = block.assign(offset_start=a, offset_end=b, summit_offset=summit, _local=rows)
        frame = split_overlaps(merge_overlaps(frame, options))
        rows, a, b = frame["_local"].to_numpy(), frame["offset_start"].to_numpy(), frame["offset_end"].to_numpy()
        frame["score"] = span_sums(chunk.track, rows, a, b)
        if chunk.one_hot is not None:
            frame["sequence"] = [one_hot_decode(chunk.one_hot[r, :, s:e]) for r, s, e in zip(rows, a, b)]
        parts.append(frame.drop(columns="_local"))
    return pd.concat(parts, ignore_index=True)


def _rank(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame.assign(rank=pd.Series(dtype=np.int64))
    order = np.lexsort((frame["offset_start"].to_numpy(), frame["region_index"].to_numpy(),
                        -np.abs(frame["score"].to_numpy()), frame["pvalue"].to_numpy()))
    rank = np.empty(len(frame), dtype=np.int64)
    rank[order] = np.arange(1, len(frame) + 1)
    return frame.assign(rank=rank)


def call_source(source: ChunkSource, options: PeakOptions, null_source: ChunkSource | None = None,
                elements: bool = True, scratch: str | os.PathLike | None = None) -> PeakCalls:
    """Call seqlets and elements on tracks served by ``source`` (see :class:`TrackChunk`).

    The tracks are streamed in bounded chunks and nothing is held per region or
    per test: one pass tests every candidate and keeps only those with
    ``p <= fdr`` (the only ones BH can pass; see :func:`~seqsal.peaks.stats.benjamini_hochberg`) and
    the number of tests (the kept tests go to a scratch file; their p-values
    are read back for BH: 8 B each); the rows with calls are read again for extents,
    sequences and elements (whose candidates are spilled too, see
    :func:`~seqsal.peaks.elements.call_elements`). The ``laplace`` null takes two more passes before
    that (exact order statistics of the observed tests, see :func:`~seqsal.peaks.stats.laplace_nulls`).
    ``null_source`` serves the null tracks of the ``shuffle`` null (its test
    statistics are held: they are the null distribution); without it the
    ``laplace`` null is used.

    Parameters
    ----------
    source, null_source
        Chunk sources (:mod:`seqsal.peaks.streams`) of the tracks to call and of the null's tracks.
    options
        The caller's parameters.
    elements
        False: seqlets only (``elements`` is an empty table; motif discovery needs no elements).
    scratch
        Folder of the scratch files (unnamed: removed when closed, on return or error, and by the system when the
        process ends), e.g. the run folder; ``None`` keeps their records in memory (compact, 29-37 B each).

    Returns
    -------
    PeakCalls
        ``seqlets`` and ``elements`` in row coordinates (``region_index``, ``offset_start``, ``offset_end``,
        ``summit_offset``; 0-based half-open), with ``sign`` as ``1``/``-1``, and ``info`` for ``run.json``.

    Raises
    ------
    InputError
        On an out-of-range option.
    """
    options.check()
    tests, widths, models, final, used = _fit_nulls(options, source, null_source)
    significant, kept, sign_tests, at_or_below, lowest = _significant_tests(
        tests, widths, models, final, options, scratch, keep=options.element_fdr if elements else 0.0)
    asked = np.array([1 if "+" in options.signs else 0, -1 if "-" in options.signs else 0])
    significant = significant[np.isin(significant["sign"].to_numpy(), asked)]  # both tested, the asked called
    n_tests = sign_tests[1] + sign_tests[-1]
    smallest = min((float(lowest[s].min()) for s in (1, -1) if lowest[s].shape[0]), default=1.0)
    with kept.spill:  # the kept tests' scratch file: closed (so removed) on return and on error
        per_sign = {sign: final[sign] if final[sign] is not None else
                    models[((widths[sign] or options.test_widths)[0], sign)] for sign in (1, -1)}
        calibration, warnings = calibration_summary(per_sign, at_or_below, LARGER_NULL if used == "shuffle" else
                                                    "give longer tracks, or a shuffled null (--null shuffle; API: null_track=...)")
        unfit = [f"{'+' if sign > 0 else '-'}{width}" for (width, sign), model in models.items()
                 if final[sign] is not None and model.kind == "empirical" and not model.tail_fit_ok]
        if unfit:  # one line for all widths (one a width and sign made a small run's log a wall of repeats)
            warnings.append(f"the null's tail fit does not hold at width(s) {', '.join(unfit)}: their p-values are "
                            f"empirical only; {LARGER_NULL}")
        spread = row_scale_spread(null_source) if null_source is not None else None
        warnings += row_spread_warning(spread)
        _log_warnings(warnings)
        info = {"null": used, "null_model": {"+": per_sign[1].describe(), "-": per_sign[-1].describe()},
                "null_model_by_width": {str(w): {"+": models[(w, 1)].describe(), "-": models[(w, -1)].describe()}
                                        for w in options.test_widths},
                "test_widths_used": {"+": list(widths[1]), "-": list(widths[-1])},
                "n_tests": n_tests, "fdr": options.fdr, "element_fdr": options.element_fdr,
                "options": asdict(options),
                "calibration": {**calibration, "warnings": warnings, "null_row_spread": spread,
                                "outlook": {**sign_outlook(lowest, sign_tests, at_or_below,
                                                           joint=options.bh_family == "joint"),
                                            "null_resolution_bound": at_null_resolution(per_sign, smallest)}}}
        if options.bh_family == "sign":  # each sign's own family (one over both: not what its calls answer to)
            info["calibration"]["outlook"]["by_sign"] = _sign_outlooks(lowest, sign_tests, at_or_below, per_sign)
        if not significant.empty and options.bh_family == "sign":
            _log_sign_without_calls(significant, info["calibration"]["outlook"]["by_sign"], options.fdr,
                                    options.signs)
        if significant.empty:
            one = info["calibration"]["outlook"].get("by_sign", {}).get(options.signs)  # one sign called: its own
            inside, after = outlook_hint(one or info["calibration"]["outlook"], options.fdr)
            if one is not None:  # fresh31b: both signs' tests and smallest p beside one sign's q-value
                n_tests = sign_tests[1 if options.signs == "+" else -1]
                own = lowest[1 if options.signs == "+" else -1]
                smallest = float(own.min()) if own.shape[0] else 1.0
            if not n_tests:  # tracks attributed, yet no window tested: say what may cause it (not "p-value nan")
                log.warning("no seqlet passed FDR %g: no tests (%s)", options.fdr,
                            no_test_cause(models, widths, used, min(options.test_widths)))
            else:
                log.warning("no %sseqlet passed FDR %g (%d tests; smallest p-value %.3g%s)%s",
                            f"{options.signs} " if one is not None else "", options.fdr, n_tests, smallest, inside,
                            after)
            seqlets = pd.DataFrame(columns=API_COLUMNS + ["window_start", "width", "statistic", "sequence"])
        else:
            seqlets = _seqlet_table(source, significant, options)
        seqlets = _rank(seqlets.assign(n_seqlets=1))
        element_null = (_element_nulls(null_source, widths, models, final, options)
                        if elements and used == "shuffle" else None)
        if element_null is not None:
            info["element_null"] = {"+": element_null[1].describe(), "-": element_null[-1].describe()}
            short = [sign for sign in (1, -1) if element_null[sign].kind == "none" and widths[sign]
                     and ("+" if sign > 0 else "-") in options.signs]  # fresh31b: not of a sign not called
            if short:  # one line for both signs
                log.warning("the shuffled null forms %s candidate elements (need %d of a sign): no %s elements are "
                            "called; %s", " and ".join(f"{element_null[s].n} {'+' if s > 0 else '-'}" for s in short),
                            options.min_null_candidates,
                            " or ".join("positive" if s > 0 else "negative" for s in short), LARGER_NULL)
        found = call_elements(kept if elements else None, seqlets, source, options, scratch, element_null)
        outlook = found.attrs.get("outlook")
        if outlook is not None and options.signs != "+-":  # fresh31b: the other sign's best was logged as this one's
            outlook = {**outlook["by_sign"][options.signs], "signs": options.signs}
        if outlook is not None:
            info["element_outlook"] = outlook
            if found.empty and outlook["smallest_qvalue"] < 1:  # how far the best was (candidates grow with the level)
                log.info("no element passed FDR %g: %d candidate elements (from the windows at p <= %g), the best "
                         "at q-value %.3g", options.element_fdr, outlook["candidates"], options.element_fdr,
                         outlook["smallest_qvalue"])
        elements = _rank(found[np.isin(found["sign"].to_numpy(), asked)] if len(found) else found)
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
    fdr: float | None = None,
    level: str = "seqlets",
    **options,
) -> pd.DataFrame:
    """Call seqlets (or elements) on per-base attribution tracks held in memory.

    Windows of several widths are tested against a null of the same selection: a one-sided Laplace fitted to the
    bulk of the observed window sums (as tfmodisco-lite's Laplace null), or the same statistics of shuffled
    tracks; each sign's tests are their own Benjamini–Hochberg (1995) family, gated by the Simes test of both
    (:func:`~seqsal.peaks.spill.sign_passing_qvalues`). Elements add a conditional Fisher combination of the
    candidate windows of a cluster (:mod:`seqsal.peaks.calling`).

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
        Target false discovery rate of the calls of ``level`` (Benjamini–Hochberg, each sign its own family:
        ``bh_family``); default :class:`PeakOptions`' level of that kind, 0.2 for seqlets (``fdr``) and 0.05
        for elements (``element_fdr``). With ``level="elements"`` the seqlets are called at their default 0.2:
        the elements' ``n_seqlets`` counts those (``table.attrs["peaks"]["fdr"]`` says the level).
    level
        ``seqlets`` or ``elements``.
    **options
        Other fields of :class:`PeakOptions` (``test_widths``, ``max_length``, ...); not ``null``.

    Returns
    -------
    pandas.DataFrame
        One row per call, sorted by row and position: ``region_index`` (row),
        ``offset_start``, ``offset_end`` (0-based half-open within the row),
        ``sign`` (``+``/``-``), ``score`` (summed attribution), ``pvalue``,
        ``qvalue``, ``summit_offset``, ``rank`` (1 = most significant),
        ``n_seqlets``. ``DataFrame.attrs["peaks"]`` holds the null used and counts.

    Raises
    ------
    InputError
        On an unknown level or option, an out-of-range option, or tracks of shapes that do not fit.
    """
    if level not in ("seqlets", "elements"):
        raise InputError(f"unknown level {level!r}; choose seqlets or elements")
    if "null" in options:  # apidoc: PeakOptions' TypeError "multiple values for keyword argument 'null'"
        raise InputError("call_peaks chooses the null from its arguments (null_track and null_lengths: the shuffled "
                         "null; none: the Laplace fit), so it takes no null=; drop it")
    unknown = set(options) - set(PeakOptions.__dataclass_fields__)
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(sorted(unknown))}; see seqsal.peaks.PeakOptions")
    values, mask = as_tracks(track, lengths, valid)
    if null_track is None and (null_lengths is not None or null_valid is not None):  # fresh30b: ignored silently
        raise InputError("null_lengths and null_valid describe a null_track; give the null_track too")
    null_source = None
    if null_track is not None:
        null_values, null_mask = as_tracks(null_track, null_lengths, null_valid, "null_track")
        null_source = array_chunks(null_values, null_mask)
    if fdr is not None:
        key = "fdr" if level == "seqlets" else "element_fdr"
        if key in options and options[key] != fdr:  # review30: element_fdr was dropped silently (fdr= is a parameter)
            raise InputError(f"call_peaks(level='elements') takes the elements' level as fdr= (got fdr={fdr!r} and "
                             f"element_fdr={options[key]!r}); give one of them")
        options = {**options, key: fdr}
    peak_options = PeakOptions(null="shuffle" if null_source is not None else "laplace", **options)
    calls = call_source(array_chunks(values, mask), peak_options, null_source)
    table = _api_table(calls.seqlets if level == "seqlets" else calls.elements)
    table.attrs["peaks"] = calls.info
    return table
