"""Tracks served in bounded chunks (the tests computed from them: :mod:`seqsal.peaks.widths`).

One code path serves numpy arrays held in memory (notebooks, :func:`array_chunks`)
and run folders read from disk (:mod:`seqsal.peaks.runfolder`, through
:func:`seqsal.io.region_arrays`): a *chunk source* is a function
``rows -> iterator of TrackChunk`` over the rows asked for (all of them for
``None``), in bounded memory whatever the number of rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..errors import InputError
from .stats import CHUNK_POSITIONS


@dataclass
class TrackChunk:
    """Consecutive rows of tracks: ``rows`` ``(n,)`` global row indices, ``track`` ``(n, L)`` float32,
    ``valid`` ``(n, L)`` bool, and optionally ``one_hot`` ``(n, 4, L)`` (for sequences)."""

    rows: np.ndarray
    track: np.ndarray
    valid: np.ndarray
    one_hot: np.ndarray | None = None


ChunkSource = Callable[[np.ndarray | None], Iterator[TrackChunk]]


def array_chunks(track: np.ndarray, valid: np.ndarray, one_hot: np.ndarray | None = None) -> ChunkSource:
    """A chunk source over tracks held in memory.

    Parameters
    ----------
    track, valid
        ``(N, L)`` float32 per-base values (0 where invalid) and bool validity.
    one_hot
        ``(N, 4, L)`` sequences of the rows, or ``None``.

    Returns
    -------
    ChunkSource
        Serves the asked-for rows in chunks of about :data:`~seqsal.peaks.stats.CHUNK_POSITIONS` positions
        (all rows, unsliced, when they fit in one).
    """
    def chunks(rows: np.ndarray | None = None) -> Iterator[TrackChunk]:
        wanted = np.arange(track.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
        step = max(1, CHUNK_POSITIONS // max(track.shape[1], 1))
        for first in range(0, wanted.shape[0], step):
            index = wanted[first:first + step]
            if index.shape[0] == wanted.shape[0] and rows is None:
                yield TrackChunk(index, track, valid, one_hot)
            else:
                yield TrackChunk(index, track[index], valid[index], None if one_hot is None else one_hot[index])

    return chunks


def as_tracks(track, lengths=None, valid=None, name: str = "track") -> tuple[np.ndarray, np.ndarray]:
    """Tracks given to :func:`seqsal.call_peaks` as ``(N, L)`` float32 values (0 where invalid) and validity.

    Parameters
    ----------
    track
        ``(L,)`` or ``(N, L)`` numbers; non-finite values are invalid.
    lengths
        ``(N,)`` true length of each row (positions past it are invalid), or ``None``.
    valid
        ``(L,)`` (the same for every row) or ``(N, L)`` bool, or ``None``.
    name
        What the error messages call the track.

    Raises
    ------
    InputError
        On a shape that does not fit, or lengths that are not whole numbers within the track's columns.
    """
    array = np.asarray(track, dtype=np.float32)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2:
        raise InputError(f"{name} must be (L,) or (N, L), got shape {array.shape}")
    mask = np.isfinite(array)
    if valid is not None:
        given = np.asarray(valid, dtype=bool)
        # an (L,) mask holds for every row (fresh30b: refused with an (N, L) track, as the docstring allowed it)
        given = np.broadcast_to(given, array.shape) if given.ndim == 1 and given.shape[0] == array.shape[1] else \
            given[None] if given.ndim == 1 else given
        if given.shape != array.shape:
            raise InputError(f"valid mask of {name} has shape {given.shape}, expected {array.shape}")
        mask &= given
    if lengths is not None:
        given = np.atleast_1d(np.asarray(lengths))
        if given.ndim != 1:  # review30b: (N, 1) was a numpy broadcasting error
            raise InputError(f"lengths of {name} must be (N,), one per row, got shape {given.shape}")
        if given.shape[0] != array.shape[0]:
            raise InputError(f"lengths of {name} has {given.shape[0]} entries for {array.shape[0]} rows")
        # fresh30b: 900 on rows of 500 called, -5 gave no tests, 300.5 was cut to 300, all without a word
        if not np.issubdtype(given.dtype, np.number) or np.any(given != np.round(given)) or \
                np.any((given < 0) | (given > array.shape[1])):
            raise InputError(f"lengths of {name} must be whole numbers in [0, {array.shape[1]}] (each row's true "
                             f"length, at most the track's {array.shape[1]} columns)")
        lengths = given.astype(np.int64)
        mask &= np.arange(array.shape[1])[None, :] < lengths[:, None]
    return np.where(mask, array, np.float32(0)).astype(np.float32, copy=False), mask


def valid_mask(one_hot: np.ndarray, lengths: np.ndarray, starts: np.ndarray, ends_limit: np.ndarray) -> np.ndarray:
    """Where a base can be called: ``(n, L)`` True where it is A/C/G/T, inside its region and its chromosome.

    Parameters
    ----------
    one_hot
        ``(n, 4, L)`` sequences, right-padded.
    lengths, starts, ends_limit
        ``(n,)`` each: the regions' true lengths, genome starts (0-based) and chromosome lengths.
    """
    offsets = np.arange(one_hot.shape[2])[None, :]
    genome = starts[:, None] + offsets
    return ((one_hot.max(axis=1) == 1) & (offsets < lengths[:, None]) & (genome >= 0)
            & (genome < ends_limit[:, None]))
