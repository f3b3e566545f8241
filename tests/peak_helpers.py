"""Tracks shared by the peak-caller tests (importable: pytest puts ``tests/`` on ``sys.path``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"


def noise(rng, shape, scale=0.1):
    """Laplace noise smoothed over 3 bp (attributions are correlated along the sequence)."""
    raw = rng.laplace(scale=scale, size=(shape[0], shape[1] + 2))
    return ((raw[:, :-2] + raw[:, 1:-1] + raw[:, 2:]) / np.sqrt(3)).astype(np.float32)


def planted(rng, n=40, length=800):
    """``noise`` with two blocks of 8-15 bp per row (signs mixed), each with a summit; returns the blocks too."""
    track = noise(rng, (n, length))
    blocks = []
    for row in range(n):
        for k, position in enumerate(rng.choice(np.arange(50, length - 80, 120), size=2, replace=False)):
            sign = 1 if (row + k) % 3 else -1
            width = int(rng.integers(8, 16))
            track[row, position:position + width] += sign * 0.5
            summit = position + width // 2
            track[row, summit] += sign * 1.2
            blocks.append((row, int(position), int(position) + width, sign, summit))
    return track, blocks
