"""A genome FASTA read through pyfaidx: chromosome sizes and bounds-safe fetching with N padding, never writing
next to the file.

pyfaidx (https://github.com/mdshw5/pyfaidx; bgzip through Biopython) reads the
file with the ``.fai`` index of ``samtools faidx``. The index is found or made
without touching the genome's folder (:func:`load_index`):

1. a ``.fai`` beside the FASTA is used as it is when it matches the file
   (checked on every open by :func:`first_mismatch`: header lines, line layout
   and sequence ends; a few kB read per sequence). A bgzip FASTA also needs its
   ``.gzi`` beside it (``samtools faidx`` writes both); without one (e.g. an
   older pyfaidx's ``.fai``, which holds BGZF virtual offsets) the index is
   built as in 2 and the ``.fai`` beside is only compared with it (names and
   lengths);
2. else pyfaidx builds the index (``pyfaidx.Faidx(fasta, indexname=...,
   gzi_indexname=...)``) into a private folder, checked against the whole text
   (:func:`build_index`). For a file of at least :data:`CACHE_MIN_BYTES` the
   index is kept in a per-user cache, ``$SEQSAL_CACHE_DIR`` or
   ``$XDG_CACHE_HOME/seqsal`` (default ``~/.cache/seqsal``), under ``fai/``,
   named by a digest of the FASTA's real path, size, modification time and
   inode; a smaller file is indexed into a temporary folder on each open,
   removed once pyfaidx has read the index.

A stale or foreign ``.fai`` beside the FASTA is reported and left as it is; to
put a fresh one there, run ``samtools faidx genome.fa``. Several processes (the
shards of one job) can open one read-only genome at once: each builds into its
own temporary folder and renames the files into the cache, so a reader sees a
whole index or none, and every writer writes the same bytes.
"""
from __future__ import annotations

import bisect
import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pyfaidx

from .encode import IUPAC_BYTES
from .errors import InputError, option
from .fasta import (NON_TEXT, READ_ERRORS, blank_spans, compression, indexing_error, open_text, refuse_compression,
                    require_biopython, scan, sequence_end, unshift, write_without)
from .text import plural

log = logging.getLogger("seqsal")

_VALID_BYTES = np.zeros(256, dtype=bool)
_VALID_BYTES[np.frombuffer(IUPAC_BYTES, dtype=np.uint8)] = True
UNKNOWN_BASES = ("error", "n")
CACHE_MIN_BYTES = 64 << 20  # FASTAs at least this large (bytes on disk) keep their index in the user cache
_MAX_TRACKED = 1 << 20  # distinct unknown-letter positions remembered for the summary line
_HEADER_MAX = 1 << 20  # bytes between two sequences (a header line) that the index check reads
_UTF8_BOM = b"\xef\xbb\xbf"
Reader = Callable[[int, int], bytes]  # bytes [start, stop) of the uncompressed text (fewer at its end)


def index_cache_dir() -> Path:
    """Where seqsal keeps the indexes it builds: ``$SEQSAL_CACHE_DIR``, else ``$XDG_CACHE_HOME/seqsal``, else
    ``~/.cache/seqsal``; with ``fai/`` appended."""
    root = os.environ.get("SEQSAL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "seqsal")
    return Path(root) / "fai"


def cached_index_path(path: str) -> Path:
    """The cache file of ``path``'s index: a digest of its real path, size, modification time (ns) and inode.

    A bgzip FASTA's ``.gzi`` is the same path with the suffix ``.gzi``.
    """
    stat = os.stat(path)
    real = os.path.realpath(path)
    key = hashlib.sha256(f"{real}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ino}".encode()).hexdigest()[:32]
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(real))[:60]
    return index_cache_dir() / f"{stem}.{key}.fai"


# ------------------------------------------------------------------------------------------ the .fai check
def faidx_reader(faidx) -> Reader:
    """Bytes of the uncompressed text through an open ``pyfaidx.Faidx`` (bgzip: through its ``.gzi`` blocks)."""
    if not getattr(faidx, "_bgzf", False):
        descriptor = faidx.file.fileno()
        return lambda start, stop: os.pread(descriptor, max(stop - start, 0), max(start, 0)) if stop > start else b""
    ustarts = [int(block.ustart) for block in faidx.gzi_index]
    cstarts = [int(block.cstart) for block in faidx.gzi_index]

    def read(start: int, stop: int) -> bytes:
        start = max(start, 0)
        if stop <= start:
            return b""
        k = bisect.bisect_right(ustarts, start) - 1
        with faidx.lock:  # the BGZF virtual offset: block start << 16 | offset within the block
            faidx.file.seek(cstarts[k] << 16 | (start - ustarts[k]))
            return faidx.file.read(stop - start)

    return read


def first_mismatch(read: Reader, index: Mapping, max_checked: int = 20000) -> str | None:
    """The first sequence that a ``.fai`` index gets wrong about a FASTA, or ``None`` when it describes the file.

    ``index`` maps names to records with ``rlen``, ``offset``, ``lenc``,
    ``lenb`` (pyfaidx's ``Faidx.index``). For each sequence (for more than
    ``max_checked``, an evenly spaced sample and the last): its header line
    ``>name`` (or ``> name``, the name being the header's first word; after a
    byte-order mark for the first) ends just before its offset, its first line
    ends after ``lenc`` bases with a line ending of ``lenb - lenc`` bytes, its
    last base is a base followed by that line ending (for the last sequence: or
    any, or none), only blank lines lie between it and the next
    header, and after the last one only line ends follow. Reads a few kB per
    sequence. An empty index gives ``""``.
    """
    records = sorted(index.items(), key=lambda item: int(item[1].offset))
    if not records:
        return ""
    chosen: Sequence[int] = range(len(records))
    if len(records) > max_checked:
        chosen = sorted(set(np.linspace(0, len(records) - 1, max_checked).astype(int).tolist()))
    for i in chosen:
        name, record = records[i]
        if not _record_fits(read, record, records[i - 1][1] if i else None,
                            records[i + 1][1] if i + 1 < len(records) else None, name):
            return name
    return None


def _record_fits(read: Reader, record, previous, following, name: str) -> bool:
    offset, rlen, lenc, lenb = int(record.offset), int(record.rlen), int(record.lenc), int(record.lenb)
    if min(offset, rlen, lenc, lenb) < 0 or lenb < lenc or (rlen and not lenc):
        return False
    end = sequence_end(record)
    if following is not None and end > int(following.offset):
        return False
    if rlen:  # the last base, then the line end of the others (or the file's end; a longer last line shifts it)
        around = read(end - 1, end + lenb - lenc)
        expected = {1: b"\n", 2: b"\r\n"}.get(lenb - lenc, b"")
        if around[:1] in (b"", b"\n", b"\r") or (
                around[1:] != expected and not (following is None and around[1:] in (b"", b"\n", b"\r\n"))):
            return False  # pyfaidx reads lenb - lenc bytes after it: another ending reads into the next header
    if following is None:  # after the last sequence: only line ends (else a sequence is not indexed)
        tail = read(end, end + 4097)
        if len(tail) > 4096 or tail.strip(b"\r\n \t"):
            return False
    if rlen > lenc > 0:  # the first line: lenc bases, then a line ending of lenb - lenc bytes
        line = read(offset + lenc - 1, offset + lenb)
        if line[:1] in (b"\n", b"\r", b"") or line[1:] not in (b"\n", b"\r\n"):
            return False
    # what comes before the sequence: blank lines after the previous one (all of it), then its header line
    start = sequence_end(previous) if previous is not None else max(0, offset - _HEADER_MAX)
    if offset - start > _HEADER_MAX:
        return False  # more than a header between two sequences: bases the index does not count
    before = read(start, offset)
    if not before.endswith(b"\n"):
        return False
    line_start = before.rfind(b"\n", 0, len(before) - 1) + 1
    if previous is not None and before[:line_start].strip(b"\r\n \t"):
        return False
    header = before[line_start:].rstrip(b"\r\n")
    if start + line_start == 0 and header.startswith(_UTF8_BOM):
        header = header[len(_UTF8_BOM):]
    words = header[1:].split()
    return header.startswith(b">") and bool(words) and words[0] == name.encode()


def index_matches_fasta(path: str, index: Mapping, max_checked: int = 20000) -> bool:
    """Whether a ``.fai`` index (pyfaidx's records) describes the plain or bgzip FASTA at ``path``.

    See :func:`first_mismatch`; for bgzip the file is read with :mod:`gzip` (slow for large files: a running
    :class:`~seqsal.genome.Genome` checks through its ``.gzi``).
    """
    kind = compression(path)
    with open_text(path, kind) as handle:
        def read(start: int, stop: int) -> bytes:
            handle.seek(max(start, 0))
            return handle.read(max(stop - max(start, 0), 0))

        return first_mismatch(read, index, max_checked) is None


@contextlib.contextmanager
def _pyfaidx_name(path: str, kind: str) -> Iterator[str]:
    """A name for ``path`` from which pyfaidx infers its compression (it reads ``.gz``/``.bgz`` as bgzip, all else
    as text): the path itself, or a symbolic link in a temporary folder (removed on exit)."""
    if path.lower().endswith((".gz", ".bgz")) == (kind == "bgzf"):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="seqsal-fasta-") as folder:
        link = os.path.join(folder, "genome.fa.gz" if kind == "bgzf" else "genome.fa")
        os.symlink(os.path.abspath(path), link)
        yield link


def _open_indexed(path: str, kind: str, fai: Path, gzi: Path | None) -> pyfaidx.Faidx:
    """Open ``path`` through pyfaidx with an index that exists (``gzi`` too for bgzip); pyfaidx builds and rebuilds
    nothing (``build_index=False, rebuild=False``; its warning that an index is older than the file is off: the
    index is checked by content)."""
    assert kind != "bgzf" or (gzi is not None and gzi.is_file()), "pyfaidx would build a .gzi (and .fai)"
    with warnings.catch_warnings(), _pyfaidx_name(path, kind) as name:
        warnings.simplefilter("ignore", RuntimeWarning)
        return pyfaidx.Faidx(name, indexname=str(fai), gzi_indexname=str(gzi) if gzi else None, as_raw=True,
                             build_index=False, rebuild=False)


def _checked(path: str, kind: str, fai: Path, gzi: Path | None) -> pyfaidx.Faidx | None:
    """pyfaidx opened with an existing index that matches the file, else ``None`` (unreadable or stale)."""
    try:
        faidx = _open_indexed(path, kind, fai, gzi)
    except READ_ERRORS:
        return None
    try:
        if first_mismatch(faidx_reader(faidx), faidx.index) is None:
            return faidx
    except READ_ERRORS:
        pass
    faidx.close()
    return None


def _pyfaidx_build(source: str, kind: str, fai: Path, gzi: Path | None) -> pyfaidx.Faidx:
    """pyfaidx builds the index of ``source`` into ``fai`` (and ``gzi``) and opens it; its exceptions propagate."""
    with warnings.catch_warnings(), _pyfaidx_name(source, kind) as name:
        warnings.simplefilter("ignore", RuntimeWarning)
        return pyfaidx.Faidx(name, indexname=str(fai), gzi_indexname=str(gzi) if gzi else None, as_raw=True)


_PYFAIDX_ERRORS = (pyfaidx.FastaIndexingError, ImportError, *READ_ERRORS)


def build_index(path: str, kind: str, folder: Path) -> pyfaidx.Faidx:
    """Index ``path`` with pyfaidx into ``folder/index.fai`` (and ``index.gzi`` for bgzip); opened and checked.

    When pyfaidx cannot index a plain FASTA because of a byte-order mark or
    runs of blank lines (:func:`seqsal.fasta.scan`), it indexes a copy without
    them (in ``folder``, removed after) and the offsets are mapped back. The
    index is then checked against the whole text (:func:`seqsal.fasta.scan`
    with the index: pyfaidx accepts some irregular layouts and would read wrong
    bases) and each sequence's header and end (:func:`seqsal.fasta.first_mismatch`).

    Raises
    ------
    InputError
        What cannot be indexed, with its line and what to do.
    """
    fai, gzi = folder / "index.fai", (folder / "index.gzi" if kind == "bgzf" else None)
    try:
        faidx = _pyfaidx_build(path, kind, fai, gzi)
    except _PYFAIDX_ERRORS as exc:
        if not scan(path, kind):  # a text problem raises here, with its line; else pyfaidx's error is the one
            raise indexing_error(exc, path, kind) from None
        spans = blank_spans(path, kind)
        copy = folder / "without-blank-lines.fa"
        write_without(path, spans, str(copy))
        try:
            built = _pyfaidx_build(str(copy), "plain", folder / "copy.fai", None)
        except _PYFAIDX_ERRORS as error:
            raise indexing_error(error, path, kind, spans) from None
        built.close()
        copy.unlink()
        offsets = unshift([record.offset for record in built.index.values()], spans).tolist()
        fai.write_text("".join(f"{name}\t{record.rlen}\t{offset}\t{record.lenc}\t{record.lenb}\n"
                               for (name, record), offset in zip(built.index.items(), offsets)))
        faidx = _open_indexed(path, kind, fai, gzi)
    try:
        scan(path, kind, faidx.index)
        wrong = first_mismatch(faidx_reader(faidx), faidx.index)
    except InputError:
        faidx.close()
        raise
    except READ_ERRORS as exc:
        faidx.close()
        raise indexing_error(exc, path, kind) from None
    if wrong is not None:
        faidx.close()
        raise InputError(f"cannot index FASTA: the lines of sequence {wrong!r} are not all of one length and line "
                         "ending (pyfaidx's index does not fit its last line); all lines of a sequence but its last "
                         "must be of one length, all with one line ending (rewrap it, e.g. seqkit seq -w 60 in.fa > "
                         "out.fa)", path)
    return faidx


def _private_index(path: str, kind: str, min_cache_bytes: int | None) -> tuple[pyfaidx.Faidx, str]:
    """The index from the user cache, or built into it (large files) or into a temporary folder."""
    threshold = CACHE_MIN_BYTES if min_cache_bytes is None else min_cache_bytes
    cache = cached_index_path(path) if os.path.getsize(path) >= threshold else None
    cache_gzi = cache.with_suffix(".gzi") if cache is not None and kind == "bgzf" else None
    if cache is not None and cache.is_file() and (cache_gzi is None or cache_gzi.is_file()):
        faidx = _checked(path, kind, cache, cache_gzi)
        if faidx is not None:
            return faidx, "cache"
    building = None
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            building = tempfile.mkdtemp(prefix=f".{cache.stem}.", dir=cache.parent)
        except OSError as exc:
            log.info("indexing %s in a temporary folder: the index cache %s is not writable (%s); set "
                     "SEQSAL_CACHE_DIR to keep the index between runs", path, cache.parent, exc.strerror or exc)
            cache = None
    building = building or tempfile.mkdtemp(prefix="seqsal-index-")
    try:
        faidx = build_index(path, kind, Path(building))
        if cache is not None:  # a unique folder, then renames: a reader sees a whole index or none
            try:
                if cache_gzi is not None:
                    os.replace(Path(building) / "index.gzi", cache_gzi)
                os.replace(Path(building) / "index.fai", cache)
                log.info("indexed %s into %s", path, cache)
            except OSError as exc:
                log.info("indexed %s without keeping the index: the index cache %s is not writable (%s)", path,
                         cache.parent, exc.strerror or exc)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return faidx, "built"


def _same_sequences(fai: Path, index: dict) -> bool:
    """Whether a ``.fai`` names the sequences of ``index`` with their lengths, in order (offsets not compared)."""
    try:
        rows = [line.split("\t")[:2] for line in fai.read_text(encoding="utf-8").splitlines() if line]
    except (OSError, UnicodeDecodeError):
        return False
    return rows == [[name, str(record.rlen)] for name, record in index.items()]


def load_index(path: str, kind: str, min_cache_bytes: int | None = None) -> tuple[pyfaidx.Faidx, str]:
    """``path`` opened through pyfaidx with an index found or built without writing beside it (module docstring).

    Parameters
    ----------
    path
        The FASTA.
    kind
        Its compression, ``"plain"`` or ``"bgzf"`` (:func:`seqsal.fasta.compression`).
    min_cache_bytes
        Files this large (on disk) keep a built index in :func:`index_cache_dir` (default
        :data:`CACHE_MIN_BYTES`).

    Returns
    -------
    faidx : pyfaidx.Faidx
        Opened with ``as_raw=True``; its ``index`` maps names to records (``rlen``, ``offset``, ``lenc``,
        ``lenb``), in file order.
    origin : str
        ``"beside"``, ``"cache"`` or ``"built"``.

    Raises
    ------
    InputError
        A FASTA that cannot be indexed (:func:`build_index`).
    """
    beside, beside_gzi = Path(path + ".fai"), Path(path + ".gzi")
    usable = beside.is_file() and (kind != "bgzf" or beside_gzi.is_file())
    if usable:
        faidx = _checked(path, kind, beside, beside_gzi if kind == "bgzf" else None)
        if faidx is not None:
            return faidx, "beside"
    faidx, origin = _private_index(path, kind, min_cache_bytes)
    if beside.is_file() and (usable or not _same_sequences(beside, faidx.index)):
        log.warning("%s does not match %s (stale, broken, or written for another file or by another tool); "
                    "indexing the FASTA without it and leaving it as it is (to replace it: samtools faidx %s)",
                    beside, path, path)
    return faidx, origin


class Genome:
    """A FASTA file (plain or bgzip-compressed) read through pyfaidx, indexed without writing next to it.

    Parameters
    ----------
    path
        FASTA file: plain text, or bgzip (``bgzip genome.fa``; read through
        Biopython, a ``.gzi`` is not needed). Plain gzip and other compressions
        are refused with the command that converts them.
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
    index : dict
        pyfaidx's ``.fai`` records (``rlen``, ``offset``, ``lenc``, ``lenb``), by name, in file order.
    index_origin : str
        ``"beside"`` (the file's own ``.fai``), ``"cache"`` or ``"built"``.

    Raises
    ------
    InputError
        A missing or unreadable file, a compression other than bgzip, a
        FASTA that cannot be indexed (with its line), or an unknown
        ``unknown_bases``.

    Notes
    -----
    Coordinates are 0-based, half-open. :meth:`fetch` pads with ``N`` where the
    interval runs past either end of the chromosome, so that a fetched string is
    always ``end - start`` long. The index is found as the module docstring
    says: a ``.fai`` beside the FASTA that matches it, else a per-user cache
    entry (large files), else one built on each open; nothing is ever written
    beside the genome. Safe to share between threads (pyfaidx locks its reads).
    """

    def __init__(self, path: str | os.PathLike, unknown_bases: str = "error"):
        self.path = str(path)
        if unknown_bases not in UNKNOWN_BASES:
            raise InputError(f"unknown {option('unknown_bases')} {unknown_bases!r}; choose n or error")
        self.unknown_bases = unknown_bases
        if not Path(self.path).is_file():
            raise InputError("FASTA file not found; pass the path of a .fa/.fasta file (plain or bgzip)", self.path)
        self._faidx: pyfaidx.Faidx | None = None
        try:
            self.kind = compression(self.path)
            refuse_compression(self.path, self.kind)
            if self.kind == "bgzf":
                require_biopython(self.path)
            self._faidx, self.index_origin = load_index(self.path, self.kind)
        except OSError as exc:
            raise InputError(f"cannot read FASTA ({exc.strerror or exc}); check the path and its permissions",
                             self.path) from None
        self.index = self._faidx.index
        self.chrom_sizes: dict[str, int] = {name: int(record.rlen) for name, record in self.index.items()}
        self._unknown: dict[tuple[str, int], str] = {}
        self._unknown_overflow = 0

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Sequence of ``chrom:[start, end)`` as in the file (case kept), padded with ``N`` outside the chromosome.

        Raises
        ------
        InputError
            A byte that is not text, or (``unknown_bases="error"``) a character
            that is not an IUPAC code, within the fetched stretch; a stretch
            that cannot be read whole (the file changed, or a bgzip block is corrupt); a chromosome the FASTA
            lacks, or ``start > end``.
        """
        size = self.chrom_sizes.get(chrom)
        if size is None:  # apidoc: a KeyError
            raise InputError(f"chromosome {chrom!r} is not in the FASTA (it has {len(self.chrom_sizes)}: "
                             f"{', '.join(list(self.chrom_sizes)[:5])}{', ...' if len(self.chrom_sizes) > 5 else ''})",
                             self.path)
        if start > end:  # apidoc: '' returned, not end - start bases
            raise InputError(f"{chrom}:{start}-{end}: start > end; a stretch is [start, end), 0-based", self.path)
        inner_start, inner_end = max(start, 0), min(end, size)
        if inner_end <= inner_start:
            return "N" * (end - start)
        try:
            text = self._faidx.fetch(chrom, inner_start + 1, inner_end)  # pyfaidx: 1-based, closed
        except UnicodeDecodeError as exc:  # the bytes read, line ends included
            position = inner_start + len(exc.object[:exc.start].translate(None, b"\r\n"))
            raise self._not_text(chrom, position, exc.object[exc.start]) from None
        except READ_ERRORS as exc:
            raise InputError(f"{chrom}:{inner_start}-{inner_end} could not be read ({exc}); the FASTA changed or is "
                             "truncated or corrupt: rerun on the complete file", self.path) from None
        raw = text.encode("utf-8")
        if len(raw) != inner_end - inner_start:
            if len(text) == inner_end - inner_start:  # a multi-byte UTF-8 character in a sequence
                offset = next(i for i, char in enumerate(text) if ord(char) > 127)
                raise self._not_text(chrom, inner_start + offset, text[offset].encode("utf-8")[0])
            raise InputError(f"{chrom}:{inner_start}-{inner_end} could not be read whole: the FASTA changed or is "
                             "truncated; rerun on the complete file", self.path)
        if raw.translate(None, IUPAC_BYTES):  # something is left once the IUPAC codes are deleted
            codes = np.frombuffer(raw, dtype=np.uint8)
            raw = self._unknown_characters(chrom, inner_start, codes, _VALID_BYTES[codes])
        return "N" * (inner_start - start) + raw.decode("ascii") + "N" * (end - inner_end)

    def _not_text(self, chrom: str, position: int, byte: int) -> InputError:
        return InputError(
            f"{chrom}:{position} (0-based) holds a byte that is not text (0x{byte:02x}, not an IUPAC DNA code); "
            "the file may be corrupt: fix the FASTA", self.path, self._line_of(chrom, position))

    def _unknown_characters(self, chrom: str, start: int, codes: np.ndarray, valid: np.ndarray) -> bytes:
        """Stop at the first non-IUPAC character (policy ``error``, or a byte that is not text); else read them as N."""
        bad = np.flatnonzero(~valid)
        not_text = NON_TEXT[codes[bad]]
        if not_text.any():
            position = start + int(bad[int(np.argmax(not_text))])
            raise self._not_text(chrom, position, int(codes[position - start]))
        if self.unknown_bases == "error":
            position = start + int(bad[0])
            raise InputError(
                f"character {chr(codes[bad[0]])!r} at {chrom}:{position} (0-based) is not an IUPAC DNA code "
                "(A C G T N R Y S W K M B D H V U, any case); fix the FASTA, or pass "
                f"{option('unknown_bases', 'n')} to read such characters as N",
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
        if record.lenc <= 0 or self.kind != "plain":
            return None
        lines, column = divmod(position, int(record.lenc))
        byte = int(record.offset) + lines * int(record.lenb) + column
        line = 1
        with open(self.path, "rb") as handle:
            for block_start in range(0, byte, 1 << 22):
                line += handle.read(min(1 << 22, byte - block_start)).count(b"\n")
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
        if getattr(self, "_faidx", None) is not None:
            self._faidx.close()

    def __enter__(self) -> "Genome":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
