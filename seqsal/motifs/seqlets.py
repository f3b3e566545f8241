"""The seqlets discovery clusters: the seqlet table of a run folder, and windows of a run's arrays around them.

Seqlets are the motif-scale calls of :mod:`seqsal.peaks` (``seqlets.tsv``);
their coordinates are offsets in the region's row of ``attributions.npz`` (:func:`seqsal.io.region_arrays`).
"""
from __future__ import annotations

from collections import OrderedDict

import os

import numpy as np
import pandas as pd

from ..errors import InputError
from ..peaks import unique_calls

REQUIRED_SEQLET_COLUMNS = ("region_index", "offset_start", "offset_end")
"""The columns a seqlet table needs for discovery (``seqlets.tsv`` as :mod:`seqsal.peaks` writes it has these and more)."""


def read_seqlet_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read ``seqlets.tsv``/``elements.tsv`` and check the columns discovery needs.

    Parameters
    ----------
    path
        A tab-separated table with a header and at least :data:`REQUIRED_SEQLET_COLUMNS`.

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
        ``offset_end <= offset_start`` or ``offset_start < 0`` (its line named).
    """
    path = str(path)
    if not os.path.isfile(path):
        raise InputError("seqlet table not found; run `seqsal call-peaks` (or `seqsal attribute`) first", path)
    table = pd.read_csv(path, sep="\t")
    missing = [column for column in REQUIRED_SEQLET_COLUMNS if column not in table]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", path)
    if "sign" not in table:
        scores = table["score"] if "score" in table else pd.Series(np.ones(len(table)))
        table["sign"] = np.where(scores.to_numpy() < 0, "-", "+")
    bad = table.index[(table["offset_end"] <= table["offset_start"]) | (table["offset_start"] < 0)]
    if len(bad):
        raise InputError(f"offset_end must be > offset_start >= 0 (first bad row {int(bad[0]) + 2})", path, int(bad[0]) + 2)
    return unique_calls(table).reset_index(drop=True)


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

