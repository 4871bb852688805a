"""Overlap metrics for binary masks (Dice, IoU), one case at a time.

Why plain numpy: the empty-mask rules below must be explicit and identical everywhere (training
validation, evaluation, reports), and they follow nnU-Net v2 (``nnunetv2/evaluation``), which MONAI's
``DiceMetric`` does not by default (it can return 1.0 or NaN depending on ``ignore_empty``).

Empty-mask rule (DESIGN.md §5):
    * reference and prediction both empty -> ``nan`` (the case is excluded from means and counted
      separately by the caller; a "perfect" 1.0 would inflate scores on empty slices);
    * reference empty, prediction non-empty (or the reverse) -> ``0.0``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["confusion", "dice"]


def confusion(pred: ArrayLike, ref: ArrayLike) -> tuple[int, int, int]:
    """Voxel counts of true positives, false positives and false negatives.

    Args:
        pred: predicted binary mask, any shape (e.g. ``(H, W)`` or ``(D, H, W)``); non-zero = foreground.
        ref: reference binary mask with the same shape as ``pred``.

    Returns:
        ``(tp, fp, fn)`` as Python ints (true negatives are not returned: no overlap metric here needs
        them and they depend on the field of view).

    Raises:
        ValueError: if the shapes differ.

    Example:
        >>> confusion(np.array([1, 1, 0]), np.array([0, 1, 1]))
        (1, 1, 1)
    """
    p, r = _as_bool_pair(pred, ref)
    tp = int(np.count_nonzero(p & r))
    fp = int(np.count_nonzero(p & ~r))
    fn = int(np.count_nonzero(~p & r))
    return tp, fp, fn


def dice(pred: ArrayLike, ref: ArrayLike) -> float:
    """Dice similarity coefficient ``2 TP / (2 TP + FP + FN)`` with nnU-Net's empty-mask rule.

    Args:
        pred: predicted binary mask, any shape; non-zero = foreground.
        ref: reference binary mask with the same shape.

    Returns:
        Dice in ``[0, 1]``; ``nan`` when both masks are empty; ``0.0`` when exactly one is empty.

    Example:
        >>> dice(np.array([1, 1, 0, 0]), np.array([0, 1, 1, 0]))
        0.5
    """
    tp, fp, fn = confusion(pred, ref)
    denom = 2 * tp + fp + fn
    if denom == 0:
        return float("nan")
    return 2.0 * tp / denom


def _as_bool_pair(pred: ArrayLike, ref: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both masks as boolean arrays of one shape (``ValueError`` otherwise)."""
    p = np.asarray(pred) != 0
    r = np.asarray(ref) != 0
    if p.shape != r.shape:
        raise ValueError(f"pred and ref must have the same shape, got {p.shape} and {r.shape}")
    return p, r
