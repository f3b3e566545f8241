"""Aligning contribution matrices: best cosine over offsets and both strands, trimming and cores.

Seqlets, templates and motifs are compared by the cosine similarity of their
hypothetical contributions at the best offset and strand, as tfmodisco
(Shrikumar et al. 2018, arXiv:1811.00416) compares seqlets; a motif keeps the
columns that carry its contribution.
"""
from __future__ import annotations

import numpy as np


def best_alignment(
    templates: np.ndarray, windows: np.ndarray, chunk_values: int = 1 << 23
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best cosine similarity of each template inside each window, over offsets and both strands.

    Parameters
    ----------
    templates
        ``(K, 4, C)`` hypothetical-contribution templates.
    windows
        ``(n, 4, W)`` with ``W >= C``.
    chunk_values
        Windows are scored in passes whose score and stretch tensors hold about this many floats each (bounded
        memory).

    Returns
    -------
    similarity, offset, rc
        ``(n, K)`` each: the best cosine; the template's first position in the
        window's forward coordinates; whether the window's reverse complement
        matched (then the aligned stretch is ``window[offset:offset+C]``
        reverse-complemented).
    """
    import torch  # third-party and heavy (~1 s): `import seqsal.motifs` (report, plot) does not pay for it

    templates = np.asarray(templates, dtype=np.float32)
    k, _, c = templates.shape
    n, _, w = windows.shape
    weight = torch.from_numpy(templates).flatten(1)  # (K, 4C), scaled to unit length
    weight = weight / weight.norm(dim=1, keepdim=True).clamp_min(1e-12)
    similarity = np.empty((n, k), dtype=np.float32)
    offset = np.empty((n, k), dtype=np.int64)
    rc = np.empty((n, k), dtype=bool)
    positions = w - c + 1
    # windows per pass: the (2 x chunk, K, positions) cosines and the (2 x chunk, positions, 4C) stretches stay
    # ~chunk_values floats each (32 MB; with few templates the stretches are the larger)
    chunk = max(1, min(n, chunk_values // max(1, 2 * positions * max(k, 4 * c))))
    # one buffer for every pass's cosines, stretches scaled in place: a fresh ~32-MB tensor per pass is a fresh
    # mmap of the allocator each time, whose page faults cost system time (the assignment passes, few templates
    # against 20,000 windows, cut one 270-MB stretch tensor, and a second to scale it, before this)
    buffer = torch.empty((2 * chunk, k, positions), dtype=torch.float32)
    with torch.no_grad():
        for lo in range(0, n, chunk):
            x = torch.from_numpy(np.ascontiguousarray(windows[lo:lo + chunk], dtype=np.float32))
            b = x.shape[0]
            both = torch.cat([x, torch.flip(x, dims=(1, 2))])  # (2b, 4, W): forward, then reverse complement
            # every C-bp stretch as a unit vector (2b, P, 4C): one matrix product gives all the cosines
            stretches = both.unfold(2, c, 1).permute(0, 2, 1, 3).reshape(2 * b, positions, 4 * c)
            stretches.div_(stretches.norm(dim=2, keepdim=True).clamp_min(1e-12))
            cosine = torch.matmul(weight, stretches.transpose(1, 2), out=buffer[:2 * b])  # (2b, K, P)
            # the best forward position, then the best reverse one; a tie goes to the forward strand
            best, where = cosine[:b].max(dim=2)
            best_rc, where_rc = cosine[b:].max(dim=2)
            is_rc = (best_rc > best).numpy()
            pos = np.where(is_rc, where_rc.numpy(), where.numpy())
            similarity[lo:lo + b] = torch.maximum(best, best_rc).numpy()
            rc[lo:lo + b] = is_rc
            offset[lo:lo + b] = np.where(is_rc, w - c - pos, pos)
    return similarity, offset, rc


def trim_bounds(cwm: np.ndarray, threshold: float = 0.3, pad: int = 0, sign: int = 0) -> tuple[int, int]:
    """``[lo, hi)`` from the first to the last important column, plus ``pad``.

    A column is important when its importance is >= ``threshold`` x the
    largest: its summed ``|cwm|`` (``sign=0``), or its contribution of that
    sign, ``max(sign * cwm.sum(0), 0)`` (``sign=+1/-1``: a negative motif is not
    trimmed to include a stronger positive site next to it).

    Parameters
    ----------
    cwm
        ``(4, L)`` contribution matrix.
    threshold
        Fraction of the most important column's importance a column needs.
    pad
        Columns added on each side (within ``[0, L]``).
    sign
        0 (both signs), +1 or -1.

    Returns
    -------
    tuple of int
        ``(lo, hi)`` column bounds; ``(0, L)`` when no column carries importance.
    """
    importance = _importance(np.asarray(cwm), sign)
    if not importance.any():
        return 0, importance.shape[0]
    keep = np.flatnonzero(importance >= threshold * importance.max())
    return max(int(keep[0]) - pad, 0), min(int(keep[-1]) + 1 + pad, importance.shape[0])


def _importance(projected: np.ndarray, sign: int) -> np.ndarray:
    """Per-column importance ``(L,)`` of a ``(4, L)`` contribution matrix: ``|value|`` summed, or the signed part."""
    if sign == 0:
        return np.abs(projected).sum(axis=0)
    return np.clip(sign * projected.sum(axis=0), 0, None)


def best_core(projected: np.ndarray, width: int, sign: int = 0) -> int:
    """Start of the ``width``-long stretch of a ``(4, L)`` contribution matrix with the most importance.

    Importance is the summed ``|value|`` of a column (``sign=0``) or its
    contribution of ``sign`` (see :func:`trim_bounds`); ``width <= L``.

    Returns
    -------
    int
        The first column of the stretch, in ``[0, L - width]`` (the first one on ties).
    """
    importance = _importance(projected, sign)
    sums = np.convolve(importance, np.ones(width), mode="valid")
    return int(np.argmax(sums))
