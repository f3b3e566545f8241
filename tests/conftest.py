from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import seqsal
from seqsal.simulate import random_sequence


@pytest.fixture(scope="session")
def demo_defaults_run(tmp_path_factory) -> Path:
    """`seqsal attribute` on the whole bundled demo with its defaults, run once per session. Read it only:
    :func:`demo_run` gives a module its copy to write into."""
    from motif_helpers import attribute_demo

    return attribute_demo(tmp_path_factory.mktemp("demo_defaults") / "run")


@pytest.fixture(scope="module")
def demo_run(demo_defaults_run, tmp_path_factory) -> Path:
    """A module's own copy of :func:`demo_defaults_run` (grad x input, the shuffled null: null.npz)."""
    return Path(shutil.copytree(demo_defaults_run, tmp_path_factory.mktemp("demo") / "run"))


@pytest.fixture()
def small_genome(tmp_path):
    """A FASTA with chr1 (5,000 bp, a soft-masked stretch) and chr2 (3,000 bp, an N stretch)."""
    rng = np.random.default_rng(1)
    chr1 = random_sequence(5000, rng).tobytes().decode()
    chr1 = chr1[:1000] + chr1[1000:1200].lower() + chr1[1200:]
    chr2 = random_sequence(3000, rng).tobytes().decode()
    chr2 = chr2[:2000] + "N" * 100 + chr2[2100:]
    path = tmp_path / "genome.fa"
    with open(path, "w") as handle:
        for name, sequence in (("chr1", chr1), ("chr2", chr2)):
            handle.write(f">{name}\n")
            for i in range(0, len(sequence), 70):
                handle.write(sequence[i:i + 70] + "\n")
    return path, {"chr1": chr1, "chr2": chr2}


@pytest.fixture()
def tiny_model(tmp_path):
    """A randomly initialised Basset-style model (input 200 bp, 2 tasks) saved as seqsal safetensors."""
    torch.manual_seed(0)
    model = seqsal.BassetCNN(input_length=200, n_tasks=2, channels=(8, 8), kernel_sizes=(7, 5), pool_sizes=(4, 4),
                             hidden=16, task_names=["open", "enhancer"])
    model.eval()
    path = tmp_path / "model.safetensors"
    seqsal.save_model(model, path)
    return path, model


def write_bed(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def fail_table_writes(monkeypatch, module, suffix: str) -> None:
    """Make ``module.write_table_atomic`` raise a full disk's OSError for paths ending with ``suffix`` (other
    writes go through): a command that fails part-way through its outputs."""
    write_table = module.write_table_atomic

    def full_disk(path, *args, **kwargs):
        if str(path).endswith(suffix):
            raise OSError(28, "No space left on device")
        return write_table(path, *args, **kwargs)

    monkeypatch.setattr(module, "write_table_atomic", full_disk)
