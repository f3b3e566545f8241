"""Motif discovery time at scale (issue 13): ``seqsal motifs`` against tfmodisco-lite on one large run folder.

    python benchmarks/zoo/motifs_scale.py RUN_FOLDER WORLD_DIR [--modisco PATH] [--max-seqlets 2000]

``RUN_FOLDER`` is a finished ``seqsal attribute`` folder (e.g. the zoo's rcmaxpool_A model over
``<zoo>/worlds/A_large``, 5 Mbp); ``WORLD_DIR`` holds its ``world.json`` (the planted, decoy and paired motifs).
Runs ``seqsal motifs`` on the folder (its defaults; rewrites its motif files) and ``modisco motifs -n
MAX_SEQLETS`` on the same ``one_hot``/``hypothetical`` arrays, and scores both with the bundled JASPAR subset as
``benchmarks/zoo/motifs.py`` does (recovered, spurious, redundant), printing the seconds of each.
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
sys.path.insert(0, str(HERE))

from motifs import DATABASE, planted_names  # noqa: E402
from motifs_planted import evaluate, run_modisco  # noqa: E402

from seqsal.io import region_arrays  # noqa: E402
from seqsal.motifs import read_meme  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("world", type=Path)
    parser.add_argument("--modisco", default=shutil.which("modisco"))
    parser.add_argument("--max-seqlets", type=int, default=2000)
    args = parser.parse_args()
    planted = planted_names(json.loads((args.world / "world.json").read_text()))
    database = read_meme(DATABASE)
    started = time.perf_counter()
    done = subprocess.run(["seqsal", "motifs", str(args.folder), "-q"], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"seqsal motifs failed: {done.stderr.strip()[-300:]}")
    print(json.dumps({"tool": "seqsal", "seconds": round(seconds, 1),
                      **evaluate(read_meme(args.folder / "motifs.meme"), planted, database)}), flush=True)
    if args.modisco:
        arrays = region_arrays(args.folder / "attributions.npz", ("one_hot", "hypothetical"))
        with tempfile.TemporaryDirectory() as work:
            motifs, seconds, error = run_modisco(args.modisco, arrays["one_hot"].padded(),
                                                 arrays["hypothetical"].padded(), work, args.max_seqlets)
        print(json.dumps({"tool": "modisco", "seconds": round(seconds, 1), "error": error,
                          **evaluate(motifs, planted, database)}), flush=True)


if __name__ == "__main__":
    main()
