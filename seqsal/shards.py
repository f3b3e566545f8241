"""Shards of an attribution job, and merging their run folders back into one.

A job over N regions is cut into ``count`` contiguous blocks of the region
table in BED order (:func:`shard_bounds`); ``seqsal attribute --shard i/count``
attributes block ``i`` into its own run folder, and :func:`merge_runs` joins the
folders into the files a single ``seqsal attribute`` run writes: arrays and
table rows concatenated in region order (the ragged arrays end to end, never
padded; shards of the older dense layout are read too), the bigWig recomputed
from the merged arrays, and a ``run.json`` that records the shards.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from .bigwig import write_attribution_bigwig
from .errors import InputError, option
from .io import (LENGTH, NPZ_FORMAT, NPZ_LAYOUT, OFFSETS, RegionArray, atomic_path, ragged_offsets, region_arrays,
                 write_npz, write_text_atomic)
from .provenance import GROUPS, read_json_record, refuse_foreign_folder, remove_group, sampled_digest
from .methods import attribution_track
from .peaks.nulls import ATTRIBUTIONS_KEY, PIECE_KEY
from .peaks.options import NULL_FILE  # the peak caller's shuffled null, one row per sampled piece
from .region_table import completeness_summary
from .runlock import REGIONS_TABLE_KEY, locks_run_folder, refuse_edited_regions_table, regions_table_digest
from .tables import read_tsv
from .text import plural

log = logging.getLogger("seqsal")

ARRAY_KEYS = ("one_hot", "hypothetical")
# parameters that may differ between the shards of one job (they do not change what is computed)
FREE_PARAMETERS = ("device", "batch_size", "chunk_size", "max_memory")
BLOCK_BYTES = 64 << 20
MERGED_OUTPUTS = ["attributions.npz", "attributions.bw", "regions.tsv", "run.json"]


def parse_shard(spec: str) -> tuple[int, int]:
    """``"i/N"`` -> ``(i, N)``, 1-based: shard ``i`` of ``N`` (``1 <= i <= N``)."""
    parts = str(spec).split("/")
    try:
        index, count = (int(part) for part in parts)
    except ValueError:
        raise InputError(f"--shard {spec!r}: write it as i/N, e.g. 2/4 for the second of four shards") from None
    if count < 1 or not 1 <= index <= count:
        raise InputError(f"--shard {spec!r}: need 1 <= i <= N (shards are numbered from 1)")
    return index, count


def shard_bounds(n_regions: int, index: int, count: int) -> tuple[int, int]:
    """Rows ``[first, stop)`` of shard ``index`` (1-based) of ``count`` over ``n_regions`` regions.

    Contiguous blocks whose sizes differ by at most one, in table order, so that
    concatenating the shards in order gives the table back.
    """
    first, stop = (index - 1) * n_regions // count, index * n_regions // count
    if count > n_regions:  # fresh26b: shards 2/5 to 5/5 of 4 regions ran, but 1/5 cannot: never a whole job
        raise InputError(
            f"{count} shards of {plural(n_regions, 'region')} leave some shard without a region; "
            f"use at most {plural(n_regions, 'shard')}"
        )
    return first, stop


def _read_record(folder: Path) -> dict:
    path = folder / "run.json"
    if not path.is_file():
        raise InputError("not a finished seqsal attribute run (no run.json); run or resume that shard first",
                         str(folder))
    if (folder / ".partial").exists():
        raise InputError("this shard's run is unfinished (.partial/ present); resume it first", str(folder))
    refuse_edited_regions_table(folder)  # review27: an edited shard table was merged, and recorded as the run's
    record = read_json_record(path)
    if "shard" not in record:
        raise InputError("run.json records no shard; merge the folders of `seqsal attribute --shard i/N` runs",
                         str(folder))
    return record


def _job_identity(record: dict, by_content: bool = True) -> dict:
    """What must agree between the shards of one job: the genome and regions by their contents (``inputs_sha256``;
    by path where ``by_content`` is false: some shard's run.json is older than that key): fresh26b merged a shard of a
    regions file regenerated at the same path (a region lost, a deleted one kept), and refused shards that each read
    their own node-local copy."""
    parameters = {key: value for key, value in record["parameters"].items() if key not in FREE_PARAMETERS}
    digests = (record.get("inputs_sha256") or {}) if by_content else {}
    return {"genome": digests.get("genome") or record["genome"], "regions": digests.get("regions") or record["regions"],
            "model": record["model"]["sha256"],
            "method": record["method"], "target": record["target"], "parameters": parameters,
            "count": record["shard"]["count"], "n_regions_total": record["shard"]["n_regions_total"]}


def check_shards(records: list[dict], folders: list[Path]) -> list[int]:
    """Order of ``records`` by shard index; raises :class:`InputError` unless they make one whole job.

    The shards must come from the same inputs and parameters, have the same
    shard count, and cover every region exactly once.
    """
    by_content = all("inputs_sha256" in record for record in records)  # review27: else a digest met a path
    reference = _job_identity(records[0], by_content)
    for record, folder in zip(records[1:], folders[1:]):
        identity = _job_identity(record, by_content)
        different = [f"the contents of its {key} file" if key in ("genome", "regions") and by_content
                     else f"its {key} file (path)" if key in ("genome", "regions") else key
                     for key in reference if identity[key] != reference[key]]
        if different:
            raise InputError(f"this shard differs from {folders[0]} in {', '.join(different)}; "
                             "merge shards of one job only", str(folder))
    count = reference["count"]
    order = sorted(range(len(records)), key=lambda k: records[k]["shard"]["index"])
    indices = [records[k]["shard"]["index"] for k in order]
    if indices != list(range(1, count + 1)):
        missing = sorted(set(range(1, count + 1)) - set(indices))
        repeated = sorted({i for i in indices if indices.count(i) > 1})
        detail = (f"missing shard(s) {', '.join(map(str, missing))}" if missing else "") + (
            f"{'; ' if missing else ''}shard(s) given twice: {', '.join(map(str, repeated))}" if repeated else "")
        raise InputError(f"the shards do not make a whole job of {count}: {detail}")
    expected = 0
    for k in order:
        shard = records[k]["shard"]
        if shard["first"] != expected or shard["stop"] - shard["first"] != records[k]["n_regions"]:
            raise InputError(f"shard {shard['index']}/{count} does not cover regions from {expected}", str(folders[k]))
        expected = shard["stop"]
    if expected != reference["n_regions_total"]:
        raise InputError(f"the shards cover {expected} of {plural(reference['n_regions_total'], 'region')}")
    return order


def ragged_member(sources: list[RegionArray]) -> tuple[tuple[int, ...], np.dtype, Iterator[np.ndarray], str]:
    """The merged ragged member of the shards' ``sources``: their regions end to end, for :func:`~seqsal.io.write_npz`.

    Streamed in bounded pieces (:data:`BLOCK_BYTES`); the bytes are those a single run writes, whichever layout
    (ragged or dense) each shard has.
    """
    dtype = sources[0].dtype
    positions = max(1, BLOCK_BYTES // dtype.itemsize)
    total = sum(int(source.lengths.sum()) for source in sources)
    pieces = (piece for source in sources for piece in source.pieces(positions))
    return (*sources[0].channels, total), dtype, pieces, ("F" if sources[0].channels else "C")


def merge_region_tables(paths: list[Path], destination: str | os.PathLike) -> None:
    """Concatenate ``regions.tsv`` files (same header) and renumber their ``index`` column from 0, streaming."""
    with atomic_path(destination) as tmp, open(tmp, "w", encoding="utf-8") as out:
        header, index = None, 0
        for path in paths:
            with open(path, encoding="utf-8") as handle:
                first = handle.readline()
                if header is None:
                    header = first
                    out.write(header)
                elif first != header:
                    raise InputError("regions.tsv header differs from the first shard's", str(path))
                for line in handle:
                    _, rest = line.split("\t", 1)
                    out.write(f"{index}\t{rest}")
                    index += 1


def null_small_members(paths: list[Path]) -> list[dict]:
    """Each shard's ``null.npz`` members but its tracks, once ``fraction``, ``seed``, ``copies`` and the piece length
    are checked to agree (:class:`InputError` naming the first null otherwise: the shards drew different nulls)."""
    small = []
    for path in paths:
        with np.load(path) as null:
            small.append({key: null[key] for key in null.files if key not in ("projected", "valid", LENGTH, OFFSETS)})
    for key in ("fraction", "seed", "copies"):
        values = {part[key].item() for part in small if key in part}
        if len(values) > 1:
            raise InputError(f"the shards' null.npz were drawn with different {key} ({sorted(values)}); "
                             "run every shard with the same peak options", str(paths[0]))
    cuts = {int(part[PIECE_KEY]) if PIECE_KEY in part else -1 for part in small}  # -1: written before pieces
    if len(cuts) > 1:
        raise InputError("the shards' null.npz cut long regions differently (written by different seqsal versions: "
                         "pieces of " + ", ".join("unrecorded length" if c < 0 else "whole regions" if c == 0 else
                                                  f"{c:,} bp" for c in sorted(cuts)) +
                         f"); rerun every shard with this seqsal ({option('force')})", str(paths[0]))
    return small


def merge_null_samples(paths: list[Path], firsts: list[int], destination: str | os.PathLike) -> None:
    """Join the shards' ``null.npz`` (shuffled-null tracks of a sample of pieces) into the single run's file.

    Rows are concatenated in shard order, ``region_index`` shifted to rows of
    the whole job, tracks joined end to end (ragged, :func:`ragged_member`) and
    streamed in bounded blocks; ``fraction`` and ``seed`` must agree. The sample is drawn on the
    whole job and each shard attributes its span's rows batched as the single run
    (:func:`seqsal.peaks.nulls.write_shuffled_null`), so the result is the null a
    single run would have drawn, byte for byte.
    """
    tracks = ("projected", "valid")
    small = null_small_members(paths)
    for part, first in zip(small, firsts):
        part["region_index"] = part["region_index"] + first
    arrays = [region_arrays(path, tracks) for path in paths]
    lengths = np.concatenate([part.lengths for part in arrays]).astype(np.int64)
    members = {key: ragged_member([part[key] for part in arrays]) for key in tracks}
    members.update({LENGTH: lengths, OFFSETS: ragged_offsets(lengths)})
    for key in (key for key in small[0] if key != ATTRIBUTIONS_KEY):  # the writer's order (write_shuffled_null)
        members[key] = small[0][key] if key in ("fraction", "seed", "copies", PIECE_KEY) else np.concatenate(
            [part[key] for part in small])
    # last, as the writer has it: the merged attributions' (written before), also where older shards had none
    members[ATTRIBUTIONS_KEY] = np.asarray(sampled_digest(Path(destination).parent / "attributions.npz"))
    write_npz(destination, members)


@locks_run_folder("merge")
def merge_runs(
    shard_dirs: list[str | os.PathLike], out_dir: str | os.PathLike, force: bool = False,
    command: list[str] | None = None,
) -> dict:
    """Merge the run folders of the shards of one job into ``out_dir``; returns the merged ``run.json`` record.

    Parameters
    ----------
    shard_dirs
        Folders written by ``seqsal attribute --shard i/N`` (any order; all N).
    out_dir
        Folder for ``attributions.npz``, ``regions.tsv``, ``attributions.bw`` and
        ``run.json``, the same files (and bytes, but for ``run.json``) as a
        single run over all regions.
    force
        Overwrite a run already in ``out_dir``.
    command
        Command line recorded in ``run.json`` (default ``sys.argv``).
    """
    started = time.perf_counter()
    if not shard_dirs:
        raise InputError("give the shard folders to merge")
    folders = [Path(folder) for folder in shard_dirs]
    out = Path(out_dir)
    if any(os.path.realpath(folder) == os.path.realpath(out) for folder in folders):
        raise InputError("the output folder is one of the shards to merge (merging into it would replace that shard); "
                         "give another -o", str(out))
    if (out / "run.json").exists() and not force:
        raise InputError(f"the output folder holds a run already; pass {option('force')} to overwrite it", str(out))
    if not force:
        refuse_foreign_folder(out, (*MERGED_OUTPUTS, NULL_FILE), "a merge")
    records = [_read_record(folder) for folder in folders]
    order = check_shards(records, folders)
    folders, records = [folders[k] for k in order], [records[k] for k in order]
    null_paths = [folder / NULL_FILE for folder in folders]
    if any(path.exists() for path in null_paths):  # checked before anything is written (fresh20)
        missing = [str(path.parent) for path in null_paths if not path.exists()]
        if missing:
            raise InputError(f"some shards have {NULL_FILE} and others not ({', '.join(missing)}); "
                             "run every shard with the same peak options")
        null_small_members(null_paths)
    if force:  # what described the run this merge replaces: its calls, motifs, logos, report, ... (logged)
        remove_earlier_results(out)
    width = max(int(record["max_length"]) for record in records)
    n = sum(int(record["n_regions"]) for record in records)
    shards = [region_arrays(folder / "attributions.npz", ARRAY_KEYS) for folder in folders]
    lengths = np.concatenate([shard.lengths for shard in shards]).astype(np.int64)
    members = {key: ragged_member([shard[key] for shard in shards]) for key in ARRAY_KEYS}
    members.update({LENGTH: lengths, OFFSETS: ragged_offsets(lengths)})
    out.mkdir(parents=True, exist_ok=True)
    write_npz(out / "attributions.npz", members)
    merge_region_tables([folder / "regions.tsv" for folder in folders], out / "regions.tsv")
    from .genome import Genome

    genome = Genome(_reachable(records, "genome"))
    table = read_tsv(out / "regions.tsv", usecols=["chrom", "start", "end"],
                     dtype={"start": np.int64, "end": np.int64})
    merged = region_arrays(out / "attributions.npz", ARRAY_KEYS)
    one_hot, hypothetical = merged["one_hot"], merged["hypothetical"]
    write_attribution_bigwig(out / "attributions.bw", table, genome.chrom_sizes,
                             lambda i: one_hot[i], lambda i: hypothetical[i],
                             functools.partial(attribution_track, records[0]["method"]))
    genome.close()
    outputs = list(MERGED_OUTPUTS)
    if any(path.exists() for path in null_paths):
        merge_null_samples(null_paths, [record["shard"]["first"] for record in records], out / NULL_FILE)
        outputs.append(NULL_FILE)
    elif (out / NULL_FILE).exists():  # an earlier run's null (--force): not these shards', whose calls have none
        os.unlink(out / NULL_FILE)
    record = merged_record(records, folders, n, width, command, time.perf_counter() - started)
    record["outputs"] = outputs
    record[REGIONS_TABLE_KEY] = regions_table_digest(out)  # the merged table's, not shard 1's
    completeness = completeness_summary(out / "regions.tsv", record["method"])  # of all regions, not shard 1's
    record.pop("completeness", None)
    if completeness is not None:
        record["completeness"] = completeness
    write_text_atomic(out / "run.json", json.dumps(record, indent=2, default=str) + "\n")
    return record


def remove_earlier_results(folder: str | os.PathLike) -> list[str]:
    """Remove every derived group of an earlier run in ``folder`` (:data:`seqsal.provenance.GROUPS`: its calls,
    motifs, evaluation, seqlet check, audit, logos and report), each removal logged; ``seqsal merge --force`` runs
    this before it writes, as ``seqsal attribute --force`` prunes an earlier run. Returns what was removed."""
    removed: list[str] = []
    for name in GROUPS:
        gone = remove_group(folder, name)
        if gone:
            log.info("removed %s: they described the earlier run in this folder; rerun `%s`", ", ".join(gone),
                     GROUPS[name].command)
        removed += gone
    return removed


def _reachable(records: list[dict], key: str) -> str:
    """The first shard's ``genome`` or ``regions`` path that exists here (shards may each have read a node-local
    copy of the same contents, :func:`_job_identity`); the first shard's when none does."""
    return next((r[key] for r in records if os.path.exists(r[key])), records[0][key])


def merged_record(records: list[dict], folders: list[Path], n: int, width: int, command: list[str] | None,
                  merge_seconds: float) -> dict:
    """The ``run.json`` of a merged job: the first shard's, with the whole job's counts and each shard listed.

    The shards' own peak calls (``peaks``) are left out: peaks are called on the merged folder.
    """
    record = {key: value for key, value in records[0].items() if key not in ("shard", "peaks")}
    record.update({key: _reachable(records, key) for key in ("genome", "regions")})  # a shard's copy may be gone
    attribution = sum(float(r["timing_seconds"]["attribution"]) for r in records)
    total = sum(float(r["timing_seconds"]["total"]) for r in records)
    record.update({
        "command": command if command is not None else sys.argv,
        "n_regions": n,
        "max_length": width,
        "npz_format": NPZ_FORMAT,  # the merged arrays are ragged, whichever layout the shards had
        "npz_layout": NPZ_LAYOUT,
        "timing_seconds": {"attribution": round(attribution, 3), "total": round(total + merge_seconds, 3),
                           "merge": round(merge_seconds, 3)},
        "shards": [{"folder": os.path.abspath(folder), **r["shard"], "device": r["parameters"].get("device"),
                    "timing_seconds": r["timing_seconds"]} for folder, r in zip(folders, records)],
    })
    return record
