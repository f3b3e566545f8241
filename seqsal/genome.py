"""A genome FASTA: chromosome sizes and bounds-safe fetching with N padding, never writing next to the file.

The index (samtools' ``.fai``, see :mod:`seqsal.fasta`) is found or made without
touching the genome's folder:

1. a ``.fai`` beside the FASTA is used when it matches the file (checked on
   every open: header lines, line layout and sequence ends; a few kB read per
   sequence). For bgzip, one holding BGZF virtual offsets (as older pyfaidx
   versions wrote, e.g. gReLU's test genome) is read as such;
2. else seqsal indexes the FASTA itself. For a file of at least
   :data:`CACHE_MIN_BYTES` the index is kept in a per-user cache,
   ``$SEQSAL_CACHE_DIR`` or ``$XDG_CACHE_HOME/seqsal`` (default
   ``~/.cache/seqsal``), under ``fai/``, named by a digest of the FASTA's real
   path, size, modification time and inode; smaller files (indexed in well under
   a second) are indexed in memory on each open.

A stale or foreign ``.fai`` beside the FASTA is reported and left as it is; to
put a fresh one there, run ``samtools faidx genome.fa``. Several processes (the
shards of one job) can open one read-only genome at once: each cache entry is
written under a unique temporary name and renamed into place, so a reader sees
a whole index or none, and every writer writes the same bytes.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from .encode import IUPAC
from .errors import InputError
from .fasta import (NON_TEXT, FaiRecord, FastaSource, build_index, compression, format_fai,  # noqa: F401
                    index_matches_fasta, parse_fai)
from .text import plural

log = logging.getLogger("seqsal")

_IUPAC_BYTES = "".join(sorted(IUPAC)).encode()
_VALID_BYTES = np.zeros(256, dtype=bool)
_VALID_BYTES[np.frombuffer(_IUPAC_BYTES, dtype=np.uint8)] = True
UNKNOWN_BASES = ("error", "n")
CACHE_MIN_BYTES = 64 << 20  # FASTAs at least this large (bytes on disk) keep their index in the user cache
_MAX_TRACKED = 1 << 20  # distinct unknown-letter positions remembered for the summary line


def index_cache_dir() -> Path:
    """Where seqsal keeps the indexes it builds: ``$SEQSAL_CACHE_DIR``, else ``$XDG_CACHE_HOME/seqsal``, else
    ``~/.cache/seqsal``; with ``fai/`` appended."""
    root = os.environ.get("SEQSAL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "seqsal")
    return Path(root) / "fai"


def cached_index_path(path: str) -> Path:
    """The cache file of ``path``'s index: a digest of its real path, size, modification time (ns) and inode."""
    stat = os.stat(path)
    real = os.path.realpath(path)
    key = hashlib.sha256(f"{real}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ino}".encode()).hexdigest()[:32]
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(real))[:60]
    return index_cache_dir() / f"{stem}.{key}.fai"


def _write_cache(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` under a unique temporary name, then rename it (atomic; race-free)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _read_fai(path: Path) -> list[FaiRecord] | None:
    try:
        return parse_fai(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def load_index(path: str, source: FastaSource, min_cache_bytes: int | None = None) -> tuple[dict, str]:
    """The ``.fai`` records of a FASTA, found or built without writing beside it (see the module docstring).

    Parameters
    ----------
    path
        The FASTA.
    source
        Its opened bytes.
    min_cache_bytes
        Files this large (on disk) keep a built index in :func:`index_cache_dir` (default
        :data:`CACHE_MIN_BYTES`).

    Returns
    -------
    index : dict
        Name -> :class:`~seqsal.fasta.FaiRecord`, in file order.
    origin : str
        ``"beside"``, ``"cache"`` or ``"built"``.
    """
    beside = Path(path + ".fai")
    if beside.is_file():
        records = _read_fai(beside)
        if records is not None and index_matches_fasta(path, _as_dict(records), source=source):
            return _as_dict(records), "beside"
        if records is not None and source.kind == "bgzf":  # an older pyfaidx's .fai: BGZF virtual offsets
            offsets = [source.from_virtual_offset(record.offset) for record in records]
            if None not in offsets:
                records = [record._replace(offset=offset) for record, offset in zip(records, offsets)]
                if index_matches_fasta(path, _as_dict(records), source=source):
                    return _as_dict(records), "beside"
        log.warning("%s does not match %s (stale, broken, or written for another file or by another tool); "
                    "indexing the FASTA without it and leaving it as it is (to replace it: samtools faidx %s)",
                    beside, path, path)
    threshold = CACHE_MIN_BYTES if min_cache_bytes is None else min_cache_bytes
    cache = cached_index_path(path) if os.path.getsize(path) >= threshold else None
    if cache is not None and cache.is_file():
        records = _read_fai(cache)
        if records is not None and index_matches_fasta(path, _as_dict(records), source=source):
            return _as_dict(records), "cache"
    records = build_index(source.chunks(), path)
    if cache is not None:
        try:
            _write_cache(cache, format_fai(records))
            log.info("indexed %s into %s", path, cache)
        except OSError as exc:
            log.info("indexed %s in memory: the index cache %s is not writable (%s); set SEQSAL_CACHE_DIR to keep "
                     "the index between runs", path, cache.parent, exc.strerror or exc)
    return _as_dict(records), "built"


def _as_dict(records: list[FaiRecord]) -> dict[str, FaiRecord]:
    return {record.name: record for record in records}


class Genome:
    """A FASTA file (plain or bgzip-compressed), indexed without writing next to it.

    Parameters
    ----------
    path
        FASTA file: plain text, or bgzip (``bgzip genome.fa``; a ``.gzi`` is not
        needed). Plain gzip is refused with the command that converts it.
    unknown_bases
        What a character that is not an IUPAC DNA code does when a fetched
        stretch holds it: ``"error"`` (default) stops with
        :class:`~seqsal.errors.InputError` naming the FASTA line and position;
        ``"n"`` reads it as ``N`` and :meth:`close` logs one line with the
        count. Bytes that are not text always stop (a corrupt file).

    Attributes
    ----------
    chrom_sizes : dict[str, int]
        Bases per sequence, in file order.
    index : dict[str, FaiRecord]
        The ``.fai`` records.
    index_origin : str
        ``"beside"`` (the file's own ``.fai``), ``"cache"`` or ``"built"``.

    Notes
    -----
    Coordinates are 0-based, half-open. :meth:`fetch` pads with ``N`` where the
    interval runs past either end of the chromosome, so that a fetched string is
    always ``end - start`` long. The index is found as the module docstring
    says: a ``.fai`` beside the FASTA that matches it, else a per-user cache
    entry (large files), else an index built in memory; nothing is ever written
    beside the genome. Safe to share between threads.

    Raises
    ------
    InputError
        A missing or unreadable file, a compression other than bgzip, or a
        FASTA that cannot be indexed (with its line).
    """

    def __init__(self, path: str | os.PathLike, unknown_bases: str = "error"):
        self.path = str(path)
        if unknown_bases not in UNKNOWN_BASES:
            raise InputError(f"unknown --unknown-bases {unknown_bases!r}; choose n or error")
        self.unknown_bases = unknown_bases
        if not Path(self.path).is_file():
            raise InputError("FASTA file not found; pass the path of a .fa/.fasta file (plain or bgzip)", self.path)
        self._source: FastaSource | None = None
        try:
            self._source = FastaSource(self.path, compression(self.path))
            self.index, self.index_origin = load_index(self.path, self._source)
        except OSError as exc:
            self.close()
            raise InputError(f"cannot read FASTA ({exc.strerror or exc}); check the path and its permissions",
                             self.path) from None
        except InputError:
            self.close()
            raise
        self.chrom_sizes: dict[str, int] = {name: int(record.rlen) for name, record in self.index.items()}
        self._unknown: dict[tuple[str, int], str] = {}
        self._unknown_overflow = 0

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Sequence of ``chrom:[start, end)`` as in the file (case kept), padded with ``N`` outside the chromosome.

        Raises
        ------
        InputError
            A byte that is not text, or (``unknown_bases="error"``) a character
            that is not an IUPAC code, within the fetched stretch.
        """
        size = self.chrom_sizes[chrom]
        inner_start, inner_end = max(start, 0), min(end, size)
        if inner_end <= inner_start:
            return "N" * (end - start)
        record = self.index[chrom]
        raw = self._source.read(_byte_offset(record, inner_start), _byte_offset(record, inner_end))
        raw = raw.translate(None, b"\r\n")
        if len(raw) != inner_end - inner_start:
            raise InputError(f"{chrom}:{inner_start}-{inner_end} could not be read whole: the FASTA changed or is "
                             "truncated; rerun on the complete file", self.path)
        if raw.translate(None, _IUPAC_BYTES):  # something is left once the IUPAC codes are deleted
            codes = np.frombuffer(raw, dtype=np.uint8)
            raw = self._unknown_characters(chrom, inner_start, codes, _VALID_BYTES[codes])
        return "N" * (inner_start - start) + raw.decode("ascii") + "N" * (end - inner_end)

    def _unknown_characters(self, chrom: str, start: int, codes: np.ndarray, valid: np.ndarray) -> bytes:
        """Stop at the first non-IUPAC character (policy ``error``, or a byte that is not text); else read them as N."""
        bad = np.flatnonzero(~valid)
        not_text = NON_TEXT[codes[bad]]
        if not_text.any():
            position = start + int(bad[int(np.argmax(not_text))])
            raise InputError(
                f"{chrom}:{position} (0-based) holds a byte that is not text (0x{int(codes[position - start]):02x}, "
                "not an IUPAC DNA code); the file may be corrupt: fix the FASTA",
                self.path, self._line_of(chrom, position))
        if self.unknown_bases == "error":
            position = start + int(bad[0])
            raise InputError(
                f"character {chr(codes[bad[0]])!r} at {chrom}:{position} (0-based) is not an IUPAC DNA code "
                "(A C G T N R Y S W K M B D H V U, any case); fix the FASTA, or pass --unknown-bases n to read "
                "such characters as N",
                self.path, self._line_of(chrom, position))
        for offset in bad.tolist():
            key = (chrom, start + offset)
            if key not in self._unknown:
                if len(self._unknown) < _MAX_TRACKED:
                    self._unknown[key] = chr(codes[offset])
                else:
                    self._unknown_overflow += 1
        fixed = codes.copy()
        fixed[bad] = ord("N")
        return fixed.tobytes()

    def _line_of(self, chrom: str, position: int) -> int | None:
        """1-based line of the FASTA holding base ``position`` of ``chrom`` (plain files; ``None`` for bgzip)."""
        record = self.index[chrom]
        if record.lenc <= 0 or self._source.kind != "plain":
            return None
        byte = _byte_offset(record, position)
        line = 1
        for block_start in range(0, byte, 1 << 22):
            line += self._source.read(block_start, min(block_start + (1 << 22), byte)).count(b"\n")
        return line

    def unknown_summary(self) -> str | None:
        """One line on the characters read as N under ``unknown_bases="n"`` (``None`` when there were none)."""
        if not self._unknown:
            return None
        (chrom, position), char = min(self._unknown.items(), key=lambda item: (item[0][0], item[0][1]))
        count = len(self._unknown) + self._unknown_overflow
        verb = "is" if count == 1 else "are"
        return (f"{self.path}: read {'at least ' if self._unknown_overflow else ''}{plural(count, 'character')} "
                f"that {verb} not an IUPAC DNA code as N (e.g. {char!r} at {chrom}:{position}, 0-based; "
                "--unknown-bases n)")

    def close(self) -> None:
        """Close the file; logs :meth:`unknown_summary` once, when characters were read as N."""
        summary = self.unknown_summary() if hasattr(self, "_unknown") else None
        if summary is not None:
            log.warning(summary)
            self._unknown.clear()
            self._unknown_overflow = 0
        if self._source is not None:
            self._source.close()

    def __enter__(self) -> "Genome":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def genome_of_run(record: dict) -> Genome:
    """The :class:`Genome` of a run folder's ``run.json`` record, opened with the run's ``unknown_bases`` policy."""
    return Genome(record["genome"], unknown_bases=record.get("parameters", {}).get("unknown_bases", "error"))


def _byte_offset(record: FaiRecord, position: int) -> int:
    """Byte offset (uncompressed) of base ``position`` of a sequence, or of its end for ``position == rlen``."""
    if record.lenc <= 0:
        return int(record.offset)
    lines, column = divmod(position, int(record.lenc))
    return int(record.offset) + lines * int(record.lenb) + column
