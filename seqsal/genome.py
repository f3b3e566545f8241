"""FASTA access through pyfaidx: chromosome sizes, bounds-safe fetching with N padding."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pyfaidx

from .encode import IUPAC
from .errors import InputError

log = logging.getLogger("seqsal")

_VALID_BYTES = np.zeros(256, dtype=bool)
_VALID_BYTES[np.frombuffer("".join(sorted(IUPAC)).encode(), dtype=np.uint8)] = True


class _BrokenIndex(Exception):
    """The ``.fai`` beside a FASTA cannot be parsed."""


def _build_index_atomically(path: str) -> None:
    """Write ``path.fai`` under a temporary name, then rename it.

    Several processes (e.g. the shard jobs of the workflow) may open a FASTA
    with no index at once; each builds its own copy and the rename makes the
    index appear whole, never half-written.
    """
    from .io import atomic_path

    if _is_gzip(path):
        return  # bgzip FASTA: pyfaidx also writes a .gzi; let it build both in place
    with atomic_path(path + ".fai") as tmp:
        pyfaidx.Faidx(path, indexname=tmp, build_index=True).close()


class Genome:
    """A FASTA file opened through pyfaidx (the ``.fai`` index is built if missing or stale).

    Parameters
    ----------
    path
        FASTA file (plain or bgzip-compressed).

    Notes
    -----
    Coordinates are 0-based, half-open. :meth:`fetch` pads with ``N`` where the
    interval runs past either end of the chromosome, so that a fetched string is
    always ``end - start`` long.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        if not Path(self.path).is_file():
            raise InputError("FASTA file not found; pass the path of a .fa/.fasta file", self.path)
        fai = Path(self.path + ".fai")
        try:
            self._fasta = self._open()
            stale = not index_matches_fasta(self.path, self._fasta.faidx.index)
            if stale:
                self._fasta.close()
        except _BrokenIndex:
            stale = True
        if stale:
            log.warning("%s does not match %s (stale or broken); rebuilding it", fai, self.path)
            try:
                fai.unlink()
            except OSError as exc:
                raise InputError(
                    f"its index {fai} is stale or broken and cannot be removed ({exc}); delete it", self.path
                ) from None
            self._fasta = self._open()
        self.chrom_sizes: dict[str, int] = {
            name: int(record.rlen) for name, record in self._fasta.faidx.index.items()
        }

    def _open(self) -> pyfaidx.Fasta:
        """Open the FASTA through pyfaidx, turning its errors into :class:`InputError` (or :class:`_BrokenIndex`)."""
        has_index = Path(self.path + ".fai").is_file()
        try:
            if not has_index:
                _build_index_atomically(self.path)
            return pyfaidx.Fasta(
                self.path, as_raw=True, sequence_always_upper=False, rebuild=True, build_index=True
            )
        except pyfaidx.FastaIndexingError as exc:
            raise InputError(
                f"cannot index FASTA ({exc}); a FASTA needs '>name' header lines and, within each sequence, "
                "lines of one length",
                self.path,
            ) from None
        except UnicodeDecodeError as exc:
            raise InputError(
                f"the FASTA holds a byte that is not text ({exc.object[exc.start:exc.start + 1]!r}); "
                "it may be corrupt or not a FASTA file",
                self.path,
            ) from None
        except ValueError as exc:
            if "Duplicate key" in str(exc):
                raise InputError(
                    f"duplicate sequence name in FASTA ({exc}); give every sequence a unique name",
                    self.path,
                ) from None
            if has_index:
                raise _BrokenIndex() from None
            raise InputError(f"cannot read FASTA: {exc}", self.path) from None
        except IndexError:
            if has_index:
                raise _BrokenIndex() from None
            raise InputError("cannot read FASTA; is it a FASTA file?", self.path) from None
        except OSError as exc:
            raise InputError(
                f"cannot read FASTA or write its index ({exc}); make the file readable and its folder writable",
                self.path,
            ) from None

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Sequence of ``chrom:[start, end)``, padded with ``N`` outside the chromosome."""
        size = self.chrom_sizes[chrom]
        inner_start, inner_end = max(start, 0), min(end, size)
        if inner_end <= inner_start:
            return "N" * (end - start)
        try:
            sequence = self._fasta[chrom][inner_start:inner_end]
        except UnicodeDecodeError:
            raise InputError(
                f"{chrom}:{inner_start}-{inner_end} holds a byte that is not text (not an IUPAC DNA code); "
                "fix the FASTA",
                self.path,
            ) from None
        raw = np.frombuffer(sequence.encode("ascii", errors="replace"), dtype=np.uint8)
        if not _VALID_BYTES[raw].all():
            self._report_invalid(chrom, inner_start, sequence, raw)
        return "N" * (inner_start - start) + sequence + "N" * (end - inner_end)

    def _report_invalid(self, chrom: str, start: int, sequence: str, raw: np.ndarray) -> None:
        """Raise :class:`InputError` naming the first non-IUPAC character: FASTA line, chromosome and position."""
        offset = int(np.flatnonzero(~_VALID_BYTES[raw])[0])
        position = start + offset
        record = self._fasta.faidx.index[chrom]
        line = None
        if record.lenc > 0 and not _is_gzip(self.path):
            byte = record.offset + (position // record.lenc) * record.lenb + position % record.lenc
            line = 1
            with open(self.path, "rb") as handle:
                for block_start in range(0, byte, 1 << 22):
                    line += handle.read(min(1 << 22, byte - block_start)).count(b"\n")
        raise InputError(
            f"character {sequence[offset]!r} at {chrom}:{position} (0-based) is not an IUPAC DNA code "
            "(A C G T N R Y S W K M B D H V U, any case); fix the FASTA",
            self.path,
            line,
        )

    def close(self) -> None:
        self._fasta.close()

    def __enter__(self) -> "Genome":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def index_matches_fasta(path: str, index: dict, max_checked: int = 20000) -> bool:
    """Whether a ``.fai`` index (pyfaidx records) still describes the plain FASTA at ``path``.

    Checks that each sequence's header line ``>name`` ends just before its
    offset and that the sequence ends before the next one starts (and, for the
    last, within the file). Reads a few kB per sequence (for more than
    ``max_checked`` sequences, an evenly spaced sample and the last one).
    bgzip files (offsets into uncompressed data) are not checked.
    """
    if _is_gzip(path):
        return True
    records = sorted(index.items(), key=lambda item: item[1].offset)
    size = os.path.getsize(path)
    if not records:
        return size == 0
    chosen = range(len(records))
    if len(records) > max_checked:
        chosen = sorted(set(np.linspace(0, len(records) - 1, max_checked).astype(int).tolist()))
    with open(path, "rb") as handle:
        for i in chosen:
            name, record = records[i]
            full_lines, rest = divmod(int(record.rlen), int(record.lenc)) if record.lenc > 0 else (0, 0)
            end = record.offset + full_lines * record.lenb + rest
            limit = records[i + 1][1].offset if i + 1 < len(records) else size
            if record.offset > size or end > limit:
                return False
            if i == len(records) - 1:  # after the last sequence: only line ends (else a sequence is not indexed)
                if size - end > 4096:
                    return False
                handle.seek(end)
                if handle.read(size - end).strip(b"\r\n \t"):
                    return False
            back = min(int(record.offset), 4096)
            handle.seek(record.offset - back)
            before = handle.read(back)
            if not before.endswith(b"\n"):
                return False
            line_start = before.rfind(b"\n", 0, len(before) - 1) + 1
            if line_start == 0 and back < record.offset:
                continue  # a header longer than 4 kB: not checked
            header = before[line_start:].rstrip(b"\r\n")
            if not header.startswith(b">" + name.encode()) or header[len(name) + 1:len(name) + 2] not in (b"", b" ", b"\t"):
                return False
    return True
