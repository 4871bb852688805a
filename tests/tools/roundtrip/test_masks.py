"""``read_mask``: which predicted masks are accepted, and the one-line reason for the others."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segbench.tools.roundtrip.importer import read_mask


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.array([[0, 1], [1, 0]], np.uint8), [[False, True], [True, False]]),
        (np.array([[0, 255], [0, 0]], np.uint8), [[False, True], [False, False]]),  # PNG convention
        (np.array([[0.0, 1.0], [1.0, 1.0]], np.float32), [[False, True], [True, True]]),
        (np.array([[[0], [1]], [[0], [0]]], np.uint8), [[False, True], [False, False]]),  # (H, W, 1)
    ],
)
def test_accepted_masks(tmp_path: Path, array: np.ndarray, expected: list[list[bool]]) -> None:
    path = tmp_path / "m.npy"
    np.save(path, array)
    np.testing.assert_array_equal(read_mask(path, (2, 2)), np.array(expected))


@pytest.mark.parametrize(
    ("array", "reason"),
    [
        (np.array([[0.0, 0.7], [0.2, 1.0]], np.float32), "holds probabilities (e.g. 0.2)"),
        (np.array([[0, 1], [2, 0]], np.uint8), "label values [0, 1, 2]; expected a binary 0/1 mask"),
        (np.array([[0, np.nan], [0, 0]], np.float32), "contains NaN"),
        (np.zeros((3, 2), np.uint8), "shape (3, 2), expected (2, 2)"),
    ],
)
def test_rejected_masks_say_why(tmp_path: Path, array: np.ndarray, reason: str) -> None:
    path = tmp_path / "m.npy"
    np.save(path, array)
    with pytest.raises(ValueError) as info:
        read_mask(path, (2, 2))
    assert reason in str(info.value)


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "m.nii.gz"
    path.write_text("not an image")
    with pytest.raises(ValueError, match="unreadable"):
        read_mask(path, (2, 2))
