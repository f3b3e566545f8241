"""Motif discovery over the calibration zoo (issue 13, items 3 and 5): ``seqsal motifs`` against tfmodisco-lite.

Run after ``benchmarks/zoo/calibrate.py`` (which leaves one run folder per model and target under
``<zoo>/calibration/``)::

    python benchmarks/zoo/motifs.py [--zoo benchmarks/zoo/build] [--only NAME ...] [--modisco PATH]
        [--modisco-from EARLIER_MOTIFS_JSON]

For each synthetic-world run folder: ``seqsal motifs`` with its defaults on a copy of the folder, and
``modisco motifs -n 2000`` (tfmodisco-lite) on the same ``one_hot``/``hypothetical`` arrays. Every motif of
both tools is matched to the bundled JASPAR subset (the worlds plant motifs from it) with seqsal's TOMTOM-style
matcher: a planted motif is *recovered* when it is some motif's best match with q < 0.05; a motif is *spurious*
when its best match is not a motif planted in its world (activators, repressors, the decoy, pair members).
Prints a Markdown table and writes ``<zoo>/calibration/motifs.json``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from motifs_planted import evaluate, run_modisco  # noqa: E402

from seqsal.io import region_arrays  # noqa: E402
from seqsal.motifs import read_meme  # noqa: E402

DATABASE = HERE.parents[1] / "data" / "motifs" / "jaspar_subset.meme"


def planted_names(world: dict) -> set[str]:
    pairs = {name for pair in world.get("pairs", []) for name in (pair["first"], pair["second"])}
    return set(world.get("activators", [])) | set(world.get("repressors", [])) | set(world.get("decoys", [])) | pairs


def used(card: dict, target: str) -> list[str]:
    uses = card.get("uses", {}).get(target, {})
    return sorted(m for m, v in uses.items() if (v.get("uses") if isinstance(v, dict) else v) and "+" not in m)


def run_one(folder: Path, card: dict, target: str, world: dict, modisco: str | None, work: Path) -> dict:
    copy = work / folder.name
    shutil.copytree(folder, copy, dirs_exist_ok=True)
    started = time.perf_counter()
    done = subprocess.run(["seqsal", "motifs", str(copy), "--quiet"], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    database = read_meme(DATABASE)
    planted = planted_names(world)
    record = {"run": folder.name, "model": card["name"], "target": target, "used": used(card, target)}
    if done.returncode != 0:
        record["seqsal"] = {"error": done.stderr.strip()[-300:]}
    else:
        motifs = read_meme(copy / "motifs.meme") if (copy / "motifs.meme").exists() else []
        record["seqsal"] = {**evaluate(motifs, planted, database), "seconds": round(seconds, 1)}
    if modisco:
        arrays = region_arrays(folder / "attributions.npz", ("one_hot", "hypothetical"))
        one_hot, hyp = arrays["one_hot"].padded(), arrays["hypothetical"].padded()
        motifs, seconds, error = run_modisco(modisco, one_hot, hyp, str(work))
        record["modisco"] = {**evaluate(motifs, planted, database), "seconds": round(seconds, 1), "error": error}
    return record


def table(records: list[dict]) -> list[str]:
    rows = ["| run | used motifs | seqsal: motifs / recovered / spurious / s | modisco: motifs / recovered / spurious / s "
            "| modisco recovers, seqsal not |", "| --- | --- | --- | --- | --- |"]
    for r in records:
        cells = []
        for tool in ("seqsal", "modisco"):
            t = r.get(tool, {})
            cells.append(f"error: {t['error'][:60]}" if t.get("error") else
                         f"{t.get('n_motifs')} / {', '.join(t.get('recovered', [])) or '-'} / {t.get('spurious')} / "
                         f"{t.get('seconds')}" if t else "-")
        missed = sorted(set(r.get("modisco", {}).get("recovered", [])) - set(r.get("seqsal", {}).get("recovered", [])))
        rows.append(f"| {r['run']} | {', '.join(r['used']) or '-'} | {cells[0]} | {cells[1]} | "
                    f"{', '.join(missed) or '-'} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=HERE / "build")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--modisco", default=shutil.which("modisco"))
    parser.add_argument("--modisco-from", type=Path, default=None,
                        help="take tfmodisco-lite's results from an earlier motifs.json (same run folders) instead "
                             "of running it again")
    args = parser.parse_args()
    earlier = ({r["run"]: r["modisco"] for r in json.loads(args.modisco_from.read_text()) if "modisco" in r}
               if args.modisco_from else {})
    records = []
    for folder in sorted((args.zoo / "calibration").iterdir()):
        if not (folder / "run.json").exists():
            continue
        model, _, target = folder.name.partition("__")
        card = json.loads((args.zoo / model / "card.json").read_text())
        if not card.get("world") or (args.only and model not in args.only):
            continue
        target = target or card.get("target", "0")
        world = json.loads((args.zoo / model / card["world_dir"] / "world.json").read_text())
        with tempfile.TemporaryDirectory() as work:
            records.append(run_one(folder, card, target, world, None if earlier else args.modisco, Path(work)))
        if folder.name in earlier:
            records[-1]["modisco"] = earlier[folder.name]
        print(json.dumps(records[-1]), file=sys.stderr, flush=True)
    (args.zoo / "calibration" / "motifs.json").write_text(json.dumps(records, indent=1) + "\n")
    print("\n".join(table(records)))


if __name__ == "__main__":
    main()
