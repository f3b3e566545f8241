"""Training data for ``seqsal train``: labels read from BED/narrowPeak, TSV or bigWig; windows cut from the genome.

Labels
------
* **BED / narrowPeak** with a value column: narrowPeak (10+ columns) uses column 7 (signalValue), a shorter
  BED column 5 (score); ``value_column`` (1-based) chooses another. One task.
* **TSV** with a tab-separated header line naming ``chrom``, ``start``, ``end`` and one or more numeric task
  columns (every other numeric column, or those named by ``tasks``); every row has one value per header column;
  blank and ``#`` lines are skipped.
* **bigWig** (``.bw``/``.bigwig``): the mean signal over each region of a BED file given as ``regions``
  (pyBigWig; bases without data count as 0; a chromosome of the regions missing from the bigWig is refused). One
  task.

BED, narrowPeak and TSV files may be gzipped (opened as :func:`seqsal.read_regions` opens a BED). The labels, mask
BEDs and a bigWig's chromosome sizes are checked against the genome by :func:`check_labels_on_genome` and
:func:`read_mask_spec` with the genome's chromosome sizes: every interval must lie on a chromosome of the genome.

Windows
-------
Every region is re-centred to a window of the model's input length ``L`` (its midpoint kept), cut with
``flank`` extra bases on each side (for shift augmentation and shift consistency) and one-hot encoded;
positions off the chromosome are ``N`` (all-zero columns). Coordinates are 0-based, half-open throughout.
"""
from __future__ import annotations

import gzip
import logging
import os
import zlib
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pandas as pd

from .encode import one_hot_encode
from .errors import InputError, option
from .genome import Genome
from .regions import is_number, open_table_text, read_regions, validate_regions
from .text import plural

_BIGWIG_SUFFIXES = (".bw", ".bigwig")  # compared in lower case
_COORDINATES = ("chrom", "start", "end")


def _bigwig_magic(path: str) -> bool:
    """Whether the file starts with the bigWig magic number (0x888FFC26, either byte order), whatever its name."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    return head in (bytes.fromhex("26fc8f88"), bytes.fromhex("888ffc26"))


@dataclass
class Labels:
    """Regions and their targets.

    Attributes
    ----------
    regions
        ``chrom``, ``start``, ``end`` (0-based, half-open), ``strand`` (``+``, ``-`` or ``.``: a ``-`` region is
        trained on the reverse complement of its window, as ``seqsal attribute`` reads it; BED column 6 or a TSV's
        ``strand`` column, else ``.``) and ``line`` (1-based, for messages).
    values
        ``(N, T)`` float32 targets.
    tasks
        The ``T`` task names.
    path
        The file they came from.
    kind
        Its format: ``bed`` (one value column), ``tsv`` (task columns under a header) or ``bigwig``.
    columns
        The 1-based column of each task in the file (``None`` for a bigWig), for messages.
    regions_path
        The file whose lines ``regions["line"]`` numbers: the BED of ``regions`` for a bigWig; ``None``: ``path``.
    source_sizes
        A bigWig's chromosome sizes (bp), checked against the genome's by :func:`check_labels_on_genome`.
    """

    regions: pd.DataFrame
    values: np.ndarray
    tasks: list[str]
    path: str
    kind: str = "tsv"
    columns: list[int] | None = None
    regions_path: str | None = None
    source_sizes: dict[str, int] | None = None


def _float(text: str, path: str, line: int, column: int, kind: str = "bed") -> float:
    try:
        value = float(text)
    except ValueError:
        way_out = (f"or choose the column with {option('value_column')}" if kind == "bed" else
                   f"every task column needs a number on every row, or leave the column out with {option('tasks')}")
        raise InputError(f"column {column} is {text!r}, not a number; give the label value there ({way_out})",
                         path, line) from None
    if not np.isfinite(value):
        raise InputError(f"column {column} is {text!r}; labels must be finite numbers", path, line)
    if not np.isfinite(np.float32(value)):  # trainbreak: 1e39 became inf in float32, then "training diverged"
        raise InputError(f"column {column} is {text!r}, beyond the float32 range labels are trained in (about "
                         "+-3.4e38); scale the labels", path, line)
    return value


def _lines(path: str) -> Iterator[tuple[int, str]]:
    """The 1-based number and text (line ending dropped) of each line of a plain or gzipped file, opened as
    :func:`seqsal.read_regions` opens it (so that line numbers agree with the regions it reads)."""
    try:
        with open_table_text(path) as handle:
            for number, raw in enumerate(handle, start=1):
                yield number, raw.rstrip("\r\n")
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"gzip file is truncated or corrupt ({exc}); re-create or re-download it", path) from None


def _header_line(path: str) -> tuple[int, list[str]] | None:
    """The 1-based number and fields of the first data line when it is a TSV header naming chrom/start/end;
    ``None`` for a BED (its first data line has coordinates in columns 2 and 3).

    Raises
    ------
    InputError
        A first line that names columns but not as a labels TSV's header does (space-separated, or without one
        of chrom, start, end), rather than reading it as a BED line with the coordinate ``'start'``.
    """
    for number, text in _lines(path):
        if not text.strip() or text.startswith(("track", "browser")):
            continue
        names = [f.strip().lstrip("#").strip() for f in text.split("\t")]
        if set(_COORDINATES) <= {name.lower() for name in names}:
            return number, names
        if text.startswith("#"):
            continue
        words = text.split()
        if len(words) < 3 or is_number(words[1]) or is_number(words[2]):
            return None  # a BED line: read_regions checks it
        lower = [word.lstrip("#").lower() for word in words]
        if set(_COORDINATES) <= set(lower):
            raise InputError("the header is separated by spaces; a labels TSV is tab-separated (a tab between the "
                             "columns of the header and of every row: chrom, start, end, then one column per task)",
                             path, number)
        missing = [c for c in _COORDINATES if c not in lower]
        if len(missing) == 3:
            raise InputError(f"the first line is neither a BED line (columns 2 and 3, {words[1][:20]!r} and "
                             f"{words[2][:20]!r}, are not coordinates) nor a labels TSV header (tab-separated: chrom, "
                             "start, end, then one column per task); give a BED/narrowPeak with a value column, a "
                             "TSV or a bigWig", path, number)
        rename = f"; rename {words[0]!r} to 'chrom'" if missing == ["chrom"] else ""
        raise InputError(f"the header ({' '.join(words[:6])}{' ...' if len(words) > 6 else ''}) has no column named "
                         f"{' or '.join(repr(m) for m in missing)}: a labels TSV starts with a tab-separated header "
                         f"chrom, start, end, then one column per task{rename} (a BED of labels has no header)",
                         path, number)
    return None


def _check_header(names: list[str], path: str, line: int) -> None:
    """Refuse a TSV header with an empty or repeated column name (chrom/start/end compared without case)."""
    seen: dict[str, int] = {}
    for column, name in enumerate(names, start=1):
        if not name:
            raise InputError(f"column {column} of the header has no name; name every column (chrom, start, end, "
                             "then one per task)", path, line)
        key = name.lower() if name.lower() in _COORDINATES else name
        if key in seen:
            raise InputError(f"the header names the column {name!r} twice (columns {seen[key]} and {column}); give "
                             "each column its own name", path, line)
        seen[key] = column


def _read_tsv(path: str, header: tuple[int, list[str]], tasks: list[str] | None) -> Labels:
    line0, names = header
    while names and not names[-1]:  # trailing tabs
        names = names[:-1]
    _check_header(names, path, line0)
    lower = [n.lower() for n in names]
    at = {c: lower.index(c) for c in _COORDINATES}
    if tasks is None:
        tasks = [n for n, low in zip(names, lower) if low not in ("chrom", "start", "end", "name", "strand")]
    missing = [t for t in tasks if t not in names]
    if len(set(tasks)) < len(tasks) or {t.lower() for t in tasks} & set(_COORDINATES):
        raise InputError(f"{option('tasks', ','.join(tasks))}: name each task column once, and none of chrom, "
                         "start, end",
                         path, line0)
    if missing:
        raise InputError(f"task column(s) {missing} not in the header {names}; name existing columns", path, line0)
    if not tasks:
        raise InputError("the header names no task column besides chrom/start/end; add one value column per task",
                         path, line0)
    columns = [names.index(task) for task in tasks]
    chroms: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    lines: list[int] = []
    strands: list[str] = []
    rows: list[list[float]] = []
    for line, text in _lines(path):
        if line <= line0 or not text.strip() or text.startswith("#"):
            continue
        fields = text.split("\t")
        while len(fields) > len(names) and not fields[-1].strip():  # trailing tabs
            fields.pop()
        if len(fields) != len(names):
            raise InputError(f"the row has {plural(len(fields), 'tab-separated column')}, the header (line {line0}) "
                             f"{len(names)}; give every row one tab-separated value per header column", path, line)
        start, end = fields[at["start"]].strip(), fields[at["end"]].strip()
        if not (start.isdigit() and end.isdigit()) or int(start) >= int(end) or int(end) >= 1 << 63:
            raise InputError(f"start/end ({start!r}, {end!r}) are not integers with start < end (positions on a "
                             "chromosome, within 64 bits)", path, line)
        strand = fields[lower.index("strand")].strip() if "strand" in lower else "."
        if strand not in ("+", "-", "."):  # fresh31: a strand column was ignored, - regions trained on the + strand
            raise InputError(f"strand {strand!r} is not '+', '-' or '.'", path, line)
        strands.append(strand)
        chroms.append(fields[at["chrom"]])
        starts.append(int(start))
        ends.append(int(end))
        lines.append(line)
        rows.append([_float(fields[c], path, line, c + 1, "tsv") for c in columns])
    if not rows:
        raise InputError("no label rows under the header", path)
    chrom_array = np.empty(len(chroms), dtype=object)
    chrom_array[:] = chroms
    regions = pd.DataFrame({"chrom": chrom_array, "start": np.array(starts, np.int64),
                            "end": np.array(ends, np.int64), "strand": strands, "line": np.array(lines, np.int64)})
    return Labels(regions, np.array(rows, dtype=np.float32).reshape(len(rows), len(tasks)), list(tasks), path,
                  "tsv", [c + 1 for c in columns])


def _read_bed_values(path: str, value_column: int | None) -> Labels:
    regions = read_regions(path)
    wanted = set(int(x) for x in regions["line"])
    fields_of: dict[int, list[str]] = {}
    for number, raw in _lines(path):
        if number in wanted:
            text = raw.rstrip("\t ").rstrip("\r")
            fields = text.split("\t")
            fields_of[number] = fields if len(fields) >= 3 else text.split()
    values = np.empty((len(regions), 1), dtype=np.float32)
    column = value_column or 5
    for row, line in enumerate(regions["line"]):
        fields = fields_of[int(line)]
        column = value_column or (7 if len(fields) >= 10 else 5)
        if value_column is None and len(fields) == 12:  # BED12 (read_regions checked its blocks): no value column
            raise InputError("a BED12 line (blocks in columns 10-12), not a narrowPeak: its column 7 is thickStart, "
                             f"not a value; give the label column with {option('value_column')} N", path, int(line))
        if len(fields) < column:
            raise InputError(f"no value in column {column} (the line has {len(fields)} columns); labels need a "
                             f"value column: narrowPeak column 7, BED column 5, or {option('value_column')} N", path,
                             int(line))
        values[row, 0] = _float(fields[column - 1], path, int(line), column)
    return Labels(regions[["chrom", "start", "end", "strand", "line"]].reset_index(drop=True), values, ["value"], path,
                  "bed",
                  [column])


def log_label_source(labels: Labels) -> None:
    """Log which column of a BED of labels is the value (fresh24b: a TSV without its header line was read as a
    BED, its score column the one task, silently); nothing for a TSV or a bigWig. Called once the labels passed
    their checks, so that a refusal stays one line."""
    if labels.kind != "bed":
        return
    column = labels.columns[0]
    where = f"column {column}" + {7: " (narrowPeak's signalValue)", 5: " (BED's score)"}.get(column, "")
    logging.getLogger("seqsal").info("labels: %s is read as a BED, one task 'value' from %s; a TSV of labels starts "
                                     "with a header line naming its columns (chrom start end TASK...)", labels.path,
                                     where)


def _read_bigwig(path: str, regions_path: str | None) -> Labels:
    if regions_path is None:
        raise InputError("a bigWig of labels needs the regions to summarise it over; pass "
                         f"{option('regions', 'regions.bed')}", path)
    import pyBigWig

    regions = read_regions(regions_path)
    try:
        handle = pyBigWig.open(path)
    except RuntimeError:
        handle = None
    if handle is None or not handle.isBigWig():
        raise InputError("cannot open as a bigWig; give a .bw file (or BED/TSV labels)", path)
    values = np.zeros((len(regions), 1), dtype=np.float32)
    try:
        sizes = {str(chrom): int(size) for chrom, size in handle.chroms().items()}
        absent = ~regions["chrom"].isin(list(sizes)).to_numpy()
        if absent.any():
            row = regions.iloc[int(np.argmax(absent))]
            held = ", ".join(list(sizes)[:5]) + (", ..." if len(sizes) > 5 else "")
            raise InputError(f"chromosome {row['chrom']!r} is not in the bigWig {path} (it has {held}), so its "
                             f"regions would read as signal 0; give a bigWig that covers {row['chrom']} (made on this "
                             f"genome), or leave its regions out of {option('regions')}", regions_path,
                             int(row["line"]))
        for row, region in enumerate(regions.itertuples()):
            end = min(int(region.end), sizes[region.chrom])  # a region past the end: check_labels_on_genome refuses
            if end > region.start:
                signal = np.nan_to_num(np.asarray(handle.values(region.chrom, int(region.start), end), np.float64))
                values[row, 0] = float(signal.sum() / (region.end - region.start))
    finally:
        handle.close()
    return Labels(regions[["chrom", "start", "end", "strand", "line"]].reset_index(drop=True), values, ["signal"], path,
                  "bigwig", regions_path=regions_path, source_sizes=sizes)


def read_labels(path: str | os.PathLike, tasks: list[str] | None = None, value_column: int | None = None,
                regions: str | os.PathLike | None = None) -> Labels:
    """Read training labels (see the module docstring for the formats).

    Parameters
    ----------
    path
        BED/narrowPeak with a value column, TSV with a ``chrom start end task...`` header, or bigWig.
    tasks
        TSV only: the task columns to use (default every other numeric column).
    value_column
        BED only: 1-based column of the value.
    regions
        bigWig only: the BED of regions to summarise the signal over.

    Returns
    -------
    Labels
        Read as the file says; whether its regions lie on the genome is :func:`check_labels_on_genome`'s check.

    Raises
    ------
    InputError
        A missing file, a compression other than gzip, a malformed line or header (named), a non-numeric value,
        an unknown task column, or a bigWig without a chromosome of the regions.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise InputError("labels file not found; pass a BED/narrowPeak with a value column, a TSV or a bigWig", path)
    bigwig = path.lower().endswith(_BIGWIG_SUFFIXES) or _bigwig_magic(path)  # trainbreak: sig.BW read as text
    header = None if bigwig else _header_line(path)
    kind = "a bigWig" if bigwig else "a TSV of labels" if header is not None else "a BED of labels"
    for given, flag, applies in ((tasks, "--tasks", header is not None), (value_column, "--value-column",
                                                                          not bigwig and header is None),
                                 (regions, "--regions", bigwig)):
        if given and not applies:  # trainbreak: ignored without a word
            raise InputError(f"{flag} does not apply to {kind}; leave it out", path)
    if bigwig:
        return _read_bigwig(path, None if regions is None else str(regions))
    if header is not None:
        return _read_tsv(path, header, tasks)
    return _read_bed_values(path, value_column)


def split_chromosomes(chroms: np.ndarray, valid: list[str], test: list[str], path: str = "labels") -> dict[str, np.ndarray]:
    """Boolean masks ``train``/``valid``/``test`` over the regions, by chromosome.

    Raises
    ------
    InputError
        When a chromosome is named as both validation and test, a named one holds no labelled region, or a split
        would be empty.
    """
    both = sorted(set(valid) & set(test))
    if both:
        raise InputError(f"{both} named in both {option('valid_chroms')} and {option('test_chroms')}; a chromosome "
                         "goes in one split")
    present = set(np.unique(chroms).tolist())
    for flag, names in ((option("valid_chroms"), valid), (option("test_chroms"), test)):
        absent = [name for name in names if name not in present]
        if absent:  # a typo would put the chromosome's windows in training, silently
            raise InputError(f"{flag} names {', '.join(absent)}, on which no labelled region lies (chromosomes in "
                             f"the labels: {sorted(present)[:8]}); check the name{'s' if len(absent) > 1 else ''}",
                             path)
    in_valid, in_test = np.isin(chroms, valid), np.isin(chroms, test)
    split = {"train": ~(in_valid | in_test), "valid": in_valid, "test": in_test}
    for name, chosen in (("train", split["train"]), ("valid", split["valid"])):
        if not chosen.any():
            present = sorted(set(chroms))[:8]
            raise InputError(f"no {name} regions (chromosomes in the labels: {present}); choose "
                             f"{option('valid_chroms')}/{option('test_chroms')} among them and leave some for "
                             "training", path)
    return split


def check_label_spread(labels: Labels, split: dict[str, np.ndarray], valid_chroms: list[str]) -> None:
    """Refuse a task whose labels are one value throughout the training (or the validation) windows.

    A model fitted to a constant learns nothing, and on constant validation labels the validation score (Pearson
    r, AUROC) is undefined, so early stopping keeps the untrained weights: both would otherwise "succeed".

    Parameters
    ----------
    labels
        The labels (:func:`read_labels`); ``values`` ``(N, T)``.
    split
        Boolean masks ``train``, ``valid`` (and ``test``, not checked: its metrics are only reported) over the
        ``N`` regions (:func:`split_chromosomes`).
    valid_chroms
        The validation chromosomes, for the message.

    Raises
    ------
    InputError
        Naming the file, the column (or the bigWig's signal), the value and what to do for this kind of file.
    """
    advice = {
        "bed": f"choose the column that holds the signal with {option('value_column')}=N (narrowPeak column 7 is "
               "signalValue, 0 in some peak files; column 5 is the score)",
        "tsv": f"give that column values that vary, or leave it out with {option('tasks')}",
        "bigwig": f"check that the regions of {option('regions')} overlap the signal (bases without data count as 0)",
    }[labels.kind]
    for name, words in (("train", "training windows"), ("valid", "validation windows")):
        chosen = split.get(name)
        if chosen is None or not chosen.any():
            continue
        values = labels.values[chosen]
        for t, task in enumerate(labels.tasks):
            if values[:, t].min() != values[:, t].max():
                continue
            where = (f"the mean signal ({task})" if labels.columns is None else
                     f"column {labels.columns[t]}" + (f" ({task})" if labels.kind == "tsv" else ""))
            if name == "train":
                raise InputError(f"{where} is {values[0, t]:g} in all {len(values)} {words}: labels that do not vary "
                                 f"teach the model nothing; {advice}", labels.path)
            raise InputError(f"{where} is {values[0, t]:g} in all {len(values)} {words} ({option('valid_chroms')} "
                             f"{','.join(valid_chroms)}): the validation score is undefined, so early stopping has "
                             f"nothing to go by; choose validation chromosomes where the labels vary"
                             + (f", or leave {task} out with {option('tasks')}" if len(labels.tasks) > 1 else ""),
                             labels.path)


def minus_strand(regions: pd.DataFrame) -> np.ndarray:
    """``(N,)`` bool: the regions on the ``-`` strand (none where ``regions`` has no ``strand`` column, as a
    :class:`Labels` built in a notebook before strands were read; review31)."""
    if "strand" not in regions:
        return np.zeros(len(regions), dtype=bool)
    return regions["strand"].astype(str).to_numpy() == "-"


def moved_windows(regions: pd.DataFrame, length: int) -> bool:
    """Whether :func:`window_starts` places any window one base off where seqsal before session 31 placed it
    (``(start + end) // 2 - length // 2``: a region of odd size shorter than an even ``length``): a checkpoint
    written before must not resume on moved windows."""
    size = regions["end"].to_numpy(np.int64) - regions["start"].to_numpy(np.int64)
    return bool(length % 2 == 0 and ((size < length) & (size % 2 == 1)).any())  # else both formulas agree


def window_starts(regions: pd.DataFrame, length: int) -> np.ndarray:
    """Start of the ``length``-bp window of each region: a shorter region widened as ``seqsal attribute`` widens it
    (:func:`seqsal.regions.fetch_span`: ``start - (length - size) // 2``, so that the model is explained on the window
    it was trained on; fresh31: odd-length regions were one base apart), a longer one cut to the window centred on
    its midpoint ``(start + end) // 2``."""
    start, end = regions["start"].to_numpy(np.int64), regions["end"].to_numpy(np.int64)
    return np.where(end - start < length, start - (length - (end - start)) // 2, (start + end) // 2 - length // 2)


def encode_windows(genome: Genome, chroms: np.ndarray, starts: np.ndarray, width: int,
                   path: str = "labels", lines: np.ndarray | None = None) -> np.ndarray:
    """One-hot ``(N, 4, width)`` float32 of ``chrom:[start, start + width)``; off-chromosome and ``N`` are zeros.

    Raises
    ------
    InputError
        A chromosome that the genome does not hold (named with the labels line).
    """
    out = np.zeros((len(starts), 4, width), dtype=np.float32)
    for i, (chrom, start) in enumerate(zip(chroms, starts)):
        if chrom not in genome.chrom_sizes:
            known = list(genome.chrom_sizes)[:5]
            raise InputError(f"chromosome {chrom!r} is not in the genome (it has {known}...); use the genome's "
                             "chromosome names", path, None if lines is None else int(lines[i]))
        out[i] = one_hot_encode(genome.fetch(chrom, int(start), int(start) + width))
    return out


def interval_masks(intervals: pd.DataFrame, chroms: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """Boolean ``(N, width)``: which bases of each window ``chrom:[start, start + width)`` an interval covers.

    Parameters
    ----------
    intervals
        ``chrom``, ``start``, ``end`` (a BED read by :func:`seqsal.regions.read_regions`).
    """
    masks = np.zeros((len(starts), width), dtype=bool)
    by_chrom = {c: g[["start", "end"]].to_numpy(np.int64) for c, g in intervals.groupby("chrom", sort=False)}
    for i, (chrom, start) in enumerate(zip(chroms, starts)):
        spans = by_chrom.get(chrom)
        if spans is None:
            continue
        hits = spans[(spans[:, 1] > start) & (spans[:, 0] < start + width)]
        for lo, hi in hits:
            masks[i, max(lo - start, 0):min(hi - start, width)] = True
    return masks


def read_mask_spec(spec: str, chrom_sizes: dict[str, int] | None = None
                   ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Parse ``--mask-prior exclude.bed[,include.bed]`` into the M- and M+ interval tables.

    An empty first part (``,include.bed``) gives M+ only.

    Parameters
    ----------
    spec
        ``EXCLUDE.bed``, ``EXCLUDE.bed,INCLUDE.bed`` or ``,INCLUDE.bed`` (plain or gzipped BEDs).
    chrom_sizes
        The genome's chromosome sizes (bp): every interval must lie on them (:func:`check_on_chromosomes`).
        ``None``: not checked.

    Raises
    ------
    InputError
        A malformed spec (one file as both parts) or BED line, or (with ``chrom_sizes``) an interval off the genome,
        with its file and line.
    """
    parts = spec.split(",")
    if len(parts) > 2 or not any(parts):
        raise InputError(f"{option('mask_prior')} {spec!r}: give EXCLUDE.bed or EXCLUDE.bed,INCLUDE.bed")
    if len(parts) == 2 and parts[0] and os.path.realpath(parts[0]) == os.path.realpath(parts[1]):
        raise InputError(f"{option('mask_prior')} {spec!r}: one file as both the bases that must not matter and "
                         "those that should; give two different BEDs")  # trainbreak: accepted, terms pulling both ways
    tables: list[pd.DataFrame | None] = []
    for part in (parts[0], parts[1] if len(parts) == 2 else ""):
        if not part:
            tables.append(None)
            continue
        table = read_regions(part)
        if chrom_sizes is not None:
            check_on_chromosomes(table, chrom_sizes, part)
        tables.append(table)
    return tables[0], tables[1]


def check_on_chromosomes(intervals: pd.DataFrame, chrom_sizes: dict[str, int], path: str) -> None:
    """Refuse an interval that is not wholly on the genome: its chromosome missing, or its end past the
    chromosome's.

    Unlike the regions of ``seqsal attribute`` (read as ``N`` past a chromosome end), a label or mask interval past
    the end describes bases the genome does not have: a file made on another genome build.

    Parameters
    ----------
    intervals
        ``chrom``, ``start``, ``end`` (0-based, half-open) and ``line`` (1-based, for the message).
    chrom_sizes
        The genome's chromosome sizes (bp).
    path
        The file the intervals (and their lines) come from.

    Raises
    ------
    InputError
        For the first interval off the genome, with ``path:line``: the message of
        :func:`seqsal.regions.validate_regions` for a missing chromosome (with a hint when only ``chr`` differs)
        or a start beyond the end; else the end past the chromosome's.
    """
    validate_regions(intervals, chrom_sizes, path)
    sizes = intervals["chrom"].map(chrom_sizes).to_numpy(dtype=np.int64)
    past = intervals["end"].to_numpy(dtype=np.int64) > sizes
    if past.any():
        row = intervals.iloc[int(np.argmax(past))]
        raise InputError(f"region ends at {row['end']}, past the end of {row['chrom']} ({chrom_sizes[row['chrom']]} "
                         "bp); is this file for another genome build? (clip the line to the chromosome or drop it)",
                         path, int(row["line"]))


def check_labels_on_genome(labels: Labels, chrom_sizes: dict[str, int]) -> None:
    """Refuse labels that do not fit the genome: a region off its chromosomes (:func:`check_on_chromosomes`), or a
    bigWig whose size of a chromosome of the regions differs from the genome's (made on another build).

    Parameters
    ----------
    labels
        From :func:`read_labels`.
    chrom_sizes
        The genome's chromosome sizes (bp), e.g. :attr:`seqsal.genome.Genome.chrom_sizes`.

    Raises
    ------
    InputError
        Naming the file and line of the region, or the bigWig, the chromosome and both sizes.
    """
    for chrom in pd.unique(labels.regions["chrom"]) if labels.source_sizes else ():
        size, genome_size = labels.source_sizes.get(chrom), chrom_sizes.get(chrom)
        if size is not None and genome_size is not None and size != genome_size:
            raise InputError(f"the bigWig's {chrom} is {size} bp, the genome's {chrom} {genome_size} bp: the bigWig "
                             "was made on another genome build; give a bigWig made on this genome", labels.path)
    check_on_chromosomes(labels.regions, chrom_sizes, labels.regions_path or labels.path)


def crop(x: np.ndarray, offsets: np.ndarray, length: int) -> np.ndarray:
    """``x[i, ..., offsets[i]:offsets[i] + length]`` for each sample (shift augmentation)."""
    index = offsets[:, None] + np.arange(length)[None, :]
    if x.ndim == 3:
        return np.take_along_axis(x, np.broadcast_to(index[:, None, :], (len(x), x.shape[1], length)), axis=2)
    return np.take_along_axis(x, index, axis=1)
