"""Motifs: MEME minimal-format reading and writing.

A motif's matrix is ``(4, W)`` with rows ``A, C, G, T`` (the one-hot layout),
columns summing to 1 for a PWM (letter-probability matrix).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError
from .io import npz_members

if TYPE_CHECKING:  # pandas is imported where it is used: `import seqsal.motifs` stays light
    import pandas as pd


@dataclass
class Motif:
    """A named motif.

    Attributes
    ----------
    identifier, name
        As in the MEME ``MOTIF <identifier> <name>`` line.
    pwm
        ``(4, W)`` letter probabilities (rows A, C, G, T).
    nsites
        Number of sites the matrix was built from (0 if unknown).
    extra
        Other matrices keyed by name (e.g. ``cwm``), ``(4, W)`` each.
    """

    identifier: str
    name: str
    pwm: np.ndarray
    nsites: int = 0
    url: str = ""
    extra: dict = field(default_factory=dict)


def read_meme(path: str | os.PathLike) -> list[Motif]:
    """Read every motif of a MEME minimal-format file (version 4, DNA alphabet)."""
    path = str(path)
    if not os.path.isfile(path):
        raise InputError("motif file not found", path)
    motifs: list[Motif] = []
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("MOTIF"):
            parts = line.split()
            if len(parts) < 2:
                raise InputError("MOTIF line without an identifier", path, i + 1)
            identifier = parts[1]
            name = parts[2] if len(parts) > 2 else parts[1]
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("letter-probability"):
                if lines[i].strip().startswith("MOTIF"):
                    raise InputError(f"motif {identifier} has no letter-probability matrix", path, i + 1)
                i += 1
            if i == len(lines):
                raise InputError(f"motif {identifier} has no letter-probability matrix", path)
            header = lines[i].replace("=", " = ").split()
            settings = {header[k - 1]: header[k + 1] for k, token in enumerate(header) if token == "=" and k + 1 < len(header)}
            width = int(float(settings.get("w", 0)))
            nsites = int(float(settings.get("nsites", 0)))
            rows = []
            i += 1
            while i < len(lines) and len(rows) < (width or 10**9):
                text = lines[i].strip()
                if not text:
                    if width == 0 and rows:
                        break
                    i += 1
                    continue
                if text.startswith(("MOTIF", "URL")):
                    break
                try:
                    values = [float(value) for value in text.split()]
                except ValueError:
                    raise InputError(f"motif {identifier}: matrix row {text!r} is not 4 numbers", path, i + 1) from None
                if len(values) != 4:
                    raise InputError(f"motif {identifier}: matrix row has {len(values)} values, expected 4", path, i + 1)
                rows.append(values)
                i += 1
            if width and len(rows) != width:
                raise InputError(f"motif {identifier}: w= {width} but {len(rows)} rows", path, i)
            url = ""
            if i < len(lines) and lines[i].strip().startswith("URL"):
                url = lines[i].strip()[3:].strip()
                i += 1
            motifs.append(Motif(identifier, name, np.asarray(rows, dtype=np.float64).T.copy(), nsites, url))
            continue
        i += 1
    if not motifs:
        raise InputError("no MOTIF found; is this a MEME minimal-format file?", path)
    return motifs


def format_meme(motifs: list[Motif], background: tuple[float, float, float, float] = (0.25, 0.25, 0.25, 0.25)) -> str:
    """MEME minimal-format text (version 4) of ``motifs``; probabilities with 6 decimals."""
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "", "Background letter frequencies",
             "A {:.3f} C {:.3f} G {:.3f} T {:.3f}".format(*background), ""]
    for motif in motifs:
        pwm = np.asarray(motif.pwm, dtype=np.float64)
        lines.append(f"MOTIF {motif.identifier} {motif.name}".rstrip())
        lines.append(f"letter-probability matrix: alength= 4 w= {pwm.shape[1]} nsites= {motif.nsites} E= 0")
        lines += [" ".join(f"{value:.6f}" for value in column) for column in pwm.T]
        if motif.url:
            lines.append(f"URL {motif.url}")
        lines.append("")
    return "\n".join(lines)


def write_meme(path: str | os.PathLike, motifs: list[Motif]) -> None:
    """Write ``motifs`` in MEME minimal format (atomically)."""
    from .io import write_text_atomic

    write_text_atomic(path, format_meme(motifs))


# ---------------------------------------------------------------------------
# Run-folder inputs: the attribution arrays and the seqlet table
# ---------------------------------------------------------------------------

SEQLET_COLUMNS = ("region_index", "offset_start", "offset_end")


def read_seqlet_table(path: str | os.PathLike) -> "pd.DataFrame":
    """Read ``seqlets.tsv``/``elements.tsv`` and check the columns discovery needs.

    Returns
    -------
    pandas.DataFrame
        At least ``region_index``, ``offset_start``, ``offset_end`` (ints, within
        the region's npz row) and ``sign`` (``+``/``-``; derived from ``score``
        when absent); calls that repeat another of an overlapping region
        (``duplicate_of``) are left out.
    """
    import pandas as pd

    from .peaks import unique_calls

    path = str(path)
    if not os.path.isfile(path):
        raise InputError("seqlet table not found; run `seqsal call-peaks` (or `seqsal attribute`) first", path)
    table = pd.read_csv(path, sep="\t")
    missing = [column for column in SEQLET_COLUMNS if column not in table]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", path)
    if "sign" not in table:
        scores = table["score"] if "score" in table else pd.Series(np.ones(len(table)))
        table["sign"] = np.where(scores.to_numpy() < 0, "-", "+")
    bad = table.index[(table["offset_end"] <= table["offset_start"]) | (table["offset_start"] < 0)]
    if len(bad):
        raise InputError(f"offset_end must be > offset_start >= 0 (first bad row {int(bad[0]) + 2})", path, int(bad[0]) + 2)
    return unique_calls(table).reset_index(drop=True)


def extract_windows(
    arrays: list[np.ndarray], lengths: np.ndarray, rows: np.ndarray, starts: np.ndarray, width: int,
    rc: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Cut ``width``-long windows out of ``(N, 4, L)`` arrays, zero outside each row's true length.

    Parameters
    ----------
    arrays
        ``(N, 4, L)`` arrays (e.g. one-hot and hypothetical), read lazily.
    lengths
        ``(N,)`` true length of each row.
    rows, starts
        ``(n,)`` row index and first position of each window (may run past either end).
    rc
        ``(n,)`` bool: reverse-complement the window (flip channels and positions).

    Returns
    -------
    list of np.ndarray
        One ``(n, 4, width)`` float32 array per input array.
    """
    rows = np.asarray(rows, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    outs = [np.zeros((len(rows), 4, width), dtype=np.float32) for _ in arrays]
    order = np.argsort(rows, kind="stable")
    for i in order:
        row, start = rows[i], starts[i]
        lo, hi = max(start, 0), min(start + width, int(lengths[row]))
        if hi <= lo:
            continue
        for out, array in zip(outs, arrays):
            out[i, :, lo - start:hi - start] = array[row, :, lo:hi]
    if rc is not None and np.any(rc):
        flip = np.asarray(rc, dtype=bool)
        for out in outs:
            out[flip] = out[flip][:, ::-1, ::-1]
    return outs


# ---------------------------------------------------------------------------
# Aligned similarity: best cosine over offsets and both strands (torch conv1d)
# ---------------------------------------------------------------------------


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
        Windows are scored in passes whose score tensors hold about this many floats (bounded memory).

    Returns
    -------
    similarity, offset, rc
        ``(n, K)`` each: the best cosine; the template's first position in the
        window's forward coordinates; whether the window's reverse complement
        matched (then the aligned stretch is ``window[offset:offset+C]``
        reverse-complemented).
    """
    import torch

    templates = np.asarray(templates, dtype=np.float32)
    k, _, c = templates.shape
    n, _, w = windows.shape
    weight = torch.from_numpy(templates)
    norms = weight.flatten(1).norm(dim=1).clamp_min(1e-12)
    ones = torch.ones(1, 4, c)
    similarity = np.empty((n, k), dtype=np.float32)
    offset = np.empty((n, k), dtype=np.int64)
    rc = np.empty((n, k), dtype=bool)
    positions = w - c + 1
    # windows per pass: the (2 x chunk, K, positions) score tensors stay ~chunk_values floats (32 MB) each
    chunk = max(1, min(n, chunk_values // max(1, 2 * k * positions)))
    with torch.no_grad():
        for lo in range(0, n, chunk):
            x = torch.from_numpy(np.ascontiguousarray(windows[lo:lo + chunk], dtype=np.float32))
            both = torch.cat([x, torch.flip(x, dims=(1, 2))])  # (2b, 4, W)
            dots = torch.nn.functional.conv1d(both, weight)  # (2b, K, P)
            seg = torch.nn.functional.conv1d(both * both, ones).sqrt().clamp_min(1e-12)  # (2b, 1, P)
            cosine = dots / seg / norms[None, :, None]
            b = x.shape[0]
            cosine = torch.cat([cosine[:b], cosine[b:]], dim=2)  # (b, K, 2P): forward then reverse
            best, where = cosine.max(dim=2)
            where = where.numpy()
            is_rc = where >= positions
            pos = np.where(is_rc, where - positions, where)
            similarity[lo:lo + b] = best.numpy()
            rc[lo:lo + b] = is_rc
            offset[lo:lo + b] = np.where(is_rc, w - c - pos, pos)
    return similarity, offset, rc


def mutual_neighbours(similarity: np.ndarray, k: int) -> np.ndarray:
    """Mutual ``k``-nearest-neighbour graph ``(n, n)`` bool of a symmetric similarity matrix (no self-edges).

    ``i`` and ``j`` are joined when each is among the other's ``k`` most
    similar items. A seqlet of a weak motif is moderately similar to many
    seqlets of strong motifs, but its own kind are its nearest neighbours and it
    is theirs; a hub (a strong motif's seqlet, similar to everything) is not
    among the nearest neighbours of most of its look-alikes, so it cannot
    absorb them into its cluster as a fixed similarity threshold does.
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
# Motifs from aligned seqlets: CWM, PWM, trimming
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
    """

    name: str
    sign: str
    cwm: np.ndarray
    hypothetical_cwm: np.ndarray
    pwm: np.ndarray
    n_seqlets: int
    instances: "pd.DataFrame"

    @property
    def consensus(self) -> str:
        return consensus(self.pwm)

    def to_motif(self) -> Motif:
        return Motif(f"seqsal_{self.name}", self.consensus, self.pwm, self.n_seqlets,
                     extra={"cwm": self.cwm, "hypothetical_cwm": self.hypothetical_cwm})


def consensus(pwm: np.ndarray, min_probability: float = 0.5) -> str:
    """Consensus of a ``(4, W)`` PWM: the most likely base, lowercase under ``min_probability``."""
    pwm = np.asarray(pwm)
    letters = np.array(list("ACGT"))[pwm.argmax(axis=0)]
    strong = pwm.max(axis=0) >= min_probability
    return "".join(letter if keep else letter.lower() for letter, keep in zip(letters, strong))


def information_content(pwm: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
    """Per-letter information content ``(4, W)``: ``p * (log2(p / b))`` summed per column, split by ``p``.

    This is the letter height of a PWM logo (column total in bits, at most 2 for DNA).
    """
    pwm = np.asarray(pwm, dtype=np.float64)
    background = np.full(4, 0.25) if background is None else np.asarray(background, dtype=np.float64)
    safe = np.clip(pwm, 1e-12, None)
    bits = (safe * np.log2(safe / background[:, None])).sum(axis=0)
    return pwm * np.clip(bits, 0, None)[None, :]


def reverse_complement_matrix(matrix: np.ndarray) -> np.ndarray:
    """Reverse complement of a ``(4, W)`` matrix with rows ``A, C, G, T``."""
    return np.ascontiguousarray(np.asarray(matrix)[::-1, ::-1])


def trim_bounds(cwm: np.ndarray, threshold: float = 0.3, pad: int = 0, sign: int = 0) -> tuple[int, int]:
    """``[lo, hi)`` from the first to the last important column, plus ``pad``.

    A column is important when its importance is >= ``threshold`` x the
    largest: its summed ``|cwm|`` (``sign=0``), or its contribution of that
    sign, ``max(sign * cwm.sum(0), 0)`` (``sign=+1/-1``: a negative motif is not
    trimmed to include a stronger positive site next to it).
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
    """Start of the ``width``-long stretch of a ``(4, L)`` contribution matrix with the most importance
    (summed ``|value|``, or contribution of ``sign``; see :func:`trim_bounds`)."""
    importance = _importance(projected, sign)
    sums = np.convolve(importance, np.ones(width), mode="valid")
    return int(np.argmax(sums))


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
    to its best template (if >= ``assign_threshold``) for ``iterations``
    rounds, templates re-centred on their most important ``core`` bp and merged
    when two are more similar than ``merge_threshold``. Motifs keep ``flank``
    bp of context on each side before trimming to the columns carrying at least
    ``trim_threshold`` of the top column's contribution of the motif's sign. A
    cluster is kept as a motif when its trimmed CWM has the sign of its seqlets
    (not a stronger site of the other sign next to them) and at least
    ``min_strong_columns`` columns where one base has probability >= 0.5 (a
    cluster of weak contributions on no consistent sequence is not a motif).
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
    max_motifs: int = 50
    min_strong_columns: int = 3
    neighbours: int = 15
    seed_degree: int = 8
    seed_rounds: int = 3
    reseed_below: float = 0.6
    reseed_distinct: float = 0.5
    seed: int = 0


def discover_motifs(
    one_hot: np.ndarray,
    hypothetical: np.ndarray,
    lengths: np.ndarray,
    seqlets: "pd.DataFrame",
    options: DiscoveryOptions | None = None,
    progress: bool = False,
) -> list[DiscoveredMotif]:
    """Cluster seqlets into motifs, separately for positive and negative seqlets.

    Parameters
    ----------
    one_hot, hypothetical
        ``(N, 4, L)`` arrays of a run (memory maps are fine: only seqlet windows are read).
    lengths
        ``(N,)`` true length of each row.
    seqlets
        Table with ``region_index``, ``offset_start``, ``offset_end`` and ``sign``.
    options
        :class:`DiscoveryOptions`.

    Returns
    -------
    list of DiscoveredMotif
        Positive motifs first, each sign by decreasing number of seqlets.
    """
    options = options or DiscoveryOptions()
    motifs: list[DiscoveredMotif] = []
    for sign, prefix in (("+", "pos"), ("-", "neg")):
        subset = seqlets.index[seqlets["sign"].astype(str) == sign].to_numpy()
        if len(subset) < options.min_seqlets:
            continue
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


def _dedupe(cluster: np.ndarray, rows: np.ndarray, starts: np.ndarray, score: np.ndarray, gap: int) -> np.ndarray:
    """Mask keeping, among seqlets placed on the same instance (same cluster, row, start within ``gap``), the best one."""
    keep = cluster >= 0
    order = np.lexsort((-score, starts, rows, cluster))
    last = (-2, -1, -(10**9))
    last_index = -1
    for i in order:
        if cluster[i] < 0:
            continue
        key = (cluster[i], rows[i])
        if key == last[:2] and starts[i] - last[2] < gap:
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
    cluster[~_dedupe(cluster, rows, starts, score, options.core // 2)] = -1
    return cluster, starts, is_rc, score


def _seed_templates(pool: np.ndarray, rng: np.random.Generator, arrays, lengths, rows, window_starts, hyp_windows,
                    options: "DiscoveryOptions", sign: int) -> np.ndarray:
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


def _discover_one_sign(one_hot, hypothetical, lengths, seqlets, options, progress,
                       sign: int) -> list[DiscoveredMotif]:
    import pandas as pd

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
        lo, hi = trim_bounds(projected, options.trim_threshold, sign=sign)
        if sign * projected[:, lo:hi].sum() <= 0:  # aligned on a site of the other sign: not a motif of this sign
            continue
        counts = oh[:, :, lo:hi].sum(axis=0)
        pwm = (counts + 0.5) / (counts.sum(axis=0, keepdims=True) + 2.0)
        if int((pwm.max(axis=0) >= 0.5).sum()) < options.min_strong_columns:
            continue
        first = np.where(is_rc[members], starts[members] + core + flank - hi, starts[members] - flank + lo)
        flip = is_rc[members].mean() > 0.5
        cwm, hcwm = projected[:, lo:hi], hyp.mean(axis=0)[:, lo:hi]
        if flip:
            cwm, hcwm, pwm = (reverse_complement_matrix(m) for m in (cwm, hcwm, pwm))
        instances = pd.DataFrame({
            "seqlet": seqlets.index.to_numpy()[members], "region_index": rows[members], "start": first,
            "end": first + (hi - lo), "rc": is_rc[members] ^ flip, "similarity": np.round(score[members], 4),
        })
        motifs.append(DiscoveredMotif("", "", cwm.astype(np.float32), hcwm.astype(np.float32), pwm, len(members),
                                      instances))
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


# ---------------------------------------------------------------------------
# Matching against known motifs (TOMTOM-style)
# ---------------------------------------------------------------------------


def column_pearson(query: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson correlation of every query column with every target column: ``(4, Wq), (4, Wt) -> (Wq, Wt)``.

    A column with no variation (uniform) correlates 0 with everything.
    """
    q = np.asarray(query, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    q = q - q.mean(axis=0, keepdims=True)
    t = t - t.mean(axis=0, keepdims=True)
    qn = np.sqrt((q * q).sum(axis=0))
    tn = np.sqrt((t * t).sum(axis=0))
    dots = q.T @ t
    with np.errstate(invalid="ignore", divide="ignore"):
        out = dots / np.outer(qn, tn)
    return np.where(np.isfinite(out), out, 0.0)


class _RangeNull:
    """Null distribution of the summed column score of each contiguous range of query columns.

    Each query column's null is its (binned) Pearson correlation with columns
    drawn at random from the database, both strands (TOMTOM's shuffled-column
    null); the sum over a range of columns is their convolution.
    """

    def __init__(self, query: np.ndarray, pool: np.ndarray, bins: int, min_overlap: int):
        self.bins = bins
        scores = np.rint(column_pearson(query, pool) * bins).astype(np.int64) + bins  # (Wq, P) in [0, 2*bins]
        width = query.shape[1]
        self.hist = np.stack([np.bincount(row, minlength=2 * bins + 1) / row.size for row in scores])
        self.survival: dict[tuple[int, int], np.ndarray] = {}
        for a in range(width):
            dist = np.ones(1)
            for b in range(a, width):
                dist = np.convolve(dist, self.hist[b])
                if b + 1 - a >= min_overlap or b + 1 - a == width:
                    self.survival[(a, b + 1)] = np.cumsum(dist[::-1])[::-1]

    def pvalue(self, a: int, b: int, binned_score: int) -> float:
        """P(sum of null scores of query columns ``[a, b)`` >= score); score in bins, shifted by ``bins`` per column."""
        survival = self.survival[(a, b)]
        index = binned_score + self.bins * (b - a)
        if index <= 0:
            return 1.0
        if index >= len(survival):
            return float(survival[-1]) if index == len(survival) - 1 else 0.0
        return float(min(survival[index], 1.0))


def compare_motifs(
    queries: list[Motif], database: list[Motif], min_overlap: int = 5, bins: int = 100
) -> "pd.DataFrame":
    """TOMTOM-style comparison of every query motif with every database motif.

    Each (query, target) pair is aligned at every offset with at least
    ``min_overlap`` overlapping columns, on both strands of the target; an
    alignment scores the sum of the Pearson correlations of its aligned PWM
    columns. Its p-value comes from the exact null distribution of that sum
    when the target's columns are replaced by columns drawn at random from the
    whole database (both strands); the pair's p-value is that of its best
    alignment, corrected for the number of alignments tried
    (``1 - (1 - p)^n``). E-value = p x database size; q-values by
    Benjamini-Hochberg over all pairs.

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``query``, ``target_id``, ``target_name``, ``strand``
        (of the target), ``offset`` (target column aligned with query column 0),
        ``overlap``, ``score``, ``pvalue``, ``evalue``, ``qvalue``; sorted by
        query, then p-value.
    """
    import pandas as pd

    if not database:
        raise InputError("the motif database is empty")
    pool = np.concatenate([m.pwm for m in database] + [reverse_complement_matrix(m.pwm) for m in database], axis=1)
    rows = []
    for query in queries:
        q = np.asarray(query.pwm, dtype=np.float64)
        wq = q.shape[1]
        null = _RangeNull(q, pool, bins, min(min_overlap, wq))
        for target in database:
            best = (2.0, 0.0, "+", 0, 0)
            n_alignments = 0
            for strand, matrix in (("+", target.pwm), ("-", reverse_complement_matrix(target.pwm))):
                binned = np.rint(column_pearson(q, matrix) * bins).astype(np.int64)
                wt = binned.shape[1]
                need = min(min_overlap, wq, wt)
                for offset in range(-(wq - need), wt - need + 1):
                    a, b = max(0, -offset), min(wq, wt - offset)
                    if b - a < need:
                        continue
                    n_alignments += 1
                    score = int(np.trace(binned, offset=offset))
                    if (a, b) not in null.survival:
                        null.survival[(a, b)] = _range_survival(null.hist[a:b])
                    p = null.pvalue(a, b, score)
                    if p < best[0] or (p == best[0] and score / bins > best[1]):
                        best = (p, score / bins, strand, offset, b - a)
            p = float(-np.expm1(n_alignments * np.log1p(-min(best[0], 1 - 1e-16))))
            rows.append({"query": query.identifier, "target_id": target.identifier, "target_name": target.name,
                         "strand": best[2], "offset": best[3], "overlap": best[4], "score": round(best[1], 4),
                         "pvalue": p, "evalue": p * len(database)})
    table = pd.DataFrame(rows, columns=["query", "target_id", "target_name", "strand", "offset", "overlap", "score",
                                        "pvalue", "evalue"])
    from .peaks import benjamini_hochberg

    table["qvalue"] = benjamini_hochberg(table["pvalue"].to_numpy()) if len(table) else []
    return table.sort_values(["query", "pvalue", "score"], ascending=[True, True, False], kind="stable").reset_index(drop=True)


def _range_survival(hists: np.ndarray) -> np.ndarray:
    dist = np.ones(1)
    for hist in hists:
        dist = np.convolve(dist, hist)
    return np.cumsum(dist[::-1])[::-1]


def best_matches(comparison: "pd.DataFrame", n: int = 3) -> "pd.DataFrame":
    """The ``n`` best database matches of each query (the comparison table is sorted already)."""
    return comparison.groupby("query", sort=False).head(n).reset_index(drop=True)


# ---------------------------------------------------------------------------
# A run folder: seqlets.tsv + attributions.npz -> motifs.meme, motifs.tsv, ...
# ---------------------------------------------------------------------------

BUNDLED_DATABASE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "motifs",
                                "jaspar_subset.meme")
MOTIF_TABLE_COLUMNS = ["motif", "sign", "n_seqlets", "width", "consensus", "contribution", "match_id", "match_name",
                       "match_strand", "match_offset", "match_pvalue", "match_qvalue"]


def default_database() -> str | None:
    """The bundled JASPAR subset (17 CORE motifs, CC BY 4.0), if this install has it."""
    return BUNDLED_DATABASE if os.path.isfile(BUNDLED_DATABASE) else None


def motif_table(motifs: list[DiscoveredMotif], matches: "pd.DataFrame | None" = None) -> "pd.DataFrame":
    """One row per motif (``motifs.tsv``), with its best database match when ``matches`` is given."""
    import pandas as pd

    rows = []
    best = best_matches(matches, 1).set_index("query") if matches is not None and len(matches) else None
    for motif in motifs:
        row = {"motif": motif.name, "sign": motif.sign, "n_seqlets": motif.n_seqlets, "width": motif.cwm.shape[1],
               "consensus": motif.consensus, "contribution": round(float(motif.cwm.sum()), 6)}
        key = f"seqsal_{motif.name}"
        if best is not None and key in best.index:
            hit = best.loc[key]
            row.update(match_id=hit["target_id"], match_name=hit["target_name"], match_strand=hit["strand"],
                       match_offset=int(hit["offset"]), match_pvalue=float(f"{hit['pvalue']:.3g}"),
                       match_qvalue=float(f"{hit['qvalue']:.3g}"))
        rows.append(row)
    return pd.DataFrame(rows, columns=MOTIF_TABLE_COLUMNS)


def instance_table(motifs: list[DiscoveredMotif], regions: "pd.DataFrame", seqlets: "pd.DataFrame") -> "pd.DataFrame":
    """Supporting seqlets of every motif, on genome coordinates (``motif_instances.tsv``).

    Each row carries its seqlet's ``score``, ``pvalue`` and ``qvalue`` (from the seqlet table clustered: by
    default the lenient re-call, Laplace null) when the table has them, so instances can be filtered by
    significance as well as by ``similarity`` to the motif.
    """
    import pandas as pd

    frames = []
    for motif in motifs:
        inst = motif.instances
        region = regions.set_index("index").loc[inst["region_index"].to_numpy()]
        support = seqlets.loc[inst["seqlet"].to_numpy()]
        frames.append(pd.DataFrame({
            "motif": motif.name, "seqlet": inst["seqlet"].to_numpy(),
            "seqlet_name": support["name"].to_numpy() if "name" in seqlets else "",
            "region_index": inst["region_index"].to_numpy(), "region_name": region["name"].to_numpy(),
            "chrom": region["chrom"].to_numpy(), "start": region["start"].to_numpy() + inst["start"].to_numpy(),
            "end": region["start"].to_numpy() + inst["end"].to_numpy(),
            "strand": np.where(inst["rc"].to_numpy(), "-", "+"), "similarity": inst["similarity"].to_numpy(),
            **{column: support[column].to_numpy() if column in seqlets else np.nan
               for column in ("score", "pvalue", "qvalue")},
        }))
    columns = ["motif", "seqlet", "seqlet_name", "region_index", "region_name", "chrom", "start", "end", "strand",
               "similarity", "score", "pvalue", "qvalue"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def read_motif_arrays(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """``motifs.npz`` -> ``{motif name: {"cwm", "hypothetical_cwm", "pwm"}}``."""
    if not os.path.isfile(str(path)):
        raise InputError("motif arrays not found; run `seqsal motifs` first", str(path))
    out: dict[str, dict[str, np.ndarray]] = {}
    with np.load(path) as data:
        for key in data.files:
            name, kind = key.rsplit(".", 1)
            out.setdefault(name, {})[kind] = data[key]
    return out


def write_modisco_h5(path: str | os.PathLike, motifs: list[DiscoveredMotif], one_hot: np.ndarray,
                     hypothetical: np.ndarray, lengths: np.ndarray) -> None:
    """Write motifs in tfmodisco-lite's HDF5 layout (``motifs.h5``), for the tools that read it.

    ``pos_patterns``/``neg_patterns`` hold ``pattern_0, 1, ...`` (seqsal's
    ``pos_1, 2, ...`` / ``neg_1, ...`` in order), each with ``sequence``
    (PWM), ``contrib_scores`` (CWM) and ``hypothetical_contribs`` as ``(W, 4)``
    and ``seqlets/``: ``n_seqlets``, ``example_idx`` (row of ``attributions.npz``
    = ``regions.tsv`` index), ``start``/``end`` (offsets in that row, 0-based
    half-open, + strand), ``is_revcomp`` and the aligned ``sequence``,
    ``contrib_scores`` and ``hypothetical_contribs`` of each instance
    ``(n, W, 4)``. The file's ``window_size`` is the rows' width; modisco's
    BED export assumes summit-centred windows, so take genome coordinates from
    ``motif_instances.tsv``.

    Parameters
    ----------
    one_hot, hypothetical
        ``(N, 4, L)`` arrays of the run (memory maps are fine).
    lengths
        ``(N,)`` true length of each row.
    """
    import h5py

    with h5py.File(str(path), "w") as handle:
        handle.attrs["window_size"] = int(np.asarray(one_hot).shape[2])
        handle.attrs["written_by"] = "seqsal"
        for sign, group_name in (("+", "pos_patterns"), ("-", "neg_patterns")):
            chosen = [motif for motif in motifs if motif.sign == sign]
            if not chosen:
                continue
            group = handle.create_group(group_name)
            for index, motif in enumerate(chosen):
                pattern = group.create_group(f"pattern_{index}")
                pattern.attrs["seqsal_name"] = motif.name
                pattern.create_dataset("sequence", data=np.asarray(motif.pwm, np.float32).T)
                pattern.create_dataset("contrib_scores", data=np.asarray(motif.cwm, np.float32).T)
                pattern.create_dataset("hypothetical_contribs", data=np.asarray(motif.hypothetical_cwm, np.float32).T)
                inst = motif.instances
                rows = inst["region_index"].to_numpy(np.int64)
                starts = inst["start"].to_numpy(np.int64)
                width = motif.pwm.shape[1]
                rc = inst["rc"].to_numpy(bool)
                oh, hyp = extract_windows([one_hot, hypothetical], lengths, rows, starts, width, rc)
                seqlets = pattern.create_group("seqlets")
                seqlets.create_dataset("n_seqlets", data=np.array([len(inst)]))
                seqlets.create_dataset("example_idx", data=rows)
                seqlets.create_dataset("start", data=starts)
                seqlets.create_dataset("end", data=inst["end"].to_numpy(np.int64))
                seqlets.create_dataset("is_revcomp", data=rc)
                seqlets.create_dataset("sequence", data=oh.transpose(0, 2, 1))
                seqlets.create_dataset("contrib_scores", data=(oh * hyp).transpose(0, 2, 1))
                seqlets.create_dataset("hypothetical_contribs", data=hyp.transpose(0, 2, 1))


DISCOVERY_FDR = 0.85
"""FDR of the seqlets that discovery clusters by default (Laplace null, re-called from the run's tracks).

Lenient on purpose, as tfmodisco-lite's seqlet extraction is: a noise seqlet
rarely joins a cluster of >= ``min_seqlets`` alike seqlets, while the strict
calls of ``seqlets.tsv`` (FDR 0.05) hold too few instances of the weaker
motifs to cluster. On the demo (benchmarks/motifs_planted.py) the reported
calls give 2 of the 6 planted motifs; FDR 0.8-0.9 gives all 6 and nothing
spurious (0.95: all 6 and one spurious half-site; 0.7: 5, as the weak CTCF
sites have only 20 seqlets). On an independent demo genome and model
(``make_demo.py --seed 8``) FDR 0.7-0.95 gives all 6, nothing spurious.
"""


def discovery_seqlets(out_dir: str | os.PathLike, fdr: float = DISCOVERY_FDR) -> "pd.DataFrame":
    """Seqlets of a run folder re-called for discovery at ``fdr`` with the Laplace null (no file is written).

    Returns
    -------
    pandas.DataFrame
        The columns of ``seqlets.tsv`` (``region_index``, ``offset_start``,
        ``offset_end``, ``sign``, ...), one row per seqlet.
    """
    from .peaks import call_peaks_from_run, unique_calls

    seqlets = call_peaks_from_run(out_dir, write=False, fdr=fdr, null="laplace").seqlets
    return unique_calls(seqlets).reset_index(drop=True)


def run_motifs(
    out_dir: str | os.PathLike,
    seqlets_path: str | os.PathLike | None = None,
    database: str | os.PathLike | None = None,
    options: DiscoveryOptions | None = None,
    progress: bool = True,
    seqlet_fdr: float = DISCOVERY_FDR,
) -> dict:
    """Discover motifs from a run folder's seqlets and (optionally) match them to a database.

    Reads ``attributions.npz`` and ``regions.tsv``; the seqlets are those of
    ``seqlets_path`` when given (e.g. the run's ``seqlets.tsv``), else the run's
    tracks re-called at ``seqlet_fdr`` (:func:`discovery_seqlets`). Writes
    ``motifs.meme``, ``motifs.tsv``, ``motifs.h5`` (tfmodisco-lite layout, :func:`write_modisco_h5`),
    ``motifs.npz`` (CWM, hypothetical CWM and
    PWM per motif, keys ``<motif>.<matrix>``), ``motif_instances.tsv`` and,
    with a database, ``motif_matches.tsv`` (the 5 best matches of each motif).

    Returns
    -------
    dict
        ``motifs`` (list of :class:`DiscoveredMotif`), ``table``, ``matches`` and ``timing_seconds``.
    """
    import logging
    import time

    import pandas as pd

    from .io import atomic_path, write_table_atomic

    log = logging.getLogger("seqsal")
    out = str(out_dir)
    started = time.perf_counter()
    arrays = npz_members(os.path.join(out, "attributions.npz"))
    for key in ("one_hot", "hypothetical"):
        if key not in arrays:
            raise InputError(f"no {key!r} array in attributions.npz", os.path.join(out, "attributions.npz"))
    lengths = arrays["length"] if "length" in arrays else np.full(len(arrays["one_hot"]), arrays["one_hot"].shape[2])
    regions = pd.read_csv(os.path.join(out, "regions.tsv"), sep="\t") if os.path.isfile(
        os.path.join(out, "regions.tsv")) else None
    if regions is None:
        raise InputError("regions.tsv not found; run `seqsal attribute` first", out)
    if seqlets_path:
        seqlets = read_seqlet_table(seqlets_path)
        if len(seqlets) and int(seqlets["region_index"].max()) >= len(lengths):
            raise InputError(f"region_index {int(seqlets['region_index'].max())} is past the {len(lengths)} regions "
                             "of attributions.npz; is this table from another run?", str(seqlets_path))
    else:
        if not 0 < seqlet_fdr <= 1:
            raise InputError(f"--seqlet-fdr must be in (0, 1], got {seqlet_fdr}")
        seqlets = discovery_seqlets(out, seqlet_fdr)
        log.info("seqlets for discovery re-called from the tracks at FDR %g (Laplace null)", seqlet_fdr)
    log.info("discovering motifs from %d seqlets (%d +, %d -)", len(seqlets), int((seqlets["sign"] == "+").sum()),
             int((seqlets["sign"] == "-").sum()))
    motifs = discover_motifs(arrays["one_hot"], arrays["hypothetical"], lengths, seqlets, options, progress)
    t_discover = time.perf_counter() - started
    matches = None
    if database:
        known = read_meme(database)
        matches = compare_motifs([m.to_motif() for m in motifs], known) if motifs else None
        if matches is not None:
            write_table_atomic(os.path.join(out, "motif_matches.tsv"), best_matches(matches, 5))
        log.info("matched %d motifs against %d known motifs of %s", len(motifs), len(known), database)
    table = motif_table(motifs, matches)
    write_meme(os.path.join(out, "motifs.meme"), [m.to_motif() for m in motifs])
    write_table_atomic(os.path.join(out, "motifs.tsv"), table)
    write_table_atomic(os.path.join(out, "motif_instances.tsv"), instance_table(motifs, regions, seqlets))
    with atomic_path(os.path.join(out, "motifs.npz")) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **{f"{m.name}.{kind}": getattr(m, kind) for m in motifs
                                for kind in ("cwm", "hypothetical_cwm", "pwm")})
    with atomic_path(os.path.join(out, "motifs.h5")) as tmp:
        write_modisco_h5(tmp, motifs, arrays["one_hot"], arrays["hypothetical"], lengths)
    timing = {"discovery": round(t_discover, 3), "total": round(time.perf_counter() - started, 3)}
    log.info("%d motifs in %.1f s -> %s", len(motifs), timing["total"], os.path.join(out, "motifs.meme"))
    return {"motifs": motifs, "table": table, "matches": matches, "timing_seconds": timing}
