"""A palindrome's seqlets re-read on the strand its PWM fits (:func:`refine_strands`), a step of discovery
(:mod:`seqsal.motifs.discover`)."""
from __future__ import annotations

import numpy as np


def mirror_window(one_hot: np.ndarray, shift: int) -> np.ndarray:
    """The reverse complement of ``(n, 4, W)`` windows, moved by ``shift`` columns.

    Column ``j`` of the result holds the complement of column ``W - 1 - j - shift`` of the input (zeros where that
    falls outside ``[0, W)``): with ``shift = W - lo - hi``, the stretch ``[lo, hi)`` maps onto itself, so a
    palindrome centred on that stretch stays in place. A window of forward start ``a`` read on one strand becomes
    the window of forward start ``a - shift`` (it was forward) or ``a + shift`` (it was reverse) on the other.

    Parameters
    ----------
    one_hot
        ``(n, 4, W)`` windows, rows ``A, C, G, T`` (one-hot or any per-base values, e.g. contributions).
    shift
        Columns to move the reverse complement by, ``|shift| <= W``.

    Returns
    -------
    np.ndarray
        ``(n, 4, W)``, the input's dtype.
    """
    flipped = np.asarray(one_hot)[:, ::-1, ::-1]
    out = np.zeros_like(flipped)
    width = flipped.shape[2]
    if shift >= 0:
        out[:, :, :width - shift] = flipped[:, :, shift:]
    else:
        out[:, :, -shift:] = flipped[:, :, :width + shift]
    return out


def symmetric_composition(one_hot: np.ndarray) -> np.ndarray:
    """The strand-symmetric base composition ``(4,)`` (A = T, C = G; one pseudocount per base) of ``(n, 4, L)``
    one-hot windows: the background a motif's columns are read against."""
    composition = np.asarray(one_hot, np.float64).sum(axis=(0, 2)) + 1.0
    return (composition + composition[::-1]) / (2 * composition.sum())


def refine_strands(one_hot: np.ndarray, lo: int, hi: int, pseudocount: float = 0.5,
                   max_iterations: int = 10) -> tuple[np.ndarray, int]:
    """Re-decide the strand of a motif's aligned seqlets by their fit to its PWM (resolves palindromes).

    Seqlets are aligned by the cosine of their hypothetical contributions on either strand
    (:func:`seqsal.motifs.align.best_alignment`); a (near-)palindrome's sites match equally well on both, so its
    seqlets land on either strand at random and its PWM averages a column with its complement (AP-1's
    ``TGAsTCA``: centre C 0.37 / G 0.41 where FOS::JUN MA0099.3 has G 0.69 / C 0.18). This is the strand step
    of MEME's fit of a PWM to sites read on either strand (Bailey & Elkan 1994, *Proc. ISMB* 2:28), done as hard
    (Viterbi) expectation-maximisation on the sites found, their positions fixed:

    1. PWM ``P`` of columns ``[lo, hi)`` from the windows in their current orientation (``pseudocount`` per
       base); log-odds ``log(P / b)`` against the strand-symmetric base composition ``b`` of the windows;
    2. the mirror ``shift`` (once, from the first PWM): the one, with the flipped ``[lo, hi)`` inside the window,
       at which the seqlets' mean log-odds score read mirrored (:func:`mirror_window`) is highest, i.e. the
       palindrome's axis. When that mean is not above 0 (a site read on the other strand fits the motif no better
       than background: not a palindrome), no seqlet changes: a flip could only gain on the seqlets that fit
       neither strand;
    3. each seqlet takes the orientation (as it is, or mirrored) whose ``[lo, hi)`` scores higher, and changes
       only when the other scores strictly higher;
    4. repeat 1 and 3 until no seqlet changes (at most ``max_iterations`` rounds). As in k-means, each round
       raises the sites' summed log-likelihood (up to the pseudocounts), so it settles in a few rounds.

    Parameters
    ----------
    one_hot
        ``(n, 4, W)`` one-hot windows of the motif's seqlets, aligned (each in its strand's orientation).
    lo, hi
        The motif's columns in the window (``0 <= lo < hi <= W``), e.g. :func:`~seqsal.motifs.align.trim_bounds`.
    pseudocount
        Added to each base's count of a column.
    max_iterations
        Most rounds of steps 1 and 3 (0: no seqlet changes).

    Returns
    -------
    flip, shift
        ``(n,)`` bool: the seqlets to read on the other strand, and the mirror ``shift``: a flipped seqlet's window
        is ``mirror_window(window, shift)`` (forward start moved by ``-shift`` or ``+shift``, see there).
    """
    one_hot = np.asarray(one_hot, dtype=np.float64)
    n, _, width = one_hot.shape
    background = symmetric_composition(one_hot)

    def log_odds(windows: np.ndarray) -> np.ndarray:
        counts = windows[:, :, lo:hi].sum(axis=0)
        pwm = (counts + pseudocount) / (counts.sum(axis=0, keepdims=True) + 4 * pseudocount)
        return np.log(pwm / background[:, None])

    scores = log_odds(one_hot)
    mean = one_hot.mean(axis=0, keepdims=True)
    shifts = np.arange(-lo, width - hi + 1)
    fit = [float((mirror_window(mean, int(s))[0, :, lo:hi] * scores).sum()) for s in shifts]
    shift = int(shifts[int(np.argmax(fit))])
    flip = np.zeros(n, dtype=bool)
    if max(fit) <= 0:  # mirrored, the motif's own seqlets fit it no better than background: not a palindrome
        return flip, shift
    mirrored = mirror_window(one_hot, shift)
    for _ in range(max_iterations):
        current = np.where(flip[:, None, None], mirrored[:, :, lo:hi], one_hot[:, :, lo:hi])
        other = np.where(flip[:, None, None], one_hot[:, :, lo:hi], mirrored[:, :, lo:hi])
        change = (other * scores).sum(axis=(1, 2)) > (current * scores).sum(axis=(1, 2)) + 1e-9
        if not change.any():
            break
        flip ^= change
        scores = log_odds(np.where(flip[:, None, None], mirrored, one_hot))
    return flip, shift
