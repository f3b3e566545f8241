"""Models and references shared by the tests of :mod:`seqsal.methods` (importable: pytest puts ``tests/`` on the path).

Each test module makes module-scoped fixtures of the builders, e.g. ``basset = pytest.fixture(scope="module",
name="basset")(build_basset)``.
"""
from __future__ import annotations

import torch
from torch import nn

import seqsal
from helpers import frozen


def build_basset() -> nn.Module:
    """A small frozen ``BassetCNN`` (input 203 bp, max pooling 4, 2, 3) with non-trivial batch-norm statistics."""
    torch.manual_seed(0)
    model = seqsal.BassetCNN(input_length=203, channels=(8, 8, 8), kernel_sizes=(7, 5, 3), pool_sizes=(4, 2, 3),
                             hidden=16)
    # non-trivial batch norm statistics
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    return frozen(model)


def build_bpnet() -> nn.Module:
    """A small frozen ``BPNet`` (8 filters, 3 dilated layers, trimming 5)."""
    torch.manual_seed(1)
    return frozen(seqsal.BPNet(n_filters=8, n_layers=3, first_kernel=7, profile_kernel=9, trimming=5))


def reference_delta(model, x, refs, target):
    """f(x) - mean f(references); a bpnet target evaluates the references with x's softmax weights."""
    n, r = refs.shape[:2]
    with torch.no_grad():
        output = model(x)
        fx = target.select(output).float()
        weights = target.profile_weights(output)
        weights = None if weights is None else weights.repeat_interleave(r, dim=0)
        fr = target.select(model(refs.reshape(n * r, *x.shape[1:])), weights).float().reshape(n, r).mean(1)
    return fx - fr
