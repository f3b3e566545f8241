"""Helpers on one motif's ``(4, W)`` matrix (rows ``A, C, G, T``): consensus, information content, reverse complement."""
from __future__ import annotations

import numpy as np


def consensus(pwm: np.ndarray, min_probability: float = 0.5) -> str:
    """Consensus of a ``(4, W)`` PWM: the most likely base, lowercase under ``min_probability``.

    Parameters
    ----------
    pwm
        ``(4, W)`` letter probabilities (rows A, C, G, T).
    min_probability
        A column whose most likely base is less probable than this is written in lowercase.

    Returns
    -------
    str
        ``W`` letters, e.g. ``"TGAcTCA"``.
    """
    pwm = np.asarray(pwm)
    letters = np.array(list("ACGT"))[pwm.argmax(axis=0)]
    strong = pwm.max(axis=0) >= min_probability
    return "".join(letter if keep else letter.lower() for letter, keep in zip(letters, strong))


def information_content(pwm: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
    """Per-letter information content ``(4, W)``: ``p * (log2(p / b))`` summed per column, split by ``p``.

    This is the letter height of a PWM logo (Schneider & Stephens 1990, *Nucleic
    Acids Res.* 18:6097): the column total is its relative entropy to the
    background in bits (at most 2 for DNA on a uniform background), clipped at 0.

    Parameters
    ----------
    pwm
        ``(4, W)`` letter probabilities (rows A, C, G, T).
    background
        ``(4,)`` background letter frequencies; uniform (0.25 each) when None.

    Returns
    -------
    np.ndarray
        ``(4, W)`` float64 letter heights in bits.
    """
    pwm = np.asarray(pwm, dtype=np.float64)
    background = np.full(4, 0.25) if background is None else np.asarray(background, dtype=np.float64)
    safe = np.clip(pwm, 1e-12, None)
    bits = (safe * np.log2(safe / background[:, None])).sum(axis=0)
    return pwm * np.clip(bits, 0, None)[None, :]


def reverse_complement_matrix(matrix: np.ndarray) -> np.ndarray:
    """Reverse complement of a ``(4, W)`` matrix with rows ``A, C, G, T``.

    Rows are reversed (A<->T, C<->G) and so are columns; the result is a
    contiguous ``(4, W)`` array of the input's dtype.
    """
    return np.ascontiguousarray(np.asarray(matrix)[::-1, ::-1])
