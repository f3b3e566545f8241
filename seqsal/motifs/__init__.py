"""Motifs: a run's seqlets clustered into motifs, matched to known motifs and written to the run folder.

The data flow, one module per step::

    seqlets.py    seqlet table (seqlets.tsv) -> windows of attributions.npz around each seqlet
    align.py      best cosine over offsets and both strands; trimming a matrix to its important columns
    discover.py   neighbour graph -> seed clusters -> templates -> aligned, trimmed motifs (CWM, PWM)
    strands.py    a palindrome's seqlets re-read on the strand its PWM fits (a step of discover.py)
    support.py    each motif against the run's shuffled null: kept only when more frequent than in shuffled sequence
    redundancy.py copies of a stronger motif: tested again on the windows no stronger motif explains
    match.py      TOMTOM-style comparison with a database of known motifs (p-, E- and q-values)
    export.py     motifs.tsv, motif_instances.tsv, motifs.npz, motifs.h5 (tfmodisco-lite layout); ohe.npy/shap.npy
    run.py        the `seqsal motifs` command: a run folder in, the files above out

    meme.py       Motif and the MEME minimal format (known motifs in, motifs.meme out)
    matrices.py   consensus, information content and reverse complement of a (4, W) matrix

A motif's matrix is ``(4, W)`` with rows ``A, C, G, T`` (the one-hot layout).
Every public name is re-exported here: ``from seqsal.motifs import run_motifs``.
"""
from __future__ import annotations

from .align import best_alignment, best_core, trim_bounds
from .discover import (
    DiscoveredMotif,
    DiscoveryOptions,
    best_per_instance,
    cap_seqlets,
    degree_clusters,
    discover_motifs,
    mutual_neighbours,
)
from .export import (
    MODISCO_ARRAYS,
    MOTIF_TABLE_COLUMNS,
    export_modisco_arrays,
    instance_table,
    motif_table,
    read_motif_arrays,
    write_modisco_h5,
    write_motif_arrays,
)
from .match import best_matches, column_pearson, compare_motifs
from .matrices import consensus, information_content, reverse_complement_matrix
from .meme import Motif, format_meme, read_meme, write_meme
from .run import (BUNDLED_DATABASE, DISCOVERY_FDR, default_database, discovery_seqlets, keep_supported, matched_database,
                  run_motifs)
from .seqlets import REQUIRED_SEQLET_COLUMNS, extract_windows, read_seqlet_table
from .support import SUPPORT_COLUMNS, SupportOptions, support_table

__all__ = [
    "BUNDLED_DATABASE", "DISCOVERY_FDR", "MODISCO_ARRAYS", "MOTIF_TABLE_COLUMNS", "REQUIRED_SEQLET_COLUMNS", "SUPPORT_COLUMNS",
    "DiscoveredMotif", "DiscoveryOptions", "Motif", "SupportOptions",
    "best_alignment", "best_core", "best_matches", "best_per_instance", "cap_seqlets", "column_pearson",
    "compare_motifs", "consensus", "default_database", "degree_clusters", "discover_motifs", "discovery_seqlets",
    "export_modisco_arrays", "extract_windows", "format_meme", "information_content", "instance_table",
    "keep_supported", "matched_database", "motif_table",
    "mutual_neighbours", "read_meme", "read_motif_arrays", "read_seqlet_table", "reverse_complement_matrix",
    "run_motifs", "support_table", "trim_bounds", "write_meme", "write_modisco_h5", "write_motif_arrays",
]
