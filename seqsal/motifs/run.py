"""A run folder's motifs: ``attributions.npz`` + seqlets -> discovery -> matching -> ``motifs.*`` files.

The orchestration of the ``seqsal motifs`` command: it reads the run folder,
re-calls lenient seqlets for discovery (:func:`discovery_seqlets`), and wires
:mod:`~seqsal.motifs.discover`, :mod:`~seqsal.motifs.match` and
:mod:`~seqsal.motifs.export` together.
"""
from __future__ import annotations

import logging
import os
import time
from importlib.resources import files

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import atomic_path, npz_members, write_table_atomic
from ..peaks import call_peaks_from_run, unique_calls
from ..text import plural
from .discover import DiscoveryOptions, discover_motifs
from .export import instance_table, motif_table, write_modisco_h5, write_motif_arrays
from .match import best_matches, compare_motifs
from .meme import read_meme, write_meme
from .seqlets import read_seqlet_table

log = logging.getLogger("seqsal")

BUNDLED_DATABASE = str(files("seqsal") / "data" / "jaspar_subset.meme")
"""The bundled JASPAR CORE subset (17 motifs, CC BY 4.0), package data of ``seqsal`` (see data/motifs/README.md)."""


def default_database() -> str | None:
    """The bundled JASPAR subset (17 CORE motifs, CC BY 4.0), if this install has it."""
    return BUNDLED_DATABASE if os.path.isfile(BUNDLED_DATABASE) else None


DISCOVERY_FDR = 0.85
"""FDR of the seqlets that discovery clusters by default (Laplace null, re-called from the run's tracks).

Lenient on purpose, as tfmodisco-lite's seqlet extraction is: a noise seqlet
rarely joins a cluster of >= ``min_seqlets`` alike seqlets, while the strict
calls of ``seqlets.tsv`` (FDR 0.05) hold too few instances of the weaker
motifs to cluster. On the demo (benchmarks/motifs_planted.py) the reported
calls give 2 of the 6 planted motifs; FDR 0.8-0.9 gives all 6 and nothing
spurious (0.95: all 6 and one spurious half-site; 0.7: 5, as the weak CTCF
sites have only 20 seqlets). On an independent demo genome and model
(``make_demo.py --seed 8``) FDR 0.7-0.95 gives all 6, nothing spurious.
"""


def discovery_seqlets(out_dir: str | os.PathLike, fdr: float = DISCOVERY_FDR) -> pd.DataFrame:
    """Seqlets of a run folder re-called for discovery at ``fdr`` with the Laplace null (no file is written).

    Returns
    -------
    pandas.DataFrame
        The columns of ``seqlets.tsv`` (``region_index``, ``offset_start``,
        ``offset_end``, ``sign``, ...), one row per seqlet.
    """
    seqlets = call_peaks_from_run(out_dir, write=False, fdr=fdr, null="laplace").seqlets
    return unique_calls(seqlets).reset_index(drop=True)


def run_motifs(
    out_dir: str | os.PathLike,
    seqlets_path: str | os.PathLike | None = None,
    database: str | os.PathLike | None = None,
    options: DiscoveryOptions | None = None,
    progress: bool = True,
    seqlet_fdr: float = DISCOVERY_FDR,
) -> dict:
    """Discover motifs from a run folder's seqlets and (optionally) match them to a database.

    Reads ``attributions.npz`` and ``regions.tsv``; the seqlets are those of
    ``seqlets_path`` when given (e.g. the run's ``seqlets.tsv``), else the run's
    tracks re-called at ``seqlet_fdr`` (:func:`discovery_seqlets`). Writes
    ``motifs.meme``, ``motifs.tsv``, ``motifs.h5`` (tfmodisco-lite layout, :func:`write_modisco_h5`),
    ``motifs.npz`` (CWM, hypothetical CWM and PWM per motif, keys
    ``<motif>.<matrix>``: :func:`write_motif_arrays`), ``motif_instances.tsv``
    and, with a database, ``motif_matches.tsv`` (the 5 best matches of each motif).

    Parameters
    ----------
    out_dir
        The run folder (``seqsal attribute``'s output); the files are written there.
    seqlets_path
        A seqlet table to cluster (:func:`read_seqlet_table`), or None to re-call the run's tracks.
    database
        Known motifs in MEME format to match against (:func:`compare_motifs`), or None.
    options
        :class:`DiscoveryOptions` (defaults when None).
    seqlet_fdr
        FDR of the re-called seqlets, in ``(0, 1]`` (used when ``seqlets_path`` is None).

    Returns
    -------
    dict
        ``motifs`` (list of :class:`DiscoveredMotif`), ``table``, ``matches`` and ``timing_seconds``.

    Raises
    ------
    InputError
        When ``attributions.npz`` lacks ``one_hot``/``hypothetical``, ``regions.tsv`` is missing, the seqlet
        table is bad or from another run, or ``seqlet_fdr`` is out of range.
    """
    out = str(out_dir)
    started = time.perf_counter()
    arrays = npz_members(os.path.join(out, "attributions.npz"))
    for key in ("one_hot", "hypothetical"):
        if key not in arrays:
            raise InputError(f"no {key!r} array in attributions.npz", os.path.join(out, "attributions.npz"))
    lengths = arrays["length"] if "length" in arrays else np.full(len(arrays["one_hot"]), arrays["one_hot"].shape[2])
    regions = pd.read_csv(os.path.join(out, "regions.tsv"), sep="\t") if os.path.isfile(
        os.path.join(out, "regions.tsv")) else None
    if regions is None:
        raise InputError("regions.tsv not found; run `seqsal attribute` first", out)
    if seqlets_path:
        seqlets = read_seqlet_table(seqlets_path)
        if len(seqlets) and int(seqlets["region_index"].max()) >= len(lengths):
            raise InputError(f"region_index {int(seqlets['region_index'].max())} is past the "
                             f"{plural(len(lengths), 'region')} "
                             "of attributions.npz; is this table from another run?", str(seqlets_path))
    else:
        if not 0 < seqlet_fdr <= 1:
            raise InputError(f"--seqlet-fdr must be in (0, 1], got {seqlet_fdr}")
        seqlets = discovery_seqlets(out, seqlet_fdr)
        log.info("seqlets for discovery re-called from the tracks at FDR %g (Laplace null)", seqlet_fdr)
    log.info("discovering motifs from %s (%d +, %d -)", plural(len(seqlets), "seqlet"),
             int((seqlets["sign"] == "+").sum()),
             int((seqlets["sign"] == "-").sum()))
    motifs = discover_motifs(arrays["one_hot"], arrays["hypothetical"], lengths, seqlets, options, progress)
    t_discover = time.perf_counter() - started
    matches = None
    if database:
        known = read_meme(database)
        matches = compare_motifs([m.to_motif() for m in motifs], known) if motifs else None
        if matches is not None:
            write_table_atomic(os.path.join(out, "motif_matches.tsv"), best_matches(matches, 5))
        log.info("matched %s against %s of %s", plural(len(motifs), "motif"), plural(len(known), "known motif"),
                 database)
    table = motif_table(motifs, matches)
    write_meme(os.path.join(out, "motifs.meme"), [m.to_motif() for m in motifs])
    write_table_atomic(os.path.join(out, "motifs.tsv"), table)
    write_table_atomic(os.path.join(out, "motif_instances.tsv"), instance_table(motifs, regions, seqlets))
    write_motif_arrays(os.path.join(out, "motifs.npz"), motifs)
    with atomic_path(os.path.join(out, "motifs.h5")) as tmp:
        write_modisco_h5(tmp, motifs, arrays["one_hot"], arrays["hypothetical"], lengths)
    timing = {"discovery": round(t_discover, 3), "total": round(time.perf_counter() - started, 3)}
    log.info("%s in %.1f s -> %s", plural(len(motifs), "motif"), timing["total"], os.path.join(out, "motifs.meme"))
    return {"motifs": motifs, "table": table, "matches": matches, "timing_seconds": timing}
