"""Bézier blob masks: seeded, non-empty, inside the image, kernel scaled with size."""

from __future__ import annotations

import numpy as np
import pytest

from segbench.datasets.blobs import bezier_blob_mask, get_bezier_curve, get_random_points


@pytest.mark.parametrize("size", [32, 64, 256])
def test_mask_is_binary_nonempty_and_inside(size: int) -> None:
    for seed in range(10):
        mask = bezier_blob_mask(np.random.default_rng(seed), size)
        assert mask.shape == (size, size) and mask.dtype == np.uint8
        assert set(np.unique(mask)) <= {0, 1}
        assert 0.02 <= mask.mean() <= 0.6
        # Points lie in [0.25, 0.75]; with rad=1.0 the curve may bulge to the border (the study's
        # recipe; the outline is clipped to the image), but the object stays central.
        centre = np.argwhere(mask).mean(axis=0) / size
        assert np.all((centre > 0.25) & (centre < 0.75))


def test_mask_is_one_filled_object() -> None:
    from scipy import ndimage

    for seed in range(10):
        mask = bezier_blob_mask(np.random.default_rng(seed), 64).astype(bool)
        _, n = ndimage.label(mask)
        assert n == 1
        assert np.array_equal(ndimage.binary_fill_holes(mask), mask)


def test_seeded() -> None:
    a = bezier_blob_mask(np.random.default_rng(5), 64)
    b = bezier_blob_mask(np.random.default_rng(5), 64)
    c = bezier_blob_mask(np.random.default_rng(6), 64)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_larger_dilation_grows_mask() -> None:
    small = bezier_blob_mask(np.random.default_rng(1), 128, dilation=1)
    large = bezier_blob_mask(np.random.default_rng(1), 128, dilation=9)
    assert large.sum() > small.sum() and np.all(large >= small)


def test_random_points_in_scaled_square() -> None:
    pts = get_random_points(np.random.default_rng(0), n=4, scale=0.5) + 0.25
    assert pts.shape == (4, 2) and pts.min() >= 0.25 and pts.max() <= 0.75


def test_curve_passes_through_points() -> None:
    pts = np.array([[0.3, 0.3], [0.7, 0.3], [0.7, 0.7], [0.3, 0.7]])
    x, y = get_bezier_curve(pts, rad=1.0, edgy=0.05)
    curve = np.stack([x, y], axis=1)
    for p in pts:
        assert np.min(np.linalg.norm(curve - p, axis=1)) < 1e-9


@pytest.mark.parametrize(("kwargs", "match"), [({"size": 8}, "size=8"), ({"size": 64, "low": 0.8}, "low")])
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        bezier_blob_mask(np.random.default_rng(0), **kwargs)
