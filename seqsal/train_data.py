"""Training data for ``seqsal train``: labels read from BED/narrowPeak, TSV or bigWig; windows cut from the genome.

Labels
------
* **BED / narrowPeak** with a value column: narrowPeak (10+ columns) uses column 7 (signalValue), a shorter
  BED column 5 (score); ``value_column`` (1-based) chooses another. One task.
* **TSV** with a header line naming ``chrom``, ``start``, ``end`` and one or more numeric task columns (every
  other numeric column, or those named by ``tasks``).
* **bigWig** (``.bw``/``.bigwig``): the mean signal over each region of a BED file given as ``regions``
  (pyBigWig; bases without data count as 0). One task.

Windows
-------
Every region is re-centred to a window of the model's input length ``L`` (its midpoint kept), cut with
``flank`` extra bases on each side (for shift augmentation and shift consistency) and one-hot encoded;
positions off the chromosome are ``N`` (all-zero columns). Coordinates are 0-based, half-open throughout.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .encode import one_hot_encode
from .errors import InputError, option
from .genome import Genome
from .regions import read_regions

_BIGWIG_SUFFIXES = (".bw", ".bigwig", ".bigWig")


@dataclass
class Labels:
    """Regions and their targets.

    Attributes
    ----------
    regions
        ``chrom``, ``start``, ``end`` (0-based, half-open) and ``line`` (1-based, for messages).
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
    """

    regions: pd.DataFrame
    values: np.ndarray
    tasks: list[str]
    path: str
    kind: str = "tsv"
    columns: list[int] | None = None


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
    return value


def _header_line(path: str) -> tuple[int, list[str]] | None:
    """The 1-based number and fields of the first data line when it is a TSV header naming chrom/start/end."""
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw.rstrip("\r\n")
            if not text.strip() or text.startswith(("track", "browser")):
                continue
            fields = [f.strip().lstrip("#").strip().lower() for f in text.split("\t")]
            if fields[:3] == ["chrom", "start", "end"] or {"chrom", "start", "end"} <= set(fields):
                return number, [f.strip().lstrip("#").strip() for f in text.split("\t")]
            if text.startswith("#"):
                continue
            return None
    return None


def _read_tsv(path: str, header: tuple[int, list[str]], tasks: list[str] | None) -> Labels:
    line0, names = header
    lower = [n.lower() for n in names]
    try:
        frame = pd.read_csv(path, sep="\t", skiprows=line0, header=None, names=names, dtype=str,
                            comment=None, skip_blank_lines=True, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise InputError(f"cannot parse the TSV ({str(exc).splitlines()[0]}); give one tab-separated row per "
                         "region under the header", path) from None
    if frame.empty:
        raise InputError("no label rows under the header", path)
    position = {c: names[lower.index(c)] for c in ("chrom", "start", "end")}
    if tasks is None:
        tasks = [n for n, low in zip(names, lower) if low not in ("chrom", "start", "end", "name", "strand")]
    missing = [t for t in tasks if t not in names]
    if missing:
        raise InputError(f"task column(s) {missing} not in the header {names}; name existing columns", path, line0)
    if not tasks:
        raise InputError("the header names no task column besides chrom/start/end; add one value column per task",
                         path, line0)
    lines = np.arange(len(frame)) + line0 + 1
    starts, ends, values = [], [], np.empty((len(frame), len(tasks)), dtype=np.float32)
    for row, line in enumerate(lines):
        start, end = frame[position["start"]].iat[row], frame[position["end"]].iat[row]
        if not (start.isdigit() and end.isdigit()) or int(start) >= int(end):
            raise InputError(f"start/end ({start!r}, {end!r}) are not integers with start < end", path, int(line))
        starts.append(int(start))
        ends.append(int(end))
        for t, task in enumerate(tasks):
            values[row, t] = _float(frame[task].iat[row], path, int(line), names.index(task) + 1, "tsv")
    regions = pd.DataFrame({"chrom": frame[position["chrom"]].to_numpy(dtype=object), "start": starts,
                            "end": ends, "line": lines})
    return Labels(regions, values, list(tasks), path, "tsv", [names.index(task) + 1 for task in tasks])


def _read_bed_values(path: str, value_column: int | None) -> Labels:
    regions = read_regions(path)
    wanted = set(int(x) for x in regions["line"])
    fields_of: dict[int, list[str]] = {}
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        for number, raw in enumerate(handle, start=1):
            if number in wanted:
                text = raw.rstrip("\r\n").rstrip("\t ")
                fields = text.split("\t")
                fields_of[number] = fields if len(fields) >= 3 else text.split()
    values = np.empty((len(regions), 1), dtype=np.float32)
    column = value_column or 5
    for row, line in enumerate(regions["line"]):
        fields = fields_of[int(line)]
        column = value_column or (7 if len(fields) >= 10 else 5)
        if len(fields) < column:
            raise InputError(f"no value in column {column} (the line has {len(fields)} columns); labels need a "
                             "value column: narrowPeak column 7, BED column 5, or --value-column N", path, int(line))
        values[row, 0] = _float(fields[column - 1], path, int(line), column)
    return Labels(regions[["chrom", "start", "end", "line"]].reset_index(drop=True), values, ["value"], path, "bed",
                  [column])


def _read_bigwig(path: str, regions_path: str | None) -> Labels:
    if regions_path is None:
        raise InputError("a bigWig of labels needs the regions to summarise it over; pass --regions regions.bed", path)
    import pyBigWig

    regions = read_regions(regions_path)
    try:
        handle = pyBigWig.open(path)
    except RuntimeError:
        handle = None
    if handle is None or not handle.isBigWig():
        raise InputError("cannot open as a bigWig; give a .bw file (or BED/TSV labels)", path)
    sizes = handle.chroms()
    values = np.zeros((len(regions), 1), dtype=np.float32)
    try:
        for row, region in enumerate(regions.itertuples()):
            if region.chrom not in sizes:
                continue  # no signal on this chromosome: 0
            end = min(int(region.end), int(sizes[region.chrom]))
            if end > region.start:
                signal = np.nan_to_num(np.asarray(handle.values(region.chrom, int(region.start), end), dtype=np.float64))
                values[row, 0] = float(signal.sum() / (region.end - region.start))
    finally:
        handle.close()
    return Labels(regions[["chrom", "start", "end", "line"]].reset_index(drop=True), values, ["signal"], path,
                  "bigwig")


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

    Raises
    ------
    InputError
        A missing file, a malformed line (named), a non-numeric value or an unknown task column.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise InputError("labels file not found; pass a BED/narrowPeak with a value column, a TSV or a bigWig", path)
    if path.endswith(_BIGWIG_SUFFIXES):
        return _read_bigwig(path, None if regions is None else str(regions))
    header = _header_line(path)
    if header is not None:
        return _read_tsv(path, header, tasks)
    if tasks:
        raise InputError("--tasks needs a TSV with a header line (chrom, start, end, task columns)", path)
    return _read_bed_values(path, value_column)


def split_chromosomes(chroms: np.ndarray, valid: list[str], test: list[str], path: str = "labels") -> dict[str, np.ndarray]:
    """Boolean masks ``train``/``valid``/``test`` over the regions, by chromosome.

    Raises
    ------
    InputError
        When a chromosome is named as both validation and test, or a split would be empty.
    """
    both = sorted(set(valid) & set(test))
    if both:
        raise InputError(f"{both} named in both --valid-chroms and --test-chroms; a chromosome goes in one split")
    in_valid, in_test = np.isin(chroms, valid), np.isin(chroms, test)
    split = {"train": ~(in_valid | in_test), "valid": in_valid, "test": in_test}
    for name, chosen in (("train", split["train"]), ("valid", split["valid"])):
        if not chosen.any():
            present = sorted(set(chroms))[:8]
            raise InputError(f"no {name} regions (chromosomes in the labels: {present}); choose --valid-chroms/"
                             "--test-chroms among them and leave some for training", path)
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
                             f"nothing to go by; choose validation chromosomes where the labels vary", labels.path)


def window_starts(regions: pd.DataFrame, length: int) -> np.ndarray:
    """Start of the ``length``-bp window centred on each region's midpoint ``(start + end) // 2``."""
    centres = (regions["start"].to_numpy(np.int64) + regions["end"].to_numpy(np.int64)) // 2
    return centres - length // 2


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


def read_mask_spec(spec: str) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Parse ``--mask-prior exclude.bed[,include.bed]`` into the M- and M+ interval tables.

    An empty first part (``,include.bed``) gives M+ only.
    """
    parts = spec.split(",")
    if len(parts) > 2 or not any(parts):
        raise InputError(f"--mask-prior {spec!r}: give EXCLUDE.bed or EXCLUDE.bed,INCLUDE.bed")
    exclude = read_regions(parts[0]) if parts[0] else None
    include = read_regions(parts[1]) if len(parts) == 2 and parts[1] else None
    return exclude, include


def crop(x: np.ndarray, offsets: np.ndarray, length: int) -> np.ndarray:
    """``x[i, ..., offsets[i]:offsets[i] + length]`` for each sample (shift augmentation)."""
    index = offsets[:, None] + np.arange(length)[None, :]
    if x.ndim == 3:
        return np.take_along_axis(x, np.broadcast_to(index[:, None, :], (len(x), x.shape[1], length)), axis=2)
    return np.take_along_axis(x, index, axis=1)
