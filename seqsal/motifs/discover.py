"""Motif discovery: seqlets -> neighbour graph -> seed clusters -> templates -> aligned, trimmed motifs.

The steps follow tfmodisco(-lite) (Shrikumar et al. 2018, arXiv:1811.00416):
seqlets are compared by the aligned cosine of their hypothetical contributions
(:func:`seqsal.motifs.align.best_alignment`), clustered, and each cluster's
aligned seqlets are averaged into a contribution weight matrix (CWM) and a
letter-probability matrix (PWM). Seeds come from a mutual nearest-neighbour
graph (:func:`mutual_neighbours`) clustered greedily by degree
(:func:`degree_clusters`) instead of tfmodisco's Leiden clustering; see
:class:`DiscoveryOptions` for every step.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .align import best_alignment, best_core, trim_bounds
from .matrices import consensus, reverse_complement_matrix
from .meme import Motif
from .seqlets import extract_windows
from .strands import refine_strands, symmetric_composition

log = logging.getLogger("seqsal")

# ---------------------------------------------------------------------------
# The neighbour graph of seqlets and its greedy clustering
# ---------------------------------------------------------------------------


def mutual_neighbours(similarity: np.ndarray, k: int) -> np.ndarray:
    """Mutual ``k``-nearest-neighbour graph ``(n, n)`` bool of a symmetric similarity matrix (no self-edges).

    ``i`` and ``j`` are joined when each is among the other's ``k`` most
    similar items. A seqlet of a weak motif is moderately similar to many
    seqlets of strong motifs, but its own kind are its nearest neighbours and it
    is theirs; a hub (a strong motif's seqlet, similar to everything) is not
    among the nearest neighbours of most of its look-alikes, so it cannot
    absorb them into its cluster as a fixed similarity threshold does.

    Parameters
    ----------
    similarity
        ``(n, n)`` symmetric similarity (e.g. aligned cosine) of ``n`` items.
    k
        Neighbours per item; capped at ``n - 1``.

    Returns
    -------
    np.ndarray
        ``(n, n)`` symmetric bool adjacency, all False when ``n < 2``.
    """
    similarity = np.asarray(similarity, dtype=np.float32)
    n = similarity.shape[0]
    k = min(k, n - 1)
    if k < 1:
        return np.zeros((n, n), dtype=bool)
    masked = similarity.copy()
    np.fill_diagonal(masked, -np.inf)
    nearest = np.argpartition(-masked, k - 1, axis=1)[:, :k]
    adjacency = np.zeros((n, n), dtype=bool)
    adjacency[np.repeat(np.arange(n), k), nearest.ravel()] = True
    return adjacency & adjacency.T


def degree_clusters(adjacency: np.ndarray, min_size: int, max_clusters: int = 100) -> np.ndarray:
    """Greedy clustering of a symmetric ``(n, n)`` bool graph by neighbourhood size.

    Repeatedly takes the unassigned item with the most unassigned neighbours
    as a seed and makes it and those neighbours a cluster, until no seed has
    ``min_size`` unassigned neighbours.

    Parameters
    ----------
    adjacency
        ``(n, n)`` symmetric bool graph (e.g. :func:`mutual_neighbours`).
    min_size
        Fewest unassigned neighbours a seed needs.
    max_clusters
        Most clusters made.

    Returns
    -------
    np.ndarray
        ``(n,)`` cluster labels (0, 1, ... in order of creation), -1 for unassigned.
    """
    adjacency = np.asarray(adjacency, dtype=bool)
    n = adjacency.shape[0]
    labels = np.full(n, -1, dtype=np.int64)
    free = np.ones(n, dtype=bool)
    degree = adjacency.sum(axis=1, dtype=np.int64)  # unassigned neighbours, kept up to date as clusters form
    for label in range(max_clusters):
        seed = int(np.argmax(np.where(free, degree, -1)))
        if not free[seed] or degree[seed] < min_size:
            break
        members = free & adjacency[seed]
        members[seed] = True
        labels[members] = label
        free &= ~members
        degree -= adjacency[:, members].sum(axis=1, dtype=np.int64)
    return labels


# ---------------------------------------------------------------------------
# Motifs from aligned seqlets
# ---------------------------------------------------------------------------


@dataclass
class DiscoveredMotif:
    """A motif built from aligned seqlets.

    Attributes
    ----------
    name
        ``pos_1``, ``neg_2``, ... (sign, then rank by number of seqlets).
    sign
        ``+`` (seqlets that raise the prediction) or ``-``.
    cwm, hypothetical_cwm
        ``(4, W)`` mean projected and mean hypothetical contribution of the aligned, trimmed seqlets.
    pwm
        ``(4, W)`` base frequencies of the aligned seqlets (pseudocount 0.5 per base).
    n_seqlets
        Number of supporting seqlets.
    instances
        One row per supporting seqlet: ``seqlet`` (row of the seqlet table),
        ``region_index``, ``start`` (first position of the trimmed motif in the
        region's npz row), ``rc`` and ``similarity`` (cosine to the motif).
    left_context, right_context
        ``(4, a)`` and ``(4, b)`` base frequencies (pseudocount 0.5 per base) of
        the aligned seqlets' columns left and right of the trimmed motif, in the
        motif's orientation: the rest of the aligned window (``a + W + b =
        core + 2 * flank`` of :class:`DiscoveryOptions`), or None. The matcher
        compares the motif together with the few columns next to it
        (:func:`seqsal.motifs.match.compare_motifs`).
    """

    name: str
    sign: str
    cwm: np.ndarray
    hypothetical_cwm: np.ndarray
    pwm: np.ndarray
    n_seqlets: int
    instances: pd.DataFrame
    left_context: np.ndarray | None = field(default=None, repr=False)
    right_context: np.ndarray | None = field(default=None, repr=False)

    @property
    def consensus(self) -> str:
        """Consensus of the PWM (:func:`seqsal.motifs.matrices.consensus`)."""
        return consensus(self.pwm)

    def to_motif(self) -> Motif:
        """This motif as a :class:`Motif` under its name (``pos_1``: as ``motifs.meme``, ``motifs.tsv``,
        ``motifs.npz``, ``motif_instances.tsv`` and the ``query`` of ``motif_matches.tsv`` name it).

        ``extra`` holds ``cwm`` and ``hypothetical_cwm`` and, when known, ``left_context`` and
        ``right_context`` (the PWM columns flanking the motif, which the matcher reads).
        """
        extra = {"cwm": self.cwm, "hypothetical_cwm": self.hypothetical_cwm}
        if self.left_context is not None and self.right_context is not None:
            extra.update(left_context=self.left_context, right_context=self.right_context)
        return Motif(self.name, self.consensus, self.pwm, self.n_seqlets, extra=extra)


# ---------------------------------------------------------------------------
# Discovery: seqlets -> clusters -> aligned, trimmed motifs
# ---------------------------------------------------------------------------


@dataclass
class DiscoveryOptions:
    """Parameters of :func:`discover_motifs`.

    Seqlets are compared over a ``core``-bp stretch centred on each seqlet,
    slid by up to ``max_shift`` bp on both strands (cosine of hypothetical
    contributions). Seeds come from the mutual ``neighbours``-nearest-neighbour
    graph of at most ``max_seed_seqlets`` seqlets (:func:`mutual_neighbours`):
    a seqlet with at least ``seed_degree`` unclustered mutual neighbours (or
    ``min_seqlets`` scaled to the sample, if fewer) seeds a cluster with them.
    Nearest neighbours, not a fixed similarity cut, so that a weak motif whose
    seqlets are only a little more alike among themselves than to everything
    else still seeds its own cluster. When there are more seqlets than the
    sample, up to ``seed_rounds`` rounds seed again on a sample of the seqlets
    that no template explains yet (a motif of ~100 seqlets among 10^5 has only
    ~3 in a first sample of 3,000). Every seqlet is then assigned
    to its best template (if >= ``assign_threshold``) for ``iterations`` rounds, templates re-centred on their
    most important ``core`` bp and merged when two are more similar than ``merge_threshold``. Motifs keep
    ``flank`` bp of context on each side before trimming to the columns that stand at least ``trim_threshold`` of
    the way from the window's background level (the ``trim_baseline`` quantile of its columns' contribution of
    the motif's sign; None: 0) to its top column (:func:`motif_bounds`), then widened over the next columns where
    the seqlets agree on the base (``extend_information`` bits over the background; None: not widened;
    :func:`extend_bounds`). A cluster is kept as a motif when its trimmed CWM has the sign of its seqlets (not a
    stronger site of the other sign next to them) and at least ``min_strong_columns`` columns where one base has
    probability >= 0.5 (a cluster of weak contributions on no consistent sequence is not a motif).
    At most ``max_seqlets`` seqlets of each sign are clustered: past that, the
    most significant ones (smallest ``pvalue``, then largest ``|score|``; a
    random sample when the table has neither), so that the time grows with
    the informative seqlets, not with the noise a lenient or poorly fitted
    threshold lets in (:func:`cap_seqlets`). Before its matrices are averaged, each motif's seqlets are re-read on
    the strand its PWM fits better, for up to ``strand_iterations`` rounds (:func:`refine_strands`; 0: the strands of
    the contribution alignment): a palindrome's seqlets otherwise align on either strand and average a column with
    its complement.
    """

    core: int = 20
    max_shift: int = 10
    flank: int = 10
    assign_threshold: float = 0.45
    merge_threshold: float = 0.75
    min_seqlets: int = 20
    max_seed_seqlets: int = 3000
    iterations: int = 3
    trim_threshold: float = 0.3
    trim_baseline: float | None = 0.25
    extend_information: float | None = 0.3
    max_motifs: int = 50
    min_strong_columns: int = 3
    neighbours: int = 15
    seed_degree: int = 8
    seed_rounds: int = 3
    reseed_below: float = 0.6
    reseed_distinct: float = 0.5
    max_seqlets: int = 20_000
    strand_iterations: int = 10
    seed: int = 0


def discover_motifs(
    one_hot: np.ndarray,
    hypothetical: np.ndarray,
    lengths: np.ndarray,
    seqlets: pd.DataFrame,
    options: DiscoveryOptions | None = None,
    progress: bool = False,
) -> list[DiscoveredMotif]:
    """Cluster seqlets into motifs per sign, as tfmodisco(-lite) does (Shrikumar et al. 2018, arXiv:1811.00416).

    Parameters
    ----------
    one_hot, hypothetical
        ``(N, 4, L)`` arrays, or a run folder's :class:`~seqsal.io.RegionArray` (:func:`seqsal.io.region_arrays`;
        only seqlet windows are read).
    lengths, seqlets
        ``(N,)`` true length of each row; a table with ``region_index`` (row), ``offset_start``, ``offset_end``
        (0-based, half-open, within the row) and ``sign`` (``+``/``-``).
    options, progress
        :class:`DiscoveryOptions` (``None``: the defaults); show progress bars.

    Returns
    -------
    list of DiscoveredMotif
        Positive motifs first, each sign by decreasing number of seqlets; instances index ``seqlets``
        (at most ``options.max_seqlets`` of each sign were clustered: :func:`cap_seqlets`).
    """
    options = options or DiscoveryOptions()
    motifs: list[DiscoveredMotif] = []
    for sign, prefix in (("+", "pos"), ("-", "neg")):
        subset = seqlets.index[seqlets["sign"].astype(str) == sign].to_numpy()
        if len(subset) < options.min_seqlets:
            continue
        if len(subset) > options.max_seqlets:
            log.info("clustering the %d most significant of %d %s seqlets (max_seqlets)", options.max_seqlets,
                     len(subset), sign)
            subset = cap_seqlets(seqlets.loc[subset], options.max_seqlets, options.seed)
        found = _discover_one_sign(one_hot, hypothetical, lengths, seqlets.loc[subset], options, progress,
                                   1 if sign == "+" else -1)
        for rank, motif in enumerate(found, 1):
            motif.name, motif.sign = f"{prefix}_{rank}", sign
            motifs.append(motif)
    return motifs


def _build_templates(arrays, lengths, rows, starts, rc, labels, n_clusters, options,
                     sign: int) -> tuple[np.ndarray, np.ndarray]:
    """Re-centred hypothetical templates ``(K, 4, core)`` of each cluster and the cluster sizes."""
    core, flank = options.core, options.flank
    templates = np.zeros((n_clusters, 4, core), dtype=np.float32)
    sizes = np.bincount(labels[labels >= 0], minlength=n_clusters)
    for label in range(n_clusters):
        members = np.flatnonzero(labels == label)
        if not len(members):
            continue
        oh, hyp = extract_windows(arrays, lengths, rows[members], starts[members] - flank, core + 2 * flank, rc[members])
        lo = best_core((oh * hyp).mean(axis=0), core, sign)
        templates[label] = hyp.mean(axis=0)[:, lo:lo + core]
    return templates, sizes


def cap_seqlets(seqlets: pd.DataFrame, limit: int, seed: int = 0) -> np.ndarray:
    """Index labels of at most ``limit`` seqlets of a table: the most significant, else a random sample.

    Parameters
    ----------
    seqlets
        Seqlet table; ``pvalue`` and ``score`` rank it when present (smallest p first, ties by the largest
        ``|score|``, then by table order).
    limit
        Most seqlets kept (``>= 0``).
    seed
        Seed of the sample drawn when the table has neither column.

    Returns
    -------
    np.ndarray
        ``(min(limit, n),)`` labels of ``seqlets.index``, in table order.
    """
    n = len(seqlets)
    if n <= limit:
        return seqlets.index.to_numpy()
    if "pvalue" in seqlets or "score" in seqlets:
        pvalue = seqlets["pvalue"].to_numpy(np.float64) if "pvalue" in seqlets else np.zeros(n)
        strength = np.abs(seqlets["score"].to_numpy(np.float64)) if "score" in seqlets else np.zeros(n)
        chosen = np.lexsort((np.arange(n), -strength, pvalue))[:limit]
    else:
        chosen = np.random.default_rng(seed).choice(n, limit, replace=False)
    return seqlets.index.to_numpy()[np.sort(chosen)]


def best_per_instance(cluster: np.ndarray, rows: np.ndarray, starts: np.ndarray, score: np.ndarray,
                      gap: int | np.ndarray) -> np.ndarray:
    """Keep-mask ``(n,)`` over assigned items: of those placed on one instance, only the best scoring.

    Items on one instance have the same ``cluster`` (``>= 0``; ``-1``: unassigned, left False), the same
    ``row`` and aligned ``starts`` less than ``gap`` apart (an int, or ``(K,)`` per cluster). Used for
    seqlets that cover one site twice (overlapping seqlets, or the windows of one site).
    """
    n_clusters = int(cluster.max()) + 1 if len(cluster) else 0
    gaps = np.full(n_clusters, gap) if np.ndim(gap) == 0 else np.asarray(gap)
    keep = cluster >= 0
    order = np.lexsort((-score, starts, rows, cluster))
    last = (-2, -1, -(10**9))
    last_index = -1
    for i in order:
        if cluster[i] < 0:
            continue
        key = (cluster[i], rows[i])
        if key == last[:2] and starts[i] - last[2] < gaps[cluster[i]]:
            if score[i] > score[last_index]:
                keep[last_index] = False
                last_index = i
            else:
                keep[i] = False
            continue
        last, last_index = (cluster[i], rows[i], starts[i]), i
    return keep


def _assign(templates, hyp_windows, window_starts, rows, options):
    similarity, offset, rc = best_alignment(templates, hyp_windows)
    best = similarity.argmax(axis=1)
    index = np.arange(len(best))
    score = similarity[index, best]
    cluster = np.where(score >= options.assign_threshold, best, -1)
    starts = window_starts + offset[index, best]
    is_rc = rc[index, best]
    cluster[~best_per_instance(cluster, rows, starts, score, options.core // 2)] = -1
    return cluster, starts, is_rc, score


def _seed_templates(pool: np.ndarray, rng: np.random.Generator, arrays, lengths, rows, window_starts, hyp_windows,
                    options: DiscoveryOptions, sign: int) -> np.ndarray:
    """Templates ``(K, 4, core)`` seeded on the mutual nearest-neighbour graph of a sample of the ``pool`` seqlets.

    A cluster of ``min_seqlets`` seqlets in the pool is expected to hold ``min_seqlets * sample / pool`` of the
    sample: a seed needs that many (at least 3, at most ``seed_degree``) mutual neighbours.
    """
    core, shift = options.core, options.max_shift
    pick = np.sort(rng.choice(pool, options.max_seed_seqlets, replace=False)) if len(pool) > options.max_seed_seqlets \
        else pool
    if len(pick) < 2:
        return np.zeros((0, 4, core), dtype=np.float32)
    sub_windows = hyp_windows[pick]
    similarity, offset, rc = best_alignment(sub_windows[:, :, shift:shift + core], sub_windows)
    symmetric = (similarity + similarity.T) / 2
    min_seed = max(3, int(np.ceil(options.min_seqlets * len(pick) / len(pool))))
    labels = degree_clusters(mutual_neighbours(symmetric, options.neighbours), min(min_seed, options.seed_degree),
                             options.max_motifs)
    n_clusters = int(labels.max()) + 1
    if n_clusters == 0:
        return np.zeros((0, 4, core), dtype=np.float32)
    # place every sample member on the frame of its cluster's most central member
    seeds = np.array([np.flatnonzero(labels == k)[np.argmax(symmetric[np.ix_(labels == k, labels == k)].sum(axis=1))]
                      for k in range(n_clusters)])
    members = np.flatnonzero(labels >= 0)
    seed_cols = seeds[labels[members]]
    starts = window_starts[pick][members] + offset[members, seed_cols]
    templates, _ = _build_templates(arrays, lengths, rows[pick][members], starts, rc[members, seed_cols],
                                    labels[members], n_clusters, options, sign)
    return templates


def motif_bounds(projected: np.ndarray, threshold: float, sign: int,
                 baseline: float | None) -> tuple[int, int]:
    """``[lo, hi)`` of a motif in its aligned window: the columns that stand ``threshold`` of the way out of the
    window's background level of contribution towards its top column.

    A column's importance is its contribution of the motif's sign, ``max(sign * projected.sum(0), 0)``
    (:func:`~seqsal.motifs.align.trim_bounds`); the background level ``b`` is the ``baseline`` quantile of the
    window's column importances, and the motif runs from the first to the last column with importance
    ``>= b + threshold * (max - b)``. On a map whose contribution sits on the sites (``b`` ~ 0) this is
    :func:`~seqsal.motifs.align.trim_bounds` at ``threshold``. On a map that spreads contribution over every base
    (a BPNet profile head: each column of a 40-bp window carries 0.3-0.4 of the top one), a cut relative to the
    top alone keeps the whole window, and the motif's PWM gains 20 near-uniform columns, whose best log-odds
    scores then dilute the fraction of the best score a true site reaches in the support test
    (:mod:`seqsal.motifs.support`). On benchmarks/zoo's ``bpnet_A`` counts head its GATA1::TAL1 motif spanned 34
    columns and had 12 supporting windows against 0 in the null (p 0.0035, dropped); trimmed against the lower
    quartile of its window it is ``CTGcttcagacAGAT``, with 74 against 14 (p 7.6e-6, kept). The lower quartile, not
    the median: on the demo's CTCF (sparser map, a 19-bp motif filling half the window) the median cut the motif
    to 14 columns (support p 8.8e-6, against 3.8e-8 untrimmed), the lower quartile to 16 (1.9e-7). On the zoo's
    other maps (max-pool, dilated, Basset-like, sigmoid) the same planted motifs are found and kept as before, most
    with the same columns.

    Parameters
    ----------
    projected
        ``(4, L)`` mean contribution of the aligned seqlets (one-hot times hypothetical).
    threshold
        Share of the way from the background level to the top column a column needs, in ``[0, 1]``.
    sign
        +1 or -1, the motif's sign.
    baseline
        Quantile in ``[0, 1]`` of the column importances taken as the background level (0: the least important
        column); None: level 0 (:func:`~seqsal.motifs.align.trim_bounds`, the rule before 2026-12-01).

    Returns
    -------
    tuple of int
        ``(lo, hi)``; ``(0, L)`` when no column carries contribution of the sign.
    """
    importance = np.clip(sign * np.asarray(projected).sum(axis=0), 0, None)
    level = float(np.quantile(importance, baseline)) if baseline is not None and importance.shape[0] else 0.0
    if importance.max(initial=0.0) <= level:
        return trim_bounds(projected, threshold, sign=sign)
    keep = np.flatnonzero(importance - level >= threshold * (importance.max() - level))
    return int(keep[0]), int(keep[-1]) + 1


def extend_bounds(frequencies: np.ndarray, lo: int, hi: int, min_information: float | None,
                  background: np.ndarray | None = None) -> tuple[int, int]:
    """``[lo, hi)`` widened over the adjacent columns whose bases the aligned seqlets agree on.

    :func:`motif_bounds` cuts on contribution, but the support test, the instance calls and the database match
    read the PWM. On a map that spreads contribution (a BPNet profile head) a site's weaker end falls under the
    cut: zoo ``bpnet_A``'s GATA1::TAL1 lost the ``AA`` of ``AGATAA`` (0.62, 0.46 bits), and the cut PWM matched
    13 null windows against the run's 39 (support p 0.05: dropped); widened, 5 against 44 (p 1.8e-5). A column
    of background bases over ``n`` seqlets holds ~``3 / (2 n ln 2)`` bits by chance (0.11 at 20), measured
    against the background composition (at 86 % A/T a random column holds 0.39 bits against a uniform one).

    Parameters
    ----------
    frequencies
        ``(4, L)`` base frequencies of the aligned seqlets' window (rows A, C, G, T; no zeros).
    lo, hi
        The motif's columns in the window, ``0 <= lo < hi <= L``.
    min_information
        Fewest bits (relative entropy ``sum_b f_b log2(f_b / q_b)``) a column needs to be added; None: ``(lo, hi)``
        unchanged.
    background
        ``(4,)`` base composition ``q`` (sums to 1); None: uniform (``2 + sum_b f_b log2 f_b``).

    Returns
    -------
    tuple of int
        ``(lo', hi')``, ``lo' <= lo`` and ``hi' >= hi``: the columns added are contiguous with the motif.
    """
    if min_information is None:
        return lo, hi
    frequencies = np.asarray(frequencies, np.float64)
    q = np.full(4, 0.25) if background is None else np.asarray(background, np.float64)
    information = (frequencies * np.log2(frequencies / q[:, None])).sum(axis=0)
    while lo > 0 and information[lo - 1] >= min_information:
        lo -= 1
    while hi < information.shape[0] and information[hi] >= min_information:
        hi += 1
    return lo, hi


def _motif_columns(projected: np.ndarray, one_hot: np.ndarray, options: DiscoveryOptions, sign: int) -> tuple[int, int]:
    """A motif's ``[lo, hi)`` in its aligned window: :func:`motif_bounds`, then :func:`extend_bounds` on the base
    frequencies of ``one_hot`` ``(n, 4, L)`` (pseudocount 0.5 per base, as the PWM's) against the windows'
    strand-symmetric composition; a column fewer than half the seqlets reach (past a region's end) is not added."""
    lo, hi = motif_bounds(projected, options.trim_threshold, sign, options.trim_baseline)
    counts, background = one_hot.sum(axis=0), symmetric_composition(one_hot)
    frequencies = (counts + 0.5) / (counts.sum(axis=0, keepdims=True) + 2.0)
    frequencies[:, counts.sum(axis=0) < one_hot.shape[0] / 2] = background[:, None]
    return extend_bounds(frequencies, lo, hi, options.extend_information, background)


def _discover_one_sign(one_hot, hypothetical, lengths, seqlets, options, progress,
                       sign: int) -> list[DiscoveredMotif]:
    core, shift, flank = options.core, options.max_shift, options.flank
    arrays = [one_hot, hypothetical]
    rows = seqlets["region_index"].to_numpy(dtype=np.int64)
    centres = ((seqlets["offset_start"].to_numpy() + seqlets["offset_end"].to_numpy()) // 2).astype(np.int64)
    width = core + 2 * shift
    window_starts = centres - width // 2
    _, hyp_windows = extract_windows(arrays, lengths, rows, window_starts, width)
    n = len(rows)

    # 1-2. seed templates on a sample of the seqlets no template explains yet, refine them on all seqlets
    # (assign, re-centre, merge look-alikes, drop small clusters); repeat while new seeds appear
    rng = np.random.default_rng(options.seed)
    templates = np.zeros((0, 4, core), dtype=np.float32)
    assigned = None  # the assignment to the current templates, once computed
    pool = np.arange(n)
    for _round in range(options.seed_rounds):
        sampled_all = len(pool) <= options.max_seed_seqlets  # then this round saw every candidate seed
        seeded = _seed_templates(pool, rng, arrays, lengths, rows, window_starts, hyp_windows, options, sign)
        if len(seeded) and len(templates):  # a later round adds motifs unlike the ones found, not their fragments
            padded = np.pad(templates, ((0, 0), (0, 0), (shift, shift)))
            similarity, _, _ = best_alignment(seeded, padded)
            seeded = seeded[similarity.max(axis=0) < options.reseed_distinct]
        if not len(seeded):
            break
        templates, assigned = np.concatenate([templates, seeded]), None
        for _ in range(options.iterations):
            cluster, starts, is_rc, score = _assign(templates, hyp_windows, window_starts, rows, options)
            templates, sizes = _build_templates(arrays, lengths, rows, starts, is_rc, cluster, len(templates),
                                                options, sign)
            templates = templates[_merge_mask(templates, sizes, options) & (sizes >= options.min_seqlets)]
            if not len(templates):
                break
        if not len(templates):
            if sampled_all:
                break
            continue  # another sample of the same pool
        assigned = _assign(templates, hyp_windows, window_starts, rows, options)
        cluster, _, _, score = assigned
        pool = np.flatnonzero((cluster < 0) | (score < options.reseed_below))
        if sampled_all or len(pool) < options.min_seqlets:
            break
    if not len(templates):
        return []
    if assigned is None:
        assigned = _assign(templates, hyp_windows, window_starts, rows, options)
    cluster, starts, is_rc, score = assigned

    # 3. motifs: aligned CWM/PWM with context, trimmed to the informative core
    motifs = []
    for label in range(len(templates)):
        members = np.flatnonzero(cluster == label)
        if len(members) < options.min_seqlets:
            continue
        oh, hyp = extract_windows(arrays, lengths, rows[members], starts[members] - flank, core + 2 * flank,
                                  is_rc[members])
        projected = (oh * hyp).mean(axis=0)
        lo, hi = _motif_columns(projected, oh, options, sign)
        if sign * projected[:, lo:hi].sum() <= 0:  # aligned on a site of the other sign: not a motif of this sign
            continue
        flip, mirror = refine_strands(oh, lo, hi, max_iterations=options.strand_iterations)
        if flip.any():  # a palindrome's seqlets re-read on the strand its PWM fits: windows, CWM and trim again
            moved = members[flip]
            starts[moved] += np.where(is_rc[moved], mirror, -mirror)
            is_rc[moved] ^= True
            oh, hyp = extract_windows(arrays, lengths, rows[members], starts[members] - flank, core + 2 * flank,
                                      is_rc[members])
            projected = (oh * hyp).mean(axis=0)
            lo, hi = _motif_columns(projected, oh, options, sign)
            if sign * projected[:, lo:hi].sum() <= 0:
                continue
        counts = oh.sum(axis=0)  # (4, core + 2 * flank): the motif and its context
        frequencies = (counts + 0.5) / (counts.sum(axis=0, keepdims=True) + 2.0)
        pwm, left, right = (np.ascontiguousarray(m) for m in (frequencies[:, lo:hi], frequencies[:, :lo],
                                                              frequencies[:, hi:]))
        if int((pwm.max(axis=0) >= 0.5).sum()) < options.min_strong_columns:
            continue
        first = np.where(is_rc[members], starts[members] + core + flank - hi, starts[members] - flank + lo)
        flip = is_rc[members].mean() > 0.5
        cwm, hcwm = projected[:, lo:hi], hyp.mean(axis=0)[:, lo:hi]
        if flip:
            cwm, hcwm, pwm = (reverse_complement_matrix(m) for m in (cwm, hcwm, pwm))
            left, right = reverse_complement_matrix(right), reverse_complement_matrix(left)
        instances = pd.DataFrame({
            "seqlet": seqlets.index.to_numpy()[members], "region_index": rows[members], "start": first,
            "end": first + (hi - lo), "rc": is_rc[members] ^ flip, "similarity": np.round(score[members], 4),
        })
        motifs.append(DiscoveredMotif("", "", cwm.astype(np.float32), hcwm.astype(np.float32), pwm, len(members),
                                      instances, left, right))
    motifs.sort(key=lambda motif: -motif.n_seqlets)
    return motifs


def _merge_mask(templates: np.ndarray, sizes: np.ndarray, options: DiscoveryOptions) -> np.ndarray:
    """Keep-mask over templates: of two templates aligned with cosine >= ``merge_threshold``, keep the larger cluster."""
    shift = options.max_shift
    padded = np.pad(templates, ((0, 0), (0, 0), (shift, shift)))
    similarity, _, _ = best_alignment(templates, padded)
    keep = sizes > 0
    for k in np.argsort(-sizes, kind="stable"):
        if not keep[k]:
            continue
        close = (np.maximum(similarity[k], similarity[:, k]) >= options.merge_threshold) & (sizes <= sizes[k])
        close[k] = False
        keep[close] = False
    return keep

