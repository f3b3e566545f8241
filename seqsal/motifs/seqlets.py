"""The seqlets discovery clusters: the seqlet table of a run folder, and windows of a run's arrays around them.

Seqlets are the motif-scale calls of :mod:`seqsal.peaks` (``seqlets.tsv``);
their coordinates are offsets in the region's row of ``attributions.npz`` (:func:`seqsal.io.region_arrays`).
"""
from __future__ import annotations

import logging
import os
from collections import OrderedDict

import numpy as np
import pandas as pd

from ..errors import InputError
from ..peaks import unique_calls
from ..tables import read_tsv

log = logging.getLogger("seqsal")

REQUIRED_SEQLET_COLUMNS = ("region_index", "offset_start", "offset_end")
"""The columns a seqlet table needs for discovery (``seqlets.tsv`` as :mod:`seqsal.peaks` writes it has these and more)."""


def read_seqlet_table(path: str | os.PathLike, regions: pd.DataFrame | None = None,
                      lengths: np.ndarray | None = None) -> pd.DataFrame:
    """Read ``seqlets.tsv``/``elements.tsv`` and check the columns discovery needs.

    Parameters
    ----------
    path
        A tab-separated table with a header and at least :data:`REQUIRED_SEQLET_COLUMNS`.
    regions, lengths
        The run folder's ``regions.tsv`` and its rows' lengths in ``attributions.npz``: when given, every row must
        name one of these regions the way this folder's calls do (:func:`seqlet_region_mismatch`).

    Returns
    -------
    pandas.DataFrame
        At least ``region_index``, ``offset_start``, ``offset_end`` (ints, within
        the region's npz row) and ``sign`` (``+``/``-``; derived from ``score``
        when absent); calls that repeat another of an overlapping region
        (``duplicate_of``) are left out (:func:`seqsal.peaks.unique_calls`).

    Raises
    ------
    InputError
        When the file is missing, lacks a required column, or a row has
        ``offset_end <= offset_start`` or ``offset_start < 0``, or does not fit ``regions`` (its line named).
    """
    path = str(path)
    if not os.path.isfile(path):
        raise InputError("seqlet table not found; run `seqsal call-peaks` (or `seqsal attribute`) first", path)
    try:
        table = read_tsv(path)
    except pd.errors.EmptyDataError:
        raise InputError("empty file (not even a header); give a seqlet table such as `seqsal call-peaks`' "
                         "seqlets.tsv", path) from None
    missing = [column for column in REQUIRED_SEQLET_COLUMNS if column not in table]
    if missing:
        commas = len(table.columns) == 1 and "," in str(table.columns[0])  # fresh25b: no hint at the separator
        raise InputError(f"missing column(s) {', '.join(missing)}; a seqlet table needs "
                         f"{', '.join(REQUIRED_SEQLET_COLUMNS)} (as `seqsal call-peaks` writes seqlets.tsv)"
                         + ("; its header is comma-separated: the table is read tab-separated" if commas else ""),
                         path)
    if not isinstance(table.index, pd.RangeIndex):  # rows with one more field than the header (a trailing tab)
        raise InputError("the rows have one more field than the header (a trailing tab?); remove it, or name the "
                         "column", path, 2)
    table = _checked_cells(table, path)
    if "sign" not in table:
        if "score" not in table:
            raise InputError("no sign column and no score to read it from; add sign (+ or -) or score", path)
        table["sign"] = np.where(table["score"].to_numpy() < 0, "-", "+")
    bad = table.index[(table["offset_end"] <= table["offset_start"]) | (table["offset_start"] < 0)]
    if len(bad):
        raise InputError("offset_end must be > offset_start >= 0; fix or remove the row", path, int(bad[0]) + 2)
    wrong = seqlet_region_mismatch(table, regions, lengths) if regions is not None else None
    if wrong is not None:
        raise InputError(f"{wrong[1]}; {OTHER_RUN_ADVICE}", path, wrong[0] + 2)
    return unique_calls(table).reset_index(drop=True)


def _checked_cells(table: pd.DataFrame, path: str) -> pd.DataFrame:
    """``table`` with its coordinates as int64 and ``score`` as float64, or the first bad cell refused by its line:
    a coordinate that is not a whole number, a ``score`` that is not a finite number, a ``sign`` not ``+``/``-``."""
    def refuse(column: str, row: int, what: str) -> InputError:
        return InputError(f"{column} {str(table[column].iloc[row])!r} is {what}; fix or remove the row", path,
                          row + 2)

    table = table.copy()
    for column in REQUIRED_SEQLET_COLUMNS:
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))
        if bad.shape[0]:
            raise refuse(column, int(bad[0]), "not a whole number")
        table[column] = values.astype(np.int64)
    if "score" in table:
        values = pd.to_numeric(table["score"], errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.shape[0]:
            raise refuse("score", int(bad[0]), "not a finite number")
        table["score"] = values
    if "sign" in table:
        bad = np.flatnonzero(~table["sign"].astype(str).isin(["+", "-"]).to_numpy())
        if bad.shape[0]:
            raise refuse("sign", int(bad[0]), "not + or -")
    return table


OTHER_RUN_ADVICE = ("is this table from another run? give a seqlet table called on this folder (its seqlets.tsv, "
                    "or re-call it with `seqsal call-peaks`)")
"""What to do when a seqlet table does not name this run folder's regions (:func:`seqlet_region_mismatch`)."""


def seqlet_score_mismatch(table: pd.DataFrame, arrays, sample: int = 200) -> tuple[int, float, float] | None:
    """The first row of a seqsal seqlet table whose ``score`` is not the sum of this folder's track over it.

    ``seqsal call-peaks`` scores a seqlet by the sum of the run's per-base track over ``[offset_start,
    offset_end)`` (the projected contribution, or for ``saliency`` the gradient's magnitude:
    :func:`seqsal.methods.registry.attribution_track`). A seqlet table of another run over the same regions
    (another method or model) names the same regions and passes :func:`seqlet_region_mismatch`; its scores
    tell. Checked on the first ``sample`` of seqsal's seqlets (``name`` ``seqlet_NNNNNN``, with a ``score``):
    an element's score is its own test statistic, and another tool's table may score otherwise.

    Parameters
    ----------
    table
        Seqlet rows (``region_index``, ``offset_start``, ``offset_end``, ``score``).
    arrays
        The folder's :func:`seqsal.io.region_arrays` with ``one_hot`` and ``hypothetical``.
    sample
        Rows checked.

    Returns
    -------
    (int, float, float) or None
        The row's label in ``table``'s index (the 0-based row of the file as read), its score and the sum here, for the first row off by more than ``1e-4 + 1e-3 |score|``
        on both tracks; None when the rows checked agree or the table is not checked.
    """
    from ..methods.registry import attribution_track

    if "score" not in table or "name" not in table:
        return None
    mine = table[table["name"].astype(str).str.fullmatch(r"seqlet_\d+")].head(sample)
    for k, (row, lo, hi, score) in enumerate(zip(mine["region_index"], mine["offset_start"], mine["offset_end"],
                                                 mine["score"])):
        one_hot, hypothetical = np.asarray(arrays["one_hot"][int(row)]), np.asarray(arrays["hypothetical"][int(row)])
        sums = [float(attribution_track(method, one_hot, hypothetical)[int(lo):int(hi)].sum())
                for method in ("grad_x_input", "saliency")]
        if all(abs(total - float(score)) > 1e-4 + 1e-3 * abs(float(score)) for total in sums):
            return int(mine.index[k]), float(score), sums[0]
    return None


def seqlet_region_mismatch(table: pd.DataFrame, regions: pd.DataFrame,
                           lengths: np.ndarray | None = None) -> tuple[int, str] | None:
    """The first row of a seqlet table that does not fit a run folder's regions, and what is wrong with it.

    A row names its region by ``region_index`` (the row of ``regions.tsv`` and of ``attributions.npz``) and,
    when the table has these columns, again by ``region_name``, ``chrom`` and genome ``start``/``end``
    (``regions.tsv``'s ``start`` plus ``offset_start``/``offset_end``, as :mod:`seqsal.peaks` writes them on
    either strand). A table of another run with the same regions in another order names other regions at
    the same indices: only these columns tell.

    Parameters
    ----------
    table
        Seqlet rows (``region_index``, ``offset_start``, ``offset_end``; ``region_name``, ``chrom``, ``start``,
        ``end`` are checked when present).
    regions
        The folder's ``regions.tsv`` (``name``, ``chrom``, ``start``, ``end``), one row per region, in file order.
    lengths
        ``(N,)`` length of each region's row of ``attributions.npz``, or None (offsets then checked against
        ``end - start``).

    Returns
    -------
    (int, str) or None
        The 0-based position of the first bad row in ``table`` and a description naming the region it should
        be; None when every row fits.
    """
    if not len(table):
        return None
    index = pd.to_numeric(table["region_index"], errors="coerce").to_numpy(np.float64)
    inside = np.isfinite(index) & (index >= 0) & (index < len(regions)) & (index == np.round(index))
    at = np.where(inside, index, 0).astype(np.int64)
    starts, ends = regions["start"].to_numpy(np.int64), regions["end"].to_numpy(np.int64)
    span = (ends - starts) if lengths is None else np.asarray(lengths, dtype=np.int64)
    bad = ~inside | (table["offset_end"].to_numpy(np.int64) > span[at])
    checks = [(column, table[column].astype(str).to_numpy(), regions[field].astype(str).to_numpy()[at])
              for column, field in (("region_name", "name"), ("chrom", "chrom")) if column in table]
    checks += [(column, pd.to_numeric(table[column], errors="coerce").to_numpy(np.float64),
                starts[at] + table[offset].to_numpy(np.int64))
               for column, offset in (("start", "offset_start"), ("end", "offset_end")) if column in table]
    for _, given, expected in checks:
        bad |= given != expected
    if not bad.any():
        return None
    row = int(np.flatnonzero(bad)[0])
    if not inside[row]:
        return row, f"region_index {table['region_index'].iloc[row]} is not a row of regions.tsv (0 to {len(regions) - 1})"
    k = at[row]
    held = f"{regions['name'].iloc[k]} ({regions['chrom'].iloc[k]}:{starts[k]}-{ends[k]}, {span[k]} bp)"
    differ = [f"{column} {_shown(given[row])} (expected {_shown(expected[row])})" for column, given, expected in checks
              if given[row] != expected[row]]
    if not differ:
        differ = [f"offset_end {table['offset_end'].iloc[row]}, past the region's end"]
    return row, f"region_index {k} of regions.tsv is {held}, but this row has " + ", ".join(differ)


def _shown(value) -> str:
    """A table value as a message shows it: a whole float as an integer (``2813.0`` -> ``2813``)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


class RowCache:
    """Rows of a stored :class:`~seqsal.io.RegionArray` kept in memory after their first read, up to ``max_bytes``
    (least recently used rows dropped first): discovery cuts windows from the same rows in many passes.

    ``cache[row]`` is ``array[row]`` (``(*channels, L_row)``); ``len(cache)`` is the number of rows.
    """

    def __init__(self, array, max_bytes: int = 1 << 28):
        self.array, self.max_bytes, self.held = array, int(max_bytes), 0
        self._rows: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, row: int) -> np.ndarray:
        row = int(row)
        values = self._rows.get(row)
        if values is not None:
            self._rows.move_to_end(row)
            return values
        values = np.asarray(self.array[row])
        self._rows[row] = values
        self.held += values.nbytes
        while self.held > self.max_bytes and len(self._rows) > 1:
            self.held -= self._rows.popitem(last=False)[1].nbytes
        return values


def extract_windows(
    arrays: list[np.ndarray], lengths: np.ndarray, rows: np.ndarray, starts: np.ndarray, width: int,
    rc: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Cut ``width``-long windows out of ``(N, 4, L)`` arrays, zero outside each row's true length.

    Parameters
    ----------
    arrays
        ``(N, 4, L)`` arrays (e.g. one-hot and hypothetical), or a run folder's
        :class:`~seqsal.io.RegionArray` (``array[row]`` is row ``row``, ``(4, L_row)``), read lazily.
    lengths
        ``(N,)`` true length of each row.
    rows, starts
        ``(n,)`` row index and first position of each window (may run past either end).
    rc
        ``(n,)`` bool: reverse-complement the window (flip channels and positions).

    Returns
    -------
    list of np.ndarray
        One ``(n, 4, width)`` float32 array per input array.
    """
    rows = np.asarray(rows, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    outs = [np.zeros((len(rows), 4, width), dtype=np.float32) for _ in arrays]
    order = np.argsort(rows, kind="stable")
    current, held = -1, []  # one row of each array at a time: a stored row is read once for all its windows
    for i in order:
        row, start = rows[i], starts[i]
        lo, hi = max(start, 0), min(start + width, int(lengths[row]))
        if hi <= lo:
            continue
        if row != current:
            current, held = row, [array[row] for array in arrays]
        for out, values in zip(outs, held):
            out[i, :, lo - start:hi - start] = values[:, lo:hi]
    if rc is not None and np.any(rc):
        flip = np.asarray(rc, dtype=bool)
        for out in outs:
            out[flip] = out[flip][:, ::-1, ::-1]
    return outs

