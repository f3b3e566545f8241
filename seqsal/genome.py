"""FASTA access through pyfaidx: chromosome sizes, bounds-safe fetching with N padding."""
from __future__ import annotations

import os
from pathlib import Path

import pyfaidx

from .errors import InputError


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
        try:
            self._fasta = pyfaidx.Fasta(
                self.path, as_raw=True, sequence_always_upper=False, rebuild=True, build_index=True
            )
        except pyfaidx.FastaIndexingError as exc:
            raise InputError(
                f"cannot index FASTA ({exc}); check that every line of a sequence has the same length",
                self.path,
            ) from None
        except ValueError as exc:
            if "Duplicate key" in str(exc):
                raise InputError(
                    f"duplicate sequence name in FASTA ({exc}); give every sequence a unique name",
                    self.path,
                ) from None
            raise InputError(f"cannot read FASTA: {exc}", self.path) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"cannot read FASTA or write its index ({exc}); make the file readable and its folder writable",
                self.path,
            ) from None
        self.chrom_sizes: dict[str, int] = {
            name: int(record.rlen) for name, record in self._fasta.faidx.index.items()
        }

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Sequence of ``chrom:[start, end)``, padded with ``N`` outside the chromosome."""
        size = self.chrom_sizes[chrom]
        inner_start, inner_end = max(start, 0), min(end, size)
        if inner_end <= inner_start:
            return "N" * (end - start)
        sequence = self._fasta[chrom][inner_start:inner_end]
        return "N" * (inner_start - start) + sequence + "N" * (end - inner_end)

    def close(self) -> None:
        self._fasta.close()

    def __enter__(self) -> "Genome":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
