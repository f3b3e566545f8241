"""A run folder's motif instance calls: every test window, scored, against the null's (``motif_calls.*``).

The statistics are :mod:`seqsal.motifs.instances`'; the windows they need are
the run folder's sides (:func:`seqsal.motifs.sides.folder_sides`, read once for
the support test and the calls): the peak caller's test windows of the run's tracks
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

from ..io import write_table_atomic
from .discover import DiscoveredMotif
from .adaptive import adaptive_qvalues, one_motif_per_window
from .instances import calls_bed, calls_table, match_strand, one_per_instance, window_statistics
from .redundancy import MotifMatches
from .sides import FolderSides, ScoredWindows, WindowSet
from .support import SupportOptions, scan_matches

log = logging.getLogger("seqsal")

CALL_FILES = ("motif_calls.tsv", "motif_calls.bed")
"""The files :func:`write_calls` writes into the run folder (the ``motifs`` group of :mod:`seqsal.provenance`)."""

_SCAN_CHUNK = 1 << 16  # run windows whose sequences are cut out at once (~11 MB of float32 stretches)


def chunked_matches(motifs: list[DiscoveredMotif], windows: WindowSet, options: SupportOptions) -> list[MotifMatches]:
    """:func:`seqsal.motifs.support.scan_matches` over blocks of ``windows`` (bounded memory), joined."""
    n = windows.rows.shape[0]
    parts = [scan_matches(motifs, WindowSet(windows.rows[lo:lo + _SCAN_CHUNK], windows.starts[lo:lo + _SCAN_CHUNK],
                                            windows.signs[lo:lo + _SCAN_CHUNK], windows.bases, windows.sequences),
                          options) for lo in range(0, max(n, 1), _SCAN_CHUNK)]
    return [MotifMatches(*(np.concatenate([part[k][f] for part in parts]) for f in range(3)), motif.pwm.shape[1])
            for k, motif in enumerate(motifs)]


@dataclass
class Candidates:
    """One kept motif's candidate instances (:func:`candidates`): windows of its sign that match it."""

    sign: int
    run_p: np.ndarray  # (n,) the run's windows of the sign: contribution p-values
    run_u: np.ndarray  # (n,) p * p_match
    run_match_p: np.ndarray  # (n,)
    run: np.ndarray  # (k,) the run windows standing for an instance, indices into the above
    null_u: np.ndarray  # (n0,) the null's windows of the sign: p * p_match
    null: np.ndarray  # (k0,) the null windows standing for an instance
    scale: float  # B / B0 of the sign
    top: float  # the candidates' share of the windows, both sides (seqsal.motifs.adaptive.enrichment_ranks)


def candidates(motif: DiscoveredMotif, threshold: float, hits: MotifMatches, decoys: MotifMatches,
               run: ScoredWindows, null: ScoredWindows) -> Candidates:
    """The run's and the null's windows that match ``motif`` at ``>= threshold``, one per instance
    (:func:`seqsal.motifs.instances.one_per_instance`), with their statistics
    (:func:`seqsal.motifs.instances.window_statistics`)."""
    sign = 1 if motif.sign == "+" else -1
    run_p, null_p = run.pvalues[run.windows.signs == sign], null.pvalues[null.windows.signs == sign]
    run_u, run_match_p, null_u = window_statistics(run_p, hits.score, null_p, decoys.score)
    gap = hits.width // 2
    top = ((hits.score >= threshold).sum() + (decoys.score >= threshold).sum()) / max(
        hits.score.shape[0] + decoys.score.shape[0], 1)
    return Candidates(sign, run_p, run_u, run_match_p,
                      one_per_instance(hits.rows, hits.start, run_u, hits.score >= threshold, gap), null_u,
                      one_per_instance(decoys.rows, decoys.start, null_u, decoys.score >= threshold, gap),
                      float(run.windows.bases[sign] / null.windows.bases[sign]), float(top))


def motif_calls(motifs: list[DiscoveredMotif], thresholds: np.ndarray, run: ScoredWindows, null: ScoredWindows,
                options: SupportOptions, alpha: float) -> tuple[list[pd.DataFrame], pd.DataFrame]:
    """Every kept motif's calls at one FDR ``alpha`` over all of them (:mod:`seqsal.motifs.adaptive`).

    Windows are ranked by their contribution p-value times their match p-value among the null's windows
    (:func:`seqsal.motifs.instances.window_statistics`), one window per instance, and a window that matches
    several motifs is a candidate of the one it matches best (:func:`seqsal.motifs.adaptive.one_motif_per_window`).

    Parameters
    ----------
    motifs
        The kept motifs (``pwm``, ``sign``, ``name``).
    thresholds
        ``(K,)`` each motif's match threshold (its ``support_match``).
    run, null
        :attr:`seqsal.motifs.sides.FolderSides.calls`.
    options
        :class:`~seqsal.motifs.support.SupportOptions` (``max_shift``, ``test_width``).
    alpha
        The nominal FDR.

    Returns
    -------
    parts, summary
        Per motif the rows :func:`seqsal.motifs.instances.calls_table` takes; one row per motif: ``motif``,
        ``n_calls``, ``call_cut`` (the largest ``p * p_match`` among its calls, 0 without a call) and ``min_fdr``
        (its best instance's q-value, rounded up: the FDR that calls it; NaN without a candidate).
    """
    run_matches = chunked_matches(motifs, run.windows, options)
    null_matches = chunked_matches(motifs, null.windows, options)
    found = [candidates(motif, threshold, hits, decoys, run, null)
             for motif, threshold, hits, decoys in zip(motifs, thresholds, run_matches, null_matches)]
    for sign in (1, -1):  # the windows of a sign are one set: each goes to the motif it matches best
        same = [c for c in found if c.sign == sign]
        for side, u in (("run", "run_u"), ("null", "null_u")):
            kept = one_motif_per_window([getattr(c, side) for c in same],
                                        [getattr(c, u)[getattr(c, side)] for c in same])
            for c, keep in zip(same, kept):
                setattr(c, side, getattr(c, side)[keep])
    qvalues = adaptive_qvalues([(c.run_u[c.run], c.null_u[c.null], c.scale, c.top) for c in found])
    parts, summary = [], []
    for motif, hits, c, q in zip(motifs, run_matches, found, qvalues):
        called = c.run[q <= alpha]
        stretches = run.windows.sequences(hits.rows[called], hits.start[called], hits.width)
        parts.append(pd.DataFrame({
            "motif": motif.name, "sign": motif.sign, "region_index": hits.rows[called],
            "offset": hits.start[called], "width": hits.width, "strand": match_strand(motif.pwm, stretches),
            "pvalue": c.run_p[called], "match": hits.score[called], "match_pvalue": c.run_match_p[called],
            "qvalue": q[q <= alpha]}))
        summary.append({"motif": motif.name, "n_calls": int(called.shape[0]),
                        "call_cut": float(c.run_u[called].max()) if called.shape[0] else 0.0,
                        "min_fdr": ceil_digits(float(q.min())) if q.shape[0] else float("nan")})
    return parts, pd.DataFrame(summary, columns=["motif", "n_calls", "call_cut", "min_fdr"])


def ceil_digits(value: float, digits: int = 4) -> float:
    """``value`` rounded up to ``digits`` significant digits (NaN, 0 and infinities as they are): an FDR shown
    this way, given back as ``--instance-fdr``, is never below the estimate it stands for."""
    if not np.isfinite(value) or value <= 0:
        return float(value)
    scale = 10.0 ** (digits - 1 - int(np.floor(np.log10(value))))
    return float(np.ceil(value * scale) / scale)


def uncalled_note(summary: pd.DataFrame, alpha: float) -> str | None:
    """One line on the motifs that pass the support test but get no instance call, and what would call them.

    Parameters
    ----------
    summary
        :func:`motif_calls`'s summary (``motif``, ``n_calls``, ``min_fdr``).
    alpha
        The nominal FDR the calls were made at.

    Returns
    -------
    str or None
        None when every motif has a call. Otherwise the motifs, each with its smallest estimated FDR: the
        instance FDR that would call its best instances (with no run instance, none would), and why a kept
        motif can have none (its instances were peeled off before the estimate over all motifs' calls fell to
        ``alpha``, :mod:`seqsal.motifs.adaptive`).
    """
    none = summary[summary["n_calls"] == 0]
    if none.empty:
        return None
    each = ", ".join(f"{name} (smallest estimated FDR {fdr:.4g})" if np.isfinite(fdr) else f"{name} (no candidate)"
                     for name, fdr in zip(none["motif"], none["min_fdr"].astype(np.float64)))
    return (f"no instance call at FDR {alpha:g} for {each}: null windows that match it rank among its best, so "
            f"its instances left the calls before the FDR estimated over all motifs' calls fell to {alpha:g}; "
            "--instance-fdr at the estimate calls its best, a larger shuffled null (seqsal attribute "
            "--min-null-bases, --null-fraction) sharpens the estimate (its seqlets are in motif_instances.tsv)")


def instance_calls(sides: FolderSides | None, motifs: list[DiscoveredMotif], thresholds: np.ndarray,
                   regions: pd.DataFrame, options: SupportOptions,
                   alpha: float) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The motif instance calls of a run folder at FDR ``alpha``: ``(calls, summary)``, or None without a null.

    ``sides`` is the folder's :func:`seqsal.motifs.sides.folder_sides` (its ``calls`` windows; None: the run has
    no usable null, and there are no calls). ``calls`` has :data:`seqsal.motifs.instances.CALL_COLUMNS`
    (``motif_calls.tsv``), ``summary`` one row per motif (:func:`motif_calls`; ``n_calls`` counts the calls of
    ``calls``: a site seen from overlapping regions once).
    """
    if sides is None:
        return None
    parts, summary = motif_calls(motifs, np.asarray(thresholds, np.float64), *sides.calls, options, alpha)
    calls = calls_table(parts, regions)
    summary["n_calls"] = summary["motif"].map(calls.groupby("motif").size()).fillna(0).astype(np.int64)
    per_motif = ", ".join(f"{name} {n}" for name, n in zip(summary["motif"], summary["n_calls"]))
    log.info("%d motif instance calls at FDR %g (per motif: %s)", len(calls), alpha, per_motif or "none")
    if (note := uncalled_note(summary, alpha)) is not None:
        log.info("%s", note)
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
