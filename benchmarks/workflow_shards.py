"""Wall time of the Snakemake workflow with 1, 2 and 4 shards on the demo, against one `seqsal attribute` run.

    python benchmarks/workflow_shards.py [--cores 2] [--shards 1 2 4] [--repeats 1] [--regions N]

``--regions N`` replaces the demo's 356 regions by N random 500-bp regions of the demo genome (half on each
strand, as benchmarks/soak.py makes them), a job whose model work outweighs the start of each process.

Both sides do the same work: attributions of all 356 demo regions, the shuffled null and the peak calls
(the workflow's target is elements.bed; motifs, logos and the report come after and are not timed here).
Each workflow run starts from an empty working directory. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"


def timed(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--regions", type=int, default=None, help="N random 500-bp regions instead of the demo's")
    args = parser.parse_args()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        regions = DEMO / "regions.bed"
        if args.regions:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from soak import make_bed

            regions = Path(tmp) / "regions.bed"
            make_bed(regions, args.regions)
        inputs = [str(DEMO / "genome.fa"), str(regions), "--model", str(DEMO / "model.safetensors")]
        for repeat in range(args.repeats):
            single = timed(["seqsal", "attribute", *inputs, "-o", f"{tmp}/single{repeat}", "-q"], env)
            rows.append(("single `seqsal attribute`", "-", single))
            for shards in args.shards:
                workdir = f"{tmp}/wf{shards}-{repeat}"
                command = [sys.executable, "-m", "snakemake", "out/elements.bed", "-s", str(ROOT / "workflows" / "Snakefile"),
                           "--configfile", str(ROOT / "workflows" / "config.yaml"), "-c", str(args.cores),
                           "--directory", workdir, "--config", f"genome={DEMO / 'genome.fa'}",
                           f"regions={regions}", f"model={DEMO / 'model.safetensors'}", "outdir=out",
                           f"shards={shards}"]
                rows.append((f"workflow, {shards} shard(s), -c {args.cores}", str(shards), timed(command, env)))
    print("| run | shards | wall s |\n| --- | --- | --- |")
    for name, shards, seconds in rows:
        print(f"| {name} | {shards} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
