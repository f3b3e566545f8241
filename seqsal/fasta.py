"""What pyfaidx does not do for a FASTA: compression by content, layouts it cannot index, its errors in one line.

seqsal reads FASTA through pyfaidx (https://github.com/mdshw5/pyfaidx; bgzip
through Biopython's ``Bio.bgzf``). Its index is the ``.fai`` of ``samtools
faidx`` (https://www.htslib.org/doc/faidx.html): per sequence the name, length
in bases (``rlen``), byte offset of the first base (``offset``), bases per line
(``lenc``) and bytes per line (``lenb``); for bgzip the offsets are into the
uncompressed text and a ``.gzi`` maps them to the compressed blocks. This module
holds the checks around it:

* :func:`compression` tells the compression from the first bytes (pyfaidx goes
  by the file name); :func:`refuse_compression` names the one command that
  converts what cannot be read at random positions.
* :func:`scan` reads the text once. It refuses bytes that are not text
  (pyfaidx indexes a NUL as a base), old Mac line ends (pyfaidx sees one long
  header) and UTF-16; given the index pyfaidx built, it checks that every line
  break lies where the index puts it (pyfaidx accepts some irregular layouts and
  then reads wrong bases). It also tells whether the text holds what pyfaidx
  cannot index past although the file is a valid FASTA: a UTF-8 byte-order mark,
  two blank lines in a row, blank lines with ``\\r\\n`` ends; :func:`blank_spans`
  finds them, :func:`write_without` writes a private copy without them for
  pyfaidx to index, and :func:`unshift` maps that index's offsets back.
* :func:`indexing_error` turns pyfaidx's exceptions into one line with the FASTA
  line and what to do.

The check of a ``.fai`` against its FASTA (headers, first line, sequence ends)
is :func:`seqsal.genome.first_mismatch`.

Byte offsets are 0-based, half-open, into the uncompressed text; line numbers are 1-based.
"""
from __future__ import annotations

import gzip
import os
import re
import struct
import zlib
from typing import IO, Iterator, Mapping, NamedTuple, Sequence

import numpy as np

from .errors import InputError
from .text import plural

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_READ_BLOCK = 1 << 24  # bytes per read of a whole-file pass
_REWRAP = "all lines of a sequence but its last must be of one length (rewrap it, e.g. seqkit seq -w 60 in.fa > out.fa)"

# bytes that are not text: control characters but tab/newline/CR, DEL, and everything >= 0x80
NON_TEXT = np.zeros(256, dtype=bool)
NON_TEXT[[*range(0, 9), 11, 12, *range(14, 32), *range(127, 256)]] = True
# errors pyfaidx and Biopython raise for a file or index they cannot read (pyfaidx has no common base class)
READ_ERRORS = (ValueError, IndexError, KeyError, OSError, EOFError, RuntimeError, struct.error, zlib.error)


class Span(NamedTuple):
    """Bytes of a FASTA left out of the copy that pyfaidx indexes (a byte-order mark, a run of blank lines)."""

    start: int  # byte offset in the file
    length: int  # bytes
    line: int  # its first line
    lines: int  # lines it takes (0 for a byte-order mark)


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
        head = handle.read(64)
    if head[:2] == b"\x1f\x8b":
        return "bgzf" if _has_bgzf_field(head) else "gzip"
    for magic, kind in ((b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"),
                        (b"PK\x03\x04", "zip")):
        if head.startswith(magic):
            return kind
    return "plain"


def _has_bgzf_field(header: bytes) -> bool:
    """Whether a gzip header has the ``BC`` extra subfield of BGZF (SAM/BAM specification, section 4.1)."""
    if header[:4] != b"\x1f\x8b\x08\x04" or len(header) < 12:
        return False
    extra = header[12:12 + int.from_bytes(header[10:12], "little")]
    i = 0
    while i + 4 <= len(extra):
        if extra[i:i + 2] == b"BC" and extra[i + 2:i + 4] == b"\x02\x00":
            return True
        i += 4 + int.from_bytes(extra[i + 2:i + 4], "little")
    return False


def refuse_compression(path: str, kind: str) -> None:
    """Raise :class:`InputError` for a compression that cannot be read at random positions (all but bgzip)."""
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


def require_biopython(path: str) -> None:
    """Raise :class:`InputError` when Biopython (pyfaidx's bgzip reader) cannot be imported."""
    try:
        from Bio import bgzf  # noqa: F401  (an optional dependency of pyfaidx; a dependency of seqsal)
    except ImportError:
        raise InputError("reading a bgzip FASTA needs Biopython; install it (pip install 'biopython>=1.80') or "
                         f"decompress the FASTA (bgzip -dk {path})", path) from None


def open_text(path: str, kind: str) -> IO[bytes]:
    """The uncompressed text of a plain or bgzip FASTA as a binary file (read sequentially)."""
    return gzip.open(path, "rb") if kind == "bgzf" else open(path, "rb")


def _truncated(path: str, exc: BaseException) -> InputError:
    return InputError(f"the bgzip file is truncated or corrupt ({exc}); re-create it from the uncompressed FASTA "
                      "(bgzip -c genome.fa > genome.fa.gz)", path)


def _chunks(handle: IO[bytes], path: str) -> Iterator[bytes]:
    try:
        yield from iter(lambda: handle.read(_READ_BLOCK), b"")
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _truncated(path, exc) from None


# ------------------------------------------------------------------------------------------------ scan
def scan(path: str, kind: str, index: Mapping | None = None) -> bool:
    """Read a FASTA's text once: refuse what pyfaidx would index or read wrong; whether it holds blank-line runs.

    Parameters
    ----------
    path, kind
        The FASTA and its compression (``"plain"`` or ``"bgzf"``).
    index
        pyfaidx's records of the file (``Faidx.index``) once it is indexed: then
        every line break inside every sequence must lie where the index puts it
        (pyfaidx accepts a last line longer than the others, or a one-base last
        line after an irregular one, and then reads wrong bases).

    Returns
    -------
    bool
        Whether the text holds what pyfaidx cannot index past although the file
        is a valid FASTA: a UTF-8 byte-order mark, two blank lines in a row, a
        blank line ending in ``\\r\\n`` (:func:`blank_spans` finds them).

    Raises
    ------
    InputError
        With the line: UTF-16 text, a carriage return that ends a line alone,
        a byte that is not text outside a header line (its column), a line break
        the index does not expect (what is wrong with that line), a bgzip file
        that is truncated.
    """
    breaks = _Breaks(index, path, kind) if index is not None else None
    lines = carry = base = 0  # newlines so far; bytes of the line unfinished at the chunk's start; its offset
    carry_first = previous = -1  # first byte of that line; the last byte of the chunk before
    tail, suspect = b"", False
    with open_text(path, kind) as handle:
        for number, chunk in enumerate(_chunks(handle, path)):
            if number == 0:
                if chunk.startswith(_UTF16_BOMS):
                    raise InputError("the FASTA is UTF-16 text; save it as plain text (ASCII/UTF-8)", path)
                _refuse_lone_carriage_return(chunk[:1 << 16], path)
            array = np.frombuffer(chunk, dtype=np.uint8)
            newlines = np.flatnonzero(array == ord("\n"))
            junction = tail + chunk[:2]  # where a pattern may run across two chunks
            suspect = (suspect or b"\n\n\n" in junction or b"\n\r\n" in junction or _blank_runs(chunk, array, newlines)
                       or (number == 0 and chunk.startswith(_UTF8_BOM)))
            if not _only_text(chunk, array, len(newlines)):
                if number == 0 and chunk.startswith(_UTF8_BOM):  # the mark is not text of the first line
                    rest = chunk[len(_UTF8_BOM):]
                    _refuse_non_text(rest, 0, len(_UTF8_BOM), rest[0] if rest else -1, path)
                else:
                    _refuse_non_text(chunk, lines, carry, carry_first, path)
            if breaks is not None:
                breaks.feed(array, newlines, base, lines, previous)
            lines, base, tail, previous = lines + len(newlines), base + len(chunk), chunk[-2:], chunk[-1]
            newline = chunk.rfind(b"\n")
            if newline < 0:
                carry_first = chunk[0] if not carry else carry_first
                carry += len(chunk)
            else:
                carry = len(chunk) - newline - 1
                carry_first = chunk[newline + 1] if carry else -1
    if breaks is not None:
        breaks.finish()
    return suspect


class _Breaks:
    """The line breaks inside each sequence where pyfaidx's index puts them: after every ``lenb`` bytes from its
    offset, ``(rlen - 1) // lenc`` of them, each after a carriage return exactly when ``lenb - lenc == 2``."""

    def __init__(self, index: Mapping, path: str, kind: str):
        items = sorted(index.items(), key=lambda item: int(item[1].offset))
        self.names, self.path, self.kind = [name for name, _ in items], path, kind
        rlen, self.offsets, lenc, lenb = (np.array([int(getattr(record, field)) for _, record in items], dtype=np.int64)
                                          for field in ("rlen", "offset", "lenc", "lenb"))
        self.ends = np.array([sequence_end(record) for _, record in items], dtype=np.int64)
        self.lenb = np.maximum(lenb, 1)
        self.expected = np.where((rlen > 0) & (lenc > 0), (rlen - 1) // np.maximum(lenc, 1), 0)
        self.crlf = lenb - lenc == 2
        self.seen = np.zeros(len(items), dtype=np.int64)

    def feed(self, array: np.ndarray, newlines: np.ndarray, base: int, lines: int, previous: int) -> None:
        """The newlines of a chunk (positions in it) that starts at byte ``base``, after ``lines`` newlines."""
        at = newlines + base
        k = np.searchsorted(self.offsets, at, side="right") - 1  # the sequence each newline may lie in
        inside = np.flatnonzero((k >= 0) & (at < self.ends[np.maximum(k, 0)]))
        if not len(inside) or not len(self.offsets):
            return
        k, at = k[inside], at[inside]
        through = at - self.offsets[k] + 1  # bytes of the sequence up to this newline
        # int16: ``previous`` is -1 before the first byte (a uint8 array cannot hold it: NumPy 2.5 raises)
        before = np.where(newlines[inside] > 0, array[np.maximum(newlines[inside] - 1, 0)].astype(np.int16), previous)
        right = ((through % self.lenb[k] == 0) & (through // self.lenb[k] <= self.expected[k])
                 & ((before == ord("\r")) == self.crlf[k]))
        if not right.all():
            first = int(np.argmax(~right))
            raise layout_error(self.path, self.kind, self.names[int(k[first])], lines + int(inside[first]) + 1)
        self.seen += np.bincount(k, minlength=len(self.seen))

    def finish(self) -> None:
        """Each sequence had all the line breaks its index record says (fewer: a line longer than the others)."""
        short = np.flatnonzero(self.seen != self.expected)
        if len(short):
            raise InputError(f"cannot index FASTA: the lines of sequence {self.names[int(short[0])]!r} are not all of "
                             f"one length; {_REWRAP}", self.path)


def _blank_runs(chunk: bytes, array: np.ndarray, newlines: np.ndarray) -> bool:
    """Whether ``chunk`` holds two blank lines in a row (``\\n\\n\\n``) or a blank ``\\r\\n`` line (``\\n\\r\\n``)."""
    gaps = np.diff(newlines)
    if np.any((gaps[1:] == 1) & (gaps[:-1] == 1)):
        return True
    return b"\r" in chunk and bool(np.any(array[newlines[:-1][gaps == 2] + 1] == ord("\r")))


def _only_text(chunk: bytes, array: np.ndarray, n_newlines: int) -> bool:
    """The quick test: no byte >= 127 and no control character but tab, newline, carriage return."""
    if array.max(initial=0) > 126:
        return False
    allowed = n_newlines + (chunk.count(b"\r") if b"\r" in chunk else 0) + (
        chunk.count(b"\t") if b"\t" in chunk else 0)
    return int(np.count_nonzero(array < 32)) == allowed


def _refuse_lone_carriage_return(head: bytes, path: str) -> None:
    match = re.search(rb"\r[^\n]", head)
    if match:
        line = head.count(b"\n", 0, match.start()) + 1
        raise InputError(f"cannot index FASTA: line {line} holds a carriage return (old Mac line endings); convert "
                         "them to newlines, e.g. tr '\\r' '\\n' < in.fa > out.fa", path, line)


def _refuse_non_text(chunk: bytes, lines: int, carry: int, carry_first: int, path: str) -> None:
    """The first byte that is not text outside a header line (UTF-8 descriptions are allowed in headers)."""
    array = np.frombuffer(chunk, dtype=np.uint8)
    bad = np.flatnonzero(NON_TEXT[array])
    newlines = np.flatnonzero(array == ord("\n"))
    k = np.searchsorted(newlines, bad)  # newlines before each bad byte
    starts = np.concatenate(([-1], newlines))[k] + 1  # where each bad byte's line starts in the chunk
    first = array[starts].astype(np.int64)
    first[(k == 0) & (carry > 0)] = carry_first
    culprits = np.flatnonzero(first != ord(">"))
    if len(culprits):
        j = int(culprits[0])
        position, line = int(bad[j]), lines + int(k[j]) + 1
        column = position - int(starts[j]) + 1 + (carry if k[j] == 0 else 0)
        raise InputError(f"cannot index FASTA: line {line} holds a byte that is not text (0x{chunk[position]:02x} at "
                         f"column {column}); the file may be corrupt or not a FASTA file", path, line)


def blank_spans(path: str, kind: str) -> list[Span]:
    """The byte-order mark and the runs of blank lines before a header or the end, in file order.

    Raises
    ------
    InputError
        A blank line followed by more sequence (with its line); a bgzip file
        (pyfaidx indexes bgzip only as it is: the command that recompresses it without them).
    """
    if kind == "bgzf":
        raise InputError("pyfaidx cannot index this bgzip FASTA: it has a byte-order mark, several blank lines "
                         "after a sequence, or blank lines with \\r\\n line ends; recompress it without them: "
                         f"zcat {path} | sed -e '1s/^\\xEF\\xBB\\xBF//' -e 's/\\r$//' -e '/^$/d' | bgzip > clean.fa.gz",
                         path)
    spans: list[Span] = []
    position, blank, record, number = 0, None, None, 0  # blank: (byte, line) where the current blank run began
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if number == 1 and line.startswith(_UTF8_BOM):
                spans.append(Span(0, len(_UTF8_BOM), 1, 0))
                position, line = len(_UTF8_BOM), line[len(_UTF8_BOM):]
            if line in (b"\n", b"\r\n"):
                blank = blank or (position, number)
            else:
                if blank is not None and record is not None and not line.startswith(b">"):
                    raise InputError(f"cannot index FASTA: sequence {record!r} has a blank line (line {blank[1]}) "
                                     f"followed by more sequence (line {number}); remove blank lines inside "
                                     "sequences", path, blank[1])
                if blank is not None:
                    spans.append(Span(blank[0], position - blank[0], blank[1], number - blank[1]))
                    blank = None
                if line.startswith(b">"):
                    record = (line[1:].split() or [b""])[0].decode("utf-8", "replace")
            position += len(line)
    if blank is not None:
        spans.append(Span(blank[0], position - blank[0], blank[1], number - blank[1] + 1))
    return spans


def write_without(path: str, spans: Sequence[Span], target: str) -> None:
    """Copy the plain FASTA ``path`` to ``target`` without the bytes of ``spans`` (sorted, disjoint)."""
    with open(path, "rb") as source, open(target, "wb") as out:
        position = 0
        for start, length in [(span.start, span.length) for span in spans] + [(os.fstat(source.fileno()).st_size, 0)]:
            while position < start:
                block = source.read(min(start - position, _READ_BLOCK))
                if not block:
                    return
                out.write(block)
                position += len(block)
            position = start + length
            source.seek(position)


def unshift(values: Sequence[int] | np.ndarray, spans: Sequence[Span], field: str = "offset") -> np.ndarray:
    """Byte offsets (``field="offset"``) or line numbers (``"line"``) of the copy without ``spans``, in the file.

    Returns
    -------
    numpy.ndarray
        int64, the shape of ``values``.
    """
    values = np.asarray(values, dtype=np.int64)
    if not spans:
        return values
    sizes = np.array([span.length if field == "offset" else span.lines for span in spans], dtype=np.int64)
    begins = np.array([span.start if field == "offset" else span.line for span in spans], dtype=np.int64)
    before = np.concatenate(([0], np.cumsum(sizes)))  # bytes (lines) left out before each span, and in all
    return values + before[np.searchsorted(begins - before[:-1], values, side="right")]


# --------------------------------------------------------------------------------------- pyfaidx errors
def indexing_error(exc: BaseException, path: str, kind: str, spans: Sequence[Span] = ()) -> InputError:
    """pyfaidx's (or Biopython's) exception while indexing ``path`` as one line with the FASTA line, what to do.

    ``spans``: those left out of the copy pyfaidx indexed (its line numbers are the copy's).
    """
    text = str(exc)
    if isinstance(exc, ImportError):
        return InputError(f"reading a bgzip FASTA needs Biopython; install it (pip install 'biopython>=1.80') or "
                          f"decompress the FASTA (bgzip -dk {path})", path)
    if isinstance(exc, UnicodeDecodeError):
        return InputError(f"cannot index FASTA: a header line holds a byte that is not UTF-8 text "
                          f"(0x{exc.object[exc.start]:02x}); save the file as UTF-8 or ASCII", path)
    duplicate = re.search(r'Duplicate key "(.*)"', text)
    if duplicate:
        name = duplicate.group(1)
        where = _header_lines(path, kind, name)
        return InputError(f"duplicate sequence name in FASTA: {name!r} on lines {' and '.join(map(str, where))}; give "
                          "every sequence a unique name", path, where[-1] if where else None)
    found = re.search(r"Inconsistent line found in >(.*) at line (\d+)", text)  # 1-based
    if found:
        return layout_error(path, kind, found.group(1), int(unshift(int(found.group(2)), spans, "line")))
    found = re.search(r"at entry (.*?)Please.*?\[\((\d+),", text, re.S)  # the bad lines, 0-based
    if found:
        return layout_error(path, kind, found.group(1), int(unshift(int(found.group(2)) + 1, spans, "line")))
    found = re.search(r"Bad sequence name .* at line (\d+)", text)  # 0-based
    if found:
        line = int(unshift(int(found.group(1)) + 1, spans, "line"))
        return InputError(f"cannot index FASTA: header line {line} ('>') names no sequence; give every sequence a "
                          "name", path, line)
    found = re.search(r"Unexpected text before the first sequence .* at line (\d+)", text)  # 1-based
    if found:
        line = int(unshift(int(found.group(1)), spans, "line"))
        return InputError(f"cannot index FASTA: line {line} comes before the first '>' header line; a FASTA starts "
                          "with a '>name' line (is this a FASTA file?)", path, line)
    if "does not contain a valid sequence" in text:
        return InputError("cannot index FASTA: no sequence found (the file is empty or has no '>name' header line); "
                          "give a FASTA file", path)
    if kind == "bgzf" and isinstance(exc, (OSError, EOFError, struct.error, zlib.error, ValueError)):
        return _truncated(path, exc)
    if isinstance(exc, OSError):
        return InputError(f"cannot read FASTA or write its index ({exc.strerror or exc}); check the file's "
                          "permissions, and set SEQSAL_CACHE_DIR to a writable folder", path)
    return InputError(f"cannot index FASTA ({type(exc).__name__}: {text[:200]}); a FASTA needs '>name' header lines "
                      "and, within each sequence, lines of one length", path)


def layout_error(path: str, kind: str, name: str, line: int) -> InputError:
    """What is wrong with ``line``, which breaks the line layout of sequence ``name`` (compared with the line above)."""
    above, current = (_lines(path, kind, line - 1, 2) + [b"", b""])[:2]
    bases, expected = len(current.rstrip(b"\r\n")), len(above.rstrip(b"\r\n"))
    if not bases:
        following = [k for k, text in enumerate(_lines(path, kind, line + 1, 64)) if text.strip()]
        what, fix = (f"sequence {name!r} has a blank line (line {line}) followed by more sequence"
                     + (f" (line {line + 1 + following[0]})" if following else "")), "remove blank lines inside sequences"
    elif above.startswith(b">") or not expected:
        what, fix = f"line {line} of sequence {name!r} does not fit the layout of the lines before it", _REWRAP
    elif bases == expected:
        what, fix = f"line {line} of sequence {name!r} ends differently (\\n or \\r\\n) from the lines before it", \
            "give the file one kind of line ending (e.g. dos2unix)"
    elif bases > expected:
        what, fix = (f"line {line} of sequence {name!r} holds {plural(bases, 'base')}, more than the {expected} of "
                     "the lines before it"), _REWRAP
    else:
        what, fix = (f"line {line} of sequence {name!r} holds {plural(bases, 'base')}, the lines before it "
                     f"{expected}, yet more sequence follows"), _REWRAP
    return InputError(f"cannot index FASTA: {what}; {fix}", path, line)


def _lines(path: str, kind: str, first: int, count: int) -> list[bytes]:
    """Lines ``first`` .. ``first + count - 1`` of the text, line ends kept (fewer at its end)."""
    seen, buffer = 1, None  # the number of the line that starts the current chunk's unread part
    with open_text(path, kind) as handle:
        for chunk in _chunks(handle, path):
            if buffer is not None:
                buffer += chunk
                if buffer.count(b"\n") >= count:
                    break
                continue
            newlines = chunk.count(b"\n")
            if seen + newlines < first:
                seen += newlines
                continue
            position = 0
            while seen < first:
                position = chunk.index(b"\n", position) + 1
                seen += 1
            buffer = chunk[position:]
            if buffer.count(b"\n") >= count:
                break
    return (buffer or b"").splitlines(keepends=True)[:count]


def _header_lines(path: str, kind: str, name: str, limit: int = 2) -> list[int]:
    """Numbers of the first ``limit`` header lines naming ``name`` (its first word)."""
    found, wanted = [], name.encode()
    with open_text(path, kind) as handle:
        for number, line in enumerate(handle, 1):
            if line.startswith(b">") and (line[1:].split() or [b""])[0] == wanted:
                found.append(number)
                if len(found) == limit:
                    break
    return found


def sequence_end(record) -> int:
    """Byte offset just after the last base of a ``.fai`` record (its line end may be missing at the file's end)."""
    offset, rlen, lenc, lenb = int(record.offset), int(record.rlen), int(record.lenc), int(record.lenb)
    if rlen <= 0 or lenc <= 0:
        return offset
    full_lines, rest = divmod(rlen - 1, lenc)
    return offset + full_lines * lenb + rest + 1
