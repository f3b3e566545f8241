"""From FASTA + BED + model to an output folder: the job behind ``seqsal attribute``.

Outputs (see DESIGN.md) are streamed to ``<out>/.partial/`` and checkpointed
every ``chunk_size`` regions; the final files appear under their names only
when complete, and ``resume=True`` continues an interrupted run from its last
checkpoint with byte-identical results.
"""
from __future__ import annotations

import functools
import json
import logging
import numbers
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import __version__
from .attribution import NO_TASK_AXIS, Target
from .output_transforms import choose_transform
from .bigwig import write_attribution_bigwig
from .devices import device_for, keeps_global_rng, placed
from .engine import STITCH_MODES, RegionResult, autocast_dtype_for, iter_region_attributions
from .errors import InputError, option
from .genome import Genome
from .memory import parse_memory
from .io import LENGTH, NPZ_FORMAT, NPZ_LAYOUT, OFFSETS, atomic_path, ragged_offsets, write_npz, write_text_atomic
from .methods import METHODS, SPECS, attribution_track, check_on_error
from .models import LoadedModel, load_model
from .models.files import file_sha256
from .model_checks import check_model_determinism, check_model_gradient, check_model_input
from .models.user import with_layout
from .peaks import PeakOptions, remove_peak_files, run_peaks_stage
from .provenance import ATTRIBUTIONS, earlier_input_digest, prune, read_json_record, status
from .region_table import COMPLETENESS_COLUMN, DELTA_COLUMN, completeness_summary, region_columns
from .regions import padded_bases, padding_summary, prepare_regions
from .run_checkpoint import (PARTIAL, REGION_STATE_SECONDS, array_stores, discard, drop_earlier_run, params_digest,
                             prepare_output, read_region_state, write_checkpoint, write_region_state)
from .runlock import REGIONS_TABLE_KEY, locks_run_folder, regions_table_digest
from .batches import window_counts
from .seqlet_check import AUTO_CHECK, withhold_unconfirmed
from .shards import shard_bounds
from .text import nothing_to_resume, plural, run_summary

log = logging.getLogger("seqsal")


@dataclass
class AttributeOptions:
    """Parameters of an attribution run (all recorded in ``run.json``).

    ``window`` is used only when the model file declares no input length.
    ``width`` re-centres and resizes every region (``None`` keeps them).
    ``stride`` defaults to half the window for tiled regions.
    ``allow_incomplete`` keeps a run of ig or deepshap going when a window misses completeness beyond the method's
    tolerance (by default an :class:`~seqsal.errors.InputError`).
    ``layout`` is the input the model was written for: ``ncl`` (one-hot ``(N, 4, L)``) or ``nlc`` (``(N, L, 4)``).
    ``max_memory`` bounds a batch's memory (``4G``, ``512M``; default: half the RAM or 80 % of the GPU): the batch
    size and the methods' inner chunks are cut to fit it (:func:`seqsal.engine.fit_memory`).
    """

    method: str = "grad_x_input"
    target: str | None = None
    width: int | None = None
    window: int | None = None
    stride: int | None = None
    batch_size: int = 64
    device: str | None = None
    precision: str = "fp32"
    layout: str = "ncl"
    rc: bool = False
    correct: bool = True
    stitch: str = "mean"
    n_value: float = 0.0
    unknown_bases: str = "error"
    seed: int = 0
    on_error: str = "stop"
    chunk_size: int = 256
    method_params: dict = field(default_factory=dict)
    allow_incomplete: bool = False
    max_memory: str | None = None


def _as_model(model, architecture=None, model_config=None, layout: str = "ncl") -> LoadedModel:
    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, nn.Module):
        return LoadedModel(with_layout(model, layout), getattr(model, "input_length", None),
                           getattr(model, "task_names", None), "module")
    return load_model(model, architecture=architecture, config=model_config, layout=layout)


def resolve_window(model: LoadedModel, options: AttributeOptions) -> int | None:
    """The model's input length: from its file, else ``--window``, else ``None`` (each region whole)."""
    if model.input_length is not None:
        if options.window is not None and options.window != model.input_length:
            raise InputError(
                f"{option('window', options.window)} differs from the input length the model file declares "
                f"({model.input_length}); drop {option('window')}"
            )
        return int(model.input_length)
    return options.window


@keeps_global_rng
def iter_attributions(
    genome: Genome | str,
    regions: pd.DataFrame | str,
    model: LoadedModel | nn.Module | str,
    options: AttributeOptions | None = None,
    **overrides,
) -> Iterator[RegionResult]:
    """Attributions of every region of a genome, for notebooks.

    Parameters
    ----------
    genome
        :class:`~seqsal.genome.Genome` or FASTA path.
    regions
        BED path or a table with ``chrom``, ``start``, ``end`` (whole numbers, 0-based half-open) and, optionally,
        ``name``, ``strand`` (``+``, ``-`` or ``.``; missing: ``.``) and ``summit`` (an absolute 0-based position
        inside the region that ``width`` re-centres on, or -1): checked as a BED file's lines are.
    model
        Model file path, :class:`~seqsal.models.LoadedModel` or ``nn.Module``. A state_dict file needs its
        architecture: load it first with ``seqsal.load_model(path, architecture=..., config=...)``.
    options, **overrides
        :class:`AttributeOptions`, or its fields as keyword arguments (a copy: ``options`` is not changed).

    Yields
    ------
    RegionResult
        One per region in order; ``one_hot`` and ``hypothetical`` are ``(4, L)`` on the + strand, ``projected``
        the per-base track ``(L,)``.

    Raises
    ------
    InputError
        For a keyword that is not a field of :class:`AttributeOptions`, and for bad inputs (as the CLI); raised
        by the first ``next()`` (this is a generator), not by the call.
    """
    unknown = sorted(set(overrides) - {f.name for f in fields(AttributeOptions)})
    if unknown:
        hint = ("; load a state_dict with seqsal.load_model(path, architecture=..., config=...) and pass the result "
                "as model" if set(unknown) & {"architecture", "config", "model_config"} else "")
        raise InputError(f"iter_attributions: {', '.join(unknown)} is not an option (AttributeOptions fields: "
                         f"{', '.join(f.name for f in fields(AttributeOptions))}){hint}")
    options = as_options(replace(as_options(options), **overrides))  # a copy: the caller's options stay as given
    genome = genome if isinstance(genome, Genome) else Genome(genome, unknown_bases=options.unknown_bases)
    loaded = _as_model(model, layout=options.layout)
    table = prepare_regions(regions, genome.chrom_sizes, options.width)
    target = Target.parse(loaded.target_text(options.target)).resolve(loaded.task_names)
    window = resolve_window(loaded, options)
    device = device_for(options.device, loaded.module)  # a .pt2 runs where it was exported
    check_run_options(options, device)
    # the caller's model goes back where it was when the iteration ends (session 32: a notebook's model stayed on
    # the GPU); exported programs cannot be moved: they run where they were exported (device_for)
    with placed(loaded.module, device):
        if len(table):
            length = int(table["end"].iloc[0] - table["start"].iloc[0])
            target, shape = check_model_input(loaded, window, length, target, device, options.layout)
            target = choose_transform(loaded.module, target, options.method, shape)
            check_model_determinism(loaded, window or length, device, batch_size=options.batch_size)
            check_model_gradient(loaded, window or length, target, device, options.method)
        torch.manual_seed(options.seed)
        yield from iter_region_attributions(
            loaded.module, genome.fetch, table, options.method, target, window, _stride(options, window),
            options.batch_size, device, options.precision, options.rc, options.correct, options.stitch,
            options.n_value, options.on_error, method_params=options.method_params,
            allow_incomplete=options.allow_incomplete, max_memory=options.max_memory,
        )


def _stride(options: AttributeOptions, window: int | None) -> int | None:
    if options.stride is not None and options.stride < 1:
        raise InputError(f"{option('stride')} must be a positive number of bases, got {options.stride}")
    if options.stride is not None and window is None:
        log.warning("--stride is ignored: there is no window (each region is fed whole); give --window to tile")
        return None
    if options.stride is not None:
        if window is not None and options.stride > window:
            raise InputError(f"{option('stride')} ({options.stride}) is larger than the window ({window}); use a "
                             f"stride <= {window}")
        return options.stride
    return None if window is None else max(1, window // 2)


def as_options(options: AttributeOptions | None) -> AttributeOptions:
    """``options``, or the defaults for ``None``; anything else (a dict) is an :class:`InputError`. A task index
    given as an int target is its text (``2`` -> ``"2"``), as :func:`seqsal.attribute` takes it (fresh16)."""
    if options is not None and not isinstance(options, AttributeOptions):
        raise InputError(f"options is a {type(options).__name__}; give seqsal.AttributeOptions(...) (or, to "
                         "iter_attributions, the options as keyword arguments)")
    options = options or AttributeOptions()
    if isinstance(options.target, numbers.Integral) and not isinstance(options.target, bool):
        return replace(options, target=str(int(options.target)))
    if options.target is not None and not isinstance(options.target, str):
        raise InputError(f"target {options.target!r}: give a task index (int) or a target text, e.g. 'task=1' or "
                         "'output=1,task=0'")
    return options


def check_run_options(options: AttributeOptions, device: torch.device) -> None:
    """Reject option values the engine would only meet mid-run, before any output is written."""
    for name in ("batch_size", "chunk_size"):
        if getattr(options, name) < 1:
            raise InputError(f"{option(name)} must be at least 1, got {getattr(options, name)}")
    if not 0 <= options.seed < 2 ** 32:
        raise InputError(f"{option('seed')} {options.seed}: give a seed in [0, 2^32)")
    if options.window is not None and options.window < 1:
        raise InputError(f"{option('window')} must be a positive number of bases, got {options.window}")
    if options.stitch not in STITCH_MODES:
        raise InputError(f"unknown {option('stitch')} {options.stitch!r}; choose {' or '.join(STITCH_MODES)}")
    check_on_error(options.on_error)
    autocast_dtype_for(options.precision, device)
    parse_memory(options.max_memory)


@locks_run_folder("attribute")
@keeps_global_rng
def run_attribute(
    genome_path: str,
    regions_path: str,
    model_path: str,
    out_dir: str,
    options: AttributeOptions | None = None,
    architecture: str | None = None,
    model_config: str | dict | None = None,
    resume: bool = False,
    force: bool = False,
    progress: bool = True,
    command: list[str] | None = None,
    shard: tuple[int, int] | None = None,
    peaks: PeakOptions | bool = True,
    check_seqlets: int = AUTO_CHECK,
) -> dict:
    """Run the whole attribution job into ``out_dir`` and return the ``run.json`` record.

    Writes ``attributions.npz`` (ragged: keys ``one_hot`` and ``hypothetical``, ``(4, ΣL)`` float32 on the
    + strand, the regions end to end; region ``i`` is ``[:, offsets[i]:offsets[i+1]]``, ``offsets`` ``(N + 1,)``,
    ``length`` ``(N,)``; read it with :func:`seqsal.io.region_arrays`), ``attributions.bw`` (projected
    contribution per base on genome coordinates; overlapping regions averaged), ``regions.tsv`` and ``run.json``.

    ``shard=(i, count)`` attributes only the ``i``-th (from 1) of ``count`` contiguous blocks of the regions
    (:func:`seqsal.shards.shard_bounds`) and records it in ``run.json``; :func:`seqsal.shards.merge_runs` joins them.

    Parameters
    ----------
    genome_path, regions_path, model_path
        FASTA, BED/narrowPeak (0-based, half-open) and model file paths, recorded with their digests (a DataFrame
        or a model in memory: :func:`iter_attributions`).
    out_dir, resume, force
        The run folder; finish an interrupted run from ``out/.partial``; replace a finished run.
    options, architecture, model_config
        :class:`AttributeOptions`; a state-dict file's architecture (built-in name or ``file.py:Class``) and config.
    progress, command, shard, peaks
        A progress bar on stderr; the command line recorded; ``(i, count)`` as above; seqlets and elements called
        after attributing (``True``: defaults, :class:`~seqsal.peaks.PeakOptions`, or ``False``).
    check_seqlets
        With calls of both signs: this many seqlets are checked against the model (a replacement test,
        :func:`seqsal.seqlet_check.withhold_unconfirmed`) and a sign it contradicts is not called (``run.json``'s
        ``peaks.withheld`` says so); 0: no check, both signs called.

    Raises
    ------
    InputError
        For a path that is not one, and every bad input the CLI refuses, with its file and line; another seqsal
        process holding the folder's lock.
    """
    for name, value in (("genome_path", genome_path), ("regions_path", regions_path), ("model_path", model_path)):
        if not isinstance(value, (str, os.PathLike)):  # apidoc: a DataFrame was a TypeError, a model its repr
            raise InputError(f"run_attribute's {name} is a {type(value).__name__}, not a path (a run records its "
                             "files); for objects in memory use seqsal.iter_attributions")
    options = as_options(options)
    started = time.perf_counter()
    out = Path(out_dir)
    genome = Genome(genome_path, unknown_bases=options.unknown_bases)
    table = prepare_regions(regions_path, genome.chrom_sizes, options.width)
    n_total, shard_rows, whole_table = len(table), None, None
    job_regions = table  # the whole job's: sizes and samples the shuffled null
    if shard is not None:
        shard_rows = shard_bounds(n_total, *shard)
        whole_table = (table, shard_rows[0])  # batches are cut as in the single run: the same bytes
        table = table.iloc[slice(*shard_rows)].reset_index(drop=True)
    loaded = load_model(model_path, architecture=architecture, config=model_config, layout=options.layout)
    if options.method not in METHODS:
        raise InputError(f"unknown {option('method')} {options.method!r}; choose one of {', '.join(sorted(METHODS))}")
    target = Target.parse(loaded.target_text(options.target)).resolve(loaded.task_names)
    window = resolve_window(loaded, options)
    stride, table = _stride(options, window), table.assign(padded_bp=padded_bases(table, genome.chrom_sizes, window))
    device = device_for(options.device, loaded.module)  # a .pt2 runs where it was exported
    check_run_options(options, device)
    if loaded.source != "export":
        loaded.module.to(device)
    lengths = (table["end"] - table["start"]).to_numpy(dtype=np.int64)
    target, shape = check_model_input(loaded, window, int(lengths[0]), target, device, options.layout)
    target = choose_transform(loaded.module, target, options.method, shape)
    check_model_determinism(loaded, window or int(lengths[0]), device, model_path, batch_size=options.batch_size)
    check_model_gradient(loaded, window or int(lengths[0]), target, device, options.method, model_path)
    if window is None and len(set(lengths.tolist())) > 1:
        log.info("no model window and regions of unequal width: each region is fed whole, batched by width")
    n, max_length = len(table), int(lengths.max())
    record_params = {key: value for key, value in asdict(options).items()
                     if key not in ("device", "batch_size", "chunk_size", "max_memory")}
    # the genome by content (a FASTA edited in place, or another at the same path, is another input)
    payload = {"genome": file_sha256(genome_path), "regions": file_sha256(regions_path), "model": loaded.sha256,
               "options": record_params, **{key: loaded.description[field] for key, field in (
                   ("architecture", "architecture_sha256"), ("architecture_imports", "architecture_imports"))
                   if field in loaded.description},
               **({"shard": list(shard)} if shard is not None else {})}
    digest = params_digest(payload)
    created, earlier = not out.exists(), earlier_input_digest(out) if force else None
    before = done = prepare_output(out, digest, resume, force, payload)  # regions attributed by an earlier run
    partial = out / PARTIAL
    part_done = read_region_state(partial, done) if resume and (partial / "progress.json").is_file() else None
    resumed = done > 0 or part_done is not None
    fresh, drop_earlier = not resumed, force
    if done == -1:  # its run.json tells the earlier run's time, not this one's (which did nothing)
        finished = read_json_record(out / "run.json")
        log.info("%s", nothing_to_resume(str(out), finished["n_regions"]))
        _say_levels_kept(str(out), finished.get("peaks") or {}, peaks, asked_both=not check_seqlets)
        if (peaks and check_seqlets and (finished.get("peaks") or {}).get("signs_asked") == "auto"
                and "shard" not in finished  # review31b: a check interrupted, then resumed; review32b: only
                and status(out, "seqlet_check") != "current"):  # where the calls were made to be checked
            if withhold_unconfirmed(out, check_seqlets):
                finished = read_json_record(out / "run.json")
        return finished
    one_hot_store, hyp_store = array_stores(partial, lengths, resume=resumed)
    rows_path = partial / "regions.part.tsv"
    rows_handle = open(rows_path, "r+" if resumed else "w", encoding="utf-8")
    if resumed:
        rows_handle.seek(json.loads((partial / "progress.json").read_text())["rows_bytes"])
        rows_handle.truncate()
        log.info("resuming: %d of %s done%s", done, plural(n, "region"), "" if part_done is None else
                 f", and {part_done.windows_done} windows of the next")
    else:
        rows_handle.write("\t".join(region_columns(options.method)) + "\n")
    torch.manual_seed(options.seed)
    fields, with_completeness = _row_fields(table), COMPLETENESS_COLUMN in region_columns(options.method)
    if with_completeness and resumed:  # review28b: a run begun by a seqsal without completeness_delta keeps its
        with open(rows_path, encoding="utf-8") as header:  # header, and its rows their 14 fields
            with_completeness = "delta" if DELTA_COLUMN in header.readline().rstrip("\n").split("\t") else "error"
    windows = np.cumsum(window_counts(lengths, window, stride)[0])  # windows of the first k + 1 regions
    bar = _progress_bar(int(windows[-1]), (int(windows[done - 1]) if done else 0)
                        + (part_done.windows_done if part_done else 0), progress)
    bases = 0
    t_attr = saved = time.perf_counter()

    def save_region_state(state) -> None:  # a long region in progress: checkpointed every REGION_STATE_SECONDS
        nonlocal saved
        if time.perf_counter() - saved >= REGION_STATE_SECONDS:
            write_region_state(partial, digest, state(), one_hot_store, hyp_store, rows_handle)
            saved = time.perf_counter()
    try:
        results = iter_region_attributions(
            loaded.module, genome.fetch, table, options.method, target, window, stride, options.batch_size,
            device, options.precision, options.rc, options.correct, options.stitch, options.n_value,
            options.on_error, skip=done, method_params=options.method_params, allow_incomplete=options.allow_incomplete,
            max_memory=options.max_memory, whole_table=whole_table, on_windows=None if bar is None else bar.update,
            region_state=part_done, on_region_state=save_region_state,
        )
        for result in results:
            if drop_earlier:  # the first region works: now the earlier run goes (fresh16: a --force refused on
                drop_earlier_run(out, earlier, digest)  # the first batch had deleted it)
                drop_earlier = False
            one_hot_store.write_row(result.index, result.one_hot)
            hyp_store.write_row(result.index, result.hypothetical)
            rows_handle.write(_region_row(fields, result, with_completeness) + "\n")
            bases += result.one_hot.shape[1]
            done = result.index + 1
            if done % options.chunk_size == 0 or done == n:
                write_checkpoint(partial, digest, done, one_hot_store, hyp_store, rows_handle)
                saved = time.perf_counter()
            if bar is not None:
                elapsed = time.perf_counter() - t_attr
                bar.set_postfix_str(f"{done}/{plural(n, 'region')}, {bases / max(elapsed, 1e-9) / 1e3:.0f} kbp/s",
                                    refresh=False)
    except InputError:
        if fresh:  # bad input met mid-run (a FASTA character, NaN from the model): leave no trace of this run
            discard(out, created, one_hot_store, hyp_store, rows_handle)
        raise
    finally:
        if bar is not None:
            bar.close()
        rows_handle.close()
    attribution_seconds = time.perf_counter() - t_attr
    # after the run: an error stays one line
    if (padding := padding_summary(table, regions_path, genome.chrom_sizes, options.width)) is not None:
        log.warning(padding)

    write_attribution_bigwig(out / "attributions.bw", table, genome.chrom_sizes, one_hot_store.read_row,
                             hyp_store.read_row, functools.partial(attribution_track, options.method))
    one_hot_store.close()
    hyp_store.close()
    write_npz(out / "attributions.npz", {
        "one_hot": str(partial / "one_hot.npy"), "hypothetical": str(partial / "hypothetical.npy"),
        LENGTH: lengths.astype(np.int64), OFFSETS: ragged_offsets(lengths),
    })
    with atomic_path(out / "regions.tsv") as tmp:  # a copy: the checkpoint stays whole until run.json exists
        shutil.copyfile(rows_path, tmp)
    peak_info = _call_peaks(out, peaks, options, table, loaded, target, window, stride, device, genome, job_regions,
                            call=shard is None, first=shard_rows[0] if shard_rows is not None else 0)
    completeness = completeness_summary(out / "regions.tsv", options.method)
    record = {
        "seqsal_version": __version__,
        "command": command if command is not None else sys.argv,
        "genome": os.path.abspath(genome_path),
        "regions": os.path.abspath(regions_path),
        "inputs_sha256": {"genome": payload["genome"], "regions": payload["regions"]},  # merge compares these
        "model": {"path": os.path.abspath(model_path), "sha256": loaded.sha256, "format": loaded.source,
                  **loaded.description, "input_length": loaded.input_length, "task_names": loaded.task_names},
        "method": options.method,
        "tracks": _track_record(options.method),
        "target": _target_record(target, shape),
        "parameters": {**asdict(options), "window": window, "stride": stride, "device": str(device),
                       **_gradcam_layer(options, loaded)},
        "n_regions": n,
        "input_digest": digest,
        REGIONS_TABLE_KEY: regions_table_digest(out),
        **({"shard": {"index": shard[0], "count": shard[1], "first": shard_rows[0], "stop": shard_rows[1],
                      "n_regions_total": n_total}} if shard is not None else {}),
        "max_length": max_length,
        "npz_format": NPZ_FORMAT,
        "npz_layout": NPZ_LAYOUT,
        "outputs": ["attributions.npz", "attributions.bw", "regions.tsv", "run.json"],
        "timing_seconds": {"attribution": round(attribution_seconds, 3),
                           "total": round(time.perf_counter() - started, 3)},  # this invocation's
        **({"resumed_from": before} if before else {}),  # regions the checkpoint held: timed by an earlier run
    }
    if completeness is not None:
        record["completeness"] = completeness
    if peak_info is not None:
        if check_seqlets and shard is None:  # made under --signs auto: a resume finishes an interrupted check
            peak_info["signs_asked"] = "auto"
        record["peaks"] = peak_info
        record["outputs"] += peak_info["outputs"]
    write_text_atomic(out / "run.json", json.dumps(record, indent=2, default=str) + "\n")
    prune(out, ATTRIBUTIONS)  # motifs, logos, report... of an earlier run in this folder
    shutil.rmtree(partial, ignore_errors=True)
    genome.close()
    if peak_info is not None and shard is None and check_seqlets and withhold_unconfirmed(out, check_seqlets):
        record = read_json_record(out / "run.json")  # the calls of the sign kept
    log.info("%s", run_summary(n, before, record["timing_seconds"]["total"], out_dir))
    return record


def _say_levels_kept(out: str, made: dict, peaks, asked_both: bool = False) -> None:
    """A resume of a finished run keeps its calls: say so when they were made at other FDR levels or for other
    signs than those asked (review30: `--resume --fdr 0.1` said only "nothing to resume"); ``asked_both``: both
    signs asked for explicitly (``--signs +-``, no check), so a sign withheld by the check is not what was asked."""
    asked = peaks if isinstance(peaks, PeakOptions) else PeakOptions() if peaks else None
    if made.get("fdr") is None or isinstance(made.get("calls"), str):  # no calls, or a shard's (it calls nothing)
        return
    if asked is None:  # review32b: `--resume --no-peaks` kept the calls unsaid (a fresh --no-peaks run drops them)
        log.warning("the calls in %s stay: a resume keeps them (`--no-peaks --force` runs again without calls)", out)
        return
    signs = (made.get("options") or {}).get("signs", "+-")
    withheld = made.get("withheld")
    if withheld and asked_both and asked.signs == "+-":  # session 32: `--resume --signs +-` was silent
        log.warning("the calls in %s leave out the %s sign, which the model contradicted (run.json peaks.withheld); "
                    "a resume keeps them: `seqsal call-peaks %s --signs +-` calls both", out, " and ".join(withheld),
                    out)
    elif signs != asked.signs and not (withheld and asked.signs == "+-"):  # fresh31b, review32b: `--signs -` silent
        log.warning("the calls in %s were made for signs %s, not the %s asked; a resume keeps them: `seqsal "
                    "call-peaks %s --signs %s` calls again", out, signs, asked.signs, out, asked.signs)
    levels = (made["fdr"], made.get("element_fdr", made["fdr"]))
    if levels != (asked.fdr, asked.element_fdr):  # review32b: the command leaves no sign out that was asked for
        also = "" if asked.signs == "+-" and not asked_both else f" --signs {asked.signs}"
        log.warning("the calls in %s were made at FDR %g (elements %g), not at the %g (elements %g) asked; a resume "
                    "keeps them: `seqsal call-peaks %s --fdr %g --element-fdr %g%s` calls again", out, *levels,
                    asked.fdr, asked.element_fdr, out, asked.fdr, asked.element_fdr, also)


def _call_peaks(out: Path, peaks, options: AttributeOptions, table: pd.DataFrame, loaded: LoadedModel,
                target: Target, window: int | None, stride: int | None, device, genome: Genome,
                job_regions: pd.DataFrame, call: bool = True, first: int = 0) -> dict | None:
    """The peak stage (:func:`seqsal.peaks.run_peaks_stage`); ``peaks=False`` skips it and drops stale peak files,
    ``call=False`` (a shard whose first row in ``job_regions`` is ``first``) draws only the shuffled null."""
    if not peaks:
        remove_peak_files(out)
        return None

    def attribute_regions(subset: pd.DataFrame, fetch, whole_table: tuple[pd.DataFrame, int]) -> Iterator[RegionResult]:
        torch.manual_seed(options.seed)
        return iter_region_attributions(
            loaded.module, fetch, subset, options.method, target, window, stride, options.batch_size, device,
            options.precision, options.rc, options.correct, options.stitch, options.n_value, "skip",
            method_params=options.method_params, allow_incomplete=options.allow_incomplete,
            max_memory=options.max_memory, whole_table=whole_table,
        )

    peak_options = peaks if isinstance(peaks, PeakOptions) else PeakOptions(seed=options.seed)
    return run_peaks_stage(out, peak_options, table, attribute_regions, genome.fetch, genome.chrom_sizes, call=call,
                           window=window, job_regions=job_regions, first=first)


def _gradcam_layer(options: AttributeOptions, loaded: LoadedModel) -> dict:
    """``run.json``'s ``parameters.gradcam_layer``: the layer Grad-CAM picked where the run named none
    (:func:`seqsal.methods.gradcam.picked_layer`; fresh24: it was recorded nowhere)."""
    if options.method != "gradcam" or (options.method_params or {}).get("layer"):
        return {}
    from .methods.gradcam import picked_layer

    layer = picked_layer(loaded.module)
    return {"gradcam_layer": layer} if layer else {}


def _track_record(method: str) -> dict:
    """What ``attributions.bw`` holds and what the peak caller calls, for ``run.json``."""
    magnitude = SPECS[method].track == "magnitude"
    return {"bigwig": "max over A/C/G/T of |hypothetical| (the saliency magnitude)" if magnitude
            else "projected: hypothetical x one-hot, summed over A/C/G/T",
            "peaks": "projected (signed: hypothetical x one-hot, summed over A/C/G/T"
                     + ("; for saliency, the gradient x input of the same gradient)" if magnitude else ")")}


def _target_record(target: Target, shape: tuple[int, ...]) -> dict:
    """``run.json``'s ``target``: the fields of ``target`` with the task resolved (``0`` when none was named), and
    ``profile``: whether the targeted output ``shape`` (:func:`seqsal.model_checks.check_model_input`'s) holds more than one value per
    sequence once the task is picked (``(N, T, L_out)``, a profile: then ``reduction`` made it one; ``(N,)`` or
    ``(N, T)``: no reduction applied)."""
    return {"output": target.output, "task": 0 if target.task is None else target.task, "reduction": target.reduction,
            "axis": target.axis, "transform": target.transform,
            "positions": None if target.positions is None else list(target.positions),
            "profile": (len(shape) > 2 or target.axis == NO_TASK_AXIS) and target.transform not in ("log_odds",
                                                                                                   "log_odds_logp")}


_ROW_FIELDS = ("name", "chrom", "start", "end", "strand", "padded_bp")


def _row_fields(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """The region columns ``regions.tsv`` repeats, as arrays (views: a row is read without ``table.iloc``)."""
    return {column: table[column].to_numpy() for column in _ROW_FIELDS}


def _region_row(fields: dict[str, np.ndarray], result: RegionResult, completeness: bool | str = False) -> str:
    i = result.index
    track = result.projected
    length = track.shape[0]
    frac_n = float((result.one_hot.max(axis=0) < 1).mean()) if length else 0.0
    values = [
        i, str(fields["name"][i]), fields["chrom"][i], int(fields["start"][i]), int(fields["end"][i]),
        fields["strand"][i], f"{result.prediction:.6g}", f"{float(track.sum()):.6g}",
        f"{float(track.max()) if length else 0.0:.6g}", f"{frac_n:.4f}", int(fields["padded_bp"][i]),
        result.n_windows, result.status,
    ]
    if completeness:
        error, delta = result.completeness_error, result.completeness_delta
        values += ["" if error is None else f"{error:.3g}"] + (
            [] if completeness == "error" else ["" if delta is None else f"{delta:.3g}"])
    return "\t".join(str(value).replace("\t", " ") for value in values)


def _progress_bar(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="window", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
