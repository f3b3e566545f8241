"""Small helpers shared by test modules (importable because pytest puts ``tests/`` on ``sys.path``)."""
from __future__ import annotations

import contextlib
import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Iterator

import numpy as np
import torch
from torch import nn


def random_one_hot(n: int, length: int, seed: int = 0, n_run: tuple[int, int] | None = None) -> torch.Tensor:
    """``(n, 4, length)`` float32 one-hot of uniform random bases; ``n_run=(a, b)`` zeroes columns a..b (an N run)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 4, length), np.float32)
    index = rng.integers(0, 4, (n, length))
    for i in range(n):
        x[i, index[i], np.arange(length)] = 1
    if n_run is not None:
        x[:, :, n_run[0]:n_run[1]] = 0
    return torch.from_numpy(x)


def frozen(model: nn.Module) -> nn.Module:
    """``model`` in eval mode with no parameter gradients."""
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def assert_same_file(first, second) -> None:
    """``first`` and ``second`` (paths) hold the same bytes, but for a shuffled null's ``prediction`` member.

    A merged run's ``null.npz`` has the single run's tracks and table byte for byte; the predictions of the shuffled
    copies come from forward passes in batches the shards cut otherwise, so they may differ in their last bits
    (README "workflows"): every other member must be equal, those to float32 rounding.
    """
    from pathlib import Path

    first, second = Path(first), Path(second)
    if first.name != "null.npz":
        assert first.read_bytes() == second.read_bytes(), first.name
        return
    with np.load(first) as a, np.load(second) as b:
        assert a.files == b.files, (a.files, b.files)
        for key in a.files:
            if key == "prediction":
                np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6, err_msg=key)
            else:
                assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key


@contextlib.contextmanager
def benchmark_module(name: str) -> Iterator[ModuleType]:
    """Import ``benchmarks/<name>.py`` (a script folder, not a package) with ``benchmarks/`` on ``sys.path`` for the
    duration; for a module-scoped fixture: ``with benchmark_module("ragged") as module: yield module``."""
    folder = str(Path(__file__).resolve().parent.parent / "benchmarks")
    sys.path.insert(0, folder)
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(folder)


def chosen_transform(model, target, method: str, length: int) -> str:
    """The transform :func:`seqsal.output_transforms.choose_transform` picks, given the output shape of ``model`` run on
    zeros of ``length`` bases, as ``seqsal.model_checks.check_model_input`` gives it."""
    from seqsal.output_transforms import choose_transform

    with torch.no_grad():
        shape = target.output_shape(model(torch.zeros(2, 4, length)))
    return choose_transform(model, target, method, shape).transform


class StraightThrough(torch.autograd.Function):
    """A ReLU whose backward is the identity: no DeepLIFT rule covers it, so its maps miss delta."""

    @staticmethod
    def forward(ctx, h):
        return h.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        return grad


def attribute_scripted(tmp_path: Path, model: nn.Module, name: str, chunks: list[str], bed_lines: list[str]) -> Path:
    """``model`` saved as TorchScript and run by ``seqsal attribute`` (window 200) over ``chr1`` made of ``chunks``
    and the regions of ``bed_lines`` (both written once per ``tmp_path``); returns the run folder ``tmp_path/name``."""
    from seqsal.pipeline import AttributeOptions, run_attribute

    genome = tmp_path / "g.fa"
    if not genome.exists():
        genome.write_text(">chr1\n" + "".join(chunks) + "\n")
        (tmp_path / "r.bed").write_text("".join(line + "\n" for line in bed_lines))
    path = tmp_path / f"{name}.pt"
    torch.jit.script(model.eval()).save(str(path))
    out = tmp_path / name
    run_attribute(str(genome), str(tmp_path / "r.bed"), str(path), str(out), AttributeOptions(window=200),
                  progress=False)
    return out


def record_precision(monkeypatch, module: ModuleType) -> list[tuple[str, object]]:
    """Replace ``module.precision_context`` by one that records ``(device type, autocast dtype)`` of each block it
    opens (the blocks run as they are): where a model ran in full float32 on a GPU, seen from the CPU."""
    seen: list[tuple[str, object]] = []

    @contextlib.contextmanager
    def recording(device, autocast):
        seen.append((device.type, autocast))
        yield

    monkeypatch.setattr(module, "precision_context", recording)
    return seen
