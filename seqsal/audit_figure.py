"""The audit's positional histogram (``audit/positional_mass.png``), drawn with Pillow.

Pillow (a dependency of matplotlib, so always installed with seqsal) imports in a few hundredths of a second;
matplotlib's import and first figure took about as long as all of the audit's statistics on a 5-Mbp run folder
(issue 17's speed target). The figure: the run's mean per bin as bars, the null's mean as a black step line, an
offset marked in red, axes with round ticks, a title and a legend.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .io import atomic_path

SIZE = (540, 234)  # pixels: 6 x 2.6 inches at 90 dpi, the size of the earlier matplotlib figure
_LEFT, _RIGHT, _TOP, _BOTTOM = 62, 528, 24, 188  # the plot area
_BAR, _MARK = (68, 170, 119), (220, 30, 30)


def nice_ticks(high: float, count: int = 5) -> np.ndarray:
    """Round tick values from 0 to at most ``high`` (steps of 1, 2 or 5 x 10^k), about ``count`` of them."""
    if not np.isfinite(high) or high <= 0:
        return np.array([0.0])
    raw = high / count
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(f * power for f in (1, 2, 5, 10) if f * power >= raw)
    return np.arange(0, high + step * 1e-9, step)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # no FreeType: Pillow's fixed bitmap font
        return ImageFont.load_default()


def histogram_png(path: Path, profile: np.ndarray, null_mean: np.ndarray, bin_bp: int, title: str,
                  mark: int | None) -> None:
    """Write the positional histogram: ``profile`` ``(B,)`` (mean per bin of ``bin_bp`` bp; NaN: drawn as 0) as
    bars, ``null_mean`` ``(B,)`` as a step line, ``mark`` (an offset in bp) as a red line; x in bp from 0."""
    from PIL import Image, ImageDraw

    profile, null_mean = np.nan_to_num(np.asarray(profile, float)), np.nan_to_num(np.asarray(null_mean, float))
    width_bp = max(len(profile) * bin_bp, 1)
    top = max(float(profile.max(initial=0.0)), float(null_mean.max(initial=0.0))) * 1.05 or 1.0
    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    small, large = _font(9), _font(11)

    def x_of(bp: float) -> float:
        return _LEFT + (_RIGHT - _LEFT) * bp / width_bp

    def y_of(value: float) -> float:
        return _BOTTOM - (_BOTTOM - _TOP) * min(max(value, 0.0), top) / top

    for i, value in enumerate(profile):
        if value > 0:
            draw.rectangle([x_of(i * bin_bp), y_of(value), x_of((i + 1) * bin_bp), _BOTTOM], fill=_BAR)
    steps = [(x_of(i * bin_bp + side * bin_bp), y_of(value)) for i, value in enumerate(null_mean) for side in (0, 1)]
    if len(steps) > 1:
        draw.line(steps, fill="black", width=1)
    if mark is not None:
        draw.line([(x_of(mark), _TOP), (x_of(mark), _BOTTOM)], fill=_MARK, width=1)
    draw.rectangle([_LEFT, _TOP, _RIGHT, _BOTTOM], outline="black")
    for tick in nice_ticks(width_bp):
        x = x_of(tick)
        draw.line([(x, _BOTTOM), (x, _BOTTOM + 4)], fill="black")
        draw.text((x, _BOTTOM + 6), f"{tick:g}", fill="black", font=small, anchor="ma")
    for tick in nice_ticks(top):
        y = y_of(tick)
        draw.line([(_LEFT - 4, y), (_LEFT, y)], fill="black")
        draw.text((_LEFT - 6, y), f"{tick:.3g}", fill="black", font=small, anchor="rm")
    draw.text(((_LEFT + _RIGHT) / 2, SIZE[1] - 4), "offset in region (bp, reading direction)", fill="black",
              font=large, anchor="md")
    draw.text(((_LEFT + _RIGHT) / 2, _TOP - 6), title, fill="black", font=large, anchor="md")
    label = Image.new("RGB", (120, 16), "white")
    ImageDraw.Draw(label).text((60, 8), "mean value", fill="black", font=large, anchor="mm")
    image.paste(label.rotate(90, expand=True), (2, (_TOP + _BOTTOM) // 2 - 60))
    draw.rectangle([_RIGHT - 118, _TOP + 6, _RIGHT - 106, _TOP + 14], fill=_BAR)
    draw.text((_RIGHT - 100, _TOP + 10), "run", fill="black", font=small, anchor="lm")
    draw.line([(_RIGHT - 118, _TOP + 24), (_RIGHT - 106, _TOP + 24)], fill="black")
    draw.text((_RIGHT - 100, _TOP + 24), "local-shift null", fill="black", font=small, anchor="lm")
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
