"""Time `seqsal audit` on a run folder: each check in-process (after imports), the whole `audit_run`, the CLI.

    python benchmarks/audit_speed.py RUN_FOLDER [--no-cli]

Prints seconds per stage and the folder's attribution time from ``run.json`` (``timing_seconds``), so the audit's
share of it can be read off (issue 17: at most 10 % on a 5-Mbp folder). Writes ``audit.tsv`` into the folder.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import numpy as np

import seqsal.audit as audit


def stages(path: Path) -> dict[str, float]:
    """Seconds of each stage of :func:`seqsal.audit.audit_run`, run one by one with the default options."""
    options, rng, seconds = audit.AuditOptions(), np.random.default_rng(0), {}
    began = time.perf_counter()
    run = audit.read_run(path)
    seconds["read_run"] = time.perf_counter() - began
    motifs = audit._table(run, "motifs.tsv")
    instances = audit._instances(run)
    for name, check in [
            ("positional_mass", lambda: audit.check_positional_mass(run, options, rng, None)),
            ("motif_position", lambda: audit.check_motif_positions(run, options, rng, motifs, instances)),
            ("unmatched_motif", lambda: audit.check_unmatched_motifs(run, options, motifs)),
            ("composition_correlation", lambda: audit.check_composition(run, options, rng)),
            ("soft_masked", lambda: audit.check_soft_masked(run, options, rng)),
            ("shuffle_response", lambda: audit.check_shuffle_response(run, options)),
            ("window_edges", lambda: audit.check_edges(run, options, rng)),
            ("padding_and_N", lambda: audit.check_padding(run, options, rng)),
            ("faithfulness_gap", lambda: audit.check_faithfulness_gap(run, options, rng, motifs, instances))]:
        began = time.perf_counter()
        check()
        seconds[name] = time.perf_counter() - began
    began = time.perf_counter()
    audit.audit_run(path)
    seconds["audit_run"] = time.perf_counter() - began
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--no-cli", action="store_true")
    args = parser.parse_args()
    path = Path(args.folder)
    record = json.loads((path / "run.json").read_text())
    attribution = record.get("timing_seconds", {}).get("attribution")
    seconds = stages(path)
    if not args.no_cli:
        began = time.perf_counter()
        subprocess.run(["seqsal", "audit", str(path), "-q"], check=True, capture_output=True)
        seconds["seqsal audit (CLI wall)"] = time.perf_counter() - began
    print(f"attribution (run.json): {attribution} s, {record.get('n_regions')} regions")
    for name, value in seconds.items():
        share = f" ({100 * value / attribution:.1f} % of the attribution)" if attribution else ""
        print(f"{name:28s} {value:7.2f} s{share}")


if __name__ == "__main__":
    main()
