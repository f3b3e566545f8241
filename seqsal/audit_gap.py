"""Check 5 of ``seqsal audit``: the faithfulness gap, where ``seqsal evaluate`` ran (the statistics and the database
scan are in :mod:`seqsal.audit_scan`)."""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from . import audit_scan as scan
from .audit_inputs import AuditOptions, AuditRun, grade, row
from .provenance import status


def check_faithfulness_gap(run: AuditRun, options: AuditOptions, rng: np.random.Generator, motifs: pd.DataFrame | None,
                           instances: pd.DataFrame | None) -> dict:
    """Check 5: of the bases whose deletion makes half the drop of ``seqsal evaluate``'s deletion curve (the run's
    method; :func:`audit_scan.half_drop_fraction`, :func:`audit_scan.top_bases`), the share of the positive
    contribution outside every database-matrix hit (p < ``hit_pvalue``, :func:`audit_scan.motif_hit_mask`) and
    every instance of a database-matched discovered motif. At most ``look`` (biology the database lacks gives the
    same gap as a shortcut; checks 1-4 name shortcuts), and only when those bases are hit less than
    ``gap_enrichment`` times as often as all bases; ``ok`` when the curve is no steeper than random order's."""
    statistic = "share of the contribution on the bases whose deletion makes half the drop that no database motif covers"
    curves_path, table_path = run.path / "evaluation_curves.tsv", run.path / "evaluation.tsv"
    method = str(run.record.get("method", ""))
    if not curves_path.is_file() or not table_path.is_file() or status(run.path, "evaluation") == "stale":
        mine = evaluated = pd.DataFrame()
    else:
        curves, table = pd.read_csv(curves_path, sep="\t"), pd.read_csv(table_path, sep="\t")
        mine = curves[(curves["method"] == method) & (curves["curve"] == "deletion")].sort_values("fraction")
        evaluated = table[table["method"] == method]
    if mine.empty or evaluated.empty:
        return row("faithfulness_gap", statistic, "-", np.nan, np.nan, "n/a", "no evaluation of the run's method "
                   f"{method!r} on this run: run `seqsal evaluate --methods {method}` on this folder")
    fraction, drop = scan.half_drop_fraction(mine["fraction"].to_numpy(), mine["mean_target"].to_numpy())
    versus = float(evaluated["deletion_auc_vs_random"].iloc[0])
    if not np.isfinite(fraction) or versus >= 0:
        return row("faithfulness_gap", statistic, "deletion AUC of the map vs the random order", versus, np.nan, "ok",
                   f"the {method} deletion curve is no steeper than the random order's (AUC {versus:+.3g} vs random):"
                   " it shows no reliance to explain")
    from .motifs import default_database, matched_database, read_meme

    # the database the user's motifs were matched against (a species' own collection), else the bundled subset
    database = options.database or matched_database(run.path) or default_database()
    matrices = [scan.log_odds(m.pwm) for m in read_meme(database)] if database else []
    thresholds = [scan.score_threshold(m, options.hit_pvalue) for m in matrices]
    n = len(run.lengths)
    rows = np.sort(rng.choice(n, options.gap_rows, replace=False)) if n > options.gap_rows else np.arange(n)
    explained = scan.code_hit_mask(run.codes[rows], matrices, thresholds)
    matched = set() if motifs is None or instances is None or "match_qvalue" not in motifs else \
        set(motifs.loc[motifs["match_qvalue"] <= options.match_q, "motif"])
    if matched:
        hits = instances[instances["motif"].isin(matched)]
        explained |= scan.instance_mask(rows, explained.shape[1], hits["region_index"].to_numpy(np.int64),
                                      hits["offset"].to_numpy(np.int64), (hits["end"] - hits["start"]).to_numpy(np.int64))
    coverage = float(explained.sum() / max(run.lengths[rows].sum(), 1))
    if coverage >= 1 - options.gap_look:  # random bases would pass: the check cannot flag (fresh16: 2,193 motifs)
        return row("faithfulness_gap", statistic, "-", np.nan, np.nan, "n/a",
                   f"the hits of {len(matrices)} database motifs (p < {options.hit_pvalue:g}) and the matched motifs' "
                   f"instances cover {100 * coverage:.0f} % of all bases, so any set of bases would look explained; "
                   "match the motifs against a smaller collection (seqsal motifs --database), or in the API "
                   "audit_run(..., AuditOptions(database=..., hit_pvalue=...))")
    top = scan.top_bases(run.contribution[rows], run.lengths[rows], fraction)
    result = scan.unexplained_share(run.contribution[rows], top, explained, rng, options.gap_look)
    enrichment = result["explained_bases"] / max(explained.sum() / run.lengths[rows].sum(), 1e-9)
    verdict = "look" if grade(result["gap"], result["pvalue"], options.gap_look, 1.0, options.alpha) != "ok" \
        and enrichment < options.gap_enrichment else "ok"
    return row("faithfulness_gap", statistic, f"bootstrap over regions (199): p of a share below {options.gap_look}",
               result["gap"], result["pvalue"], verdict, f"the top {100 * fraction:.0f} % of bases ({method}) make half "
               f"the deletion drop of {drop:.3g} (AUC {versus:+.3g} vs random); {100 * (1 - result['gap']):.0f} % of "
               f"their contribution is in hits of {len(matrices)} database motifs"
               f"{f' ({os.path.basename(database)})' if database else ''} (p < {options.hit_pvalue:g}) or "
               f"instances of {len(matched)} matched motifs, covering {100 * result['explained_bases']:.0f} % of those "
               f"bases, {enrichment:.1f}x all bases; {len(rows)} regions")
