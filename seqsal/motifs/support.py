"""Motif support against the shuffled null: is a motif more frequent in the run's tracks than in its null's?

Lenient seqlets hold noise, and noise can cluster: windows of spiky or
background contribution that happen to look alike (on a max-pool model
trained elsewhere, 43 of the 59 motifs of the old default matched nothing
planted). Such a motif is as frequent in attributions of shuffled sequence as
in the run's. So each motif is tested against the run's shuffled null
(``null.npz``: the same model's attributions of dinucleotide-shuffled copies of
a sample of the regions, :mod:`seqsal.peaks.nulls`), counting both sides the
same way:

1. **The same windows.** The peak caller's tests (``test_width``-bp windows
   that are local maxima of the summed contribution, :func:`seqsal.peaks.block_tests`)
   are taken on the run's tracks and on the null's; each sign's p-values come
   from the empirical null of the null's tests (:class:`seqsal.peaks.NullModel`),
   and both sets are cut at the p-value of the discovery seqlets
   (Benjamini-Hochberg over the run's tests at the discovery FDR).
2. **The same rule for an instance.** A window supports a motif when its
   sequence holds a match to the motif's PWM within ``max_shift`` bp of the
   window's centre, either strand: a log-odds score (base 2, against a
   uniform background) of at least a fraction ``m`` of the PWM's best score,
   for each ``m`` of ``min_match`` (0.6, 0.7, 0.8, 0.9: a fuzzy PWM of a weak
   motif shows its excess at a low fraction, a short one whose near-matches
   are everywhere at a high one). Windows on one instance count once; each
   motif is tested on its own (a window may support several). The sequence,
   not the contribution pattern, tells a motif from noise: the windows are
   already those whose contribution passed, and a cosine to the CWM is met by
   chance alignments of a few strong bases (on the demo at FDR 0.8, null
   windows matched the weak CTCF CWM about as often as the run's: 47 against
   50 at cosine 0.6, where its PWM at 0.7 gives 1 against 18).
3. **Support over the null, scaled by bases.** A motif with ``k`` supporting
   windows in the run's ``B`` valid bases and ``k0`` in the null's ``B0``: with
   no enrichment, each of the ``k + k0`` windows lies in the run with
   probability ``B / (B + B0)``, so ``support_pvalue = P(Binomial(k + k0,
   B / (B + B0)) >= k)`` (the exact conditional test of two Poisson rates,
   Przyborowski & Wilenski 1940). ``enrichment = k / ((k0 + 1) B / B0)`` (the
   null count plus one, as empirical p-values count it). Of the fractions
   ``m``, the one with the smallest p-value among those with ``enrichment >=
   min_enrichment`` (else the smallest p-value) is reported
   (``support_match``), its p-value adjusted exactly for the nested fractions
   tried (min-P), and a motif is kept when ``support_pvalue <= level / K`` and
   ``enrichment >= min_enrichment``, ``K`` the motifs whose pooled counts could
   reach that level at all (Tarone; both in :mod:`seqsal.motifs.multiplicity`).
4. **Not a copy of a stronger motif.** Clustering can split one motif's sites
   into several clusters (a half site, the motif a few bases off, a mixture of
   two motifs with a common core); each copy passes 3 on the sites it copies.
   So the motifs that pass are entered one by one, most enriched first, and
   each is tested again (3, same level) on the windows where no motif entered
   before it matches the same bases at least as surprisingly
   (:mod:`seqsal.motifs.redundancy`). On ``basset_B`` of benchmarks/zoo this
   drops the three motifs that matched no planted motif, and the copies.

The null stores per-base tracks, not sequences: its sequences are redrawn
(:func:`seqsal.motifs.sides.null_one_hot`) from the genome ``run.json`` names with the shuffles
the null was drawn with (:func:`seqsal.peaks.shuffled_fetch`: each a hash of
the seed, the region and the copy), or read from a ``one_hot`` member of
``null.npz`` when it has one.

On the demo every planted motif passes (enrichment 2.5-53, p <= 4e-8). On
complete nulls (the demo model on a dinucleotide-shuffled demo genome; a toy
model that reads short words, on random sequence) every motif that clustering
finds is dropped (enrichment 0.97-1.71, p >= 0.0024), where the old default
(no test, FDR 0.85 against the Laplace null) kept 4 and 5. The cut is where
the run's tests beat the null's, so on a complete null that BH happens to pass
the run's counts lean upwards a little: hence the minimum enrichment as well
as the p-value.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..peaks import PeakOptions
from .discover import DiscoveredMotif
from .multiplicity import binomial_upper_tail, min_p_adjusted, smallest_pvalue, tarone_family
from .redundancy import MotifMatches, count_matches, entry_order, forward_selection
from .sides import FolderSides, WindowSet, folder_sides

log = logging.getLogger("seqsal")

SUPPORT_COLUMNS = ["n_support_seqlets", "n_null_seqlets", "expected_null_seqlets", "enrichment", "support_pvalue",
                   "support_match"]
"""The columns the support test adds to ``motifs.tsv`` (empty when the run has no ``null.npz``)."""

REDUNDANCY_COLUMNS = ["n_unexplained_seqlets", "n_null_unexplained_seqlets", "unexplained_enrichment",
                      "unexplained_pvalue", "redundant_with"]
"""The columns of the second test (:func:`redundancy_columns`) in :func:`support_table`, not in ``motifs.tsv``."""

_MATCH_CHUNK = 4096  # windows scored per pass by best_match_scores


@dataclass
class SupportOptions:
    """Parameters of the support test (:func:`support_table`); see the module docstring.

    Attributes
    ----------
    min_match
        The match thresholds tried: smallest PWM log-odds score of a match, as a fraction of the PWM's best.
    level
        Family-wise level of the one-sided binomial test, over the motifs that could pass
        (:func:`seqsal.motifs.multiplicity.tarone_family`).
    min_enrichment
        Smallest ``enrichment`` a motif needs, whatever its p-value (a null a little too light makes large
        counts significant without making them motifs).
    max_shift
        Offsets tried on each side of the window's centre (bp).
    max_windows
        Most windows of each sign counted per side (a uniform sample beyond, with its bases scaled).
    test_width, min_null_candidates
        As the peak caller's (:class:`seqsal.peaks.PeakOptions`).
    seed
        Seed of that sample.
    """

    min_match: tuple[float, ...] = (0.6, 0.7, 0.8, 0.9)
    level: float = 0.01
    min_enrichment: float = 1.5
    max_shift: int = 10
    max_windows: int = 50_000
    test_width: int = PeakOptions.test_widths[0]
    min_null_candidates: int = PeakOptions.min_null_candidates
    seed: int = 0




# ---------------------------------------------------------------------------
# The statistics (pure)
# ---------------------------------------------------------------------------


def support_statistics(observed: np.ndarray, null: np.ndarray, bases: np.ndarray,
                       null_bases: np.ndarray) -> pd.DataFrame:
    """Per motif: supporting windows in the run and in the null, the null's count scaled, enrichment, p-value.

    Parameters
    ----------
    observed, null
        ``(K,)`` supporting windows of each motif in the run's tracks and in the null's.
    bases, null_bases
        ``(K,)`` (or scalars) valid bases, > 0, each count was taken over.

    Returns
    -------
    pandas.DataFrame
        :data:`SUPPORT_COLUMNS` but ``support_match``, one row per motif: ``expected_null_seqlets = k0 B / B0``,
        ``enrichment = k / ((k0 + 1) B / B0)``, ``support_pvalue = P(Binomial(k + k0, B / (B + B0)) >= k)``.
    """
    observed = np.asarray(observed, dtype=np.int64)
    null = np.asarray(null, dtype=np.int64)
    bases = np.broadcast_to(np.asarray(bases, np.float64), observed.shape)
    null_bases = np.broadcast_to(np.asarray(null_bases, np.float64), observed.shape)
    scale = bases / null_bases
    share = bases / (bases + null_bases)
    pvalues = [binomial_upper_tail(int(k), int(k + k0), float(pi)) for k, k0, pi in zip(observed, null, share)]
    return pd.DataFrame({
        "n_support_seqlets": observed, "n_null_seqlets": null,
        "expected_null_seqlets": np.round(null * scale, 3),
        "enrichment": np.round(observed / ((null + 1) * scale), 4),
        "support_pvalue": [float(f"{p:.4g}") for p in pvalues],
    }, columns=SUPPORT_COLUMNS[:-1])


def best_support(observed: np.ndarray, null: np.ndarray, bases: np.ndarray, null_bases: np.ndarray,
                 options: SupportOptions) -> pd.DataFrame:
    """Per motif, the support of the match threshold that shows it best (module docstring, point 3).

    Parameters
    ----------
    observed, null
        ``(K, T)`` supporting windows of each motif at each threshold of ``options.min_match``.
    bases, null_bases
        ``(K,)`` valid bases each motif's counts were taken over (its sign's).
    options
        :class:`SupportOptions`.

    Returns
    -------
    pandas.DataFrame
        :data:`SUPPORT_COLUMNS`, one row per motif: :func:`support_statistics` at the threshold
        (``support_match``) with the smallest p-value among those with ``enrichment >= min_enrichment``,
        else with the smallest p-value; ``support_pvalue`` is that p-value adjusted for the ``T`` thresholds
        tried (:func:`seqsal.motifs.multiplicity.min_p_adjusted`).
    """
    observed, null = np.atleast_2d(observed), np.atleast_2d(null)
    columns = [support_statistics(observed[:, t], null[:, t], bases, null_bases) for t in range(observed.shape[1])]
    pvalue = np.stack([table["support_pvalue"].to_numpy() for table in columns], axis=1)
    enriched = np.stack([table["enrichment"].to_numpy() for table in columns], axis=1) >= options.min_enrichment
    ranked = np.where(enriched, pvalue, pvalue + 2.0)  # an enriched threshold before any other
    chosen = ranked.argmin(axis=1)
    rows = [columns[t].iloc[k] for k, t in enumerate(chosen)]
    table = pd.DataFrame(rows, columns=SUPPORT_COLUMNS[:-1]).reset_index(drop=True)
    share = np.broadcast_to(np.asarray(bases, np.float64) / (np.asarray(bases, np.float64)
                                                             + np.asarray(null_bases, np.float64)), chosen.shape)
    raw = [binomial_upper_tail(int(observed[k, t]), int(observed[k, t] + null[k, t]), float(share[k]))
           for k, t in enumerate(chosen)]  # unrounded: the adjustment compares it with every threshold's
    table["support_pvalue"] = [float(f"{min_p_adjusted(observed[k], null[k], share[k], p):.4g}")
                               for k, p in enumerate(raw)]
    table["support_match"] = np.asarray(options.min_match, np.float64)[chosen]
    return table.astype({"n_support_seqlets": np.int64, "n_null_seqlets": np.int64})


def support_level(observed: np.ndarray, null: np.ndarray, bases: np.ndarray, null_bases: np.ndarray,
                  level: float) -> tuple[float, int]:
    """The level each motif's ``support_pvalue`` is held to: ``level / K``, ``K`` Tarone's family.

    Parameters
    ----------
    observed, null
        ``(K, T)`` supporting windows of each motif at each threshold, in the run and in the null.
    bases, null_bases
        ``(K,)`` valid bases each motif's counts were taken over.
    level
        The family-wise level (:attr:`SupportOptions.level`).

    Returns
    -------
    level, family
        The per-motif level and ``K``: the motifs whose pooled counts give a p-value as small as it
        (:func:`seqsal.motifs.multiplicity.tarone_family`).
    """
    bases, null_bases = np.asarray(bases, np.float64), np.asarray(null_bases, np.float64)
    smallest = smallest_pvalue(np.atleast_2d(observed) + np.atleast_2d(null), bases / (bases + null_bases))
    family = tarone_family(smallest, level)
    return level / family, family


def passes_support(table: pd.DataFrame, options: SupportOptions, level: float) -> np.ndarray:
    """``(K,)`` bool: motifs whose ``support_pvalue`` is at most ``level`` (:func:`support_level`) and whose
    enrichment is at least ``options.min_enrichment``."""
    return ((table["support_pvalue"].to_numpy(np.float64) <= level)
            & (table["enrichment"].to_numpy(np.float64) >= options.min_enrichment))




# ---------------------------------------------------------------------------
# Windows -> supporting windows per motif
# ---------------------------------------------------------------------------


def best_match_scores(pwm: np.ndarray, one_hot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best PWM match in each one-hot stretch, both strands, as a fraction of the PWM's best score.

    Parameters
    ----------
    pwm
        ``(4, w)`` letter probabilities (no zeros), rows A, C, G, T.
    one_hot
        ``(n, 4, W)`` stretches, ``W >= w`` (all-zero columns, N or past a row's end, score 0).

    Returns
    -------
    score, start
        ``(n,)`` the largest log-odds score (base 2, uniform background) of a ``w``-bp stretch on either
        strand, over the PWM's best score; ``(n,)`` the stretch's first position.
    """
    log_odds = np.log2(np.asarray(pwm, np.float64) / 0.25).astype(np.float32)
    width = log_odds.shape[1]
    n = one_hot.shape[0]
    score, start = np.zeros(n, np.float64), np.zeros(n, np.int64)
    best_possible = max(float(log_odds.max(axis=0).sum()), 1e-12)
    for lo in range(0, n, _MATCH_CHUNK):
        stretches = np.lib.stride_tricks.sliding_window_view(
            np.asarray(one_hot[lo:lo + _MATCH_CHUNK], np.float32), width, axis=2)  # (b, 4, positions, w)
        both = np.maximum(np.einsum("ncpw,cw->np", stretches, log_odds),
                          np.einsum("ncpw,cw->np", stretches, log_odds[::-1, ::-1]))
        start[lo:lo + _MATCH_CHUNK] = both.argmax(axis=1)
        score[lo:lo + _MATCH_CHUNK] = both[np.arange(both.shape[0]), start[lo:lo + _MATCH_CHUNK]] / best_possible
    return score, start


def scan_matches(motifs: list[DiscoveredMotif], windows: WindowSet, options: SupportOptions) -> list[MotifMatches]:
    """Each motif's best PWM match (:func:`best_match_scores`) in each window of its sign, over the
    ``w + 2 max_shift`` bp centred on the window's centre (``w`` the PWM's width)."""
    shift = options.max_shift
    span = max((m.pwm.shape[1] for m in motifs), default=0) + 2 * shift
    centres = windows.starts + options.test_width // 2
    cache: dict[int, tuple] = {}
    found = []
    for motif in motifs:
        sign = 1 if motif.sign == "+" else -1
        if sign not in cache:
            picked = np.flatnonzero(windows.signs == sign)
            first = centres[picked] - span // 2
            cache[sign] = (picked, first, windows.sequences(windows.rows[picked], first, span) if picked.shape[0]
                           else None)
        picked, first, stretches = cache[sign]
        width = motif.pwm.shape[1]
        lo = span // 2 - width // 2 - shift
        if picked.shape[0]:
            score, start = best_match_scores(motif.pwm, stretches[:, :, lo:lo + width + 2 * shift])
        else:
            score, start = np.zeros(0, np.float64), np.zeros(0, np.int64)
        found.append(MotifMatches(windows.rows[picked], score, first + lo + start, width))
    return found


def count_support(motifs: list[DiscoveredMotif], windows: WindowSet, options: SupportOptions) -> np.ndarray:
    """Supporting windows ``(K, T)`` of each motif among ``windows`` at each threshold of ``options.min_match``.

    A window of the motif's sign supports it when :func:`best_match_scores` of the motif's PWM over the
    ``w + 2 max_shift`` bp centred on the window's centre is at least the threshold; of the windows on one
    instance (same row, matches less than half the motif's width apart) one counts.
    """
    thresholds = np.asarray(options.min_match, np.float64)
    if not len(motifs) or not windows.rows.shape[0]:
        return np.zeros((len(motifs), thresholds.shape[0]), np.int64)
    return np.stack([count_matches(m, thresholds) for m in scan_matches(motifs, windows, options)])



def support_table(out_dir: str | os.PathLike, motifs: list[DiscoveredMotif], fdr: float,
                  options: SupportOptions | None = None) -> pd.DataFrame | None:
    """The support test of every motif of a run folder against its shuffled null (module docstring).

    Parameters
    ----------
    out_dir
        The run folder: ``attributions.npz``, ``null.npz`` and ``run.json`` (the genome its null's
        sequences are redrawn from, unless ``null.npz`` holds ``one_hot``).
    motifs
        Discovered motifs (their ``pwm`` and ``sign``).
    fdr
        The discovery FDR, in ``(0, 1]``: the windows counted are the tests that pass it (both sides cut at
        the same p-value).
    options
        :class:`SupportOptions`.

    Returns
    -------
    pandas.DataFrame or None
        One row per motif, in order: ``motif``, :data:`SUPPORT_COLUMNS`, ``passes`` (bool: points 3 and 4 of
        the module docstring) and the columns of :func:`redundancy_columns`; None when the run has no usable
        null (see :func:`seqsal.motifs.sides.folder_sides`; logged).
    """
    options = options or SupportOptions()
    sides = folder_sides(out_dir, fdr, *side_parameters(options)) if motifs else None
    return support_of_sides(sides, motifs, options)


def side_parameters(options: SupportOptions) -> tuple[int, int, int, int]:
    """The arguments of :func:`seqsal.motifs.sides.folder_sides` after the FDR, from ``options``."""
    return options.test_width, options.min_null_candidates, options.max_windows, options.seed


def support_of_sides(sides: FolderSides | None, motifs: list[DiscoveredMotif],
                     options: SupportOptions) -> pd.DataFrame | None:
    """:func:`support_table` on a folder's sides read already (:func:`seqsal.motifs.sides.folder_sides`; None:
    the folder has no usable null, and the result is None unless there is no motif)."""
    if not motifs:
        return pd.DataFrame(columns=["motif", *SUPPORT_COLUMNS, "passes", *REDUNDANCY_COLUMNS])
    if sides is None:
        return None
    observed, null = sides.support
    signs = [1 if motif.sign == "+" else -1 for motif in motifs]
    bases, null_bases = np.array([observed.bases[s] for s in signs]), np.array([null.bases[s] for s in signs])
    matches = scan_matches(motifs, observed, options), scan_matches(motifs, null, options)
    thresholds = np.asarray(options.min_match, np.float64)
    counts = [np.stack([count_matches(m, thresholds) for m in side]) for side in matches]
    table = best_support(*counts, bases, null_bases, options)
    table.insert(0, "motif", [m.name for m in motifs])
    level, family = support_level(*counts, bases, null_bases, options.level)
    log.info("support test: %d of %d motifs could pass (Tarone), each held to p <= %.3g", family, len(motifs), level)
    table["passes"] = passes_support(table, options, level)
    extra = redundancy_columns(*matches, signs, table, bases, null_bases, options, level)
    table["passes"] &= extra.pop("entered").to_numpy(bool)
    return table.join(extra)


def redundancy_columns(observed: list[MotifMatches], null: list[MotifMatches], signs: list[int], table: pd.DataFrame,
                       bases: np.ndarray, null_bases: np.ndarray, options: SupportOptions,
                       level: float) -> pd.DataFrame:
    """The motifs that pass, tested again on the windows no stronger motif explains (module docstring, point 4;
    :func:`seqsal.motifs.redundancy.forward_selection`), at the first test's ``level`` (:func:`support_level`).

    Returns
    -------
    pandas.DataFrame
        One row per motif: ``entered`` (bool: passed both tests) and :data:`REDUNDANCY_COLUMNS`: the counts,
        enrichment and p-value of :func:`best_support` on the windows left (NaN for a motif that failed the first
        test), and ``redundant_with``: for a motif that fails now, the motif entered before it that explains most
        of its matches in the run, else ``""``.
    """
    def test(k: int, counts: np.ndarray, null_counts: np.ndarray) -> bool:
        row = best_support(counts[None], null_counts[None], bases[k:k + 1], null_bases[k:k + 1], options)
        return bool(passes_support(row, options, level)[0])

    order = entry_order(table["enrichment"], table["support_pvalue"], table["passes"])
    kept, counts, explainer = forward_selection(observed, null, signs, table["support_match"].to_numpy(np.float64),
                                                order, np.asarray(options.min_match, np.float64), test)
    out = pd.DataFrame({**{column: np.nan for column in REDUNDANCY_COLUMNS[:4]}, "redundant_with": ""},
                       index=table.index)
    for k, (run_counts, null_counts) in counts.items():
        row = best_support(run_counts[None], null_counts[None], bases[k:k + 1], null_bases[k:k + 1], options)
        out.loc[k, out.columns[:4]] = row[["n_support_seqlets", "n_null_seqlets", "enrichment",
                                           "support_pvalue"]].to_numpy()[0]
        if k in explainer:
            out.loc[k, "redundant_with"] = str(table["motif"][explainer[k]])
    out.insert(0, "entered", np.isin(np.arange(len(table)), kept))
    return out
