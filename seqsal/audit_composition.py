"""Check 3 of ``seqsal audit``: reliance on composition (GC and CpG correlation, soft-masked bases, the model's
response to dinucleotide shuffles: the run's own shuffled null, or a fixed sample of windows run through the
model)."""
from __future__ import annotations

import numpy as np

from . import audit_checks as ac
from .audit_inputs import AuditOptions, AuditRun, grade, row, soft_mask
from .errors import InputError
from .peaks import run_null_problem
from .peaks.options import NULL_FILE


def check_composition(run: AuditRun, options: AuditOptions, rng: np.random.Generator) -> dict:
    """Check 3a: Spearman correlation of prediction and attribution sum with GC and CpG (permutation p)."""
    gc, cpg = run.composition()
    projected_sum = run.contribution.sum(axis=1)
    quantities = {"prediction": run.regions["prediction"].to_numpy(np.float64)
                  if "prediction" in run.regions else np.full(len(gc), np.nan), "attribution sum": projected_sum}
    results = [(name, comp, *ac.spearman_permutation(values, composition_values, rng))
               for name, values in quantities.items()
               for comp, composition_values in (("GC", gc), ("CpG", cpg))]
    finite = [r for r in results if np.isfinite(r[2])]
    if not finite:
        return row("composition_correlation", "max |Spearman rho|", "-", np.nan, np.nan, "n/a", "too few regions")
    name, comp, rho, pvalue = max(finite, key=lambda r: abs(r[2]))
    pvalue = min(1.0, pvalue * len(finite))
    verdict = grade(abs(rho), pvalue, options.rho_look, options.rho_shortcut, options.alpha)
    evidence = "; ".join(f"{n} ~ {c}: rho {r:+.2f}" for n, c, r, _ in results)
    return row("composition_correlation", "max |Spearman rho| of prediction / attribution sum with GC, CpG",
               "999 permutations, Bonferroni over 4", abs(rho), pvalue, verdict,
               f"strongest {name} ~ {comp}; {evidence}; mean GC {np.nanmean(gc):.3f}")


def check_soft_masked(run: AuditRun, options: AuditOptions, rng: np.random.Generator) -> dict:
    """Check 3b: share of |contribution| on soft-masked bases against their share of the bases (shift null)."""
    statistic = "|contribution| share / base share on soft-masked bases"
    try:
        mask = soft_mask(run)
    except (InputError, OSError, KeyError) as error:
        return row("soft_masked", statistic, "-", np.nan, np.nan, "n/a", f"genome of run.json not readable: {error}")
    valid = run.called
    if not (mask & valid).any():
        return row("soft_masked", statistic, "-", np.nan, np.nan, "ok", "no soft-masked bases in the regions")
    result = ac.share_inside(run.mass, mask, valid, run.lengths, rng)
    verdict = grade(result["enrichment"], result["pvalue"], options.masked_look, options.masked_shortcut,
                    options.alpha)
    return row("soft_masked", statistic, "mask circularly shifted within each region (199 draws)",
               result["enrichment"], result["pvalue"], verdict,
               f"lowercase bases {100 * result['base_share']:.2f} % of the bases, "
               f"{100 * result['track_share']:.2f} % of |contribution|")


_MAX_N = 0.01  # regions (windows) with more N than this are left out: shuffles keep their Ns in place
_MIN_NULL_REGIONS = 10


def null_shuffle_predictions(run: AuditRun) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The run's own shuffle response: each null region's prediction and its shuffled copies' mean.

    The shuffled null (``null.npz``, :func:`seqsal.peaks.nulls.write_shuffled_null`) holds dinucleotide
    shuffles of a sample of the run's regions (each widened to the model window if shorter), run through the model
    during the attribution, with their predictions. Only rows that are a whole region count: a row that is a
    piece of a long region (:func:`seqsal.peaks.nulls.null_pieces`) is the shuffle of another stretch than the one
    ``regions.tsv`` predicts. Regions with more than 1 % N or with padded bases, non-finite predictions or a status
    other than ``ok`` are left out.

    Returns
    -------
    original, shuffled, copies
        ``(R,)`` predictions of the sampled regions (``regions.tsv``) and the mean prediction of their copies, and
        the copies per region; ``None`` when the folder has no null, its null has no predictions (folders made
        before they were stored) or fewer than 10 regions remain.
    """
    path = run.path / NULL_FILE
    if not path.exists():
        return None
    if (problem := run_null_problem(run.path, run.regions)) is not None:  # another run's, or damaged: refused
        raise InputError(problem, str(path))  # as call-peaks and motifs do (auditbreak: read as this run's)
    with np.load(path) as null:
        if "prediction" not in null.files:
            return None
        rows, predictions = null["region_index"].astype(np.int64), null["prediction"].astype(np.float64)
        keys = np.char.split(null["region_key"].astype(str), "\t")  # the piece's chrom, start, end, name
    table = run.regions
    starts, ends = table["start"].to_numpy(np.int64)[rows], table["end"].to_numpy(np.int64)[rows]
    whole = np.array([int(key[1]) == s and int(key[2]) == e for key, s, e in zip(keys, starts, ends)], dtype=bool)
    rows, predictions = rows[whole], predictions[whole]
    index, counts = np.unique(rows, return_counts=True)
    sums = np.bincount(np.searchsorted(index, rows), weights=predictions, minlength=len(index))
    shuffled = sums / counts
    original = table["prediction"].to_numpy(np.float64)[index]
    keep = np.isfinite(original) & np.isfinite(shuffled)
    for column, limit in (("frac_N", _MAX_N), ("padded_bp", 0)):
        if column in table:
            keep &= table[column].to_numpy(np.float64)[index] <= limit
    if "status" in table:
        keep &= table["status"].astype(str).to_numpy()[index] == "ok"
    if keep.sum() < _MIN_NULL_REGIONS:
        return None
    return original[keep], shuffled[keep], int(counts.max())


def check_shuffle_response(run: AuditRun, options: AuditOptions) -> dict:
    """Check 3c: predictions of dinucleotide shuffles of the run's windows against the originals.

    From the run's shuffled null when it stored its predictions (:func:`null_shuffle_predictions`: every null
    region, no model run); else (``--null laplace``, older folders) the model of ``run.json`` runs on the windows of
    at most ``options.model_regions`` regions (through :func:`seqsal.evaluate` 's inputs, exactly as the run fed
    them) and ``options.shuffles`` dinucleotide shuffles of each, unless ``options.model`` is off (``n/a``).
    """
    statistic = "slope of mean shuffled prediction on prediction"
    from_null = null_shuffle_predictions(run)
    if from_null is not None:
        original, mean_shuffled, copies = from_null
        source = (f"{len(original)} regions x {copies} dinucleotide shuffle{'s' if copies > 1 else ''} of what the "
                  "model read of them (the region, widened to the window if shorter: the run's shuffled null, null.npz;"
                  " regions over 1 % N left out)")  # fresh25: the null shuffles a tiled region whole, not per window
        return _shuffle_row(statistic, original, mean_shuffled, source, options)
    if not options.model:
        why = ("the run's null stored no predictions" if (run.path / NULL_FILE).exists() else
               "the run has no shuffled null (null.npz)")
        return row("shuffle_response", statistic, "-", np.nan, np.nan, "n/a",
                   f"{why} and the model check is off (--no-model)")
    import torch

    from .evaluate import predict_target
    from .run_windows import run_inputs
    from .shuffle import dinucleotide_shuffle

    statistic = "slope of mean shuffled prediction on prediction"
    try:
        record, model, x, windows, target, seed = run_inputs(run.path, options.model_regions, options.seed,
                                                              genome=run.genome())
    except (InputError, OSError, KeyError, ValueError, RuntimeError) as error:
        return row("shuffle_response", statistic, "-", np.nan, np.nan, "n/a", f"model not loaded: {error}")
    rc = bool(record.get("parameters", {}).get("rc", False))
    called = x.numpy().max(axis=1).mean(axis=1) >= 0.99  # windows with N / padding keep it when shuffled: check 4's
    dropped = int((~called).sum()) if called.sum() >= 10 else 0
    x = x[torch.from_numpy(called)] if dropped else x
    original = predict_target(model, x, target, rc=rc)
    shuffled = dinucleotide_shuffle(x.numpy(), n=options.shuffles, seed=options.seed)
    flat = shuffled.reshape(-1, *shuffled.shape[2:])
    mean_shuffled = predict_target(model, torch.from_numpy(np.ascontiguousarray(flat)), target, rc=rc)
    mean_shuffled = mean_shuffled.reshape(len(original), options.shuffles).mean(axis=1)
    source = (f"{len(original)} windows x {options.shuffles} dinucleotide shuffles (the model run on a sample)"
              + (f" ({dropped} windows over 1 % N left out: shuffles keep their Ns)" if dropped else ""))
    return _shuffle_row(statistic, np.asarray(original, np.float64), np.asarray(mean_shuffled, np.float64), source,
                        options)


def _shuffle_row(statistic: str, original: np.ndarray, mean_shuffled: np.ndarray, source: str,
                 options: AuditOptions) -> dict:
    """The check's row: the slope of the shuffles' mean prediction on the original's, bootstrap p of slope <= 0;
    ``n/a`` when fewer than 3 pairs are finite or the predictions do not vary (fresh16: a model with NaN outputs
    was graded ``ok`` on a slope of NaN)."""
    finite = np.isfinite(original) & np.isfinite(mean_shuffled)
    if not finite.all():
        source += f"; {int((~finite).sum())} of {len(finite)} with a non-finite prediction left out"
        original, mean_shuffled = original[finite], mean_shuffled[finite]
    slope = ac.retained_slope(original, mean_shuffled)
    if not np.isfinite(slope):
        return row("shuffle_response", statistic, "-", np.nan, np.nan, "n/a",
                   f"{source}; fewer than 3 finite predictions, or predictions that do not vary: no slope")
    boot = np.random.default_rng(options.seed)
    slopes = [ac.retained_slope(original[pick], mean_shuffled[pick])
              for pick in (boot.integers(0, len(original), len(original)) for _ in range(199))]
    pvalue = (1 + int(np.sum(np.array(slopes) <= 0))) / 200
    verdict = grade(slope, pvalue, options.retained_look, options.retained_shortcut, options.alpha)
    return row("shuffle_response", statistic, "0 = composition keeps none of the spread; bootstrap p of slope <= 0",
               slope, pvalue, verdict,
               f"{source}; prediction sd {np.std(original):.3g}, shuffled sd {np.std(mean_shuffled):.3g}, mean "
               f"{np.mean(original):.3g} -> {np.mean(mean_shuffled):.3g}")
