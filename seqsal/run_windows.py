"""The model windows of a run folder, exactly as ``seqsal attribute`` fed them, and what a model check of the
folder reads (``seqsal evaluate``, ``seqsal check-seqlets``, the audit's model checks): :func:`run_windows`,
:func:`run_inputs`.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .attribution import Target
from .devices import select_device
from .errors import InputError
from .evaluate_inputs import check_model_unchanged, check_run_regions, recorded_transform
from .provenance import read_json_record
from .regions import fetch_span
from .stitch import plan_region
from .tables import read_tsv
from .text import plural

log = logging.getLogger("seqsal")


def run_windows(table: pd.DataFrame, fetch, window: int | None, stride: int | None, n_value: float = 0.0
                ) -> tuple[np.ndarray, pd.DataFrame]:
    """The model windows of regions exactly as ``seqsal attribute`` fed them (:func:`seqsal.stitch.plan_region`).

    A region shorter than the window is widened with its genomic context, a longer one tiled with
    ``stride``; a minus-strand region is read on its reverse complement.

    Parameters
    ----------
    table
        Regions (``name``, ``chrom``, ``start``, ``end``, ``strand``; 0-based half-open), as the run prepared them.
    fetch
        ``(chrom, start, end) -> str``, N-padded (:meth:`seqsal.genome.Genome.fetch`).
    window, stride, n_value
        The run's model window (``None``: each region whole), stride and encoding of N.

    Returns
    -------
    x, windows
        ``(W, 4, L)`` float32 one-hot windows on the strand the model saw, and one row per window: ``region_index``
        (its region's label in ``table``), ``name``, ``chrom``, ``start``, ``end`` (its genome span), ``strand``.
        Without a window, regions of unequal width give windows of unequal width: only those of the most common
        width are kept (one log line).
    """
    arrays, rows = [], []
    for i, (label, row) in enumerate(zip(table.index, table.itertuples(index=False))):
        start, end = int(row.start), int(row.end)
        plan = plan_region(i, row.chrom, start, end, row.strand, fetch, window, stride, n_value)
        fetch_start, fetch_end = fetch_span(start, end, window)
        for offset in plan.starts:
            first = fetch_end - int(offset) - plan.window if plan.minus else fetch_start + int(offset)
            arrays.append(plan.model_input[:, offset:offset + plan.window])
            rows.append((label, row.name, row.chrom, first, first + plan.window, "-" if plan.minus else "+"))
    windows = pd.DataFrame(rows, columns=["region_index", "name", "chrom", "start", "end", "strand"])
    widths = (windows["end"] - windows["start"]).to_numpy()
    if len(set(widths.tolist())) > 1:
        values, counts = np.unique(widths, return_counts=True)
        keep = widths == values[np.argmax(counts)]
        log.info("evaluate: the run fed regions whole, of unequal widths; evaluating the %s of width %d",
                 plural(int(keep.sum()), "window"), int(values[np.argmax(counts)]))
        arrays = [array for array, kept in zip(arrays, keep) if kept]
        windows = windows[keep].reset_index(drop=True)
    x = np.stack(arrays).astype(np.float32) if arrays else np.zeros((0, 4, 0), np.float32)
    return x, windows


def run_inputs(out_dir: Path, max_regions: int | None, seed: int | None, genome=None,
               rows: Collection[int] | None = None):
    """What a run folder's model checks read (``seqsal evaluate``, the audit's model check, ``seqsal
    check-seqlets``): ``(record, model, x, windows, target, seed)``.

    ``model`` is the run's model as :func:`seqsal.models.load_model` gives it (CPU, eval mode, no parameter
    gradients); ``x`` ``(W, 4, L)`` and ``windows`` are the model windows of the run's regions as the run fed
    them (:func:`run_windows`): all, a seeded sample of ``max_regions`` regions, or the rows ``rows`` of its
    ``regions.tsv`` (names may repeat); ``genome`` the run's :class:`seqsal.genome.Genome`, open (default: opened).

    Raises
    ------
    InputError
        The folder has no ``run.json``, its model or genome cannot be read, or the model file (or its architecture
        file) changed since the run (:func:`seqsal.evaluate_inputs.check_model_unchanged`).
    """
    from .models import load_model
    from .regions import prepare_regions
    from .run_genome import genome_of_run, moved_input_text

    if not (record_path := out_dir / "run.json").exists():
        raise InputError("no run.json: run `seqsal attribute ... -o` into this folder first", str(out_dir))
    if not {"model", "genome", "parameters", "regions"} <= set(record := read_json_record(record_path)):
        raise InputError("names no model, genome, parameters or regions (the file was edited); restore it or rerun "
                         "`seqsal attribute`", str(record_path))
    model_info, parameters = record["model"], record["parameters"]
    description = model_info if model_info.get("format") == "state_dict" else {}
    check_model_unchanged(model_info)  # the bytes the run attributed with, or a refusal
    loaded = load_model(model_info["path"], architecture=description.get("architecture"),
                        config=description.get("config"), layout=parameters.get("layout", "ncl"))
    genome = genome_of_run(record, out_dir) if genome is None else genome  # with the run's --unknown-bases
    if not os.path.isfile(record["regions"]):
        raise InputError(moved_input_text("regions"), record["regions"])
    table = prepare_regions(record["regions"], genome.chrom_sizes, parameters.get("width")).reset_index(drop=True)
    seed = int(parameters.get("seed", 0)) if seed is None else seed
    if "shard" in record:  # a shard's folder: its own block of the regions
        table = table.iloc[record["shard"]["first"]:record["shard"]["stop"]].reset_index(drop=True)
    check_run_regions(table, read_tsv(out_dir / "regions.tsv"), record["regions"])  # the BED, edited since?
    if rows is not None:  # only these regions (seqsal check-seqlets: those holding a checked seqlet)
        table = table.iloc[np.unique(np.asarray(list(rows), dtype=np.int64))]
    if max_regions is not None and len(table) > max_regions:
        table = table.iloc[np.sort(np.random.default_rng(seed).choice(len(table), max_regions, replace=False))]
    x, windows = run_windows(table, genome.fetch, parameters.get("window"), parameters.get("stride"),
                             float(parameters.get("n_value", 0.0)))
    t = record.get("target") or {}
    target = Target(t.get("output"), t.get("task"), t.get("reduction", "sum"), t.get("axis"),
                    t.get("transform") or recorded_transform(record), t.get("positions"))
    return record, loaded.module, torch.from_numpy(x), windows, target, seed


def run_device(record: dict, requested: str | None) -> str | None:
    """The device asked for, else the run's (``run.json``) where this machine has it, else ``None`` (the best
    available): the checks of a GPU run (``check-seqlets``, ``evaluate``) run on the GPU (session 32: they
    ran on the CPU whatever the run used)."""
    if requested is not None:
        return requested
    recorded = (record.get("parameters") or {}).get("device")
    try:
        return str(select_device(recorded)) if recorded else None
    except InputError:  # run on another machine: a GPU this one lacks
        return None
