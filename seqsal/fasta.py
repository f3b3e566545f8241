"""FASTA files at the byte level: compression, bgzip blocks, and the samtools ``.fai`` index (built, parsed, checked).

seqsal reads FASTA itself (no pyfaidx) so that it never writes next to a genome
and says exactly what is wrong with a file. The index is the one of ``samtools
faidx`` (https://www.htslib.org/doc/faidx.html): per sequence its name, length
in bases, byte offset of its first base, bases per line and bytes per line.
For a bgzip file the offsets are into the uncompressed text, as htslib writes
them; the block table that maps them to the compressed file (the ``.gzi`` of
htslib) is read from the BGZF block headers, so no ``.gzi`` is needed.

All coordinates here are byte offsets (0-based, half-open) into the uncompressed
text; sequence positions are 0-based base offsets within one sequence.
"""
from __future__ import annotations

import gzip
import os
import threading
import zlib
from collections import OrderedDict
from typing import Callable, Iterable, Iterator, NamedTuple

import numpy as np

from .errors import InputError
from .text import plural

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_READ_BLOCK = 1 << 24  # bytes per read while indexing
_LONG_LINE = 1 << 20  # an unfinished line longer than this is followed by its length only, not kept
_HEADER_KEPT = 1 << 16  # bytes of a longer header line kept (its name is the first word)
_GT, _SEMICOLON, _NL, _CR = ord(">"), ord(";"), ord("\n"), ord("\r")

# bytes that are not text: control characters but tab/newline/CR, DEL, and everything >= 0x80
NON_TEXT = np.zeros(256, dtype=bool)
NON_TEXT[[*range(0, 9), 11, 12, *range(14, 32), *range(127, 256)]] = True


class FaiRecord(NamedTuple):
    """One line of a ``.fai``: the attribute names are pyfaidx's (``rlen``, ``offset``, ``lenc``, ``lenb``)."""

    name: str
    rlen: int  # bases
    offset: int  # byte offset of the first base (uncompressed)
    lenc: int  # bases per full line
    lenb: int  # bytes per full line, line ending included


# ------------------------------------------------------------------------------------------- compression
def compression(path: str) -> str:
    """How ``path`` is compressed, from its first bytes.

    Returns
    -------
    str
        ``"plain"``, ``"bgzf"`` (bgzip: gzip blocks with a ``BC`` extra field),
        ``"gzip"`` (plain gzip), ``"bzip2"``, ``"xz"``, ``"zstd"`` or ``"zip"``.
    """
    with open(path, "rb") as handle:
        head = handle.read(18)
    if head[:2] == b"\x1f\x8b":
        return "bgzf" if _bgzf_block_size(head) is not None else "gzip"
    for magic, kind in ((b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"),
                        (b"PK\x03\x04", "zip")):
        if head.startswith(magic):
            return kind
    return "plain"


def _bgzf_block_size(header: bytes) -> int | None:
    """Total size of the BGZF block whose first bytes are ``header`` (the ``BSIZE`` of its ``BC`` field + 1)."""
    if len(header) < 18 or header[:4] != b"\x1f\x8b\x08\x04":
        return None
    xlen = int.from_bytes(header[10:12], "little")
    extra, i = header[12:12 + xlen], 0
    while i + 4 <= len(extra):
        length = int.from_bytes(extra[i + 2:i + 4], "little")
        if extra[i:i + 2] == b"BC" and length == 2 and i + 6 <= len(extra):
            return int.from_bytes(extra[i + 4:i + 6], "little") + 1
        i += 4 + length
    return None


def refuse_compression(path: str, kind: str) -> None:
    """Raise :class:`InputError` for a compression seqsal cannot read at random positions (all but bgzip)."""
    if kind in ("plain", "bgzf"):
        return
    if kind == "gzip":
        target = (path[:-3] if path.endswith(".gz") else path) + ".bgz"
        raise InputError(
            f"the FASTA is compressed with plain gzip, which cannot be read at random positions; convert it once "
            f"to bgzip: zcat {path} | bgzip > {target} (bgzip comes with htslib/samtools), or decompress it "
            f"(gunzip -k {path})",
            path,
        )
    tool = {"bzip2": "bunzip2 -k", "xz": "unxz -k", "zstd": "unzstd", "zip": "unzip"}[kind]
    raise InputError(f"the FASTA is compressed with {kind}; decompress it ({tool} {path}) or recompress it with bgzip",
                     path)


def bgzf_blocks(path: str) -> tuple[np.ndarray, np.ndarray, int]:
    """The block table of a bgzip file, from its block headers (what htslib keeps in a ``.gzi``).

    Returns
    -------
    compressed, uncompressed : numpy.ndarray
        int64 ``(n_blocks,)``: where each block starts in the file and in the uncompressed text.
    size : int
        Bytes of uncompressed text.

    Raises
    ------
    InputError
        A block that is not BGZF (plain gzip appended, or a truncated file).
    """
    compressed: list[int] = []
    uncompressed: list[int] = []
    position = total = 0
    with open(path, "rb") as handle:
        file_size = os.fstat(handle.fileno()).st_size
        while position < file_size:
            handle.seek(position)
            block_size = _bgzf_block_size(handle.read(18 + 64))
            if block_size is None or position + block_size > file_size:
                raise InputError(
                    f"byte {position} does not start a whole bgzip block: the file is truncated, or not all of it "
                    f"was compressed with bgzip; re-create it with: zcat {path} | bgzip > new.fa.bgz",
                    path,
                )
            handle.seek(position + block_size - 4)
            compressed.append(position)
            uncompressed.append(total)
            total += int.from_bytes(handle.read(4), "little")
            position += block_size
    return np.array(compressed, dtype=np.int64), np.array(uncompressed, dtype=np.int64), total


# ---------------------------------------------------------------------------------------------- reading
class FastaSource:
    """Random and sequential reads of a FASTA's (uncompressed) bytes; plain or bgzip, thread-safe.

    Plain files are read with ``os.pread`` (no shared file position). bgzip
    blocks are inflated one by one and the last 64 are kept (adjacent regions
    share blocks).
    """

    def __init__(self, path: str, kind: str):
        refuse_compression(path, kind)
        self.path, self.kind = path, kind
        self._fd = os.open(path, os.O_RDONLY)
        if kind == "bgzf":
            self._cstarts, self._ustarts, self.size = bgzf_blocks(path)
            self._file_size = os.fstat(self._fd).st_size
            self._blocks: OrderedDict[int, bytes] = OrderedDict()
            self._lock = threading.Lock()
        else:
            self.size = os.fstat(self._fd).st_size

    def read(self, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)`` of the text (fewer at its end)."""
        start, stop = max(start, 0), min(stop, self.size)
        if stop <= start:
            return b""
        if self.kind != "bgzf":
            return _pread(self._fd, stop - start, start)
        first = int(np.searchsorted(self._ustarts, start, side="right")) - 1
        last = int(np.searchsorted(self._ustarts, stop, side="left"))  # blocks [first, last) hold the range
        text = b"".join(self._block(k) for k in range(first, last))
        base = int(self._ustarts[first])
        return text[start - base:stop - base]

    def _block(self, k: int) -> bytes:
        with self._lock:
            cached = self._blocks.get(k)
            if cached is not None:
                self._blocks.move_to_end(k)
                return cached
        begin = int(self._cstarts[k])
        end = int(self._cstarts[k + 1]) if k + 1 < len(self._cstarts) else self._file_size
        raw = _pread(self._fd, end - begin, begin)
        xlen = int.from_bytes(raw[10:12], "little")
        try:
            text = zlib.decompress(raw[12 + xlen:-8], wbits=-15)
        except zlib.error as exc:
            raise InputError(f"bgzip block at byte {begin} is corrupt ({exc}); re-create the file", self.path) from None
        with self._lock:
            self._blocks[k] = text
            if len(self._blocks) > 64:
                self._blocks.popitem(last=False)
        return text

    def from_virtual_offset(self, virtual: int) -> int | None:
        """The text offset of a BGZF virtual offset (``block start << 16 | offset in block``), as older pyfaidx
        versions wrote into a bgzip file's ``.fai``; ``None`` when it names no block of this file."""
        if self.kind != "bgzf":
            return None
        block, within = virtual >> 16, virtual & 0xFFFF
        k = int(np.searchsorted(self._cstarts, block))
        if k >= len(self._cstarts) or self._cstarts[k] != block:
            return None
        return int(self._ustarts[k]) + within

    def chunks(self, size: int = _READ_BLOCK) -> Iterator[bytes]:
        """The whole text, in order, ``size`` bytes at a time (for indexing)."""
        if self.kind == "bgzf":
            with gzip.open(self.path, "rb") as handle:
                try:
                    yield from iter(lambda: handle.read(size), b"")
                except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                    raise InputError(f"bgzip file is truncated or corrupt ({exc}); re-create it", self.path) from None
            return
        for position in range(0, self.size, size):
            yield _pread(self._fd, min(size, self.size - position), position)

    def close(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:  # a Genome dropped without close() (notebooks) does not keep its descriptor
        try:
            self.close()
        except OSError:
            pass


def _pread(fd: int, n: int, offset: int) -> bytes:
    parts = []
    while n > 0:
        part = os.pread(fd, n, offset)
        if not part:
            break
        parts.append(part)
        n -= len(part)
        offset += len(part)
    return b"".join(parts)


# --------------------------------------------------------------------------------------------- indexing
class _Lines(NamedTuple):
    """Complete lines of a stretch of text: absolute start, bytes (line end included), bases, first byte."""

    starts: np.ndarray
    nbytes: np.ndarray
    nbases: np.ndarray
    first: np.ndarray
    text: Callable[[int], bytes]  # the bytes of line i (headers only)
    non_text: np.ndarray  # absolute offsets of bytes that are not text (headers may hold UTF-8)


def _split_lines(chunk: bytes | memoryview, base: int) -> _Lines:
    """The lines of ``chunk`` (whole lines; the last may lack its newline), which starts at byte ``base``."""
    array = np.frombuffer(chunk, dtype=np.uint8)
    ends = np.flatnonzero(array == _NL) + 1
    n_newlines = len(ends)
    if not len(ends) or ends[-1] != len(array):
        ends = np.append(ends, len(array))
    starts = np.concatenate(([0], ends[:-1]))
    nbytes = ends - starts
    newline = array[ends - 1] == _NL
    carriage = newline & (nbytes >= 2) & (array[np.maximum(ends - 2, 0)] == _CR)
    carriage |= ~newline & (array[ends - 1] == _CR)
    nbases = nbytes - newline - carriage
    # bytes that are not text: the table lookup (slow) only when a quick count says there may be one
    controls = np.count_nonzero(array < 32)
    if array.max(initial=0) > 126 or controls != n_newlines + np.count_nonzero(array == _CR) + np.count_nonzero(
            array == 9):
        non_text = np.flatnonzero(NON_TEXT[array])
    else:
        non_text = np.zeros(0, dtype=np.int64)
    return _Lines(starts + base, nbytes, nbases, array[starts], lambda i: bytes(chunk[starts[i]:ends[i]]),
                  non_text + base)


class _Record:
    """The sequence being indexed: its name, where it starts, and what its lines looked like so far."""

    def __init__(self, name: str, offset: int, line: int):
        self.name, self.offset, self.line = name, offset, line
        self.rlen = self.lenc = self.lenb = 0
        self.stop: tuple[str, int, int] | None = None  # first line that may only be followed by blank lines

    def fai(self) -> FaiRecord:
        return FaiRecord(self.name, self.rlen, self.offset, self.lenc, self.lenb)


class _Indexer:
    """Builds the ``.fai`` records from batches of lines, checking the layout samtools requires."""

    def __init__(self, path: str):
        self.path = path
        self.records: list[FaiRecord] = []
        self.seen: dict[str, int] = {}  # name -> header line
        self.lines = 0  # lines before the current batch
        self.current: _Record | None = None

    def _error(self, what: str, line: int | None = None, fix: str = "") -> InputError:
        return InputError(f"cannot index FASTA: {what}{'; ' + fix if fix else ''}", self.path, line)

    def feed(self, lines: _Lines) -> None:
        is_header = lines.first == _GT
        if len(lines.non_text):
            line_of = np.searchsorted(lines.starts, lines.non_text, side="right") - 1
            outside = ~is_header[line_of]
            if outside.any():
                j = int(np.argmax(outside))
                k, position = int(line_of[j]), int(lines.non_text[j])
                raise self._error(f"line {self.lines + k + 1} holds a byte that is not text (0x"
                                  f"{lines.text(k)[position - int(lines.starts[k])]:02x} at column "
                                  f"{position - int(lines.starts[k]) + 1})", self.lines + k + 1,
                                  "the file may be corrupt or not a FASTA file")
        previous = 0
        for h in np.flatnonzero(is_header).tolist():
            self._sequence(lines, previous, h)
            self._header(lines.text(h), int(lines.starts[h] + lines.nbytes[h]), self.lines + h + 1)
            previous = h + 1
        self._sequence(lines, previous, len(lines.starts))
        self.lines += len(lines.starts)

    def _header(self, text: bytes, offset: int, line: int) -> None:
        self._close_record()
        raw = text.rstrip(b"\r\n")
        if b"\r" in raw:
            raise self._error(f"line {line} holds a carriage return (old Mac line endings)", line,
                              "convert them to newlines, e.g. tr '\\r' '\\n' < in.fa > out.fa")
        try:
            words = raw[1:].decode("utf-8").split()
        except UnicodeDecodeError:
            raise self._error(f"header line {line} is not UTF-8 text", line,
                              "the file may be corrupt or not a FASTA file") from None
        if not words:
            raise self._error(f"header line {line} ('>') names no sequence", line, "give every sequence a name")
        name = words[0]
        if name in self.seen:
            raise InputError(f"duplicate sequence name in FASTA: {name!r} on lines {self.seen[name]} and {line}; "
                             "give every sequence a unique name", self.path, line)
        self.seen[name] = line
        self.current = _Record(name, offset, line)

    def _sequence(self, lines: _Lines, begin: int, end: int) -> None:
        """Lines ``[begin, end)`` of the batch, all within the current sequence (or before the first header)."""
        if end <= begin:
            return
        nbytes, nbases = lines.nbytes[begin:end], lines.nbases[begin:end]
        number = self.lines + begin + 1  # line number of lines[begin]
        record = self.current
        filled = nbases > 0
        if record is None:  # before the first header: blank lines and ';' comments only
            text = filled & (lines.first[begin:end] != _SEMICOLON)
            if text.any():
                line = number + int(np.argmax(text))
                raise self._error(f"line {line} comes before the first '>' header line", line,
                                  "a FASTA starts with a '>name' line (is this a FASTA file?)")
            return
        if not filled.any():
            if record.stop is None:
                record.stop = ("blank", number, 0)
            return
        if record.lenb == 0:
            k = int(np.argmax(filled))
            if k > 0 and record.stop is None:
                record.stop = ("blank", number, 0)
            if record.stop is None:
                record.lenb, record.lenc = int(nbytes[k]), int(nbases[k])
        if record.lenb:
            longer = nbases > record.lenc
            if longer.any():
                k = int(np.argmax(longer))
                raise self._error(
                    f"line {number + k} of sequence {record.name!r} holds {plural(int(nbases[k]), 'base')}, more than "
                    f"the {record.lenc} of the lines before it", number + k,
                    "all lines of a sequence but its last must be of one length (rewrap it, e.g. "
                    "seqkit seq -w 60 in.fa > out.fa)")
        irregular = ~filled | (nbases != record.lenc) | (nbytes != record.lenb)
        if record.stop is not None:
            after = filled
        elif irregular.any():
            k = int(np.argmax(irregular))
            record.stop = ("blank" if not filled[k] else "short", number + k, int(nbases[k]))
            after = np.zeros_like(filled)
            after[k + 1:] = filled[k + 1:]
        else:
            after = np.zeros_like(filled)
        if after.any():
            raise self._stop_error(record, number + int(np.argmax(after)))
        record.rlen += int(nbases.sum())

    def _stop_error(self, record: _Record, line: int) -> InputError:
        kind, where, bases = record.stop
        if kind == "blank":
            return self._error(f"sequence {record.name!r} has a blank line (line {where}) followed by more "
                               f"sequence (line {line})", where, "remove blank lines inside sequences")
        if bases == record.lenc:
            return self._error(f"line {where} of sequence {record.name!r} ends differently (\\n or \\r\\n) from the "
                               "lines before it", where, "give the file one kind of line ending (e.g. dos2unix)")
        return self._error(
            f"line {where} of sequence {record.name!r} holds {plural(bases, 'base')}, the lines before it "
            f"{record.lenc}, yet more sequence follows (line {line})", where,
            "all lines of a sequence but its last must be of one length (rewrap it, e.g. "
            "seqkit seq -w 60 in.fa > out.fa)")

    def _close_record(self) -> None:
        if self.current is not None:
            self.records.append(self.current.fai())
            self.current = None

    def finish(self) -> list[FaiRecord]:
        self._close_record()
        if not self.records:
            raise self._error("no sequence found (the file is empty or has no '>name' header line)",
                              fix="give a FASTA file")
        return self.records


def build_index(chunks: Iterable[bytes], path: str) -> list[FaiRecord]:
    """Index FASTA text given as consecutive byte chunks; the records of ``samtools faidx``.

    Accepted beyond samtools' layout: a UTF-8 byte-order mark at the start,
    blank lines between sequences and at the end, ``;`` comment and blank lines
    before the first header, ``\\r\\n`` line ends, a last line without newline.
    Names are the first word of each header (``> chr1 x`` is ``chr1``, as in
    pyfaidx and samtools).

    Raises
    ------
    InputError
        With the line: text before the first header, lines of unequal length
        within a sequence, a blank line inside one, a header without a name,
        duplicate names, bytes that are not text, UTF-16 text, no sequence.
    """
    indexer = _Indexer(path)
    base, carry = 0, b""
    long_line: list | None = None  # [start, bytes, kept head, last two bytes] of a line longer than _LONG_LINE
    first = True
    for data in chunks:
        if first:
            first = False
            if data.startswith(_UTF16_BOMS):
                raise InputError("the FASTA is UTF-16 text; save it as plain text (ASCII/UTF-8)", path)
            if data.startswith(_UTF8_BOM):
                base, data = len(_UTF8_BOM), data[len(_UTF8_BOM):]
        if long_line is not None:
            newline = data.find(b"\n")
            _extend_long(long_line, data if newline < 0 else data[:newline + 1])
            if newline < 0:
                continue
            indexer.feed(_long_lines(long_line))
            base, data, long_line = long_line[0] + long_line[1], data[newline + 1:], None
        buffer = carry + data if carry else data
        cut = buffer.rfind(b"\n") + 1
        if cut:
            indexer.feed(_split_lines(memoryview(buffer)[:cut], base))
            base, buffer = base + cut, buffer[cut:]
        if len(buffer) > _LONG_LINE:
            long_line, carry = [base, 0, b"", b""], b""
            _extend_long(long_line, buffer)
        else:
            carry = bytes(buffer)
    if long_line is not None:
        indexer.feed(_long_lines(long_line))
    elif carry:
        indexer.feed(_split_lines(carry, base))
    return indexer.finish()


def _extend_long(state: list, data: bytes) -> None:
    if len(state[2]) < _HEADER_KEPT:
        state[2] += data[:_HEADER_KEPT - len(state[2])]
    state[1] += len(data)
    state[3] = (state[3] + data)[-2:]


def _long_lines(state: list) -> _Lines:
    """One line longer than :data:`_LONG_LINE` as a batch of one (its bases counted, its head kept for a header)."""
    start, nbytes, head, tail = state
    newline = tail.endswith(b"\n")
    carriage = tail.endswith(b"\r\n") or (not newline and tail.endswith(b"\r"))
    return _Lines(np.array([start]), np.array([nbytes]), np.array([nbytes - newline - carriage]),
                  np.frombuffer(head[:1], dtype=np.uint8), lambda i: head, np.zeros(0, dtype=np.int64))


def format_fai(records: Iterable[FaiRecord]) -> str:
    """The text of a ``.fai`` file (tab-separated, one sequence a line)."""
    return "".join(f"{r.name}\t{r.rlen}\t{r.offset}\t{r.lenc}\t{r.lenb}\n" for r in records)


def parse_fai(text: str) -> list[FaiRecord]:
    """Records of a ``.fai`` text; ``ValueError`` when a line is not ``name, 4 integers`` or a name repeats."""
    records, seen = [], set()
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 5 or fields[0] in seen:
            raise ValueError(f"not a .fai line: {line[:80]!r}")
        seen.add(fields[0])
        numbers = [int(value) for value in fields[1:5]]
        if min(numbers) < 0 or numbers[3] < numbers[2]:
            raise ValueError(f"not a .fai line: {line[:80]!r}")
        records.append(FaiRecord(fields[0], *numbers))
    if not records:
        raise ValueError("empty .fai")
    return records


# ------------------------------------------------------------------------------------------------ check
def index_matches_fasta(path: str, index: dict, max_checked: int = 20000, source: FastaSource | None = None) -> bool:
    """Whether a ``.fai`` index still describes the FASTA at ``path``.

    ``index`` maps names to records with ``rlen``, ``offset``, ``lenc``, ``lenb``
    (:class:`FaiRecord` or pyfaidx's). For each sequence (for more than
    ``max_checked``, an evenly spaced sample and the last): its header line
    ``>name`` (or ``> name``, the name being the header's first word) ends just
    before its offset, its first line ends after ``lenc`` bases with a line
    ending of ``lenb - lenc`` bytes, only blank lines lie between its last base
    and the next header line, and after the last one only line ends follow.
    Reads a few kB per sequence; works on bgzip files through ``source``.
    """
    own = source is None
    source = source or FastaSource(path, compression(path))
    try:
        return _index_matches(source, index, max_checked)
    finally:
        if own:
            source.close()


def _sequence_end(record) -> int:
    """Byte offset just after the last base of a ``.fai`` record (its line end may be missing at the file's end)."""
    offset, rlen, lenc, lenb = int(record.offset), int(record.rlen), int(record.lenc), int(record.lenb)
    if rlen <= 0 or lenc <= 0:
        return offset
    full_lines, rest = divmod(rlen - 1, lenc)
    return offset + full_lines * lenb + rest + 1


def _index_matches(source: FastaSource, index: dict, max_checked: int) -> bool:
    records = sorted(index.items(), key=lambda item: item[1].offset)
    size = source.size
    if not records:
        return size == 0
    chosen = range(len(records))
    if len(records) > max_checked:
        chosen = sorted(set(np.linspace(0, len(records) - 1, max_checked).astype(int).tolist()))
    for i in chosen:
        name, record = records[i]
        offset, rlen, lenc, lenb = int(record.offset), int(record.rlen), int(record.lenc), int(record.lenb)
        end = _sequence_end(record)
        limit = int(records[i + 1][1].offset) if i + 1 < len(records) else size
        if offset > size or end > limit or (rlen and lenc == 0):
            return False
        if i == len(records) - 1:  # after the last sequence: only line ends (else a sequence is not indexed)
            tail = source.read(end, end + 4097)
            if len(tail) > 4096 or tail.strip(b"\r\n \t"):
                return False
        if rlen > lenc > 0:  # the first line: lenc bases, then a line ending of lenb - lenc bytes
            line = source.read(offset + lenc - 1, offset + lenb)
            if line[:1] in (b"\n", b"\r", b"") or line[1:] not in (b"\n", b"\r\n"):
                return False
        # what comes before the sequence: blank lines after the previous one (all of it), then its header line
        start = _sequence_end(records[i - 1][1]) if i else max(0, offset - _HEADER_KEPT)
        if offset - start > _HEADER_KEPT:
            return False  # more than a header between two sequences: bases the index does not count
        before = source.read(start, offset)
        if not before.endswith(b"\n"):
            return False
        line_start = before.rfind(b"\n", 0, len(before) - 1) + 1
        if i and before[:line_start].strip(b"\r\n \t"):
            return False
        header = before[line_start:].rstrip(b"\r\n")
        if start + line_start == 0 and header.startswith(_UTF8_BOM):
            header = header[len(_UTF8_BOM):]
        words = header[1:].split()
        if not header.startswith(b">") or not words or words[0] != name.encode():
            return False
    return True
