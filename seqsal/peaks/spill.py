"""Spilling the peak caller's candidates to an unnamed scratch file, so that what it holds does not grow with them.

The observed tests with ``p <= fdr`` (:data:`WINDOW_RECORD`) and the candidate elements
(:data:`seqsal.peaks.elements.ELEMENT_RECORD`) are appended in parts to a scratch file in the run folder
(:class:`Spill`; unnamed, so it is gone when closed or when the process ends) and read back in order
(:meth:`Spill.parts`) or by increasing rows (:class:`RowCursor`); only their p-values stay in memory, for the
Benjamini-Hochberg step (:func:`sign_passing_qvalues`, :func:`lookup_sign_qvalues`).
"""
from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np

from .stats import sorted_qvalues

# a kept test (p <= fdr) as spilled: exact (rows, starts and widths fit int32; statistic and p as computed)
WINDOW_RECORD = np.dtype([("row", "<i4"), ("start", "<i4"), ("width", "<i4"), ("sign", "i1"),
                          ("statistic", "<f8"), ("pvalue", "<f8")])


def _scratch_file(folder: str | os.PathLike | None) -> BinaryIO:
    """An unnamed scratch file in ``folder`` (gone when closed or when the process ends: nothing is left behind
    and no output file's atomic write can meet it), the system's temporary folder where ``folder`` cannot hold
    one, or memory (``folder`` ``None``)."""
    if folder is None:
        return io.BytesIO()
    try:
        return tempfile.TemporaryFile(dir=folder, prefix=".seqsal-scratch-")
    except OSError:  # a read-only run folder (calls not written)
        return tempfile.TemporaryFile(prefix="seqsal-scratch-")


class Spill:
    """Structured records appended in parts to a scratch file and read back in the same order.

    Holds in memory only the count and the smallest ``row`` of each part (parts are the tests of one chunk of
    rows and one sign, so their number grows with the chunks, not with the records). A context manager: the
    scratch file is closed (and so removed) on leaving.

    Parameters
    ----------
    dtype
        The records' structured dtype; it has a ``row`` field.
    folder
        Where the scratch file lies (see :func:`_scratch_file`; ``None``: memory).
    """

    def __init__(self, dtype: np.dtype, folder: str | os.PathLike | None = None):
        self.dtype = np.dtype(dtype)
        self.handle = _scratch_file(folder)
        self.counts: list[int] = []
        self.lows: list[int] = []

    def __enter__(self) -> "Spill":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.handle.close()

    def __len__(self) -> int:
        return sum(self.counts)

    def append(self, records: np.ndarray) -> None:
        """Write ``records`` ``(n,)`` of :attr:`dtype` as one part (nothing for ``n == 0``)."""
        if records.shape[0]:
            self.handle.seek(0, os.SEEK_END)
            self.handle.write(np.ascontiguousarray(records, dtype=self.dtype).tobytes())
            self.counts.append(int(records.shape[0]))
            self.lows.append(int(records["row"].min()))

    def parts(self) -> Iterator[np.ndarray]:
        """The parts, in the order written."""
        self.handle.seek(0)
        for count in self.counts:
            yield np.frombuffer(self.handle.read(count * self.dtype.itemsize), dtype=self.dtype)

    def column(self, name: str) -> np.ndarray:
        """One field of every record ``(n,)``, in the order written (one array: the parts are read one by one)."""
        out = np.empty(len(self), self.dtype[name])
        at = 0
        for part in self.parts():
            out[at:at + part.shape[0]] = part[name]
            at += part.shape[0]
        return out

    def by_rows(self) -> "RowCursor":
        """A reader of the records by increasing rows (:class:`RowCursor`)."""
        return RowCursor(self)


class RowCursor:
    """Reads a :class:`Spill` whose parts come in chunks of increasing rows, by row: :meth:`take` gives every
    record of the rows up to a bound, in the order written, reading only the parts that can hold one.

    A part can hold a row ``<= r`` only while the smallest row of it or of any later part is ``<= r``; the
    records read past the bound wait in a buffer for the next call (at most a few parts: a chunk of rows).
    """

    def __init__(self, spill: Spill):
        self.spill, self.next_part = spill, 0
        lows = np.asarray(spill.lows, dtype=np.int64)
        self.suffix_low = np.minimum.accumulate(lows[::-1])[::-1] if lows.shape[0] else lows
        self.buffer = np.zeros(0, spill.dtype)
        self.offset = 0

    def take(self, last_row: int) -> np.ndarray:
        """Records ``(n,)`` of rows ``<= last_row`` not taken before, in the order written."""
        loaded = [self.buffer]
        handle, size = self.spill.handle, self.spill.dtype.itemsize
        while self.next_part < self.suffix_low.shape[0] and self.suffix_low[self.next_part] <= last_row:
            count = self.spill.counts[self.next_part]
            handle.seek(self.offset)
            loaded.append(np.frombuffer(handle.read(count * size), dtype=self.spill.dtype))
            self.offset += count * size
            self.next_part += 1
        records = np.concatenate(loaded) if len(loaded) > 1 else self.buffer
        mine = records["row"] <= last_row
        self.buffer = records[~mine]
        return records[mine]


@dataclass
class KeptTests:
    """The observed tests with ``p <= fdr`` (the element candidates' windows): :data:`WINDOW_RECORD` records in a
    :class:`Spill`, in the order tested, and the rows that hold any (``(R,)`` int64, ascending)."""

    spill: Spill
    rows: np.ndarray


def window_records(sign: int, rows, starts, widths, scores, pvalue) -> np.ndarray:
    """:data:`WINDOW_RECORD` records ``(K,)`` of tests of one sign (exact: the fields fit their dtypes)."""
    records = np.empty(rows.shape[0], WINDOW_RECORD)
    records["row"], records["start"], records["width"] = rows, starts, widths
    records["sign"], records["statistic"], records["pvalue"] = sign, scores, pvalue
    return records


def passing_qvalues(pvalues: np.ndarray, n_tests: int, fdr: float) -> tuple[np.ndarray, np.ndarray]:
    """The BH family of ``pvalues`` ``(K,)`` (of ``n_tests`` tests) reduced to what looks its q-values up: the
    sorted p-values whose q-value is ``<= fdr`` and those q-values (a prefix of the sorted family; see
    :func:`~seqsal.peaks.stats.sorted_qvalues`). ``pvalues`` is sorted in place."""
    pvalues.sort()
    qvalues = sorted_qvalues(pvalues, n_tests)
    cut = int(np.searchsorted(qvalues, fdr, side="right"))  # q is non-decreasing along sorted p
    return pvalues[:cut].copy(), qvalues[:cut].copy()


SIGNS = (1, -1)


def sign_passing_qvalues(pvalues: np.ndarray, signs: np.ndarray, n_tests: dict[int, int], fdr: float,
                         family: str = "sign") -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Each sign's own BH family, gated by the Simes test of both signs: per sign, what :func:`passing_qvalues`
    keeps of that sign's family, each q-value raised to at least the gate.

    A test's q-value is ``max(q_s, g)``: ``q_s`` the BH q-value within the ``n_tests[s]`` tests of its sign ``s``,
    ``g`` the Simes p-value of all ``n_tests[1] + n_tests[-1]`` tests (the smallest BH q-value of one family over
    both signs). A sign's calls answer to its own family: one BH family over both signs passed calls into a sign
    without signal on the strength of the other, every one false (a false share of 0.98 at FDR 0.2;
    benchmarks/RESULTS.md, session 28). Where no sign has signal nothing is called more often than in one family
    (the gate passes exactly when one family calls anything, so ``P(any call) <= fdr``; per-sign families alone
    called on twice as many complete nulls). Seqlets and elements alike (session 29: the mean false share of
    elements stayed within the level in every planted world measured). q-values stay non-decreasing in the p-value
    within each sign, so a table filtered at a lower level holds exactly the calls of that level.

    Parameters
    ----------
    pvalues
        ``(K,)`` the p-values of the tests that can pass (``p <= fdr``; the others never do).
    signs
        ``(K,)`` each test's sign, ``1`` or ``-1``.
    n_tests
        Per sign, the number of tests of its family (those with ``p > fdr`` included).
    fdr
        The level.
    family
        ``"sign"`` (each sign's, gated); ``"joint"``: one family over both signs, each test's q-value in it
        (:class:`~seqsal.peaks.options.PeakOptions` ``bh_family``).

    Returns
    -------
    dict
        Per sign the passing prefix ``(ascending p-values, q-values)`` for :func:`lookup_qvalues`.
    """
    both_p, both_q = passing_qvalues(pvalues.copy(), sum(n_tests[sign] for sign in SIGNS), fdr)
    families = {}
    for sign in SIGNS:
        if family == "joint":  # one family over both signs: the q-value of each test in it
            ascending = np.sort(pvalues[signs == sign])
            ascending = ascending[ascending <= both_p[-1]] if both_p.shape[0] else ascending[:0]
            families[sign] = ascending, lookup_qvalues(ascending, both_p, both_q)
            continue
        ascending, qvalues = passing_qvalues(pvalues[signs == sign], n_tests[sign], fdr)
        # the gate: shut when nothing passes the family of both signs, else its smallest q-value (Simes' p)
        qvalues = np.maximum(qvalues, both_q[0]) if both_q.shape[0] else np.full_like(qvalues, np.inf)
        cut = int(np.searchsorted(qvalues, fdr, side="right"))
        families[sign] = ascending[:cut], qvalues[:cut]
    return families


def lookup_sign_qvalues(records: np.ndarray, families: dict[int, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The q-value ``(n,)`` of each of ``records`` (fields ``pvalue`` and ``sign``) in its sign's family
    (:func:`sign_passing_qvalues`); ``inf`` for those that do not pass."""
    out = np.full(records.shape[0], np.inf)
    for sign, (ascending, qvalues) in families.items():
        mine = records["sign"] == sign
        out[mine] = lookup_qvalues(records["pvalue"][mine], ascending, qvalues)
    return out


def lookup_qvalues(pvalues: np.ndarray, ascending: np.ndarray, qvalues: np.ndarray) -> np.ndarray:
    """The q-value ``(n,)`` of each of ``pvalues`` (members of the family :func:`passing_qvalues` reduced) from its
    prefix ``ascending``, ``qvalues``; ``inf`` for those that do not pass. Tied p-values share their q-value, so
    no tie straddles the cut: a member passes exactly when its p-value is ``<= ascending[-1]``."""
    at = np.searchsorted(ascending, pvalues, side="left")
    out = np.full(pvalues.shape[0], np.inf)
    inside = at < ascending.shape[0]
    out[inside] = qvalues[at[inside]]
    return out
