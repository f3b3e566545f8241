"""Logos and track plots. Every function returns a matplotlib object; callers (the CLI) write files.

Letters are drawn from glyph outlines made once per letter (the font outline
logomaker uses, DejaVu Sans Bold, in logomaker's ``classic`` colours) and
placed with one vectorised transform per letter, as one compound path per
letter per logo: a 200-bp logo is four artists instead of 800 patches. The
``engine="logomaker"`` option draws the same matrix with :class:`logomaker.Logo`
(slower; kept for comparison and for users who want its options).

Matrices are ``(4, L)`` with rows ``A, C, G, T``. Positive values stack above
zero; negative values stack below it, drawn upside down (logomaker's
``flip_below``).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .motifs import information_content, reverse_complement_matrix
from .text import plural

COLORS = {"A": "#008000", "C": "#0000ff", "G": "#ffa500", "T": "#ff0000"}  # logomaker "classic"
LETTERS = "ACGT"
SPAN_COLORS = {"+": "#c0392b", "-": "#2471a3"}


@functools.lru_cache(maxsize=None)
def _glyph(letter: str) -> tuple[np.ndarray, np.ndarray]:
    """Outline of ``letter`` scaled to the unit square: vertices ``(n, 2)`` and path codes ``(n,)``."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    path = TextPath((0, 0), letter, size=1, prop=FontProperties(family="DejaVu Sans", weight="bold"))
    vertices = np.asarray(path.vertices, dtype=np.float64)
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    return (vertices - lo) / (hi - lo), np.asarray(path.codes)


def stack_heights(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bottom and signed height of every letter of a logo, stacked per column.

    Positive letters stack upward from 0, smallest first; negative ones
    downward from 0, smallest magnitude nearest to 0.

    Returns
    -------
    bottom, height
        ``(4, L)`` each; a letter covers ``[bottom, bottom + |height|]``.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    pos, neg = np.clip(matrix, 0, None), np.clip(matrix, None, 0)
    bottom = np.zeros_like(matrix)
    order_pos = np.argsort(pos, axis=0, kind="stable")
    order_neg = np.argsort(-neg, axis=0, kind="stable")
    cols = np.arange(matrix.shape[1])
    up = np.zeros(matrix.shape[1])
    down = np.zeros(matrix.shape[1])
    for k in range(4):
        i = order_pos[k]
        bottom[i, cols] = np.where(pos[i, cols] > 0, up, bottom[i, cols])
        up = up + pos[i, cols]
        j = order_neg[k]
        down = down + neg[j, cols]
        bottom[j, cols] = np.where(neg[j, cols] < 0, down, bottom[j, cols])
    return bottom, matrix


def draw_logo(ax, matrix: np.ndarray, x0: float = 0.0, width: float = 0.9, engine: str = "fast",
              flip_below: bool = True):
    """Draw a logo of a ``(4, L)`` matrix on ``ax``; column ``i`` is centred on ``x0 + i``.

    Returns the axes. Limits are set to the logo's extent (with 5 % headroom).

    Raises
    ------
    ValueError
        ``matrix`` is not ``(4, L)``.
    InputError
        ``matrix`` holds NaN or Inf (named by its first such column), with either engine.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != 4:
        raise ValueError(f"a logo needs a (4, L) matrix, got shape {matrix.shape}")
    finite = np.isfinite(matrix)
    if not finite.all():
        columns = np.flatnonzero(~finite.all(axis=0))
        raise InputError(
            f"the logo matrix holds NaN or Inf in {plural(len(columns), 'column')} (first: column {int(columns[0])}, "
            "0-based); a logo needs finite heights: replace them first, e.g. np.nan_to_num(matrix)")
    length = matrix.shape[1]
    if engine == "logomaker":
        import logomaker
        import pandas as pd

        frame = pd.DataFrame(matrix.T, columns=list(LETTERS), index=np.arange(length) + x0)
        logomaker.Logo(frame, ax=ax, color_scheme="classic", flip_below=flip_below, width=width)
    elif engine == "fast":
        from matplotlib.collections import PathCollection
        from matplotlib.path import Path

        bottom, height = stack_heights(matrix)
        scale = np.abs(matrix).max() if matrix.size else 0.0
        paths, colors = [], []
        for k, letter in enumerate(LETTERS):
            columns = np.flatnonzero(np.abs(height[k]) > scale * 1e-6)
            if not len(columns):
                continue
            unit, codes = _glyph(letter)
            h = height[k, columns]
            flipped = flip_below & (h < 0)
            base = np.where(flipped, bottom[k, columns] + np.abs(h), bottom[k, columns])
            sy = np.where(flipped, -np.abs(h), np.abs(h))
            xs = x0 + columns - width / 2
            verts = np.empty((len(columns), len(unit), 2))
            verts[:, :, 0] = xs[:, None] + unit[None, :, 0] * width
            verts[:, :, 1] = base[:, None] + unit[None, :, 1] * sy[:, None]
            paths.append(Path(verts.reshape(-1, 2), np.tile(codes, len(columns))))
            colors.append(COLORS[letter])
        if paths:
            ax.add_collection(PathCollection(paths, facecolors=colors, edgecolors="none", linewidths=0), autolim=False)
    else:
        raise ValueError(f"unknown logo engine {engine!r}; use 'fast' or 'logomaker'")
    top = max(np.clip(matrix, 0, None).sum(axis=0).max(initial=0.0), 0.0)
    low = min(np.clip(matrix, None, 0).sum(axis=0).min(initial=0.0), 0.0)
    pad = 0.05 * max(top - low, 1e-9)
    ax.set_xlim(x0 - 0.5, x0 + length - 0.5)
    ax.set_ylim(low - (pad if low < 0 else 0), top + pad)
    ax.axhline(0, color="0.6", linewidth=0.5, zorder=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _margins(fig, left: float = 0.75, right: float = 0.15, bottom: float = 0.45, top: float = 0.4,
             hspace: float = 0.35, wspace: float | None = None) -> None:
    """Fixed margins in inches (constrained layout would cost half the drawing time of a logo)."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
                        hspace=hspace, wspace=wspace)


def _coordinate_ticks(ax, start: int, length: int, x0: int = 0) -> None:
    """Label the x axis with genome coordinates ``start + i`` (1-based display is not used: BED positions)."""
    step = max(1, int(10 ** np.floor(np.log10(max(length, 1) / 2))) // 2 * 2 or 1)
    ticks = np.arange(0, length, step)
    ax.set_xticks(ticks + x0)
    ax.set_xticklabels([f"{start + t:,}" for t in ticks], fontsize=7)


def letter_matrices(*matrices: np.ndarray, names: tuple[str, ...], dtype=np.float32) -> list[np.ndarray]:
    """The figures' ``(4, L)`` inputs as arrays of one shape, or a ValueError that says what was given.

    Parameters
    ----------
    matrices
        Array-likes, each ``(4, L)`` (rows A, C, G, T; columns along the sequence), all of one shape.
    names
        Their parameter names, for the message.
    dtype
        The returned arrays' dtype.

    Raises
    ------
    ValueError
        A matrix is not 2-D with 4 rows (an ``(L, 4)`` one is told to transpose), has no column, or the shapes
        differ.
    """
    out = [np.asarray(m, dtype=dtype) for m in matrices]
    for name, m in zip(names, out):
        if m.ndim != 2 or m.shape[0] != 4 or m.shape[1] == 0:
            hint = " (letters along the last axis: pass its transpose, .T)" if m.ndim == 2 and m.shape[1] == 4 else ""
            raise ValueError(f"{name} must be (4, L) with L >= 1, rows A, C, G, T; got shape {m.shape}{hint}")
    if len({m.shape for m in out}) > 1:
        raise ValueError(f"{' and '.join(names)} must have one shape; got {', '.join(str(m.shape) for m in out)}")
    return out


def seqlet_figure(one_hot: np.ndarray, hypothetical: np.ndarray, title: str = "", genome_start: int = 0,
                  show_hypothetical: bool = False, engine: str = "fast"):
    """Contribution logo of a seqlet or element (and its hypothetical logo below, on request).

    Parameters
    ----------
    one_hot, hypothetical
        ``(4, L)`` over the seqlet (plus any flank the caller wants shown).
    title
        E.g. genome coordinates and scores; none when empty.
    genome_start
        Genome coordinate of column 0 (0-based, as in BED), for the x-axis labels.
    show_hypothetical
        Also draw the hypothetical contributions (all four bases) in a second panel below.
    engine
        ``fast`` (matplotlib paths, the default) or ``logomaker`` (the logomaker package, Tareen & Kinney 2020).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown, not closed: save it, then close it).

    Raises
    ------
    ValueError
        ``one_hot`` or ``hypothetical`` not ``(4, L)``, or not of one shape; an unknown ``engine``.
    InputError
        The contributions hold NaN or Inf.
    """
    one_hot, hypothetical = letter_matrices(one_hot, hypothetical, names=("one_hot", "hypothetical"))
    length = one_hot.shape[1]
    rows = 2 if show_hypothetical else 1
    fig = _figure(max(3.0, 0.13 * length + 1.0), 1.6 * rows + 0.3)
    axes = fig.subplots(rows, 1, squeeze=False, sharex=True)[:, 0]
    draw_logo(axes[0], one_hot * hypothetical, engine=engine)
    axes[0].set_ylabel("contribution", fontsize=8)
    if show_hypothetical:
        draw_logo(axes[1], hypothetical, engine=engine)
        axes[1].set_ylabel("hypothetical", fontsize=8)
    _coordinate_ticks(axes[-1], genome_start, length)
    for ax in axes:
        ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=9, y=1 - 0.08 / fig.get_size_inches()[1], va="top")
    _margins(fig, top=0.4 if title else 0.15, hspace=0.15)
    return fig


def region_figure(one_hot: np.ndarray, hypothetical: np.ndarray, chrom: str, genome_start: int, spans=None,
                  title: str = "", engine: str = "fast"):
    """Region view: attribution logo, the per-base track beneath it, and called spans on the same axis.

    Parameters
    ----------
    one_hot, hypothetical
        ``(4, L)`` over the window shown.
    chrom, genome_start
        Genome position of column 0 (chromosome name, 0-based coordinate as in BED).
    spans
        Table with genome ``start``, ``end`` (0-based, half-open, as in BED) and optionally ``sign`` and ``label``
        (seqlets or elements) and ``layer`` (one row of bars per layer); drawn as
        bars and shaded on the logo and track. Spans outside the window are skipped.
    title
        Figure title; none when empty.
    engine
        ``fast`` (matplotlib paths, the default) or ``logomaker`` (the logomaker package, Tareen & Kinney 2020).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown, not closed: save it, then close it).

    Raises
    ------
    ValueError
        ``one_hot`` or ``hypothetical`` not ``(4, L)``, or not of one shape; an unknown ``engine``.
    InputError
        The contributions hold NaN or Inf.
    """
    one_hot, hypothetical = letter_matrices(one_hot, hypothetical, names=("one_hot", "hypothetical"))
    projected = one_hot * hypothetical
    length = one_hot.shape[1]
    fig = _figure(min(max(6.0, 0.045 * length + 1.5), 24.0), 4.2)
    logo_ax, track_ax, span_ax = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2, 1]})
    draw_logo(logo_ax, projected, engine=engine)
    logo_ax.set_ylabel("contribution", fontsize=8)
    track = projected.sum(axis=0)
    x = np.arange(length)
    track_ax.fill_between(x, track, 0, where=track >= 0, step="mid", color=SPAN_COLORS["+"], linewidth=0)
    track_ax.fill_between(x, track, 0, where=track < 0, step="mid", color=SPAN_COLORS["-"], linewidth=0)
    track_ax.axhline(0, color="0.6", linewidth=0.5)
    track_ax.set_ylabel("per base", fontsize=8)
    span_ax.set_yticks([])
    span_ax.set_ylim(0, 1)
    span_ax.set_ylabel("calls", fontsize=8)
    if spans is not None and len(spans):
        names = sorted(spans["layer"].unique()) if "layer" in spans else [None]
        layers = {name: k for k, name in enumerate(names)}
        for row in spans.itertuples(index=False):
            lo, hi = int(row.start) - genome_start, int(row.end) - genome_start
            if hi <= 0 or lo >= length:
                continue
            color = SPAN_COLORS.get(str(getattr(row, "sign", "+")), SPAN_COLORS["+"])
            layer = layers.get(getattr(row, "layer", None), 0)
            y0 = 0.1 + layer * 0.8 / len(layers)
            span_ax.add_patch(_rectangle(lo - 0.5, y0, hi - lo, 0.8 / len(layers) - 0.05, color))
            label = getattr(row, "label", "")
            if label:
                span_ax.text((lo + hi) / 2, y0 + 0.4 / len(layers), str(label), ha="center", va="center", fontsize=6,
                             color="white", clip_on=True)
            for ax in (logo_ax, track_ax):
                ax.axvspan(lo - 0.5, hi - 0.5, color=color, alpha=0.08, linewidth=0)
    _coordinate_ticks(span_ax, genome_start, length)
    span_ax.set_xlabel(chrom, fontsize=8)
    for ax in (logo_ax, track_ax, span_ax):
        ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=9, y=1 - 0.08 / fig.get_size_inches()[1], va="top")
    _margins(fig, top=0.4 if title else 0.15, bottom=0.6, hspace=0.12)
    return fig


def _rectangle(x, y, width, height, color):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), width, height, facecolor=color, edgecolor="none")


def motif_figure(cwm: np.ndarray, pwm: np.ndarray, title: str = "", engine: str = "fast"):
    """Motif logos: CWM and PWM (information content), forward and reverse complement (2 x 2 panels).

    Parameters
    ----------
    cwm, pwm
        ``(4, W)`` contribution weight matrix and letter-probability matrix (rows A, C, G, T). The PWM is drawn
        as information content in bits on a uniform background (Schneider & Stephens 1990).
    title
        Figure title; none when empty.
    engine
        ``fast`` (matplotlib paths, the default) or ``logomaker`` (the logomaker package, Tareen & Kinney 2020).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not shown, not closed: save it, then close it).

    Raises
    ------
    ValueError
        ``cwm`` or ``pwm`` not ``(4, W)``, or not of one shape; ``pwm`` not letter probabilities (a value below 0,
        or a column not summing to 1 within 1e-3, NaN included); an unknown ``engine``.
    InputError
        ``cwm`` holds NaN or Inf.
    """
    cwm, pwm = letter_matrices(cwm, pwm, names=("cwm", "pwm"), dtype=np.float64)
    if (pwm < 0).any() or not np.allclose(pwm.sum(axis=0), 1.0, atol=1e-3):
        raise ValueError("pwm is not a letter-probability matrix (values >= 0, each column summing to 1); give the "
                         "motif's PWM, not its CWM or hypothetical CWM")
    ic = information_content(pwm)
    width = cwm.shape[1]
    fig = _figure(2 * max(2.2, 0.28 * width + 0.8), 3.4)
    axes = fig.subplots(2, 2)
    panels = ((cwm, "CWM"), (reverse_complement_matrix(cwm), "CWM, reverse complement"),
              (ic, "PWM (bits)"), (reverse_complement_matrix(ic), "PWM (bits), reverse complement"))
    for ax, (matrix, label) in zip(axes.ravel(), panels):
        draw_logo(ax, matrix, engine=engine)
        ax.set_title(label, fontsize=8)
        ax.set_xticks(np.arange(width))
        ax.set_xticklabels([str(i + 1) for i in range(width)], fontsize=6)
        ax.tick_params(labelsize=6)
    for ax in axes[1]:
        ax.set_ylim(0, 2.05)
    if title:
        fig.suptitle(title, fontsize=9, y=1 - 0.08 / fig.get_size_inches()[1], va="top")
    _margins(fig, left=0.45, top=0.65 if title else 0.35, bottom=0.3, hspace=0.6, wspace=0.25)
    return fig


# ---------------------------------------------------------------------------
# Many logos: jobs drawn in a worker pool
# ---------------------------------------------------------------------------


@dataclass
class LogoJob:
    """One figure to write: ``kind`` is ``seqlet``, ``region`` or ``motif``; ``args`` are the figure function's."""

    path: str
    kind: str
    args: dict = field(default_factory=dict)


_KINDS = {"seqlet": seqlet_figure, "region": region_figure, "motif": motif_figure}


def render_job(job: LogoJob, dpi: int = 100) -> str:
    """Draw one job and write it (atomically); returns its path."""
    from .io import atomic_path

    fig = _KINDS[job.kind](**job.args)
    fmt = os.path.splitext(job.path)[1].lstrip(".") or "png"
    with atomic_path(job.path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)
    return job.path


def _render_chunk(jobs: list[LogoJob], dpi: int) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    return [render_job(job, dpi) for job in jobs]


def render_jobs(jobs: list[LogoJob], workers: int = 1, dpi: int = 100, progress: bool = False) -> list[str]:
    """Write every job's figure; with ``workers > 1`` in a process pool (chunks of jobs per task).

    Returns the written paths in job order.
    """
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), unit="logo", mininterval=0.5, **({} if progress else {"disable": True}))  # TQDM_DISABLE
    try:
        if workers <= 1 or len(jobs) < 4:
            out = []
            for job in jobs:
                out.append(render_job(job, dpi))
                bar.update(1)
            return out
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        size = max(1, min(16, len(jobs) // (workers * 4) or 1))
        chunks = [jobs[i:i + size] for i in range(0, len(jobs), size)]
        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        out = []
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for paths in pool.map(_render_chunk, chunks, [dpi] * len(chunks)):
                out.extend(paths)
                bar.update(len(paths))
        return out
    finally:
        bar.close()


# ---------------------------------------------------------------------------
# Calibration of the peak caller's p-values
# ---------------------------------------------------------------------------

SIGN_NAMES = {"+": "+ (positive contribution)", "-": "- (negative contribution)"}


def calibration_figure(calibration: dict, title: str = ""):
    """Observed against expected counts of ``p <= t``, per sign, on log-log axes (``peaks.calibration``).

    For each ``t`` of ``p_grid`` a point sits at ``x = m t`` (``expected_at_or_below``: what a run with no
    signal gives over its ``m`` tests) and ``y`` = the observed tests with ``p <= t``
    (``observed_at_or_below``). The diagonal is a null run; points above it in the far tail (small ``t``,
    left) are signal; points above it in the bulk (``t`` near 0.5, right) mean the null is lighter than the
    run's background, and every p-value is then too small. An empirical (shuffled) null resolves p-values
    down to ``1 / (n + 1)`` by counting; left of that line (shaded) they come from its fitted tail. A count
    of 0 cannot sit on a log axis: it is drawn as an open triangle on the bottom edge. Grid points whose
    rounded expected count is 0 are not drawn. The top axis gives ``t`` itself.

    Parameters
    ----------
    calibration
        ``run.json``'s ``peaks.calibration`` (see :func:`seqsal.peaks.calibration.calibration_summary`): per sign
        ``"+"``/``"-"`` a dict with ``tests``, ``null_kind``, ``p_grid``, ``observed_at_or_below``,
        ``expected_at_or_below`` and, for the shuffled null, ``smallest_counted_p`` and ``tail_fit_ok``.
        Signs that are absent are skipped.
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per sign present, ``+`` first. In each, the line labelled ``observed`` holds the points
        with a non-zero count (``x`` expected, ``y`` observed), ``observed = 0`` those with none (``y`` on
        the bottom edge), ``null run (observed = expected)`` the diagonal and, for an empirical null,
        ``p = 1/(n+1)`` the vertical line at ``x = m / (n + 1)``.

    Raises
    ------
    InputError
        ``calibration`` holds neither sign, or a sign's lists differ in length.
    """
    signs = [sign for sign in ("+", "-") if isinstance(calibration.get(sign), dict)]
    if not signs:
        raise InputError("the calibration record holds neither a '+' nor a '-' entry; rerun `seqsal call-peaks`")
    fig = _figure(4.4 * len(signs), 4.0)
    axes = fig.subplots(1, len(signs), squeeze=False)[0]
    for ax, sign in zip(axes, signs):
        _calibration_panel(ax, sign, calibration[sign])
    if title:
        fig.suptitle(title, fontsize=9, y=1 - 0.08 / fig.get_size_inches()[1], va="top")
    _margins(fig, left=0.6, right=0.2, bottom=0.5, top=1.15 if title else 0.95, wspace=0.3)
    return fig


def _calibration_panel(ax, sign: str, entry: dict) -> None:
    """One sign's observed-vs-expected panel (see :func:`calibration_figure`)."""
    grid = np.asarray(entry.get("p_grid", []), dtype=np.float64)
    observed = np.asarray(entry.get("observed_at_or_below", []), dtype=np.float64)
    expected = np.asarray(entry.get("expected_at_or_below", []), dtype=np.float64)
    if not grid.shape == observed.shape == expected.shape:
        raise InputError(f"calibration of sign {sign}: p_grid, observed_at_or_below and expected_at_or_below "
                         "differ in length; rerun `seqsal call-peaks`")
    m = int(entry.get("tests", 0))
    bulk = entry.get("bulk_ratio")
    ax.set_title(f"{SIGN_NAMES[sign]}\n{m:,} tests, {entry.get('null_kind', '?')} null"
                 + (f", bulk ratio {float(bulk):.2f}" if bulk is not None else ""), fontsize=8)
    shown = expected > 0
    if m <= 0 or not shown.any():
        ax.text(0.5, 0.5, "no tests of this sign", ha="center", va="center", transform=ax.transAxes, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    x_lo = 10 ** np.floor(np.log10(min(expected[shown].min(), 1.0) / 1.5))
    y_lo = 0.3  # observed counts are whole: 1 is the smallest on the axis, 0 sits on this edge
    hi = max(m, observed.max(initial=0)) * 2.0
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_lo, hi)
    ax.set_ylim(y_lo, hi)
    color = SPAN_COLORS[sign]
    ax.plot([y_lo, hi], [y_lo, hi], linestyle="--", color="0.5", linewidth=1, label="null run (observed = expected)")
    counted = entry.get("smallest_counted_p")
    if counted is not None and entry.get("null_kind") == "empirical":
        edge = m * float(counted)
        if edge > x_lo:
            ax.axvspan(x_lo, edge, color="0.88", linewidth=0, zorder=0)
        ax.axvline(edge, color="0.3", linestyle=":", linewidth=1.2, label="p = 1/(n+1) of the null")
        ax.text(edge, hi / 1.6, "tail fit \u25c2 ", ha="right", va="top", fontsize=7, color="0.3")
        ax.text(edge, hi / 1.6, " \u25b8 counted", ha="left", va="top", fontsize=7, color="0.3")
    present = shown & (observed > 0)
    ax.plot(expected[present], observed[present], marker="o", markersize=4, color=color, linewidth=1.2,
            label="observed")
    zeros = shown & (observed == 0)
    ax.plot(expected[zeros], np.full(int(zeros.sum()), y_lo), linestyle="none", marker="v", markersize=6,
            markerfacecolor="none", markeredgecolor=color, clip_on=False, label="observed = 0")
    if entry.get("tail_fit_ok") is False:
        ax.text(0.03, 0.8, "tail fit does not hold:\np-values empirical only", transform=ax.transAxes, ha="left",
                va="top", fontsize=7, color="#b03a2e", fontweight="bold")
    top = ax.secondary_xaxis("top", functions=(lambda x: x / m, lambda t: t * m))
    top.set_xlabel("p-value threshold t", fontsize=8)
    top.tick_params(labelsize=7)
    ax.set_xlabel("expected tests with p \u2264 t (m\u00b7t: a run without signal)", fontsize=8)
    ax.set_ylabel("observed tests with p \u2264 t", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(loc="lower right", fontsize=6.5, frameon=True, framealpha=0.9)


def remove_other_logos(folder: str, kept: list[str]) -> int:
    """Remove the logos an earlier logos run drew under ``folder`` (another --top, --format or run) but not
    ``kept``: image files (png, svg, pdf) in its ``seqlets``, ``elements``, ``regions`` and ``motifs`` folders, which
    seqsal writes; anything else there is the user's and stays. Returns the number removed."""
    keep, removed = {os.path.abspath(path) for path in kept}, 0
    for kind in ("seqlets", "elements", "regions", "motifs"):
        place = os.path.join(folder, kind)
        for name in sorted(os.listdir(place)) if os.path.isdir(place) else []:
            path = os.path.abspath(os.path.join(place, name))
            if os.path.splitext(name)[1] in (".png", ".svg", ".pdf") and os.path.isfile(path) and path not in keep:
                os.unlink(path)
                removed += 1
    return removed
