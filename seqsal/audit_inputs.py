"""What the checks of ``seqsal audit`` read: the options, a run folder's per-base tracks in reading direction, its
motif tables, the genome's soft mask and the model-window edges; and the row every check returns.

:func:`read_run` reads ``attributions.npz`` once, block by block, and keeps only what the checks use, as
``(N, L)`` arrays right-padded past each region's length (``L`` the longest region): the base codes, the projected
contribution (hypothetical x one-hot summed over the bases, float32 as the run stored it) and the gradient
magnitude (max over the bases of |hypothetical|), each minus-strand row in the model's reading direction (reversed
within its length, base codes complemented: :func:`seqsal.audit_checks.orient`), plus the GC and CpG counts per region. Keeping no
``(N, 4, L)`` array makes reading a 5-Mbp folder about four times cheaper in time and memory than padding both
stored arrays.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from . import audit_checks as ac
from .errors import InputError
from .io import region_arrays
from .provenance import read_json_record
from .tables import read_tsv

AUDIT_COLUMNS = ["check", "statistic", "reference", "value", "pvalue", "verdict", "evidence"]
AUDIT_FOLDER = "audit"
_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)


@dataclass
class AuditOptions:
    """Thresholds of the checks (effect sizes; p-values must also be at most ``alpha``) and the sample sizes.

    The samples are fixed, whatever the size of the run: ``position_rows`` regions in the positional null,
    ``gap_rows`` regions scanned with the motif database, ``model_regions`` windows x ``shuffles`` dinucleotide
    shuffles through the model (the only check that runs it).

    Each ``*_look`` / ``*_shortcut`` pair grades one check's statistic (see :mod:`seqsal.audit`): ``look`` at or
    beyond the first, ``shortcut likely`` at or beyond the second, in both cases only with ``p <= alpha``.

    Attributes
    ----------
    alpha
        Level every check's p-value must reach to grade it above ``ok`` (in (0, 1)).
    bin_bp
        Bin width in bases of the positional histogram (``positional_mass``).
    jitter
        Largest shift in bases of the local-shift and jitter nulls (``positional_mass``, ``motif_position``,
        ``window_edges``).
    position_look, position_shortcut
        ``positional_mass``: the largest bin's ``|contribution|`` over the null mean.
    motif_share_look, motif_share_shortcut
        ``motif_position``: share of a motif's instances within 5 bp of one offset, beyond the null's maximum
        (p-values Bonferroni-corrected over the motifs).
    contribution_share
        ``unmatched_motif``: a motif without a database match and at least this share of the motifs' total
        ``|contribution|`` is reported.
    copied_length
        ``unmatched_motif``: an unmatched consensus at least this long, found verbatim in many regions, is a
        copied sequence (an adapter, a barcode).
    match_q
        q-value (Benjamini–Hochberg, TOMTOM-style matching) below which a motif counts as matched.
    rho_look, rho_shortcut
        ``composition_correlation``: ``|Spearman rho|`` of prediction or attribution sum with GC or CpG (permutation
        p, Bonferroni over 4).
    masked_look, masked_shortcut
        ``soft_masked``: ``|contribution|`` share over base share on soft-masked (lower-case) bases.
    retained_look, retained_shortcut
        ``shuffle_response``: slope of the shuffles' mean prediction on the original's (0: shuffles keep none of
        the spread).
    edge_k
        ``window_edges``: bases at each model-window edge (and the width of each region's strongest stretch).
    edge_look, edge_shortcut
        ``window_edges`` (observed over expected share of regions peaking near an edge) and ``padding_and_N``
        (mean max ``|hypothetical|`` on N/padded bases over that on called bases).
    edge_excess_look, edge_excess_shortcut
        ``window_edges``: share of regions peaking at an edge beyond the null (graded only when the ratio is at
        least ``edge_look``).
    gap_look
        ``faithfulness_gap``: unexplained share of the contribution of the bases the deletion curve removes first.
    gap_enrichment
        ``faithfulness_gap``: graded ``look`` only when those bases are hit by motifs less than this many times as
        often as all bases.
    gap_rows
        Regions scanned with the motif database (``faithfulness_gap``).
    hit_pvalue
        p-value of a database matrix's hit in the scan (FIMO's default, Grant et al. 2011).
    database
        MEME file of the scan; ``None``: the one ``seqsal motifs`` matched against, else the bundled JASPAR subset.
    position_rows
        Regions in the positional null.
    model_regions
        Windows run through the model for ``shuffle_response`` (when the run has no shuffled null).
    shuffles
        Dinucleotide shuffles of each of those windows (Altschul & Erikson 1985).
    seed
        Seed of every null and sample.
    model
        Whether the model may be run (``False``: ``shuffle_response`` without the run's null is ``n/a``).

    Raises
    ------
    InputError
        From ``__post_init__``: ``alpha``, ``match_q`` or ``hit_pvalue`` outside (0, 1) (``match_q`` may be 1); a
        size, count or ``seed`` that is not a whole number, or a size or count below 1; a non-finite threshold; a
        ``*_look`` threshold above its ``*_shortcut``.
    """

    alpha: float = 0.01
    bin_bp: int = 10
    jitter: int = 50
    position_look: float = 1.5        # bin / null-mean ratio
    position_shortcut: float = 2.5
    motif_share_look: float = 0.1     # share of a motif's instances within 5 bp of one offset, beyond the null max
    motif_share_shortcut: float = 0.25
    contribution_share: float = 0.2   # of the motifs' total |contribution|
    copied_length: int = 12           # an unmatched consensus this long, verbatim in many regions: a copied sequence
    match_q: float = 0.05
    rho_look: float = 0.4
    rho_shortcut: float = 0.7
    masked_look: float = 1.5
    masked_shortcut: float = 3.0
    retained_look: float = 0.3
    retained_shortcut: float = 0.6
    edge_k: int = 10
    edge_look: float = 1.5
    edge_shortcut: float = 3.0
    edge_excess_look: float = 0.02    # share of regions peaking at a window edge beyond the null (and >= edge_look x)
    edge_excess_shortcut: float = 0.05
    gap_look: float = 0.6             # unexplained share of the contribution the deletion curve removes first
    gap_enrichment: float = 2.0       # ... and those bases hit by motifs less than this many times as often as all
    gap_rows: int = 500               # regions scanned with the database
    hit_pvalue: float = 1e-4          # a database matrix's hit (FIMO's default)
    database: str | None = None       # MEME file; None: the one `seqsal motifs` matched against, else the bundled subset
    position_rows: int = 1000         # regions in the positional null
    model_regions: int = 50
    shuffles: int = 4
    seed: int = 0
    model: bool = True

    def __post_init__(self) -> None:
        """Refuse values no check can use (a zero bin or jitter, empty samples, a level outside (0, 1))."""
        if not 0 < self.alpha < 1 or not 0 < self.match_q <= 1 or not 0 < self.hit_pvalue < 1:
            raise InputError(f"AuditOptions: alpha ({self.alpha}), match_q ({self.match_q}) and hit_pvalue "
                             f"({self.hit_pvalue}) are levels in (0, 1); give one there")
        counts = ("bin_bp", "jitter", "copied_length", "edge_k", "gap_rows", "position_rows", "model_regions",
                  "shuffles")
        fractional = [f"{name}={getattr(self, name)!r}" for name in (*counts, "seed")
                      if isinstance(getattr(self, name), bool) or not isinstance(getattr(self, name), (int, np.integer))]
        if fractional:
            raise InputError(f"AuditOptions: {', '.join(fractional)}: a size or count is a whole number; give one")
        small = [name for name in counts if getattr(self, name) < 1]
        if small:
            raise InputError(f"AuditOptions: {', '.join(small)} must be >= 1 (a size or count); give a positive "
                             "number")
        numbers = [name for name, value in vars(self).items() if isinstance(value, float) and not np.isfinite(value)]
        if numbers:
            raise InputError(f"AuditOptions: {', '.join(numbers)} must be finite numbers")
        backwards = [f"{look} ({getattr(self, look)}) > {look.replace('_look', '_shortcut')} "
                     f"({getattr(self, look.replace('_look', '_shortcut'))})"
                     for look in ("position_look", "motif_share_look", "rho_look", "masked_look", "retained_look",
                                  "edge_look", "edge_excess_look") if getattr(self, look) > getattr(
                                      self, look.replace("_look", "_shortcut"))]
        if backwards:
            raise InputError(f"AuditOptions: {'; '.join(backwards)}: a 'look' threshold grades below its 'shortcut' "
                             "one; give look <= shortcut")


@dataclass
class AuditRun:
    """A run folder as the checks see it; every ``(N, L)`` array in reading direction, zero (code 4) past
    ``lengths[i]``."""

    path: Path
    record: dict
    regions: pd.DataFrame
    lengths: np.ndarray        # (N,) int64
    minus: np.ndarray          # (N,) bool
    codes: np.ndarray          # (N, L) uint8: 0-3 for A, C, G, T; 4 for N, padding, zeroed (nonfinite) regions
    contribution: np.ndarray   # (N, L) float32: hypothetical x one-hot summed over the bases
    magnitude: np.ndarray      # (N, L) float32: max over the bases of |hypothetical|
    gc_count: np.ndarray       # (N,) float64: sum of the C and G channels
    cpg_count: np.ndarray      # (N,) float64: sum of C x next G (reading direction)
    _genome: object = field(default=None, init=False, repr=False)

    def genome(self):
        """The run's genome (:func:`seqsal.run_genome.genome_of_run`, checked to hold the run's bases), opened once
        for the checks that read it.

        Raises
        ------
        InputError, OSError, KeyError
            The genome of ``run.json`` cannot be opened (raised again on every call).
        """
        if self._genome is None:
            from .run_genome import genome_of_run

            try:
                self._genome = genome_of_run(self.record, self.path)
            except (InputError, OSError, KeyError) as error:
                self._genome = error
        if isinstance(self._genome, Exception):
            raise self._genome
        return self._genome

    def close(self) -> None:
        """Close the genome if a check opened it."""
        if self._genome is not None and not isinstance(self._genome, Exception):
            self._genome.close()
        self._genome = None

    @cached_property
    def called(self) -> np.ndarray:
        """``(N, L)`` bases with a called base (no N, no padding)."""
        return self.codes < 4

    @cached_property
    def mass(self) -> np.ndarray:
        """``(N, L)`` |projected contribution|."""
        return np.abs(self.contribution)

    @cached_property
    def sequences(self) -> list[str]:
        """Each region's sequence in reading direction (``N`` where no base is called)."""
        return ac.decode_codes(self.codes, self.lengths)

    def sequences_of(self, rows, start: int = 0, end: int | None = None) -> list[str]:
        """The sequences of ``rows`` (reading direction), cut to ``[start, end)`` (default: to each length)."""
        return [_LETTERS[self.codes[i, start:int(self.lengths[i]) if end is None else end]].tobytes().decode()
                for i in np.asarray(rows, dtype=np.int64).tolist()]

    def composition(self) -> tuple[np.ndarray, np.ndarray]:
        """GC fraction and CpG per base of each region (:func:`seqsal.audit_checks.composition`'s values)."""
        n_called = self.called.sum(axis=1)
        gc = self.gc_count / np.maximum(n_called, 1)
        cpg = self.cpg_count / np.maximum(n_called - 1, 1)
        return np.where(n_called > 0, gc, np.nan), np.where(n_called > 1, cpg, np.nan)


def row(check, statistic, reference, value, pvalue, verdict, evidence) -> dict:
    """One row of ``audit.tsv`` (:data:`AUDIT_COLUMNS`)."""
    return dict(zip(AUDIT_COLUMNS, (check, statistic, reference, value, pvalue, verdict, evidence)))


def grade(effect: float, pvalue: float, look: float, shortcut: float, alpha: float) -> str:
    """``ok`` unless ``pvalue <= alpha`` and ``effect >= look``; ``shortcut likely`` from ``shortcut``."""
    if not np.isfinite(effect) or pvalue > alpha or effect < look:
        return "ok"
    return "shortcut likely" if effect >= shortcut else "look"


def _codes(one_hot: np.ndarray) -> np.ndarray:
    """Base codes of one-hot columns ``(4, n)``: the argmax where the largest value is above 0.5, else 4 (N)."""
    hot = [channel > 0.5 for channel in one_hot]
    count = (hot[0].astype(np.uint8) + hot[1]) + (hot[2].astype(np.uint8) + hot[3])
    if count.size and count.max() > 1:  # more than one base above 0.5 (not a one-hot): the first largest
        return np.where(count > 0, one_hot.argmax(axis=0), 4).astype(np.uint8)
    return np.where(count > 0, hot[1] + 2 * hot[2].astype(np.uint8) + 3 * hot[3].astype(np.uint8), 4).astype(np.uint8)


def _flat_tracks(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray], bool]:
    """Per-position values of ``attributions.npz``, the regions end to end (+ strand): base code, contribution,
    magnitude and the C and G channels; read block by block, one channel at a time (a position's four values are
    adjacent in the file). Also whether every one-hot value is 0 or 1."""
    arrays = region_arrays(path, ["one_hot", "hypothetical"])
    total = int(arrays.lengths.sum())
    flat = {"codes": np.empty(total, np.uint8), **{key: np.empty(total, np.float32)
                                                    for key in ("contribution", "magnitude", "c", "g")}}
    binary, at = True, 0
    for one_hot, hyp in zip(arrays["one_hot"].pieces(), arrays["hypothetical"].pieces()):
        one_hot, hyp = one_hot.astype(np.float32, copy=False), hyp.astype(np.float32, copy=False)
        span = slice(at, at + one_hot.shape[-1])
        at = span.stop
        flat["codes"][span] = _codes(one_hot)
        binary = binary and bool(((one_hot == 0) | (one_hot == 1)).all())
        product = [one_hot[k] * hyp[k] for k in range(4)]
        flat["contribution"][span] = ((product[0] + product[1]) + product[2]) + product[3]
        size = [np.abs(hyp[k]) for k in range(4)]
        flat["magnitude"][span] = np.maximum(np.maximum(size[0], size[1]), np.maximum(size[2], size[3]))
        flat["c"][span], flat["g"][span] = one_hot[1], one_hot[2]
    return arrays.lengths, flat, binary


def _to_rows(flat: np.ndarray, lengths: np.ndarray, minus: np.ndarray, fill) -> np.ndarray:
    """Regions laid end to end ``(sum of lengths,)`` to ``(N, max length)`` right-padded with ``fill``, minus-strand
    rows reversed within their length (regions of one length: ``flat`` itself, reshaped and turned in place)."""
    width = int(lengths.max()) if len(lengths) else 0
    if len(lengths) and (lengths == width).all():
        out = flat.reshape(len(lengths), width)
        out[minus] = out[minus, ::-1]
        return out
    out = np.full((len(lengths), width), fill, dtype=flat.dtype)
    row_of = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    reverse = np.repeat(minus, lengths)
    out[row_of, np.where(reverse, np.repeat(lengths, lengths) - 1 - position, position)] = flat
    return out


def _per_region_sum(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``(N,)`` float64 sums of per-position ``values`` over each region (regions end to end)."""
    out = np.zeros(len(lengths))
    filled = lengths > 0
    if filled.any():
        out[filled] = np.add.reduceat(values, (np.cumsum(lengths) - lengths)[filled], dtype=np.float64)
    return out


def _gc_cpg(flat: dict[str, np.ndarray], codes: np.ndarray, lengths: np.ndarray, minus: np.ndarray,
            binary: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(N,)`` sums of the C and G channels and of C x next G in reading direction (``ac.composition``'s sums).

    A 0/1 one-hot gives them as counts of the base codes (minus-strand rows already reverse-complemented);
    otherwise (an ``n_value`` other than 0) the channels of the stored + strand are summed: CpG reads CpG on the
    reverse complement too, so its count is the + strand's on either strand.
    """
    if binary:
        strong = (codes == 1) | (codes == 2)
        cpg = (codes[:, :-1] == 1) & (codes[:, 1:] == 2)
        return strong.sum(axis=1).astype(np.float64), cpg.sum(axis=1).astype(np.float64)
    c, g = flat["c"], flat["g"]
    last = np.zeros(len(c), dtype=bool)  # the last base of each region pairs with nothing
    last[np.cumsum(lengths)[lengths > 0] - 1] = True
    pair = np.zeros(len(c), np.float32)
    pair[:-1] = c[:-1] * g[1:]
    pair[last] = 0.0
    return _per_region_sum(c + g, lengths), _per_region_sum(pair, lengths)


def read_run(out_dir: str | os.PathLike) -> AuditRun:
    """The tracks and tables of a run folder, minus-strand rows turned to the model's reading direction.

    Raises
    ------
    InputError
        ``attributions.npz`` or ``regions.tsv`` missing, or their row counts differ.
    """
    path = Path(out_dir)
    for name in ("attributions.npz", "regions.tsv"):
        if not (path / name).is_file():
            raise InputError(f"{name} not found; run `seqsal attribute ... -o {path}` first", str(path))
    lengths, flat, binary = _flat_tracks(path / "attributions.npz")
    regions = read_tsv(path / "regions.tsv")
    if len(regions) != len(lengths):
        raise InputError(f"regions.tsv has {len(regions)} rows, attributions.npz {len(lengths)}; rerun the "
                         "attribution", str(path / "regions.tsv"))
    lengths = np.asarray(lengths, dtype=np.int64)
    minus = (regions["strand"].astype(str) == "-").to_numpy() if "strand" in regions else np.zeros(len(lengths), bool)
    record_path = path / "run.json"
    record = read_json_record(record_path) if record_path.is_file() else {}
    codes = _to_rows(flat["codes"], lengths, minus, 4)
    codes[minus] = np.where(codes[minus] < 4, 3 - codes[minus], 4)  # reversed rows complemented: A<->T, C<->G
    if "status" in regions:  # attributions zeroed (--on-error skip): no base to audit, as an all-N region (fresh16:
        codes[(regions["status"].astype(str) == "nonfinite").to_numpy()] = 4  # 14 zeroed regions "peaked at an edge")
    gc_count, cpg_count = _gc_cpg(flat, codes, lengths, minus, binary)
    return AuditRun(path, record, regions, lengths, minus, codes=codes,
                    contribution=_to_rows(flat["contribution"], lengths, minus, 0.0),
                    magnitude=_to_rows(flat["magnitude"], lengths, minus, 0.0), gc_count=gc_count, cpg_count=cpg_count)


def read_table(run: AuditRun, name: str) -> pd.DataFrame | None:
    """A table of the run folder (``motifs.tsv``), or None when it is missing."""
    path = run.path / name
    return read_tsv(path) if path.is_file() else None


def read_instances(run: AuditRun) -> pd.DataFrame | None:
    """``motif_instances.tsv`` with each instance's ``offset`` in reading direction and ``limit`` (the largest
    offset an instance of its width could have); None when the file is missing."""
    path = run.path / "motif_instances.tsv"
    if not path.is_file():
        return None
    table = read_tsv(path)
    index = table["region_index"].to_numpy(dtype=np.int64)
    region_start = run.regions["start"].to_numpy(dtype=np.int64)[index]
    length = run.lengths[index]
    start, end = table["start"].to_numpy(np.int64) - region_start, table["end"].to_numpy(np.int64) - region_start
    minus = run.minus[index]
    table["offset"] = np.where(minus, length - end, start)
    table["limit"] = length - (end - start)
    return table


def soft_mask(run: AuditRun) -> np.ndarray:
    """``(N, L)`` lowercase (soft-masked) bases of the regions in reading direction, from the run's genome.

    A chromosome that the regions cover for at least half its length is read once, whole; the others region by
    region (and a region outside its chromosome reads as ``N``, as :meth:`seqsal.genome.Genome.fetch` pads it).

    Raises
    ------
    InputError
        The genome of ``run.json`` cannot be opened.
    """
    genome = run.genome()
    mask = np.zeros(run.codes.shape, dtype=bool)
    chroms = run.regions["chrom"].astype(str).to_numpy()
    starts, ends = run.regions["start"].to_numpy(np.int64), run.regions["end"].to_numpy(np.int64)
    for chrom in dict.fromkeys(chroms):
        rows = np.flatnonzero(chroms == chrom)
        size = genome.chrom_sizes.get(chrom)
        whole = None
        if size is not None and 2 * int(run.lengths[rows].sum()) >= size:
            try:
                whole = np.frombuffer(genome.fetch(chrom, 0, size).encode(), dtype=np.uint8) >= 97
            except InputError:  # a bad character elsewhere in the chromosome: read the regions alone
                whole = None
        for i in rows.tolist():
            start, end, length = int(starts[i]), int(ends[i]), int(run.lengths[i])
            if whole is None:
                text = genome.fetch(chrom, start, end)[:length]
                lower = np.frombuffer(text.encode(), dtype=np.uint8) >= 97
            else:
                lower = np.zeros(max(end - start, 0), dtype=bool)
                lo, hi = max(start, 0), min(end, size)
                if hi > lo:
                    lower[lo - start:hi - start] = whole[lo:hi]
                lower = lower[:length]
            mask[i, :len(lower)] = lower[::-1] if run.minus[i] else lower
    return mask


def window_edges(run: AuditRun) -> list[np.ndarray]:
    """Offsets (reading direction) of the model-window edges inside each region, as the run tiled it."""
    from .regions import fetch_span, tile_starts

    parameters = run.record.get("parameters", {})
    window, stride = parameters.get("window"), parameters.get("stride")
    edges, known = [], {}  # the cuts depend on the length only (fetch_span widens symmetrically)
    for length, minus in zip(run.lengths.tolist(), run.minus.tolist()):
        if length not in known:
            fetch_start, fetch_end = fetch_span(0, length, window)
            use = length if window is None or window == length else int(window)
            starts = tile_starts(fetch_end - fetch_start, use, int(stride or use))
            cuts = np.unique(np.concatenate([starts, starts + use]) + fetch_start)
            known[length] = cuts[(cuts >= 0) & (cuts <= length)]
        edges.append(length - known[length] if minus else known[length])
    return edges
