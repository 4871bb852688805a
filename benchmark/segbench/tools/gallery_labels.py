"""A labelled shift gallery: perturbation names on the rows, severities and level parameters on columns.

Why: the bare mosaic of :func:`segbench.tools.gallery.gallery_grid` had no labels, so a reader
could not tell which row was which shift nor what severity 3 means; here each row is named, each
column headed ("clean", "severity 1" ...) and each tile captioned with its level's parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from segbench.core import SEVERITIES

__all__ = ["save_labelled_gallery"]

_LABEL_W = 130  # left margin for row names (pixels)
_HEAD_H = 16  # column header strip
_CAPTION_H = 12  # parameter caption under each tile


def save_labelled_gallery(
    path: str | Path,
    image: np.ndarray,
    label: np.ndarray,
    names: Sequence[str],
    zoom: int = 1,
    severities: Sequence[int] = SEVERITIES,
    seed: int = 0,
) -> Path:
    """Write the mosaic with row and column labels as a PNG and return its path.

    Args:
        path: output PNG (parent folders created).
        image, label: the test case, ``(H, W)`` or ``(D, H, W)``.
        names: perturbations, one row each, in this order.
        zoom: integer upscaling of the tiles (labels stay legible on 32x32 cases).
        severities: columns after the clean one. Defaults to 1..5.
        seed: per-row noise seed.
    """
    from PIL import Image, ImageDraw, ImageFont

    from segbench.registry import PERTURBATIONS
    from segbench.tools.gallery import _GAP, gallery_grid

    mosaic, rows, columns = gallery_grid(image, label, names=names, severities=severities, seed=seed)
    if zoom > 1:
        mosaic = np.repeat(np.repeat(mosaic, zoom, axis=0), zoom, axis=1)
    n_rows, n_cols = len(rows), len(columns)
    tile_h = (mosaic.shape[0] + _GAP * zoom) // n_rows - _GAP * zoom
    tile_w = (mosaic.shape[1] + _GAP * zoom) // n_cols - _GAP * zoom
    step_h, step_w = tile_h + _GAP * zoom + _CAPTION_H, tile_w + _GAP * zoom
    canvas = Image.new("RGB", (_LABEL_W + n_cols * step_w, _HEAD_H + n_rows * step_h), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    for c, severity in enumerate(columns):
        draw.text(
            (_LABEL_W + c * step_w + 2, 2),
            "clean" if severity == 0 else f"severity {severity}",
            "black",
            font,
        )
    for r, name in enumerate(rows):
        y = _HEAD_H + r * step_h
        draw.text((4, y + tile_h // 2 - 6), name, "black", font)
        levels = PERTURBATIONS.get(name).meta.get("levels", {}) if name in PERTURBATIONS.names() else {}
        for c, severity in enumerate(columns):
            src_y, src_x = r * (tile_h + _GAP * zoom), c * (tile_w + _GAP * zoom)
            tile = mosaic[src_y : src_y + tile_h, src_x : src_x + tile_w]
            canvas.paste(Image.fromarray(np.ascontiguousarray(tile)), (_LABEL_W + c * step_w, y))
            if severity:
                text = _level_text(levels.get(severity, levels.get(str(severity), "")))
                draw.text(
                    (_LABEL_W + c * step_w + 1, y + tile_h), _fit(draw, text, font, tile_w), "#444", font
                )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


def _level_text(level: object) -> str:
    """``{"sigma": 3}`` -> ``sigma=3``; anything else as text."""
    if isinstance(level, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in level.items())
    return _short(level)


def _short(v: object) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _fit(draw: object, text: str, font: object, width: int) -> str:
    """``text`` cut (with an ellipsis) to fit ``width`` pixels."""
    while text and draw.textlength(text, font=font) > width:  # type: ignore[attr-defined]
        text = text[:-2] + "…" if len(text) > 2 else ""
    return text
