"""A run folder's motif instance calls: every test window, scored, against the null's (``motif_calls.*``).

The statistics are :mod:`seqsal.motifs.instances`'; this module reads the windows
they need from a run folder with the support test's code
(:mod:`seqsal.motifs.support`): the peak caller's test windows of the run's tracks
and of its shuffled null (``null.npz``), each with its p-value against the sign's
empirical null and its best match to each kept motif. The run's windows are all
scored (a call is a statement about each of them); the null's are a uniform
sample of at most ``max_windows`` per sign, their bases scaled by the share kept.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import region_arrays, write_table_atomic
from ..peaks import NULL_FILE, NullModel
from .discover import DiscoveredMotif
from .instances import calls_bed, calls_table, match_strand, one_per_instance, step_up, window_statistics
from .redundancy import MotifMatches
from .seqlets import extract_windows
from .support import (SupportOptions, WindowSet, null_blocks, null_one_hot, run_blocks, sample_tests, scan_matches,
                      window_tests)

log = logging.getLogger("seqsal")

CALL_FILES = ("motif_calls.tsv", "motif_calls.bed")
"""The files :func:`write_calls` writes into the run folder (the ``motifs`` group of :mod:`seqsal.provenance`)."""

_SCAN_CHUNK = 1 << 16  # run windows whose sequences are cut out at once (~11 MB of float32 stretches)


@dataclass
class ScoredWindows:
    """The test windows of one side with their p-values: ``windows`` (:class:`WindowSet`; ``bases`` per sign,
    scaled by the share kept when sampled) and ``pvalues`` ``(n,)`` against the sign's empirical null."""

    windows: WindowSet
    pvalues: np.ndarray


def scored_windows(out_dir: str | os.PathLike, options: SupportOptions) -> tuple[ScoredWindows, ScoredWindows] | None:
    """The run's test windows (all) and the null's (sampled: ``options.max_windows`` per sign), with p-values.

    Each sign's p-values come from the empirical null of the null's tests of that sign
    (:meth:`seqsal.peaks.NullModel.empirical`, as :func:`seqsal.motifs.support.discovery_threshold` builds it).
    None (logged) when the folder has no ``null.npz``, the null holds too few tests of a sign, or the null's
    sequences cannot be redrawn (:func:`seqsal.motifs.support.null_one_hot`).
    """
    out = Path(out_dir)
    if not (out / NULL_FILE).exists():
        log.info("no motif instance calls: this run has no null.npz (rerun `seqsal attribute` with --null shuffle)")
        return None
    arrays = region_arrays(out / "attributions.npz", ("one_hot", "hypothetical"))
    null = region_arrays(out / NULL_FILE, ("projected", "valid"))
    run_tests, bases = window_tests(run_blocks(arrays), options.test_width)
    null_tests, null_bases = window_tests(null_blocks(null), options.test_width)
    models = {s: NullModel.empirical(null_tests[s][2], options.min_null_candidates) for s in (1, -1)}
    # a sign neither side takes (a map that is never negative: Grad-CAM) needs no null; any other, enough of one
    if any(m.kind == "none" and (m.n or run_tests[s][2].shape[0]) for s, m in models.items()) or null_bases == 0:
        log.info("no motif instance calls: the shuffled null holds too few tests (need %d per sign)",
                 options.min_null_candidates)
        return None
    rng = np.random.default_rng(options.seed)
    *run_side, run_bases = sample_tests(run_tests, models, bases, None, rng)
    *null_side, null_scaled = sample_tests(null_tests, models, null_bases, options.max_windows, rng)
    needed = np.unique(null_side[0])
    one_hot = null_one_hot(out, needed)
    if one_hot is None:
        log.info("no motif instance calls: the null's sequences cannot be redrawn")
        return None
    lengths, null_lengths = arrays.lengths, null.lengths[needed]

    def run_sequences(r: np.ndarray, s: np.ndarray, width: int) -> np.ndarray:
        return extract_windows([arrays["one_hot"]], lengths, r, s, width)[0]

    def null_sequences(r: np.ndarray, s: np.ndarray, width: int) -> np.ndarray:
        return extract_windows([one_hot], null_lengths, np.searchsorted(needed, r), s, width)[0]

    return (ScoredWindows(WindowSet(*run_side[:3], run_bases, run_sequences), run_side[3]),
            ScoredWindows(WindowSet(*null_side[:3], null_scaled, null_sequences), null_side[3]))


def chunked_matches(motifs: list[DiscoveredMotif], windows: WindowSet, options: SupportOptions) -> list[MotifMatches]:
    """:func:`seqsal.motifs.support.scan_matches` over blocks of ``windows`` (bounded memory), joined."""
    n = windows.rows.shape[0]
    parts = [scan_matches(motifs, WindowSet(windows.rows[lo:lo + _SCAN_CHUNK], windows.starts[lo:lo + _SCAN_CHUNK],
                                            windows.signs[lo:lo + _SCAN_CHUNK], windows.bases, windows.sequences),
                          options) for lo in range(0, max(n, 1), _SCAN_CHUNK)]
    return [MotifMatches(*(np.concatenate([part[k][f] for part in parts]) for f in range(3)), motif.pwm.shape[1])
            for k, motif in enumerate(motifs)]


def motif_calls(motifs: list[DiscoveredMotif], thresholds: np.ndarray, run: ScoredWindows, null: ScoredWindows,
                options: SupportOptions, alpha: float) -> tuple[list[pd.DataFrame], pd.DataFrame]:
    """Each motif's calls at FDR ``alpha`` (:func:`seqsal.motifs.instances.step_up`) among the run's windows.

    Windows are ranked by their contribution p-value times their match p-value among the null's windows
    (:func:`seqsal.motifs.instances.window_statistics`).

    Parameters
    ----------
    motifs
        The kept motifs (``pwm``, ``sign``, ``name``).
    thresholds
        ``(K,)`` each motif's match threshold (its ``support_match``).
    run, null
        :func:`scored_windows`.
    options
        :class:`~seqsal.motifs.support.SupportOptions` (``max_shift``, ``test_width``).
    alpha
        The nominal FDR.

    Returns
    -------
    parts, summary
        Per motif the rows :func:`seqsal.motifs.instances.calls_table` takes; one row per motif: ``motif``,
        ``n_calls`` and ``call_cut`` (``t*``, the step-up's cut on ``p * p_match``: every call is at or under it;
        0 without a call).
    """
    run_matches = chunked_matches(motifs, run.windows, options)
    null_matches = chunked_matches(motifs, null.windows, options)
    parts, summary = [], []
    for motif, threshold, found, decoys in zip(motifs, thresholds, run_matches, null_matches):
        sign = 1 if motif.sign == "+" else -1
        run_p, null_p = run.pvalues[run.windows.signs == sign], null.pvalues[null.windows.signs == sign]
        run_u, run_match_p, null_u = window_statistics(run_p, found.score, null_p, decoys.score)
        gap = found.width // 2
        mine = one_per_instance(found.rows, found.start, run_u, found.score >= threshold, gap)
        decoy = one_per_instance(decoys.rows, decoys.start, null_u, decoys.score >= threshold, gap)
        result = step_up(run_u[mine], null_u[decoy], run.windows.bases[sign] / null.windows.bases[sign], alpha)
        called = mine[run_u[mine] <= result.cut] if result.n_calls else mine[:0]
        stretches = run.windows.sequences(found.rows[called], found.start[called], found.width)
        parts.append(pd.DataFrame({
            "motif": motif.name, "sign": motif.sign, "region_index": found.rows[called],
            "offset": found.start[called], "width": found.width, "strand": match_strand(motif.pwm, stretches),
            "pvalue": run_p[called], "match": found.score[called], "match_pvalue": run_match_p[called],
            "qvalue": result.qvalues[np.searchsorted(mine, called)]}))
        summary.append({"motif": motif.name, "n_calls": int(called.shape[0]), "call_cut": result.cut})
    return parts, pd.DataFrame(summary, columns=["motif", "n_calls", "call_cut"])


def instance_calls(out_dir: str | os.PathLike, motifs: list[DiscoveredMotif], thresholds: np.ndarray,
                   regions: pd.DataFrame, options: SupportOptions,
                   alpha: float) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The motif instance calls of a run folder at FDR ``alpha``: ``(calls, summary)``, or None without a null.

    ``calls`` has :data:`seqsal.motifs.instances.CALL_COLUMNS` (``motif_calls.tsv``), ``summary`` one row per motif
    (:func:`motif_calls`; ``n_calls`` counts the calls of ``calls``: a site seen from overlapping regions once).
    None (logged) when the run has no usable null (:func:`scored_windows`).
    """
    sides = scored_windows(out_dir, options)
    if sides is None:
        return None
    parts, summary = motif_calls(motifs, np.asarray(thresholds, np.float64), *sides, options, alpha)
    calls = calls_table(parts, regions)
    summary["n_calls"] = summary["motif"].map(calls.groupby("motif").size()).fillna(0).astype(np.int64)
    per_motif = ", ".join(f"{name} {n}" for name, n in zip(summary["motif"], summary["n_calls"]))
    log.info("%d motif instance calls at FDR %g (per motif: %s)", len(calls), alpha, per_motif or "none")
    return calls, summary


def write_calls(out_dir: str | os.PathLike, calls: pd.DataFrame | None) -> None:
    """Write ``motif_calls.tsv`` and ``motif_calls.bed`` (:func:`seqsal.motifs.instances.calls_bed`) atomically;
    with ``calls`` None, remove an earlier run's (they would describe other motifs)."""
    out = Path(out_dir)
    if calls is None:
        for name in CALL_FILES:
            if (out / name).is_file():
                os.unlink(out / name)
        return
    write_table_atomic(out / CALL_FILES[0], calls)
    write_table_atomic(out / CALL_FILES[1], calls_bed(calls), header=False)
