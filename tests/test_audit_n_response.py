"""The audit asks the model itself whether it responds to N and padded bases (fresh25: a model adding a bias per N
base has the same gradient on every base, so the gradient check said `ok` while padded windows predicted 7.5-8.75
from padding alone)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from seqsal.audit_edges import check_padding
from seqsal.audit_inputs import AuditOptions, read_run
from helpers import attribute_scripted


class Linear(nn.Module):
    """A fixed random weight per position and base: an N (all-zero column) adds nothing, as a missing base."""

    def __init__(self):
        super().__init__()
        self.register_buffer("weight", torch.from_numpy(np.random.default_rng(0).normal(0, 1, (4, 200))).float())

    def forward(self, x):
        return (x * self.weight).sum(dim=(1, 2))[:, None]


class NBias(Linear):
    """The same, plus 0.5 per N base: what the model reads in an N is not a missing base but a feature."""

    def forward(self, x):
        return (x * self.weight).sum(dim=(1, 2))[:, None] + 0.5 * (1 - x.sum(dim=1)).sum(dim=1, keepdim=True)


def _run(tmp_path: Path, model: nn.Module, name: str) -> Path:
    rng = np.random.default_rng(3)
    chunks = ["".join(rng.choice(list("ACGT"), 300)) for _ in range(30)]
    for i in range(0, 30, 3):  # an N run in every third region
        chunks[i] = chunks[i][:120] + "N" * 40 + chunks[i][160:]
    return attribute_scripted(tmp_path, model, name, chunks,
                              [f"chr1\t{i * 300 + 50}\t{i * 300 + 250}\tr{i}" for i in range(30)])


def test_a_bias_per_n_base_is_found_by_filling_the_ns(tmp_path):
    biased = check_padding(read_run(_run(tmp_path, NBias(), "nbias")), AuditOptions(), np.random.default_rng(0))
    assert biased["verdict"] == "shortcut likely", biased["evidence"]
    assert biased["value"] > 3 and biased["pvalue"] <= 0.01 and "filling the N with random bases" in biased["evidence"]
    clean = check_padding(read_run(_run(tmp_path, Linear(), "linear")), AuditOptions(), np.random.default_rng(0))
    assert clean["verdict"] == "ok", clean["evidence"]
    assert "filling the N with random bases" in clean["evidence"]
    # without the model, only the gradients: the bias is invisible to them
    assert check_padding(read_run(tmp_path / "nbias"), AuditOptions(model=False), np.random.default_rng(0)
                         )["verdict"] == "ok"


def test_a_bias_per_n_base_read_only_past_chromosome_ends_is_found(tmp_path):
    """No N inside the regions, but short regions at the chromosome's ends whose 200-bp windows read N past them:
    the gradient check has no base to look at, the model itself is asked."""
    rng = np.random.default_rng(4)
    chunks = ["".join(rng.choice(list("ACGT"), 300)) for _ in range(30)]
    regions = [f"chr1\t{i * 300 + 50}\t{i * 300 + 250}\tr{i}" for i in range(1, 29)]
    ends = range(0, 40, 5)  # 8 regions at each end: enough windows for the sign-flip test to reach p 0.01
    regions += [f"chr1\t{i}\t{i + 40}\tstart{i}" for i in ends]
    regions += [f"chr1\t{8960 - i}\t{9000 - i}\tend{i}" for i in ends]
    out = attribute_scripted(tmp_path, NBias(), "ends", chunks, regions)
    result = check_padding(read_run(out), AuditOptions(), np.random.default_rng(0))
    assert result["verdict"] == "shortcut likely" and "ran" in result["evidence"], result["evidence"]
    assert "filling the N with random bases" in result["evidence"]
