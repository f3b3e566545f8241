"""Small helpers shared by test modules (importable because pytest puts ``tests/`` on ``sys.path``)."""
from __future__ import annotations

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
