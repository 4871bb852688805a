"""LBP-KL complexity and foreground ratio: hand-checked cases and the trend over alpha."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from segbench.datasets.textures2d import build
from segbench.metrics.complexity import foreground_ratio, lbp_kl


def _square_mask(size: int = 64) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    mask[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1
    return mask


def test_same_texture_inside_and_outside_is_near_zero() -> None:
    image = np.random.default_rng(0).random((64, 64))
    assert 0.0 <= lbp_kl(image, _square_mask()) < 0.05


def test_different_textures_score_higher() -> None:
    rng = np.random.default_rng(0)
    mask = _square_mask()
    flat_inside = rng.random((64, 64))
    flat_inside[mask == 1] = 0.5  # constant patch: one LBP code inside, many outside
    assert lbp_kl(flat_inside, mask) > 1.0


def test_hand_computed_without_resize() -> None:
    # Constant 32x32 image: a pixel whose radius-3 circle lies inside the image (rows and
    # columns 3..28, 26*26 = 676 pixels) has all neighbours equal to it -> code P; nearer the
    # edge skimage samples zeros, giving other codes.  The 16x16 foreground is all interior,
    # so p_fg = [1 at code P] and p_bg(P) = (676 - 256) / (1024 - 256); KL = log2(768 / 420).
    image = np.full((32, 32), 0.5)
    assert lbp_kl(image, _square_mask(32), resize_to=None) == pytest.approx(math.log2(768 / 420))


def test_empty_foreground_or_background_is_nan() -> None:
    image = np.random.default_rng(0).random((32, 32))
    assert math.isnan(lbp_kl(image, np.zeros((32, 32), np.uint8)))
    assert math.isnan(lbp_kl(image, np.ones((32, 32), np.uint8)))


def test_scaling_invariance_and_uint8_input() -> None:
    image = np.random.default_rng(1).random((48, 48))
    mask = _square_mask(48)
    as_uint8 = np.rint(image * 255).astype(np.uint8)
    assert lbp_kl(image, mask) == pytest.approx(lbp_kl(as_uint8, mask))
    # Values outside [0, 1] are min-max scaled: an affine change of a [0, 1] image is the same.
    assert lbp_kl(image * 1000.0 - 200.0, mask) == pytest.approx(lbp_kl(image, mask), abs=0.02)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="mask shape"):
        lbp_kl(np.zeros((8, 8)), np.zeros((8, 9)))
    with pytest.raises(ValueError, match="2D"):
        lbp_kl(np.zeros((4, 8, 8)), np.zeros((4, 8, 8)))
    with pytest.raises(ValueError, match="method='fancy'"):
        lbp_kl(np.zeros((8, 8)), np.zeros((8, 8)), method="fancy")


def test_mean_measure_falls_with_alpha() -> None:
    # Per image the measure is noisy; averaged over a level's cases it must fall with alpha.
    alphas = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    means = []
    for alpha in alphas:
        splits = build(np.random.default_rng(7), alpha, size=64, n_images=10, split=(0.1, 0.1, 0.8))
        means.append(np.mean([c.meta["complexity_kl"] for c in splits.test]))
    rho = spearmanr(alphas, means).statistic
    assert rho < -0.8, (rho, means)


def test_foreground_ratio() -> None:
    label = np.zeros((4, 5, 5), np.uint8)
    label[0, :2, :2] = 1
    assert foreground_ratio(label) == pytest.approx(4 / 100)
    assert foreground_ratio(np.zeros((3, 3))) == 0.0
    with pytest.raises(ValueError, match="empty"):
        foreground_ratio(np.zeros((0,)))
