"""The checkpoint of `seqsal attribute` in its run folder (``.partial``): what a rerun may do with the folder
(``--resume``, ``--force``, refusals), the checkpointed arrays and rows, and what changed since a checkpoint.

:func:`seqsal.pipeline.run_attribute` drives it: :func:`prepare_output` before the first region,
:func:`write_checkpoint` after each chunk, :func:`drop_earlier_run` once a forced run has its first region,
:func:`discard` when a fresh run fails.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from .errors import InputError, option
from .io import RaggedStream, atomic_path, write_text_atomic
from .peaks import NULL_FILE, PEAK_FILES
from .provenance import prune_earlier_run, read_json_record, refuse_foreign_folder
from .stitch import RegionState

PARTIAL = ".partial"
REGION_STATE = "region_state.npz"
"""``.partial`` member: the region after the ``done`` ones, part-done (:class:`seqsal.stitch.RegionState`), valid
when its ``index`` is ``progress.json``'s ``done``."""
REGION_STATE_SECONDS = 60.0
"""How often a region still in progress is checkpointed (:func:`write_region_state`): a long locus killed after an
hour resumes from its last minute, not from its start."""
OUTPUTS = ("attributions.npz", "attributions.bw", "regions.tsv", "run.json")


def params_digest(payload: dict) -> str:
    """The 16-hex-digit digest of a run's inputs and options (``payload``: file digests and options), which
    ``.partial/progress.json`` and ``run.json``'s ``input_digest`` hold: a resume must find the same."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def changed_inputs(partial: Path, payload: dict) -> str:
    """What differs between this run's inputs and options and those ``.partial/params.json`` recorded."""
    try:
        before = json.loads((partial / "params.json").read_text())
    except (OSError, ValueError):
        return "inputs or parameters"
    now = json.loads(json.dumps(payload, default=str))
    names = [f"the {key} file" for key in ("genome", "regions", "model", "architecture")
             if before.get(key) != now.get(key)]
    imports = before.get("architecture_imports") or {}, now.get("architecture_imports") or {}
    names += [f"{name} (imported by the architecture file)" for name in sorted(set(imports[0]) | set(imports[1]))
              if imports[0].get(name) != imports[1].get(name)]
    names += [option(key) for key in sorted(set(now["options"]) | set(before.get("options", {})))
              if before.get("options", {}).get(key) != now["options"].get(key)]
    return ", ".join(names) or "inputs or parameters"


def prepare_output(out_dir: Path, digest: str, resume: bool, force: bool, payload: dict | None = None) -> int:
    """Check the output folder; returns the number of regions already done (when resuming)."""
    res, frc = option("resume"), option("force")  # spelled --resume, --force for the CLI; keywords for the API
    if resume and force:
        raise InputError(f"{res} and {frc} contradict each other: {res} finishes the run in this folder, "
                         f"{frc} discards it; pass one")
    partial = out_dir / PARTIAL
    progress_file = partial / "progress.json"
    existing = (out_dir / "run.json").exists() or partial.exists()
    if not existing and not force:
        refuse_foreign_folder(out_dir, (*OUTPUTS, NULL_FILE, *PEAK_FILES), "a run")
    if existing and not (resume or force):
        finished = (out_dir / "run.json").exists()
        raise InputError(
            f"the output folder holds a finished run; pass {frc} to overwrite it, or give another -o" if finished
            else f"the output folder holds an interrupted run; pass {res} to finish it or {frc} to start over",
            str(out_dir),
        )
    if resume or force:
        for stale in out_dir.glob("*.tmp-*"):  # left by a killed writer (io.atomic_path); never a final name
            if stale.is_file() and stale.name.split(".tmp-")[0] in (*OUTPUTS, NULL_FILE, *PEAK_FILES):
                stale.unlink()
    if force:  # the earlier run's run.json and derived files go once this run's first region is attributed
        shutil.rmtree(partial, ignore_errors=True)
    if resume and (out_dir / "run.json").exists():
        finished = read_json_record(out_dir / "run.json").get("input_digest")
        if finished != digest:
            raise InputError(f"{res}: this folder holds a run finished with other inputs or parameters (genome, "
                             "regions, model, its architecture file and the modules that imports, options); use "
                             f"{frc} to replace it, or give another -o", str(out_dir))
        shutil.rmtree(partial, ignore_errors=True)  # a run killed while removing its checkpoint
        return -1  # complete already
    if resume and progress_file.exists():
        progress = json.loads(progress_file.read_text())
        if progress.get("params") != digest:
            raise InputError(
                f"{res}: this folder was started with other inputs or parameters (changed since: "
                f"{changed_inputs(partial, payload or {})}); use {frc} to start over (or remove its .partial folder)",
                str(out_dir),
            )
        if not all((partial / name).is_file() for name in ("one_hot.npy", "hypothetical.npy", "regions.part.tsv")):
            raise InputError(f"{res}: the checkpoint in .partial is incomplete; use {frc} to start over", str(out_dir))
        return int(progress["done"])
    partial.mkdir(parents=True, exist_ok=True)
    if payload is not None:  # what a later --resume compares, to name what changed
        write_text_atomic(partial / "params.json", json.dumps(payload, default=str))
    return 0


def array_stores(partial: Path, lengths: np.ndarray, resume: bool) -> tuple[RaggedStream, RaggedStream]:
    """The checkpointed one-hot and hypothetical arrays (:class:`~seqsal.io.RaggedStream`, ``(4, ΣL)`` each)."""
    stores: list[RaggedStream] = []
    try:
        for key in ("one_hot", "hypothetical"):
            stores.append(RaggedStream(str(partial / f"{key}.npy"), (4,), lengths, resume=resume))
        return stores[0], stores[1]
    except ValueError:
        for store in stores:
            store.close()
        raise InputError(f"{option('resume')}: the checkpoint in .partial was written in another array layout (an "
                         f"older seqsal); use {option('force')} to start over", str(partial.parent)) from None


def drop_earlier_run(out: Path, earlier: str | None, digest: str) -> None:
    """What ``--force`` replaces: the earlier run's ``run.json`` (written last: its presence means "complete") and
    the files that described it (:func:`seqsal.provenance.prune_earlier_run`), so that a forced run interrupted
    from here on resumes as this run."""
    (out / "run.json").unlink(missing_ok=True)
    prune_earlier_run(out, earlier, digest)


def discard(out: Path, created: bool, *handles) -> None:
    """Remove what a fresh run wrote (its checkpoint; the folder if this run made it and it is empty)."""
    for handle in handles:
        handle.close()
    shutil.rmtree(out / PARTIAL, ignore_errors=True)
    if created and out.is_dir() and not any(out.iterdir()):
        out.rmdir()


def write_checkpoint(partial: Path, digest: str, done: int, *stores_and_rows) -> None:
    """Make the first ``done`` regions durable: flush the array stores and the rows file (``stores_and_rows``: the
    stores, then the open ``regions.part.tsv``), then write ``progress.json`` (atomically, last)."""
    *stores, rows_handle = stores_and_rows
    for store in stores:
        store.flush()
    rows_handle.flush()
    os.fsync(rows_handle.fileno())
    write_text_atomic(partial / "progress.json", json.dumps({"params": digest, "done": done,
                                                               "rows_bytes": rows_handle.tell()}))


def write_region_state(partial: Path, digest: str, state: RegionState, *stores_and_rows) -> None:
    """Checkpoint the regions before ``state.index`` (:func:`write_checkpoint`) and that region part-done: its sums
    to ``region_state.npz`` first, then ``progress.json`` (``done`` = ``state.index``), each written atomically."""
    with atomic_path(partial / REGION_STATE) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, index=np.int64(state.index), windows_done=np.int64(state.windows_done), total=state.total,
                 weight=state.weight, predictions=state.predictions, errors=state.errors,
                 nonfinite=np.bool_(state.nonfinite), window=np.int64(state.window), starts=state.starts,
                 mode=np.str_(state.mode), deltas=state.deltas)
    write_checkpoint(partial, digest, state.index, *stores_and_rows)


def read_region_state(partial: Path, done: int) -> RegionState | None:
    """The part-done region a killed run left (:func:`write_region_state`) when it is region ``done``, the first
    left; else (none, another region's, unreadable) ``None``: that region is attributed from its start."""
    try:
        with np.load(partial / REGION_STATE, allow_pickle=False) as saved:
            if int(saved["index"]) != done:
                return None
            return RegionState(done, int(saved["windows_done"]), saved["total"], saved["weight"],
                               saved["predictions"], saved["errors"], bool(saved["nonfinite"]), int(saved["window"]),
                               saved["starts"], str(saved["mode"]),
                               saved["deltas"] if "deltas" in saved.files else np.zeros(0))
    except (OSError, ValueError, KeyError):
        return None
