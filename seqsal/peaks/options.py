"""The peak caller's parameters and the names of its files and tables (each defined here once)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, option

NULLS = ("shuffle", "laplace")
BH_FAMILIES = ("sign", "joint")
SIGN_CHOICES = ("+-", "+", "-")  # PeakOptions.signs
PEAK_FILES = ("seqlets.bed", "elements.bed", "seqlets.tsv", "elements.tsv")
NULL_FILE = "null.npz"  # the shuffled null of a run folder (seqsal.peaks.nulls), one row per sampled piece
# columns of seqlets.tsv and elements.tsv (genome and region coordinates of each call)
CALL_COLUMNS = [
    "name", "region_index", "region_name", "chrom", "start", "end", "offset_start", "offset_end", "sign", "score",
    "pvalue", "qvalue", "summit", "summit_offset", "rank", "n_seqlets", "sequence", "duplicate_of",
]
# columns of the table seqsal.call_peaks returns (row coordinates only)
API_COLUMNS = ["region_index", "offset_start", "offset_end", "sign", "score", "pvalue", "qvalue", "summit_offset",
               "rank", "n_seqlets"]


def parse_widths(value) -> tuple[int, ...]:
    """Window widths as a sorted tuple of distinct ints, from an int, a sequence or text such as ``"6,10,16"``.

    Raises
    ------
    InputError
        On text that is not comma-separated integers, or no width at all.
    """
    if isinstance(value, str):
        try:
            value = [int(part) for part in value.replace(" ", "").split(",") if part]
        except ValueError:
            raise InputError(f"{option('test_widths')} must be comma-separated integers such as 6,10,16,24, got "
                             f"{value!r}")
    widths = tuple(sorted({int(w) for w in np.atleast_1d(np.asarray(value, dtype=np.int64)).tolist()}))
    if not widths:
        raise InputError(f"{option('test_widths')} needs at least one width")
    return widths


@dataclass
class PeakOptions:
    """Parameters of the peak caller (all recorded in ``run.json``, under ``peaks.options``).

    Attributes
    ----------
    fdr
        Target false discovery rate of the seqlets (Benjamini–Hochberg; see ``bh_family``). 0.2 by default, the
        seqlet FDR of tfmodisco-lite (``target_seqlet_fdr``): on every model of the calibration zoo seqlet F1 at
        0.2 is above F1 at 0.05 (mean 0.275 against 0.097) with each sign's false share within 2x of the level
        wherever the model uses the planted motifs (benchmarks/RESULTS.md, session 30).
    element_fdr
        Target false discovery rate of the candidate elements (0.05, a peak caller's level: elements are the
        regions a lab acts on). Their candidates are formed from the windows with ``p <= element_fdr``, so the
        elements do not depend on ``fdr`` (but for ``elements.tsv``'s ``n_seqlets``: the seqlets called inside).
    bh_family
        ``sign``: each sign's tests are their own BH family, gated by the Simes test of both signs
        (:func:`~seqsal.peaks.spill.sign_passing_qvalues`): a sign's calls answer to its own evidence. ``joint``: one
        family over both signs (before session 29; motif discovery's lenient seeds keep it, see
        :func:`seqsal.motifs.discovery_seqlets`), which passes calls into a sign without signal on the strength
        of the other (benchmarks/RESULTS.md, session 28).
    signs
        The signs whose seqlets and elements are called: ``+-`` (both), ``+`` or ``-``. Both signs are tested
        (calibration, outlook, the gate of ``bh_family="sign"``) and the other sign's calls are left out, so with
        each sign its own family a sign's calls are those it gets with both (the same sites and p/q-values; names
        and ranks are given anew). For a sign the model does not confirm (``seqsal check-seqlets``: replacing its
        bases does not move the output the way the sign says; benchmarks/RESULTS.md, session 31).
    null
        ``shuffle`` (attributions of dinucleotide-shuffled copies) or ``laplace``
        (a fit to the bulk of the observed candidates).
    null_fraction
        Fraction of regions shuffled and attributed for the ``shuffle`` null
        (about that fraction of extra model work), raised so that the null
        covers at least ``min_null_bases`` (:func:`seqsal.peaks.nulls.null_plan`).
    min_null_bases
        Fewest bases of shuffled sequence the ``shuffle`` null attributes: a
        small run's null takes more of its regions, and several shuffles of
        each (up to ``max_null_copies``) when the run itself is shorter; the
        tail of a null of a few hundred tests cannot be told from a heavy one,
        which costs every call (benchmarks/RESULTS.md).
    max_null_copies
        Most shuffles of one region when the run is shorter than
        ``min_null_bases`` (each is as much model work as the region itself):
        the bound on a small run's null cost. A run of few regions whose
        smallest p-values sit at the null's resolution (``run.json``
        ``peaks.calibration.outlook.null_resolution_bound``) gets smaller
        p-values from more (the zoo's splicing model: 10 regions, 8 shuffles
        each, smallest q-value 0.10).
    test_widths
        Widths of the tested windows (bp), smallest first: the seqlet test's
        windows, not the model's input length (``AttributeOptions.window``).
        Each width is tested against its own null and a site keeps the width
        with the smallest p-value (:mod:`seqsal.peaks.widths`); one width
        gives the single-width test.
    min_length, max_length
        Bounds of a seqlet's extent (bp); a seqlet shorter than ``min_length`` keeps its extent where padding it
        would turn its sum to the other sign (:mod:`seqsal.peaks.extents`).
    extend_fraction
        Per-base contribution, as a fraction of the window's mean, a flank base
        must beat to join a seqlet.
    element_gap, element_flank, element_min_length, element_max_length
        Seqlets closer than ``element_gap`` join one element; flanks and bounds (bp).
    min_null_candidates
        Fewest null values a sign's null is fitted from.
    merge_gap
        Significant same-sign seqlets that overlap or lie within this many bases join one seqlet.
    seed
        Seed of the region sample and the shuffles of the ``shuffle`` null.
    """

    fdr: float = 0.2
    element_fdr: float = 0.05
    bh_family: str = "sign"
    signs: str = "+-"
    null: str = "shuffle"
    null_fraction: float = 0.1
    min_null_bases: int = 200_000
    max_null_copies: int = 8
    test_widths: tuple[int, ...] = (6, 10, 16, 24)
    min_length: int = 12
    max_length: int = 30
    extend_fraction: float = 0.15
    element_gap: int = 100
    element_flank: int = 20
    element_min_length: int = 50
    element_max_length: int = 1000
    min_null_candidates: int = 50
    merge_gap: int = 0
    seed: int = 0

    def check(self) -> "PeakOptions":
        """Return ``self``.

        Raises
        ------
        InputError
            On an out-of-range option.
        """
        for name in ("fdr", "element_fdr"):  # fresh30b: fdr="0.1" or None was a TypeError from the comparison
            value = getattr(self, name)
            number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            if not number or not 0 < value <= 1:
                raise InputError(f"{option(name)} must be a number in (0, 1], got {value!r}")
        if self.bh_family not in BH_FAMILIES:
            raise InputError(f"bh_family must be one of {', '.join(BH_FAMILIES)}, got {self.bh_family!r}")
        if self.signs not in SIGN_CHOICES:
            raise InputError(f"{option('signs')} must be one of {', '.join(SIGN_CHOICES)} (the signs to call), got "
                             f"{self.signs!r}")
        if self.null not in NULLS:
            raise InputError(f"unknown {option('null')} {self.null!r}; choose shuffle or laplace")
        if not 0 < self.null_fraction <= 1:
            raise InputError(f"{option('null_fraction')} must be in (0, 1], got {self.null_fraction}")
        if not 1 <= self.max_null_copies <= 1000:
            raise InputError(f"{option('max_null_copies')} must be in [1, 1000], got {self.max_null_copies}")
        if self.min_null_bases < 0:
            raise InputError(f"{option('min_null_bases')} must be >= 0, got {self.min_null_bases}")
        if self.element_gap < 0:  # element_flank has no flag: named as the API's keyword (fresh26a)
            raise InputError(f"{option('element_gap')} must be >= 0 bases, got {self.element_gap}; 0 joins only "
                             "seqlets that touch")
        if self.element_flank < 0:
            raise InputError(f"element_flank must be >= 0 bases, got {self.element_flank}")
        self.test_widths = parse_widths(self.test_widths)
        widths = ','.join(map(str, self.test_widths))
        if min(self.test_widths) < 2:  # fresh30: a width of 0 was told to raise --max-length to 0
            raise InputError(f"{option('test_widths')} ({widths}) must each be at least 2 bases, e.g. 6,10,16,24")
        if max(self.test_widths) > self.max_length:  # fresh28: the widths alone were blamed for a small --max-length
            raise InputError(f"{option('test_widths')} ({widths}) must each be at most {option('max_length')} "
                             f"({self.max_length}): give a {option('max_length')} of at least "
                             f"{max(self.test_widths)}, or smaller test widths")
        if not 1 <= self.min_length <= self.max_length:
            raise InputError(f"min_length ({self.min_length}) must be between 1 and max_length ({self.max_length})")
        if self.element_min_length > self.element_max_length:
            raise InputError("element_min_length must not exceed element_max_length")
        return self
