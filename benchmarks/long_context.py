"""Issue 18's CPU targets for a 10-kb-window model: the default batch size against a batch of one, and IG and
DeepSHAP inside ``--max-memory``.

Each run is a whole ``seqsal attribute`` command in its own process (wall time and the process's peak RSS from
``wait4``). The model is the calibration zoo's ``dilated10k_B`` (``benchmarks/zoo/build/dilated10k_B/model.pt``,
TorchScript) when it is built, else the same architecture with random weights (the costs do not depend on the
weights). The genome is random sequence; the regions are 20 kb (3 windows of 10 kb at stride 5 kb each).

    python benchmarks/long_context.py --out /tmp/long_context            # this checkout
    python benchmarks/long_context.py --code /tmp/old_seqsal_root ...    # another copy of the package (before/after: the
                                                                        # grad_x_input runs only)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
ZOO_MODEL = ROOT / "benchmarks" / "zoo" / "build" / "dilated10k_B" / "model.pt"


def make_inputs(folder: Path, regions: int, region_length: int) -> tuple[Path, Path, Path]:
    """A random genome, ``regions`` regions of ``region_length`` bp, and the 10-kb model (TorchScript)."""
    from seqsal.simulate import random_sequence

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    size = regions * (region_length + 5000) + 10_000
    genome = folder / "genome.fa"
    sequence = random_sequence(size, rng).tobytes().decode()
    genome.write_text(">chr1\n" + "\n".join(sequence[i:i + 80] for i in range(0, size, 80)) + "\n")
    bed = folder / "regions.bed"
    bed.write_text("".join(f"chr1\t{5000 + i * (region_length + 5000)}\t{5000 + i * (region_length + 5000) + region_length}"
                           f"\tr{i}\t0\t+\n" for i in range(regions)))
    model = folder / "model.pt2"  # torch.export: deepshap's rules need the graph (TorchScript hides it)
    sys.path.insert(0, str(ROOT / "benchmarks" / "zoo"))
    from architectures import DilatedResidualCNN

    torch.manual_seed(0)
    net = DilatedResidualCNN().eval()
    if ZOO_MODEL.exists():
        net.load_state_dict(torch.jit.load(str(ZOO_MODEL)).state_dict())
    program = torch.export.export(net, (torch.zeros(2, 4, 10_000),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(model))
    return genome, bed, model


def run(inputs: tuple[Path, Path, Path], out: Path, extra: list[str], code: Path | None) -> dict:
    """One ``seqsal attribute`` (no peaks) in a child process: wall seconds and peak RSS (GB)."""
    genome, bed, model = inputs
    command = [sys.executable, "-m", "seqsal.cli", "attribute", str(genome), str(bed), "-m", str(model), "-o",
               str(out), "--window", "10000", "--stride", "5000", "--device", "cpu", "--no-peaks", "--force", "-q",
               *extra]
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    error = process.stderr.read()
    process.stderr.close()
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{error[-2000:]}")
    return {"seconds": round(seconds, 2), "peak_rss_gb": round(usage.ru_maxrss / 1e6, 3), "args": " ".join(extra)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/seqsal_long_context"))
    parser.add_argument("--code", type=Path, default=None, help="PYTHONPATH of another copy of seqsal")
    parser.add_argument("--regions", type=int, default=2)
    parser.add_argument("--region-length", type=int, default=20_000)
    parser.add_argument("--max-memory", default="2G")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    inputs = make_inputs(args.out / "inputs", args.regions, args.region_length)
    runs = {
        "grad_x_input, batch 1": ["--batch-size", "1"],
        "grad_x_input, default batch (64)": [],
        f"ig, default batch, --max-memory {args.max_memory}": ["--method", "ig", "--max-memory", args.max_memory],
        f"deepshap, default batch, --max-memory {args.max_memory}": ["--method", "deepshap", "--max-memory",
                                                                     args.max_memory],
    }
    report = {"model": "zoo dilated10k_B" if ZOO_MODEL.exists() else "DilatedResidualCNN, random weights",
              "regions": args.regions, "region_length": args.region_length, "threads": args.threads, "runs": {}}
    for name, extra in runs.items():
        if args.code is not None and "--max-memory" in extra:
            continue  # another copy may have no --max-memory (before issue 18: ig was OOM-killed at 22.7 GB)
        report["runs"][name] = run(inputs, args.out / name.split(",")[0].replace(" ", "_"), extra, args.code)
        print(name, report["runs"][name], flush=True)
    one, default = report["runs"]["grad_x_input, batch 1"], report["runs"]["grad_x_input, default batch (64)"]
    report["default_over_batch1"] = {"time": round(default["seconds"] / one["seconds"], 2),
                                     "peak_rss": round(default["peak_rss_gb"] / one["peak_rss_gb"], 2)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
