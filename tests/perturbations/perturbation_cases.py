"""Synthetic cases for the perturbation tests: smooth textured images with a disk / sphere label.

A uniquely named module (not ``conftest``) so that ``import`` cannot pick up another test
folder's ``conftest`` from ``sys.modules``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

SHAPES = {"2d": (64, 64), "3d": (24, 32, 32)}


def textured_case(shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A float32 image in about [0, 0.8] (gradient + smooth texture + bright disk) and its label.

    Why textured: blur-type perturbations must visibly change the background, and PSNR must
    respond to every level; a flat image would hide both.
    """
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.linspace(-1.0, 1.0, n) for n in shape], indexing="ij")
    radius = np.sqrt(sum(g**2 for g in grids))
    texture = ndimage.gaussian_filter(rng.standard_normal(shape), 1.5)
    texture /= np.abs(texture).max()
    label = (radius < 0.45).astype(np.uint8)
    image = 0.35 + 0.15 * grids[-1] + 0.15 * texture + 0.1 * np.sin(6 * grids[-2]) + 0.25 * label
    return image.astype(np.float32), label


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """PSNR in dB with peak = the reference's intensity range."""
    peak = float(reference.max() - reference.min())
    mse = float(np.mean((image.astype(np.float64) - reference.astype(np.float64)) ** 2))
    return 10.0 * np.log10(peak**2 / max(mse, 1e-30))
