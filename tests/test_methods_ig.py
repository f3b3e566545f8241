"""Integrated gradients (:mod:`seqsal.methods.ig`): completeness with every baseline, exactness on a linear model."""
import pytest
import torch
from torch import nn

from seqsal.attribution import Target
from seqsal.methods import completeness, integrated_gradients, make_baselines
from helpers import frozen, random_one_hot
from method_fixtures import build_basset, reference_delta

basset = pytest.fixture(scope="module", name="basset")(build_basset)

def test_integrated_gradients_completeness_and_linear_exactness(basset):
    x = random_one_hot(2, 203, seed=6)
    for baseline in ("zero", "uniform", "shuffle"):
        hypothetical, _ = integrated_gradients(basset, x, steps=64, baseline=baseline, references=3, seed=1)
        gap = completeness(basset, x, hypothetical, make_baselines(x, baseline, 3, seed=1))
        delta = reference_delta(basset, x, make_baselines(x, baseline, 3, seed=1), Target())
        assert (gap.abs() / delta.abs().clamp_min(0.05)).max() < 0.02, (baseline, gap)
    # a linear model: IG is exactly (x - b) * w for any number of steps
    torch.manual_seed(0)
    linear = frozen(nn.Sequential(nn.Flatten(), nn.Linear(4 * 7, 1)))
    x = random_one_hot(2, 7)
    hypothetical, _ = integrated_gradients(linear, x, steps=3, baseline="uniform")
    w = linear[1].weight.reshape(4, 7)
    expected = w - (0.25 * w).sum(dim=0, keepdim=True)
    assert torch.allclose(hypothetical, expected.expand(2, 4, 7), atol=1e-6)
