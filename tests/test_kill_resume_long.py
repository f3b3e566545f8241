"""``kill -9`` inside one long region, then ``--resume``: the run continues from the windows the killed one had
summed (``.partial/region_state.npz``, :func:`seqsal.run_checkpoint.write_region_state`), not from the region's
start, and gives the bytes of an uninterrupted run (before, a locus killed after an hour kept nothing of it)."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

import seqsal
from seqsal.simulate import random_sequence
from tests.test_reliability import write_fasta

# the CLI with the part-done region checkpointed after every batch (its default: once a minute)
EVERY_BATCH = ("import sys, seqsal.pipeline as p; p.REGION_STATE_SECONDS = 0.0; from seqsal.cli import main; "
               "sys.argv[0] = 'seqsal'; main()")


def _state(out: Path) -> tuple[int, int] | None:
    """``(region, windows done)`` of the part-done region the checkpoint holds, if it is the first one left."""
    try:
        with np.load(out / ".partial" / "region_state.npz") as saved:
            return int(saved["index"]), int(saved["windows_done"])
    except (OSError, ValueError, KeyError, EOFError):
        return None


def test_kill_9_inside_a_long_region_resumes_from_its_last_batches(tmp_path):
    rng = np.random.default_rng(5)
    genome = write_fasta(tmp_path / "genome.fa", [("chr1", random_sequence(20_000, rng).tobytes().decode())])
    bed = tmp_path / "regions.bed"
    bed.write_text("chr1\t100\t300\tshort\t0\t+\nchr1\t1000\t19000\tlocus\t0\t-\nchr1\t400\t700\tafter\t0\t+\n")
    torch.manual_seed(0)
    model = seqsal.BassetCNN(input_length=200, n_tasks=1, channels=(32, 32), kernel_sizes=(9, 5),
                             pool_sizes=(4, 4), hidden=32).eval()
    seqsal.save_model(model, tmp_path / "model.safetensors")

    def command(out: Path, *extra: str) -> list[str]:
        return [sys.executable, "-c", EVERY_BATCH, "attribute", str(genome), str(bed), "-m",
                str(tmp_path / "model.safetensors"), "-o", str(out), "--device", "cpu", "--batch-size", "16",
                "--stride", "50", "--no-peaks", *extra]

    reference = tmp_path / "reference"
    done = subprocess.run(command(reference, "-q"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "killed"
    process = subprocess.Popen(command(out, "-q"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while (state := _state(out)) is None or state[1] < 100:  # 100 of the locus' 357 windows summed
        assert process.poll() is None, f"the run ended before the kill point: {process.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    killed_at = _state(out)
    resumed = subprocess.run(command(out, "--resume"), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert killed_at is not None and killed_at[0] == 1 and killed_at[1] >= 100
    line = next(line for line in resumed.stderr.splitlines() if "resuming: " in line)
    windows_done = int(line.split(", and ")[1].split()[0])
    assert line.split("resuming: ")[1].startswith("1 of 3 regions done") and windows_done >= killed_at[1]
    names = sorted(p.name for p in reference.iterdir() if p.is_file() and p.name != "run.json")
    assert {"attributions.npz", "attributions.bw", "regions.tsv"} <= set(names)
    for name in names:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), f"{name} differs after kill + resume"
    assert not (out / ".partial").exists()
