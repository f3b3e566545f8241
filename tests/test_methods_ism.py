"""ISM (:mod:`seqsal.methods.ism`): the receptive-field fast path equals the naive path and brute force."""
import pytest
import torch

from seqsal.attribution import Target
from seqsal.methods import ism, ism_deltas
from helpers import random_one_hot
from method_fixtures import build_basset, build_bpnet

basset = pytest.fixture(scope="module", name="basset")(build_basset)
bpnet = pytest.fixture(scope="module", name="bpnet")(build_bpnet)

@pytest.mark.parametrize("which,target", [("basset", Target()), ("bpnet", Target(output=1)),
                                          ("bpnet", Target(output=0, reduction="sum"))])
def test_fast_ism_equals_naive(which, target, request):
    model = request.getfixturevalue(which)
    x = random_one_hot(2, 203, seed=7, n_run=(50, 53))
    naive, prediction = ism_deltas(model, x, target, fast=False, mutant_batch=300)
    fast, prediction_fast = ism_deltas(model, x, target, fast=True, mutant_batch=97)
    assert torch.allclose(naive, fast, atol=1e-5), (naive - fast).abs().max()
    assert torch.allclose(prediction, prediction_fast, atol=1e-5)
    # brute force at a few substitutions
    with torch.no_grad():
        for position, base in ((0, 2), (101, 0), (202, 3), (51, 1)):
            mutant = x[:1].clone()
            mutant[0, :, position] = 0
            mutant[0, base, position] = 1
            expected = target.select(model(mutant))[0] - prediction[0]
            if x[0, base, position] == 1:
                expected = torch.tensor(0.0)
            assert torch.isclose(naive[0, base, position], expected, atol=1e-5)
    centred, _ = ism(model, x, target)
    assert torch.allclose(centred, naive - naive.mean(dim=1, keepdim=True), atol=1e-5)
