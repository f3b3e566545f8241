"""Known-motif databases by name: the bundled subset, a MEME file, or a whole JASPAR release, offline.

``seqsal motifs --database`` (and the workflow's ``motif_database``) takes a MEME file, ``none``, or
``jaspar``: a JASPAR release (Castro-Mondragon et al. 2022, *Nucleic Acids Res.* 50:D165; Rauluseviciute et
al. 2024, *Nucleic Acids Res.* 52:D174) read from the SQLite files that ``pyjaspar`` ships (Khan 2021, the
optional extra ``seqsal[jaspar]``; no network), filtered by collection and taxonomic group, converted to MEME
once and kept in the user cache (:func:`seqsal.datasets.user_cache_dir`, ``jaspar/``). The conversion divides
each position's counts by their sum (the letter-probability matrix of JASPAR's own MEME files); ``nsites`` is
the first position's count.
"""
from __future__ import annotations

import os
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets import bundled_motifs, user_cache_dir
from ..errors import InputError, option
from .meme import Motif, read_meme, write_meme

log = logging.getLogger("seqsal")

JASPAR_TAX_GROUPS = ("vertebrates", "plants", "insects", "nematodes", "fungi", "urochordates", "diatoms",
                     "cnidarians", "trematodes", "oomycota", "all")
"""Taxonomic groups of JASPAR (``all``: no filter)."""


@dataclass(frozen=True)
class JasparQuery:
    """Which JASPAR matrices to match against.

    Attributes
    ----------
    release
        A release name (``JASPAR2024``, ...), or None for the newest that the installed pyjaspar ships.
    collection
        JASPAR collection (``CORE``, ``UNVALIDATED``, ``CNE``, ``PHYLOFACTS``, ``SPLICE``, ``POLII``, ...).
    tax_group
        One of :data:`JASPAR_TAX_GROUPS` (``all``: every group).
    all_versions
        Every version of each matrix (``MA0139.1`` and ``MA0139.2``), not only the latest.
    """

    release: str | None = None
    collection: str = "CORE"
    tax_group: str = "vertebrates"
    all_versions: bool = False


def _pyjaspar():
    """The ``pyjaspar`` module, or a one-line error saying how to install it."""
    try:
        import pyjaspar  # an optional dependency (seqsal[jaspar]): imported only when a JASPAR release is asked for
    except ImportError:
        raise InputError(f"{option('database', 'jaspar')} needs pyjaspar, which is not installed; "
                         "pip install 'seqsal[jaspar]'") from None
    return pyjaspar


def counts_to_motif(identifier: str, name: str, counts: dict) -> Motif:
    """A :class:`Motif` from a JASPAR count matrix.

    Parameters
    ----------
    identifier, name
        The matrix ID (``MA0139.2``) and the factor's name (``CTCF``).
    counts
        Counts per position keyed ``A``, ``C``, ``G``, ``T`` (sequences of length ``W``).

    Returns
    -------
    Motif
        ``pwm`` ``(4, W)``: each position's counts over their sum (a position without counts: uniform);
        ``nsites`` the first position's total.
    """
    matrix = np.array([list(counts[base]) for base in "ACGT"], dtype=np.float64)
    totals = matrix.sum(axis=0, keepdims=True)
    pwm = np.divide(matrix, totals, out=np.full_like(matrix, 0.25), where=totals > 0)
    return Motif(identifier, name.replace(" ", "_"), pwm, int(round(float(totals[0, 0]))) if matrix.size else 0)


def jaspar_motifs(query: JasparQuery) -> tuple[str, list[Motif]]:
    """The JASPAR matrices of ``query``, from pyjaspar's offline SQLite files.

    Returns
    -------
    release, motifs
        The release read (``query.release`` or pyjaspar's newest) and its motifs, sorted by matrix ID.

    Raises
    ------
    InputError
        When pyjaspar is missing, the release or taxonomic group is unknown, or nothing matches the query.
    """
    pyjaspar = _pyjaspar()
    if query.tax_group not in JASPAR_TAX_GROUPS:
        raise InputError(f"unknown JASPAR taxonomic group {query.tax_group!r}; use one of "
                         + ", ".join(JASPAR_TAX_GROUPS))
    database = pyjaspar.jaspardb()
    releases = list(database.get_releases())
    if query.release and query.release not in releases:
        raise InputError(f"JASPAR release {query.release!r} is not in pyjaspar {pyjaspar.__version__}; use one "
                         "of " + ", ".join(releases))
    if query.release:
        database = pyjaspar.jaspardb(release=query.release)
    tax_group = None if query.tax_group == "all" else [query.tax_group]
    with warnings.catch_warnings():  # pyjaspar warns of an empty result: the error below says it in one line
        warnings.simplefilter("ignore")
        records = database.fetch_motifs(collection=query.collection.upper(), tax_group=tax_group,
                                        all_versions=query.all_versions)
    if not records:
        raise InputError(f"no JASPAR matrix in {database.release} collection {query.collection} for "
                         f"{query.tax_group}; check --jaspar-collection and --jaspar-tax-group")
    motifs = [counts_to_motif(record.matrix_id, record.name, record.counts) for record in records]
    return database.release, sorted(motifs, key=lambda motif: motif.identifier)


def jaspar_cache_path(query: JasparQuery, release: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The cached MEME file of ``query`` read from ``release``: ``<cache>/jaspar/<release>_<collection>_<group>_<latest|all>.meme``."""
    root = Path(cache_dir) if cache_dir is not None else user_cache_dir()
    stem = "_".join([release, query.collection.upper(), query.tax_group,
                     "all" if query.all_versions else "latest"])
    return root / "jaspar" / (re.sub(r"[^A-Za-z0-9_.-]", "-", stem) + ".meme")


def jaspar_database(query: JasparQuery | None = None, cache_dir: str | os.PathLike | None = None) -> Path:
    """A MEME file of the JASPAR matrices of ``query``, converted once and kept in the user cache.

    Parameters
    ----------
    query
        :class:`JasparQuery` (the newest release's CORE vertebrates, latest versions, when None).
    cache_dir
        The cache folder (``jaspar/`` is made in it); default :func:`seqsal.datasets.user_cache_dir`.

    Returns
    -------
    pathlib.Path
        The MEME file (written atomically the first time, read as it is after that).

    Raises
    ------
    InputError
        As :func:`jaspar_motifs`.
    """
    query = query or JasparQuery()
    newest = query.release or _pyjaspar().jaspardb().release  # the name only: opening pyjaspar's file reads nothing
    path = jaspar_cache_path(query, newest, cache_dir)
    damaged = path.is_file() and not _reads_back(path)  # warned once (review25: the same file was read twice)
    if path.is_file() and not damaged:
        return path
    release, motifs = jaspar_motifs(query)
    converted = jaspar_cache_path(query, release, cache_dir)
    if not converted.is_file() or (damaged if converted == path else not _reads_back(converted)):
        converted.parent.mkdir(parents=True, exist_ok=True)
        write_meme(converted, motifs)
    return converted


def _reads_back(path: Path) -> bool:
    """Whether a cached conversion reads back as a MEME file; a damaged one (truncated, edited: fresh24b was told
    to "make w= the number of matrix rows" of seqsal's own cache) is converted again, with a warning."""
    try:
        read_meme(path)
    except InputError as error:
        log.warning("%s: the cached JASPAR conversion cannot be read (%s); converting the release again", path, error)
        return False
    return True


def resolve_database(database: str | os.PathLike | None, jaspar: JasparQuery | None = None,
                     cache_dir: str | os.PathLike | None = None) -> str | None:
    """The MEME file that ``--database`` (CLI) or ``database=`` (:func:`~seqsal.motifs.run.run_motifs`) names.

    Parameters
    ----------
    database
        None (the bundled JASPAR subset, :func:`seqsal.datasets.bundled_motifs`), ``none`` (no matching,
        any case),
        ``jaspar`` (:func:`jaspar_database` of ``jaspar``) or the path of a MEME file (returned as it is).
    jaspar
        The JASPAR query for ``jaspar``.
    cache_dir
        The cache folder for ``jaspar`` (default: the user cache).

    Returns
    -------
    str or None
        A MEME file's path, or None for no matching.
    """
    if database is None:
        return str(bundled_motifs())
    text = str(database)
    if text.lower() == "none":
        return None
    if text.lower() == "jaspar":
        return str(jaspar_database(jaspar, cache_dir))
    return text
