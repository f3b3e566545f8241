"""One false discovery rate over every kept motif's instance calls: adaptive target-decoy peeling.

Each kept motif ``m`` has run instances (the run's test windows that match it,
:mod:`seqsal.motifs.instances`) and null instances (the shuffled null's), each
with its ranking statistic ``u`` (smaller is stronger), and ``s_m = B / B0``,
the run's valid bases over the null's. Every motif's instances, run and null
together, start in the candidate set; one at a time, an instance is peeled off
the large-``u`` end of one motif, and after each peel the false discovery rate
of the run instances still in the set is estimated as::

    FDR = (max_m s_m + sum_m s_m k0_m) / sum_m k_m

``k_m``, ``k0_m`` the motif's run and null instances left: the target-decoy
estimate (Elias & Gygi 2007) over all motifs at once, with one ``+ 1`` of
knockoff+ (Barber & Candès 2015) for the whole family instead of one per motif.
A run instance's q-value is the smallest estimate while it was in the set; the
calls at FDR ``alpha`` are the instances with ``q <= alpha``, the set where the
estimate first falls to ``alpha``.

Which motif gives up its weakest instance next is chosen only from what the
peeling may look at (AdaPT, Lei & Fithian 2018; adaptive knockoffs, Ren &
Candès 2023): whether each instance already peeled was the run's or the null's,
and the ``u`` of those left, not their side. That keeps the estimate honest (a
choice made with the sides of the instances left would keep the null draws that
fell late by chance, and the estimate would count too few: measured, 2-3x the
nominal FDR). The motif peeled next is the one whose weakest instance looks most
like noise (:func:`noise_scores`), from two sides of the evidence:

* **behind** (what was peeled): the null's share of the motif's last
  :data:`PEEL_WINDOW` peeled instances, times ``1 + s_m`` (about 1 on noise, where
  the run has ``s_m`` instances for each of the null's; near 0 where the peeled
  instances are all the run's: a motif whose matches are nearly all in the run);
* **ahead** (the ``u`` of the instances left, sides unseen): Storey's q-value
  with ``pi0 = 1`` of the motif's pooled instances against ``u = p * p_match``
  with both uniform (:func:`enrichment_ranks`): about 1 on noise, small where the
  instances pile up at small ``u``.

Their geometric mean orders the motifs. Behind alone learns that a motif holds
sites only after peeling some of them; ahead alone misreads a motif whose sites
fill its whole range of ``u`` (its matches all in the run, none in the null).

A window that matches several kept motifs (near copies of one core are kept
apart when their PWMs differ enough) is a candidate of one of them only, the
one it matches best (:func:`one_motif_per_window`): counted once per motif, one
noise window would be several false calls against the one ``+ 1``. Instances of
one motif with equal ``u`` leave together.

With one motif the peeling order is its ``u`` order, and the q-values are the
per-motif step-up's. Against one step-up per motif (each with its own ``+ 1``),
measured on simulated motifs (``tests/test_motif_calls.py``) and on the
calibration zoo (``benchmarks/RESULTS.md``): the FDR over all calls stays at the
nominal level where the per-motif union reaches 2x (ten motifs of eight sites,
FDR 0.2: 0.19 against 0.44), and motifs of a few dozen sites each are called
where each alone would not pass its own ``+ 1``.
"""
from __future__ import annotations

import heapq

import numpy as np

PEEL_WINDOW = 50
"""The peeled instances of a motif that say how noisy its next one is (:func:`noise_scores`; 20, 50, 100 and 200
were measured on simulated motifs, 50 and 100 on the zoo: 50 called more at the same FDR)."""


def product_cdf(u: np.ndarray, top: float) -> np.ndarray:
    """``P(U V top <= u)`` for independent ``U, V ~ U(0, 1)``: ``x (1 - ln x)``, ``x = u / top`` clipped to (0, 1]."""
    x = np.clip(np.asarray(u, np.float64) / max(float(top), 1e-300), 1e-300, 1.0)
    return x * (1.0 - np.log(x))


def enrichment_ranks(u: np.ndarray, top: float) -> np.ndarray:
    """How far a motif's pooled instances crowd each ``u``: Storey's q-value with ``pi0 = 1`` (Storey 2002).

    Parameters
    ----------
    u
        ``(n,)`` the ranking statistics of the motif's run and null instances together (their sides unseen).
    top
        The largest ``p_match`` a candidate can have: the share of windows that reach the motif's match
        threshold, the run's and the null's together (under noise ``u = p * p_match``, ``p ~ U(0, 1)``,
        ``p_match ~ U(0, top)``: :func:`product_cdf`).

    Returns
    -------
    np.ndarray
        ``(n,)`` ``F(u) n / #{u' <= u}``, made non-decreasing in ``u`` (the smallest over ``u' >= u``): about 1
        on noise, small where instances pile up. ``F`` need not be the noise's exact law: this only orders.
    """
    u = np.asarray(u, np.float64)
    if not u.shape[0]:
        return np.zeros(0)
    order = np.argsort(u, kind="stable")
    ordered = u[order]
    rank = product_cdf(ordered, top) * ordered.shape[0] / np.searchsorted(ordered, ordered, side="right")
    out = np.empty_like(rank)
    out[order] = np.minimum.accumulate(rank[::-1])[::-1]
    return out


def noise_scores(is_null: np.ndarray, ahead: np.ndarray, scale: float, window: int = PEEL_WINDOW) -> np.ndarray:
    """How noisy a motif's next instance to peel looks, before each of its peels (module docstring).

    Parameters
    ----------
    is_null
        ``(n,)`` the motif's instances in peeling order (largest ``u`` first): True for the null's.
    ahead
        ``(n,)`` :func:`enrichment_ranks` of the same instances, in the same order.
    scale
        ``s = B / B0``.
    window
        The peeled instances looked back at.

    Returns
    -------
    np.ndarray
        ``(n,)`` entry ``i`` uses only ``is_null[:i]`` (the peeled sides) and ``ahead[i]``: the geometric mean of
        ``(1 + s) (nulls among the last window peeled + 0.5) / (peeled in the window + 1)`` and ``ahead[i]``.
    """
    seen = np.concatenate([[0], np.cumsum(np.asarray(is_null, np.int64))])
    i = np.arange(np.asarray(is_null).shape[0])
    low = np.maximum(i - int(window), 0)
    behind = (1.0 + float(scale)) * (seen[i] - seen[low] + 0.5) / (i - low + 1.0)
    return np.sqrt(behind * np.asarray(ahead, np.float64))


def one_motif_per_window(windows: list[np.ndarray], u: list[np.ndarray]) -> list[np.ndarray]:
    """Each window a candidate of one motif only: of the motifs it matches, the one where its ``u`` is smallest.

    Kept motifs can be near copies of one another (a core found twice) and match the same windows; counted once
    per motif, one noise window would be several false calls against one ``+ 1`` (breakfdr: ten copies sharing
    their noise, 0.12 at FDR 0.05). The rule sees ``u`` only, and the same rule serves the run's and the null's
    windows.

    Parameters
    ----------
    windows, u
        Per motif, ``(k_m,)`` its candidate windows (indices into one set of windows) and their ``u``.

    Returns
    -------
    list of np.ndarray
        Per motif, ``(k_m,)`` bool: the candidates it keeps (on equal ``u``, the earlier motif keeps the window).
    """
    ids = np.concatenate([np.asarray(w, np.int64) for w in windows] + [np.zeros(0, np.int64)])
    values = np.concatenate([np.asarray(x, np.float64) for x in u] + [np.zeros(0)])
    motif = np.concatenate([np.full(np.asarray(w).shape[0], m) for m, w in enumerate(windows)] + [np.zeros(0, int)])
    order = np.lexsort((motif, values))
    _, first = np.unique(ids[order], return_index=True)
    keep = np.zeros(ids.shape[0], bool)
    keep[order[first]] = True
    return np.split(keep, np.cumsum([np.asarray(w).shape[0] for w in windows])[:-1]) if windows else []


def adaptive_qvalues(groups: list[tuple[np.ndarray, np.ndarray, float, float]]) -> list[np.ndarray]:
    """Every kept motif's run instances' q-values, from one peeling of all motifs (module docstring).

    Instances of one motif with equal ``u`` leave together (they count together, as one cut of a step-up does). The
    groups' instances must be distinct windows (:func:`one_motif_per_window`): a window shared by two motifs would
    count twice against one ``+ 1``.

    Parameters
    ----------
    groups
        Per motif ``(run_u, null_u, scale, top)``: the ranking statistics of its run and null instances
        (:func:`seqsal.motifs.instances.window_statistics`, one per instance), ``B / B0`` (> 0) and the largest
        ``p_match`` of a candidate (:func:`enrichment_ranks`).

    Returns
    -------
    list of np.ndarray
        Per motif, ``(k_m,)`` in the order given: the smallest estimated FDR while the instance was in the set,
        at most 1. The calls at FDR ``alpha`` are exactly the instances with ``q <= alpha``. Where two motifs' next
        instances look equally noisy, the earlier motif is peeled first.
    """
    sides, scores, orders, blocks = [], [], [], []
    run_left, null_left = 0, 0.0
    for run_u, null_u, scale, top in groups:
        u = np.concatenate([np.asarray(run_u, np.float64), np.asarray(null_u, np.float64)])
        order = np.argsort(-u, kind="stable")  # largest u first
        is_null = order >= np.asarray(run_u).shape[0]
        sides.append(is_null)
        scores.append(noise_scores(is_null, enrichment_ranks(u, top)[order], scale).tolist())
        orders.append(order)
        blocks.append(np.append(np.flatnonzero(np.diff(u[order]) != 0) + 1, u.shape[0]))  # end of each tie block
        run_left += np.asarray(run_u).shape[0]
        null_left += float(scale) * np.asarray(null_u).shape[0]
    plus = max((float(scale) for run_u, null_u, scale, _ in groups if len(run_u) + len(null_u)), default=1.0)
    # plain lists in the loop (one peel is a few list reads, not numpy calls)
    nulls_before = [np.concatenate([[0], np.cumsum(side)]).tolist() for side in sides]
    ends = [block.tolist() for block in blocks]
    scales = [float(scale) for _, _, scale, _ in groups]
    block_step = [[0] * len(end) for end in ends]  # the estimates made before each block left (0: never left)
    estimates = [(plus + null_left) / max(run_left, 1)]
    heap = [(-score[0], m) for m, score in enumerate(scores) if score]
    heapq.heapify(heap)
    done = [0] * len(groups)
    while heap and run_left > 0:
        m = heapq.heappop(heap)[1]
        b = done[m]
        start, stop = (ends[m][b - 1] if b else 0), ends[m][b]
        done[m] = b + 1
        nulls = nulls_before[m][stop] - nulls_before[m][start]
        null_left -= scales[m] * nulls
        run_left -= (stop - start) - nulls
        block_step[m][b] = len(estimates)
        estimates.append((plus + max(null_left, 0.0)) / run_left if run_left else np.inf)
        if stop < len(scores[m]):
            heapq.heappush(heap, (-scores[m][stop], m))
    peeled_at = []
    for m, (run_u, *_) in enumerate(groups):
        step = np.zeros(np.asarray(run_u).shape[0], np.int64)
        of_block = np.searchsorted(blocks[m], np.arange(sides[m].shape[0]), side="right")  # each position's block
        at = np.asarray(block_step[m], np.int64)[of_block] if len(block_step[m]) else np.zeros(0, np.int64)
        step[orders[m][~sides[m]]] = at[~sides[m]]
        peeled_at.append(step)
    best = np.minimum.accumulate(np.asarray(estimates))  # best[t]: the smallest estimate over the first t + 1 sets
    last = best.shape[0] - 1
    return [np.minimum(np.where(step > 0, best[np.maximum(step - 1, 0)], best[last]), 1.0) for step in peeled_at]
