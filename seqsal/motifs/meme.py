"""MEME minimal-format motif files (version 4, DNA): :class:`Motif`, reading and writing.

A motif's matrix is ``(4, W)`` with rows ``A, C, G, T`` (the one-hot layout),
columns summing to 1 for a PWM (letter-probability matrix). The format is the
MEME suite's "minimal motif format" (Bailey et al. 2015, *Nucleic Acids Res.*
43:W39), the one TOMTOM, FIMO and memelite read.
"""
from __future__ import annotations

import bz2
import gzip
import logging
import lzma
import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..fasta import compression
from ..io import write_text_atomic

log = logging.getLogger("seqsal")
_SUM_TOLERANCE = 0.02  # a probability row may sum to 1 +- this (rounded files); it is then rescaled to 1


@dataclass
class Motif:
    """A named motif.

    Attributes
    ----------
    identifier, name
        As in the MEME ``MOTIF <identifier> <name>`` line.
    pwm
        ``(4, W)`` letter probabilities (rows A, C, G, T).
    nsites
        Number of sites the matrix was built from (0 if unknown).
    url
        The motif's ``URL`` line, if any ("" otherwise).
    extra
        Other matrices keyed by name (e.g. ``cwm``), ``(4, W)`` each.
    """

    identifier: str
    name: str
    pwm: np.ndarray
    nsites: int = 0
    url: str = ""
    extra: dict = field(default_factory=dict)


def read_meme(path: str | os.PathLike) -> list[Motif]:
    """Read every motif of a MEME minimal-format file (version 4, DNA alphabet).

    Parameters
    ----------
    path
        The file. Each ``MOTIF <identifier> [<name>]`` line is followed by a
        ``letter-probability matrix:`` header (``w=`` and ``nsites=`` are read
        when present) and one row of 4 probabilities (A, C, G, T) per position.

    Returns
    -------
    list of Motif
        In file order; each ``pwm`` is ``(4, W)`` float64.

    Raises
    ------
    InputError
        When the file is missing, empty, compressed with zstd or zip, not text, of another alphabet than DNA
        (``ALPHABET=``, ``alength=``), holds no ``MOTIF``, a ``MOTIF`` line without an identifier or with the
        identifier of an earlier motif, or a motif has no matrix, a row without 4 finite
        numbers, a row that is neither probabilities nor counts (:func:`_probabilities`) or a row count unlike
        its ``w=`` (file and line named). gzip, bzip2 and xz files are read as they are.
    """
    path = str(path)
    lines = _meme_lines(path)
    motifs: list[Motif] = []
    seen: dict[str, int] = {}  # identifier -> its MOTIF line
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("ALPHABET"):
            _check_alphabet(line, path, i + 1)
        if line.startswith("MOTIF"):
            parts = line.split()
            if len(parts) < 2:
                raise InputError("MOTIF line without an identifier", path, i + 1)
            identifier = parts[1]
            if identifier in seen:
                raise InputError(f"motif {identifier} again (first on line {seen[identifier]}): its matches would count "
                                 "twice and every E-value double; give each motif once, or two motifs an identifier "
                                 "each", path, i + 1)
            seen[identifier] = i + 1
            name = parts[2] if len(parts) > 2 else parts[1]
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("letter-probability"):
                if lines[i].strip().startswith("MOTIF"):
                    raise InputError(f"motif {identifier} has no letter-probability matrix", path, i + 1)
                i += 1
            if i == len(lines):
                raise InputError(f"motif {identifier} has no letter-probability matrix", path)
            width, nsites = _matrix_header(lines[i], identifier, path, i + 1)
            rows, row_lines = [], []  # row_lines: the 1-based line of each matrix row
            i += 1
            while i < len(lines) and len(rows) < (width or 10**9):
                text = lines[i].strip()
                if not text:
                    if width == 0 and rows:
                        break
                    i += 1
                    continue
                if text.startswith(("MOTIF", "URL")):
                    break
                try:
                    values = [float(value) for value in text.split()]
                except ValueError:
                    raise InputError(f"motif {identifier}: matrix row {text!r} is not 4 numbers; give the A, C, G, T "
                                     "probabilities of each position, one row per position", path, i + 1) from None
                if len(values) != 4:
                    raise InputError(f"motif {identifier}: matrix row has {len(values)} values, expected 4 (the A, C, G, T "
                                     "probabilities of one position)", path, i + 1)
                rows.append(values)
                row_lines.append(i + 1)
                i += 1
            if width and len(rows) != width:
                raise InputError(f"motif {identifier}: w= {width} but {len(rows)} rows; make w= the number of matrix "
                                 "rows", path, i)
            after = next((k for k in range(i, len(lines)) if lines[k].strip()), None)  # fresh24b: cut short silently
            if width and after is not None and _numbers(lines[after]):
                raise InputError(f"motif {identifier}: w= {width} but more matrix rows follow; make w= the number of "
                                 "matrix rows", path, after + 1)
            url = ""
            if i < len(lines) and lines[i].strip().startswith("URL"):
                url = lines[i].strip()[3:].strip()
                i += 1
            pwm = _probabilities(np.asarray(rows, dtype=np.float64).reshape(-1, 4), identifier, path, row_lines)
            motifs.append(Motif(identifier, name, pwm.T.copy(), nsites, url))
            continue
        i += 1
    if not motifs:
        raise InputError("no MOTIF found; is this a MEME minimal-format file?", path)
    return motifs


_DNA_ALPHABETS = ("ACGT", "ACGU")  # MEME's DNA and RNA alphabets: U read as T
_READERS = {"plain": open, "bgzf": gzip.open, "gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}
_DECOMPRESS = {"zstd": "unzstd", "zip": "unzip"}  # compressions the standard library cannot read


def _meme_lines(path: str) -> list[str]:
    """The text lines of a motif file: plain, or gzip/bzip2/xz-compressed (told from its first bytes by
    :func:`seqsal.fasta.compression`); one-line :class:`InputError` for a missing, empty, zstd/zip or binary file."""
    if not os.path.exists(path):
        raise InputError("motif file not found; check the path", path)
    if os.path.isdir(path):
        raise InputError("is a folder, not a motif file; give a MEME minimal-format file", path)
    kind = compression(path)
    if kind in _DECOMPRESS:
        raise InputError(f"the motif file is compressed with {kind}; decompress it first ({_DECOMPRESS[kind]} "
                         f"{path})", path)
    try:
        with _READERS[kind](path, "rt", encoding="utf-8-sig") as handle:
            text = handle.read()
    except UnicodeDecodeError:
        raise InputError("not a text file (bytes that are not UTF-8 text); give a MEME minimal-format file",
                         path) from None
    except (OSError, EOFError, lzma.LZMAError) as error:
        raise InputError(f"the motif file cannot be read ({error}); check it (and its {kind} compression)"
                         if kind != "plain" else f"the motif file cannot be read ({error})", path) from None
    if not text.strip():
        raise InputError("the motif file is empty (it holds no motif); give a MEME minimal-format file", path)
    return text.splitlines()


def _check_alphabet(line: str, path: str, number: int) -> None:
    """Refuse an ``ALPHABET= <letters>`` line of another alphabet than DNA (or RNA, read as DNA), and a custom
    alphabet definition (``ALPHABET "name" PROTEIN-LIKE``, MEME 5) that is protein-like."""
    text = line[len("ALPHABET"):].strip()
    if text.startswith("="):
        letters = (text[1:].split() or [""])[0].upper()
        if letters not in _DNA_ALPHABETS:
            raise InputError(f"alphabet {letters or '(none)'} is not DNA (ACGT); seqsal compares DNA motifs: give "
                             "a DNA motif file", path, number)
    elif "PROTEIN-LIKE" in text.upper():
        raise InputError("a protein alphabet is not DNA (ACGT); seqsal compares DNA motifs: give a DNA motif file",
                         path, number)


def _matrix_header(line: str, identifier: str, path: str, number: int) -> tuple[int, int]:
    """``w=`` and ``nsites=`` of a ``letter-probability matrix:`` line (0 when absent); refuse an ``alength=``
    other than 4 and values that are not numbers."""
    header = line.replace("=", " = ").split()
    settings = {header[k - 1]: header[k + 1] for k, token in enumerate(header) if token == "=" and k + 1 < len(header)}
    try:
        alength, width = float(settings.get("alength", 4)), float(settings.get("w", 0))
        nsites = float(settings.get("nsites", 0))
    except ValueError:
        raise InputError(f"motif {identifier}: alength=, w= and nsites= must be numbers", path, number) from None
    if alength != 4:
        raise InputError(f"motif {identifier}: alength= {alength:g}, not 4: seqsal compares DNA motifs (A, C, "
                         "G, T)", path, number)
    if not (np.isfinite(width) and width >= 0 and width == int(width)):
        raise InputError(f"motif {identifier}: w= {width:g} is not a whole number of positions", path, number)
    return int(width), int(nsites) if np.isfinite(nsites) and nsites >= 0 else 0


def _numbers(line: str) -> bool:
    """Whether ``line`` is whitespace-separated numbers (a matrix row)."""
    try:
        return bool([float(value) for value in line.split()])
    except ValueError:
        return False


def _probabilities(rows: np.ndarray, identifier: str, path: str, row_lines: list[int]) -> np.ndarray:
    """``(W, 4)`` rows of a letter-probability matrix as probabilities, each summing to 1.

    Rows that sum to 1 within :data:`_SUM_TOLERANCE` are rescaled to exactly 1. A matrix of counts (every
    row sums to more than 1.5: the site counts of a JASPAR ``.jaspar``/``.pfm`` pasted as a MEME matrix,
    e.g. ``95 319 83 503``) is divided by its row sums, with a warning. Anything else is refused.

    Raises
    ------
    InputError
        On a nan, inf or negative entry, a row summing to 0, or rows that are neither probabilities nor counts
        (file and line named).
    """
    if rows.size == 0:
        return rows
    odd = np.flatnonzero(~np.isfinite(rows).all(axis=1))
    if odd.size:
        raise InputError(f"motif {identifier}: a matrix row holds nan or inf; rows are letter probabilities",
                         path, row_lines[int(odd[0])])
    negative = np.flatnonzero((rows < 0).any(axis=1))
    if negative.size:
        raise InputError(f"motif {identifier}: a matrix row has a negative entry; rows are letter probabilities",
                         path, row_lines[int(negative[0])])
    sums = rows.sum(axis=1)
    if (np.abs(sums - 1) <= _SUM_TOLERANCE).all():
        return rows / sums[:, None]
    if (sums > 1.5).all():
        log.warning("%s: motif %s holds counts (rows sum to %.4g-%.4g), not probabilities: each row is divided by "
                    "its sum", path, identifier, sums.min(), sums.max())
        return rows / sums[:, None]
    bad = int(np.flatnonzero(np.abs(sums - 1) > _SUM_TOLERANCE)[0])
    raise InputError(f"motif {identifier}: matrix row sums to {sums[bad]:.4g}, not 1; give letter probabilities "
                     "(or counts, every row summing to the number of sites)", path, row_lines[bad])


def format_meme(motifs: list[Motif], background: tuple[float, float, float, float] = (0.25, 0.25, 0.25, 0.25)) -> str:
    """MEME minimal-format text (version 4) of ``motifs``; probabilities with 6 decimals.

    Parameters
    ----------
    motifs
        Motifs with ``(4, W)`` PWMs (written as ``W`` rows of A, C, G, T).
    background
        Letter frequencies (A, C, G, T) of the ``Background letter frequencies`` line.

    Returns
    -------
    str
        The whole file's text; :func:`read_meme` reads it back.
    """
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "", "Background letter frequencies",
             "A {:.3f} C {:.3f} G {:.3f} T {:.3f}".format(*background), ""]
    for motif in motifs:
        pwm = np.asarray(motif.pwm, dtype=np.float64)
        lines.append(f"MOTIF {motif.identifier} {motif.name}".rstrip())
        lines.append(f"letter-probability matrix: alength= 4 w= {pwm.shape[1]} nsites= {motif.nsites} E= 0")
        lines += [" ".join(f"{value:.6f}" for value in column) for column in pwm.T]
        if motif.url:
            lines.append(f"URL {motif.url}")
        lines.append("")
    return "\n".join(lines)


def write_meme(path: str | os.PathLike, motifs: list[Motif]) -> None:
    """Write ``motifs`` in MEME minimal format (:func:`format_meme`) to ``path``, atomically.

    The text goes to a temporary file renamed to ``path`` when complete
    (:func:`seqsal.io.write_text_atomic`). The format is MEME's "minimal motif format" (version 4, the MEME Suite,
    Bailey et al. 2009), with a uniform background and both strands; :func:`read_meme` reads it back.

    Parameters
    ----------
    path
        File to write; its parent folders are created. An existing file is replaced.
    motifs
        :class:`Motif` objects; each ``pwm`` ``(4, W)`` (rows A, C, G, T) is written as ``W`` rows of letter
        probabilities with 6 decimals, with its ``identifier``, ``name``, ``nsites`` and ``url``. Matrices are
        written as given (not checked or normalised); ``extra`` matrices are not written.

    Raises
    ------
    InputError
        ``path`` is a folder.
    OSError
        The file or its folder cannot be written; ``path`` is then untouched.
    """
    write_text_atomic(path, format_meme(motifs))
