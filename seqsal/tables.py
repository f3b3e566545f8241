"""Reading back the tab-separated tables seqsal writes, and taking users' tables: names stay text.

pandas infers a column's type from its values, so a chromosome named ``17`` (Ensembl style) or a region named
``1`` reads back as an integer, and lookups keyed by the FASTA's names (``str``) then miss silently. Every
reader of a run folder's tables goes through :func:`read_tsv` (or passes :data:`TEXT_DTYPES` to pandas when it
reads in chunks), and the notebook API converts a user's numeric name columns with :func:`as_text`.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

# columns that hold names (chromosomes, regions, seqlets, motifs, database entries): always text
TEXT_COLUMNS = ("chrom", "name", "region_name", "seqlet_name", "duplicate_of", "motif", "query", "match_id",
                "match_name", "support_match", "target_id", "target_name")
TEXT_DTYPES: dict[str, type] = {column: str for column in TEXT_COLUMNS}


def read_tsv(path: str | os.PathLike, **kwargs) -> pd.DataFrame:
    """A tab-separated table with a header, its name columns (:data:`TEXT_COLUMNS`, those present) as text.

    Parameters
    ----------
    path
        The table.
    **kwargs
        Passed to :func:`pandas.read_csv`; a ``dtype`` mapping given here is applied over :data:`TEXT_DTYPES`.

    Returns
    -------
    pandas.DataFrame
        The table; empty cells of a name column are missing values (``NaN``), as pandas reads them.
    """
    dtype = {**TEXT_DTYPES, **kwargs.pop("dtype", {})}
    return pd.read_csv(path, sep="\t", dtype=dtype, **kwargs)


def as_text(values: pd.Series) -> pd.Series:
    """A name column as text: integers as their digits (``17`` -> ``"17"``; a float column of whole numbers, as
    pandas reads integers with a gap, likewise: ``17.0`` -> ``"17"``); text columns are returned unchanged."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values if pd.api.types.is_string_dtype(values.cat.categories) else values.astype(str)
    if not pd.api.types.is_numeric_dtype(values):
        return values
    numbers = values.to_numpy()
    if pd.api.types.is_float_dtype(values) and np.isfinite(numbers).all() and (numbers == np.round(numbers)).all():
        return values.astype(np.int64).astype(str)
    return values.astype(str)


def read_region_coordinates(path: str | os.PathLike, names: bool = True) -> pd.DataFrame:
    """``name``, ``chrom``, ``start``, ``end`` of a run folder's ``regions.tsv``, in compact dtypes.

    What the peak caller needs of the table, without its other columns: ``chrom`` categorical (a code per
    row, categories sorted), ``start``/``end`` int64 (0-based half-open), ``name`` text (empty names stay
    empty; left out with ``names=False``: 100,000 names held ~6 MB as Python strings; see
    :func:`seqsal.peaks.runfolder.region_names`). Read 4,096 rows at a time, so the parse's buffers do not
    grow with the file. Returns one row per region, in file order; :class:`~seqsal.errors.InputError` on a
    malformed file.
    """
    columns = ["name", "chrom", "start", "end"] if names else ["chrom", "start", "end"]
    parts, codes, categories = [], [], {}
    try:
        with pd.read_csv(path, sep="\t", usecols=columns, keep_default_na=False, chunksize=1 << 12,
                         dtype={**TEXT_DTYPES, "start": "int64", "end": "int64"}) as reader:  # "17": a name
            for part in reader:
                chrom = pd.Categorical(part.pop("chrom"))  # this part's categories -> codes of the whole file's
                lookup = np.array([categories.setdefault(c, len(categories)) for c in chrom.categories] + [-1],
                                  np.int32)
                codes.append(lookup[chrom.codes])
                parts.append(part)
    except (ValueError, pd.errors.ParserError) as exc:  # a line edited by hand: not a traceback (auditbreak)
        from .errors import InputError

        raise InputError(f"not a run's region table ({' '.join(str(exc).split())[:100]}): it was edited or damaged; "
                         "rerun `seqsal attribute` with --force", str(path)) from None
    table = pd.concat(parts, ignore_index=True).astype({"start": "int64", "end": "int64"})
    chrom = pd.Categorical.from_codes(np.concatenate(codes), categories=list(categories))
    table["chrom"] = chrom.reorder_categories(sorted(categories))  # as one read sorts them
    return table[columns]
