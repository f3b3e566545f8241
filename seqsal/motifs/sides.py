"""The two sides of a run folder: the test windows of its tracks and of its shuffled null's.

The support test (:mod:`seqsal.motifs.support`) and the motif instance calls
(:mod:`seqsal.motifs.instance_run`) count the same windows: the peak caller's
tests (``test_width``-bp windows that are local maxima of the summed
contribution, :func:`seqsal.peaks.block_tests`) on the run's tracks and on the
null's (``null.npz``), each sign's p-values from the empirical null of the
null's tests (:class:`seqsal.peaks.NullModel`). :func:`folder_sides` reads
them once for both: the tests of each side, the two samples (the support test's
cut at the discovery threshold, the calls' with every run window) and the
null's sequences of both samples, redrawn in one pass over the null
(:func:`null_one_hot`).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..errors import InputError
from ..io import RegionArrays, region_arrays
from ..provenance import read_json_record
from ..tables import read_region_coordinates
from ..peaks import NULL_FILE, NullModel, benjamini_hochberg, block_tests, run_null_problem, shuffled_fetch
from .seqlets import extract_windows

log = logging.getLogger("seqsal")

_ROW_BLOCK_POSITIONS = 1 << 20  # positions read per block of rows (bounded memory: ~32 MB of float32 arrays)


@dataclass
class WindowSet:
    """Test windows of one side (the run's tracks, or the null's), or a sample of them.

    ``rows``, ``starts``, ``signs`` ``(n,)``: row, first base and sign (+1/-1) of each window kept;
    ``bases``: per sign, the valid bases of the side, times the share of its windows kept when they were sampled;
    ``sequences``: ``(rows, starts, width) -> (n, 4, width)`` one-hot stretches (zero outside rows).
    """

    rows: np.ndarray
    starts: np.ndarray
    signs: np.ndarray
    bases: dict[int, float]
    sequences: Callable[[np.ndarray, np.ndarray, int], np.ndarray]


@dataclass
class ScoredWindows:
    """The test windows of one side with their p-values: ``windows`` (:class:`WindowSet`; ``bases`` per sign,
    scaled by the share kept when sampled) and ``pvalues`` ``(n,)`` against the sign's empirical null."""

    windows: WindowSet
    pvalues: np.ndarray


@dataclass
class FolderSides:
    """What :func:`folder_sides` reads from a run folder: ``support`` (the run's and the null's
    :class:`WindowSet` cut at the discovery threshold, each sign's windows sampled to at most ``max_windows``)
    and ``calls`` (the run's windows, all of them, and the null's, sampled, as :class:`ScoredWindows`)."""

    support: tuple[WindowSet, WindowSet]
    calls: tuple[ScoredWindows, ScoredWindows]


def discovery_threshold(observed: dict[int, np.ndarray], null: dict[int, np.ndarray], fdr: float,
                        min_count: int) -> tuple[dict[int, NullModel], float]:
    """Per-sign empirical nulls and the p-value cut of Benjamini-Hochberg at ``fdr`` over the run's tests.

    Parameters
    ----------
    observed, null
        Per sign (``1``, ``-1``): the window statistics ``(n,)`` of the run's tests and of the null's.
    fdr
        The discovery FDR, in ``(0, 1]``.
    min_count
        Fewest null tests a sign's null needs (:meth:`seqsal.peaks.NullModel.empirical`).

    Returns
    -------
    models, threshold
        ``{1: NullModel, -1: NullModel}`` and the largest p-value that passes (0 when none does); one BH
        family over both signs together, as the discovery seeds' (:func:`seqsal.motifs.discovery_seqlets`; the
        peak caller's seqlets answer to each sign's own family since session 29).
    """
    models = {sign: NullModel.empirical(null[sign], min_count) for sign in (1, -1)}
    pvalues = np.concatenate([models[sign].pvalues(observed[sign]) for sign in (1, -1)])
    if not pvalues.shape[0]:
        return models, 0.0
    passing = pvalues[benjamini_hochberg(pvalues) <= fdr]
    return models, float(passing.max()) if passing.shape[0] else 0.0


def window_tests(blocks: Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]], width: int) -> tuple[dict, int]:
    """All tests of tracks served as ``(rows, track (n, L), valid (n, L))`` blocks, and their valid bases.

    Returns ``({sign: (rows, starts, scores)}, bases)``: per sign (``1``, ``-1``) the ``(n,)`` arrays of
    :func:`seqsal.peaks.block_tests`'s windows (row, first base, summed contribution), and the valid bases."""
    found: dict[int, list] = {1: [], -1: []}
    bases = 0
    for rows, track, valid in blocks:
        bases += int(valid.sum())
        for sign, local, starts, scores in block_tests(track, valid, width):
            found[sign].append((rows[local], starts, scores))
    tests = {sign: tuple(np.concatenate([part[k] for part in parts]) if parts else np.zeros(0, np.int64 if k < 2
                                                                                               else np.float64)
                         for k in range(3)) for sign, parts in found.items()}
    return tests, bases


def run_blocks(arrays: RegionArrays) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The run's tracks (one-hot x hypothetical, summed) and validity (one of A/C/G/T, within the length)."""
    for rows, block in arrays.blocks(("one_hot", "hypothetical"), max_positions=4 * _ROW_BLOCK_POSITIONS):
        one_hot = np.asarray(block["one_hot"], np.float32)
        track = (one_hot * np.asarray(block["hypothetical"], np.float32)).sum(axis=1)
        width = one_hot.shape[2]
        valid = (one_hot.max(axis=1) == 1) & (np.arange(width)[None, :] < arrays.lengths[rows][:, None])
        yield rows, np.where(valid, track, 0).astype(np.float32), valid


def null_blocks(null: RegionArrays) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The null's tracks (``projected`` of ``null.npz``, zero where not ``valid``) and validity, as blocks."""
    for rows, block in null.blocks(("projected", "valid"), max_positions=_ROW_BLOCK_POSITIONS):
        valid = np.asarray(block["valid"], bool)
        yield rows, np.where(valid, np.asarray(block["projected"], np.float32), 0).astype(np.float32), valid


def sample_tests(tests: dict, models: dict, bases: int, limit: int | None, rng: np.random.Generator,
                 threshold: float | None = None) -> tuple[np.ndarray, ...]:
    """``(rows, starts, signs, pvalues, scaled)``: tests with ``p <= threshold`` (None: all), ``limit`` per sign
    sampled beyond (None: all kept), ``scaled`` each sign's bases times its share kept."""
    parts, scaled = [], {}
    for sign in (1, -1):
        rows, starts, scores = tests[sign]
        pvalues = models[sign].pvalues(scores)
        kept = np.flatnonzero((pvalues <= threshold) & (threshold > 0) if threshold is not None else pvalues >= 0)
        scaled[sign] = float(bases)
        if limit is not None and kept.shape[0] > limit:
            scaled[sign] *= limit / kept.shape[0]
            kept = np.sort(rng.choice(kept, limit, replace=False))
        parts.append((rows[kept], starts[kept], np.full(kept.shape[0], sign, np.int64), pvalues[kept]))
    return (*(np.concatenate([part[k] for part in parts]) for k in range(4)), scaled)


def check_null_genome(out_dir: str | os.PathLike) -> None:
    """Refuse early (before discovery's minutes) a run whose null sequences must be redrawn from a genome that
    is gone or changed (:func:`null_one_hot` would refuse it after discovery, with the same message).

    Raises
    ------
    InputError
        From :func:`seqsal.run_genome.genome_of_run`.
    """
    out = Path(out_dir)
    if not (out / NULL_FILE).is_file() or not (out / "run.json").is_file():
        return
    if "one_hot" in region_arrays(out / NULL_FILE, ("projected",)).small:
        return
    record = read_json_record(out / "run.json")
    if record.get("genome"):
        from ..run_genome import genome_of_run

        genome_of_run(record, out).close()


def null_one_hot(out_dir: str | os.PathLike, rows: np.ndarray) -> np.ndarray | None:
    """The sequences ``(len(rows), 4, L)`` float32 of rows of a run's ``null.npz`` (``L`` the longest of those rows,
    zero-padded on the right), or None if unavailable.

    From the ``one_hot`` member of ``null.npz`` when it has one; else redrawn: each row is the
    dinucleotide shuffle :func:`seqsal.peaks.shuffled_fetch` gave the null writer
    (:func:`seqsal.peaks.write_shuffled_null`) for its piece (``region_key``: its region, or a stretch of a long
    one; widened to the model window as :func:`seqsal.regions.fetch_span` widens it, then cropped back), with the null's
    ``seed`` and ``copies``, from the genome and window that ``run.json`` records. None (with a warning)
    when ``run.json`` names no genome.

    Raises
    ------
    InputError
        The genome ``run.json`` names is not at that path any more, or no longer holds the run's bases
        (:func:`seqsal.run_genome.genome_of_run`; the messages say how to point the run at the right file): motifs
        untested against the null would be the noise the test exists to drop, so they are not written.
    """
    out = Path(out_dir)
    stored = region_arrays(out / NULL_FILE, ("projected",))
    rows = np.asarray(rows, dtype=np.int64)
    width = int(stored.lengths[rows].max()) if rows.shape[0] else stored.max_length
    if "one_hot" in stored.small:
        return region_arrays(out / NULL_FILE, ("one_hot",))["one_hot"].padded(rows, width).astype(np.float32)
    if not rows.shape[0]:
        return np.zeros((0, 4, width), np.float32)
    null = stored.small
    from ..encode import one_hot_encode
    from ..regions import fetch_span
    from ..run_genome import genome_of_run

    record = read_json_record(out / "run.json") if (out / "run.json").exists() else {}
    genome_path = record.get("genome")
    if not genome_path:
        log.warning("run.json names no genome to redraw the sequences of null.npz from: motifs are not tested "
                    "against the null")
        return None
    opened = genome_of_run(record, out)  # refused when gone from its path, or no longer the run's bases
    parameters = record.get("parameters", {})
    window = parameters.get("window")
    seed = int(null["seed"])
    copies = int(null["copies"]) if "copies" in null else 1
    keys = [str(key).split("\t") for key in null["region_key"]]
    spans = [(chrom, *fetch_span(int(start), int(end), window)) for chrom, start, end, *_ in keys]
    out_array = np.zeros((rows.shape[0], 4, width), np.float32)
    needed = np.unique(rows)  # only these rows are shuffled, each as the writer's row of the same index
    with opened as genome:
        fetch = shuffled_fetch(genome.fetch, seed, list(dict.fromkeys(spans[row] for row in needed)), copies=copies)
        for row in needed.tolist():
            (chrom, start, end, *_), (_, fetch_start, fetch_end) = keys[row], spans[row]
            sequence = fetch.row(row, chrom, fetch_start, fetch_end)
            offset = int(start) - fetch_start
            encoded = one_hot_encode(sequence)[:, offset:offset + int(end) - int(start)]
            out_array[rows == row, :, :encoded.shape[1]] = encoded
    return out_array


def folder_sides(out_dir: str | os.PathLike, fdr: float, test_width: int, min_null_candidates: int,
                 max_windows: int, seed: int) -> FolderSides | None:
    """Both sides of a run folder, read once for the support test and the motif instance calls.

    Parameters
    ----------
    out_dir
        The run folder: ``attributions.npz``, ``null.npz`` and ``run.json`` (the genome its null's sequences are
        redrawn from, unless ``null.npz`` holds ``one_hot``).
    fdr
        The discovery FDR, in ``(0, 1]``: the support test's windows are the tests that pass it (both sides cut
        at the same p-value, :func:`discovery_threshold`).
    test_width, min_null_candidates
        As the peak caller's (:class:`seqsal.peaks.PeakOptions`).
    max_windows
        Most windows of each sign of a side in a sample (a uniform sample beyond, its bases scaled); the run's
        windows of the calls are never sampled (a call is a statement about each of them).
    seed
        Seed of the samples: the support test's and the calls' are drawn from generators of this seed each.

    Returns
    -------
    FolderSides or None
        None (logged) when the folder has no ``null.npz`` (and ``run.json`` records none), the null holds too few
        tests of a sign the run has (a sign neither side takes, as a Grad-CAM map's negative one, needs none), or the null's sequences
        cannot be redrawn (:func:`null_one_hot`).

    Raises
    ------
    InputError
        ``null.npz`` is missing although ``run.json`` records it, or is another run's
        (:func:`seqsal.peaks.run_null_problem`); the genome cannot be read back (:func:`null_one_hot`).
    """
    out = Path(out_dir)
    if (problem := run_null_problem(out, read_region_coordinates(out / "regions.tsv", names=False))) is not None:
        raise InputError(problem, str(out / NULL_FILE))
    if not (out / NULL_FILE).exists():
        log.warning("no null.npz in this run (it ran with --null laplace or --no-peaks): motifs are not tested "
                    "against a null and not called; rerun `seqsal attribute` with --null shuffle (the default)")
        return None
    arrays = region_arrays(out / "attributions.npz", ("one_hot", "hypothetical"))
    null = region_arrays(out / NULL_FILE, ("projected", "valid"))
    run_tests, bases = window_tests(run_blocks(arrays), test_width)
    null_tests, null_bases = window_tests(null_blocks(null), test_width)
    models, threshold = discovery_threshold({s: run_tests[s][2] for s in (1, -1)},
                                            {s: null_tests[s][2] for s in (1, -1)}, fdr, min_null_candidates)
    short = [s for s, m in models.items() if m.kind == "none" and (m.n or run_tests[s][2].shape[0])]
    if len(short) == 2 or not null_bases:
        log.warning("the shuffled null holds too few tests (%s; need %d per sign): motifs are not tested against "
                    "it and not called; raise --min-null-bases of `seqsal attribute`",
                    ", ".join(f"{'+' if s > 0 else '-'}: {models[s].n}" for s in (1, -1)), min_null_candidates)
        return None
    if short:  # one sign too few: that sign is left out (its motifs fail the test), the other is tested (fresh16)
        sign = "+" if short[0] > 0 else "-"
        log.warning("the shuffled null holds too few %s tests (%d; need %d): %s motifs are not tested against it, "
                    "so not kept, and %s windows are not called; raise --min-null-bases of `seqsal attribute`", sign,
                    models[short[0]].n, min_null_candidates, sign, sign)
        for tests in (run_tests, null_tests):
            tests[short[0]] = tuple(part[:0] for part in tests[short[0]])
        models, threshold = discovery_threshold({s: run_tests[s][2] for s in (1, -1)},
                                                {s: null_tests[s][2] for s in (1, -1)}, fdr, min_null_candidates)
    rng = np.random.default_rng(seed)
    rows, starts, signs, _, scaled = sample_tests(run_tests, models, bases, max_windows, rng, threshold)
    null_rows, null_starts, null_signs, _, null_scaled = sample_tests(null_tests, models, null_bases, max_windows,
                                                                      rng, threshold)
    rng = np.random.default_rng(seed)
    *run_side, run_bases = sample_tests(run_tests, models, bases, None, rng)
    *null_side, null_sampled = sample_tests(null_tests, models, null_bases, max_windows, rng)
    needed = np.union1d(null_rows, null_side[0])
    one_hot = null_one_hot(out, needed)  # one pass over the null's shuffles for both samples
    if one_hot is None:
        return None
    lengths, null_lengths = arrays.lengths, null.lengths[needed]

    def run_sequences(r: np.ndarray, s: np.ndarray, width: int) -> np.ndarray:
        return extract_windows([arrays["one_hot"]], lengths, r, s, width)[0]

    def null_sequences(r: np.ndarray, s: np.ndarray, width: int) -> np.ndarray:
        return extract_windows([one_hot], null_lengths, np.searchsorted(needed, r), s, width)[0]

    if threshold > 0:
        log.info("support test: %d windows of the run and %d of the null at p <= %.3g (discovery FDR %g); "
                 "%d and %d valid bases", rows.shape[0], null_rows.shape[0], threshold, fdr, bases, null_bases)
    else:
        log.warning("support test: no test of the run passes FDR %g against the shuffled null, so no motif has "
                    "support", fdr)
    return FolderSides(
        (WindowSet(rows, starts, signs, scaled, run_sequences),
         WindowSet(null_rows, null_starts, null_signs, null_scaled, null_sequences)),
        (ScoredWindows(WindowSet(*run_side[:3], run_bases, run_sequences), run_side[3]),
         ScoredWindows(WindowSet(*null_side[:3], null_sampled, null_sequences), null_side[3])))
