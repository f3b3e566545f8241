"""The audit says how much the model's predictions move when its N and padded bases become sequence (fresh25: a
model adding a bias per N base has the same gradient on every base, so the gradient check saw nothing while padded
windows predicted 7.5-8.75 from padding alone). Evidence, not a verdict: for a linear model a bias per N base is the
same function as bases that each contribute that much less (seqsal.audit_edges.check_padding)."""
from __future__ import annotations

import re

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


def _fill_ratio(result: dict) -> float:
    found = re.search(r"filling the N with random bases moves the prediction by [-+.e0-9]+, changing as many called "
                      r"bases by [-+.e0-9]+ \(([0-9.]+|inf)x, p ([0-9.e-]+)", result["evidence"])
    assert found, result["evidence"]
    return float(found[1])


def test_what_filling_the_ns_does_is_in_the_evidence(tmp_path):
    rng = np.random.default_rng(3)
    chunks = ["".join(rng.choice(list("ACGT"), 300)) for _ in range(30)]
    for i in range(0, 30, 3):  # an N run in every third region
        chunks[i] = chunks[i][:120] + "N" * 40 + chunks[i][160:]
    regions = [f"chr1\t{i * 300 + 50}\t{i * 300 + 250}\tr{i}" for i in range(30)]
    biased = check_padding(read_run(attribute_scripted(tmp_path, NBias(), "nbias", chunks, regions)), AuditOptions(),
                           np.random.default_rng(0))
    clean = check_padding(read_run(attribute_scripted(tmp_path, Linear(), "linear", chunks, regions)),
                          AuditOptions(), np.random.default_rng(0))
    assert _fill_ratio(biased) > 3 > 1.5 > _fill_ratio(clean)
    assert biased["verdict"] == clean["verdict"] == "ok"  # evidence, not graded (the gradients are alike)
    assert check_padding(read_run(tmp_path / "nbias"), AuditOptions(model=False), np.random.default_rng(0)
                         )["evidence"].count("filling") == 0  # --no-model: the gradients only


def test_bases_read_only_past_chromosome_ends_are_asked_about_too(tmp_path):
    """No N inside the regions, but short regions at the chromosome's ends whose 200-bp windows read N past them:
    the gradient check has no base to look at, the model itself is asked."""
    rng = np.random.default_rng(4)
    chunks = ["".join(rng.choice(list("ACGT"), 300)) for _ in range(30)]
    regions = [f"chr1\t{i * 300 + 50}\t{i * 300 + 250}\tr{i}" for i in range(1, 29)]
    ends = range(0, 40, 5)
    regions += [f"chr1\t{i}\t{i + 40}\tstart{i}" for i in ends]
    regions += [f"chr1\t{8960 - i}\t{9000 - i}\tend{i}" for i in ends]
    result = check_padding(read_run(attribute_scripted(tmp_path, NBias(), "ends", chunks, regions)), AuditOptions(),
                           np.random.default_rng(0))
    assert "ran 1000 bp past a chromosome end" in result["evidence"] and _fill_ratio(result) > 3
