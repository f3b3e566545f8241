"""Issue 7: ``kill -9`` a real ``seqsal attribute`` at several points, ``--resume``, and get the bytes of an
uninterrupted run; no file under a final name is ever truncated; at most the chunk in flight is recomputed.

Run with ``-s`` to see, per kill, the checkpoint the run resumed from and the regions it had to recompute.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyBigWig
import pytest
import torch

import seqsal
from seqsal.io import ragged_offsets, region_arrays
from seqsal.simulate import random_sequence
from tests.test_reliability import write_fasta

N_REGIONS = 300
CHUNK = 10
FINAL_NAMES = ("attributions.npz", "attributions.bw", "regions.tsv", "run.json")


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    rng = np.random.default_rng(11)
    sizes = {"chr1": 30_000, "chr2": 20_000}
    genome = write_fasta(root / "genome.fa", [(name, random_sequence(size, rng).tobytes().decode())
                                              for name, size in sizes.items()])
    lines = []
    for i in range(N_REGIONS):
        chrom = "chr1" if i % 3 else "chr2"
        start = int(rng.integers(0, sizes[chrom] - 300))
        width = int(rng.choice([200, 300]))
        lines.append(f"{chrom}\t{start}\t{start + width}\tr{i}\t0\t{'+-'[i % 2]}\n")
    bed = root / "regions.bed"
    bed.write_text("".join(lines))
    torch.manual_seed(0)
    model = seqsal.BassetCNN(input_length=200, n_tasks=1, channels=(32, 32), kernel_sizes=(9, 5),
                             pool_sizes=(4, 4), hidden=32).eval()
    seqsal.save_model(model, root / "model.safetensors")
    return root, genome, bed, root / "model.safetensors"


def _command(workload, out: Path, *extra: str) -> list[str]:
    _, genome, bed, model = workload
    return [sys.executable, "-m", "seqsal.cli", "attribute", str(genome), str(bed), "-m", str(model), "-o", str(out),
            "--device", "cpu", "--chunk-size", str(CHUNK), "--batch-size", "16", "--stride", "100",
            "--min-null-bases", "0", *extra]  # a 10 % null (the 200-kb default: 3 shuffles of each region)


def _progress(out: Path) -> int:
    try:
        return json.loads((out / ".partial" / "progress.json").read_text())["done"]
    except (OSError, ValueError, KeyError):
        return -1


def _check_final_files_whole(out: Path) -> list[str]:
    """Every file under a final name opens and holds all regions; returns the names present."""
    present = [name for name in FINAL_NAMES if (out / name).exists()]
    for name in present:
        path = out / name
        if name == "attributions.npz":
            assert len(region_arrays(path, ("one_hot", "hypothetical"))) == N_REGIONS
        elif name == "attributions.bw":
            handle = pyBigWig.open(str(path))
            assert handle is not None and set(handle.chroms()) == {"chr1", "chr2"}
            handle.close()
        elif name == "regions.tsv":
            assert len(path.read_text().splitlines()) == N_REGIONS + 1
        else:
            assert json.loads(path.read_text())["n_regions"] == N_REGIONS
    return present


def _regions_beyond_checkpoint(out: Path, checkpoint: int, lengths: np.ndarray) -> int:
    """Regions the killed run had attributed past its last checkpoint (regions of one_hot.npy written: the
    ragged ``(4, ΣL)`` checkpoint, region ``i`` at the offsets of ``lengths``)."""
    path = out / ".partial" / "one_hot.npy"
    try:
        data = np.load(path, mmap_mode="r")
    except FileNotFoundError:
        return 0
    except (EOFError, ValueError):  # killed between creating the file and sizing it: no row written yet
        # the header (128 bytes here) is written, then the file extended to its full size, before any row
        assert path.stat().st_size <= 128, "a .npy with its full size must load"
        return 0
    offsets = ragged_offsets(lengths)
    assert data.shape == (4, int(offsets[-1]))
    return int(sum(bool(data[:, offsets[i]:offsets[i + 1]].any()) for i in range(max(checkpoint, 0), len(lengths))))


def _run_and_kill(command: list[str], out: Path, when, lengths: np.ndarray, timeout: float = 120) -> dict:
    """Start ``command``; ``kill -9`` it as soon as ``when(out)`` holds; report what the checkpoint held."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not when(out):
        if process.poll() is not None:
            raise AssertionError(f"the run ended before the kill point: {process.stderr.read()[-2000:]}")
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    checkpoint = _progress(out)
    return {"checkpoint": checkpoint, "lost": _regions_beyond_checkpoint(out, checkpoint, lengths),
            "final_files": _check_final_files_whole(out)}


def _after(condition, seconds: float):
    """``condition``, then ``seconds`` more (to land inside a chunk rather than on its checkpoint)."""
    since: list[float] = []

    def when(out: Path) -> bool:
        if not since and condition(out):
            since.append(time.monotonic())
        return bool(since) and time.monotonic() - since[0] >= seconds

    return when


KILL_POINTS = [
    ("before the first checkpoint", lambda out: (out / ".partial" / "one_hot.npy").exists()),
    ("inside a chunk, past a third of the regions", _after(lambda out: _progress(out) >= N_REGIONS // 3, 0.05)),
    ("right after a checkpoint at two thirds", lambda out: _progress(out) >= 2 * N_REGIONS // 3),
    ("when the last checkpoint is written", lambda out: _progress(out) == N_REGIONS),
    ("after the bigWig was written", lambda out: (out / "attributions.bw").exists()),
]


def test_kill_9_at_several_points_then_resume_gives_identical_bytes(workload, tmp_path):
    reference = tmp_path / "reference"
    completed = subprocess.run(_command(workload, reference, "-q"), capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    out = tmp_path / "killed"
    lengths = np.array([int(line.split("\t")[2]) - int(line.split("\t")[1])
                        for line in workload[2].read_text().splitlines()])
    report = []
    for i, (label, when) in enumerate(KILL_POINTS):
        command = _command(workload, out, *(["--resume"] if i else []))
        state = _run_and_kill(command, out, when, lengths)
        report.append((label, state))
    completed = subprocess.run(_command(workload, out, "--resume"), capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    resumed_from = [int(line.split("resuming: ")[1].split()[0]) for line in completed.stderr.splitlines()
                    if "resuming: " in line]

    for label, state in report:
        checkpoint = max(state["checkpoint"], 0)
        # what was attributed beyond the checkpoint is recomputed: at most the chunk in flight
        assert state["lost"] <= CHUNK, (label, state)
        assert checkpoint % CHUNK == 0 or checkpoint == N_REGIONS, (label, state)
        print(f"kill -9 {label}: resumed from the checkpoint at {checkpoint}/{N_REGIONS} regions "
              f"(chunk {checkpoint // CHUNK} of {N_REGIONS // CHUNK}); {state['lost']} regions attributed past it "
              f"were recomputed; files under final names, all whole: {', '.join(state['final_files']) or 'none'}")
    assert resumed_from == [N_REGIONS]  # the last resume only rewrote the final files
    assert report[-1][1]["checkpoint"] == N_REGIONS
    assert not (out / ".partial").exists()
    names = sorted(p.name for p in reference.iterdir() if p.is_file() and p.name != "run.json")
    assert {"attributions.npz", "attributions.bw", "regions.tsv"} <= set(names)
    assert sorted(p.name for p in out.iterdir() if p.is_file() and p.name != "run.json") == names
    for name in names:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), f"{name} differs after kill + resume"
    print(f"identical bytes after {len(KILL_POINTS)} kills and resumes:", ", ".join(names))
