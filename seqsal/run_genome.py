"""The genome of a run folder, reopened by the commands that read it after ``seqsal attribute``.

``run.json`` names the FASTA by path; ``seqsal motifs`` (its null's shuffles), ``evaluate``, ``check-seqlets`` and
the audit reopen it. :func:`genome_of_run` checks it is still the genome the run read: a sample of the run's regions
(:func:`sample_rows`) fetched from it must hold the bases stored in ``attributions.npz``
(:func:`first_genome_mismatch`), so a FASTA replaced or edited at the same path (a ``genome.fa`` symlink pointed at
another build, a soft-masked reference swapped for a hard-masked one) is refused, not used silently; a moved one
is pointed at with ``seqsal relocate`` (:mod:`seqsal.relocate`, which runs the same check).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .genome import Genome
from .io import region_arrays
from .runlock import refuse_edited_regions_table
from .tables import read_region_coordinates

GENOME_SAMPLE = 64
"""Regions whose bases are compared (spread evenly over the run, first and last included)."""


def moved_input_text(what: str) -> str:
    """The one-line advice for a run whose recorded ``what`` (genome, regions, model) is gone from its path."""
    return (f"the {what} this run was made from is not there any more; if it moved, `seqsal relocate RUN_FOLDER "
            f"--{what} NEW_PATH` points the run at it (checked to be the same)")


def sample_rows(n: int, sample: int) -> np.ndarray:
    """``min(n, sample)`` row indices spread evenly over ``[0, n)`` (first and last included), ascending."""
    if n <= sample:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, sample).round().astype(np.int64))


def first_genome_mismatch(out_dir: Path, record: dict, genome_path: str, sample: int = GENOME_SAMPLE
                          ) -> str | None:
    """The first sampled region whose bases in ``genome_path`` differ from the run's stored one-hot, or None.

    Parameters
    ----------
    out_dir
        The run folder (``regions.tsv``, ``attributions.npz`` with its ``one_hot`` member: + strand, region bases).
    record
        Its ``run.json`` (``parameters``: ``unknown_bases``, ``n_value``).
    genome_path
        The FASTA to check (plain or bgzipped, as :class:`seqsal.genome.Genome` opens it).
    sample
        Regions compared, spread evenly over the run.

    Returns
    -------
    str or None
        ``"chr1:100-600 (name)"`` of the first region that differs, ``"chrZ (not in the FASTA)"``, or None.

    Raises
    ------
    InputError
        The FASTA cannot be opened or read.
    """
    from .encode import one_hot_encode

    parameters = record.get("parameters", {})
    regions = read_region_coordinates(out_dir / "regions.tsv")  # a hand-edited table: one line, not NaN
    arrays = region_arrays(out_dir / "attributions.npz", ("one_hot",))
    check_table_fits_arrays(regions, arrays.lengths, out_dir)
    rows = sample_rows(len(regions), sample)
    stored = arrays["one_hot"]
    with Genome(genome_path, unknown_bases=parameters.get("unknown_bases", "error")) as genome:
        for row in rows:
            chrom, start, end, name = (regions.at[row, key] for key in ("chrom", "start", "end", "name"))
            if str(chrom) not in genome.chrom_sizes:
                return f"{chrom} (not in the FASTA)"
            bases = one_hot_encode(genome.fetch(str(chrom), int(start), int(end)),
                                   n_value=float(parameters.get("n_value", 0.0)))
            if not np.array_equal(bases, stored[int(row)]):
                return f"{chrom}:{start}-{end} ({name})"
    return None


def check_table_fits_arrays(regions: pd.DataFrame, lengths: np.ndarray, out_dir: str | os.PathLike) -> None:
    """Refuse a ``regions.tsv`` (``chrom``/``start``/``end`` rows) that no longer fits ``attributions.npz``'s
    ``lengths`` ``(N,)``: a row removed or a coordinate edited by hand was taken for a replaced genome (auditbreak);
    or, rows of the same lengths, one not the table the run wrote (:func:`seqsal.runlock.refuse_edited_regions_table`).

    Raises
    ------
    InputError
        Naming the row counts or the first row whose ``end - start`` is not its stored length; or ``regions.tsv``,
        edited since the run.
    """
    path = str(Path(out_dir) / "regions.tsv")
    if len(regions) != len(lengths):
        raise InputError(f"{len(regions)} regions, attributions.npz holds {len(lengths)}: the table was edited; "
                         "rerun `seqsal attribute` with --force", path)
    span = regions["end"].to_numpy(np.int64) - regions["start"].to_numpy(np.int64)
    if (differ := np.flatnonzero(span != np.asarray(lengths, np.int64))).size:
        k = int(differ[0])
        raise InputError(f"row {k} ({regions['chrom'].iloc[k]}:{regions['start'].iloc[k]}-{regions['end'].iloc[k]}) "
                         f"spans {span[k]} bases, attributions.npz {int(lengths[k])}: the table was edited; rerun "
                         "`seqsal attribute` with --force", path)
    refuse_edited_regions_table(out_dir)  # rows of the same lengths moved elsewhere (fresh26b)


def genome_of_run(record: dict, folder: str | os.PathLike | None = None) -> Genome:
    """The :class:`Genome` of a run folder's ``run.json`` record, opened with the run's ``unknown_bases`` policy.

    Parameters
    ----------
    record
        The run's ``run.json``.
    folder
        The run folder: when given (and it holds ``attributions.npz``), the genome is checked to hold the bases the
        run attributed (:func:`first_genome_mismatch`).

    Raises
    ------
    InputError
        The FASTA is not at the recorded path any more, or no longer holds the run's bases (both messages say how to
        point the run at the right file), or cannot be read.
    """
    path = record["genome"]
    if not os.path.isfile(path):
        raise InputError(moved_input_text("genome"), path)
    if folder is not None and (Path(folder) / "attributions.npz").is_file():
        differs = first_genome_mismatch(Path(folder), record, path)
        if differs is not None:
            raise InputError(f"not the genome this run was made from any more ({differs} differs from the bases the "
                             "run attributed): the file was replaced or edited since; point the run at the original "
                             "with `seqsal relocate RUN_FOLDER --genome ORIGINAL`, or rerun `seqsal attribute`", path)
    return Genome(path, unknown_bases=record.get("parameters", {}).get("unknown_bases", "error"))
