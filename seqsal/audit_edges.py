"""Check 4 of ``seqsal audit``: reliance on the model-window edges, on N and on padded bases."""
from __future__ import annotations

import numpy as np

from . import audit_checks as ac
from .audit_inputs import AuditOptions, AuditRun, grade, row, window_edges
from .text import plural


def check_edges(run: AuditRun, options: AuditOptions, rng: np.random.Generator) -> dict:
    """Check 4a: regions whose strongest ``edge_k``-bp stretch lies within ``edge_k`` bp of a model-window edge.

    Each region counts once (:func:`audit_checks.peaks_in_zone`), against the peaks jittered by ``jitter`` bp; a
    mean over all regions would dilute an edge shortcut that a fraction of the regions carry. The mean
    |contribution| near the edges against the interior is in the evidence.
    """
    valid = run.called
    near = ac.edge_mask(run.lengths, valid.shape[1], window_edges(run), options.edge_k) & valid
    interior = valid & ~near
    edge_mean, interior_mean, ratio = ac.mean_ratio(run.mass, near, interior)
    statistic = f"share of regions whose strongest {options.edge_k}-bp stretch is within {options.edge_k} bp of a " \
                "window edge, minus the null share"
    if not near.any():
        return row("window_edges", statistic, "-", np.nan, np.nan, "n/a",
                   "no window edge inside the regions (each region got its genomic context)")
    flat = ac.flat_rows(run.mass, valid)  # all-N, zeroed (nonfinite), all-zero or constant maps: no peak to place
    audited = np.flatnonzero(~flat)
    left_out = int((valid.any(axis=1) & flat).sum())
    note = (f"; {plural(left_out, 'region')} whose map is the same on every base (e.g. all zero) left out: no "
            "strongest stretch" if left_out else "")
    if not len(audited):
        return row("window_edges", statistic, "-", np.nan, np.nan, "n/a",
                   "no region's map has a strongest stretch" + note)
    peaks = ac.region_peaks(run.mass[audited], run.lengths[audited], options.edge_k)
    result = ac.peaks_in_zone(peaks, run.lengths[audited], near[audited], rng, options.jitter, n_null=199)
    excess = result["share"] - result["expected"]
    verdict = grade(excess, result["pvalue"], options.edge_excess_look, options.edge_excess_shortcut, options.alpha)
    if result["ratio"] < options.edge_look:
        verdict = "ok"  # a broad trend (e.g. motifs near the ends of short regions), not a pile at the edge
    flagged = audited[result["rows"]]
    evidence = (f"{len(flagged)} of {len(peaks)} regions ({100 * result['share']:.1f} %) peak at a window edge, "
                f"{100 * result['expected']:.1f} % expected under jitter of <= {options.jitter} bp "
                f"({_times(result['ratio'])})")
    if len(flagged):
        first = peaks[result["rows"]] < run.lengths[flagged] / 2
        side, word = ac.edge_consensus(run.sequences_of(flagged), first, 2 * options.edge_k)
        evidence += (f"; {int(first.sum())} at the region's first {2 * options.edge_k} bp, {int((~first).sum())} at "
                     f"its last; their {side} {2 * options.edge_k} bp: {word} (upper case: the base of >= half of them)")
    evidence += (f"; mean |contribution| near edges {edge_mean:.3g}, interior {interior_mean:.3g} "
                 f"({_times(ratio)})" + note)
    return row("window_edges", statistic, f"peaks jittered by <= {options.jitter} bp (199 draws)", excess,
               result["pvalue"], verdict, evidence)


def check_padding(run: AuditRun, options: AuditOptions, rng: np.random.Generator) -> dict:
    """Check 4b: gradient magnitude (max over A/C/G/T of |hypothetical|) on N and padded bases against called bases.

    The projected contribution of an N (all-zero one-hot) is zero by construction, so reliance shows in what the
    model *would* do there: its hypothetical contributions. Regions without a called base are left out: their
    maps are zeroed (status ``all_N``), not measured. With the model at hand, how much its predictions move when
    the N (in the regions, or read past chromosome ends) are filled with random bases is added to the evidence
    (:func:`n_replacement`), not graded: a bias per N base (fresh25) is, for a linear model, the same function as
    bases that each contribute that much less, so no test of the model's outputs can tell "reads N as a feature"
    from "its bases carry a mean contribution" (an activity model such as the zoo's dilated10k_B moves 2x more when
    its padding is filled than when as many bases change, p 0.012).
    """
    width = run.codes.shape[1]
    inside = np.arange(width)[None, :] < run.lengths[:, None]
    called = run.called & inside
    unknown = inside & ~called & called.any(axis=1)[:, None]  # all-N regions: zeroed maps, nothing measured
    magnitude = run.magnitude
    padding = run.regions["padded_bp"].to_numpy(np.int64) if "padded_bp" in run.regions else np.zeros(1, np.int64)
    padded = int(padding.sum())  # N bases the model read past chromosome ends (its window's, for short regions)
    read_past = (f"; the model read {padded} bases past chromosome ends as N in "
                 f"{plural(int((padding > 0).sum()), 'region')} (padded_bp of regions.tsv)" if padded else "")
    statistic = "mean max|hypothetical| on N/padded bases / on called bases"
    if not called.any():
        return row("padding_and_N", statistic, "-", np.nan, np.nan, "n/a", "no region has a called base" + read_past)
    if unknown.any():
        n_mean, called_mean, ratio = ac.mean_ratio(magnitude, unknown, called)
        pvalue = ac.row_bootstrap_ratio(magnitude, unknown, called, rng)
        verdict = grade(ratio, pvalue, options.edge_look, options.edge_shortcut, options.alpha)
        evidence = (f"{int(unknown.sum())} N bases in {plural(int(unknown.any(axis=1).sum()), 'region')}: gradient "
                    f"{n_mean:.3g} against {called_mean:.3g}" + read_past)
    else:  # padding outside the attributed bases only: no gradient there, the model can still be asked
        ratio, pvalue, verdict = np.nan, np.nan, "ok"
        evidence = "no N or padded bases in the regions" + (
            f"; the model's input of {plural(int((padding > 0).sum()), 'region')} ran {padded} bp past a "
            "chromosome end, read as N (padded_bp of regions.tsv; outside the attributed bases)" if padded else "")
    filled = n_replacement(run, options, rng) if options.model and (unknown.any() or padded) else None
    if filled is not None:
        evidence += "; " + filled
    reference = "1 = N treated like any base; p: regions resampled (199), ratio <= 1" if unknown.any() else "-"
    return row("padding_and_N", statistic, reference, ratio, pvalue, verdict, evidence)


def n_replacement(run: AuditRun, options: AuditOptions, rng: np.random.Generator) -> str | None:
    """How much the model's predictions move when its N and padded input bases become sequence (evidence only).

    fresh25: a model adding a bias per N base predicted 7.5-8.75 for padded windows (others 0-2) while every
    gradient was alike. Each model window (as the run fed it) of up to ``options.model_regions`` regions with N or
    padded bases is predicted as it is, with its N columns filled by random bases, and with as many of its called
    columns changed to another base, ``options.shuffles`` draws each: the mean |prediction change| of each, their
    ratio and a one-sided p (the per-window differences' signs flipped, 999 draws). Not a verdict: a model whose
    bases carry a mean contribution moves more when sequence is added than when it is changed, reading N or not
    (:func:`check_padding`). Windows with fewer called bases than N (all-N regions) are left out.

    Returns
    -------
    str or None
        The evidence text; ``None`` when no region has N or padded bases.
    """
    import torch

    from .errors import InputError
    from .evaluate import predict_target
    from .run_windows import run_inputs

    table = run.regions
    unknown = (table["frac_N"].to_numpy(np.float64) > 0) if "frac_N" in table else np.zeros(len(table), bool)
    if "padded_bp" in table:
        unknown |= table["padded_bp"].to_numpy(np.int64) > 0
    rows = np.flatnonzero(unknown)  # rows of regions.tsv (names may repeat)
    if not len(rows):
        return None
    picked = set(rows[np.sort(rng.choice(len(rows), min(len(rows), options.model_regions), replace=False))].tolist())
    try:
        record, model, x, _, target, _ = run_inputs(run.path, None, options.seed, genome=run.genome(), rows=picked)
    except (InputError, OSError, KeyError, ValueError, RuntimeError) as error:
        return f"model not run on the N bases: {error}"
    array = x.numpy()
    n_columns = array.max(axis=1) < 1  # N (all zero, or 0.25 each) and padding
    keep = np.flatnonzero(n_columns.any(axis=1) & ((~n_columns).sum(axis=1) >= n_columns.sum(axis=1)))
    if not len(keep):
        return "no window with N bases has as many called bases to compare with"
    draws = options.shuffles
    fill, control = np.repeat(array[keep], draws, axis=0), np.repeat(array[keep], draws, axis=0)
    for k, w in enumerate(np.repeat(keep, draws)):
        gaps = np.flatnonzero(n_columns[w])
        fill[k][:, gaps] = np.eye(4, dtype=array.dtype)[:, rng.integers(0, 4, len(gaps))]
        moved = rng.choice(np.flatnonzero(~n_columns[w]), len(gaps), replace=False)
        other = (array[w][:, moved].argmax(axis=0) + rng.integers(1, 4, len(moved))) % 4
        control[k][:, moved] = np.eye(4, dtype=array.dtype)[:, other]
    rc = bool(record.get("parameters", {}).get("rc", False))
    before = np.asarray(predict_target(model, torch.from_numpy(array[keep]), target, rc=rc), np.float64)
    after = [np.asarray(predict_target(model, torch.from_numpy(np.ascontiguousarray(z)), target, rc=rc),
                        np.float64).reshape(len(keep), draws) for z in (fill, control)]
    change_fill, change_control = (np.abs(a - before[:, None]).mean(axis=1) for a in after)
    difference = change_fill - change_control
    flips = rng.choice([-1.0, 1.0], size=(999, len(difference)))
    pvalue = (1 + int(((flips * difference).mean(axis=1) >= difference.mean()).sum())) / 1000
    mean_fill, mean_control = float(change_fill.mean()), float(change_control.mean())
    effect = mean_fill / mean_control if mean_control > 0 else np.inf
    return (f"the model on {plural(len(keep), 'window')} with N bases: filling the N with random bases moves the "
            f"prediction by {mean_fill:.3g}, changing as many called bases by {mean_control:.3g} ({effect:.2f}x, "
            f"p {pvalue:.3g}, signs flipped 999 times; evidence, not graded)")


def _times(ratio: float) -> str:
    """A ratio in words: ``2.50x``, or ``no ratio: 0/0`` (fresh28: "(nanx)")."""
    return f"{ratio:.2f}x" if np.isfinite(ratio) else "inf x" if ratio == np.inf else "no ratio: 0/0"
