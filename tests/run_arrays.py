"""The arrays of a run folder as tests compare them, read through the one accessor (:func:`seqsal.io.region_arrays`)."""
from __future__ import annotations

import numpy as np

from seqsal.io import region_arrays

RUN_KEYS = ("one_hot", "hypothetical")


def dense_arrays(path, keys=RUN_KEYS) -> dict[str, np.ndarray]:
    """``{key: (N, *channels, max length)}`` right-padded with zeros, and ``length`` ``(N,)``, of an ``.npz`` in either
    layout (``attributions.npz``: ``one_hot``/``hypothetical``; ``null.npz``: ``projected``/``valid``)."""
    arrays = region_arrays(path, keys)
    return {**{key: arrays[key].padded() for key in keys}, "length": arrays.lengths}
