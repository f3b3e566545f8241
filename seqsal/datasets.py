"""Data shipped inside the seqsal package: the demo and the bundled motif database, found from any install.

The files are package data (``seqsal/data/``, declared in ``pyproject.toml``) read through
:mod:`importlib.resources`, so an installed wheel finds them as an editable checkout does:

* :func:`demo` -- the demo of ``data/demo/README.md``: a 450-kb synthetic genome with real JASPAR
  motifs planted in 295 active elements, its 356 regions, the planted truth and a small Basset-style
  model trained on it (about 740 kB in all);
* :func:`bundled_motifs` -- the 17 JASPAR CORE motifs of ``data/motifs/README.md`` (MEME format);
* :func:`user_cache_dir` -- where seqsal keeps what it builds once per user (e.g. converted JASPAR releases).

From the command line: ``seqsal datasets demo`` prints the demo's files, ``seqsal datasets demo genome``
one of them (``seqsal attribute "$(seqsal datasets demo genome)" ...``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from importlib.resources import files
from pathlib import Path

from .errors import InputError

DEMO_FILES = {
    "genome": "genome.fa",
    "regions": "regions.bed",
    "model": "model.safetensors",
    "planted": "planted.bed",
    "elements": "elements.bed",
    "model_card": "model_card.json",
}
"""The demo's files by key (:class:`DemoFiles` field -> file name under ``seqsal/data/demo/``)."""

BUNDLED_MOTIFS = "jaspar_subset.meme"
"""File name of the bundled JASPAR CORE subset under ``seqsal/data/``."""


@dataclass(frozen=True)
class DemoFiles:
    """Paths of the demo's files (absolute, on the file system).

    Attributes
    ----------
    genome
        ``genome.fa``: FASTA, chr1 200 kb, chr2 150 kb, chr3 100 kb.
    regions
        ``regions.bed``: narrowPeak, 356 regions (600 bp on each element, 60 background, one at chr3's end).
    model
        ``model.safetensors``: a self-describing Basset-style CNN, 500-bp input, one task ``activity``.
    planted
        ``planted.bed``: the 733 planted motif sites (chrom, start, end, motif, 0, strand): the ground truth.
    elements
        ``elements.bed``: the 295 planted active elements.
    model_card
        ``model_card.json``: training data, held-out metrics and motif weights.
    """

    genome: Path
    regions: Path
    model: Path
    planted: Path
    elements: Path
    model_card: Path

    def as_dict(self) -> dict[str, Path]:
        """The paths keyed as :data:`DEMO_FILES` (``genome``, ``regions``, ...), in that order."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def _package_file(*parts: str) -> Path:
    """A file of ``seqsal/data/`` as a file-system path.

    Raises
    ------
    InputError
        When the file is missing (an install built without its package data) or the package is not on
        a file system (e.g. imported from a zip archive).
    """
    resource = files("seqsal").joinpath("data", *parts)
    path = Path(str(resource))
    if not path.is_file():
        raise InputError(f"package data {'/'.join(parts)} is missing from this install of seqsal; reinstall "
                         "seqsal from its wheel or source tree (both carry it)", str(path))
    return path


def demo() -> DemoFiles:
    """The demo's files, from the installed package.

    Returns
    -------
    DemoFiles
        Absolute paths of ``genome.fa``, ``regions.bed``, ``model.safetensors``, ``planted.bed``,
        ``elements.bed`` and ``model_card.json`` (read-only use: seqsal never writes beside them).

    Raises
    ------
    InputError
        When one of them is missing from this install.

    Examples
    --------
    >>> import seqsal.datasets
    >>> files = seqsal.datasets.demo()
    >>> files.genome.name
    'genome.fa'
    """
    return DemoFiles(**{key: _package_file("demo", name) for key, name in DEMO_FILES.items()})


def bundled_motifs() -> Path:
    """The bundled JASPAR CORE subset (17 vertebrate motifs, MEME format, CC BY 4.0; ``data/motifs/README.md``).

    Raises
    ------
    InputError
        When this install lacks it.
    """
    return _package_file(BUNDLED_MOTIFS)


def user_cache_dir() -> Path:
    """Where seqsal keeps files it builds once per user.

    Returns
    -------
    pathlib.Path
        ``$SEQSAL_CACHE_DIR``, else ``$XDG_CACHE_HOME/seqsal``, else ``~/.cache/seqsal`` (the rule of the
        FASTA index cache of :mod:`seqsal.genome`); not created here.
    """
    root = os.environ.get("SEQSAL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "seqsal")
    return Path(root)
