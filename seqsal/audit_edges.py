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
    (a bias per N base) has the same gradient on every base and cannot be seen by gradients (fresh25), so with the
    model at hand it is also asked (:func:`n_replacement`), for N in the regions and for bases its windows read past
    chromosome ends; the worse verdict stands, with its numbers.
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
        reference = "1 = N treated like any base; p: regions resampled (199), ratio <= 1"
    else:  # padding outside the attributed bases only: no gradient there, the model can still be asked
        ratio, pvalue, verdict, reference = np.nan, np.nan, "ok", "-"
        evidence = "no N or padded bases in the regions" + (
            f"; the model's input of {plural(int((padding > 0).sum()), 'region')} ran {padded} bp past a "
            "chromosome end, read as N (padded_bp of regions.tsv; outside the attributed bases)" if padded else "")
    filled = n_replacement(run, options, rng) if options.model and (unknown.any() or padded) else None
    if filled is not None:
        evidence += "; " + filled["evidence"]
        if SEVERITY[filled["verdict"]] > SEVERITY[verdict]:  # the model's own response decides: its numbers
            statistic = "mean |prediction change| when the N bases are filled / when as many called bases change"
            reference = "1 = N treated like any base; p: per-window differences, signs flipped (999)"
            ratio, pvalue, verdict = filled["value"], filled["pvalue"], filled["verdict"]
    return row("padding_and_N", statistic, reference, ratio, pvalue, verdict, evidence)


SEVERITY = {"ok": 0, "look": 1, "shortcut likely": 2}


def n_replacement(run: AuditRun, options: AuditOptions, rng: np.random.Generator) -> dict | None:
    """The model's own response to its N and padded input bases: what check 4b's gradients cannot see.

    A model can respond to N along the sum over A/C/G/T (a bias per N base, an all-zero column read as a feature),
    where every base's gradient is alike (fresh25: padded windows predicting 7.5-8.75 from padding alone, the
    gradient check `ok`). Each model window (as the run fed it) of up to ``options.model_regions`` regions with N
    or padded bases is predicted as it is, with its N columns filled by random bases, and with as many of its
    called columns changed to another base (the control), ``options.shuffles`` draws each. Effect: the mean
    |prediction change| of the fill over the control's; p: the per-window differences' signs flipped at random
    (999 draws, one-sided). Windows with fewer called bases than N (all-N regions) have no control and are left out.

    Returns
    -------
    dict or None
        ``verdict``, ``value`` (the effect), ``pvalue`` and ``evidence``; ``None`` when no region has N or
        padded bases.
    """
    import torch

    from .errors import InputError
    from .evaluate import predict_target, run_inputs

    table = run.regions
    unknown = (table["frac_N"].to_numpy(np.float64) > 0) if "frac_N" in table else np.zeros(len(table), bool)
    if "padded_bp" in table:
        unknown |= table["padded_bp"].to_numpy(np.int64) > 0
    names = table.loc[unknown, "name"].astype(str)
    if names.empty:
        return None
    picked = set(names.iloc[np.sort(rng.choice(len(names), min(len(names), options.model_regions), replace=False))])
    try:
        record, model, x, _, target, _ = run_inputs(run.path, None, options.seed, genome=run.genome(), names=picked)
    except (InputError, OSError, KeyError, ValueError, RuntimeError) as error:
        return {"verdict": "ok", "value": np.nan, "pvalue": np.nan,
                "evidence": f"model not run on the N bases: {error}"}
    array = x.numpy()
    n_columns = array.max(axis=1) < 1  # N (all zero, or 0.25 each) and padding
    keep = np.flatnonzero(n_columns.any(axis=1) & ((~n_columns).sum(axis=1) >= n_columns.sum(axis=1)))
    if not len(keep):
        return {"verdict": "ok", "value": np.nan, "pvalue": np.nan,
                "evidence": "no window with N bases has as many called bases to compare with"}
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
    effect = mean_fill / mean_control if mean_control > 0 else (np.inf if mean_fill > 0 else 1.0)
    verdict = grade(effect, pvalue, options.edge_look, options.edge_shortcut, options.alpha) \
        if np.isfinite(effect) else ("shortcut likely" if pvalue <= options.alpha else "ok")
    return {"verdict": verdict, "value": effect, "pvalue": pvalue, "evidence": (
        f"the model on {plural(len(keep), 'window')} with N bases: filling the N with random bases moves the "
        f"prediction by {mean_fill:.3g}, changing as many called bases by {mean_control:.3g} ({effect:.2f}x, "
        f"p {pvalue:.3g}, signs flipped 999 times)")}
