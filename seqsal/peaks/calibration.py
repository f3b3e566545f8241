"""Calibration the user can see: per sign, how the run's p-values compare with what a null run gives.

Recorded in ``run.json`` under ``peaks.calibration`` and drawn in ``report.html``; the warnings it
gives say what to do (a null too small, a tail fit that fails, a null that does not represent the
run's background).
"""
from __future__ import annotations

import math

import numpy as np

P_GRID = np.array([1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0])  # where calibration is recorded
_HEAVY_RATIO, _HEAVY_MIN_TESTS = 0.8, 500  # bulk ratio below this, on this many tests (> 4 SD from 1): a heavy null
_SMALL_NULL = 1000  # fewer null tests than this per sign: p-values below 1e-3 rest on the tail fit alone
ROW_SPREAD_WARN = 0.6  # sd of the null regions' log noise level above which complete nulls were seen to over-call
LARGER_NULL = ("rerun `seqsal attribute` with a larger --min-null-bases (a run shorter than that shuffles each "
               "region up to --max-null-copies times, 8 by default: raise both for a run of few, short "
               "regions; API: run_attribute(..., peaks=PeakOptions(min_null_bases=..., max_null_copies=...)))")
# the remedy of a small null, in both the command's and the notebook API's words (fresh30: CLI words only)


def calibration_summary(models: dict, at_or_below: dict, remedy: str = LARGER_NULL) -> tuple[dict, list[str]]:
    """What ``run.json`` records under ``peaks.calibration``, and warnings that say what to do.

    Per sign: the number of observed tests and of null tests, the smallest p-value the null resolves by
    counting (``1 / (n + 1)``), whether its tail fit holds, and the observed-vs-null curve: on
    :data:`P_GRID`, how many observed tests have ``p <= t`` against the ``m t`` a null run would give.
    Most tests are background, so ``bulk_ratio`` (tests with ``p <= 0.5`` over ``m / 2``) near 1 says the
    null represents the run's background; well above 1, the null is too light for this model's tracks; well
    below 1 (0.79 on the zoo's sigmoid classifier, benchmarks/RESULTS.md), too heavy: the model's attributions
    shrink where it is active, as a saturating output's do. A sign whose null holds too few tests to fit
    (``none``, the one place that says so, for either null) gets ``remedy``: a larger shuffled null, or, for the
    Laplace null, longer tracks or a null sample.
    """
    summary, warnings = {}, []
    for sign in (1, -1):
        name, model = ("+" if sign > 0 else "-"), models[sign]
        m = int(at_or_below[sign][-1])
        entry = {"tests": m, "null_kind": model.kind, "null_tests": int(model.n),
                 "p_grid": P_GRID.tolist(), "observed_at_or_below": at_or_below[sign].tolist(),
                 "expected_at_or_below": (m * P_GRID).round(3).tolist(),
                 "bulk_ratio": round(float(at_or_below[sign][8]) / max(0.5 * m, 1.0), 4)}
        if model.kind == "empirical":
            entry.update(smallest_counted_p=round(1 / (model.n + 1), 8), tail_fit_ok=bool(model.tail_fit_ok),
                         tail_shape=round(float(model.shape), 4))
            if model.n < _SMALL_NULL:
                warnings.append(f"the shuffled null holds only {model.n} {name} tests: p-values below "
                                f"{1 / (model.n + 1):.1g} rest on its fitted tail and calls are few; "
                                f"{LARGER_NULL}")
            if not model.tail_fit_ok:
                warnings.append(f"the {name} null's tail fit does not hold: {name} p-values are empirical only "
                                f"(>= {1 / (model.n + 1):.1g}); {LARGER_NULL}")
        if model.kind == "none" and model.n:
            warnings.append(f"the null holds only {model.n} {name} tests, too few to fit: no {name} seqlets are "
                            f"called; {remedy}")
        if m >= 200 and entry["bulk_ratio"] > 1.5:  # the run's own remedy (fresh28: "try --null shuffle" to a
            # run that had it)
            warnings.append(f"{name} p-values are not uniform in the bulk ({entry['bulk_ratio']:.2f} x the null's "
                            f"share at p <= 0.5): the null does not represent this run's background; look at the "
                            f"calibration plot of report.html, or {remedy}")
        if m >= _HEAVY_MIN_TESTS and entry["bulk_ratio"] < _HEAVY_RATIO:
            warnings.append(f"{name} p-values are larger than a null run's in the bulk ({entry['bulk_ratio']:.2f} x "
                            f"the null's share at p <= 0.5): the shuffled copies' attributions are larger than this "
                            "run's own, so calls are fewer than they should be; a model whose output saturates (a "
                            "sigmoid or softmax inside forward) gives its smallest attributions where it is most "
                            "active: explain its logit (an output before the sigmoid, --target), or, for a model that returns "
                            "only the probability, `--target 0,transform=logit`")
        summary[name] = entry
    return summary, warnings


def row_spread_warning(spread: dict | None) -> list[str]:
    """The warning a null whose regions differ too much in noise level
    (:func:`seqsal.peaks.calling.row_scale_spread`) gets."""
    if spread is None or spread["sd_log_scale"] <= ROW_SPREAD_WARN:
        return []
    return [f"the null's regions differ in noise level (sd of the log per-region level {spread['sd_log_scale']:.2f}"
            f", above {ROW_SPREAD_WARN}; the zoo's models 0.05-0.50): complete nulls this uneven made calls more "
            f"often than the FDR allows, most at FDR 0.2 and for elements, so read calls near the threshold with "
            f"care; a null of more regions holds better: {LARGER_NULL}"]


OUTLOOK_LEVELS = (0.05, 0.1, 0.2)  # the FDR levels the outlook counts passing tests at
OUTLOOK_KEEP = 20_000  # smallest p-values a run keeps per sign for the outlook (320 kB, whatever the number of regions)


def smallest_pvalues(held: np.ndarray, pvalues: np.ndarray, keep: int = OUTLOOK_KEEP) -> np.ndarray:
    """The ``keep`` smallest of ``held`` ``(<= keep,)`` and ``pvalues`` ``(n,)``, unsorted (a streaming top-k)."""
    both = np.concatenate([held, np.asarray(pvalues, np.float64)])
    return both if both.shape[0] <= keep else np.partition(both, keep - 1)[:keep]


def bh_outlook(lowest: np.ndarray, n_tests: int, at_or_below: np.ndarray,
               levels: tuple[float, ...] = OUTLOOK_LEVELS) -> dict:
    """What Benjamini–Hochberg would pass at other FDR levels: the smallest q-value and, per level, how many
    tests pass (lower bounds), from the run's smallest p-values and its counts on :data:`P_GRID`.

    BH passes the ``k`` smallest p-values for the largest ``k`` with ``p_(k) m / k <= level``; the smallest
    q-value is ``min_k p_(k) m / k``. ``lowest`` holds only the smallest p-values of the run, so both are
    bounded with what is known: the ``k`` within ``lowest``, and the grid's exact counts (``c`` tests with
    ``p <= t`` give ``p_(c) m / c <= t m / c``). A count is therefore a lower bound, the q-value an upper
    bound; both are exact when the passing tests are among ``lowest``.

    Parameters
    ----------
    lowest
        ``(K,)`` the run's smallest p-values (any order; :func:`smallest_pvalues`).
    n_tests
        ``m``, the number of tests BH counts (both signs).
    at_or_below
        ``(len(P_GRID),)`` tests with ``p <= t`` at each grid value (both signs).
    levels
        The FDR levels to count at.

    Returns
    -------
    dict
        ``smallest_qvalue`` (upper bound; ``None`` without tests) and ``passing`` (level -> lower bound of the
        number of tests passing).
    """
    if n_tests <= 0:
        return {"smallest_qvalue": None, "passing": {str(level): 0 for level in levels}}
    ranked = np.sort(np.asarray(lowest, np.float64))
    k = np.arange(1, ranked.shape[0] + 1)
    raw = ranked * n_tests / k
    counts = np.asarray(at_or_below, np.int64)
    seen = counts > 0
    grid_raw = P_GRID[seen] * n_tests / counts[seen]
    smallest = float(min(raw.min(initial=np.inf), grid_raw.min(initial=np.inf)))
    passing = {}
    for level in levels:
        inside = int(k[raw <= level].max(initial=0))
        from_grid = int(counts[seen][grid_raw <= level].max(initial=0))
        passing[str(level)] = max(inside, from_grid)
    return {"smallest_qvalue": float(f"{min(smallest, 1.0):.6g}") if np.isfinite(smallest) else None,
            "passing": passing}


def sign_outlook(lowest: dict[int, np.ndarray], n_tests: dict[int, int], at_or_below: dict[int, np.ndarray],
                 levels: tuple[float, ...] = OUTLOOK_LEVELS, joint: bool = False) -> dict:
    """:func:`bh_outlook` for the caller's families (:func:`~seqsal.peaks.spill.sign_passing_qvalues`): each sign's
    own BH family, gated by the Simes p-value of both signs together (the smallest q-value of one family over both,
    an upper bound here as there). Per level, the passing tests of both signs when the gate passes (a lower bound);
    the smallest q-value is ``max(gate, the smaller sign's smallest q)`` (an upper bound). Arguments per sign as
    :func:`bh_outlook`'s; ``joint``: one family over both signs (``PeakOptions.bh_family="joint"``)."""
    both = np.concatenate([np.asarray(lowest[s], np.float64) for s in (1, -1)])
    gate = bh_outlook(both, n_tests[1] + n_tests[-1], at_or_below[1] + at_or_below[-1], levels)
    if joint:
        return gate
    signs = [bh_outlook(lowest[s], n_tests[s], at_or_below[s], levels) for s in (1, -1)]
    smallest = [o["smallest_qvalue"] for o in signs if o["smallest_qvalue"] is not None]
    if gate["smallest_qvalue"] is None or not smallest:
        return {"smallest_qvalue": None, "passing": {str(level): 0 for level in levels}}
    passing = {str(level): sum(o["passing"][str(level)] for o in signs) if gate["smallest_qvalue"] <= level else 0
               for level in levels}
    return {"smallest_qvalue": max(gate["smallest_qvalue"], min(smallest)), "passing": passing}


def at_null_resolution(models: dict, smallest: float) -> bool:
    """Whether the run's smallest p-value ``smallest`` is an empirical null's resolution ``1/(n+1)`` (``models``:
    the final null per sign): its strongest tests lie beyond every null test, and a larger null can resolve
    smaller p-values."""
    floors = [1.0 / (model.n + 1) for model in models.values() if model.kind == "empirical"]
    return bool(floors) and min(floors) * (1 - 1e-9) <= smallest <= max(floors) * (1 + 1e-9)


def outlook_hint(outlook: dict, fdr: float) -> tuple[str, str]:
    """What the "no seqlet passed" line adds: inside its parentheses, the smallest q-value and the first level of
    :data:`OUTLOOK_LEVELS` above ``fdr`` that passes tests; after it, whether the null's resolution bounds the
    p-values (``outlook["null_resolution_bound"]``)."""
    if outlook["smallest_qvalue"] is None:
        return "", ""
    inside = f", q-value {outlook['smallest_qvalue']:.3g}"
    for level in OUTLOOK_LEVELS:
        count = outlook["passing"][str(level)]
        if level > fdr and count > 0:
            inside += (f"; at FDR {level:g} (up to {level:.0%} of the calls false) at least {count} tests pass, "
                       "overlapping ones merging into one seqlet: "
                       f"--fdr {level:g} (API: fdr={level:g})")
            break
    after = ""
    if outlook.get("null_resolution_bound"):
        after = ("; the strongest tests lie beyond every shuffled-null test (p = the null's resolution 1/(n+1)): "
                 "a larger null (`seqsal attribute --min-null-bases`, and --max-null-copies for a run of few "
                 "regions; API: PeakOptions(min_null_bases=..., max_null_copies=...)) can give them smaller p-values")
        factor = null_factor_needed(outlook["smallest_qvalue"], fdr)
        if factor > 1:
            shown = f"{factor:g}" if factor < 1e4 else f"{factor:.2g}"
            after += (f", and one at least {shown}x as large (run.json peaks.null_sample.bases) is needed for "
                      f"any to reach FDR {fdr:g}")
            if factor > PRACTICAL_NULL_FACTOR:  # auditbreak: --fdr 1e-300 was told "5.02797e+298x"
                after += "; no null of a practical size is that large: is that the FDR meant?"
    return inside, after


PRACTICAL_NULL_FACTOR = 1000
"""Beyond this many times the run's null (a 200-Mbp shuffled null for the default 200 kbp), the "no seqlet passed"
line asks whether the FDR is the one meant instead of pointing at a larger null alone."""


def null_factor_needed(smallest_qvalue: float, fdr: float) -> float:
    """How many times larger a null must be, at least, for a run whose smallest q-value sits at the null's
    resolution to pass anything at ``fdr``.

    At the resolution every one of the strongest tests has ``p = 1 / (n + 1)``, so their q-values scale as
    ``1 / (n + 1)``: a null ``f`` times larger gives at best ``q / f`` (at best: its own largest values may
    overtake some of those tests). ``f = q / fdr``, rounded up to one decimal; ``<= 1`` when the run already
    passes.
    """
    return math.ceil(smallest_qvalue / fdr * 10 - 1e-9) / 10
