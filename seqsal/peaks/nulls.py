"""The shuffled null: attributions of dinucleotide-shuffled copies of a sample of a run's regions (long ones in pieces).

The one module of :mod:`seqsal.peaks` that runs the model (through the
``attribute_regions`` callable the run passes in; its stretches widened to the
window as :func:`~seqsal.regions.fetch_span` widens them). It writes ``null.npz``, which
:mod:`seqsal.peaks.runfolder` reads back as the ``shuffle`` null.
"""
from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from ..io import LENGTH, OFFSETS, RaggedStream, ragged_offsets, write_npz
from ..provenance import sampled_digest
from ..regions import fetch_span
from .options import NULL_FILE, PeakOptions
from .streams import valid_mask

ATTRIBUTIONS_KEY = "attributions_key"
"""``null.npz`` member: :func:`seqsal.provenance.sampled_digest` of the run's ``attributions.npz`` when the null was
written (a shard's: its own; merged: the merged file's), so that a null copied in from another run, even of the same
regions, is refused (:func:`seqsal.peaks.run_null_problem`)."""


PIECE_BASES = 10_000
"""The longest stretch of a region the null samples as one row (unless the model window is longer): a longer region
is cut into consecutive pieces of this length (:func:`null_pieces`). A null of ``fraction`` x a region's bases then
costs about that much model work, where a whole-region draw cost all of it or none (a 2-Mb locus at a 200-kb plan: 2
Mb). 10 kb: small next to the plans of long regions (``min_null_bases``, 200 kb: 20 pieces or more), yet 5 to 20
windows of the usual 500-2,000 bp models, so the pieces' edges (a base there is in fewer tiled windows) are a small
share of their bases. The piece is never shorter than the window (:func:`piece_length`): a shorter one would be
fetched widened to the window and the model's work on the widening thrown away. A model without a window is fed
each region whole, so its null rows are whole regions too (review25: 10-kb pieces of a 40-kb region fed to a
length-averaging model gave a null 4x the observed scale)."""

PIECE_KEY = "piece_bases"
"""``null.npz`` member: the piece length long regions were cut into (:func:`piece_length`; 0: whole regions, a model
without a window), so that shards whose nulls were cut differently are not merged into one (review25)."""

REGION_INDEX = "region_index"
"""The column of :func:`null_pieces`' table (and ``null.npz`` member) naming the job row a piece belongs to."""


def piece_length(window: int | None) -> int | None:
    """The length of the pieces long regions are sampled in: ``max(PIECE_BASES, window)`` (:data:`PIECE_BASES`);
    ``None`` without a window (the model reads each region whole, so its null rows are whole regions)."""
    return None if window is None else max(PIECE_BASES, int(window))


def null_pieces(job: pd.DataFrame, window: int | None = None) -> pd.DataFrame:
    """The stretches the null samples from: each region, or consecutive pieces of a long one, in job order.

    A region no longer than :func:`piece_length` is one piece, itself (so the null of a run of short regions is
    what a per-region draw gives); a longer one is cut into pieces of that length from its start, the last one
    the rest, unless the rest is shorter than the window: then it is joined to the piece before, so no piece is
    widened to the window (:func:`seqsal.regions.fetch_span`). Without a window every region is one piece.
    Pieces are a sampling unit of the null only: the run attributes and calls its regions whole.

    Parameters
    ----------
    job
        The whole job's regions (all shards): ``chrom``, ``start``, ``end``, ``name`` (other columns are kept).
    window
        The model's input length (``None``: regions are fed whole, and each is one piece).

    Returns
    -------
    pandas.DataFrame
        One row per piece, ``job``'s columns with the piece's ``start`` and ``end`` (its ``name`` the region's),
        and ``region_index``, the row of ``job`` the piece is cut from; a fresh ``RangeIndex``.
    """
    size = piece_length(window)
    if size is None:  # a window-less model reads each region whole: so does its null
        return job.reset_index(drop=True).assign(**{REGION_INDEX: np.arange(len(job), dtype=np.int64)})
    least = int(window)  # a shorter rest joins the piece before it
    starts = job["start"].to_numpy(np.int64)
    lengths = np.maximum(job["end"].to_numpy(np.int64) - starts, 0)
    counts = np.maximum(-(-lengths // size), 1)
    counts -= (counts > 1) & (lengths - (counts - 1) * size < least)
    region = np.repeat(np.arange(len(job), dtype=np.int64), counts)
    first_piece = np.repeat(np.cumsum(counts) - counts, counts)
    k = np.arange(region.shape[0], dtype=np.int64) - first_piece  # the piece's place in its region
    last = k == counts[region] - 1
    pieces = job.iloc[region].reset_index(drop=True)
    piece_start = starts[region] + k * size
    ends = np.where(last, pieces["end"].to_numpy(np.int64), piece_start + size)
    if (counts > 1).any():  # a job of short regions keeps its table (and dtypes) as they are
        pieces["start"], pieces["end"] = piece_start, ends
    pieces[REGION_INDEX] = region
    return pieces


def null_rows(job: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """The rows of the whole job's pieces whose shuffled copies make the null, in table order.

    ``job`` is :func:`null_pieces` of the job's regions: a region, or a piece of a long one, is a row. Each row
    has a number in [0, 1) from a hash of its chrom, start, end (the piece's own), name and ``seed``; the rows
    below ``fraction`` are sampled, which covers about ``fraction`` of the bases when the run has many rows. With
    a few long rows that draw can hold much less, or nothing (fresh17: one 2-Mb region,
    or 4 of 600 kb, gave an empty null and no call): when it holds less than
    half of the planned ``fraction`` x bases, rows are added in the order of
    their numbers until the planned bases are reached, passing over any that
    would take the draw past twice the plan (fresh20: a 2-Mb region among
    1,000 of 300 bp made a 230-kb plan 2 Mb) unless none has been drawn.
    Drawn on the whole job, so a shard takes the rows of its span from the
    single run's draw (:func:`write_shuffled_null`).

    Parameters
    ----------
    job
        The whole job's pieces (all shards, :func:`null_pieces`), or any table of ``chrom``, ``start``, ``end``,
        ``name``.
    fraction
        The share of bases to sample, in ``(0, 1]`` (:func:`null_plan`).
    seed
        Seed of the hash.

    Returns
    -------
    numpy.ndarray
        ``(K,)`` int64 ascending row indices of ``job``.
    """
    keys = _region_keys(job)
    if fraction >= 1 or not keys:
        return np.arange(len(keys), dtype=np.int64)
    uniform = np.array([_uniform(f"sample\t{seed}\t{key}") for key in keys])
    lengths = (job["end"] - job["start"]).to_numpy(np.int64)
    chosen = uniform < fraction
    planned = fraction * float(lengths.sum())
    total = float(lengths[chosen].sum())
    if total < 0.5 * planned:
        for row in np.argsort(uniform, kind="stable"):
            if total >= planned:
                break
            if not chosen[row] and (total + lengths[row] <= 2 * planned or total == 0):
                chosen[row] = True
                total += float(lengths[row])
    return np.flatnonzero(chosen).astype(np.int64)


MAX_NULL_COPIES = PeakOptions.max_null_copies  # the default most shuffles of one region


def null_plan(total_bases: int, fraction: float, min_bases: int,
              max_copies: int = MAX_NULL_COPIES) -> tuple[float, int]:
    """How much shuffled sequence the null attributes: ``(fraction of regions sampled, shuffles of each)``.

    The null covers ``max(fraction * total_bases, min_bases)`` bases: a larger
    share of the regions when that is enough, else every region shuffled
    ``ceil(min_bases / total_bases)`` times (at most ``max_copies``).
    ``total_bases`` is the whole job's (all shards), so each shard draws
    exactly the rows a single run would.

    Parameters
    ----------
    total_bases
        Summed length of the job's regions (bp).
    fraction
        The requested ``null_fraction``, in ``(0, 1]``.
    min_bases
        ``PeakOptions.min_null_bases``.

    Returns
    -------
    tuple
        The effective fraction in ``(0, 1]`` and the number of shuffles per sampled region (``>= 1``).
    """
    if total_bases <= 0 or fraction * total_bases >= min_bases:
        return fraction, 1
    if min_bases <= total_bases:
        return min(1.0, min_bases / total_bases), 1
    return 1.0, int(min(max_copies, math.ceil(min_bases / total_bases)))


def _region_keys(regions: pd.DataFrame) -> list[str]:
    """One text key per region or piece (chrom, start, end, name): what identifies it across shards."""
    return [f"{c}\t{s}\t{e}\t{n}" for c, s, e, n in
            zip(regions["chrom"], regions["start"], regions["end"], regions["name"])]


def _uniform(text: str) -> float:
    """A number in [0, 1) from a hash of ``text`` (BLAKE2b, 64 bits): the same on every machine and run."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") / 2.0 ** 64


def shuffled_fetch(fetch: Callable[[str, int, int], str], seed: int,
                   plan: list[tuple[str, int, int]] | None = None, block: int = 256,
                   copies: int = 1) -> Callable[[str, int, int], str]:
    """A ``fetch`` that returns a dinucleotide shuffle of each requested stretch (N kept in place).

    The shuffle's seed is a hash of ``(seed, chrom, start, end)`` (and of the
    copy ``c`` for ``c >= 1``): the same stretch always gets the same shuffle,
    whatever the order of requests. Called as ``fetch(chrom, start, end)`` it
    gives copy 0; its ``row`` attribute, ``(row, chrom, start, end) -> str``,
    gives copy ``row % copies`` (a region's copies are consecutive rows of the
    null's table): the engine calls it with each region's row of the whole
    table (:func:`seqsal.stitch.plan_region`), so a shard whose first batch
    holds windows of rows before its span reads the copies a single run reads
    (fresh20: copies counted per request came out swapped for a region repeated
    across a shard boundary). With ``plan`` (the stretches in the order they will be requested), a
    request that misses shuffles the next ``block`` planned stretches at once
    (one vectorised walk, :func:`seqsal.shuffle.dinucleotide_shuffle_ragged`:
    the same shuffles; 0.19 vs 1.1 ms per 500-bp stretch here) and keeps them until asked.
    """
    from ..encode import one_hot_decode, one_hot_encode  # torch: imported when a null is drawn, not to call peaks
    from ..shuffle import dinucleotide_shuffle_ragged

    def generator(chrom: str, start: int, end: int, copy: int) -> np.random.Generator:
        text = f"shuffle\t{seed}\t{chrom}\t{start}\t{end}" + (f"\tcopy{copy}" if copy else "")
        return np.random.default_rng(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little"))

    planned = [(*key, copy) for key in (plan or []) for copy in range(copies)]
    position = {key: k for k, key in enumerate(planned)}
    ready: dict[tuple[str, int, int, int], str] = {}  # shuffled ahead of their request: at most one block

    def fetch_shuffled(chrom: str, start: int, end: int) -> str:
        return fetch_copy(chrom, start, end, 0)

    def fetch_row(row: int, chrom: str, start: int, end: int) -> str:
        return fetch_copy(chrom, start, end, row % copies)

    def fetch_copy(chrom: str, start: int, end: int, copy: int) -> str:
        wanted = (chrom, start, end, copy)
        if wanted not in ready:
            k = position.get(wanted)
            todo = [wanted] if k is None else [key for key in planned[k:k + block] if key not in ready]
            shuffled = dinucleotide_shuffle_ragged([one_hot_encode(fetch(*key[:3])) for key in todo],
                                                   [generator(*key) for key in todo])
            ready.update(zip(todo, (one_hot_decode(x) for x in shuffled)))
        return ready.pop(wanted)

    fetch_shuffled.row = fetch_row  # type: ignore[attr-defined]
    return fetch_shuffled


def write_shuffled_null(
    out: str | os.PathLike,
    regions: pd.DataFrame,
    attribute_regions: Callable[[pd.DataFrame, Callable, tuple[pd.DataFrame, int]], Iterator],
    fetch: Callable[[str, int, int], str],
    chrom_sizes: dict[str, int],
    fraction: float,
    seed: int,
    window: int | None = None,
    copies: int = 1,
    job_regions: pd.DataFrame | None = None,
    first: int = 0,
    rows: np.ndarray | None = None,
    pieces: pd.DataFrame | None = None,
) -> dict:
    """Attribute dinucleotide-shuffled copies of a sample of the regions (pieces of long ones) and write ``null.npz``.

    Parameters
    ----------
    out
        Run folder.
    regions
        The run's regions table (``chrom``, ``start``, ``end``, ``name``): the whole job's, or a shard's.
    attribute_regions
        ``(table, fetch, whole_table) -> iterator of RegionResult`` in table order (the engine, with the run's
        model and parameters; ``whole_table`` as :func:`seqsal.engine.iter_region_attributions` takes it: the
        whole job's null rows and the first of ``table``'s, so a shard's null is batched, and its bytes are, as
        in the single run's).
    fetch
        The genome's ``(chrom, start, end) -> str``.
    window
        The model's input length, as the engine uses it (regions shorter than it are fetched widened,
        :func:`seqsal.regions.fetch_span`): lets the shuffles be drawn in blocks ahead of the requests, and sets
        the pieces long regions are sampled in (:func:`null_pieces`).
    fraction, copies
        The share of bases sampled (:func:`null_rows`) and the shuffles of each piece (:func:`null_plan`); a
        piece's copies are consecutive rows.
    job_regions, first
        In a shard, the whole job's regions and the row of ``regions[0]`` in them: the sample is drawn on the job's
        pieces (:func:`null_rows`, one hash per piece) and the shard attributes those of its span's regions.
    rows, pieces
        The rows of ``null_pieces(job, window)`` already drawn (default: ``null_rows`` of them), and those pieces
        when already cut (so the caller that drew the sample does not have them cut twice).

    Returns
    -------
    dict
        What ``run.json`` records: fraction, seed, the sampled pieces (``n_pieces``) and the regions they are cut
        from (``n_regions``), copies and bases (all copies).

    ``null.npz`` is ragged (:func:`seqsal.io.region_arrays` reads it), one row per shuffled copy of a sampled
    piece (a whole region, or a stretch of a long one, :func:`null_pieces`): ``projected`` ``(ΣL,)`` float32
    per-base tracks and ``valid`` ``(ΣL,)`` bool, the rows end to end (row ``k`` is ``[offsets[k], offsets[k+1])``),
    ``length`` ``(K,)``, ``offsets`` ``(K + 1,)``, ``region_index`` ``(K,)`` (the row of the run of the region the
    piece lies in), ``region_key`` ``(K,)`` (the piece's chrom, start, end and its region's name) and
    ``prediction`` ``(K,)`` float32 (the target of each shuffled copy; for a whole region, as ``regions.tsv``'s
    ``prediction`` of the original: ``seqsal audit``'s shuffle response reads it instead of running the model
    again).
    """
    job = regions if job_regions is None else job_regions
    pieces = null_pieces(job, window) if pieces is None else pieces
    job_chosen = np.repeat(null_rows(pieces, fraction, seed) if rows is None else np.asarray(rows, np.int64), copies)
    job_subset = pieces.iloc[job_chosen].reset_index(drop=True)
    owner = job_subset[REGION_INDEX].to_numpy(np.int64)  # a shard's regions are contiguous, so are their pieces
    mine = np.flatnonzero((owner >= first) & (owner < first + len(regions)))  # a contiguous block
    low = int(mine[0]) if mine.shape[0] else 0
    chosen = owner[mine] - first
    subset = job_subset.iloc[low:low + mine.shape[0]].reset_index(drop=True)
    lengths = (subset["end"] - subset["start"]).to_numpy(np.int64)
    # rows of `valid`, streamed beside the tracks; a per-process name that --resume/--force clears like io.atomic_path's
    valid_path = Path(out) / f"{NULL_FILE}.tmp-{os.getpid()}.valid.npy"
    valid_store = RaggedStream(str(valid_path), (), lengths, dtype=bool)
    predictions = np.full(len(subset), np.nan, np.float32)  # filled as the rows stream, written after them

    def projected_rows() -> Iterator[np.ndarray]:
        """Each sampled piece's null track, ``(L_k,)`` one at a time (its validity goes to the store)."""
        try:
            if len(subset):
                limits = subset["chrom"].map(chrom_sizes).fillna(0).to_numpy(np.int64)
                starts = subset["start"].to_numpy(np.int64)
                # this span's stretches (a neighbour's whose windows only fill a batch is shuffled when asked)
                ahead = job_subset.iloc[low:low + mine.shape[0]:copies]
                plan = [(chrom, *fetch_span(int(start), int(end), window))
                        for chrom, start, end in zip(ahead["chrom"], ahead["start"], ahead["end"])]
                shuffled = shuffled_fetch(fetch, seed, plan, copies=copies)
                for result in attribute_regions(subset, shuffled, (job_subset, low)):
                    k = result.index
                    mask = valid_mask(result.one_hot[None], lengths[k:k + 1], starts[k:k + 1], limits[k:k + 1])[0]
                    valid_store.write_row(k, mask)
                    predictions[k] = result.prediction
                    yield np.where(mask, result.projected, 0).astype(np.float32)
        finally:
            valid_store.close()

    keys = np.array(_region_keys(subset), dtype=str) if len(subset) else np.zeros(0, dtype="<U1")
    try:  # members in this order: `valid` is complete once the tracks have been streamed
        write_npz(Path(out) / NULL_FILE, {
            "projected": ((int(lengths.sum()),), np.float32, projected_rows()), "valid": str(valid_path),
            LENGTH: lengths, OFFSETS: ragged_offsets(lengths), "region_index": np.asarray(chosen), "region_key": keys,
            "prediction": predictions,
            "fraction": np.asarray(fraction, np.float64), "seed": np.asarray(seed, np.int64),
            **({"copies": np.asarray(copies, np.int64)} if copies > 1 else {}),
            PIECE_KEY: np.asarray(piece_length(window) or 0, np.int64),  # how long regions were cut (0: whole)
            ATTRIBUTIONS_KEY: np.asarray(sampled_digest(Path(out) / "attributions.npz")),  # whose null it is
        })
    finally:
        valid_path.unlink(missing_ok=True)
    return {"fraction": fraction, "seed": seed, "n_regions": int(np.unique(chosen).shape[0]),
            "n_pieces": int(len(subset)) // max(copies, 1), "copies": copies, "bases": int(lengths.sum()),
            "file": NULL_FILE}
