"""BED / narrowPeak reading and validation, re-centring and resizing, tiling.

Coordinates are 0-based, half-open, as in BED. Nothing here shifts a coordinate
silently: a region that runs past a chromosome end keeps its coordinates and is
padded with ``N`` when fetched (the number of padded bases is reported).
"""
from __future__ import annotations

import gzip
import io
import logging
import os
import zlib
from array import array

import numpy as np
import pandas as pd

from .errors import InputError, option
from .tables import as_text
from .text import plural

log = logging.getLogger("seqsal")

REGION_COLUMNS = ["chrom", "start", "end", "name", "strand", "summit", "line"]
_SKIP_PREFIXES = ("#", "track", "browser")
_STRANDS = {"+": "+", "-": "-", ".": "."}  # the one shared string object of each strand


_DECOMPRESS = {"bzip2": "bunzip2", "xz": "unxz", "zstd": "unzstd", "zip": "unzip"}


def open_table_text(path: str):
    """The file as text (gzip or plain; a UTF-8 byte-order mark at the start is dropped).

    Raises
    ------
    InputError
        UTF-16 text; another compression than gzip (bzip2, xz, zstd, zip: named, with the command that
        decompresses it); bytes that are not text (a NUL byte in the first 64 KiB, after any gzip layer: a
        binary file, or gzip inside gzip).
    """
    from .fasta import compression

    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError("the file is UTF-16 text; save it as plain text (ASCII/UTF-8), tab-separated", path)
    if (kind := compression(path)) in _DECOMPRESS:
        raise InputError(f"the file is {kind}-compressed, not text; decompress it ({_DECOMPRESS[kind]} FILE) and "
                         "give the text (plain or gzip)", path)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(1 << 16)
    except (EOFError, zlib.error, gzip.BadGzipFile):
        head = b""  # a truncated gzip: refused where its lines are read, with what to do
    if b"\x00" in head or head[:2] == b"\x1f\x8b":
        raise InputError("the file holds binary data, not tab-separated text" + (
            " (gzip inside gzip: gunzip it once)" if head[:2] == b"\x1f\x8b" else "") + "; give the text file",
            path)
    if opener is gzip.open:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", errors="replace", newline=None)
    return open(path, "r", encoding="utf-8-sig", errors="replace", newline=None)


def _parse_int(value: str, field: str, path: str, line: int) -> int:
    try:
        return int(value)
    except ValueError:
        raise InputError(
            f"{field} is {value!r}, not an integer; BED coordinates are whole numbers (0-based, half-open)",
            path,
            line,
        ) from None


def is_number(text: str) -> bool:
    """Whether ``text`` reads as a number (``float``: ``1e2``, ``nan`` and ``inf`` do)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _refuse_header(fields: list[str], path: str, line: int) -> None:
    """Refuse the first line of a BED file as a header of column names (``chrom start end``) when its start or
    end is not a number (a number that is no integer is refused as a coordinate)."""
    words = [f"{label} is {value!r}" for label, value in zip(("start (column 2)", "end (column 3)"), fields[1:3])
             if not is_number(value)]
    if words:
        raise InputError(f"the first line looks like a column header, not a region ({' and '.join(words)}, not a "
                         "number); remove the line or start it with '#'", path, line)


def _bed12_blocks(fields: list[str], start: int, end: int, path: str, line: int) -> int | None:
    """The block count of a BED12 line (columns 10-12: blockCount, blockSizes, blockStarts), checked; ``None``
    when those columns are not blocks. A line of 12 or 15 columns (BED12, gappedPeak) must hold valid blocks, else
    :class:`InputError`; for other widths (BED12+ or narrowPeak+) columns that are not blocks mean a narrowPeak.

    Blocks follow the BED specification (https://genome.ucsc.edu/FAQ/FAQformat.html#format1): sizes and starts
    are comma-separated (a trailing comma allowed), starts are relative to ``start``, ascending and not
    overlapping; the first block starts at 0 and the last ends at ``end``.
    """
    strict = len(fields) in (12, 15)  # BED12, gappedPeak: columns 10-12 must be blocks
    try:
        count = int(fields[9])
        sizes = [int(value) for value in fields[10].rstrip(",").split(",")]
        offsets = [int(value) for value in fields[11].rstrip(",").split(",")]
        valid = count >= 1 and len(sizes) == count and len(offsets) == count
    except ValueError:
        valid = False
    if not valid:
        if strict:
            raise InputError(
                f"a {len(fields)}-column line is BED12{' (gappedPeak)' if len(fields) == 15 else ''}, but columns "
                f"10-12 ({fields[9]!r}, {fields[10]!r}, {fields[11]!r}) are not blockCount, blockSizes, blockStarts; "
                "fix them, or keep only the first 6 columns (cut -f1-6)", path, line)
        return None
    bounds = [(offset, offset + size) for offset, size in zip(offsets, sizes)]
    if (offsets[0] != 0 or start + bounds[-1][1] != end or min(sizes) <= 0
            or any(b[0] < a[1] for a, b in zip(bounds, bounds[1:]))):
        if not strict:
            return None
        raise InputError(
            f"BED12 blocks (columns 10-12) do not tile the region: the first must start at 0, the last end at "
            f"{end - start} (end - start), ascending and not overlapping; got sizes {fields[10]} starts {fields[11]}",
            path, line)
    return count


def read_regions(path: str | os.PathLike) -> pd.DataFrame:
    """Read a BED3-BED9, BED12 or narrowPeak file (plain or gzipped).

    ``track`` and ``browser`` lines, ``#`` comment lines (a header of column
    names must start with ``#``) and blank lines are skipped; Windows line endings, trailing tabs and a UTF-8 byte-order mark
    are accepted. The format of each line is read from its column count and
    content:

    * column 4 is the name, 5 the score, 6 the strand (``+``, ``-``, ``.``);
    * a line whose score (column 5) is ``-`` uses ``-`` as a placeholder for
      missing values (tangermeme's BED10): a ``-`` name or strand then means
      none (unstranded), not the minus strand;
    * BED12 (12 columns, or 15 of gappedPeak; columns 10-12 blockCount,
      blockSizes, blockStarts): the region is the whole span ``start-end``
      (introns included) and the blocks are checked, not used separately; a
      note is logged. Column 10 is not a summit;
    * any other line of 10 or more columns is narrowPeak: column 10 is the
      summit offset from ``start`` (``-1``, ``.`` or ``-``: none).

    Parameters
    ----------
    path
        The BED file.

    Returns
    -------
    pandas.DataFrame
        One row per region with columns ``chrom`` (str), ``start``, ``end``
        (int64, 0-based half-open), ``name`` (str; ``chrom:start-end`` when the
        file has none), ``strand`` (``+``, ``-`` or ``.``), ``summit`` (absolute
        0-based summit position from narrowPeak column 10, or -1; never from
        BED12) and ``line`` (1-based line number in the file, for messages).

    Raises
    ------
    InputError
        Naming the file and line, for every malformed line (fewer than 3 columns, a negative start, ``end <=
        start``, a bad strand, BED12 blocks or summit; a first line of column names not starting with ``#``);
        naming the file, when it is missing, holds no region, is a truncated or corrupt gzip, or a coordinate does
        not fit in 64 bits.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise InputError("regions file not found; pass a BED or narrowPeak file", path)
    # columns, not row tuples: a region costs ~100 bytes (its name string, pointers, int64s) instead of ~400
    chroms: list[str] = []
    names: list[str] = []
    strands: list[str] = []
    starts, ends, summits, lines = (array("q") for _ in range(4))
    interned: dict[str, str] = {}  # one string object per chromosome, not one per region
    placeholders = named = gene_models = 0  # lines with '-' placeholders (of them, with a name); BED12 of blocks
    try:
        with open_table_text(path) as handle:
            for line_number, raw in enumerate(handle, start=1):
                text = raw.rstrip("\r\n").rstrip("\t ").rstrip("\r")
                if not text.strip() or text.startswith(_SKIP_PREFIXES):
                    continue
                fields = text.split("\t")
                if len(fields) < 3:
                    fields = text.split()
                if len(fields) < 3:
                    raise InputError(
                        f"found {len(fields)} column(s), a BED line needs at least 3 tab-separated columns "
                        "(chrom, start, end); fix or remove this line",
                        path,
                        line_number,
                    )
                if not chroms:  # the first line that is no comment
                    _refuse_header(fields, path, line_number)
                chrom = interned.setdefault(fields[0], fields[0])
                start = _parse_int(fields[1], "start (column 2)", path, line_number)
                end = _parse_int(fields[2], "end (column 3)", path, line_number)
                if start < 0:
                    raise InputError(f"start is negative ({start}); BED starts are >= 0", path, line_number)
                if start >= end:
                    raise InputError(
                        f"start ({start}) >= end ({end}); a region needs start < end (0-based, half-open)",
                        path,
                        line_number,
                    )
                n_fields = len(fields)
                name = fields[3] if n_fields > 3 else "."
                strand = fields[5] if n_fields > 5 else "."
                if n_fields > 4 and fields[4] == "-":  # '-' marks missing values (tangermeme's BED10): not a strand
                    if strand == "-":
                        strand = "."
                        placeholders += 1
                        named += name not in ("-", ".")  # a BED6 whose "-" strand may be meant (fresh25)
                    name = "." if name == "-" else name
                if name == "." or not name:
                    name = f"{chrom}:{start}-{end}"
                if strand not in _STRANDS:
                    raise InputError(
                        f"strand (column 6) is {strand!r}; use '+', '-' or '.'", path, line_number
                    )
                summit = -1
                if n_fields < 10:
                    pass
                elif n_fields >= 12 and (blocks := _bed12_blocks(fields, start, end, path, line_number)) is not None:
                    gene_models += blocks > 1
                elif fields[9] not in ("", "-1", ".", "-"):
                    offset = _parse_int(fields[9], "summit offset (column 10)", path, line_number)
                    if not 0 <= offset < end - start:
                        raise InputError(
                            f"narrowPeak summit offset {offset} falls outside its region of length "
                            f"{end - start}; it must be in [0, {end - start})",
                            path,
                            line_number,
                        )
                    summit = start + offset
                chroms.append(chrom)
                names.append(name)
                strands.append(_STRANDS[strand])
                starts.append(start)
                ends.append(end)
                summits.append(summit)
                lines.append(line_number)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"gzip file is truncated or corrupt ({exc}); re-create or re-download it", path) from None
    except OverflowError:
        raise InputError("a coordinate does not fit in 64 bits; BED coordinates are positions on a chromosome",
                         path, line_number) from None
    if not chroms:
        raise InputError("no regions found (the file is empty or holds only header lines)", path)
    if placeholders:  # a warning where a line has a name: a BED6 of '-' scores read its strands as none (fresh25)
        (log.warning if named else log.info)(
            "%s: column 6 of %s is a '-' placeholder, as its score (column 5) is: read as unstranded, not as the "
            "minus strand (tangermeme's BED10)%s", path, plural(placeholders, "line"),
            f"; {plural(named, 'line has', 'lines have')} a name: for minus-strand regions give a score (0 or '.')"
            if named else "")
    if gene_models:
        log.warning("%s: %s BED12 with several blocks (exons): each is attributed over its whole span, introns "
                    "included; the blocks are not used separately, and --width re-centres on the span's middle",
                    path, plural(gene_models, "region is", "regions are"))
    return pd.DataFrame({
        "chrom": _object_array(chroms), "start": np.frombuffer(starts, dtype=np.int64),
        "end": np.frombuffer(ends, dtype=np.int64), "name": _object_array(names),
        "strand": _object_array(strands), "summit": np.frombuffer(summits, dtype=np.int64),
        "line": np.frombuffer(lines, dtype=np.int64),
    }, columns=REGION_COLUMNS)


def _object_array(values: list) -> np.ndarray:
    """A list of str as an object array (no per-element copy, unlike pandas' string inference)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _chrom_hint(chrom: str, known: set[str]) -> str:
    if "\ufeff" in chrom:
        return (" (the name holds a byte-order mark, U+FEFF: the file was saved with a BOM in the middle, e.g. "
                "files concatenated; remove it)")
    alternative = chrom[3:] if chrom.startswith("chr") else "chr" + chrom
    if alternative in known:
        return f" (the FASTA names it {alternative!r}: the BED and FASTA use different 'chr' naming)"
    return ""


def validate_regions(regions: pd.DataFrame, chrom_sizes: dict[str, int], path: str = "regions") -> pd.DataFrame:
    """Check every region against the genome's chromosome sizes.

    Raises :class:`InputError` for a chromosome missing from the FASTA (with a
    hint when only the ``chr`` prefix differs) or a region that starts beyond its
    chromosome's end. Returns the regions with a column ``padded_bp``: how many
    bases of the region lie outside the chromosome and will be read as ``N`` (a run
    replaces it with those of the model's input, :func:`padded_bases` with its window).
    """
    known = set(chrom_sizes)
    sizes = regions["chrom"].map(chrom_sizes).to_numpy(dtype=np.float64)  # NaN: not in the FASTA
    bad = np.isnan(sizes) | (regions["start"].to_numpy() >= np.nan_to_num(sizes, nan=-1))
    if bad.any():
        row = regions.iloc[int(np.argmax(bad))]
        line = int(row["line"]) if "line" in regions else None
        if row["chrom"] not in known:
            raise InputError(
                f"chromosome {row['chrom']!r} is not in the FASTA{_chrom_hint(row['chrom'], known)}; "
                "use a BED made for this genome",
                path,
                line,
            )
        raise InputError(
            f"region starts at {row['start']}, beyond the end of {row['chrom']} "
            f"({chrom_sizes[row['chrom']]} bp); is this BED for another genome build?",
            path,
            line,
        )
    return regions.assign(padded_bp=padded_bases(regions, chrom_sizes))


def padded_bases(regions: pd.DataFrame, chrom_sizes: dict[str, int], window: int | None = None) -> np.ndarray:
    """Number of bases outside ``[0, chrom size)`` that the model reads for each region, shape ``(N,)``.

    The model reads each region's fetched span (:func:`fetch_span`): the region itself, or, for a region shorter
    than ``window``, the ``window`` bases centred on it; ``window=None`` counts the region's own bases only. The
    bases outside the chromosome are read as ``N``: ``padded_bp`` of ``regions.tsv``.
    """
    sizes = regions["chrom"].map(chrom_sizes).to_numpy(dtype=np.int64)
    start = regions["start"].to_numpy(dtype=np.int64)
    end = regions["end"].to_numpy(dtype=np.int64)
    if window is not None:  # the spans the engine fetches (one rule: fetch_span)
        spans = np.array([fetch_span(int(s), int(e), window) for s, e in zip(start, end)], np.int64).reshape(-1, 2)
        start, end = spans[:, 0], spans[:, 1]
    inside = np.maximum(0, np.minimum(end, sizes) - np.maximum(start, 0))
    return (end - start) - inside


def padding_summary(regions: pd.DataFrame, path: str = "regions",
                    chrom_sizes: dict[str, int] | None = None, width: int | None = None) -> str | None:
    """One line on the regions whose model input runs past a chromosome end (column ``padded_bp``); ``None``
    when none does.

    Such regions keep their coordinates; the bases of the model's input outside the chromosome (of the region,
    or of the window around a shorter region) are read as ``N`` and counted per region in ``padded_bp`` of
    ``regions.tsv``. With ``chrom_sizes``, regions whose own end lies past their chromosome's (not only the
    window around them) are counted apart and the first named by its line or coordinates: a model window at a
    chromosome end is common, a region ending past it is a sign of a BED made for another genome build. With
    ``width`` (the run re-centred its regions to that many bases, ``--width``) such ends are said to be the
    resized ones' (fresh26b: a BED region 10 bp from the end, widened to 800, was taken for another build).
    """
    if "padded_bp" not in regions:
        return None
    padded = regions["padded_bp"].to_numpy()
    count = int((padded > 0).sum())
    if not count:
        return None
    line = (f"{path}: {plural(count, 'region runs', 'regions run')} past a chromosome end (the region, or the model "
            f"window around it); {plural(int(padded.sum()), 'base')} outside are read as N (padded_bp in regions.tsv)")
    if chrom_sizes is None:
        return line
    beyond = regions["end"].to_numpy(np.int64) > regions["chrom"].map(chrom_sizes).to_numpy(np.int64)
    if not beyond.any():
        return line
    row = regions.iloc[int(np.argmax(beyond))]
    where = f"line {int(row['line'])}" if "line" in regions else f"{row['chrom']}:{row['start']}-{row['end']}"
    n = int(beyond.sum())
    itself = "ends past its chromosome itself" if n == 1 else "end past their chromosomes themselves"
    sizes = f"end {int(row['end']):,} > {row['chrom']} {chrom_sizes[row['chrom']]:,} bp"
    if width is not None:
        past = "ends past its chromosome" if n == 1 else "end past their chromosomes"
        return f"{line}; {n} of them {past} once re-centred to --width {width} (first: {where}, {sizes})"
    return f"{line}; {n} of them {itself} (first: {where}, {sizes}): is this BED for this genome build?"


def resize_regions(regions: pd.DataFrame, width: int) -> pd.DataFrame:
    """Re-centre each region on its summit (narrowPeak column 10) or midpoint, and give it ``width`` bases.

    The new interval is ``[centre - width // 2, centre - width // 2 + width)``;
    it may start below 0 or end past the chromosome (padded with ``N`` when
    fetched). Returns a copy; the original rows are not changed.

    Parameters
    ----------
    regions
        ``chrom``, ``start``, ``end`` (0-based, half-open) and, optionally, ``summit`` (an absolute 0-based
        position, as :func:`read_regions` gives it; -1 or no column: the midpoint ``(start + end) // 2``).
    width
        Bases of each new interval (> 0).

    Returns
    -------
    pandas.DataFrame
        A copy of ``regions`` (all columns kept, ``summit`` included) with new int64 ``start`` and ``end``.

    Raises
    ------
    InputError
        When ``width`` is not positive.
    """
    if width <= 0:
        raise InputError(f"{option('width')} must be a positive number of bases, got {width}")
    middle = (regions["start"].to_numpy() + regions["end"].to_numpy()) // 2
    summit = regions["summit"].to_numpy() if "summit" in regions else np.full(len(regions), -1)
    centre = np.where(summit >= 0, summit, middle)
    start = centre - width // 2
    return regions.assign(start=start.astype(np.int64), end=(start + width).astype(np.int64))


def fetch_span(start: int, end: int, window: int | None) -> tuple[int, int]:
    """The stretch ``[start, end)`` a region is fetched as: itself, or widened symmetrically to ``window``
    with its genomic context when shorter (0-based half-open; may reach outside the chromosome: N-padded)."""
    length = end - start
    if window is None or length >= window:
        return start, end
    fetch_start = start - (window - length) // 2
    return fetch_start, fetch_start + window


def tile_starts(length: int, window: int, stride: int) -> np.ndarray:
    """Window offsets that tile ``[0, length)`` with ``window``-long windows every ``stride`` bases.

    The last window is aligned to the end, so every base is covered. For
    ``length <= window`` a single offset 0 is returned.

    Parameters
    ----------
    length
        Bases of the region.
    window
        Bases of each window (the model's input length).
    stride
        Bases between window starts (``0 < stride <= window``).

    Returns
    -------
    numpy.ndarray
        The int64 offsets (0-based, from the region's start), ascending, shape ``(n_windows,)``; window ``k``
        covers ``[offset_k, offset_k + window)``.

    Raises
    ------
    InputError
        When ``stride`` is not positive or larger than ``window`` (bases between windows would be skipped).
    """
    if stride <= 0:
        raise InputError(f"{option('stride')} must be positive, got {stride}")
    if stride > window:
        raise InputError(
            f"{option('stride')} ({stride}) is larger than the window ({window}); bases between windows would get "
            "no attribution. Use a stride <= the window"
        )
    if length <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, length - window + 1, stride, dtype=np.int64)
    if starts[-1] != length - window:
        starts = np.append(starts, length - window)
    return starts


def _user_table(regions: pd.DataFrame) -> pd.DataFrame:
    """A checked copy of a notebook's region table: what :func:`read_regions` checks in a file, row by row.

    ``chrom`` and ``name`` become text (an Ensembl BED read by pandas has ``chrom`` 17 as an integer; the FASTA's
    names are text); ``start``/``end`` must be whole numbers with ``0 <= start < end`` (0-based, half-open);
    ``strand`` ``+``, ``-`` or ``.`` (missing: ``.``); ``summit`` an absolute 0-based position inside its region,
    or -1 (missing: -1). Messages name the row (its position from 0, and its index label).
    """
    missing = [column for column in ("chrom", "start", "end") if column not in regions]
    if missing:
        raise InputError(f"the regions table has no column {', '.join(missing)}; give chrom, start, end "
                         "(0-based half-open)")
    table = regions.copy()

    def where(row: int) -> str:
        return f"the regions table's row {row} (index {shown(table.index[row])})"

    def shown(value) -> str:  # numpy scalars as Python's: 1000.7, not np.float64(1000.7)
        return repr(value.item() if isinstance(value, np.generic) else value)

    for column in ("start", "end", *(["summit"] if "summit" in table else [])):
        flags = table[column].map(lambda v: isinstance(v, (bool, np.bool_))) if table[column].dtype in (bool, object) \
            else None
        if flags is not None and flags.any():  # verify22: start=True read as 1
            row = int(np.argmax(flags.to_numpy()))
            raise InputError(f"{where(row)}: {column} is {shown(table[column].iloc[row])}, not a position; give "
                             "integers")
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
        if column == "summit":
            values = np.where(pd.isna(table[column]).to_numpy(), -1.0, values)
        bad = ~np.isfinite(values) | (values != np.round(values)) | (np.abs(values) >= 2.0 ** 62)
        if bad.any():
            row = int(np.argmax(bad))
            raise InputError(f"{where(row)}: {column} is {shown(table[column].iloc[row])}, not a whole number; give "
                             f"{column} as integers (0-based{', -1 for none' if column == 'summit' else ''})")
        table[column] = values.astype(np.int64)
    start, end = table["start"].to_numpy(), table["end"].to_numpy()
    for bad, what in ((start < 0, "start is negative ({s}); starts are >= 0"),
                      (start >= end, "start ({s}) >= end ({e}); a region needs start < end (0-based, half-open)")):
        if bad.any():
            row = int(np.argmax(bad))
            raise InputError(f"{where(row)}: " + what.format(s=start[row], e=end[row]))
    if "strand" in table:
        strand = table["strand"].where(table["strand"].notna(), ".")
        bad = ~strand.isin(list(_STRANDS)).to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise InputError(f"{where(row)}: strand is {shown(strand.iloc[row])}; use '+', '-' or '.' (Ensembl's "
                             "1 / -1 are not read as strands: map them to '+' / '-')")
        table["strand"] = strand.map(_STRANDS)
    if "summit" in table:
        summit = table["summit"].to_numpy()
        bad = (summit != -1) & ((summit < start) | (summit >= end))
        if bad.any():
            row = int(np.argmax(bad))
            raise InputError(f"{where(row)}: summit {summit[row]} lies outside its region [{start[row]}, "
                             f"{end[row]}); summit is an absolute 0-based position in the region (narrowPeak's "
                             "column 10 is an offset: add start), or -1 for none")
    for column in ("chrom", "name"):
        if column in table:  # a categorical column too (verify22: its default names were a TypeError)
            table[column] = as_text(table[column]).astype(object)
    return table


def prepare_regions(regions: pd.DataFrame | str, chrom_sizes: dict[str, int], width: int | None) -> pd.DataFrame:
    """Read (if a path), validate against the genome and resize the regions."""
    path = regions if isinstance(regions, (str, os.PathLike)) else "regions"
    table = read_regions(regions) if isinstance(regions, (str, os.PathLike)) else _user_table(regions)
    for column, default in (("name", None), ("strand", "."), ("summit", -1), ("line", 0)):
        if column not in table:
            table[column] = default if column != "name" else (
                table["chrom"] + ":" + table["start"].astype(str) + "-" + table["end"].astype(str))
    table = validate_regions(table, chrom_sizes, str(path))
    if width is not None:
        table = resize_regions(table, width)
        table = table.assign(padded_bp=validate_regions(table, chrom_sizes, str(path))["padded_bp"])
    repeated = table.duplicated(["chrom", "start", "end", "strand"])
    if repeated.any():  # fresh16: 10 repeated lines moved the calls at FDR 0.2 (13 seqlets -> 0)
        row, n = table.loc[repeated].iloc[0], int(repeated.sum())
        where = f"{row['chrom']}:{row['start']}-{row['end']}" + (f", line {row['line']}" if row["line"] else "")
        log.warning("%s: %s an earlier one (same chrom, start, end and strand; first: %s): each copy is attributed "
                    "and tested again, so its calls count twice and the calls' FDR no longer holds; remove the "
                    "repeated lines", path, f"{n} regions repeat" if n > 1 else "1 region repeats", where)
    return table.reset_index(drop=True)


def first_region_difference(table: pd.DataFrame, run: pd.DataFrame) -> tuple[str, int | None] | None:
    """The first row where regions ``table`` (as :func:`prepare_regions` gives them) differ from a run's
    ``regions.tsv`` rows ``run``: ``(what differs, the table's file line or None)``; None when they agree.

    Compared: ``chrom``, ``start``, ``end``, ``name`` and, where ``run`` holds it, ``strand`` (the minus strand's
    attributions are of the reverse complement: a flipped strand is another region).
    """
    if len(table) != len(run):
        return f"{len(table)} regions, the run has {len(run)}", None
    columns = ["chrom", "start", "end", "name"] + (["strand"] if "strand" in run else [])
    new, old = table[columns].astype(str).to_numpy(), run[columns].astype(str).to_numpy()
    differ = np.flatnonzero((new != old).any(axis=1))
    if not differ.size:
        return None
    i = int(differ[0])
    line = int(table["line"].iloc[i]) if "line" in table else 0
    return f"{' '.join(new[i])}, the run has {' '.join(old[i])}", line or None
