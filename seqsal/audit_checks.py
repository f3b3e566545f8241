"""The statistics of ``seqsal audit``: pure numpy over per-base tracks, offsets and per-region values.

Each function takes arrays (no files, no model) and returns plain numbers, so that every check can be tested on
hand-made arrays whose answer is known. :mod:`seqsal.audit` reads a run folder, calls these and turns the numbers
into verdicts.

Conventions: a *track* is ``(N, L)`` float (one row per region, zero-padded on the right past ``lengths[i]``),
in the region's reading direction (what the model saw: minus-strand rows reversed, :func:`orient`). Every
null is a permutation null with ``(1 + #{null >= observed}) / (R + 1)`` p-values (never 0).
"""
from __future__ import annotations

from collections import Counter

import numpy as np

_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)


def orient(track: np.ndarray, lengths: np.ndarray, minus: np.ndarray) -> np.ndarray:
    """Reverse each minus-strand row of ``track`` ``(N, L)`` within its length (the model's reading direction).

    Works on ``(N, L)`` and ``(N, C, L)`` arrays (the last axis is position); rows keep their zero padding.
    """
    out = np.array(track, copy=True)
    for i in np.flatnonzero(minus):
        n = int(lengths[i])
        out[i, ..., :n] = track[i, ..., :n][..., ::-1]
    return out


def decode_rows(one_hot: np.ndarray, lengths: np.ndarray) -> list[str]:
    """Sequences of one-hot rows ``(N, 4, L)`` (A, C, G, T; a column with no base set is ``N``), each cut to its length."""
    called = one_hot.max(axis=1) > 0.5
    codes = np.where(called, one_hot.argmax(axis=1), 4)
    return [_LETTERS[codes[i, :int(lengths[i])]].tobytes().decode() for i in range(len(codes))]


def _shifted(track: np.ndarray, lengths: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Each row circularly shifted by ``shifts[i]`` within its length (padding stays zero)."""
    n, width = track.shape
    columns = np.arange(width)[None, :]
    lens = np.maximum(lengths, 1)[:, None]
    source = (columns - shifts[:, None]) % lens
    out = np.take_along_axis(track, source, axis=1)
    return np.where(columns < lengths[:, None], out, 0.0)


def _binned_profile(track: np.ndarray, lengths: np.ndarray, bin_bp: int, min_cover: int) -> np.ndarray:
    """Mean of ``track`` per offset over the rows covering it, averaged in bins of ``bin_bp``; NaN where few rows."""
    cover = (np.arange(track.shape[1])[None, :] < lengths[:, None]).sum(axis=0)
    mean = np.where(cover >= min_cover, track.sum(axis=0) / np.maximum(cover, 1), np.nan)
    n_bins = int(np.ceil(track.shape[1] / bin_bp))
    padded = np.full(n_bins * bin_bp, np.nan)
    padded[:track.shape[1]] = mean
    blocks = padded.reshape(n_bins, bin_bp)
    full = np.isfinite(blocks).all(axis=1)
    return np.where(full, np.nanmean(np.where(np.isfinite(blocks), blocks, 0), axis=1), np.nan)


def positional_concentration(track: np.ndarray, lengths: np.ndarray, rng: np.random.Generator, bin_bp: int = 10,
                             jitter: int = 50, n_null: int = 99, max_rows: int = 3000) -> dict:
    """Is ``track`` (e.g. ``|contribution|``) sharply concentrated at fixed offsets of the regions?

    The profile (mean per offset over regions, in ``bin_bp`` bins) is compared with a *local-shift null*: each
    row circularly shifted by a random ``1..jitter`` bp either way. The null keeps broad trends (regions centred on
    summits hold their motifs near the centre) and the structure within each row, but blurs anything pinned to one
    offset. Statistic: the largest ratio of a bin to its null mean; p-value: against the same maximum over the null
    replicates (so corrected over all bins).

    Parameters
    ----------
    track
        ``(N, L)`` non-negative values in reading direction, zero past ``lengths``.
    lengths
        ``(N,)`` region lengths (bp).
    rng
        Draws the shifts (and the row sample when ``N > max_rows``).

    Returns
    -------
    dict
        ``enrichment`` (max bin / its null mean), ``pvalue``, ``bin`` (offset of the bin's first base),
        ``profile`` and ``null_mean`` (per bin, NaN where fewer than half the rows reach), ``bin_bp``, ``rows``.
    """
    track = np.asarray(track, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(track) > max_rows:
        keep = np.sort(rng.choice(len(track), max_rows, replace=False))
        track, lengths = track[keep], lengths[keep]
    min_cover = max(1, len(track) // 2)
    profile = _binned_profile(track, lengths, bin_bp, min_cover)
    nulls = []
    for _ in range(n_null):
        shifts = rng.integers(1, jitter + 1, size=len(track)) * rng.choice([-1, 1], size=len(track))
        nulls.append(_binned_profile(_shifted(track, lengths, shifts), lengths, bin_bp, min_cover))
    nulls = np.array(nulls)
    null_mean = nulls.mean(axis=0)
    floor = np.nanmean(null_mean) * 1e-3 + 1e-30
    ratio = profile / np.maximum(null_mean, floor)
    null_max = np.nanmax(nulls / np.maximum(null_mean, floor), axis=1) if np.isfinite(ratio).any() else np.zeros(1)
    if not np.isfinite(ratio).any():
        return {"enrichment": float("nan"), "pvalue": 1.0, "bin": 0, "profile": profile, "null_mean": null_mean,
                "bin_bp": bin_bp, "rows": len(track)}
    best = int(np.nanargmax(ratio))
    observed = float(ratio[best])
    pvalue = (1 + int((null_max >= observed).sum())) / (len(null_max) + 1)
    return {"enrichment": observed, "pvalue": pvalue, "bin": best * bin_bp, "profile": profile,
            "null_mean": null_mean, "bin_bp": bin_bp, "rows": len(track)}


def peak_span(track: np.ndarray, lengths: np.ndarray, first: int, bin_bp: int, reach: int = 15) -> tuple[int, int]:
    """The stretch around a bin whose mean per-offset value is above half the bin's peak (``[start, end)``)."""
    cover = (np.arange(track.shape[1])[None, :] < lengths[:, None]).sum(axis=0)
    mean = track.sum(axis=0) / np.maximum(cover, 1)
    lo, hi = max(0, first - reach), min(track.shape[1], first + bin_bp + reach)
    local = mean[lo:hi]
    top = lo + int(np.argmax(local))
    half = 0.5 * mean[top]
    start, end = top, top + 1
    while start > lo and mean[start - 1] >= half:
        start -= 1
    while end < hi and mean[end] >= half:
        end += 1
    return start, end


def modal_sequence(sequences: list[str], start: int, end: int) -> tuple[str, int, int]:
    """The commonest ``sequences[i][start:end]`` among the rows long enough, with its count and the rows counted."""
    pieces = [s[start:end] for s in sequences if len(s) >= end]
    if not pieces:
        return "", 0, 0
    word, count = Counter(pieces).most_common(1)[0]
    return word, int(count), len(pieces)


def offset_clustering(offsets: np.ndarray, limits: np.ndarray, rng: np.random.Generator, window: int = 5,
                      jitter: int = 50, n_null: int = 199) -> dict:
    """Are instance offsets piled up within ``window`` bp of one offset more than local jitter allows?

    Parameters
    ----------
    offsets
        ``(M,)`` instance start offsets in reading direction.
    limits
        ``(M,)`` the largest offset each instance could have (region length - width).
    rng
        Draws the null: every offset moved by a uniform ``-jitter..jitter`` bp, reflected into ``[0, limit]``.

    Returns
    -------
    dict
        ``count`` (most instances in one ``window``), ``share`` (of all), ``offset`` (the commonest offset in that
        window), ``pvalue`` (against the null's maxima), ``expected`` (mean null maximum).
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    limits = np.maximum(np.asarray(limits, dtype=np.int64), 0)

    def best(values: np.ndarray) -> tuple[int, int]:
        counts = np.bincount(values, minlength=int(limits.max()) + window + 1)
        sums = np.convolve(counts, np.ones(window, dtype=np.int64), mode="valid")
        where = int(np.argmax(sums))
        return int(sums[where]), where + int(np.argmax(counts[where:where + window]))

    if len(offsets) == 0:
        return {"count": 0, "share": 0.0, "offset": 0, "pvalue": 1.0, "expected": 0.0}
    count, where = best(np.clip(offsets, 0, limits))
    null = np.empty(n_null)
    for r in range(n_null):
        null[r] = best(jitter_reflect(offsets, limits, rng, jitter))[0]
    pvalue = (1 + int((null >= count).sum())) / (n_null + 1)
    return {"count": count, "share": count / len(offsets), "offset": where, "pvalue": pvalue,
            "expected": float(null.mean())}


def jitter_reflect(offsets: np.ndarray, limits: np.ndarray, rng: np.random.Generator, jitter: int) -> np.ndarray:
    """Each offset moved by a uniform ``-jitter..jitter`` bp, reflected back into ``[0, limit]`` (the local null)."""
    moved = np.abs(offsets + rng.integers(-jitter, jitter + 1, size=len(offsets)))
    moved = np.where(moved > limits, 2 * limits - moved, moved)
    return np.clip(moved, 0, limits)


def region_peaks(track: np.ndarray, lengths: np.ndarray, k: int) -> np.ndarray:
    """``(N,)`` the centre offset of each row's strongest ``k``-bp stretch (largest sum of ``track``; ties: first).

    Rows shorter than ``k`` get their middle.
    """
    track = np.asarray(track, dtype=np.float64)
    width = track.shape[1]
    if width < k:
        return (np.asarray(lengths) // 2).astype(np.int64)
    cumulative = np.concatenate([np.zeros((len(track), 1)), np.cumsum(track, axis=1)], axis=1)
    sums = cumulative[:, k:] - cumulative[:, :-k]  # (N, width - k + 1): stretch starting at each offset
    fits = np.arange(width - k + 1)[None, :] <= (lengths[:, None] - k)
    sums = np.where(fits, sums, -np.inf)
    starts = np.argmax(sums, axis=1)
    starts = np.where(lengths >= k, starts, 0)
    return np.minimum(starts + k // 2, np.maximum(lengths - 1, 0)).astype(np.int64)


def peaks_in_zone(peaks: np.ndarray, lengths: np.ndarray, zone: np.ndarray, rng: np.random.Generator,
                  jitter: int = 50, n_null: int = 999) -> dict:
    """Share of the regions whose peak (:func:`region_peaks`) falls in ``zone``, against local jitter of the peaks.

    Each region counts once, so a shortcut that a fraction of the regions carry is not diluted by the rest (a mean
    profile is). Null: every peak moved by a uniform ``-jitter..jitter`` bp, reflected into the region
    (:func:`jitter_reflect`); it keeps broad trends (summit-centred regions) and blurs anything pinned to the zone.

    Parameters
    ----------
    peaks, lengths
        ``(N,)`` peak offsets and region lengths (bp).
    zone
        ``(N, L)`` booleans: the bases asked about (e.g. :func:`edge_mask`).

    Returns
    -------
    dict
        ``share`` (observed), ``expected`` (null mean share), ``ratio`` (``share / expected``), ``pvalue``,
        ``rows`` (the regions whose peak is in the zone).
    """
    limits = np.maximum(np.asarray(lengths, np.int64) - 1, 0)
    index = np.arange(len(peaks))
    inside = zone[index, np.clip(peaks, 0, zone.shape[1] - 1)]
    observed = float(inside.mean()) if len(peaks) else 0.0
    null = np.array([zone[index, np.minimum(jitter_reflect(peaks, limits, rng, jitter), zone.shape[1] - 1)].mean()
                     for _ in range(n_null)]) if len(peaks) else np.zeros(1)
    expected = float(null.mean())
    ratio = observed / expected if expected > 0 else (float("inf") if observed > 0 else float("nan"))
    return {"share": observed, "expected": expected, "ratio": ratio,
            "pvalue": (1 + int((null >= observed).sum())) / (len(null) + 1), "rows": np.flatnonzero(inside)}


def column_consensus(pieces: list[str]) -> str:
    """Per-column consensus of equal-length strings: the commonest base upper case where at least half of them carry
    it, else ``n`` (e.g. ``GAATTCGCnnnn`` for a fixed 8-mer followed by random bases)."""
    if not pieces:
        return ""
    width = min(len(p) for p in pieces)
    out = []
    for column in range(width):
        base, count = Counter(p[column].upper() for p in pieces).most_common(1)[0]
        out.append(base if count >= len(pieces) / 2 else "n")
    return "".join(out)


def verbatim_regions(sequences: list[str], word: str) -> int:
    """Regions whose sequence holds ``word`` (case-insensitive) on either strand."""
    word = word.upper()
    reverse = word[::-1].translate(str.maketrans("ACGT", "TGCA"))
    return sum(1 for s in sequences if word in s.upper() or reverse in s.upper())


def verbatim_expected(sequences: list[str], word: str) -> float:
    """Regions expected to hold ``word`` on either strand by chance: independent bases at the run's composition."""
    text = "".join(sequences).upper()
    counts = np.array([text.count(b) for b in "ACGT"], dtype=np.float64)
    freq = dict(zip("ACGT", counts / max(counts.sum(), 1.0)))
    p_word = float(np.prod([freq.get(b, 0.0) for b in word.upper()]))
    p_reverse = float(np.prod([freq.get(b, 0.0) for b in word.upper()[::-1].translate(str.maketrans("ACGT", "TGCA"))]))
    return float(sum(1.0 - (1.0 - min(1.0, p_word + p_reverse)) ** max(len(s) - len(word) + 1, 0) for s in sequences))


def poisson_upper(count: int, mean: float) -> float:
    """``P(X >= count)`` for ``X ~ Poisson(mean)``: the upper tail summed term by term in log space."""
    if count <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    k = np.arange(count, count + 60 + int(10 * mean + 10 * np.sqrt(mean)))
    log_factorial = np.cumsum(np.log(np.arange(1, k[-1] + 1)))[k - 1]
    return float(min(1.0, np.exp(-mean + k * np.log(mean) - log_factorial).sum()))


def composition(one_hot: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GC fraction and CpG dinucleotides per base of each row ``(N, 4, L)`` (over called bases; NaN if none)."""
    called = one_hot.max(axis=1) > 0.5
    n_called = called.sum(axis=1)
    gc = (one_hot[:, 1] + one_hot[:, 2]).sum(axis=1) / np.maximum(n_called, 1)
    cpg = (one_hot[:, 1, :-1] * one_hot[:, 2, 1:]).sum(axis=1) / np.maximum(n_called - 1, 1)
    return np.where(n_called > 0, gc, np.nan), np.where(n_called > 1, cpg, np.nan)


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    return ranks


def spearman_permutation(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, n_null: int = 999) -> tuple[float, float]:
    """Spearman's rho of ``x`` and ``y`` (finite pairs) and its two-sided permutation p-value."""
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 5:
        return float("nan"), 1.0
    a, b = _ranks(x[keep]), _ranks(y[keep])
    a, b = a - a.mean(), b - b.mean()
    scale = np.sqrt((a * a).sum() * (b * b).sum()) + 1e-30
    rho = float((a * b).sum() / scale)
    null = np.array([(a[rng.permutation(len(a))] * b).sum() / scale for _ in range(n_null)])
    return rho, (1 + int((np.abs(null) >= abs(rho)).sum())) / (n_null + 1)


def share_inside(track: np.ndarray, mask: np.ndarray, valid: np.ndarray, lengths: np.ndarray,
                 rng: np.random.Generator, n_null: int = 199) -> dict:
    """Share of ``track`` inside ``mask`` against the mask's share of the bases, with a shift null.

    Parameters
    ----------
    track
        ``(N, L)`` non-negative per-base values (e.g. ``|contribution|``).
    mask, valid
        ``(N, L)`` booleans: the bases asked about (e.g. soft-masked) and the bases counted at all.
    rng
        Draws the null: each row's mask circularly shifted by a uniform offset (keeps the mask's runs).

    Returns
    -------
    dict
        ``base_share``, ``track_share``, ``enrichment`` (``track_share / base_share``), ``pvalue``.
    """
    mask = mask & valid
    total = float(np.where(valid, track, 0).sum())
    bases = float(valid.sum())
    if mask.sum() == 0 or total <= 0:
        return {"base_share": 0.0, "track_share": 0.0, "enrichment": float("nan"), "pvalue": 1.0}
    observed = float(track[mask].sum()) / total
    base_share = float(mask.sum()) / bases
    null = np.empty(n_null)
    rows = np.flatnonzero(mask.any(axis=1))
    sub_track, sub_valid, sub_len = track[rows], valid[rows], lengths[rows]
    rest = total - float(np.where(sub_valid, sub_track, 0).sum())
    for r in range(n_null):
        shifts = rng.integers(0, np.maximum(sub_len, 1))
        moved = _shifted(mask[rows].astype(np.float64), sub_len, shifts) > 0.5
        moved &= sub_valid
        inside = float(sub_track[moved].sum())
        null[r] = inside / max(rest + float(np.where(sub_valid, sub_track, 0).sum()), 1e-30)
    return {"base_share": base_share, "track_share": observed, "enrichment": observed / base_share,
            "pvalue": (1 + int((null >= observed).sum())) / (n_null + 1)}


def edge_mask(lengths: np.ndarray, width: int, edges: list[np.ndarray], k: int) -> np.ndarray:
    """``(N, width)`` booleans: bases within ``k`` bp of any of each row's window edges (region offsets)."""
    columns = np.arange(width)
    out = np.zeros((len(lengths), width), dtype=bool)
    rows: dict[tuple, np.ndarray] = {}  # regions of one length and strand share their edges: build each row once
    for i, row_edges in enumerate(edges):
        key = (int(lengths[i]), tuple(np.asarray(row_edges).tolist()))
        if key not in rows:
            row = np.zeros(width, dtype=bool)
            for edge in key[1]:
                row |= (columns >= edge - k) & (columns < edge + k)
            row[key[0]:] = False
            rows[key] = row
        out[i] = rows[key]
    return out


def mean_ratio(track: np.ndarray, inside: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    """Mean of ``track`` over ``inside`` bases, over ``reference`` bases, and their ratio (NaN when either is empty)."""
    if not inside.any() or not reference.any():
        return float("nan"), float("nan"), float("nan")
    a, b = float(track[inside].mean()), float(track[reference].mean())
    return a, b, a / b if b > 0 else float("inf") if a > 0 else float("nan")


def row_bootstrap_ratio(track: np.ndarray, inside: np.ndarray, reference: np.ndarray, rng: np.random.Generator,
                        n_boot: int = 199) -> float:
    """One-sided p-value that the ``inside``/``reference`` mean ratio is <= 1, by resampling regions (rows)."""
    rows = np.flatnonzero(inside.any(axis=1) & reference.any(axis=1))
    if len(rows) < 2:
        return 1.0
    t_in = np.where(inside, track, 0).sum(axis=1)[rows]
    n_in = inside.sum(axis=1)[rows]
    t_ref = np.where(reference, track, 0).sum(axis=1)[rows]
    n_ref = reference.sum(axis=1)[rows]
    below = 0
    for _ in range(n_boot):
        pick = rng.integers(0, len(rows), len(rows))
        ratio = (t_in[pick].sum() / n_in[pick].sum()) / max(t_ref[pick].sum() / n_ref[pick].sum(), 1e-30)
        below += ratio <= 1.0
    return (1 + below) / (n_boot + 1)


def retained_slope(original: np.ndarray, shuffled: np.ndarray) -> float:
    """Slope of the shuffles' mean prediction on the original prediction (0: composition explains nothing of the
    spread of predictions; 1: the shuffles keep all of it)."""
    x, y = np.asarray(original, np.float64), np.asarray(shuffled, np.float64)
    if len(x) < 3 or np.var(x) <= 0:
        return float("nan")
    return float(np.cov(x, y, bias=True)[0, 1] / np.var(x))


def half_drop_fraction(fractions: np.ndarray, deletion: np.ndarray) -> tuple[float, float]:
    """The smallest deleted fraction at which a deletion curve has made half of its full drop, and that drop.

    Parameters
    ----------
    fractions, deletion
        ``(K,)`` deleted fractions (increasing, from 0) and the mean target there (``seqsal evaluate``'s
        ``evaluation_curves.tsv``).

    Returns
    -------
    tuple
        ``(fraction, drop)``: ``drop = deletion[0] - min(deletion)``; ``(nan, drop)`` when ``drop <= 0``.
    """
    fractions, deletion = np.asarray(fractions, np.float64), np.asarray(deletion, np.float64)
    drop = float(deletion[0] - deletion.min()) if len(deletion) else 0.0
    if drop <= 0:
        return float("nan"), drop
    reached = np.flatnonzero(deletion[0] - deletion >= 0.5 * drop)
    return float(fractions[reached[0]]), drop


def top_bases(scores: np.ndarray, lengths: np.ndarray, fraction: float) -> np.ndarray:
    """``(N, L)`` booleans: the ``ceil(fraction * length)`` bases of each row with the largest score.

    The ranking of ``seqsal evaluate``'s deletion curve (decreasing score, ties by position); rows past their
    length never count.
    """
    n, width = scores.shape
    inside = np.arange(width)[None, :] < lengths[:, None]
    order = np.argsort(-np.where(inside, scores, -np.inf), axis=1, kind="stable")
    rank = np.empty_like(order)
    rank[np.arange(n)[:, None], order] = np.arange(width)[None]
    counts = np.ceil(fraction * lengths).astype(np.int64)
    return (rank < counts[:, None]) & inside


def unexplained_share(contribution: np.ndarray, top: np.ndarray, explained: np.ndarray, rng: np.random.Generator,
                      threshold: float, n_boot: int = 199) -> dict:
    """Share of the positive contribution on the ``top`` bases that lies outside the ``explained`` bases.

    Parameters
    ----------
    contribution
        ``(N, L)`` signed per-base contribution (only its positive part counts: what deletion removes).
    top, explained
        ``(N, L)`` booleans: the bases the deletion curve removes first (:func:`top_bases`) and the bases inside
        database-matched motif instances.
    rng
        Resamples regions for the p-value.
    threshold
        The p-value is the bootstrap share of region resamples whose unexplained share is below ``threshold``.

    Returns
    -------
    dict
        ``gap`` (unexplained share, 0-1; NaN when the top bases carry no positive contribution), ``pvalue``,
        ``explained_bases`` (share of the top bases inside ``explained``), ``regions`` (rows with any).
    """
    positive = np.where(top, np.clip(contribution, 0, None), 0.0)
    total = positive.sum(axis=1)
    inside = np.where(explained, positive, 0.0).sum(axis=1)
    rows = np.flatnonzero(total > 0)
    if len(rows) == 0:
        return {"gap": float("nan"), "pvalue": 1.0, "explained_bases": float("nan"), "regions": 0}
    gap = 1.0 - float(inside[rows].sum() / total[rows].sum())
    below = 0
    for _ in range(n_boot):
        pick = rows[rng.integers(0, len(rows), len(rows))]
        below += 1.0 - inside[pick].sum() / total[pick].sum() < threshold
    return {"gap": gap, "pvalue": (1 + below) / (n_boot + 1),
            "explained_bases": float((top & explained).sum() / max(top.sum(), 1)), "regions": int(len(rows))}


def log_odds(pwm: np.ndarray, pseudo: float = 1e-3) -> np.ndarray:
    """``(4, w)`` log2 odds of a letter-probability matrix against a uniform background (``pseudo`` added)."""
    pwm = np.asarray(pwm, np.float64) + pseudo
    return np.log2(pwm / pwm.sum(axis=0, keepdims=True) / 0.25)


def score_threshold(matrix: np.ndarray, pvalue: float, resolution: float = 0.05) -> float:
    """The log-odds score a uniform-background ``w``-mer reaches with probability at most ``pvalue``.

    The exact distribution of the score (rounded to ``resolution`` bits) by dynamic programming over the columns,
    as FIMO (Grant et al. 2011) and TFM-Pvalue (Touzet & Varre 2007) compute it.
    """
    steps = np.round(np.asarray(matrix) / resolution).astype(np.int64)
    low = steps.min(axis=0)
    shifted = steps - low
    dist = np.array([1.0])
    for column in shifted.T:
        grown = np.zeros(len(dist) + int(column.max()))
        for value in column:
            grown[value:value + len(dist)] += 0.25 * dist
        dist = grown
    tail = np.cumsum(dist[::-1])[::-1]  # P(score >= k)
    passing = np.flatnonzero(tail <= pvalue)
    k = int(passing[0]) if len(passing) else len(dist)
    return (k + int(low.sum())) * resolution


def motif_hit_mask(one_hot: np.ndarray, matrices: list[np.ndarray], thresholds: list[float]) -> np.ndarray:
    """``(N, L)`` booleans: bases covered by a hit (score >= threshold) of any log-odds matrix, either strand.

    Parameters
    ----------
    one_hot
        ``(N, 4, L)`` (columns with no base set never score).
    matrices, thresholds
        ``(4, w)`` log-odds matrices (:func:`log_odds`) and their score thresholds (:func:`score_threshold`).
    """
    n, _, width = one_hot.shape
    called = one_hot.max(axis=1) > 0.5
    codes = np.where(called, one_hot.argmax(axis=1), 4)
    covered = np.zeros((n, width), dtype=bool)
    for matrix, threshold in zip(matrices, thresholds):
        w = matrix.shape[1]
        if w > width:
            continue
        for strand in (matrix, matrix[::-1, ::-1]):
            table = np.vstack([strand, np.full((1, w), -1e9)])  # N: never a hit
            score = np.zeros((n, width - w + 1))
            for j in range(w):
                score += table[codes[:, j:j + width - w + 1], j]
            hits = score >= threshold
            for j in range(w):
                covered[:, j:j + width - w + 1] |= hits
    return covered


def instance_mask(rows: np.ndarray, width: int, region_index: np.ndarray, offsets: np.ndarray,
                  widths: np.ndarray) -> np.ndarray:
    """``(len(rows), width)`` booleans: the bases of motif instances (``offsets`` in reading direction, ``widths``)
    of the regions ``rows`` (instances of other regions are skipped)."""
    out = np.zeros((len(rows), width), dtype=bool)
    where = {int(r): i for i, r in enumerate(rows)}
    for region, offset, size in zip(region_index, offsets, widths):
        if int(region) in where:
            out[where[int(region)], max(int(offset), 0):int(offset) + int(size)] = True
    return out


def edge_consensus(sequences: list[str], first: np.ndarray, k: int) -> tuple[str, str]:
    """The side most of ``sequences`` peak at (``first`` or ``last``) and the :func:`column_consensus` of their
    first (or last) ``k`` bases."""
    side = "first" if np.mean(first) >= 0.5 else "last"
    pieces = [s[:k] if side == "first" else s[-k:] for s, at_first in zip(sequences, first)
              if at_first == (side == "first")]
    return side, column_consensus(pieces)


def edge_note(offset: int, limit: int, k: int) -> str:
    """A note (`` (at the region's start edge)``) when an offset sits within ``k`` bp of either end, else ``""``."""
    if offset <= k:
        return " (at the region's start edge)" if offset == 0 else f" ({offset} bp from the region's start edge)"
    if offset >= limit - k:
        return f" ({limit - offset} bp from the region's end edge)"
    return ""
