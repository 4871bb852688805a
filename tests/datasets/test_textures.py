"""Texture sources: built-in list, crops in [0, 1], user folders and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage import io

from segbench.datasets.textures import BUILTIN_TEXTURES, list_textures, texture_crop, validate_texture


def _write_png(path: Path, seed: int, shape: tuple[int, ...] = (80, 100)) -> None:
    data = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    io.imsave(path, data, check_contrast=False)


def test_builtins_listed() -> None:
    assert {"brick", "grass", "gravel", "noise", "stripes"} <= set(BUILTIN_TEXTURES)
    assert list_textures() == sorted(BUILTIN_TEXTURES)


@pytest.mark.parametrize("name", BUILTIN_TEXTURES)
def test_crop_shape_range_and_seeding(name: str) -> None:
    a = texture_crop(name, np.random.default_rng(0), 48)
    b = texture_crop(name, np.random.default_rng(0), 48)
    c = texture_crop(name, np.random.default_rng(1), 48)
    assert a.shape == (48, 48) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0 and a.std() > 0.01
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_unknown_texture_lists_available() -> None:
    with pytest.raises(ValueError, match=r"fg_texture='marble'.*brick.*grass.*gravel"):
        validate_texture("marble", param="fg_texture")


def test_user_texture_dir(tmp_path: Path) -> None:
    _write_png(tmp_path / "sand.png", 0)
    _write_png(tmp_path / "rgbtex.png", 1, shape=(40, 40, 3))
    (tmp_path / "notes.txt").write_text("not an image")
    assert {"sand", "rgbtex"} <= set(list_textures(tmp_path))
    crop = texture_crop("sand", np.random.default_rng(0), 32, tmp_path)
    assert crop.shape == (32, 32) and crop.min() >= 0.0 and crop.max() <= 1.0
    # Smaller than the requested size: cropped whole and resized up.
    big = texture_crop("rgbtex", np.random.default_rng(0), 64, tmp_path)
    assert big.shape == (64, 64)


def test_texture_dir_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"texture_dir=.*not an existing folder"):
        list_textures(tmp_path / "missing")
    _write_png(tmp_path / "grass.png", 0)
    with pytest.raises(ValueError, match=r"grass\.png shadows the built-in texture 'grass'"):
        list_textures(tmp_path)


def test_texture_dir_duplicate_stem(tmp_path: Path) -> None:
    _write_png(tmp_path / "sand.png", 0)
    _write_png(tmp_path / "sand.tif", 1)
    with pytest.raises(ValueError, match="both define texture 'sand'"):
        list_textures(tmp_path)
