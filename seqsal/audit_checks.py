"""The statistics of ``seqsal audit``: pure numpy over per-base tracks, offsets and per-region values.

Each function takes arrays (no files, no model) and returns plain numbers, so that every check can be tested on
hand-made arrays whose answer is known. The check modules (:mod:`seqsal.audit_position`,
:mod:`seqsal.audit_composition`, :mod:`seqsal.audit_edges`) call these on what :mod:`seqsal.audit_inputs` read and
turn the numbers into verdicts; check 5's statistics are in :mod:`seqsal.audit_scan`.

Speed (issue 17: the audit of a 5-Mbp folder within 10 % of its attribution): the null replicates are computed
without copying the track once per replicate (:class:`_ShiftedProfiles`, the jitter nulls drawn ``_BATCH`` at a
time, which draws the same random numbers as one call per replicate), with results equal to the direct
computation up to float rounding (tests/test_audit_speed.py).

Conventions: a *track* is ``(N, L)`` float (one row per region, zero-padded on the right past ``lengths[i]``),
in the region's reading direction (what the model saw: minus-strand rows reverse-complemented, :func:`orient`). Every
null is a permutation null with ``(1 + #{null >= observed}) / (R + 1)`` p-values (never 0).
"""
from __future__ import annotations

from collections import Counter

import numpy as np

_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)
_ROWS = 256  # rows of a track processed at once where a float64 copy of the whole track is not needed
_BATCH = 100  # null replicates drawn and computed at once (their random numbers are those of one call each)


def orient(track: np.ndarray, lengths: np.ndarray, minus: np.ndarray) -> np.ndarray:
    """Each minus-strand row of ``track`` in the model's reading direction: the reverse complement the engine fed.

    ``(N, L)`` per-position values are reversed within each row's length; ``(N, 4, L)`` arrays (one-hot or
    hypothetical contributions, channels A, C, G, T) are also complemented (channels reversed: A <-> T, C <-> G).
    Rows keep their zero padding.
    """
    out = np.array(track, copy=True)
    for i in np.flatnonzero(minus):
        n = int(lengths[i])
        row = track[i, ..., :n][..., ::-1]
        out[i, ..., :n] = row[::-1] if track.ndim == 3 else row
    return out


def decode_rows(one_hot: np.ndarray, lengths: np.ndarray) -> list[str]:
    """Sequences of one-hot rows ``(N, 4, L)`` (A, C, G, T; a column with no base set is ``N``), each cut to its length."""
    called = one_hot.max(axis=1) > 0.5
    codes = np.where(called, one_hot.argmax(axis=1), 4)
    return [_LETTERS[codes[i, :int(lengths[i])]].tobytes().decode() for i in range(len(codes))]


def decode_codes(codes: np.ndarray, lengths: np.ndarray) -> list[str]:
    """Sequences of base-code rows ``(N, L)`` (0-3 for A, C, G, T; 4 for ``N``), each cut to its length."""
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


class _ShiftedProfiles:
    """``_binned_profile(_shifted(track, lengths, shifts), ...)`` for many ``shifts``, without shifting the track.

    Within a bin, the per-offset mean divides each column's sum by the rows covering it, which changes only at a
    region length; so the columns are cut into segments at the bin edges and at every length, and a segment's sum
    over the shifted rows is a difference of each row's prefix sums over the row laid twice end to end (a circular
    window). Each replicate then costs ``rows x segments`` look-ups instead of ``rows x L``; equal to the direct
    computation up to rounding. With more segments than a quarter of the columns it shifts the track directly.
    """

    def __init__(self, track: np.ndarray, lengths: np.ndarray, bin_bp: int, min_cover: int):
        self.track, self.lengths, self.bin_bp, self.min_cover = track, lengths, bin_bp, min_cover
        n, width = track.shape
        self.n_bins = int(np.ceil(width / bin_bp))
        cuts = np.unique(np.concatenate([np.arange(0, width, bin_bp), lengths[(lengths > 0) & (lengths < width)],
                                         [width]]))
        self.direct = len(cuts) - 1 > max(width // 4, self.n_bins) or n == 0
        if self.direct:
            return
        self.start, self.size = cuts[:-1], np.diff(cuts)
        cover = (np.arange(width)[None, :] < lengths[:, None]).sum(axis=0)
        mean_weight = np.where(cover >= min_cover, 1.0 / np.maximum(cover, 1), np.nan)[self.start]
        self.weight = mean_weight / bin_bp
        self.bin_of = self.start // bin_bp
        full = np.zeros(self.n_bins * bin_bp, dtype=bool)
        full[:width] = cover >= min_cover
        self.full = full.reshape(self.n_bins, bin_bp).all(axis=1)
        self.inside = self.start[None, :] + self.size[None, :] <= lengths[:, None]  # (n, segments)
        columns = np.arange(2 * width)[None, :]
        lens = np.maximum(lengths, 1)[:, None]
        source = np.minimum(columns % lens, width - 1)
        doubled = np.where(columns < 2 * lengths[:, None], np.take_along_axis(track, source, axis=1), 0.0)
        prefix = np.concatenate([np.zeros((n, 1)), np.cumsum(doubled, axis=1)], axis=1)
        self.rows = np.arange(n)[:, None]
        self.everywhere = bool(self.inside.all())
        self.groups = [(np.flatnonzero(self.size == size), prefix[:, size:] - prefix[:, :-size])  # window sums
                       for size in np.unique(self.size).tolist()]

    def __call__(self, shifts: np.ndarray) -> np.ndarray:
        """``(n_bins,)`` binned profile of the track with row ``i`` circularly shifted by ``shifts[i]``."""
        if self.direct:
            return _binned_profile(_shifted(self.track, self.lengths, shifts), self.lengths, self.bin_bp,
                                   self.min_cover)
        lens = np.maximum(self.lengths, 1)[:, None]
        sums = np.empty(len(self.start))
        for segments, windows in self.groups:
            window = windows[self.rows, (self.start[segments][None, :] - shifts[:, None]) % lens]
            if not self.everywhere:
                window = np.where(self.inside[:, segments], window, 0.0)
            sums[segments] = window.sum(axis=0)
        binned = np.bincount(self.bin_of, weights=sums * self.weight, minlength=self.n_bins)
        return np.where(self.full, binned, np.nan)


def positional_concentration(track: np.ndarray, lengths: np.ndarray, rng: np.random.Generator, bin_bp: int = 10,
                             jitter: int = 50, n_null: int = 99, max_rows: int = 3000) -> dict:
    """Is ``track`` (e.g. ``|contribution|``) sharply concentrated at fixed offsets of the regions?

    The profile (mean per offset over regions, in ``bin_bp`` bins) is compared with a *local-shift null*: each
    row circularly shifted by a random ``1..jitter`` bp either way. The null keeps broad trends (regions centred on
    summits hold their motifs near the centre) and the structure within each row, but blurs anything pinned to one
    offset. Statistic: the largest ratio of a bin to its null mean (floored at half the median bin's null mean);
    p-value: against the same maximum over the null replicates (so corrected over all bins).

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
    shifted = _ShiftedProfiles(track, lengths, bin_bp, min_cover)
    nulls = []
    for _ in range(n_null):
        shifts = rng.integers(1, jitter + 1, size=len(track)) * rng.choice([-1, 1], size=len(track))
        nulls.append(shifted(shifts))
    nulls = np.array(nulls)
    null_mean = nulls.mean(axis=0)
    # a bin's null mean is floored at half the median bin's: on a sparse map the flanks' bins hold almost nothing,
    # and dividing by that made every null replicate's maximum large (fresh25: a fixed-offset adapter, p 0.07)
    floor = 0.5 * np.nanmedian(null_mean) + 1e-30
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
    bins = int(limits.max()) + window + 1
    for first in range(0, n_null, _BATCH):  # the replicates' draws in one call: the stream of one call each
        moved = jitter_reflect(offsets, limits, rng, jitter, replicates=min(_BATCH, n_null - first))
        counts = np.bincount((moved + bins * np.arange(len(moved))[:, None]).ravel(), minlength=bins * len(moved))
        running = np.concatenate([np.zeros((len(moved), 1), np.int64), np.cumsum(counts.reshape(-1, bins), axis=1)],
                                 axis=1)
        null[first:first + len(moved)] = (running[:, window:] - running[:, :-window]).max(axis=1)
    pvalue = (1 + int((null >= count).sum())) / (n_null + 1)
    return {"count": count, "share": count / len(offsets), "offset": where, "pvalue": pvalue,
            "expected": float(null.mean())}


def jitter_reflect(offsets: np.ndarray, limits: np.ndarray, rng: np.random.Generator, jitter: int,
                   replicates: int | None = None) -> np.ndarray:
    """Each offset moved by a uniform ``-jitter..jitter`` bp, reflected back into ``[0, limit]`` (the local null).

    ``replicates``: that many draws at once, ``(replicates, M)`` (the same numbers as as many calls one by one).
    """
    size = len(offsets) if replicates is None else (replicates, len(offsets))
    moved = np.abs(offsets + rng.integers(-jitter, jitter + 1, size=size))
    moved = np.where(moved > limits, 2 * limits - moved, moved)
    return np.clip(moved, 0, limits)


def flat_rows(track: np.ndarray, valid: np.ndarray, rtol: float = 1e-6) -> np.ndarray:
    """``(N,)`` rows of ``track`` that are the same on every ``valid`` base (within ``rtol`` of their largest
    magnitude), or have no valid base: an all-zero map (a ReLU-gated or max-pooled model's inactive windows) or a
    constant one (a model of composition alone) has no strongest stretch; :func:`region_peaks` would place its
    peak at the first offset (fresh25: 53 all-zero regions read as a window-edge shortcut)."""
    flat = np.empty(len(track), dtype=bool)
    for first in range(0, len(track), _ROWS):
        block = slice(first, min(first + _ROWS, len(track)))
        values, keep = np.asarray(track[block], dtype=np.float64), valid[block]
        high = np.where(keep, values, -np.inf).max(axis=1)
        low = np.where(keep, values, np.inf).min(axis=1)
        with np.errstate(invalid="ignore"):
            flat[block] = ~keep.any(axis=1) | (high - low <= rtol * np.maximum(np.abs(high), np.abs(low)))
    return flat


def region_peaks(track: np.ndarray, lengths: np.ndarray, k: int) -> np.ndarray:
    """``(N,)`` the centre offset of each row's strongest ``k``-bp stretch (largest sum of ``track``; ties: first).

    Rows shorter than ``k`` get their middle.
    """
    width = track.shape[1]
    lengths = np.asarray(lengths)
    if width < k:
        return (lengths // 2).astype(np.int64)
    starts = np.empty(len(track), dtype=np.int64)
    cumulative = np.zeros((min(_ROWS, len(track)), width + 1))
    for first in range(0, len(track), _ROWS):  # blocks of rows: the same sums, in memory that stays in cache
        block = slice(first, min(first + _ROWS, len(track)))
        rows = block.stop - block.start
        np.cumsum(np.asarray(track[block], dtype=np.float64), axis=1, out=cumulative[:rows, 1:])
        sums = cumulative[:rows, k:] - cumulative[:rows, :-k]  # (rows, width - k + 1): stretch from each offset
        fits = np.arange(width - k + 1)[None, :] <= (lengths[block, None] - k)
        starts[block] = np.argmax(np.where(fits, sums, -np.inf), axis=1)
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
    null = np.concatenate([zone[index, np.minimum(jitter_reflect(peaks, limits, rng, jitter, replicates=min(
        _BATCH, n_null - first)), zone.shape[1] - 1)].mean(axis=1) for first in range(0, n_null, _BATCH)]) \
        if len(peaks) else np.zeros(1)
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
    rows = np.flatnonzero(mask.any(axis=1))
    sub_track, sub_valid, sub_len = track[rows], valid[rows], lengths[rows]
    rest = total - float(np.where(sub_valid, sub_track, 0).sum())
    denominator = max(rest + float(np.where(sub_valid, sub_track, 0).sum()), 1e-30)
    shifts = rng.integers(0, np.broadcast_to(np.maximum(sub_len, 1), (n_null, len(rows))))  # = a call per replicate
    null = _shifted_mask_sums(sub_track, mask[rows], sub_valid, sub_len, shifts) / denominator
    inside = np.arange(track.shape[1])[None, :] < sub_len[:, None]
    whole = (mask[rows] == inside).all(axis=1)  # rows masked end to end: any shift leaves them as they are
    for r in np.flatnonzero(((shifts == 0) | whole[None, :]).all(axis=1)):  # nothing moved: the observed sum,
        null[r] = float(sub_track[mask[rows] & sub_valid].sum()) / denominator  # summed as the direct null sums it
    return {"base_share": base_share, "track_share": observed, "enrichment": observed / base_share,
            "pvalue": (1 + int((null >= observed).sum())) / (n_null + 1)}


def _shifted_mask_sums(track: np.ndarray, mask: np.ndarray, valid: np.ndarray, lengths: np.ndarray,
                       shifts: np.ndarray) -> np.ndarray:
    """``(R,)`` the sum of ``track`` over the valid bases of ``mask`` with row ``i`` circularly shifted by
    ``shifts[r, i]`` within its length, for each replicate ``r``.

    A shifted run of the mask covers a circular window of the row, so each replicate costs two look-ups per run in
    the prefix sums of the row laid twice end to end (instead of shifting an ``(N, L)`` mask: a 5,000-region
    folder half soft-masked took 25 s of CPU for the 199 replicates, now 0.5 s). Equal to the direct sums up to
    float rounding (those summed float32 values in float32).
    """
    width = track.shape[1]
    columns = np.arange(2 * width)[None, :]
    sums = np.zeros(len(shifts))
    for first in range(0, len(track), _ROWS):
        block = slice(first, first + _ROWS)
        length = np.maximum(lengths[block], 1)[:, None]
        kept = np.where(valid[block], track[block], 0.0).astype(np.float64)
        doubled = np.where(columns < 2 * lengths[block, None], np.take_along_axis(kept, columns % length, axis=1), 0.0)
        prefix = np.zeros((len(doubled), 2 * width + 1))
        np.cumsum(doubled, axis=1, out=prefix[:, 1:])
        edges = np.diff(mask[block].astype(np.int8), prepend=0, append=0, axis=1)
        run_row, run_start = np.nonzero(edges == 1)
        size = np.nonzero(edges == -1)[1] - run_start
        start = (run_start[None, :] + shifts[:, first + run_row]) % length[run_row, 0][None, :]  # (R, runs)
        sums += (prefix[run_row[None, :], start + size[None, :]] - prefix[run_row[None, :], start]).sum(axis=1)
    return sums


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
