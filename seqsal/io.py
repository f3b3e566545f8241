"""Writers at the output end: atomic files, streamed ``.npy``/``.npz`` arrays, TSV (bigWig: :mod:`seqsal.bigwig`);
and the readers of ``.npz`` members (:func:`npz_members`) and of the per-base arrays of run folders
(:func:`region_arrays`).

Per-base arrays (``attributions.npz``'s ``one_hot``/``hypothetical``, ``null.npz``'s ``projected``/``valid``) are
ragged: ``(*channels, ΣL)``, the regions end to end, region ``i`` at ``[offsets[i], offsets[i+1])`` of the last
axis (Fortran order when there are channels: a region's bytes are contiguous). Regions of very different lengths
then cost their own size on disk, not the longest one's; :class:`RaggedStream` writes them region by region and
:func:`region_arrays` reads them (and the older dense ``(N, *channels, max_length)`` layout) region by region or
in bounded blocks.

Nothing is ever written under its final name until it is complete: every
writer writes ``<name>.tmp-<pid>`` and renames it (``os.replace``) at the end.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import zipfile
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from .npz_crc import member_intact


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.

    On an exception the temporary file is removed and ``path`` is untouched. Once ``path`` is written, the
    temporary files killed processes left in its folder go too (:func:`_sweep`, once per folder and process).
    """
    path = str(path)
    if os.path.isdir(path):
        from .errors import InputError

        raise InputError("a folder is in the way of this output file; move or remove it", path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        yield tmp
        os.replace(tmp, path)
        _sweep(Path(path).parent)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


_SWEPT: set[str] = set()  # folders whose leftover temporary files this process has removed


def _sweep(folder: Path) -> None:
    """Remove the ``*.tmp-<pid>`` files of ``folder`` whose process has ended; once per folder and process."""
    if (key := os.path.realpath(folder)) in _SWEPT:
        return
    _SWEPT.add(key)
    for left in folder.glob("*.tmp-*"):
        pid = left.name.rpartition(".tmp-")[2]
        if left.is_file() and pid.isdigit() and not _alive(int(pid)):
            left.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        pass
    return True


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def write_table_atomic(path: str | os.PathLike, frame: pd.DataFrame, header: bool = True) -> None:
    """Write a tab-separated table (no index) atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, header=header)


class NpyStream:
    """A fixed-shape ``.npy`` file written row by row, never held in memory.

    Parameters
    ----------
    path
        File to write (created with its header, or opened for resuming).
    shape
        Full array shape; row ``i`` is ``array[i]``.
    resume
        Open an existing file (same shape) instead of creating it.
    """

    def __init__(self, path: str, shape: tuple[int, ...], dtype=np.float32, resume: bool = False):
        self.path, self.shape, self.dtype = path, tuple(shape), np.dtype(dtype)
        self.row_bytes = int(np.prod(shape[1:])) * self.dtype.itemsize
        if resume and os.path.exists(path):
            self.handle = open(path, "r+b")
            np.lib.format.read_magic(self.handle)
            np.lib.format.read_array_header_1_0(self.handle)
            self.offset = self.handle.tell()
            full = self.offset + self.row_bytes * self.shape[0]
            if os.fstat(self.handle.fileno()).st_size < full:  # killed between its header and its sizing
                self.handle.truncate(full)
        else:
            self.handle = open(path, "w+b")
            np.lib.format.write_array_header_1_0(
                self.handle, {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                              "shape": self.shape}
            )
            self.offset = self.handle.tell()
            self.handle.truncate(self.offset + self.row_bytes * self.shape[0])

    def write_row(self, index: int, row: np.ndarray) -> None:
        row = np.ascontiguousarray(row, dtype=self.dtype)
        if row.shape != self.shape[1:]:
            padded = np.zeros(self.shape[1:], dtype=self.dtype)
            padded[tuple(slice(0, n) for n in row.shape)] = row
            row = padded
        self.handle.seek(self.offset + index * self.row_bytes)
        self.handle.write(row.tobytes())

    def read_row(self, index: int) -> np.ndarray:
        self.handle.seek(self.offset + index * self.row_bytes)
        data = self.handle.read(self.row_bytes)
        return np.frombuffer(data, dtype=self.dtype).reshape(self.shape[1:])

    def flush(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self) -> None:
        self.handle.close()


def npz_members(path: str | os.PathLike, keys: Iterable[str] | None = None,
                mapped: bool = True) -> dict[str, np.ndarray]:
    """Members of an ``.npz``: stored (uncompressed) ones as read-only memory maps, compressed ones loaded.

    The one reader of ``.npz``/``.npy`` members in seqsal. ``attributions.npz`` can be larger than memory;
    slicing a memory map reads only the rows that are touched.

    Parameters
    ----------
    path : path of the ``.npz`` archive.
    keys : member names (without ``.npy``); all members when None.
    mapped : False gives stored members as :class:`StoredArray` (read by offset) instead of memory maps.

    Returns
    -------
    dict mapping each member name to its array.

    Raises
    ------
    InputError
        If the file does not exist, is not a zip archive, lacks one of ``keys``, or a stored member does not
        match its zip CRC-32 (checked once per process and file version: :mod:`seqsal.npz_crc`).
    """
    from .errors import InputError

    path = str(path)
    if not os.path.isfile(path):
        raise InputError("arrays not found; run `seqsal attribute` first", path)
    members: dict[str, np.ndarray] = {}
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InputError("not an .npz archive (zip); rerun the command that wrote it", path) from None
    with archive, open(path, "rb") as raw:
        names = {info.filename[:-4] if info.filename.endswith(".npy") else info.filename: info
                 for info in archive.infolist()}
        for key in names if keys is None else keys:
            if key not in names:
                raise InputError(f"no array {key!r} in this .npz", path)
            info = names[key]
            with archive.open(info) as handle:
                if info.compress_type != zipfile.ZIP_STORED:
                    members[key] = np.lib.format.read_array(handle)
                    continue
                version = np.lib.format.read_magic(handle)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(handle)
                header_length = handle.tell()
            raw.seek(info.header_offset)
            local = raw.read(30)  # zip local file header: name and extra-field lengths at bytes 26-29
            start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30],
                                                                                                      "little")
            if not member_intact(path, info, start):
                raise InputError(f"damaged: {info.filename} does not match its checksum (bytes changed after it "
                                 "was written); rerun the command that wrote it", path)
            offset = start + header_length
            if int(np.prod(shape)) == 0:
                members[key] = np.zeros(shape, dtype=dtype)
            else:
                stored = StoredArray(path, offset, tuple(shape), np.dtype(dtype), fortran)
                members[key] = stored.memmap() if mapped else stored
    return members


class StoredArray:
    """An uncompressed ``.npy`` member of an ``.npz``, read by byte offset: nothing stays mapped in memory.

    ``read(start, count)`` gives ``count`` elements from element ``start`` in file order (C or Fortran, as
    stored), as a fresh array; the resident memory of a reader is then what it holds, not the file pages it
    touched (a memory map keeps every page it read resident until it is unmapped).
    """

    def __init__(self, path: str, offset: int, shape: tuple[int, ...], dtype: np.dtype, fortran: bool):
        self.path, self.offset, self.shape, self.dtype, self.fortran = path, offset, shape, dtype, fortran
        self.ndim = len(shape)

    def read(self, start: int, count: int) -> np.ndarray:
        with open(self.path, "rb") as handle:
            handle.seek(self.offset + int(start) * self.dtype.itemsize)
            data = np.fromfile(handle, dtype=self.dtype, count=int(count))
        if data.shape[0] != count:
            raise ValueError(f"{self.path}: the array ends before element {start + count}")
        return data

    def memmap(self) -> np.ndarray:
        return np.memmap(self.path, dtype=self.dtype, mode="r", offset=self.offset, shape=self.shape,
                         order="F" if self.fortran else "C")


def write_npz(
    path: str | os.PathLike,
    members: dict[str, np.ndarray | str | tuple[tuple[int, ...], np.dtype, Iterable[np.ndarray]]],
) -> None:
    """Write an uncompressed ``.npz`` whose large members are streamed, never held whole.

    ``members`` maps a key to a small array, to the path of a ``.npy`` file
    (copied in blocks), or to ``(shape, dtype, blocks)``: the blocks,
    concatenated along the first axis, make the ``shape`` array; ``(shape, dtype, blocks, "F")``: concatenated
    along the last axis, stored in Fortran order (the ragged per-base layout, :class:`RaggedStream`).
    ``np.load(path)[key]`` gives each member back; the same arrays give the same bytes whichever way
    they were passed.
    """
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for key, source in members.items():
                with archive.open(f"{key}.npy", "w", force_zip64=True) as destination:
                    if isinstance(source, np.ndarray):
                        np.lib.format.write_array(destination, source)
                        continue
                    if isinstance(source, (str, os.PathLike)):
                        with open(source, "rb") as handle:
                            shutil.copyfileobj(handle, destination, 1 << 22)
                        continue
                    shape, dtype, blocks, *order = source
                    fortran = order == ["F"]
                    dtype = np.dtype(dtype)
                    write_npy_header(destination, shape, dtype, fortran)
                    rows = 0
                    for block in blocks:
                        block = np.asarray(block, dtype=dtype)
                        destination.write(block.tobytes(order="F" if fortran else "C"))
                        rows += block.shape[-1 if fortran else 0]
                    if rows != shape[-1 if fortran else 0]:
                        raise ValueError(f"{key}: blocks gave {rows} rows, expected {shape[-1 if fortran else 0]}")


# --- per-base arrays of regions of different lengths (the ragged layout of attributions.npz and null.npz) ---

OFFSETS = "offsets"
"""The member of a ragged ``.npz`` that cuts its per-base arrays into regions: ``(N + 1,)`` int64."""
LENGTH = "length"
"""The member that gives each region's length, ``(N,)`` int64 (both layouts)."""
NPZ_FORMAT = 2
"""``run.json``'s ``npz_format``: 2, the ragged layout (``offsets``); 1 or absent, the dense ``(N, 4, max_length)``."""
NPZ_LAYOUT = ("ragged: one_hot and hypothetical are (4, sum of lengths) float32 on the + strand, the regions end to "
              "end (Fortran order: each region's bases contiguous); region i is [:, offsets[i]:offsets[i+1]], "
              "length[i] = offsets[i+1] - offsets[i]; `seqsal export-modisco` writes the dense (N, 4, L) arrays")
"""``run.json``'s ``npz_layout``: the layout of ``attributions.npz`` in words."""
BLOCK_POSITIONS = 1 << 20
"""Elements per block read or written at once (bounded memory whatever the number of regions)."""


def ragged_offsets(lengths: np.ndarray) -> np.ndarray:
    """``(N + 1,)`` int64 offsets of regions of ``lengths`` laid end to end: region ``i`` is ``[o[i], o[i+1])``."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(np.asarray(lengths, dtype=np.int64), out=offsets[1:])
    return offsets


def write_npy_header(handle, shape: tuple[int, ...], dtype: np.dtype, fortran: bool = False) -> None:
    """The ``.npy`` (version 1.0) header of an array; one function, so every writer gives the same bytes."""
    np.lib.format.write_array_header_1_0(
        handle, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": bool(fortran),
                 "shape": tuple(int(n) for n in shape)})


class RaggedStream:
    """A ragged per-base array ``(*channels, ΣL)`` in a ``.npy`` file, written region by region, never held whole.

    Region ``i`` (``(*channels, lengths[i])``) lies at positions ``[offsets[i], offsets[i+1])`` of the last
    axis. Arrays with channels are stored in Fortran order, so each region is one contiguous run of bytes
    (position-major: the 4 channels of a base side by side) and the regions follow each other in order.

    Parameters
    ----------
    path
        File to write (created with its header and full size, or opened for resuming).
    channels
        Leading axes of every region, e.g. ``(4,)`` for one-hot; ``()`` for a track.
    lengths
        ``(N,)`` length of each region, in positions.
    resume
        Open an existing file instead of creating it; it must have this shape.

    Raises
    ------
    ValueError
        On resuming a file of another shape or layout (a checkpoint of another seqsal version).
    """

    def __init__(self, path: str, channels: tuple[int, ...], lengths: np.ndarray, dtype=np.float32,
                 resume: bool = False):
        self.path, self.channels, self.dtype = path, tuple(channels), np.dtype(dtype)
        self.offsets = ragged_offsets(lengths)
        self.shape = (*self.channels, int(self.offsets[-1]))
        self.fortran = len(self.channels) > 0
        self.base_bytes = int(np.prod(self.channels, dtype=np.int64)) * self.dtype.itemsize
        if resume and os.path.exists(path):
            self.handle = open(path, "r+b")
            version = np.lib.format.read_magic(self.handle)
            header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                      else np.lib.format.read_array_header_2_0)(self.handle)
            if header != (self.shape, self.fortran, self.dtype):
                self.handle.close()
                raise ValueError(f"{path}: holds {header}, expected {(self.shape, self.fortran, self.dtype)}")
        else:
            self.handle = open(path, "w+b")
            write_npy_header(self.handle, self.shape, self.dtype, self.fortran)
            self.handle.truncate(self.handle.tell() + self.base_bytes * self.shape[-1])
        self.data_offset = self.handle.tell()

    def write_row(self, index: int, row: np.ndarray) -> None:
        """Write region ``index``: ``(*channels, lengths[index])``; ValueError on another shape."""
        row = np.asarray(row, dtype=self.dtype)
        length = int(self.offsets[index + 1] - self.offsets[index])
        if row.shape != (*self.channels, length):
            raise ValueError(f"region {index}: shape {row.shape}, expected {(*self.channels, length)}")
        self.handle.seek(self.data_offset + int(self.offsets[index]) * self.base_bytes)
        self.handle.write(row.tobytes(order="F" if self.fortran else "C"))

    def read_row(self, index: int) -> np.ndarray:
        """Region ``index`` as written, ``(*channels, lengths[index])``."""
        length = int(self.offsets[index + 1] - self.offsets[index])
        self.handle.seek(self.data_offset + int(self.offsets[index]) * self.base_bytes)
        data = self.handle.read(length * self.base_bytes)
        return np.frombuffer(data, dtype=self.dtype).reshape((*self.channels, length), order="F")

    def flush(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self) -> None:
        self.handle.close()


class RegionArray:
    """One per-base member of an ``.npz``, region by region, in either layout; nothing is read until asked.

    Ragged (run.json "npz_format": 2): ``data`` ``(*channels, ΣL)``, region ``i`` is
    ``data[..., offsets[i]:offsets[i+1]]``. Dense (older run folders, notebooks): ``data`` ``(N, *channels, W)``
    right-padded with zeros, region ``i`` is ``data[i, ..., :lengths[i]]``. Reads of a :class:`StoredArray`
    go by byte offset (one contiguous read per run of regions), so memory holds only what was asked for.

    Parameters
    ----------
    data
        The stored array: a :class:`StoredArray`, or any array (a memory map, a loaded member).
    lengths
        ``(N,)`` int64 length of each region.
    offsets
        ``(N + 1,)`` int64 for the ragged layout; None for the dense one.
    """

    def __init__(self, data, lengths: np.ndarray, offsets: np.ndarray | None = None):
        self.data, self.lengths, self.offsets = data, np.asarray(lengths, dtype=np.int64), offsets
        self.ragged = offsets is not None
        self.channels = tuple(data.shape[:-1] if self.ragged else data.shape[1:-1])
        self.dtype = data.dtype
        self._per_position = int(np.prod(self.channels, dtype=np.int64))
        stored = isinstance(data, StoredArray)
        # contiguous reads: ragged stored position-major (Fortran, or no channels); dense rows in C order
        self._direct = stored and ((data.fortran or not self.channels) if self.ragged else not data.fortran)
        if stored and not self._direct:
            self.data = data.memmap()

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def _span(self, first: int, stop: int) -> np.ndarray:
        """Positions ``[first, stop)`` of the ragged data, ``(*channels, stop - first)``."""
        if self._direct:
            flat = self.data.read(first * self._per_position, (stop - first) * self._per_position)
            return flat.reshape((*self.channels, stop - first), order="F")
        return np.asarray(self.data[..., first:stop])

    def _rows(self, first: int, stop: int) -> np.ndarray:
        """Rows ``[first, stop)`` of the dense data, ``(stop - first, *channels, W)``."""
        if self._direct:
            row = self._per_position * self.data.shape[-1]
            return self.data.read(first * row, (stop - first) * row).reshape((stop - first, *self.data.shape[1:]))
        return np.asarray(self.data[first:stop])

    def __getitem__(self, index: int) -> np.ndarray:
        """Region ``index``: ``(*channels, lengths[index])``, read into memory."""
        return self.window(index, 0, None)

    def window(self, index: int, lo: int, hi: int | None) -> np.ndarray:
        """Positions ``[lo, hi)`` of region ``index`` (clipped to it; ``hi`` None: to its end), read alone."""
        index = int(index) + (len(self) if int(index) < 0 else 0)
        length = int(self.lengths[index])
        lo, hi = min(max(int(lo), 0), length), length if hi is None else min(max(int(hi), 0), length)
        hi = max(hi, lo)
        if self.ragged:
            return self._span(int(self.offsets[index]) + lo, int(self.offsets[index]) + hi)
        return self._rows(index, index + 1)[0, ..., lo:hi]

    @property
    def max_length(self) -> int:
        """The longest region (0 when there is none)."""
        return int(self.lengths.max()) if len(self) else 0

    def padded(self, rows: np.ndarray | None = None, width: int | None = None) -> np.ndarray:
        """Rows as the dense arrays of older versions: ``(n, *channels, width)``, zero past each region's length.

        ``rows`` default all (sorted or not); ``width`` defaults to their longest region (longer regions are
        cut at ``width``). Memory is that of the result: read it in :meth:`RegionArrays.blocks` for many rows.
        """
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1)
        lengths = self.lengths[rows]
        width = (int(lengths.max()) if rows.size else 0) if width is None else int(width)
        out = np.zeros((rows.shape[0], *self.channels, width), dtype=self.dtype)
        for run in np.split(np.arange(rows.shape[0]), np.flatnonzero(np.diff(rows) != 1) + 1):
            if not run.size:
                continue
            first, last = int(rows[run[0]]), int(rows[run[-1]])
            if not self.ragged:
                block = self._rows(first, last + 1)
                cut = min(width, block.shape[-1])
                out[run, ..., :cut] = block[..., :cut]
                beyond = np.arange(width)[None, :] >= lengths[run][:, None]  # zero, whatever the file holds
                view = out[run]
                view[np.broadcast_to(beyond.reshape(len(run), *(1,) * len(self.channels), width), view.shape)] = 0
                out[run] = view
                continue
            chunk = self._span(int(self.offsets[first]), int(self.offsets[last + 1]))
            if bool((lengths[run] == width).all()):  # equal lengths: a reshape, no gather (no index arrays)
                out[run[0]:run[-1] + 1] = np.moveaxis(chunk.reshape((*self.channels, run.shape[0], width)), -2, 0)
                continue
            kept = np.minimum(lengths[run], width)
            local = self.offsets[rows[run]] - self.offsets[first]
            row_of = np.repeat(run, kept)
            position = np.arange(int(kept.sum())) - np.repeat(np.cumsum(kept) - kept, kept)
            source = np.repeat(local, kept) + position
            out[(row_of, Ellipsis, position)] = np.moveaxis(chunk[..., source], -1, 0)
        return out

    def pieces(self, max_positions: int = BLOCK_POSITIONS) -> Iterator[np.ndarray]:
        """The regions end to end, ``(*channels, n)`` pieces along the last axis (the ragged layout's data),
        each of at most about ``max_positions`` elements (at least one region's)."""
        per_position = max(1, self._per_position)
        step = max(1, max_positions // per_position)
        if self.ragged:
            total = int(self.offsets[-1])
            for first in range(0, total, step):
                yield self._span(first, min(first + step, total))
            return
        for rows, _ in _row_runs(self.lengths, None, max_positions, per_position):
            block = self._rows(int(rows[0]), int(rows[-1]) + 1)
            yield np.concatenate([block[k, ..., :int(self.lengths[row])] for k, row in enumerate(rows)], axis=-1)


def _row_runs(lengths: np.ndarray, rows: np.ndarray | None, max_positions: int,
              per_position: int) -> Iterator[tuple[np.ndarray, int]]:
    """Blocks of successive ``rows`` (all when None; consecutive or not) whose padded size
    ``n * width * per_position`` stays within ``max_positions`` (a block holds one row at least); yields
    ``(rows, width)``. Scattered rows share blocks as consecutive ones do, so a few rows of a large file are
    served in a few blocks, not one per row. The lengths are looked at 4,096 rows at a time (no per-region
    Python objects: a list of every length took 40 B a region)."""
    rows = None if rows is None else np.asarray(rows, dtype=np.int64)
    n = lengths.shape[0] if rows is None else rows.shape[0]
    take = (lambda a, b: np.arange(a, b)) if rows is None else (lambda a, b: rows[a:b])
    start, width = 0, 0
    for base in range(0, n, 1 << 12):
        for k, size in enumerate(lengths[take(base, min(base + (1 << 12), n))].tolist(), base):
            longer = max(width, size)
            if k > start and (k - start + 1) * longer * per_position > max_positions:
                yield take(start, k), width
                start, longer = k, size
            width = longer
    if n:
        yield take(start, n), width


class RegionArrays:
    """The per-base arrays of an ``.npz`` (``attributions.npz``, ``null.npz``), region by region.

    The one reader of per-base arrays in seqsal (:func:`region_arrays` opens it): ``arrays[key][i]`` is region
    ``i`` of member ``key``, ``(*channels, L_i)``; :meth:`blocks` serves many regions in bounded memory;
    ``arrays.lengths`` ``(N,)``; ``arrays.small`` the other members (per-region or scalar).
    """

    def __init__(self, path: str, members: dict[str, RegionArray], lengths: np.ndarray, small: dict, layout: str):
        self.path, self.members, self.lengths, self.small, self.layout = path, members, lengths, small, layout

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def __getitem__(self, key: str) -> RegionArray:
        return self.members[key]

    def __contains__(self, key: str) -> bool:
        return key in self.members

    @property
    def max_length(self) -> int:
        return int(self.lengths.max()) if len(self) else 0

    def region(self, index: int) -> dict[str, np.ndarray]:
        """``{key: (*channels, L_index)}`` of region ``index``, read into memory."""
        return {key: member[index] for key, member in self.members.items()}

    def blocks(self, keys: Iterable[str] | None = None, rows: np.ndarray | None = None,
               max_positions: int = BLOCK_POSITIONS) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """``(rows, {key: (n, *channels, W)})`` over sorted ``rows`` (all when None), right-padded with zeros.

        Runs of consecutive rows are read at once; a block's ``W`` is its longest region and it holds at most
        ``max_positions`` elements of the first key (one region at least), whatever the regions' lengths.
        """
        keys = list(self.members) if keys is None else list(keys)
        first = self.members[keys[0]]
        per_position = max(1, int(np.prod(first.channels, dtype=np.int64)))
        for block, width in _row_runs(self.lengths, rows, max_positions, per_position):
            yield block, {key: self.members[key].padded(block, width) for key in keys}


def region_arrays(path: str | os.PathLike, keys: Iterable[str]) -> RegionArrays:
    """Open the per-base members ``keys`` of an ``.npz``, ragged (``offsets`` member) or dense (older runs).

    Parameters
    ----------
    path
        ``attributions.npz`` (keys ``one_hot``, ``hypothetical``) or ``null.npz`` (``projected``, ``valid``).
    keys
        The per-base members to serve.

    Returns
    -------
    RegionArrays

    Raises
    ------
    InputError
        If the file is missing or not an ``.npz``, lacks a key, or its members disagree in size.
    """
    from .errors import InputError

    path = str(path)
    members = npz_members(path, mapped=False)
    keys = list(keys)
    for key in keys:
        if key not in members:
            raise InputError(f"no array {key!r} in this .npz", path)
    if OFFSETS in members:
        offsets = np.asarray(_loaded(members[OFFSETS]), dtype=np.int64)
        lengths = np.diff(offsets)
        layout = "ragged"
    else:  # the dense layout of earlier run folders (npz_format 1): (N, *channels, W), right-padded
        width = members[keys[0]].shape[-1]
        lengths = (np.asarray(_loaded(members[LENGTH]), dtype=np.int64) if LENGTH in members
                   else np.full(members[keys[0]].shape[0], width, dtype=np.int64))
        offsets, layout = None, "dense"
    arrays = {}
    for key in keys:
        data = members[key]
        bad = (data.shape[-1] != offsets[-1]) if offsets is not None else (
            data.ndim < 2 or data.shape[0] != lengths.shape[0] or (lengths.size and lengths.max() > data.shape[-1]))
        if bad:
            raise InputError(f"array {key!r} {tuple(data.shape)} does not fit the {len(lengths)} regions of this "
                             ".npz; rerun the command that wrote it", path)
        arrays[key] = RegionArray(data, lengths, offsets)
    small = {key: _loaded(value) for key, value in members.items() if key not in arrays}  # memory maps
    return RegionArrays(path, arrays, lengths, small, layout)


def _loaded(member) -> np.ndarray:
    """A member as an array: a :class:`StoredArray` as its memory map (for the small, per-region members)."""
    return member.memmap() if isinstance(member, StoredArray) else member
