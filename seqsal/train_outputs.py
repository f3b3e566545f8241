"""What ``seqsal train`` writes, and when it may: the report's names beside the model, the refusal to overwrite a
model (or an interrupted run's checkpoint) without ``--force``, and the report's JSON text (RFC 8259: no NaN).

Every model gets its own report: ``<dir>/<stem>.train_report.html`` and ``.json`` beside ``<dir>/<stem>.safetensors``,
so several models trained into one folder keep one report each.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np

from .errors import InputError, option

REPORT_SUFFIX = ".train_report"


def report_paths(output: str, report: str | None = None) -> tuple[str, str]:
    """The HTML and JSON report paths of the model file ``output``.

    Parameters
    ----------
    output
        The model file, ``DIR/STEM.safetensors`` (any suffix).
    report
        The HTML report the user chose, or ``None`` for ``DIR/STEM.train_report.html``.

    Returns
    -------
    tuple of str
        ``(html, json)``: the JSON is the HTML path with its suffix replaced by ``.json``.
    """
    if report:
        html = str(report)
    else:
        folder, name = os.path.split(os.path.abspath(output))
        html = os.path.join(folder, os.path.splitext(name)[0] + REPORT_SUFFIX + ".html")
    return html, os.path.splitext(html)[0] + ".json"


def check_train_outputs(output: str, reports: tuple[str, ...], checkpoint: str, force: bool, resume: bool) -> None:
    """Refuse to overwrite what an earlier training run wrote, unless asked to.

    Parameters
    ----------
    output, reports, checkpoint
        The model file, its report files and its checkpoint (``<output>.ckpt``).
    force
        Overwrite them (and start over, ignoring a checkpoint).
    resume
        Continue from the checkpoint: the files are this same run's, rewritten at its end.

    Raises
    ------
    InputError
        ``--resume`` with ``--force``; a model or report there already (with ``--resume`` too, when there is no
        checkpoint to continue); a checkpoint of an interrupted run.
    """
    if not os.path.basename(output) or os.path.isdir(output):  # '' or a folder: the rename at the end would fail
        raise InputError(f"{output!r} is {'a folder' if output else 'empty'}: give the model file's path, e.g. "
                         f"{os.path.join(output, 'model.safetensors')}")
    if resume and force:
        raise InputError(f"{option('resume')} and {option('force')} contradict each other: {option('resume')} "
                         f"continues from {os.path.basename(checkpoint)}, {option('force')} starts over; pass one")
    if force or (resume and os.path.exists(checkpoint)):
        return
    existing = [path for path in (output, *reports) if os.path.exists(path)]
    if existing and resume:  # nothing to continue: the files there are a finished run's (perhaps another's)
        raise InputError(f"exists already and {option('resume')} finds no checkpoint ({os.path.basename(checkpoint)}) "
                         f"to continue: a finished run's; pass {option('force')} to overwrite it, or give another "
                         "output path", existing[0])
    if existing:
        raise InputError(f"exists already (an earlier training run's); pass {option('force')} to overwrite it, or "
                         "give another output path", existing[0])
    if resume:
        return
    if os.path.exists(checkpoint):
        raise InputError(f"the checkpoint of an interrupted training run; pass {option('resume')} to finish it or "
                         f"{option('force')} to start over", checkpoint)


def check_report_paths(output: str, reports: tuple[str, str], checkpoint: str) -> None:
    """Refuse a report path that is the model, its checkpoint, or the report's own JSON (one would overwrite
    another: the model lost under ``--report model.safetensors``, the HTML under ``--report r.json``).

    Raises
    ------
    InputError
        Naming the report path and what it would overwrite.
    """
    taken = {os.path.abspath(output): "the model file", os.path.abspath(checkpoint): "the model's checkpoint"}
    html, data = (os.path.abspath(path) for path in reports)
    for path in (html, data):
        if path in taken:
            raise InputError(f"the training report would overwrite {taken[path]}; give {option('report')} another "
                             "name (e.g. STEM.train_report.html)", reports[0])
    if html == data:
        raise InputError(f"the report's numbers go to the report's name with .json, which is this file; give "
                         f"{option('report')} an .html name", reports[0])


def check_not_inputs(outputs: tuple[str, ...], inputs: tuple[str | None, ...]) -> None:
    """Refuse an output path (the model, its checkpoint, lock or report files) that is one of the run's inputs
    (the genome, its index, the labels, the regions of a bigWig's labels, a mask BED): ``--force`` overwrites
    an earlier run's outputs, never what the run reads.

    Raises
    ------
    InputError
        Naming the output path and the input it would overwrite.
    """
    taken = {os.path.realpath(path): path for path in inputs if path}
    for path in outputs:
        if os.path.realpath(path) in taken:
            raise InputError(f"this output would overwrite an input of the run ({taken[os.path.realpath(path)]}); "
                             f"give the model (-o) and the report ({option('report')}) other names", path)


def check_writable(*paths: str) -> None:
    """Refuse, before any work, an output whose folder is missing or cannot hold a new file.

    A missing folder is not created here (the writers create it when they write, so a run refused later leaves
    no empty folder): its nearest existing parent must take a new file.

    Raises
    ------
    InputError
        Naming the path and the reason.
    """
    import tempfile

    for path in paths:
        folder = os.path.dirname(os.path.abspath(path))
        existing = folder
        while not os.path.exists(existing) and os.path.dirname(existing) != existing:
            existing = os.path.dirname(existing)
        try:
            if not os.path.isdir(existing):
                raise NotADirectoryError(20, "a file is in the way of the folder")
            with tempfile.NamedTemporaryFile(dir=existing, prefix=".seqsal-write-check-"):
                pass
        except OSError as exc:
            raise InputError(f"cannot write into {folder} ({exc.strerror or exc}); give an output path in a "
                             "folder you can write to", path) from None


def finite_or_none(value: object) -> object:
    """``value`` with every NaN or infinite float (NumPy scalars and arrays too) replaced by ``None``, recursively.

    JSON (RFC 8259) has no NaN or Infinity; ``json.dumps`` writes them anyway unless told not to, and strict
    readers (``jq``, JavaScript's ``JSON.parse``) then fail on the file. ``null`` says "undefined" (a Pearson r
    of a constant column) in every reader.
    """
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(item) for item in value]
    if isinstance(value, np.ndarray):
        return finite_or_none(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summary_json(summary: dict) -> str:
    """The training summary as strict JSON text (``allow_nan=False``): undefined numbers are ``null``."""
    return json.dumps(finite_or_none(summary), indent=1, allow_nan=False, default=float) + "\n"
