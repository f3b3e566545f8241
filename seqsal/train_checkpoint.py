"""``seqsal train``'s checkpoint: what it was written for, and reading it back only for that same run.

A checkpoint (``<model>.ckpt``, rewritten atomically after every epoch) carries a record of the run it belongs
to: every option that changes the result (not ``epochs``, ``patience``, ``device`` or ``precision``), the labels
and genome files by content (their paths are recorded, not compared: a moved file is the same data), so
``--resume`` never continues a run on other data. The genome is
identified by :func:`seqsal.provenance.sampled_digest` (its size and a sample of its bytes: milliseconds for
gigabytes), the labels file by its whole SHA-256.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np
import torch

from .errors import InputError, option
from .io import atomic_path
from .provenance import file_digest, sampled_digest
from .train_data import minus_strand, moved_windows
from .train_options import resolved_window

if TYPE_CHECKING:
    from .train_data import Labels
    from .train_options import TrainOptions

_IGNORED = ("epochs", "device", "precision", "patience", "unknown_bases")  # a resumed run may change these
# (unknown_bases: a checkpoint of "error" read no such character, so "n" reads the same windows; one of seqsal
# before session 31, which read them as N, resumes with --unknown-bases n: review31)


_CHANGED = {"labels_digest": "the labels' regions or values", "genome_digest": "the genome file's contents",
            "minus_strand": "the regions on the - strand (now read on the reverse complement, as seqsal attribute "
                            "reads them)",
            "window_placement": "where a window is placed around a region shorter than it (as seqsal attribute "
                                "places it)"}  # what a checkpoint's record names, for the refusal


def labels_digest(labels: "Labels") -> str:
    """SHA-256 of the labels as read: task names, each region's ``chrom``/``start``/``end`` and the ``(N, T)``
    float32 values, in order (not the file's bytes: compression and line ends do not change it)."""
    digest = hashlib.sha256(json.dumps([list(labels.tasks), labels.regions["chrom"].astype(str).tolist()]).encode())
    for column in ("start", "end"):
        digest.update(labels.regions[column].to_numpy(dtype="<i8").tobytes())
    digest.update(labels.values.astype("<f4", copy=False).tobytes())
    return digest.hexdigest()


def run_record(options: "TrainOptions", labels: "Labels", genome_path: str) -> dict:
    """What a checkpoint belongs to: the options that change the result, and the input files.

    Parameters
    ----------
    options
        The run's :class:`~seqsal.train_options.TrainOptions`.
    labels, genome_path
        The labels read (:func:`seqsal.train_data.read_labels`) and the genome FASTA.

    Returns
    -------
    dict
        JSON-ready: ``labels`` and ``genome`` (absolute paths; ``labels`` ``""`` for a table), ``labels_digest``
        (:func:`labels_digest`), ``genome_digest`` and the
        options but :data:`_IGNORED`.
    """
    keep = {key: value for key, value in asdict(options).items() if key not in _IGNORED}
    if keep.get("mask_prior"):  # the masks by content, as the labels and genome (trainbreak: edited at its path, kept)
        keep["mask_prior"] = [file_digest(part) if part else "" for part in keep["mask_prior"].split(",")]
    if keep["cutout_fill"] == "random":  # an option added later: at its default, as checkpoints written before
        del keep["cutout_fill"]
    minus = minus_strand(labels.regions)
    if minus.any():  # read on the reverse complement since session 31: only such runs name it (review31)
        keep["minus_strand"] = hashlib.sha256(np.flatnonzero(minus).astype("<i8").tobytes()).hexdigest()
    if moved_windows(labels.regions, resolved_window(options)):  # placed as attribute places them since session 31
        keep["window_placement"] = "attribute"
    return json.loads(json.dumps({
        "labels": os.path.abspath(labels.path) if labels.path else "", "labels_digest": labels_digest(labels),
        "genome": os.path.abspath(genome_path), "genome_digest": sampled_digest(genome_path), **keep},
        sort_keys=True, default=str))


def save_checkpoint(path: str, state: dict) -> None:
    """Write the training state (tensors and JSON text only) atomically: a kill never leaves half a file."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str, record: dict) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only``: no unpickling of objects).

    Parameters
    ----------
    path
        The checkpoint.
    record
        This run's :func:`run_record`; the checkpoint's (its ``digest``, JSON text) must equal it, but for the
        files' paths.

    Raises
    ------
    InputError
        When it was written for another run, naming what differs (options by their ``--`` names, the labels or
        genome file by path or content) and what to do.
    """
    try:  # weights_only: a damaged or foreign file is refused, never unpickled as objects
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, empty, text or a pickle of objects: not a checkpoint
        raise InputError(f"cannot read this checkpoint ({type(exc).__name__}); "
                         f"it is damaged or not seqsal's: pass {option('force')} (without {option('resume')}) to start "
                         "over", path) from None
    if not isinstance(state, dict):
        raise InputError(f"not a seqsal checkpoint (it holds a {type(state).__name__}); pass {option('force')} "
                         f"(without {option('resume')}) to start over", path)
    try:
        written = json.loads(state.get("digest", "null"))
    except (TypeError, ValueError):
        written = None
    def compared(run: dict) -> dict:  # the files by content: a genome or labels file moved is the same run
        return {key: value for key, value in run.items() if key not in ("labels", "genome")}

    if not isinstance(written, dict) or compared(written) != compared(record):
        named = [key for key in sorted(compared(record)) if (written or {}).get(key) != record.get(key)]
        what = ", ".join(_CHANGED.get(key) or option(key) for key in named)
        raise InputError(f"this checkpoint was written for another run (changed since: {what or 'the seqsal version'})"
                         f"; give the same inputs and options to {option('resume')}, or pass {option('force')} "
                         f"(without {option('resume')}) to start over", path)
    return state
