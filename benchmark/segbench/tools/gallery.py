"""A picture of every perturbation at every severity, for reports and for eyeballing new levels.

Why: level tables are numbers; a mosaic shows at a glance whether severity 1 is visible and
severity 5 still plausible, and the report embeds it next to the robustness curves.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from skimage.segmentation import find_boundaries

from segbench.cases import perturb_channels
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
    volume is shown.  The clean tile carries the label outline in red.  A channel-first image
    (``image.ndim == label.ndim + 1``, as real RGB or multi-modal data loads) is perturbed per
    channel exactly as the runner does it (:func:`segbench.cases.perturb_channels`); three
    channels are shown in colour, any other count by its first channel.

    Args:
        image: float32 ``(H, W)`` or ``(D, H, W)``, or channel-first ``(C, H, W)`` / ``(C, D, H, W)``.
        label: uint8 0/1 of the image's spatial shape (read only).
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
    channels = image.ndim == label.ndim + 1
    if label.ndim not in (2, 3) or image.shape[channels:] != label.shape:
        raise ValueError(
            f"gallery needs an (H, W) or (D, H, W) image, optionally channel-first, and a label of its "
            f"spatial shape, got {image.shape} and {label.shape}"
        )
    rows = list(PERTURBATIONS.names() if names is None else names)
    if not rows:
        raise ValueError("gallery needs at least one perturbation name")
    columns = [0, *(int(s) for s in severities)]
    clean = _with_outline(_to_rgb(_middle(image, channels), channels), _middle(label, False))
    tiles = []
    for name in rows:
        row = [clean]
        for severity in columns[1:]:
            rng = np.random.default_rng(seed)
            out, _ = perturb_channels(_apply, name, image, label, severity=severity, rng=rng)
            row.append(_to_rgb(_middle(out, channels), channels))
        tiles.append(row)
    return _assemble(tiles), rows, columns


def _apply(
    name: str, image: np.ndarray, label: np.ndarray, *, severity: int, rng: np.random.Generator
) -> tuple[np.ndarray, dict]:
    return apply_perturbation(name, image, label, severity, rng)


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


def _middle(array: np.ndarray, channels: bool) -> np.ndarray:
    """The 2D view shown: the middle slice (spatial axis 0) of a volume, channels kept first."""
    spatial = array.ndim - channels
    if spatial != 3:
        return array
    return array[:, array.shape[1] // 2] if channels else array[array.shape[0] // 2]


def _to_rgb(tile: np.ndarray, channels: bool) -> np.ndarray:
    """uint8 ``(H, W, 3)``: min-max scaled over the whole tile (all channels together)."""
    tile = tile.astype(np.float64)
    if channels:
        tile = np.moveaxis(tile, 0, -1) if tile.shape[0] == 3 else tile[0]
    low, high = float(tile.min()), float(tile.max())
    scaled = (tile - low) / (high - low) if high > low else np.zeros_like(tile)
    pixels = np.round(scaled * 255).astype(np.uint8)
    return pixels if pixels.ndim == 3 else np.repeat(pixels[..., None], 3, axis=-1)


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
