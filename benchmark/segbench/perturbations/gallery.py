"""A picture of every perturbation at every severity, for reports and for eyeballing new levels.

Why: level tables are numbers; a mosaic shows at a glance whether severity 1 is visible and
severity 5 still plausible, and the report embeds it next to the robustness curves.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from skimage.segmentation import find_boundaries

from segbench.perturbations.base import SEVERITIES, apply_perturbation
from segbench.registry import PERTURBATIONS

__all__ = ["gallery_grid", "save_gallery_png"]

_GAP = 2  # pixels between tiles
_GAP_VALUE = 255  # white gutters
_OUTLINE_RGB = (255, 64, 64)  # label contour on the clean column


def gallery_grid(
    image: np.ndarray,
    label: np.ndarray,
    names: Sequence[str] | None = None,
    severities: Sequence[int] = SEVERITIES,
    seed: int = 0,
) -> tuple[np.ndarray, list[str], list[int]]:
    """Mosaic of perturbed images: one row per perturbation, columns clean + each severity.

    Each tile is min-max scaled on its own, because that is what the model sees (the runner
    min-max scales its inputs), so a global intensity change shows only through its shape.  Every
    tile of a row uses a fresh ``np.random.default_rng(seed)``, so a row shows the same noise
    field growing with severity.  For 3D images the middle slice (axis 0) of the perturbed
    volume is shown.  The clean tile carries the label outline in red.

    Args:
        image: float32 ``(H, W)`` or ``(D, H, W)``.
        label: uint8 0/1 of the same shape (read only).
        names: perturbations to show; defaults to every registered one, sorted.
        severities: columns after the clean one. Defaults to ``(1, 2, 3, 4, 5)``.
        seed: seed of the per-tile generators.

    Returns:
        ``(mosaic, row_names, column_severities)``: ``mosaic`` is uint8 RGB of shape
        ``(rows * (h + 2) - 2, cols * (w + 2) - 2, 3)`` with ``cols = 1 + len(severities)``;
        ``column_severities`` starts with 0 for the clean column.

    Raises:
        ValueError: bad image dimensionality or shape mismatch, unknown name or severity.
    """
    image = np.asarray(image, dtype=np.float32)
    label = np.asarray(label)
    if image.ndim not in (2, 3) or label.shape != image.shape:
        raise ValueError(
            f"gallery needs an (H, W) or (D, H, W) image and a label of the same shape, got "
            f"{image.shape} and {label.shape}"
        )
    rows = list(PERTURBATIONS.names() if names is None else names)
    if not rows:
        raise ValueError("gallery needs at least one perturbation name")
    columns = [0, *(int(s) for s in severities)]
    clean = _with_outline(_to_gray_rgb(_middle(image)), _middle(label))
    tiles = []
    for name in rows:
        row = [clean]
        for severity in columns[1:]:
            out, _ = apply_perturbation(name, image, label, severity, np.random.default_rng(seed))
            row.append(_to_gray_rgb(_middle(out)))
        tiles.append(row)
    return _assemble(tiles), rows, columns


def save_gallery_png(
    path: str | Path,
    image: np.ndarray,
    label: np.ndarray,
    names: Sequence[str] | None = None,
    severities: Sequence[int] = SEVERITIES,
    seed: int = 0,
    zoom: int = 1,
) -> Path:
    """Write :func:`gallery_grid`'s mosaic as a PNG (PIL) and return the path.

    Args:
        path: output file; parent folders are created.
        image, label, names, severities, seed: as in :func:`gallery_grid`.
        zoom: integer nearest-neighbour upscaling, for small (e.g. 64x64) test images.

    Returns:
        The written path.
    """
    from PIL import Image  # installed with scikit-image; imported here to keep imports light

    if zoom < 1:
        raise ValueError(f"zoom must be a positive integer, got {zoom}")
    mosaic, _, _ = gallery_grid(image, label, names=names, severities=severities, seed=seed)
    if zoom > 1:
        mosaic = np.repeat(np.repeat(mosaic, zoom, axis=0), zoom, axis=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mosaic).save(path)
    return path


def _middle(array: np.ndarray) -> np.ndarray:
    return array[array.shape[0] // 2] if array.ndim == 3 else array


def _to_gray_rgb(tile: np.ndarray) -> np.ndarray:
    tile = tile.astype(np.float64)
    low, high = float(tile.min()), float(tile.max())
    scaled = (tile - low) / (high - low) if high > low else np.zeros_like(tile)
    gray = np.round(scaled * 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


def _with_outline(rgb: np.ndarray, label: np.ndarray) -> np.ndarray:
    out = rgb.copy()
    out[find_boundaries(label.astype(bool), mode="inner")] = _OUTLINE_RGB
    return out


def _assemble(tiles: list[list[np.ndarray]]) -> np.ndarray:
    h, w, _ = tiles[0][0].shape
    n_rows, n_cols = len(tiles), len(tiles[0])
    mosaic = np.full((n_rows * (h + _GAP) - _GAP, n_cols * (w + _GAP) - _GAP, 3), _GAP_VALUE, np.uint8)
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            mosaic[r * (h + _GAP) : r * (h + _GAP) + h, c * (w + _GAP) : c * (w + _GAP) + w] = tile
    return mosaic
