"""Writers at the output end: atomic files, streamed ``.npy``/``.npz`` arrays, bigWig, TSV.

Nothing is ever written under its final name until it is complete: every
writer writes ``<name>.tmp-<pid>`` and renames it (``os.replace``) at the end.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import zipfile
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = str(path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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


def merged_coverage(
    intervals: pd.DataFrame, load_track: Callable[[int], np.ndarray], chrom_sizes: dict[str, int]
) -> Iterator[tuple[str, int, np.ndarray]]:
    """Merge per-region tracks into non-overlapping genome blocks (mean where regions overlap).

    Parameters
    ----------
    intervals
        Columns ``chrom``, ``start``, ``end`` (0-based half-open; may run past
        the chromosome) and ``index`` (what ``load_track`` takes).
    load_track
        ``index -> (end - start,)`` values on the + strand.
    chrom_sizes
        Chromosome lengths; chromosomes are visited in this order.

    Yields
    ------
    chrom, start, values
        Sorted, non-overlapping blocks clipped to the chromosome; memory is
        bounded by the longest chain of overlapping regions.
    """
    order = {name: rank for rank, name in enumerate(chrom_sizes)}
    frame = intervals.assign(rank=intervals["chrom"].map(order)).sort_values(["rank", "start", "end"], kind="stable")
    block_chrom, block_start, block_end = None, 0, 0
    total = count = None

    def flush():
        size = block_end - block_start
        covered = count[:size] > 0
        values = np.where(covered, total[:size] / np.maximum(count[:size], 1), 0.0).astype(np.float32)
        lo, hi = max(block_start, 0), min(block_end, chrom_sizes[block_chrom])
        return block_chrom, lo, values[lo - block_start:hi - block_start]

    for row in frame.itertuples():
        if block_chrom is not None and (row.chrom != block_chrom or row.start >= block_end):
            yield flush()
            block_chrom = None
        if block_chrom is None:
            block_chrom, block_start, block_end = row.chrom, row.start, row.end
            total = np.zeros(block_end - block_start, dtype=np.float64)
            count = np.zeros(block_end - block_start, dtype=np.int32)
        if row.end > block_end:
            block_end = row.end
            if block_end - block_start > total.shape[0]:  # grow by doubling: a long chain of overlaps stays linear
                capacity = max(block_end - block_start, 2 * total.shape[0])
                total = np.concatenate([total, np.zeros(capacity - total.shape[0])])
                count = np.concatenate([count, np.zeros(capacity - count.shape[0], dtype=np.int32)])
        track = load_track(row.index)
        total[row.start - block_start:row.end - block_start] += track
        count[row.start - block_start:row.end - block_start] += 1
    if block_chrom is not None:
        yield flush()


def write_bigwig(path: str | os.PathLike, chrom_sizes: dict[str, int], blocks: Iterable[tuple[str, int, np.ndarray]]) -> None:
    """Write sorted, non-overlapping ``(chrom, start, values)`` blocks as a bigWig (1-bp resolution).

    The header lists every chromosome of ``chrom_sizes`` in its order (the
    FASTA index order), so the file lines up with the genome in IGV.
    """
    import pyBigWig

    with atomic_path(path) as tmp:
        handle = pyBigWig.open(tmp, "w")
        try:
            handle.addHeader([(name, int(size)) for name, size in chrom_sizes.items()], maxZooms=10)
            for chrom, start, values in blocks:
                if len(values):
                    handle.addEntries(chrom, int(start), values=np.asarray(values, dtype=np.float64), span=1, step=1)
        finally:
            handle.close()


def npz_members(path: str | os.PathLike, keys: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Members of an ``.npz``: stored (uncompressed) ones as read-only memory maps, compressed ones loaded.

    The one reader of ``.npz``/``.npy`` members in seqsal. ``attributions.npz`` can be larger than memory;
    slicing a memory map reads only the rows that are touched.

    Parameters
    ----------
    path : path of the ``.npz`` archive.
    keys : member names (without ``.npy``); all members when None.

    Returns
    -------
    dict mapping each member name to its array.

    Raises
    ------
    InputError
        If the file does not exist, is not a zip archive, or lacks one of ``keys``.
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
            offset = (info.header_offset + 30 + int.from_bytes(local[26:28], "little")
                      + int.from_bytes(local[28:30], "little") + header_length)
            if int(np.prod(shape)) == 0:
                members[key] = np.zeros(shape, dtype=dtype)
            else:
                members[key] = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=tuple(shape),
                                         order="F" if fortran else "C")
    return members


def write_npz(
    path: str | os.PathLike,
    members: dict[str, np.ndarray | str | tuple[tuple[int, ...], np.dtype, Iterable[np.ndarray]]],
) -> None:
    """Write an uncompressed ``.npz`` whose large members are streamed, never held whole.

    ``members`` maps a key to a small array, to the path of a ``.npy`` file
    (copied in blocks), or to ``(shape, dtype, blocks)``: the blocks,
    concatenated along the first axis, make the ``shape`` array. ``np.load(path)[key]``
    gives each member back; the same arrays give the same bytes whichever way
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
                    shape, dtype, blocks = source
                    dtype = np.dtype(dtype)
                    np.lib.format.write_array_header_1_0(
                        destination, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                                      "shape": tuple(shape)})
                    rows = 0
                    for block in blocks:
                        block = np.ascontiguousarray(block, dtype=dtype)
                        destination.write(block.tobytes())
                        rows += block.shape[0]
                    if rows != shape[0]:
                        raise ValueError(f"{key}: blocks gave {rows} rows, expected {shape[0]}")


def write_attribution_bigwig(
    path: str | os.PathLike, regions: pd.DataFrame, chrom_sizes: dict[str, int],
    one_hot_row: Callable[[int], np.ndarray], hypothetical_row: Callable[[int], np.ndarray],
    track: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> None:
    """bigWig of the per-base projected contribution of every region; overlapping regions averaged.

    Parameters
    ----------
    regions
        Columns ``chrom``, ``start``, ``end``; row ``i`` is region ``i``.
    one_hot_row, hypothetical_row
        ``i -> (4, L_i or more)`` arrays of region ``i`` (right padding is cut
        off); the track is their product summed over the four channels.
    track
        ``(one_hot, hypothetical) -> (L,)``, the per-base value written instead of that product's sum (e.g.
        :func:`seqsal.methods.attribution_track` of the run's method: a saliency run writes the gradient's
        magnitude).
    """
    lengths = (regions["end"] - regions["start"]).to_numpy(dtype=np.int64)

    def projected_track(index: int) -> np.ndarray:
        if track is not None:
            return track(one_hot_row(index), hypothetical_row(index))[:int(lengths[index])]
        return (hypothetical_row(index) * one_hot_row(index)).sum(axis=0)[:int(lengths[index])]

    intervals = regions[["chrom", "start", "end"]].reset_index(drop=True).assign(index=np.arange(len(regions)))
    write_bigwig(path, chrom_sizes, merged_coverage(intervals, projected_track, chrom_sizes))
