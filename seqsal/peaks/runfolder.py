"""Run folders: call peaks from ``attributions.npz`` (and ``null.npz``), write the peak files, record them.

Reads ``attributions.npz`` and ``null.npz`` in bounded row blocks; writes
``seqlets.bed``/``elements.bed`` (narrowPeak, 10 columns, each site once) and
``seqlets.tsv``/``elements.tsv`` (every call, in genome and region coordinates:
``start``/``end``/``summit`` are genome positions, ``offset_*`` positions within
the region's row of ``attributions.npz``, + strand, 0-based half-open), and the
``peaks`` entry of ``run.json``. :func:`run_peaks_stage` is the peak stage of
``seqsal attribute``; :func:`call_peaks_from_run` is ``seqsal call-peaks``.
"""
from __future__ import annotations

import bisect
import json
import logging
import os
import time
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from ..errors import InputError, option
from ..io import region_arrays, write_table_atomic, write_text_atomic
from ..provenance import check_not_shard, prune, read_json_record, sampled_digest, write_record
from ..tables import read_region_coordinates, TEXT_DTYPES
from ..run_genome import check_table_fits_arrays
from ..runlock import locks_run_folder
from ..text import plural
from .calling import PeakCalls, call_source
from .nulls import ATTRIBUTIONS_KEY, REGION_INDEX, null_pieces, null_plan, null_rows, write_shuffled_null
from .options import CALL_COLUMNS, NULL_FILE, PEAK_FILES, PeakOptions
from .stats import CHUNK_POSITIONS
from .streams import ChunkSource, TrackChunk, valid_mask

log = logging.getLogger("seqsal")


def _run_source(out: Path, regions: pd.DataFrame, chrom_sizes: dict[str, int]) -> ChunkSource:
    """The tracks of a run folder's ``attributions.npz`` (projected: hypothetical x one-hot, summed), streamed."""
    arrays = region_arrays(out / "attributions.npz", ("one_hot", "hypothetical"))
    n = len(arrays)
    if n != len(regions):
        raise InputError(f"attributions.npz holds {n} rows but regions.tsv {len(regions)}; the run is incomplete",
                         str(out))
    starts, ends = regions["start"].to_numpy(np.int64), regions["end"].to_numpy(np.int64)
    chrom = regions["chrom"].astype("category").array
    size_of = np.array([chrom_sizes.get(name, 0) for name in chrom.categories] + [0], np.int64)  # [-1]: none
    codes = chrom.codes  # limits and lengths are taken per block: no per-region int64 arrays beyond these

    def chunks(rows: np.ndarray | None = None) -> Iterator[TrackChunk]:
        wanted = None if rows is None else np.asarray(rows, dtype=np.int64)
        for block, rows_of in arrays.blocks(rows=wanted, max_positions=CHUNK_POSITIONS):
            one_hot = rows_of["one_hot"]
            track = (rows_of["hypothetical"] * one_hot).sum(axis=1)
            valid = valid_mask(one_hot, ends[block] - starts[block], starts[block], size_of[codes[block]])
            yield TrackChunk(block, np.where(valid, track, 0).astype(np.float32), valid, one_hot)

    return chunks


def _null_source(path: Path) -> ChunkSource:
    """The tracks of a ``null.npz`` (:func:`seqsal.peaks.nulls.write_shuffled_null`), streamed."""
    arrays = region_arrays(path, ("projected", "valid"))
    n = len(arrays)

    def chunks(rows: np.ndarray | None = None) -> Iterator[TrackChunk]:
        wanted = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
        for block, rows_of in arrays.blocks(rows=wanted, max_positions=CHUNK_POSITIONS):
            yield TrackChunk(block, np.asarray(rows_of["projected"], np.float32), np.asarray(rows_of["valid"], bool))

    return chunks


def _chrom_sizes(out: Path) -> dict[str, int]:
    """Chromosome lengths of a run: from its ``attributions.bw``, else from the genome its ``run.json`` names."""
    bigwig = out / "attributions.bw"
    if bigwig.exists():
        import pyBigWig

        handle = pyBigWig.open(str(bigwig))
        try:
            return dict(handle.chroms())
        finally:
            handle.close()
    run = out / "run.json"
    if run.exists():
        from ..run_genome import genome_of_run

        with genome_of_run(read_json_record(run), out) as genome:
            return dict(genome.chrom_sizes)
    raise InputError("neither attributions.bw nor run.json is there to give chromosome sizes", str(out))


def run_null_problem(out: Path, regions: pd.DataFrame) -> str | None:
    """What is wrong with a run folder's ``null.npz``, or None: missing although ``run.json`` records the shuffled
    null the calls were made with, or not this run's (written beside other attributions, its ``attributions_key``;
    or a row's ``region_key`` does not lie within its ``region_index`` row of ``regions.tsv``, on its chrom: the
    null of another run, copied in; a row is that region or a piece of it, :func:`seqsal.peaks.nulls.null_pieces`).
    ``regions``: the folder's :func:`seqsal.tables.read_region_coordinates`."""
    path = out / NULL_FILE
    if not path.exists():
        record = read_json_record(out / "run.json") if (out / "run.json").exists() else {}
        recorded = (record.get("peaks") or {}).get("null_sample")
        return (f"missing: run.json records the shuffled null ({NULL_FILE}) this run was called with; rerun "
                "`seqsal attribute` with --force, or re-call with `seqsal call-peaks --null laplace` (motifs are then "
                "not tested against a null)") if recorded else None
    try:
        with np.load(path) as null:
            rows, keys = null["region_index"].astype(np.int64), null["region_key"]
            owner = str(null[ATTRIBUTIONS_KEY]) if ATTRIBUTIONS_KEY in null.files else None  # None: older seqsal
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # truncated, or not a null at all
        return (f"cannot be read as this run's shuffled null ({type(exc).__name__}): it is damaged; rerun `seqsal "
                "attribute` with --force, or re-call with `seqsal call-peaks --null laplace`")
    if owner is not None and owner != sampled_digest(out / "attributions.npz"):
        return ("not this run's: it was written beside other attributions (another model, method, target or "
                "parameters); a null.npz of another run was copied here: rerun `seqsal attribute` with --force")
    fields = np.char.split(keys.astype(str), "\t")  # chrom, start, end, name of each null row's region
    inside = (rows >= 0) & (rows < len(regions))
    held = np.where(inside, rows, 0)
    chroms = regions["chrom"].astype(str).to_numpy()[held]
    starts, ends = regions["start"].to_numpy(np.int64)[held], regions["end"].to_numpy(np.int64)[held]
    same = inside & np.array([f[0] == c and s <= int(f[1]) <= int(f[2]) <= e  # the region, or a piece of it
                              for f, c, s, e in zip(fields, chroms, starts, ends)], dtype=bool)
    if not same.all():
        k = int(np.flatnonzero(~same)[0])
        chrom, start, end = fields[k][:3]
        return (f"not this run's: its row {k} is the shuffle of {chrom}:{start}-{end}, but row {int(rows[k])} of "
                f"regions.tsv is another region, which does not hold it; a null.npz of another run was copied here: "
                "rerun `seqsal attribute` with --force")
    return None


@locks_run_folder("call_peaks", when=lambda arguments: arguments["write"])
def call_peaks_from_run(
    out_dir: str | os.PathLike,
    options: PeakOptions | None = None,
    chrom_sizes: dict[str, int] | None = None,
    write: bool = True,
    elements: bool = True,
    note: dict | None = None,
    **overrides,
) -> PeakCalls:
    """(Re-)call seqlets and elements of a run folder without recomputing attributions.

    Reads ``attributions.npz`` in bounded row blocks, ``regions.tsv`` and (for
    the ``shuffle`` null) ``null.npz``; writes ``seqlets.bed``, ``elements.bed``
    (narrowPeak), ``seqlets.tsv`` and ``elements.tsv`` when ``write``, puts their provenance (the
    attributions' digest, :func:`seqsal.provenance.write_record`) in ``info["provenance"]``, stores ``info`` as
    ``run.json``'s ``peaks`` entry (:func:`update_run_record`: the record describes the calls in the folder, from
    the API as from ``seqsal call-peaks``) and removes the files derived from the calls it replaced
    (:func:`seqsal.provenance.prune`).

    Parameters
    ----------
    out_dir
        Output folder of ``seqsal attribute``.
    options, **overrides
        :class:`PeakOptions`, or its fields as keyword arguments (an override of ``None`` is ignored).
        ``null=None`` picks ``shuffle`` when the folder holds ``null.npz``, else ``laplace``.
    chrom_sizes
        Chromosome lengths (default: from ``attributions.bw``, else the genome of ``run.json``); a key ``17``
        names the chromosome ``"17"``; they must name every chromosome of the run's regions.
    write
        Write the peak files, their provenance and ``run.json``'s ``peaks`` entry.
    elements
        False: call seqlets only (``elements`` empty; not with ``write``, which writes both).
    note
        Keys added to ``info`` (and so to ``run.json``'s ``peaks``) with the calls, in the same write: e.g.
        ``withheld`` (:func:`seqsal.seqlet_check.withhold_unconfirmed`).

    Returns
    -------
    PeakCalls
        ``seqlets`` and ``elements`` with the columns of the TSV files, and ``info``.

    Raises
    ------
    ValueError
        For ``write=True`` with ``elements=False``.
    InputError
        When ``attributions.npz`` or ``regions.tsv`` is missing; for an unknown or out-of-range peak option;
        ``null="shuffle"`` without ``null.npz``, or a ``null.npz`` of another run; ``regions.tsv`` not matching
        ``attributions.npz``; chromosome sizes that cannot be found; with ``write``, when the run has not
        finished or another seqsal process holds the folder's lock.
    """
    out = Path(out_dir)
    if write and not elements:
        raise ValueError("call_peaks_from_run: write=True writes elements too; pass elements=True")
    for name in ("attributions.npz", "regions.tsv"):
        if not (out / name).exists():
            raise InputError(f"no {name} here: give the output folder of `seqsal attribute`", str(out))
    check_not_shard(out, "call-peaks", writes=write)
    if options is not None and not isinstance(options, PeakOptions):  # fresh30b: call_peaks_from_run(run, 0.1)
        raise InputError(f"options must be a PeakOptions, got {options!r}; give a level as fdr=..., and other "
                         "fields as keyword arguments (call_peaks_from_run(out, **fields) or PeakOptions(**fields))")
    options = PeakOptions(**asdict(options)) if options is not None else PeakOptions(null=None)
    for key, value in overrides.items():
        if key not in PeakOptions.__dataclass_fields__:
            raise InputError(f"unknown peak option {key!r}")
        if value is not None:
            setattr(options, key, value)
    null_path = out / NULL_FILE
    chosen = options.null
    if options.null is None:
        options.null = "shuffle" if null_path.exists() else "laplace"
        if options.null == "laplace" and write:  # a --no-peaks run was called with it unsaid
            log.info("null: laplace, fitted to this run's own attributions: the run folder has no %s (made with "
                     "--no-peaks or --null laplace); `seqsal attribute` without --no-peaks, with its default --null "
                     "shuffle, draws the shuffled null", NULL_FILE)
    if options.null == "shuffle" and not null_path.exists():
        raise InputError(f"{option('null', 'shuffle')}: this run has no null.npz (it ran with --null laplace or "
                         f"--no-peaks); use {option('null', 'laplace')}, or rerun `seqsal attribute` with "
                         "--null shuffle", str(out))
    options.check()
    regions = read_region_coordinates(out / "regions.tsv", names=False)  # names: read for the calls' rows only
    check_table_fits_arrays(regions, region_arrays(out / "attributions.npz", ("hypothetical",)).lengths, out)
    if chosen != "laplace" and (problem := run_null_problem(out, regions)) is not None:
        raise InputError(problem, str(null_path))
    if chrom_sizes is not None:
        chrom_sizes = {str(name): int(size) for name, size in chrom_sizes.items()}  # 17 -> "17", as regions.tsv
        if missing := sorted(set(regions["chrom"].astype(str)) - set(chrom_sizes)):  # fresh30b: 0 calls, a warning
            raise InputError(f"chrom_sizes does not name the run's chromosome(s) {', '.join(missing[:5])}"
                             f"{' ...' if len(missing) > 5 else ''} (it names {', '.join(list(chrom_sizes)[:5])}); "
                             "give the genome's sizes, or leave chrom_sizes out to read them from the run", str(out))
        first = regions.groupby(regions["chrom"].astype(str))["start"].max()  # review30b: another assembly's sizes
        if short := [name for name, start in first.items() if chrom_sizes[name] <= start]:
            raise InputError(f"chrom_sizes gives {short[0]} {chrom_sizes[short[0]]:,} bases, but a region of the run "
                             f"starts at {int(first[short[0]]):,}: sizes of another assembly? give the genome's "
                             "sizes, or leave chrom_sizes out", str(out))
    else:
        chrom_sizes = _chrom_sizes(out)
    source = _run_source(out, regions, chrom_sizes)
    null_source = _null_source(null_path) if options.null == "shuffle" else None
    calls = call_source(source, options, null_source, elements, scratch=out)  # spills: unnamed files in out
    called = np.unique(np.concatenate([calls.seqlets["region_index"].to_numpy(np.int64),
                                       calls.elements["region_index"].to_numpy(np.int64)]))
    regions = regions.iloc[called].assign(name=region_names(out / "regions.tsv", called))
    regions.index = pd.Index(called)  # the rows of the calls' regions, looked up by region index
    seqlets = _genome_table(calls.seqlets, regions, "seqlet")
    elements = _genome_table(calls.elements, regions, "element")
    if options.null == "shuffle":
        with np.load(null_path) as null:
            copies = int(null["copies"]) if "copies" in null.files else 1
            calls.info["null_sample"] = {"file": NULL_FILE,
                                         "n_regions": int(np.unique(null["region_index"]).shape[0]),
                                         "n_pieces": int(null["region_index"].shape[0]) // copies,
                                         "copies": copies, "bases": int(null["length"].sum()),
                                         "fraction": float(null["fraction"]), "seed": int(null["seed"])}
    calls.info["repeats"] = {"seqlets": int(len(seqlets) - len(unique_calls(seqlets))),
                             "elements": int(len(elements) - len(unique_calls(elements))),
                             "meaning": "calls that repeat a more significant call of an overlapping region "
                                        "(duplicate_of in the TSVs; not in the BED files)"}
    if write:
        write_peak_files(out, seqlets, elements, chrom_sizes)
        calls.info["provenance"] = write_record(out, "calls")  # run.json's peaks.provenance
        prune(out, "calls")  # logos, motifs, report... drawn from the calls this re-call replaced
    calls.info["outputs"] = list(PEAK_FILES)
    calls.info.update(note or {})
    if write:  # run.json describes the calls now in the folder, whichever way they were made
        update_run_record(out, calls.info)
    return PeakCalls(seqlets, elements, calls.info)


def region_names(path: str | os.PathLike, rows: np.ndarray) -> np.ndarray:
    """The ``name`` ``(K,)`` (object, str) of the regions ``rows`` ``(K,)`` of a ``regions.tsv`` (any order,
    repeats allowed), as :func:`seqsal.io.read_region_coordinates` reads them: read 4,096 rows at a time,
    keeping only those asked for, so memory holds the names of the called regions only."""
    rows = np.asarray(rows, dtype=np.int64)
    out = np.empty(rows.shape[0], dtype=object)
    base = 0
    with pd.read_csv(path, sep="\t", usecols=["name"], keep_default_na=False, chunksize=1 << 12,
                     dtype=TEXT_DTYPES) as reader:
        for part in reader if rows.shape[0] else ():
            mine = (rows >= base) & (rows < base + len(part))
            out[mine] = part["name"].to_numpy()[rows[mine] - base]
            base += len(part)
    if rows.shape[0] and (rows.max() >= base or rows.min() < 0):
        raise InputError(f"regions.tsv holds {base} regions, not row {int(rows.max())}", str(path))
    return out


def _genome_table(frame: pd.DataFrame, regions: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Add region and genome columns; sort by genome position (chromosome names byte-wise, as ``sort -k1,1``).
    ``regions`` (``name``, ``chrom``, ``start``) is indexed by region index and holds the frame's rows at least."""
    if frame.empty:
        return pd.DataFrame(columns=CALL_COLUMNS)
    index = frame["region_index"].to_numpy(np.int64)
    at = regions.index.get_indexer(index)
    start0 = regions["start"].to_numpy(np.int64)[at]
    table = pd.DataFrame({
        "region_index": index, "region_name": regions["name"].to_numpy()[at],
        "chrom": regions["chrom"].to_numpy()[at],
        "start": start0 + frame["offset_start"].to_numpy(np.int64), "end": start0 + frame["offset_end"].to_numpy(np.int64),
        "offset_start": frame["offset_start"].to_numpy(np.int64), "offset_end": frame["offset_end"].to_numpy(np.int64),
        "sign": np.where(frame["sign"].to_numpy() > 0, "+", "-"), "score": frame["score"].to_numpy(np.float64),
        "pvalue": frame["pvalue"].to_numpy(np.float64), "qvalue": frame["qvalue"].to_numpy(np.float64),
        "summit": start0 + frame["summit_offset"].to_numpy(np.int64),
        "summit_offset": frame["summit_offset"].to_numpy(np.int64), "rank": frame["rank"].to_numpy(np.int64),
        "n_seqlets": frame["n_seqlets"].to_numpy(np.int64), "sequence": frame["sequence"].to_numpy(),
    })
    chrom_key = table["chrom"].map(lambda name: name.encode())
    order = np.lexsort((table["region_index"].to_numpy(), table["sign"].to_numpy(), table["end"].to_numpy(),
                        table["start"].to_numpy(), chrom_key.to_numpy()))
    table = table.iloc[order].reset_index(drop=True)
    table.insert(0, "name", [f"{prefix}_{k + 1:06d}" for k in range(len(table))])
    kept = duplicate_of(table)
    table["duplicate_of"] = np.where(kept >= 0, table["name"].to_numpy()[np.maximum(kept, 0)], "")
    return table[CALL_COLUMNS]


def unique_calls(table: pd.DataFrame) -> pd.DataFrame:
    """The calls of a seqlet/element table that are not a repeat of another (``duplicate_of`` empty or absent)."""
    if "duplicate_of" not in table or table.empty:
        return table
    repeats = table["duplicate_of"]
    return table[repeats.isna().to_numpy() | (repeats.astype(str) == "").to_numpy()]


def duplicate_of(table: pd.DataFrame) -> np.ndarray:
    """For calls of overlapping input regions that are the same site: the row of the call each one repeats.

    Parameters
    ----------
    table
        Calls with ``chrom``, ``start``, ``end`` (genome, 0-based half-open),
        ``sign``, ``pvalue`` and ``region_index``.

    Returns
    -------
    np.ndarray
        ``(K,)`` int64: -1 for a call that is reported, else the row of the
        more significant same-sign call (of another region; calls of one region
        never overlap) that it overlaps on the genome. Calls are visited by
        p-value (ties: lower region index, then position), so of a site seen
        from several regions the best-supported call is the one kept.
    """
    out = np.full(len(table), -1, dtype=np.int64)
    if table.empty:
        return out
    chrom = table["chrom"].to_numpy()
    sign = table["sign"].to_numpy()
    start = table["start"].to_numpy(np.int64)
    end = table["end"].to_numpy(np.int64)
    order = np.lexsort((start, table["region_index"].to_numpy(), table["pvalue"].to_numpy(np.float64)))
    kept: dict[tuple, tuple[list, list, list]] = {}  # (chrom, sign) -> sorted starts, their ends, their rows
    for row in order:
        starts, ends, rows = kept.setdefault((chrom[row], sign[row]), ([], [], []))
        at = bisect.bisect_left(starts, start[row])
        # kept calls do not overlap one another: only the neighbours on either side can overlap this one
        for k in (at - 1, at):
            if 0 <= k < len(starts) and starts[k] < end[row] and start[row] < ends[k]:
                out[row] = rows[k]
                break
        else:
            starts.insert(at, int(start[row]))
            ends.insert(at, int(end[row]))
            rows.insert(at, int(row))
    return out


def narrowpeak(table: pd.DataFrame) -> pd.DataFrame:
    """narrowPeak rows (10 columns) of a seqlet/element table in genome coordinates.

    score: the call's significance scaled within the file to the browser's 0-1000 shading, as ENCODE's
    uniformly processed peak files scale theirs: ``100 + round(900 * s / max(s))`` with ``s = -log10 q``, so
    every call is visible (>= 100) and the most significant is 1000 (``-10 log10 q`` alone, MACS2's score,
    gave 10-24 for calls at FDR 0.05-0.1: nearly white); strand ``.``; signalValue: summed attribution
    (signed); pValue, qValue: ``-log10``; peak: summit - start.
    """
    if table.empty:
        return pd.DataFrame(columns=["chrom", "start", "end", "name", "score", "strand", "signalValue", "pValue",
                                     "qValue", "peak"])
    p = -np.log10(np.clip(table["pvalue"].to_numpy(np.float64), 1e-300, 1.0))
    q = -np.log10(np.clip(table["qvalue"].to_numpy(np.float64), 1e-300, 1.0))
    return pd.DataFrame({
        "chrom": table["chrom"], "start": table["start"].astype(np.int64), "end": table["end"].astype(np.int64),
        "name": table["name"], "score": (100 + np.round(900 * q / max(float(q.max()), 1e-12))).astype(np.int64),
        "strand": ".",
        "signalValue": table["score"].map(lambda v: f"{v:.6g}"), "pValue": [f"{v:.4f}" for v in p],
        "qValue": [f"{v:.4f}" for v in q], "peak": (table["summit"] - table["start"]).astype(np.int64),
    })


def write_peak_files(out: str | os.PathLike, seqlets: pd.DataFrame, elements: pd.DataFrame,
                     chrom_sizes: dict[str, int] | None = None) -> None:
    """Write ``seqlets.bed``, ``elements.bed`` (narrowPeak, clipped calls never leave the chromosome),
    ``seqlets.tsv`` and ``elements.tsv`` atomically. The BED files list each site once: a call that repeats a
    more significant one of an overlapping region (``duplicate_of``) is only in the TSV."""
    out = Path(out)
    tables = (("seqlets", seqlets), ("elements", elements))
    for name, table in tables:
        if chrom_sizes is not None and not table.empty:
            limits = table["chrom"].map(chrom_sizes).to_numpy()
            if ((table["start"] < 0) | (table["end"] > limits)).any():
                raise AssertionError(f"{name} outside a chromosome: a bug in the peak caller")
    # the TSVs (the calls' provenance key files) first: a write that fails part-way then leaves the calls stale,
    # never an earlier run's TSVs, read as current, beside this run's BED files
    for name, table in tables:
        write_table_atomic(out / f"{name}.tsv", table)
    for name, table in tables:
        write_table_atomic(out / f"{name}.bed", narrowpeak(unique_calls(table)), header=False)


def update_run_record(out_dir: str | os.PathLike, info: dict) -> None:
    """Store ``info`` as the ``peaks`` entry of ``run.json`` (and list the peak files among its outputs)."""
    path = Path(out_dir) / "run.json"
    if not path.exists():
        return
    record = read_json_record(path)
    record["peaks"] = info
    record["outputs"] = list(dict.fromkeys([*record.get("outputs", []), *info.get("outputs", [])]))
    write_text_atomic(path, json.dumps(record, indent=2, default=str) + "\n")


def remove_peak_files(out_dir: str | os.PathLike, null: bool = True) -> None:
    """Delete peak outputs of an earlier run in this folder (this run writes its own, or none with --no-peaks)."""
    for name in (*PEAK_FILES, *((NULL_FILE,) if null else ())):
        path = Path(out_dir) / name
        if path.exists():
            path.unlink()
            log.info("removed %s of an earlier run in this folder (this run writes its own)", name)


def run_peaks_stage(
    out_dir: str | os.PathLike,
    options: PeakOptions,
    regions: pd.DataFrame,
    attribute_regions: Callable[[pd.DataFrame, Callable, tuple[pd.DataFrame, int]], Iterator],
    fetch: Callable[[str, int, int], str],
    chrom_sizes: dict[str, int],
    call: bool = True,
    window: int | None = None,
    job_regions: pd.DataFrame | None = None,
    first: int = 0,
) -> dict:
    """The peak stage of ``seqsal attribute``: shuffled null (when asked for), then calls from the run folder.

    Calls go through :func:`call_peaks_from_run`, the same path as ``seqsal
    call-peaks``, so re-calling with the same options gives the same files.
    ``call=False`` (a shard of a job) only draws the null: the calls of a shard
    would be thrown away, since the job is called once its shards are merged.

    Parameters
    ----------
    out_dir
        The run folder (``attributions.npz`` and ``regions.tsv`` written).
    options
        The peak options (``null="shuffle"`` draws ``null.npz`` first).
    regions, attribute_regions, fetch, chrom_sizes
        The run's regions table, its engine ``(table, fetch, whole_table) -> RegionResult`` iterator, the
        genome's ``fetch`` and chromosome lengths: what :func:`seqsal.peaks.nulls.write_shuffled_null` needs.
    call
        ``False`` in a shard: draw the null only.
    window
        The model's input length (``AttributeOptions.window`` as resolved), not ``options.test_width``.
    job_regions, first
        The whole job's regions (all shards; default: ``regions``) and the row of ``regions[0]`` in them. The job
        sizes the null and draws its sample of pieces (:func:`seqsal.peaks.nulls.null_plan`,
        :func:`seqsal.peaks.nulls.null_pieces`, :func:`seqsal.peaks.nulls.null_rows`); a shard attributes the
        sampled pieces of its span's regions, batched as the single run batches them, so the merged shards'
        ``null.npz`` is the single run's, byte for byte.

    Returns
    -------
    dict
        The ``peaks`` entry of ``run.json``.
    """
    options = PeakOptions(**asdict(options)).check()
    out = Path(out_dir)
    remove_peak_files(out)
    started = time.perf_counter()
    null_info = None
    if options.null == "shuffle":
        job = regions if job_regions is None else job_regions
        lengths = (job["end"] - job["start"]).to_numpy(np.int64)
        fraction, copies = null_plan(int(lengths.sum()), options.null_fraction, options.min_null_bases,
                                     options.max_null_copies)
        pieces = null_pieces(job, window)  # long regions are sampled in pieces, so the draw can meet the plan
        rows = null_rows(pieces, fraction, options.seed)
        owner = pieces[REGION_INDEX].to_numpy(np.int64)[rows]
        mine = rows[(owner >= first) & (owner < first + len(regions))]
        sizes = (pieces["end"] - pieces["start"]).to_numpy(np.int64)
        cut = f", as {plural(len(mine), 'piece')}" if len(pieces) > len(job) else ""
        log.info("shuffled null: attributing dinucleotide-shuffled copies of %d of the %s%s%s (%s; the job's plan: "
                 "%s)", np.unique(pieces[REGION_INDEX].to_numpy()[mine]).shape[0], plural(len(regions), "region"), cut,
                 f", {copies} shuffles of each" if copies > 1 else "", plural(int(sizes[mine].sum()) * copies, "base"),
                 f"{round(fraction * int(lengths.sum())) * copies:,}")
        null_info = write_shuffled_null(out, regions, attribute_regions, fetch, chrom_sizes, fraction,
                                        options.seed, window, copies, job_regions=job, first=first, rows=rows,
                                        pieces=pieces)
    null_seconds = time.perf_counter() - started
    if not call:
        return {"null": options.null, "requested_null": options.null, "fdr": options.fdr,
                "element_fdr": options.element_fdr,
                "calls": "not made in a shard: `seqsal merge` the shards, then `seqsal call-peaks` the merged folder",
                **({"null_sample": null_info} if null_info is not None else {}),
                "outputs": [NULL_FILE] if null_info is not None else [],
                "timing_seconds": {"null_attribution": round(null_seconds, 3)}}
    calls = call_peaks_from_run(out, options, chrom_sizes=chrom_sizes)
    info = {**calls.info, "requested_null": options.null,
            "timing_seconds": {"null_attribution": round(null_seconds, 3),
                               "calling": round(time.perf_counter() - started - null_seconds, 3)}}
    if null_info is not None:
        info["outputs"] = [*info["outputs"], NULL_FILE]
    log.info("%s", describe_calls(info))
    return info


def describe_calls(info: dict) -> str:
    """One log line for the ``peaks`` record of a call: counts by sign, each kind's FDR, null, repeated sites."""
    repeats = info.get("repeats", {})
    signs = info.get("options", {}).get("signs", "+-")
    counts = ", ".join(f"{info['n_seqlets_by_sign'][s]} {s}" if s in signs else f"{s} not called" for s in "+-")
    line = (f"{plural(info['n_seqlets'], 'seqlet')} ({counts}) at FDR {info['fdr']:g} and "
            f"{plural(info['n_elements'], 'element')} "
            f"at FDR {info['element_fdr']:g} ({info['null']} null)")
    if repeats.get("seqlets") or repeats.get("elements"):
        line += (f"; {plural(repeats['seqlets'], 'seqlet')} and {plural(repeats['elements'], 'element')} repeat a "
                 "site of an overlapping region (duplicate_of; left out of the BED files)")
    return line
