"""Random closed Bézier blob masks, as in the skip-connection study's synthetic data.

Why a port: the study drew its masks with the well-known "random Bézier shape" recipe
(``get_random_points`` + ``get_bezier_curve`` with ``rad``/``edgy``) and drew the outline,
dilated it with a 9x9 kernel and filled it.  We port that recipe to numpy + scikit-image so
the masks have the same character, with two deliberate changes: every draw comes from the
``np.random.Generator`` passed in (the original used global ``np.random`` and was unseeded),
and the minimum-distance check between points uses the Euclidean distance (the original
summed the coordinate differences before squaring, a known slip that let points coincide).
"""

from __future__ import annotations

import numpy as np

__all__ = ["bezier_blob_mask", "get_bezier_curve", "get_random_points"]

# Masks covering less than this share of the image are redrawn: the study's blobs are
# clearly visible objects, and a near-empty mask makes Dice and LBP-KL meaningless.
_MIN_FOREGROUND = 0.02
_MAX_REDRAWS = 100


def bezier_blob_mask(
    rng: np.random.Generator,
    size: int,
    *,
    n_points: int = 4,
    rad: float = 1.0,
    edgy: float = 0.05,
    low: float = 0.25,
    high: float = 0.75,
    dilation: int | None = None,
) -> np.ndarray:
    """A filled random Bézier blob of shape ``(size, size)``.

    The control points are drawn in ``[low, high]`` of the image (the study's
    ``[0.25, 0.75]``), joined by a smooth closed Bézier curve, the outline is rasterised,
    dilated with a square kernel and its holes filled.  Masks with less than 2% foreground
    are redrawn from the same ``rng`` so every mask is a visible object.

    Args:
        rng: source of every random draw.
        size: side of the square image in pixels (>= 16).
        n_points: number of random points the curve passes through.  Defaults to 4.
        rad: relative distance of the Bézier handles (0..1); larger = rounder.  Defaults to 1.0.
        edgy: 0 = smoothest curve, larger = sharper corners.  Defaults to 0.05.
        low: lower bound of the points as a fraction of ``size``.  Defaults to 0.25.
        high: upper bound of the points as a fraction of ``size``.  Defaults to 0.75.
        dilation: side of the square dilation kernel.  ``None`` = the study's 9 at 256 px,
            scaled with the image size (``round(9 * size / 256)``, made odd, at least 3) so a
            64 px image gets the same relative outline thickness instead of a 9 px band.

    Returns:
        uint8 array ``(size, size)`` of 0/1, non-empty and inside the image.
    """
    if size < 16:
        raise ValueError(f"bezier_blob_mask: size={size} is too small; use size >= 16")
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"bezier_blob_mask: need 0 <= low < high <= 1, got low={low}, high={high}")
    kernel = _default_dilation(size) if dilation is None else int(dilation)
    if kernel < 1:
        raise ValueError(f"bezier_blob_mask: dilation={dilation} must be >= 1")

    mask = np.zeros((size, size), dtype=bool)
    for _ in range(_MAX_REDRAWS):
        points = get_random_points(rng, n=n_points, scale=high - low) + low
        x, y = get_bezier_curve(points, rad=rad, edgy=edgy)
        mask = _rasterise(x * (size - 1), y * (size - 1), size, kernel)
        if mask.mean() >= _MIN_FOREGROUND:
            break
    return mask.astype(np.uint8)


def get_random_points(
    rng: np.random.Generator, n: int = 5, scale: float = 0.8, mindst: float | None = None
) -> np.ndarray:
    """``n`` random points in ``[0, scale]^2`` that are at least ``mindst`` apart in ring order.

    Args:
        rng: source of the draws.
        n: number of points.  Defaults to 5.
        scale: side of the square the points are scaled into.  Defaults to 0.8.
        mindst: minimum distance between consecutive (counter-clockwise sorted) points in the
            unit square; ``None`` = ``0.7 / n`` as the original.  After 200 rejections the
            last draw is used, as the original did.

    Returns:
        float array ``(n, 2)``.
    """
    mindst = 0.7 / n if mindst is None else mindst
    points = rng.random((n, 2))
    for _ in range(200):
        ring = _ccw_sort(points)
        dist = np.linalg.norm(np.diff(np.vstack([ring, ring[:1]]), axis=0), axis=1)
        if np.all(dist >= mindst):
            break
        points = rng.random((n, 2))
    return points * scale


def get_bezier_curve(
    points: np.ndarray, rad: float = 0.2, edgy: float = 0.0, numpoints: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """A smooth closed curve through ``points`` made of cubic Bézier segments.

    Args:
        points: ``(n, 2)`` array of points; they are sorted counter-clockwise first.
        rad: handle length relative to the segment length (0..1).  Defaults to 0.2.
        edgy: 0 = smoothest; the tangent at each point mixes the incoming and outgoing
            directions with weight ``arctan(edgy) / pi + 0.5``.  Defaults to 0.0.
        numpoints: samples per segment.  Defaults to 100.

    Returns:
        ``(x, y)`` coordinate arrays of the closed curve.
    """
    weight = np.arctan(edgy) / np.pi + 0.5
    ring = _ccw_sort(np.asarray(points, dtype=float))
    ring = np.vstack([ring, ring[:1]])
    delta = np.diff(ring, axis=0)
    ang = np.arctan2(delta[:, 1], delta[:, 0])
    ang = np.where(ang >= 0, ang, ang + 2 * np.pi)
    ang1, ang2 = ang, np.roll(ang, 1)
    ang = weight * ang1 + (1 - weight) * ang2 + (np.abs(ang2 - ang1) > np.pi) * np.pi
    ang = np.append(ang, ang[0])
    segments = [
        _segment(ring[i], ring[i + 1], ang[i], ang[i + 1], rad, numpoints) for i in range(len(ring) - 1)
    ]
    curve = np.concatenate(segments)
    return curve[:, 0], curve[:, 1]


def _default_dilation(size: int) -> int:
    kernel = max(3, round(9 * size / 256))
    return kernel if kernel % 2 == 1 else kernel + 1


def _rasterise(x: np.ndarray, y: np.ndarray, size: int, kernel: int) -> np.ndarray:
    # Outline -> dilate -> fill, as the study.  The filled polygon is OR-ed in so a curve that
    # self-intersects (possible with rad=1) still yields a solid object.
    from scipy import ndimage  # lazy: importing the registry must stay cheap
    from skimage.draw import line, polygon

    rows, cols = np.clip(y, 0, size - 1), np.clip(x, 0, size - 1)
    outline = np.zeros((size, size), dtype=bool)
    # Join consecutive curve samples with line segments (closed): a connected outline whatever
    # the sampling density.  ``skimage.draw.polygon_perimeter`` would need matplotlib.
    r_int, c_int = np.rint(rows).astype(int), np.rint(cols).astype(int)
    for r0, c0, r1, c1 in zip(r_int, c_int, np.roll(r_int, -1), np.roll(c_int, -1), strict=True):
        rr, cc = line(r0, c0, r1, c1)
        outline[rr, cc] = True
    outline = ndimage.binary_dilation(outline, structure=np.ones((kernel, kernel), dtype=bool))
    filled = ndimage.binary_fill_holes(outline)
    rr, cc = polygon(rows, cols, shape=(size, size))
    filled[rr, cc] = True
    return filled


def _segment(
    p1: np.ndarray, p2: np.ndarray, angle1: float, angle2: float, rad: float, numpoints: int
) -> np.ndarray:
    from scipy.special import binom

    r = rad * float(np.linalg.norm(p2 - p1))
    control = np.array(
        [
            p1,
            p1 + r * np.array([np.cos(angle1), np.sin(angle1)]),
            p2 + r * np.array([np.cos(angle2 + np.pi), np.sin(angle2 + np.pi)]),
            p2,
        ]
    )
    t = np.linspace(0.0, 1.0, numpoints)
    n = len(control) - 1
    basis = np.stack([binom(n, k) * t**k * (1.0 - t) ** (n - k) for k in range(n + 1)], axis=1)
    return basis @ control


def _ccw_sort(points: np.ndarray) -> np.ndarray:
    centred = points - points.mean(axis=0)
    return points[np.argsort(np.arctan2(centred[:, 0], centred[:, 1]))]
