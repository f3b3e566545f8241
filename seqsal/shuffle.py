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
    return shuffle_many([symbols], n, [rng])[0]


def shuffle_many(sequences: list[np.ndarray], n: int, rngs: list[np.random.Generator]) -> list[np.ndarray]:
    """``n`` dinucleotide shuffles of each of several integer sequences, drawn and walked together.

    Parameters
    ----------
    sequences
        ``(L_j,)`` non-negative integers each (lengths may differ).
    n
        Shuffles per sequence.
    rngs
        One generator per sequence (the same generator may be repeated). With
        distinct generators, sequence ``j``'s shuffles depend only on
        ``rngs[j]``, not on which other sequences are shuffled with it.

    Returns
    -------
    list of np.ndarray
        ``(n, L_j)`` per sequence, with its dtype; exact 2-mer counts, same first
        and last letter.
    """
    out = [np.repeat(np.asarray(s)[None], n, axis=0) for s in sequences]
    by_length: dict[int, list[int]] = {}
    for j, s in enumerate(sequences):
        if s.shape[0] > 2:
            by_length.setdefault(int(s.shape[0]), []).append(j)
    for members in by_length.values():
        alphabets, codes = [], []
        for j in members:
            letters, inverse = np.unique(sequences[j], return_inverse=True)
            alphabets.append(letters)
            codes.append(inverse.reshape(-1))
        sizes = np.array([a.shape[0] for a in alphabets])
        targets, starts = _edge_orders(np.stack(codes), sizes, n, [rngs[j] for j in members])
        first = np.repeat(np.stack(codes)[:, 0], n)
        walks = _walk(targets, starts, first, int(sizes.max())).reshape(len(members), n, -1)
        for j, letters, walk in zip(members, alphabets, walks):
            out[j][:] = letters[walk]
    return out


def _edge_orders(codes: np.ndarray, sizes: np.ndarray, n: int, rngs: list[np.random.Generator]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Random edge orders of ``n`` Altschul–Erikson shuffles of each of ``S`` sequences of one length.

    Parameters
    ----------
    codes
        ``(S, L)`` letters, sequence ``s`` using ``0..sizes[s]-1``; ``L > 2``.
    sizes
        ``(S,)`` alphabet size of each sequence.
    n
        Shuffles per sequence.
    rngs
        ``S`` generators; sequence ``s`` draws ``sizes[s]`` uniforms per shuffle per
        rejection round (last exits), then ``L - 1`` per shuffle (edge order).

    Returns
    -------
    targets, starts
        ``targets (S * n, L - 1)`` (shuffle ``i`` of sequence ``s`` in row
        ``s * n + i``): every letter's outgoing edges (their target letters),
        grouped by source letter in ascending order, each group in the order the
        walk takes them — uniformly shuffled, with a random last exit at the end
        (the last exits forming a tree into the last letter).
        ``starts (S * n, k)``: where each letter's group begins, ``k = max(sizes)``.
    """
    s_count, length = codes.shape
    k = int(sizes.max())
    sources, ends = codes[:, :-1], codes[:, 1:]
    order = np.argsort(sources, axis=1, kind="stable")
    group = np.take_along_axis(sources, order, axis=1)
    grouped = np.take_along_axis(ends, order, axis=1)  # (S, E)
    counts = np.bincount((sources + k * np.arange(s_count)[:, None]).ravel(),
                         minlength=s_count * k).reshape(s_count, k)
    starts = np.cumsum(counts, axis=1) - counts
    exits = _last_exits(grouped, starts, counts, codes[:, -1], n, sizes, rngs)  # (S * n, k)
    keys = np.concatenate([rng.random((n, length - 1)) for rng in rngs])  # a uniform order inside each group ...
    keys += 2.0 * np.repeat(group, n, axis=0)
    rows, letters = np.nonzero(exits >= 0)
    keys[rows, exits[rows, letters]] = 2.0 * letters + 1.5  # ... with the last exit at the end of its group
    targets = np.take_along_axis(np.repeat(grouped, n, axis=0), np.argsort(keys, axis=1), axis=1)
    return targets, np.repeat(starts, n, axis=0)


def _last_exits(grouped: np.ndarray, starts: np.ndarray, counts: np.ndarray, last: np.ndarray, n: int,
                sizes: np.ndarray, rngs: list[np.random.Generator]) -> np.ndarray:
    """``(S * n, k)`` random last-exit edge per letter (an index into the row of ``grouped``; ``-1`` for the
    last letter and letters without edges), forming a tree rooted at the last letter.

    Rejection sampling as in Altschul & Erikson (1985), for all shuffles at once:
    draw every letter's last exit uniformly among its edges and redraw the
    shuffles in which following last exits from some letter does not reach the
    last letter (a cycle).

    Parameters
    ----------
    grouped
        ``(S, E)`` edge targets grouped by source letter.
    starts, counts
        ``(S, k)`` start and size of each letter's group.
    last
        ``(S,)`` last letter of each sequence.
    n, sizes, rngs
        Shuffles per sequence, ``(S,)`` alphabet sizes, one generator per sequence.
    """
    s_count, k = counts.shape
    edges = grouped.shape[1]
    has_exit = (counts > 0) & (np.arange(k) != last[:, None])  # (S, k)
    chosen = np.full((s_count * n, k), -1, dtype=np.int64)
    pending = np.arange(s_count * n)
    while pending.size:
        sequence = pending // n
        uniforms = np.zeros((pending.size, k))
        for s in np.unique(sequence):  # each sequence draws from its own generator
            rows = np.flatnonzero(sequence == s)
            uniforms[rows, :sizes[s]] = rngs[s].random((rows.size, int(sizes[s])))
        offset = np.minimum((uniforms * counts[sequence]).astype(np.int64), np.maximum(counts[sequence] - 1, 0))
        picks = starts[sequence] + offset  # (P, k) index into the row of grouped
        ok = has_exit[sequence]
        successor = np.where(ok, grouped[sequence[:, None], np.minimum(picks, edges - 1)], last[sequence, None])
        flat = (successor + k * np.arange(pending.size)[:, None]).ravel()
        reached = np.arange(pending.size * k)
        for _ in range(k):
            reached = flat[reached]
        tree = (reached.reshape(-1, k) - k * np.arange(pending.size)[:, None] == last[sequence, None]).all(axis=1)
        chosen[pending[tree]] = np.where(ok[tree], picks[tree], -1)
        pending = pending[~tree]
    return chosen


def _walk(targets: np.ndarray, starts: np.ndarray, first: np.ndarray, k: int) -> np.ndarray:
    """Eulerian walks through given edge orders, all walks advanced together.

    Parameters
    ----------
    targets
        ``(W, E)`` target letter of each edge, grouped by source letter (see :func:`_edge_orders`).
    starts
        ``(W, k)`` start of each letter's group in its row.
    first
        ``(W,)`` first letter of each walk.
    k
        Alphabet size.

    Returns
    -------
    np.ndarray
        ``(W, E + 1)`` letters of each walk.
    """
    w, e = targets.shape
    row = np.arange(w)[:, None]
    # state = row * k + letter; successor table and next-unused-edge pointers in those flat terms
    successor = (targets + row * k).ravel()
    pointer = (starts + row * e).ravel().copy()
    state = first + row[:, 0] * k
    walk = np.empty((e + 1, w), dtype=np.int64)
    walk[0] = state
    for step in range(1, e + 1):
        edge = pointer[state]
        pointer[state] = edge + 1
        state = successor[edge]
        walk[step] = state
    return walk.T - row * k


def _column_symbols(x: np.ndarray) -> np.ndarray:
    """``(..., L)`` letters of a one-hot ``(..., 4, L)``: 0..3 for A/C/G/T, 4 for any other column (N)."""
    exact = (x.max(axis=-2) == 1) & (x.sum(axis=-2) == 1)
    return np.where(exact, x.argmax(axis=-2), 4).astype(np.int64)


def _segments(symbols: np.ndarray, n_mode: str) -> list[tuple[int, int]]:
    """``(start, end)`` stretches of one ``(L,)`` sequence shuffled on their own: the whole sequence, or in
    ``fixed`` mode every run of bases between N columns."""
    is_n = symbols == 4
    if n_mode == "symbol" or not is_n.any():
        return [(0, symbols.shape[0])]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], (~is_n).astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _shuffle_one_hot(x: np.ndarray, n: int, rngs: list[np.random.Generator], n_mode: str) -> np.ndarray:
    """``(N, n, 4, L)`` shuffles of one-hot ``(N, 4, L)``; row ``i`` draws from ``rngs[i]``."""
    symbols = _column_symbols(x)  # (N, L)
    jobs = [(i, start, end) for i in range(x.shape[0]) for start, end in _segments(symbols[i], n_mode)]
    shuffled = shuffle_many([symbols[i, start:end] for i, start, end in jobs], n, [rngs[i] for i, _, _ in jobs])
    codes = np.repeat(symbols[:, None], n, axis=1)  # (N, n, L)
    for (i, start, end), block in zip(jobs, shuffled):
        codes[i, :, start:end] = block
    out = (codes[:, :, None, :] == np.arange(4)[:, None]).astype(x.dtype)  # (N, n, 4, L)
    is_n = codes[:, :, None, :] == 4
    if not is_n.any():
        return out
    if n_mode == "fixed":  # N columns stay where they are, with their values
        return np.where(is_n, x[:, None], out)
    first_n = np.argmax(symbols == 4, axis=1)  # N columns repeat the row's first N column
    return np.where(is_n, x[np.arange(x.shape[0]), :, first_n][:, None, :, None], out)


def dinucleotide_shuffle_ragged(xs: list[np.ndarray], rngs: list[np.random.Generator],
                                n_mode: str = "fixed") -> list[np.ndarray]:
    """One dinucleotide shuffle of each of several one-hot sequences of any lengths, walked together.

    Parameters
    ----------
    xs
        One-hot ``(4, L_i)`` arrays.
    rngs
        One generator per sequence: sequence ``i``'s shuffle depends only on ``rngs[i]``, so it equals
        ``dinucleotide_shuffle(xs[i], 1, rngs[i], n_mode)[0]`` whatever else is shuffled with it.

    Returns
    -------
    list of np.ndarray
        ``(4, L_i)`` each, with ``xs[i]``'s dtype.
    """
    if n_mode not in N_MODES:
        raise ValueError(f"unknown n_mode {n_mode!r}; choose one of {', '.join(N_MODES)}")
    symbols = [_column_symbols(np.asarray(x)) for x in xs]
    segments = [_segments(sym, n_mode) for sym in symbols]
    codes = [sym.copy() for sym in symbols]
    # sequences in one piece are walked together (each draws only from its own generator); a sequence cut by N
    # into pieces is shuffled on its own, as its pieces share a generator and must draw in the order they do alone
    whole = [i for i, pieces in enumerate(segments) if len(pieces) == 1]
    blocks = shuffle_many([symbols[i][slice(*segments[i][0])] for i in whole], 1, [rngs[i] for i in whole])
    for i, block in zip(whole, blocks):
        codes[i][slice(*segments[i][0])] = block[0]
    for i, pieces in enumerate(segments):
        if len(pieces) > 1:
            blocks = shuffle_many([symbols[i][start:end] for start, end in pieces], 1, [rngs[i]] * len(pieces))
            for (start, end), block in zip(pieces, blocks):
                codes[i][start:end] = block[0]
    out = []
    for x, sym, code in zip(xs, symbols, codes):
        x = np.asarray(x)
        one_hot = (code[None, :] == np.arange(4)[:, None]).astype(x.dtype)
        is_n = code == 4
        if is_n.any():
            fill = x if n_mode == "fixed" else x[:, [int(np.argmax(sym == 4))]]
            one_hot = np.where(is_n[None, :], fill, one_hot)
        out.append(one_hot)
    return out


def dinucleotide_shuffle(
    x: np.ndarray | torch.Tensor,
    n: int = 1,
    seed: int | np.random.Generator | None | list = None,
    n_mode: str = "fixed",
) -> np.ndarray | torch.Tensor:
    """Dinucleotide-preserving shuffles of one-hot DNA (Altschul & Erikson 1985).

    The uniformly random Eulerian walk of the module docstring, as MEME's ``fasta-shuffle-letters -kmer 2`` and
    tangermeme's ``dinucleotide_shuffle`` draw it: every 2-mer count of each sequence is kept exactly.

    Parameters
    ----------
    x
        One-hot ``(4, L)`` or ``(N, 4, L)``, numpy or torch (A, C, G, T).
    n
        Shuffles per sequence.
    seed
        ``int``, ``numpy.random.Generator`` or ``None``. The same seed gives the
        same shuffles. For ``(N, 4, L)``, also a list of ``N`` of these: row ``i``
        then draws only from its own, so its shuffles do not depend on the other
        rows. All rows are shuffled together (one vectorised walk).
    n_mode
        ``fixed`` (N columns stay in place) or ``symbol`` (N shuffled as a fifth
        letter); see the module docstring.

    Returns
    -------
    np.ndarray or torch.Tensor
        ``(n, 4, L)`` for a ``(4, L)`` input, ``(N, n, 4, L)`` for ``(N, 4, L)``
        (the layout of tangermeme's ``dinucleotide_shuffle``), same type, dtype
        and device as ``x``.

    Raises
    ------
    ValueError
        For an unknown ``n_mode``, ``n < 1``, ``x`` not of shape ``(4, L)`` or ``(N, 4, L)``, or a list of seeds
        whose length is not ``N``.
    """
    if n_mode not in N_MODES:
        raise ValueError(f"unknown n_mode {n_mode!r}; choose one of {', '.join(N_MODES)}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    is_tensor = isinstance(x, torch.Tensor)
    array = x.detach().cpu().numpy() if is_tensor else np.asarray(x)
    if array.ndim not in (2, 3) or array.shape[-2] != 4:
        raise ValueError(f"expected one-hot (4, L) or (N, 4, L), got shape {array.shape}")
    batch = array if array.ndim == 3 else array[None]
    if isinstance(seed, (list, tuple)):
        if len(seed) != batch.shape[0]:
            raise ValueError(f"got {len(seed)} seeds for {batch.shape[0]} sequence(s)")
        rngs = [as_generator(s) for s in seed]
    else:
        rngs = [as_generator(seed)] * batch.shape[0]
    out = _shuffle_one_hot(batch, n, rngs, n_mode)
    if array.ndim == 2:
        out = out[0]
    if is_tensor:
        return torch.from_numpy(out).to(device=x.device, dtype=x.dtype)
    return out


def dinucleotide_shuffle_string(sequence: str, n: int = 1, seed: int | np.random.Generator | None = None) -> list[str]:
    """``n`` shuffles of a string that keep the count of every pair of adjacent characters.

    Every character (either case, any IUPAC code) is its own letter. The shuffle is that of
    :func:`dinucleotide_shuffle` (Altschul & Erikson 1985; MEME's ``fasta-shuffle-letters -kmer 2``): the first
    and last characters stay in place.

    Parameters
    ----------
    sequence
        An ASCII string; any character (not only IUPAC codes) is a letter, and case is kept.
    n
        Shuffles to draw.
    seed
        ``int``, ``numpy.random.Generator`` or ``None`` (fresh entropy). The same seed gives the same shuffles.

    Returns
    -------
    list of str
        ``n`` strings of the length of ``sequence``.

    Raises
    ------
    ValueError
        For ``n < 1``; a ``sequence`` that is not ASCII (:class:`UnicodeEncodeError`, a ``ValueError``).
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
