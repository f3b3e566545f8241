"""Run every zoo model through ``seqsal attribute`` as a user would, with today's defaults, and report the calls.

For each model card under the build folder and each of its targets (SpliceAI: ``check_targets``, either and
acceptor; the donor run would cost as much again)::

    seqsal attribute <genome> <regions> --model <file> -o <build>/cli/<model>__<target> --force --quiet \
        --target <target> <card args (--window ...)>

then counts the seqlets and elements called (each site once: rows with a ``duplicate_of`` are left out), by
sign, how many overlap a planted site that carries activity (``sites.tsv`` ``effect != 0``; for SpliceAI:
lie within 50 bp of an annotated splice site), per motif how many planted sites in the regions a seqlet
touches, and keeps the peak caller's record from ``run.json``. Models shipped also as a state_dict + ``--architecture`` config are loaded that way too (first
12 regions, ``--no-peaks``), and their predictions compared with the TorchScript run's.

Run from the repository root after ``make_zoo.py`` (about 10 minutes on 2 CPU cores)::

    python benchmarks/zoo/check_cli.py [--build benchmarks/zoo/build] [--only NAME ...]

Writes ``<build>/cli_check.json`` and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TIME = "/usr/bin/time"  # GNU time: peak memory of each run


def target_tag(target: str) -> str:
    """A folder-safe name for a ``--target`` string."""
    return re.sub(r"[^A-Za-z0-9]+", "-", target).strip("-") or "default"


def attribute(genome: Path, regions: Path, model: Path, out: Path, args: list[str]) -> dict:
    """Run ``seqsal attribute``; returns exit code, wall seconds, peak memory (MiB, with GNU time) and the last
    stderr lines."""
    command = [sys.executable, "-m", "seqsal.cli", "attribute", str(genome), str(regions), "--model", str(model),
               "-o", str(out), "--force", "--quiet", *args]
    timer = [TIME, "-f", "MAXRSS_KB %M"] if Path(TIME).exists() else []
    started = time.perf_counter()
    done = subprocess.run(timer + command, capture_output=True, text=True)
    lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("MAXRSS_KB")]
    peak = [int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("MAXRSS_KB")]
    return {"command": " ".join(["seqsal", *command[3:]]), "returncode": done.returncode,
            "seconds": round(time.perf_counter() - started, 1), "peak_rss_mib": round(peak[-1] / 1024) if peak else None,
            "stderr_tail": [line for line in lines if "Command exited" not in line][-3:]}


def truth_intervals(card: dict, folder: Path) -> pd.DataFrame:
    """Intervals a true call should touch: planted sites with ``effect != 0`` (synthetic worlds), or +-50 bp
    around each annotated splice site (SpliceAI)."""
    if card.get("world"):
        sites = pd.read_csv(folder / card["world_dir"] / "sites.tsv", sep="\t")
        return sites.loc[sites["effect"] != 0, ["chrom", "start", "end"]]
    accuracy = card["held_out"]
    positions = accuracy["acceptor"]["sites"] + accuracy["donor"]["sites"]
    return pd.DataFrame({"chrom": "chr17", "start": [p - 50 for p in positions], "end": [p + 51 for p in positions]})


def overlapping(calls: pd.DataFrame, truth: pd.DataFrame) -> int:
    """Number of ``calls`` (chrom, start, end) that overlap at least one ``truth`` interval by >= 1 bp."""
    hits = 0
    by_chrom = {c: (g["start"].to_numpy(), g["end"].to_numpy()) for c, g in truth.groupby("chrom")}
    for chrom, start, end in zip(calls["chrom"], calls["start"], calls["end"]):
        starts, ends = by_chrom.get(chrom, (np.array([]), np.array([])))
        hits += bool(((starts < end) & (ends > start)).any())
    return hits


def sites_touched(out: Path, sites: pd.DataFrame, seqlets: pd.DataFrame) -> dict[str, str]:
    """Per motif: ``"touched/total"`` planted sites inside the run's regions that a seqlet (any sign) overlaps."""
    regions = pd.read_csv(out / "regions.tsv", sep="\t")
    inside = pd.concat([sites[(sites["chrom"] == r.chrom) & (sites["start"] >= r.start) & (sites["end"] <= r.end)]
                        for r in regions.itertuples()]).drop_duplicates(["chrom", "start", "end"])
    result = {}
    for motif, group in inside.groupby("motif"):
        touched = overlapping(group, seqlets[["chrom", "start", "end"]]) if len(seqlets) else 0
        result[motif] = f"{touched}/{len(group)}"
    return result


def summarise(out: Path, truth: pd.DataFrame, sites: pd.DataFrame | None = None) -> dict:
    """Calls of a finished run folder: counts by sign (each site once), overlap with truth, per-motif sites
    touched (synthetic worlds), peak record."""
    summary: dict = {}
    for kind in ("seqlets", "elements"):
        path = out / f"{kind}.tsv"
        table = pd.read_csv(path, sep="\t") if path.exists() else pd.DataFrame(columns=["sign", "duplicate_of"])
        unique = table[table["duplicate_of"].isna()] if "duplicate_of" in table else table
        summary[kind] = {"total": int(len(unique)), "positive": int((unique["sign"] == "+").sum()),
                         "negative": int((unique["sign"] == "-").sum())}
        if len(unique):
            summary[kind]["overlapping_truth"] = overlapping(unique, truth)
        if kind == "seqlets" and sites is not None:
            summary["sites_touched_by_seqlets"] = sites_touched(out, sites, unique)
    record = json.loads((out / "run.json").read_text())
    peaks = record.get("peaks") or {}
    summary["peaks_record"] = {k: v for k, v in peaks.items() if k not in ("outputs",)}
    regions = pd.read_csv(out / "regions.tsv", sep="\t")
    summary["prediction_sd"] = float(regions["prediction"].std())
    return summary


def check_alternative(card: dict, folder: Path, out: Path, target: str, reference: Path) -> dict:
    """Load the state_dict + config form on the first 12 regions (``--no-peaks``); compare predictions."""
    alternative = card["cli"]["alternative"]
    regions = [line for line in (folder / card["regions"]).read_text().splitlines() if not line.startswith("track")]
    subset = out / "regions12.bed"
    out.mkdir(parents=True, exist_ok=True)
    subset.write_text("\n".join(regions[:12]) + "\n")
    args = [a if a != "config.json" else str(folder / "config.json") for a in alternative["args"]]
    result = attribute(folder / card["genome"], subset, folder / alternative["model"], out / "run",
                       [*args, "--target", target, "--no-peaks"])
    if result["returncode"] == 0:
        mine = pd.read_csv(out / "run" / "regions.tsv", sep="\t")["prediction"].to_numpy()
        theirs = pd.read_csv(reference / "regions.tsv", sep="\t")["prediction"].to_numpy()[:12]
        result["max_abs_prediction_difference"] = float(np.abs(mine - theirs).max())
    return result


def check(build: Path, only: list[str] | None = None) -> list[dict]:
    """Run every card's model (every target) through the CLI; returns one result per run."""
    results = []
    for card_path in sorted(build.glob("*/card.json")):
        card = json.loads(card_path.read_text())
        folder = card_path.parent
        if only and card["name"] not in only:
            continue
        truth = truth_intervals(card, folder)
        sites = pd.read_csv(folder / card["world_dir"] / "sites.tsv", sep="\t") if card.get("world") else None
        for target in card.get("check_targets", list(card["targets"])):
            out = build / "cli" / f"{card['name']}__{target_tag(target)}"
            result = {"model": card["name"], "target": target,
                      **attribute(folder / card["genome"], folder / card["regions"], folder / card["cli"]["model"],
                                  out, ["--target", target, *card["cli"]["args"]])}
            if result["returncode"] == 0:
                result.update(summarise(out, truth, sites))
                if "alternative" in card["cli"]:
                    result["state_dict_form"] = check_alternative(card, folder, build / "cli" / f"{out.name}__sd",
                                                                  target, out)
            results.append(result)
            print(f"{card['name']} --target {target}: rc {result['returncode']}, "
                  f"{result.get('seqlets', {})} seqlets, {result.get('elements', {})} elements "
                  f"({result['seconds']} s)", flush=True)
    return results


def table(results: list[dict]) -> list[str]:
    """Markdown rows of the results."""
    rows = ["| model | target | exit | seqlets + / - | on truth | elements + / - | on truth | null | s | MiB |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        seqlets, elements = r.get("seqlets", {}), r.get("elements", {})
        null = r.get("peaks_record", {}).get("null", "-")
        null = null if isinstance(null, str) else json.dumps(null)[:60]
        rows.append(f"| {r['model']} | `{r['target']}` | {r['returncode']} | "
                    f"{seqlets.get('positive', '-')} / {seqlets.get('negative', '-')} | "
                    f"{seqlets.get('overlapping_truth', 0 if seqlets else '-')} | "
                    f"{elements.get('positive', '-')} / {elements.get('negative', '-')} | "
                    f"{elements.get('overlapping_truth', 0 if elements else '-')} | {null} | {r['seconds']} | "
                    f"{r.get('peak_rss_mib') or '-'} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=HERE / "build")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    results = check(args.build, args.only)
    previous = {}
    path = args.build / "cli_check.json"
    if args.only and path.exists():
        previous = {(r["model"], r["target"]): r for r in json.loads(path.read_text())["runs"]}
    merged = {**previous, **{(r["model"], r["target"]): r for r in results}}
    path.write_text(json.dumps({"runs": list(merged.values())}, indent=2, default=str) + "\n")
    print("\n".join(table(list(merged.values()))))


if __name__ == "__main__":
    main()
