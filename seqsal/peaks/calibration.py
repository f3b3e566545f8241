"""Calibration the user can see: per sign, how the run's p-values compare with what a null run gives.

Recorded in ``run.json`` under ``peaks.calibration`` and drawn in ``report.html``; the warnings it
gives say what to do (a null too small, a tail fit that fails, a null that does not represent the
run's background).
"""
from __future__ import annotations

import numpy as np

P_GRID = np.array([1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0])  # where calibration is recorded
_HEAVY_RATIO, _HEAVY_MIN_TESTS = 0.8, 500  # bulk ratio below this, on this many tests (> 4 SD from 1): a heavy null
_SMALL_NULL = 1000  # fewer null tests than this per sign: p-values below 1e-3 rest on the tail fit alone


def calibration_summary(models: dict, at_or_below: dict) -> tuple[dict, list[str]]:
    """What ``run.json`` records under ``peaks.calibration``, and warnings that say what to do.

    Per sign: the number of observed tests and of null tests, the smallest p-value the null resolves by
    counting (``1 / (n + 1)``), whether its tail fit holds, and the observed-vs-null curve: on
    :data:`P_GRID`, how many observed tests have ``p <= t`` against the ``m t`` a null run would give.
    Most tests are background, so ``bulk_ratio`` (tests with ``p <= 0.5`` over ``m / 2``) near 1 says the
    null represents the run's background; well above 1, the null is too light for this model's tracks; well
    below 1 (0.79 on the zoo's sigmoid classifier, benchmarks/RESULTS.md), too heavy: the model's attributions
    shrink where it is active, as a saturating output's do.
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
                                f"{1 / (model.n + 1):.1g} rest on its fitted tail and calls are few; rerun "
                                "`seqsal attribute` with a larger --min-null-bases (or --null-fraction)")
            if not model.tail_fit_ok:
                warnings.append(f"the {name} null's tail fit does not hold: {name} p-values are empirical only "
                                f"(>= {1 / (model.n + 1):.1g}); rerun `seqsal attribute` with a larger --min-null-bases")
        if m >= 200 and entry["bulk_ratio"] > 1.5:
            warnings.append(f"{name} p-values are not uniform in the bulk ({entry['bulk_ratio']:.2f} x the null's "
                            f"share at p <= 0.5): the null does not represent this run's background; look at the "
                            "calibration plot of report.html, or try --null shuffle with a larger null")
        if m >= _HEAVY_MIN_TESTS and entry["bulk_ratio"] < _HEAVY_RATIO:
            warnings.append(f"{name} p-values are larger than a null run's in the bulk ({entry['bulk_ratio']:.2f} x "
                            f"the null's share at p <= 0.5): the shuffled copies' attributions are larger than this "
                            "run's own, so calls are fewer than they should be; a model whose output saturates (a "
                            "sigmoid or softmax inside forward) gives its smallest attributions where it is most "
                            "active: explain its logit (an output before the sigmoid, --target), or, for a model that returns "
                            "only the probability, `--target 0,transform=logit`")
        summary[name] = entry
    return summary, warnings
