"""LBP-KL / LBP-JSD complexity and foreground ratio: hand-checked cases and the trend over alpha."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from segbench.datasets.textures2d import build
from segbench.metrics.complexity import foreground_ratio, lbp_jsd, lbp_kl


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


def test_jsd_hand_computed_and_bounded() -> None:
    # Constant image: every interior pixel has LBP code P (all neighbours >= centre) -> both regions
    # have identical histograms -> JSD 0.  A constant patch inside random noise: disjoint-ish.
    mask = _square_mask(32)
    assert lbp_jsd(np.full((32, 32), 0.5), mask, pseudo_count=0.0) == 0.0
    # add-1/2 smoothing spreads a little mass over the 9 empty bins of each region's histogram
    assert 0.0 < lbp_jsd(np.full((32, 32), 0.5), mask) < 0.01
    noisy = np.random.default_rng(0).random((32, 32))
    noisy[mask == 1] = 0.5
    value = lbp_jsd(noisy, mask, pseudo_count=0.0)
    # inside the patch (away from its edge) every code is P; noise spreads the background over all
    # codes, so the two histograms overlap little: a large value, still within [0, 1]
    assert 0.3 < value <= 1.0
    # hand formula on the same histograms (border of 1 px excluded, uniform LBP P=8 -> 10 bins)
    from skimage.feature import local_binary_pattern

    codes = local_binary_pattern(np.rint(noisy * 255).astype(np.uint8), 8, 1, method="uniform")[1:-1, 1:-1]
    fg = (mask == 1)[1:-1, 1:-1]
    p = np.bincount(codes[fg].astype(int), minlength=10) / fg.sum()
    q = np.bincount(codes[~fg].astype(int), minlength=10) / (~fg).sum()
    m = (p + q) / 2
    kl = lambda a: float(np.sum(a[a > 0] * np.log2(a[a > 0] / m[a > 0])))  # noqa: E731
    assert value == pytest.approx(0.5 * kl(p) + 0.5 * kl(q))


def test_jsd_nan_and_bad_inputs() -> None:
    image = np.random.default_rng(0).random((32, 32))
    assert math.isnan(lbp_jsd(image, np.zeros((32, 32), np.uint8)))
    ring = np.ones((32, 32), np.uint8)
    ring[0, :] = 0  # background only on the excluded border
    assert math.isnan(lbp_jsd(image, ring))
    with pytest.raises(ValueError, match="mask shape"):
        lbp_jsd(np.zeros((8, 8)), np.zeros((8, 9)))
    with pytest.raises(ValueError, match="too small"):
        lbp_jsd(np.zeros((2, 2)), np.zeros((2, 2)))


@pytest.mark.slow
def test_jsd_level_means_fall_monotonically_over_alpha_and_never_negative() -> None:
    # The study's levels incl. the fine ones, 128 px images at native resolution, 21 test images per
    # level (the same masks and crops at every level: only the blend changes).
    alphas = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.82, 0.85, 0.88, 0.9, 0.92, 0.95, 0.98]
    means, kl_means = [], []
    for alpha in alphas:
        splits = build(np.random.default_rng(3), alpha, size=128, n_images=24, split=(0.05, 0.05, 0.9))
        values = [c.meta["complexity_jsd"] for c in splits.test]
        assert all(0.0 <= v <= 1.0 for v in values)
        means.append(np.mean(values))
        kl_means.append(np.mean([c.meta["complexity_kl"] for c in splits.test]))
    assert np.all(np.diff(means) < 0), means
    # the study's LBP-KL cannot order the hard levels (it floors after the 4x upsample)
    assert not np.all(np.diff(kl_means) < 0)
