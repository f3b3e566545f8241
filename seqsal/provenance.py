"""What each derived file of a run folder was derived from, by digest; finding and removing those that no longer match.

A run folder holds the run's attributions (``attributions.npz``, ``regions.tsv``, ``run.json``) and what later
commands derive from them, in *groups* (:data:`GROUPS`): the peak calls, the motifs, the logos, the evaluation,
the audit and the report. When a command writes a group it records the digest of each source the group was
derived from (``attributions``: :func:`attribution_key`; another group: the digest of that group's key files,
:func:`group_digest`) and of its own key files. The calls' record is ``run.json``'s ``peaks.provenance``, the
others' ``provenance/<group>.json``.

A group is *stale* when a recorded digest no longer matches the folder (``seqsal attribute --force`` with other
inputs, a ``call-peaks`` re-call with other settings, a file edited or removed since), *unrecorded* when its files
carry no record (an older seqsal, or written by hand). After each write the writer calls :func:`prune`: the groups
derived from what was just rewritten that are stale or unrecorded are removed (and logged), so no file of the folder
describes another run; readers (the report, the logos, the audit) leave out what is stale (:func:`status`).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .io import write_text_atomic

log = logging.getLogger("seqsal")

ATTRIBUTIONS = "attributions"
"""The source every group derives from: the run's attributions (:func:`attribution_key`)."""
RECORD_FOLDER = "provenance"
"""Folder of the records of the groups other than the calls: ``provenance/<group>.json``."""
RUN_RECORD = "run.json"
_SAMPLE_BLOCKS, _BLOCK, _ENDS = 64, 1 << 16, 1 << 20


@dataclass(frozen=True)
class Group:
    """A set of files one command derives from a run.

    Attributes
    ----------
    outputs
        Files and folders of the group, relative to the run folder (what :func:`prune` removes).
    key_files
        The files whose bytes make the group's digest (what the groups derived from it record).
    sources
        What the group is derived from when its writer names nothing else (:data:`ATTRIBUTIONS` or groups).
    command
        The command that writes it (for the messages).
    """

    outputs: tuple[str, ...]
    key_files: tuple[str, ...]
    sources: tuple[str, ...]
    command: str


GROUPS: dict[str, Group] = {  # in dependency order: a group only derives from those above it
    "calls": Group(("seqlets.tsv", "elements.tsv", "seqlets.bed", "elements.bed"), ("seqlets.tsv", "elements.tsv"),
                   (ATTRIBUTIONS,), "seqsal call-peaks"),
    "motifs": Group(("motifs.meme", "motifs.tsv", "motifs.npz", "motifs.h5", "modisco_peaks.bed",
                     "motif_instances.tsv", "motif_matches.tsv", "motif_calls.tsv", "motif_calls.bed"),
                    ("motifs.tsv", "motifs.npz", "motif_instances.tsv", "motif_matches.tsv", "motif_calls.tsv"),
                    (ATTRIBUTIONS,), "seqsal motifs"),
    "evaluation": Group(("evaluation.tsv", "evaluation_curves.tsv", "evaluation_sanity.tsv", "evaluation_erf.tsv",
                         "evaluation"), ("evaluation.tsv", "evaluation_curves.tsv", "evaluation_sanity.tsv",
                                         "evaluation_erf.tsv"), (ATTRIBUTIONS,), "seqsal evaluate"),
    "seqlet_check": Group(("seqlet_check.tsv",), ("seqlet_check.tsv",), ("calls",), "seqsal check-seqlets"),
    "audit": Group(("audit.tsv", "audit"), ("audit.tsv",), (ATTRIBUTIONS, "calls", "motifs", "evaluation"),
                   "seqsal audit"),
    "logos": Group(("logos",), (), (ATTRIBUTIONS, "calls", "motifs"), "seqsal logos"),
    "report": Group(("report.html",), (), (ATTRIBUTIONS, "calls", "motifs", "evaluation", "seqlet_check", "audit"),
                    "seqsal report"),
}
"""Every derived group of a run folder: its files, the files that make its digest, and what it derives from."""

STATES = ("absent", "current", "stale", "unrecorded")


def refuse_foreign_folder(folder: str | os.PathLike, run_files: tuple[str, ...] | list[str], writer: str) -> None:
    """Refuse a folder without ``run.json`` that holds entries a run's writer would replace or remove.

    Those are ``run_files`` (what the writer itself writes), every derived group's outputs (:data:`GROUPS`, pruned
    after a write) and the records' folder. Such a folder is not a run of seqsal's: its ``motifs.meme`` or
    ``logos/`` may be the user's own, so the writer refuses it unless told to replace them (``--force``); files
    of other names are never touched.

    Raises
    ------
    InputError
        Naming up to six of them: ``FOLDER: the output folder holds no seqsal run (no run.json) but files a run
        writes or replaces: logos/, motifs.meme; give another -o (a new or empty folder), or --force ...``.
    """
    from .errors import InputError, option

    if os.path.exists(os.path.join(folder, RUN_RECORD)):
        return
    names = {*run_files, RECORD_FOLDER, *(output for group in GROUPS.values() for output in group.outputs)}
    found = sorted(name + "/" if os.path.isdir(os.path.join(folder, name)) else name
                   for name in names if os.path.lexists(os.path.join(folder, name)))
    if found:
        raise InputError(f"the output folder holds no seqsal run (no run.json) but files {writer} writes or "
                         f"replaces: {', '.join(found[:6])}{', ...' if len(found) > 6 else ''}; give another -o (a "
                         f"new or empty folder), or {option('force')} to replace them", str(folder))


def read_json_record(path: str | os.PathLike) -> dict:
    """A JSON record seqsal wrote (``run.json``, ``provenance/*.json``), as a dict.

    Raises
    ------
    InputError
        ``PATH:LINE: not valid JSON (...)`` or not a JSON object: the file was damaged or edited; the message says
        to rerun the command that writes it. For a ``run.json``, also an entry of the wrong kind (``parameters``
        not an object, ``genome`` not text, ...).
    """
    from .errors import InputError

    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        record, line, why = None, None, "not UTF-8 text"
    except json.JSONDecodeError as exc:
        record, line, why = None, exc.lineno, f"not valid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})"
    else:
        line, why = None, "not a JSON object"
    if not isinstance(record, dict):
        raise InputError(f"{why}: the file is damaged or was edited; rerun the command that wrote it "
                         "(`seqsal attribute` for run.json) or restore it", str(path), line)
    if Path(path).name == RUN_RECORD:  # the entries every reader of a run's record takes for granted
        for key, kind in _RUN_FIELDS.items():
            if record.get(key) is not None and not isinstance(record[key], kind):
                raise InputError(f"its '{key}' entry is a {type(record[key]).__name__}, not "
                                 f"{'an object' if kind is dict else 'text'}: the file was edited; restore it or "
                                 "rerun `seqsal attribute`", str(path))
    return record


_RUN_FIELDS = {"parameters": dict, "peaks": dict, "model": dict, "target": dict, "tracks": dict,
               "timing_seconds": dict, "genome": str, "regions": str, "method": str}


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes, read in blocks; ``""`` when there is no such file."""
    if not os.path.isfile(path):
        return ""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def files_digest(folder: str | os.PathLike, names: tuple[str, ...] | list[str]) -> str:
    """One SHA-256 (hex, 16 digits) over the named files of ``folder``, names included; ``""`` when none exists."""
    parts = [(name, file_digest(os.path.join(folder, name))) for name in names]
    if not any(digest for _, digest in parts):
        return ""
    return hashlib.sha256("".join(f"{name}\0{digest}\n" for name, digest in parts).encode()).hexdigest()[:16]


def sampled_digest(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a large file's size and a sample of its bytes; ``""`` when there is no such file.

    The sample: the first and last MiB and 64 blocks of 64 KiB evenly spaced between them (the whole file when it
    is shorter), so that a run folder of many gigabytes is identified in a few milliseconds. Two writes of
    different arrays differ in the sampled bytes unless they agree there.
    """
    if not os.path.isfile(path):
        return ""
    size = os.path.getsize(path)
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as handle:
        if size <= 2 * _ENDS + _SAMPLE_BLOCKS * _BLOCK:
            while block := handle.read(1 << 22):
                digest.update(block)
            return digest.hexdigest()
        offsets = [0, size - _ENDS] + [_ENDS + k * (size - 2 * _ENDS - _BLOCK) // (_SAMPLE_BLOCKS - 1)
                                       for k in range(_SAMPLE_BLOCKS)]
        for offset in offsets:
            handle.seek(offset)
            digest.update(handle.read(_ENDS if offset in (0, size - _ENDS) else _BLOCK))
    return digest.hexdigest()


def attribution_key(folder: str | os.PathLike) -> str:
    """The identity of a run folder's attributions: ``regions.tsv``'s bytes and a sample of ``attributions.npz``.

    ``regions.tsv`` holds each region's coordinates, prediction and attribution sum and maximum; with
    :func:`sampled_digest` of ``attributions.npz`` (regions end to end, both members) two runs with another
    method, model, target or regions have other keys, a copy of the folder the same one.

    Returns
    -------
    str
        16 hex digits; ``""`` when the folder holds neither file.
    """
    parts = [file_digest(os.path.join(folder, "regions.tsv")), sampled_digest(os.path.join(folder, "attributions.npz"))]
    if not any(parts):
        return ""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def group_digest(folder: str | os.PathLike, name: str) -> str:
    """The digest of a source as groups derived from it record it: :func:`attribution_key` for
    :data:`ATTRIBUTIONS`, else :func:`files_digest` of the group's key files (``""`` when absent)."""
    if name == ATTRIBUTIONS:
        return attribution_key(folder)
    return files_digest(folder, GROUPS[name].key_files)


def make_record(folder: str | os.PathLike, name: str, sources: tuple[str, ...] | list[str] | None = None,
                extra: dict | None = None) -> dict:
    """The provenance record of group ``name`` as the folder is now (its outputs just written).

    Parameters
    ----------
    folder
        The run folder.
    name
        A key of :data:`GROUPS`.
    sources
        What the group was derived from (default: the group's :attr:`Group.sources`).
    extra
        More to record (e.g. a file from outside the folder, by path and digest: recorded, not checked).

    Returns
    -------
    dict
        ``group``, ``outputs`` (those present), ``digest`` (its key files), ``derived_from`` (source -> digest)
        and ``extra``'s keys.
    """
    group = GROUPS[name]
    return {"group": name, "outputs": [out for out in group.outputs if os.path.exists(os.path.join(folder, out))],
            "digest": group_digest(folder, name),
            "derived_from": {source: group_digest(folder, source) for source in (sources or group.sources)},
            **(extra or {})}


def record_path(folder: str | os.PathLike, name: str) -> Path:
    """Where group ``name``'s record is kept (``run.json`` for the calls)."""
    return Path(folder) / (RUN_RECORD if name == "calls" else os.path.join(RECORD_FOLDER, f"{name}.json"))


def write_record(folder: str | os.PathLike, name: str, sources: tuple[str, ...] | list[str] | None = None,
                 extra: dict | None = None) -> dict:
    """Write group ``name``'s record (:func:`make_record`) to ``provenance/<name>.json`` and return it.

    The calls' record is returned only: it goes into ``run.json``'s ``peaks`` entry with the rest of the calls'
    record (:func:`seqsal.peaks.runfolder.update_run_record`).
    """
    record = make_record(folder, name, sources, extra)
    if name != "calls":
        path = record_path(folder, name)
        path.parent.mkdir(exist_ok=True)
        write_text_atomic(path, json.dumps(record, indent=2) + "\n")
    return record


def record_written(folder: str | os.PathLike, name: str, sources: tuple[str, ...] | list[str] | None = None,
                   extra: dict | None = None) -> dict:
    """After group ``name`` was written: :func:`write_record`, then :func:`prune` what derived from its earlier
    files (a report drawn before a new audit, logos of earlier motifs). Returns the record."""
    record = write_record(folder, name, sources, extra)
    prune(folder, name)
    return record


def read_record(folder: str | os.PathLike, name: str) -> dict | None:
    """Group ``name``'s record, or None when there is none (or it cannot be read)."""
    path = record_path(folder, name)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if name == "calls":
        peaks = record.get("peaks") if isinstance(record, dict) else None  # fresh10: "peaks": 5 in a damaged one
        record = peaks.get("provenance") if isinstance(peaks, dict) else None
    return record if isinstance(record, dict) and isinstance(record.get("derived_from"), dict) else None


def present(folder: str | os.PathLike, name: str) -> bool:
    """Whether any file or folder of group ``name`` is in the run folder."""
    return any(os.path.exists(os.path.join(folder, out)) for out in GROUPS[name].outputs)


def mismatches(folder: str | os.PathLike, name: str, record: dict | None = None) -> list[str]:
    """What no longer matches group ``name``'s record: the sources whose digest changed or that are stale
    themselves, and ``name`` itself when its key files changed since it was written. Empty for a current group
    (or one without a record)."""
    record = record if record is not None else read_record(folder, name)
    if record is None:
        return []
    changed = [source for source, digest in record["derived_from"].items()
               if (source == ATTRIBUTIONS or source in GROUPS) and (group_digest(folder, source) != digest or (
                   source in GROUPS and list(GROUPS).index(source) < list(GROUPS).index(name)
                   and status(folder, source) == "stale"))]
    if record.get("digest", "") != group_digest(folder, name):
        changed.append(name)
    return changed


def status(folder: str | os.PathLike, name: str) -> str:
    """``absent`` (no file of the group), ``current``, ``stale`` (:func:`mismatches`) or ``unrecorded``."""
    if not present(folder, name):
        return "absent"
    record = read_record(folder, name)
    if record is None:
        return "unrecorded"
    return "stale" if mismatches(folder, name, record) else "current"


def depends_on(name: str, source: str, folder: str | os.PathLike | None = None) -> bool:
    """Whether group ``name`` derives from ``source``, directly or through other groups: by its record in
    ``folder`` when it has one, else by :data:`GROUPS`."""
    record = read_record(folder, name) if folder is not None else None
    direct = list(record["derived_from"]) if record is not None else GROUPS[name].sources
    return source in direct or any(s in GROUPS and list(GROUPS).index(s) < list(GROUPS).index(name)
                                   and depends_on(s, source, folder) for s in direct)


def stale_text(folder: str | os.PathLike, name: str) -> str:
    """Why group ``name`` is stale, in words, with what to run (for logs and the report)."""
    return f"{', '.join(GROUPS[name].outputs[:2])}: {_reason(folder, name)}"


GROUP_WORDS = {ATTRIBUTIONS: "attributions", "calls": "seqlet calls", "motifs": "motifs", "evaluation": "an evaluation",
               "seqlet_check": "a seqlet check", "audit": "an audit", "logos": "logos"}
"""Each group (:data:`GROUPS`, and the attributions) in words, for :func:`stale_text`."""


def _reason(folder: str | os.PathLike, name: str) -> str:
    record = read_record(folder, name) or {"derived_from": {}}
    causes = [source for source in mismatches(folder, name) if source != name]
    new = [source for source in causes if record["derived_from"].get(source) == ""]  # absent when it was written
    words = [GROUP_WORDS.get(source, source) for source in causes if source not in new]  # fresh26a: "other calls,
    # seqlet_check than"; fresh28: a first seqlet check was "a seqlet check other than those in this folder"
    parts = ([f"derived from {' and '.join(words)} other than those in this folder"] if words else []) + (
        [f"written before this folder had {' or '.join(GROUP_WORDS.get(source, source) for source in new)}"]
        if new else [])
    why = ("; ".join(parts) if parts
           else "its files changed since they were written (edited, or a command stopped while writing them)")
    return f"{why}; rerun `{GROUPS[name].command}`"


FIGURE_NAME = re.compile(r".+\.(png|svg|pdf)(\.tmp-[0-9]+)?|\.snakemake_timestamp", re.IGNORECASE)
"""What a group's folder (``logos/``, ``evaluation/``, ``audit/``) holds that seqsal wrote: its figures (and the
temporary files of an interrupted write, :func:`seqsal.io.atomic_path`), and the marker Snakemake leaves in a
folder a workflow step declares (``.snakemake_timestamp``: logged as a user's file it confused the workflow's logs)."""


def remove_figures(folder: Path) -> list[str]:
    """Remove the figures (:data:`FIGURE_NAME`) under ``folder`` and the folders they leave empty; any other file
    there is the user's and stays. Returns the other files left, relative to ``folder``."""
    for path in sorted(folder.rglob("*"), reverse=True):  # children before their folders
        if path.is_file() and not path.is_symlink() and FIGURE_NAME.fullmatch(path.name):
            path.unlink()
        elif path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
            path.rmdir()
    if not any(folder.iterdir()):
        folder.rmdir()
        return []
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if not path.is_dir())


def remove_group(folder: str | os.PathLike, name: str) -> list[str]:
    """Delete group ``name``'s files, the figures of its folders (:func:`remove_figures`: other files there stay)
    and its record (not ``run.json``); return what was removed."""
    removed = []
    for out in GROUPS[name].outputs:
        path = Path(folder) / out
        if path.is_dir() and not path.is_symlink():
            if kept := remove_figures(path):
                log.info("kept %d file(s) in %s that seqsal does not write: %s", len(kept), path,
                         ", ".join(kept[:3]) + (", ..." if len(kept) > 3 else ""))
            removed.append(out + "/")
        elif path.exists() or path.is_symlink():
            path.unlink()
            removed.append(out)
    if name != "calls":
        record_path(folder, name).unlink(missing_ok=True)
    return removed


def check_not_shard(folder: str | os.PathLike, command: str, writes: bool = True) -> bool:
    """Refuse ``command`` (``call-peaks``, ``motifs``) on one shard of a sharded job (``run.json`` has a ``shard``
    entry) when it ``writes``: it sees that block of the regions and its share of the null only, where the merged
    folder (``seqsal merge``) gives calls and motifs over the whole job, and rewriting the shard's files makes a
    workflow redo the merge and every step after it (fresh30). Read only (the API's ``write=False``), a warning
    says the same. Returns whether ``folder`` is a shard.

    Raises
    ------
    InputError
        When ``writes`` and ``folder`` is a shard.
    """
    from .errors import InputError

    path = Path(folder) / RUN_RECORD
    shard = read_json_record(path).get("shard") if path.exists() else None
    if not isinstance(shard, dict):
        return False
    block = (f"shard {shard.get('index')} of {shard.get('count')} (regions {int(shard.get('first', 0)) + 1}-"
             f"{shard.get('stop')} of {shard.get('n_regions_total')})")
    if writes:
        raise InputError(f"this is {block}: `seqsal {command}` would see this block of regions only and rewrite the "
                         "shard (a workflow then redoes its merge and every step after it); merge the shards "
                         f"(`seqsal merge OUT SHARD...`) and run `seqsal {command}` on the merged folder", str(folder))
    log.warning("%s is %s: `seqsal %s` sees this block of regions only; merge the shards (`seqsal merge OUT "
                "SHARD...`) and run it on the merged folder", folder, block, command)
    return True


def earlier_input_digest(folder: str | os.PathLike) -> str | None:
    """The ``input_digest`` of the finished run whose ``run.json`` the folder holds (None: no finished run)."""
    path = Path(folder) / RUN_RECORD
    try:
        return str(json.loads(path.read_text()).get("input_digest", ""))
    except (OSError, ValueError, AttributeError):
        return None


def prune_earlier_run(folder: str | os.PathLike, earlier: str | None, digest: str) -> list[str]:
    """When ``seqsal attribute --force`` starts over an earlier finished run (``earlier``: its
    :func:`earlier_input_digest`), remove what described that run, whatever its attributions' bytes: at the
    start, so that a forced run interrupted and resumed (its ``run.json`` gone by then) leaves none of it.

    With other inputs or options (``earlier != digest``: another method, target, model, genome, regions or
    parameter) every derived group but the calls (which the new run rewrote) goes: two methods can store the same
    arrays (``saliency`` and ``grad_x_input`` both the corrected gradient) while their tracks and run differ, so
    :func:`prune`'s attribution key cannot tell them apart. With the same inputs (a rerun with another device or
    batch size) the report goes, as it shows the run's record. Each removal is logged.

    Returns
    -------
    list of str
        The files and folders removed (folders end in ``/``).
    """
    if earlier is None:
        return []
    names = [name for name in GROUPS if name != "calls"] if earlier != digest else ["report"]
    why = ("they described the earlier run in this folder (other inputs or options)" if earlier != digest
           else "it showed the earlier run's record")
    removed: list[str] = []
    for name in names:
        gone = remove_group(folder, name)
        if gone:
            log.info("removed %s: %s; rerun `%s`", ", ".join(gone), why, GROUPS[name].command)
        removed += gone
    return removed


def prune(folder: str | os.PathLike, changed: str) -> list[str]:
    """Remove what no longer matches the run folder after ``changed`` (a group, or :data:`ATTRIBUTIONS`) was
    rewritten: every group that derives from ``changed`` (:func:`depends_on`) and is stale or unrecorded.

    Groups are visited in dependency order, so that what derives from a removed group goes too. ``changed`` itself
    is kept (its record may be written after this call), and so is what does not derive from it (a stale group
    there is left to the readers, which leave it out). Each removal is logged.

    Returns
    -------
    list of str
        The files and folders removed (folders end in ``/``).
    """
    removed: list[str] = []
    for name in GROUPS:
        if name == changed:
            continue
        state = status(folder, name)
        if state in ("stale", "unrecorded") and depends_on(name, changed, folder):
            why = _reason(folder, name) if state == "stale" else (
                f"no provenance record (an older seqsal, another tool or an interrupted write), so possibly drawn from "
                f"the {changed} replaced now; rerun "
                f"`{GROUPS[name].command}`")
            gone = remove_group(folder, name)
            removed += gone
            log.info("removed %s: %s", ", ".join(gone), why)
        elif state == "absent" and name != "calls":
            record_path(folder, name).unlink(missing_ok=True)
    records = Path(folder) / RECORD_FOLDER
    if records.is_dir() and not any(records.iterdir()):
        records.rmdir()
    return removed
