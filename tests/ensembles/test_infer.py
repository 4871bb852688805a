"""Probability path: same masks as the Predictor, TTA variance zero for an equivariant model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segbench.models.build import build_model
from segbench.worker.infer import Predictor
from segbench.worker.probabilities import ensemble_predict, predict_with_uncertainty


def _images(n: int = 3, size: int = 16) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.random((size, size)).astype(np.float32) for _ in range(n)]


@pytest.mark.parametrize(("activation", "out_channels"), [("sigmoid", 1), ("softmax", 2)])
def test_masks_match_predictor_and_tta_variance(activation: str, out_channels: int) -> None:
    torch.manual_seed(0)
    model = build_model(
        "unet", {"channels": [4, 8], "strides": [2]}, spatial_dims=2, out_channels=out_channels
    )
    predictor = Predictor(torch.device("cpu"), activation, batch_size=2)
    images = _images()
    masks, fields = predict_with_uncertainty(predictor, model, images, tta=("flip", "rot90"))
    for a, b in zip(masks, predictor.predict(model, images), strict=True):
        np.testing.assert_array_equal(a, b)
    assert all(0.0 <= f["entropy"] <= 1.0 for f in fields)
    assert all(f["tta_variance"] > 0 for f in fields)  # a random U-Net is not flip/rot invariant
    assert all(f["disagreement"] is None for f in fields)


def test_equivariant_model_has_zero_tta_variance_and_identical_members_agree() -> None:
    conv = torch.nn.Conv2d(1, 1, 1)  # pointwise: commutes with flips and rotations
    predictor = Predictor(torch.device("cpu"), "sigmoid", batch_size=2)
    _, fields = predict_with_uncertainty(predictor, conv, _images(), tta=("flip", "rot90"))
    assert all(f["tta_variance"] == pytest.approx(0.0, abs=1e-12) for f in fields)
    _, ens = ensemble_predict(predictor, [conv, conv], _images())
    assert all(f["disagreement"] == 0.0 for f in ens)
    with pytest.raises(ValueError, match="unknown test-time augmentation"):
        predict_with_uncertainty(predictor, conv, _images(), tta=("zoom",))
