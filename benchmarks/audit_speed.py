"""Time `seqsal audit` on a run folder: each check in-process (after imports), the whole `audit_run`, the CLI, and
(``--attribute``) the folder's attribution rerun beside them, under the same load.

    python benchmarks/audit_speed.py RUN_FOLDER [--no-cli] [--attribute] [--repeat 3]

With ``--attribute``, one process runs the folder's attribution (:func:`seqsal.pipeline.run_attribute` with its
genome, regions, model, method, window and stride, into a temporary folder) and then ``audit_run``, ``--repeat``
times, and prints the audit's share of each attribution loop (``run.json`` ``timing_seconds``; wall and CPU
seconds); then ``seqsal audit`` and ``seqsal attribute`` as commands (wall). Without it, the share of the folder's
own ``run.json`` attribution time. Issue 17's target: at most 10 % on a 5-Mbp folder. Writes ``audit.tsv`` into
the folder.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from seqsal.audit import audit_run
from seqsal.audit_composition import check_composition, check_shuffle_response, check_soft_masked
from seqsal.audit_edges import check_edges, check_padding
from seqsal.audit_gap import check_faithfulness_gap
from seqsal.audit_inputs import AuditOptions, read_instances, read_run, read_table
from seqsal.audit_position import check_motif_positions, check_positional_mass, check_unmatched_motifs


def stages(path: Path) -> dict[str, tuple[float, float]]:
    """Wall and CPU seconds of each stage of :func:`seqsal.audit.audit_run`, one by one with the default options."""
    options, rng, seconds = AuditOptions(), np.random.default_rng(0), {}
    began, began_cpu = time.perf_counter(), time.process_time()
    run = read_run(path)
    seconds["read_run"] = time.perf_counter() - began, time.process_time() - began_cpu
    motifs, instances = read_table(run, "motifs.tsv"), read_instances(run)
    try:
        for name, check in [
                ("positional_mass (no figure)", lambda: check_positional_mass(run, options, rng, None)),
                ("motif_position", lambda: check_motif_positions(run, options, rng, motifs, instances)),
                ("unmatched_motif", lambda: check_unmatched_motifs(run, options, motifs)),
                ("composition_correlation", lambda: check_composition(run, options, rng)),
                ("soft_masked (opens the genome)", lambda: check_soft_masked(run, options, rng)),
                ("shuffle_response", lambda: check_shuffle_response(run, options)),
                ("window_edges", lambda: check_edges(run, options, rng)),
                ("padding_and_N", lambda: check_padding(run, options, rng)),
                ("faithfulness_gap", lambda: check_faithfulness_gap(run, options, rng, motifs, instances))]:
            began, began_cpu = time.perf_counter(), time.process_time()
            check()
            seconds[name] = time.perf_counter() - began, time.process_time() - began_cpu
    finally:
        run.close()
    return seconds


def _attribute_command(path: Path, out: str) -> list[str]:
    """``seqsal attribute`` as the folder was made (its genome, regions, model, method, window, stride)."""
    record = json.loads((path / "run.json").read_text())
    parameters = record.get("parameters", {})
    command = ["seqsal", "attribute", record["genome"], record["regions"], "--model", record["model"]["path"],
               "--method", record.get("method", "grad_x_input"), "-q", "-o", out]
    for option in ("window", "stride"):
        if parameters.get(option):
            command += [f"--{option}", str(parameters[option])]
    return command


def attribute_in_process(path: Path) -> float:
    """Rerun the folder's attribution in this process (:func:`seqsal.pipeline.run_attribute`, the CLI's defaults)
    into a temporary folder; returns the attribution loop's seconds (``run.json`` ``timing_seconds``)."""
    from seqsal.pipeline import AttributeOptions, run_attribute

    record = json.loads((path / "run.json").read_text())
    parameters = record.get("parameters", {})
    options = AttributeOptions(method=record.get("method", "grad_x_input"), window=parameters.get("window"),
                               stride=parameters.get("stride"))
    with tempfile.TemporaryDirectory(prefix="audit_speed_") as scratch:
        rerun = run_attribute(record["genome"], record["regions"], record["model"]["path"],
                              os.path.join(scratch, "run"), options, progress=False)
    return float(rerun["timing_seconds"]["attribution"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--no-cli", action="store_true")
    parser.add_argument("--attribute", action="store_true", help="rerun the attribution beside the audit")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of (attribution,) audit_run and the CLI")
    args = parser.parse_args()
    path = Path(args.folder)
    record = json.loads((path / "run.json").read_text())
    print(f"load average before: {os.getloadavg()}")
    for name, (wall, cpu_seconds) in stages(path).items():
        print(f"stage {name:40s} {wall:6.2f} s wall, {cpu_seconds:6.2f} s CPU")
    audits, attributions, cpu = [], [], {"audit_run": [], "attribute": []}
    for _ in range(args.repeat):  # one process: the attribution, then the audit, in turn
        if args.attribute:
            began = time.process_time()
            attributions.append(attribute_in_process(path))
            cpu["attribute"].append(time.process_time() - began)
        began, began_cpu = time.perf_counter(), time.process_time()
        audit_run(path)
        audits.append(time.perf_counter() - began)
        cpu["audit_run"].append(time.process_time() - began_cpu)
    print("audit_run in-process (writes audit.tsv and the figure): " + ", ".join(f"{a:.2f}" for a in audits) + " s"
          + " (CPU " + ", ".join(f"{c:.2f}" for c in cpu["audit_run"]) + " s, all threads)")
    if attributions:
        print("attribution loop in-process (run.json timing_seconds): "
              + ", ".join(f"{a:.2f}" for a in attributions) + " s (CPU of the whole run_attribute, all threads: "
              + ", ".join(f"{c:.2f}" for c in cpu["attribute"]) + " s)")
        print("audit / attribution per round: " + ", ".join(f"{100 * a / b:.1f} %"
                                                             for a, b in zip(audits, attributions)))
    else:
        attribution = record.get("timing_seconds", {}).get("attribution")
        print(f"the folder's own attribution (run.json): {attribution} s; audit_run "
              f"{100 * min(audits) / attribution:.1f} % of it (fastest run)")
    if not args.no_cli:
        walls, attribute_walls = [], []
        for _ in range(args.repeat):
            began = time.perf_counter()
            subprocess.run(["seqsal", "audit", str(path), "-q"], check=True, capture_output=True)
            walls.append(time.perf_counter() - began)
        if args.attribute:
            with tempfile.TemporaryDirectory(prefix="audit_speed_") as scratch:
                began = time.perf_counter()
                subprocess.run(_attribute_command(path, os.path.join(scratch, "run")), check=True,
                               capture_output=True)
                attribute_walls.append(time.perf_counter() - began)
                timing = json.loads((Path(scratch) / "run" / "run.json").read_text())["timing_seconds"]
            print(f"seqsal attribute (CLI): wall {attribute_walls[0]:.2f} s, attribution {timing['attribution']:.2f} s")
        print("seqsal audit (CLI wall): " + ", ".join(f"{w:.2f}" for w in walls) + " s"
              + (f"; {100 * min(walls) / attribute_walls[0]:.1f} % of the attribute command's wall, "
                 f"{100 * min(walls) / timing['attribution']:.1f} % of its attribution" if attribute_walls else ""))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
