"""A minimal trainer for regression on one-hot DNA (used to build the demo model and benchmark models)."""
from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

log = logging.getLogger("seqsal")


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two 1-D arrays."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-30))


def predict(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Model outputs of task 0 for ``x`` ``(N, 4, L)``, shape ``(N,)``."""
    model.eval()
    outputs = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            output = model(torch.as_tensor(x[i:i + batch_size], dtype=torch.float32))
            output = output[1] if isinstance(output, tuple) else output
            outputs.append(output[:, 0].numpy())
    return np.concatenate(outputs)


def fit_regression(
    model: nn.Module,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray | None = None,
    y_valid: np.ndarray | None = None,
    epochs: int = 10,
    batch_size: int = 128,
    learning_rate: float = 2e-3,
    seed: int = 0,
) -> list[dict]:
    """Train ``model`` (output ``(N, T)``, task 0 used) with MSE and Adam; returns per-epoch metrics.

    Parameters
    ----------
    x_train, x_valid
        One-hot ``(N, 4, L)`` float32.
    y_train, y_valid
        Targets ``(N,)``.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    x_tensor = torch.as_tensor(x_train, dtype=torch.float32)
    y_tensor = torch.as_tensor(y_train, dtype=torch.float32)
    history = []
    for epoch in range(epochs):
        model.train()
        order = torch.as_tensor(rng.permutation(len(x_tensor)))
        total = 0.0
        for i in range(0, len(order), batch_size):
            index = order[i:i + batch_size]
            output = model(x_tensor[index])
            output = output[1] if isinstance(output, tuple) else output
            loss = nn.functional.mse_loss(output[:, 0], y_tensor[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(index)
        metrics = {"epoch": epoch + 1, "train_mse": total / len(order)}
        if x_valid is not None:
            metrics["valid_pearson"] = pearson(predict(model, x_valid), y_valid)
        log.info("epoch %s", metrics)
        history.append(metrics)
    model.eval()
    return history
