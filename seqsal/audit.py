"""``seqsal audit``: does the model of a finished run lean on shortcuts or artefacts rather than biology?

A faithful map of a model that learned a shortcut highlights the shortcut (an adapter in every positive, GC
content, the window's edges, padding). From a run folder (``attributions.npz``, ``regions.tsv``, ``run.json``, and
``motifs.tsv``/``motif_instances.tsv`` when ``seqsal motifs`` ran) this writes ``audit.tsv``, one row per check
(:data:`AUDIT_COLUMNS`), and the positional histograms under ``audit/``. The modules: :mod:`seqsal.audit_inputs`
(reading the folder, the options), :mod:`seqsal.audit_position` (checks 1-2), :mod:`seqsal.audit_composition`
(3), :mod:`seqsal.audit_edges` (4), :mod:`seqsal.audit_gap` (5), :mod:`seqsal.audit_figure` (the histogram); the
statistics in :mod:`seqsal.audit_checks` and :mod:`seqsal.audit_scan`.

Checks (``check`` column):

* ``positional_mass``: |contribution| concentrated at fixed offsets (reading direction) beyond a local-shift null.
* ``motif_position``: a discovered motif's instances piled at one offset (Bonferroni over motifs).
* ``unmatched_motif``: a motif with a large share of the contribution and no database match; verbatim copies.
* ``composition_correlation``: Spearman correlation of prediction / attribution sum with GC and CpG fraction.
* ``soft_masked``: share of |contribution| on lowercase bases of the genome against their share of the bases.
* ``shuffle_response``: how much of the spread of predictions dinucleotide shuffles keep (the run's shuffled
  null's predictions; without them, the model on a sample).
* ``window_edges``, ``padding_and_N``: regions peaking within ``k`` bp of model-window edges; gradients on N/padding.
* ``faithfulness_gap``: where ``seqsal evaluate`` ran and its deletion curve shows the model relies on the bases the
  map ranks first, the share of their contribution no database motif covers (a matrix hit or a matched instance).

Verdicts: ``ok``, ``look`` (a statistic beyond its null but a modest effect, or one that biology can also give),
``shortcut likely``, and ``n/a`` (the check could not run; the evidence says why).
"""
from __future__ import annotations

import base64
import html
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .audit_composition import check_composition, check_shuffle_response, check_soft_masked
from .audit_edges import check_edges, check_padding
from .audit_gap import check_faithfulness_gap
from .audit_inputs import AUDIT_COLUMNS, AUDIT_FOLDER, AuditOptions, read_instances, read_run, read_table
from .audit_position import check_motif_positions, check_positional_mass, check_unmatched_motifs
from .io import write_table_atomic
from .provenance import record_written, remove_group, status
from .runlock import locks_run_folder

__all__ = ["AUDIT_COLUMNS", "AUDIT_FOLDER", "AUDIT_TABLE", "STRICT_EXIT_CODE", "VERDICTS", "AuditOptions",
           "audit_run", "audit_section", "read_run"]

log = logging.getLogger("seqsal")

AUDIT_TABLE = "audit.tsv"
VERDICTS = ("ok", "look", "shortcut likely", "n/a")
STRICT_EXIT_CODE = 3


@locks_run_folder("audit", when=lambda arguments: arguments["write"])
def audit_run(out_dir: str | os.PathLike, options: AuditOptions | None = None, write: bool = True) -> pd.DataFrame:
    """Audit a finished run folder for shortcuts and artefacts the model relies on.

    Parameters
    ----------
    out_dir
        A folder of ``seqsal attribute`` (``seqsal motifs`` adds the motif checks).
    options
        Thresholds and sample sizes (:class:`AuditOptions`); ``model=False`` skips the one check that runs the model.
    write
        Write ``audit.tsv`` and ``audit/*.png`` into the folder.

    Returns
    -------
    pandas.DataFrame
        One row per check, columns :data:`AUDIT_COLUMNS`.

    Raises
    ------
    InputError
        ``attributions.npz`` or ``regions.tsv`` missing or inconsistent; a damaged ``run.json``; with ``write``,
        when the run has not finished or another seqsal process holds the folder's lock. A check that cannot run
        (no genome, no model, no motifs) is not an error: its row's verdict is ``n/a``, with the reason.
    """
    options = options or AuditOptions()
    began = time.perf_counter()
    run = read_run(out_dir)
    rng = np.random.default_rng(options.seed)
    folder = run.path / AUDIT_FOLDER if write else None
    if folder is not None:
        remove_group(run.path, "audit")  # no figure of an earlier audit stays beside this one's
        folder.mkdir(exist_ok=True)
    motifs, instances = (read_table(run, "motifs.tsv"), read_instances(run)) if status(run.path, "motifs") != "stale" \
        else (None, None)  # motifs of other attributions are not this run's
    try:
        rows = [check_positional_mass(run, options, rng, folder)]
        rows += check_motif_positions(run, options, rng, motifs, instances)
        rows += check_unmatched_motifs(run, options, motifs)
        rows.append(check_composition(run, options, rng))
        rows.append(check_soft_masked(run, options, rng))
        rows.append(check_shuffle_response(run, options))
        rows.append(check_edges(run, options, rng))
        rows.append(check_padding(run, options, rng))
        rows.append(check_faithfulness_gap(run, options, rng, motifs, instances))
    finally:
        run.close()  # the genome, if a check opened it
    table = pd.DataFrame(rows, columns=AUDIT_COLUMNS)
    if write:
        write_table_atomic(run.path / AUDIT_TABLE, table)
        record_written(run.path, "audit")  # and a report drawn before this audit is removed
    log.info("audit: %s in %.1f s", ", ".join(f"{(table['verdict'] == v).sum()} {v}" for v in VERDICTS
                                             if (table["verdict"] == v).any()), time.perf_counter() - began)
    return table


def audit_section(out_dir: str | os.PathLike) -> str:
    """The report's "Audit" section: ``audit.tsv`` as a table with its histograms, or how to make it."""
    path = Path(out_dir)
    head = '<h2 id="audit">Audit: shortcuts and artefacts</h2>'
    if not (path / AUDIT_TABLE).is_file():
        return head + '<p class="muted">No audit.tsv: run <code>seqsal audit</code> on this folder.</p>'
    table = pd.read_csv(path / AUDIT_TABLE, sep="\t", keep_default_na=False, na_values=[""])  # "n/a" is a verdict
    flagged = table[table["verdict"].isin(["look", "shortcut likely"])]
    lines = "".join(
        f"<tr><td>{html.escape(str(r.check))}</td><td><b>{html.escape(str(r.verdict))}</b></td>"
        f"<td>{'' if pd.isna(r.value) else f'{r.value:.3g}'}</td><td>{'' if pd.isna(r.pvalue) else f'{r.pvalue:.2g}'}"
        f"</td><td>{html.escape(str(r.statistic))}</td><td>{html.escape(str(r.evidence))}</td></tr>"
        for r in table.itertuples(index=False))
    images = "".join(
        f'<img alt="{html.escape(png.stem)}" src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}">'
        for png in sorted((path / AUDIT_FOLDER).glob("*.png")))
    summary = (f'<div class="warn">{len(flagged)} of {len(table)} checks flagged</div>' if len(flagged)
               else f"<p>All {len(table)} checks ok or not applicable.</p>")
    return (head + summary + "<table><tr><th>check</th><th>verdict</th><th>value</th><th>p</th><th>statistic</th>"
            "<th>evidence</th></tr>" + lines + "</table>" + images)
