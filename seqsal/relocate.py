"""A run folder whose inputs moved: point ``run.json`` at the new paths, after checking they hold the same content.

``run.json`` records the genome, regions and model of a run by absolute path, and the later commands reopen them:
``seqsal motifs`` redraws its null's shuffled sequence from the genome, ``evaluate``, ``check-seqlets`` and the
audit's model check reload the model and re-read the regions and genome, ``call-peaks`` reads chromosome sizes
from the genome when there is no ``attributions.bw``. A folder copied from a cluster to a laptop, or a genome moved
to another disk, breaks those paths. :func:`relocate_run` (``seqsal relocate``) checks each new file against what
the run read and only then rewrites the paths:

- **genome**: a sample of the run's regions (evenly spaced over ``regions.tsv``) fetched from the new FASTA,
  one-hot encoded as the run encoded them (its ``n_value``), must equal the bases stored in ``attributions.npz``.
  So a re-wrapped, bgzipped or otherwise re-written copy of the same sequence is accepted, another assembly not;
- **regions**: the file read and resized as ``seqsal attribute`` does (:func:`seqsal.regions.prepare_regions`)
  must give the run's rows (name, chromosome, start, end, strand) in ``regions.tsv``, in order;
- **model** (and a user architecture file): the SHA-256 recorded in ``run.json``.

The attributions, calls and every derived file are left as they are: none of them depends on where the inputs lie
(:mod:`seqsal.provenance` keys on the attributions, not on ``run.json``). Each change is appended to ``run.json``'s
``relocated`` list (``field``, ``from``, ``to``); ``input_digest`` (by content) is unchanged, so ``seqsal attribute
--resume`` with the new paths still resumes.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from .errors import InputError, option
from .evaluate_inputs import imported_modules
from .io import write_text_atomic
from .provenance import read_json_record
from .run_genome import first_genome_mismatch
from .runlock import locks_run_folder
from .tables import read_tsv

RUN_RECORD = "run.json"
FIELDS = ("genome", "regions", "model", "architecture")


def first_regions_mismatch(out_dir: Path, record: dict, regions_path: str, chrom_sizes: dict[str, int]
                           ) -> tuple[str, int | None] | None:
    """The first row where ``regions_path``, read as ``seqsal attribute`` reads it, differs from ``regions.tsv``.

    Returns
    -------
    (str, int or None) or None
        What differs and the file's line of it: ``("chr1 100 600 a, the run has chr1 100 700 a", 14)``,
        ``("12 regions, the run has 10", None)``; None when the regions are the run's.

    Raises
    ------
    InputError
        The file cannot be read as regions (its own one-line message, with the line).
    """
    from .regions import first_region_difference, prepare_regions

    table = prepare_regions(regions_path, chrom_sizes, record.get("parameters", {}).get("width"))
    shard = record.get("shard")
    if shard:  # a shard's folder holds its block of the regions
        table = table.iloc[shard["first"]:shard["stop"]].reset_index(drop=True)
    return first_region_difference(table, read_tsv(out_dir / "regions.tsv"))


def _checked_sha256(path: str, recorded: str | None, what: str) -> None:
    from .models.files import file_sha256

    if not recorded:
        raise InputError(f"this run recorded no sha256 of its {what} (a run folder of an older seqsal), so a moved "
                         "copy cannot be checked; rerun `seqsal attribute` with this file", path)
    now = file_sha256(path)
    if now != recorded:
        raise InputError(f"not the {what} this run attributed with (sha256 recorded {recorded[:8]}..., this file "
                         f"{now[:8]}...); give the same file, moved", path)


@locks_run_folder("relocate")
def relocate_run(out_dir: str | os.PathLike, genome: str | None = None, regions: str | None = None,
                 model: str | None = None, architecture: str | None = None, sample: int = 64) -> dict:
    """Point a run folder's ``run.json`` at moved inputs, each checked to hold what the run read.

    Parameters
    ----------
    out_dir
        A finished ``seqsal attribute`` (or ``merge``) folder.
    genome, regions, model
        The new paths of the run's FASTA, regions file and model file (None: unchanged). Checked as the module
        docstring says; paths are recorded absolute.
    architecture
        The new path of the user architecture file (``file.py``) of a state_dict model (its class name is kept).
    sample
        Regions whose bases the genome check compares.

    Returns
    -------
    dict
        ``{field: {"from": old path, "to": new path}}`` of what changed (also appended to ``run.json``'s
        ``relocated``).

    Raises
    ------
    InputError
        No ``run.json``; nothing given; a file that is not there; a genome whose bases differ from the run's (the
        first region named); regions that are not the run's (the first row named); a model or architecture file
        whose SHA-256 is not the recorded one; an architecture for a run without a user architecture file.
    """
    out = Path(out_dir)
    path = out / RUN_RECORD
    if not path.exists():
        raise InputError("no run.json: this is not a run folder of `seqsal attribute`", str(out))
    given = {key: value for key, value in zip(FIELDS, (genome, regions, model, architecture)) if value is not None}
    if not given:
        raise InputError(f"nothing to relocate: give the moved file(s) with {option('genome')}, {option('regions')}, "
                         f"{option('model')} or {option('architecture')}", str(out))
    for key, value in given.items():
        if not os.path.isfile(value):
            raise InputError(f"no such file (the new {key} of this run); check the path", value)
    record = read_json_record(path)
    changes: dict[str, dict[str, str]] = {}
    if genome is not None:
        differs = first_genome_mismatch(out, record, genome, sample)
        if differs is not None:
            raise InputError(f"{differs} differs from the bases this run attributed: not the genome of this run; "
                             "give the FASTA the run was made from (moved or re-compressed is fine)", genome)
        changes["genome"] = {"from": record.get("genome"), "to": os.path.abspath(genome)}
    if regions is not None:
        from .genome import Genome

        with Genome(genome if genome is not None else record["genome"]) as opened:
            differs = first_regions_mismatch(out, record, regions, dict(opened.chrom_sizes))
        if differs is not None:
            raise InputError(f"not the regions of this run ({differs[0]}); give the regions file the run was made "
                             "from", regions, differs[1])
        changes["regions"] = {"from": record.get("regions"), "to": os.path.abspath(regions)}
    if model is not None:
        _checked_sha256(model, record["model"].get("sha256"), "model file")
        changes["model"] = {"from": record["model"].get("path"), "to": os.path.abspath(model)}
    if architecture is not None:
        recorded = record["model"].get("architecture")
        if not (isinstance(recorded, str) and ".py:" in recorded):
            raise InputError("this run's model has no user architecture file to relocate (a built-in "
                             "architecture, or a self-describing model file): drop it", architecture)
        _checked_sha256(architecture, record["model"].get("architecture_sha256"), "architecture file")
        for relative, beside, digest in imported_modules(record["model"], os.path.abspath(architecture)):
            if not os.path.isfile(beside):  # review25: relocated, then every reader refused the missing module
                raise InputError(f"the architecture file imports {relative}, which is not beside it; move "
                                 f"{relative} with it (the folder the run read it from: "
                                 f"{os.path.dirname(recorded.rpartition(':')[0])})", architecture)
            _checked_sha256(beside, digest, f"module the architecture file imports ({relative})")
        changes["architecture"] = {"from": recorded,
                                   "to": f"{os.path.abspath(architecture)}:{recorded.rpartition(':')[2]}"}
    for key in [key for key, change in changes.items() if change["from"] == change["to"]]:  # auditbreak: "moved"
        logging.getLogger("seqsal").info("%s: run.json names %s already; unchanged", key, changes.pop(key)["to"])
    return write_relocation(out, record, changes) if changes else {}


def write_relocation(out: Path, record: dict, changes: dict[str, dict[str, str]]) -> dict:
    """Write ``run.json`` with ``changes`` applied (paths) and appended to its ``relocated`` list; returns them."""
    for key, change in changes.items():
        if key == "model":
            record["model"]["path"] = change["to"]
        elif key == "architecture":
            record["model"]["architecture"] = change["to"]
        else:
            record[key] = change["to"]
    record.setdefault("relocated", []).extend({"field": key, **change} for key, change in changes.items())
    write_text_atomic(out / RUN_RECORD, json.dumps(record, indent=2, default=str) + "\n")
    return changes

