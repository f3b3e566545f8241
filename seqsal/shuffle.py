"""Dinucleotide shuffles of DNA that keep every 2-mer count exactly.

The shuffle is the Altschul–Erikson (1985) method as implemented by MEME's
``fasta-shuffle-letters -kmer 2`` and tangermeme's ``dinucleotide_shuffle``:
the sequence is a walk through the graph whose vertices are letters and whose
edges are its dinucleotides; a uniformly random Eulerian walk of that graph
with the same first letter is drawn by (1) choosing, for every letter but the
last one, a random "last exit" edge such that these edges form a tree pointing
to the last letter, (2) shuffling every other outgoing edge list, and (3)
walking. Every sequence with the same dinucleotide counts and the same first
letter is equally likely; the first and last letters are kept (they are fixed
by the counts anyway, except for circuits).

``N`` (a column that is not exactly one-hot: all-zero, or uniform 0.25):

* ``n_mode="fixed"`` (default) keeps every N column in place and shuffles each
  run of A/C/G/T between N columns on its own. Each run keeps its first and
  last base, so every dinucleotide count — including those that touch an N —
  is preserved, and assembly gaps stay where they are;
* ``n_mode="symbol"`` treats N as a fifth letter shuffled with the others
  (the N columns of the output repeat the first N column of the input).

Strings are shuffled with their own characters as the alphabet (case and
IUPAC codes are letters like any other).
"""
from __future__ import annotations

import numpy as np
import torch

N_MODES = ("fixed", "symbol")


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy ``Generator`` from a seed, a generator (returned as is) or ``None`` (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def shuffle_symbols(symbols: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` dinucleotide shuffles of an integer sequence.

    Parameters
    ----------
    symbols
        ``(L,)`` non-negative integers (letters).
    n
        Number of shuffles.
    rng
        Source of randomness.

    Returns
    -------
    np.ndarray
        ``(n, L)`` with the same dtype; row ``i`` has exactly the 2-mer counts of
        ``symbols`` and the same first and last letter.
    """
    symbols = np.asarray(symbols)
    length = symbols.shape[0]
    out = np.empty((n, length), dtype=symbols.dtype)
    if length <= 2:
        out[:] = symbols
        return out
    letters = np.unique(symbols)
    codes = np.searchsorted(letters, symbols)
    k = letters.shape[0]
    # successors of each letter, in sequence order: edges[a] = codes[i + 1] for codes[i] == a
    sources, targets = codes[:-1], codes[1:]
    order = np.argsort(sources, kind="stable")
    counts = np.bincount(sources, minlength=k)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    edges = [targets[order[bounds[a]:bounds[a + 1]]] for a in range(k)]
    first, last = int(codes[0]), int(codes[-1])
    has_edges = [a for a in range(k) if counts[a] > 0 and a != last]
    for row in range(n):
        chosen = _last_exits(edges, has_edges, last, k, rng)
        lists = []
        for a in range(k):
            edge = edges[a]
            if edge.shape[0] == 0:
                lists.append([])
                continue
            if a == last:
                lists.append(rng.permutation(edge).tolist())
                continue
            j = chosen[a]
            rest = np.concatenate([edge[:j], edge[j + 1:]])
            lists.append(rng.permutation(rest).tolist() + [int(edge[j])])
        pointers = [0] * k
        walk = [first]
        current = first
        for _ in range(length - 1):
            nxt = lists[current][pointers[current]]
            pointers[current] += 1
            walk.append(nxt)
            current = nxt
        out[row] = letters[np.asarray(walk)]
    return out


def _last_exits(edges: list[np.ndarray], vertices: list[int], last: int, k: int, rng: np.random.Generator) -> dict:
    """Random last-exit edge (an index into ``edges[a]``) per vertex, forming a tree rooted at ``last``.

    Rejection sampling as in Altschul & Erikson (1985): draw every vertex's last
    exit uniformly and retry until following last exits from every vertex
    reaches ``last`` without a cycle.
    """
    while True:
        chosen = {a: int(rng.integers(edges[a].shape[0])) for a in vertices}
        successor = {a: int(edges[a][j]) for a, j in chosen.items()}
        if all(_reaches(a, successor, last, k) for a in vertices):
            return chosen


def _reaches(start: int, successor: dict, last: int, k: int) -> bool:
    current = start
    for _ in range(k):
        if current == last:
            return True
        current = successor[current]
    return current == last


def _column_symbols(x: np.ndarray) -> np.ndarray:
    """``(L,)`` letters of a ``(4, L)`` one-hot: 0..3 for A/C/G/T, 4 for any other column (N)."""
    exact = (x.max(axis=0) == 1) & (x.sum(axis=0) == 1)
    return np.where(exact, x.argmax(axis=0), 4).astype(np.int64)


def _shuffle_one_hot(x: np.ndarray, n: int, rng: np.random.Generator, n_mode: str) -> np.ndarray:
    symbols = _column_symbols(x)
    is_n = symbols == 4
    out = np.repeat(x[None], n, axis=0)
    if n_mode == "symbol" or not is_n.any():
        shuffled = shuffle_symbols(symbols, n, rng)
        bases = shuffled < 4
        n_column = x[:, np.flatnonzero(is_n)[0]] if is_n.any() else np.zeros(4, x.dtype)
        for row in range(n):
            column = np.zeros((4, symbols.shape[0]), dtype=x.dtype)
            column[shuffled[row][bases[row]], np.flatnonzero(bases[row])] = 1
            column[:, ~bases[row]] = n_column[:, None]
            out[row] = column
        return out
    # fixed: shuffle each run of bases between N columns on its own
    edges = np.flatnonzero(np.diff(np.concatenate([[0], (~is_n).astype(np.int8), [0]])))
    for start, end in zip(edges[::2], edges[1::2]):
        shuffled = shuffle_symbols(symbols[start:end], n, rng)
        block = np.zeros((n, 4, end - start), dtype=x.dtype)
        rows, cols = np.indices(shuffled.shape)
        block[rows, shuffled, cols] = 1
        out[:, :, start:end] = block
    return out


def dinucleotide_shuffle(
    x: np.ndarray | torch.Tensor,
    n: int = 1,
    seed: int | np.random.Generator | None = None,
    n_mode: str = "fixed",
) -> np.ndarray | torch.Tensor:
    """Dinucleotide-preserving shuffles of one-hot DNA.

    Parameters
    ----------
    x
        One-hot ``(4, L)`` or ``(N, 4, L)``, numpy or torch (A, C, G, T).
    n
        Shuffles per sequence.
    seed
        ``int``, ``numpy.random.Generator`` or ``None``. The same seed gives the
        same shuffles.
    n_mode
        ``fixed`` (N columns stay in place) or ``symbol`` (N shuffled as a fifth
        letter); see the module docstring.

    Returns
    -------
    np.ndarray or torch.Tensor
        ``(n, 4, L)`` for a ``(4, L)`` input, ``(N, n, 4, L)`` for ``(N, 4, L)``
        (the layout of tangermeme's ``dinucleotide_shuffle``), same type, dtype
        and device as ``x``.
    """
    if n_mode not in N_MODES:
        raise ValueError(f"unknown n_mode {n_mode!r}; choose one of {', '.join(N_MODES)}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    is_tensor = isinstance(x, torch.Tensor)
    array = x.detach().cpu().numpy() if is_tensor else np.asarray(x)
    if array.ndim not in (2, 3) or array.shape[-2] != 4:
        raise ValueError(f"expected one-hot (4, L) or (N, 4, L), got shape {array.shape}")
    rng = as_generator(seed)
    if array.ndim == 2:
        out = _shuffle_one_hot(array, n, rng, n_mode)
    else:
        out = np.stack([_shuffle_one_hot(row, n, rng, n_mode) for row in array]) if array.shape[0] else \
            np.zeros((0, n, 4, array.shape[-1]), dtype=array.dtype)
    if is_tensor:
        return torch.from_numpy(out).to(device=x.device, dtype=x.dtype)
    return out


def dinucleotide_shuffle_string(sequence: str, n: int = 1, seed: int | np.random.Generator | None = None) -> list[str]:
    """``n`` shuffles of a string that keep the count of every pair of adjacent characters.

    Every character (either case, any IUPAC code) is its own letter.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    raw = np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)
    shuffled = shuffle_symbols(raw, n, as_generator(seed))
    return [row.astype(np.uint8).tobytes().decode("ascii") for row in shuffled]


def dinucleotide_counts(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """Counts of the 25 dinucleotides (A, C, G, T, N)² of a one-hot ``(4, L)``, as a ``(5, 5)`` array."""
    array = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    symbols = _column_symbols(array)
    counts = np.zeros((5, 5), dtype=np.int64)
    np.add.at(counts, (symbols[:-1], symbols[1:]), 1)
    return counts
