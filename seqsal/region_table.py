"""``regions.tsv``: the per-region table of a run folder — its columns and the summary of its completeness errors.

Shared by the attribution job (:mod:`seqsal.pipeline`, which writes the table)
and the merging of shards (:mod:`seqsal.shards`, which summarises the merged
one), so that neither imports the other for it.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from .methods import REFERENCE_METHODS

REGION_TABLE_COLUMNS = [
    "index", "name", "chrom", "start", "end", "strand", "prediction", "attribution_sum",
    "attribution_max", "frac_N", "padded_bp", "n_windows", "status",
]
# added for methods with a baseline (ig, deepshap), per region, of its window with the largest error:
# Σ attributions - (f(x) - mean f(baselines)), and f(x) - mean f(baselines)
COMPLETENESS_COLUMN, DELTA_COLUMN = "completeness_error", "completeness_delta"


def region_columns(method: str) -> list[str]:
    """Columns of ``regions.tsv`` for a method (``completeness_error`` and ``completeness_delta`` added for ig and
    deepshap)."""
    return REGION_TABLE_COLUMNS + ([COMPLETENESS_COLUMN, DELTA_COLUMN] if method in REFERENCE_METHODS else [])


def completeness_summary(path: str | os.PathLike, method: str) -> dict | None:
    """Largest ``|completeness_error|`` over the regions of a finished ``regions.tsv``.

    Parameters
    ----------
    path
        The table (tab-separated, the columns of :func:`region_columns`).
    method
        The run's attribution method.

    Returns
    -------
    dict or None
        ``max_abs_error``, ``median_abs_error``, ``median_abs_delta`` and ``regions`` over the rows with
        status ``ok`` (what ``run.json`` records as ``completeness``); ``None`` for a method without a baseline.
    """
    if COMPLETENESS_COLUMN not in region_columns(method):
        return None
    table = pd.read_csv(path, sep="\t")
    ok = table[table["status"] == "ok"]
    errors = ok[COMPLETENESS_COLUMN].abs()
    # |f(x) - mean f(baselines)| of the error's window (fresh28: the region's attribution sum minus the error mixed
    # the region's bases with the whole window's); a table of an older seqsal has no such column: NaN
    delta = ok[DELTA_COLUMN].abs() if DELTA_COLUMN in ok else pd.Series(np.nan, index=ok.index)
    return {"max_abs_error": float(errors.max()) if len(ok) else 0.0,
            "median_abs_error": float(errors.median()) if len(ok) else 0.0,
            "median_abs_delta": (float(delta.median()) if delta.notna().any() else None) if len(ok) else 0.0,
            "regions": int(len(ok)),
            "meaning": "per region: sum of attributions over the model window - (f(x) - mean f(baselines)), "
                       "largest over its windows; median_abs_delta is the typical |f(x) - mean f(baselines)| of "
                       "those windows, to compare the errors with"}
