"""Overlap metrics against hand-counted values and the nnU-Net empty-mask rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from segbench.metrics.overlap import confusion, dice

# (pred, ref, expected (tp, fp, fn), expected dice); counts done by hand
CASES = [
    ([1, 1, 0, 0], [0, 1, 1, 0], (1, 1, 1), 2 * 1 / (2 + 1 + 1)),
    ([1, 1, 1, 1], [1, 1, 1, 1], (4, 0, 0), 1.0),
    ([1, 0, 0, 0], [0, 0, 0, 1], (0, 1, 1), 0.0),
    ([[1, 1], [0, 0]], [[1, 1], [1, 0]], (2, 0, 1), 4 / 5),
    ([0, 0, 0], [0, 0, 0], (0, 0, 0), math.nan),  # both empty -> nan (nnU-Net)
    ([0, 1, 0], [0, 0, 0], (0, 1, 0), 0.0),  # empty reference, non-empty prediction -> 0
    ([0, 0, 0], [0, 1, 0], (0, 0, 1), 0.0),  # missed structure -> 0
]


@pytest.mark.parametrize(("pred", "ref", "counts", "exp_dice"), CASES)
def test_overlap_table(pred, ref, counts, exp_dice):
    assert confusion(pred, ref) == counts
    np.testing.assert_equal(dice(pred, ref), exp_dice)


def test_3d_and_nonbinary_values():
    ref = np.zeros((4, 5, 6), dtype=np.uint8)
    ref[1:3, 1:4, 1:5] = 1  # 2*3*4 = 24 voxels
    pred = np.zeros_like(ref, dtype=float)
    pred[1:3, 1:4, 1:3] = 0.7  # non-zero counts as foreground: 12 voxels, all inside ref
    assert confusion(pred, ref) == (12, 0, 12)
    assert dice(pred, ref) == pytest.approx(24 / 36)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="same shape"):
        dice(np.zeros((2, 2)), np.zeros((2, 3)))
