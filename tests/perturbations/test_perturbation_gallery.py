"""The perturbation gallery mosaic and its PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from perturbation_cases import textured_case
from PIL import Image

from segbench.registry import PERTURBATIONS
from segbench.tools.gallery import gallery_grid, save_gallery_png


def test_grid_shape_labels_and_clean_column_2d() -> None:
    image, label = textured_case((32, 40))
    mosaic, rows, cols = gallery_grid(image, label, names=["speckle", "gamma"], severities=(1, 5))
    assert rows == ["speckle", "gamma"]
    assert cols == [0, 1, 5]
    assert mosaic.dtype == np.uint8
    assert mosaic.shape == (2 * 34 - 2, 3 * 42 - 2, 3)
    clean = mosaic[:32, :40]
    assert np.any(np.all(clean == (255, 64, 64), axis=-1))  # label outline drawn
    assert np.array_equal(mosaic[:32, :40], mosaic[34:66, :40])  # every row starts clean
    perturbed = mosaic[:32, 42:82]
    assert np.ptp(perturbed[..., 0]) > 0 and np.array_equal(perturbed[..., 0], perturbed[..., 1])


def test_grid_defaults_to_every_entry_and_is_seeded_3d() -> None:
    image, label = textured_case((8, 16, 16))
    mosaic, rows, cols = gallery_grid(image, label)
    assert rows == PERTURBATIONS.names() and cols == [0, 1, 2, 3, 4, 5]
    assert mosaic.shape == (len(rows) * 18 - 2, 6 * 18 - 2, 3)
    again, _, _ = gallery_grid(image, label)
    np.testing.assert_array_equal(mosaic, again)


def test_grid_rejects_bad_input() -> None:
    image, label = textured_case((16, 16))
    with pytest.raises(ValueError, match="spatial shape"):
        gallery_grid(image, label[:8])
    with pytest.raises(ValueError, match="severity"):
        gallery_grid(image, label, names=["gamma"], severities=(7,))


def test_save_png_round_trip(tmp_path: Path) -> None:
    image, label = textured_case((16, 16))
    path = save_gallery_png(tmp_path / "sub" / "gallery.png", image, label, names=["gibbs"], zoom=2)
    with Image.open(path) as png:
        assert png.mode == "RGB"
        assert png.size == ((6 * 18 - 2) * 2, 16 * 2)
