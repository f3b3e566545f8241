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
                f"({result['ratio']:.2f}x)")
    if len(flagged):
        first = peaks[result["rows"]] < run.lengths[flagged] / 2
        side, word = ac.edge_consensus(run.sequences_of(flagged), first, 2 * options.edge_k)
        evidence += (f"; {int(first.sum())} at the region's first {2 * options.edge_k} bp, {int((~first).sum())} at "
                     f"its last; their {side} {2 * options.edge_k} bp: {word} (upper case: the base of >= half of them)")
    evidence += f"; mean |contribution| near edges {edge_mean:.3g}, interior {interior_mean:.3g} ({ratio:.2f}x)" + note
    return row("window_edges", statistic, f"peaks jittered by <= {options.jitter} bp (199 draws)", excess,
               result["pvalue"], verdict, evidence)


def check_padding(run: AuditRun, options: AuditOptions, rng: np.random.Generator) -> dict:
    """Check 4b: gradient magnitude (max over A/C/G/T of |hypothetical|) on N and padded bases against called bases.

    The projected contribution of an N (all-zero one-hot) is zero by construction, so reliance shows in what the
    model *would* do there: its hypothetical contributions. Regions without a called base are left out: their
    maps are zeroed (status ``all_N``), not measured. A model whose response to N lies along the sum over A/C/G/T
    (a bias per N base) has the same gradient on every base and cannot be seen here (fresh25); the model's own
    response is what ``check-seqlets``-style replacement would measure.
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
    if not unknown.any():
        return row("padding_and_N", statistic, "-", np.nan, np.nan, "ok", "no N or padded bases in the regions" + (
            f"; the model's input of {plural(int((padding > 0).sum()), 'region')} ran {padded} bp past a "
            "chromosome end, read as N (padded_bp of regions.tsv; outside the attributed bases)" if padded else ""))
    n_mean, called_mean, ratio = ac.mean_ratio(magnitude, unknown, called)
    pvalue = ac.row_bootstrap_ratio(magnitude, unknown, called, rng)
    verdict = grade(ratio, pvalue, options.edge_look, options.edge_shortcut, options.alpha)
    return row("padding_and_N", statistic, "1 = N treated like any base; p: regions resampled (199), ratio <= 1",
               ratio, pvalue, verdict,
               f"{int(unknown.sum())} N bases in {plural(int(unknown.any(axis=1).sum()), 'region')}: {n_mean:.3g} "
               f"against {called_mean:.3g}" + read_past)
