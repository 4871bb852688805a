"""Scoring at native resolution: the model's output resampled to each file's own grid.

Why: papers and challenges report metrics on the original image (nnU-Net resamples its
logits back to the original shape before the argmax; Metrics Reloaded scores against the
reference as annotated).  A mask scored on the resized grid against a nearest-resized label
is another number: on a two-site retinal-vessel pair it read 0.62 Dice where the same
predictions scored natively read 0.53, and HD95 came out in resized pixels.

How: a case that was resized for the model carries its original label and spacing
(``Case.native``, kept by ``segbench.datasets.preprocess`` when ``score_at: native``).  The
foreground score (a logit; for an ensemble its mean centred probability) -- already cropped
back from any batch padding by the predictor -- is interpolated (bilinear / trilinear,
``align_corners=False`` as MONAI's ``Resize``) to that grid and thresholded there, and every
metric is computed against the original label with the file's spacing.  A case without a
native grid (synthetic data, ``size: null``, ``score_at: model``) is scored as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from segbench.cases import Case

__all__ = ["MaskRule", "mask_rule", "scoring_case", "to_native"]

#: (case index, foreground score on the model grid; foreground where > 0) -> uint8 mask to score
MaskRule = Callable[[int, np.ndarray], np.ndarray]


def to_native(score: np.ndarray, case: Case) -> np.ndarray:
    """The uint8 mask of ``score`` (> 0) on ``case``'s native grid (its own grid when it has none).

    Args:
        score: foreground score ``(*spatial)`` on the model grid; its sign is the mask.
        case: the test case; ``case.native.label.shape`` is the target grid.

    Returns:
        uint8 0/1 ``(*native spatial)``.
    """
    if case.native is None or tuple(case.native.label.shape) == tuple(score.shape):
        return (score > 0).astype(np.uint8)
    import torch
    import torch.nn.functional as F

    tensor = torch.from_numpy(np.ascontiguousarray(score, dtype=np.float32))[None, None]
    mode = "bilinear" if score.ndim == 2 else "trilinear"
    resampled = F.interpolate(tensor, size=tuple(case.native.label.shape), mode=mode, align_corners=False)
    return (resampled[0, 0].numpy() > 0).astype(np.uint8)


def mask_rule(cases: Sequence[Case]) -> MaskRule:
    """The mask rule of a test set, for ``segbench.worker.probabilities``: native where a case has a grid."""
    return lambda i, score: to_native(score, cases[i])


def scoring_case(case: Case) -> Case:
    """The case metrics are computed against: the original label and spacing when it has them."""
    if case.native is None:
        return case
    return replace(case, label=case.native.label, spacing=case.native.spacing, native=None)
