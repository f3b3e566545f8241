"""Specificity of `seqsal audit` on the calibration zoo's clean models (issue 17).

Copies each run folder of ``benchmarks/zoo/build/calibration/`` (made by ``benchmarks/zoo/calibrate.py``: every
zoo model through ``seqsal attribute``; see ``benchmarks/zoo/README.md``) into ``--out`` (the zoo's folders are
left as they are), then runs ``seqsal motifs`` (bundled JASPAR subset), ``seqsal evaluate`` (the run's own method
only, ``--max-regions``, no sanity check: what the audit's faithfulness-gap check reads) and ``seqsal audit``, and
prints one line per folder: the verdict counts and every flagged check.

    python benchmarks/audit_zoo.py [--zoo benchmarks/zoo/build/calibration] [--out /tmp/audit_zoo]
                                   [--only basset_B,rcmaxpool_A] [--no-evaluate spliceai]
                                   [--motifs-command "seqsal motifs"]

Writes ``<out>/results.json`` (per folder: timings, verdicts, evidence).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
KEEP = ("attributions.npz", "regions.tsv", "run.json", "null.npz", "seqlets.tsv", "seqlets.bed", "elements.tsv",
        "elements.bed")


def timed(command: list[str]) -> float:
    """Run ``command`` (raises on failure) and return its wall time in seconds."""
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - began


def audit_folder(source: Path, target: Path, evaluate: bool, max_regions: int, motifs_command: list[str]) -> dict:
    """Copy one run folder, run motifs / evaluate / audit on the copy, return timings and verdicts."""
    target.mkdir(parents=True, exist_ok=True)
    for name in KEEP:
        if (source / name).is_file() and not (target / name).is_file():
            shutil.copy2(source / name, target / name)
    record = json.loads((target / "run.json").read_text())
    timings = {"attribute (run.json)": record.get("timing_seconds", {}).get("attribution")}
    if not (target / "motifs.tsv").is_file():
        timings["motifs"] = timed([*motifs_command, str(target), "-q"])
    if evaluate and not (target / "evaluation.tsv").is_file():
        timings["evaluate"] = timed(["seqsal", "evaluate", str(target), "--methods", record["method"], "--no-sanity",
                                     "--max-regions", str(max_regions), "-q"])
    timings["audit"] = timed(["seqsal", "audit", str(target), "-q"])
    table = pd.read_csv(target / "audit.tsv", sep="\t", keep_default_na=False)  # "n/a" is a verdict
    motifs = pd.read_csv(target / "motifs.tsv", sep="\t")
    return {"folder": source.name, "timings": timings, "n_motifs": len(motifs),
            "matched": int((motifs.get("match_qvalue", pd.Series(dtype=float)) <= 0.05).sum()),
            "verdicts": table[["check", "verdict", "value", "pvalue", "evidence"]].to_dict("records")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", default=str(ROOT / "benchmarks" / "zoo" / "build" / "calibration"))
    parser.add_argument("--out", default="/tmp/audit_zoo")
    parser.add_argument("--only", default="")
    parser.add_argument("--no-evaluate", default="", help="comma-separated folders to audit without seqsal evaluate")
    parser.add_argument("--max-regions", type=int, default=100)
    parser.add_argument("--motifs-command", default="seqsal motifs",
                        help="how to run motif discovery, e.g. with another checkout's code on PYTHONPATH")
    args = parser.parse_args()
    folders = sorted(p.parent for p in Path(args.zoo).glob("*/run.json"))
    if args.only:
        folders = [f for f in folders if f.name in args.only.split(",")]
    skip = set(filter(None, args.no_evaluate.split(",")))
    results = []
    for folder in folders:
        result = audit_folder(folder, Path(args.out) / folder.name, folder.name not in skip, args.max_regions,
                              args.motifs_command.split())
        results.append(result)
        counts = pd.Series([r["verdict"] for r in result["verdicts"]]).value_counts().to_dict()
        print(f"== {folder.name}: {result['n_motifs']} motifs ({result['matched']} matched); {counts}; "
              + ", ".join(f"{k} {v:.1f} s" for k, v in result["timings"].items() if v is not None), flush=True)
        for row in result["verdicts"]:
            if row["verdict"] not in ("ok",):
                print(f"   {row['verdict']:16s} {row['check']:24s} {str(row['evidence'])[:220]}", flush=True)
    (Path(args.out) / "results.json").write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
