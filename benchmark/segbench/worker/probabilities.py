"""Foreground probabilities, masks and per-case uncertainty from one model or an ensemble (torch).

Why beside :class:`segbench.worker.infer.Predictor` rather than inside it: the predictor returns masks
only; uncertainty needs the probabilities behind them, and an ensemble needs its members' probabilities
averaged. Both use the predictor's settings (device, activation, sliding window, batch size, AMP) and
the same mask rule, so a model's masks are identical whichever path produced them.

The foreground logit ``x`` is the sigmoid logit, or ``l1 - l0`` for two-class softmax; the probability
is ``sigmoid(x) = 0.5 + 0.5 tanh(x / 2)``. Masks compare the *centred* probability ``0.5 tanh(x / 2)``
(or its ensemble mean) with 0 in float64, which keeps its sign exactly: an ensemble of one member
reproduces the member's masks bit for bit (``sigmoid(x) > 0.5`` in float32 would not for tiny ``x``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from segbench.metrics.uncertainty import case_uncertainty
from segbench.worker.data import stack_images
from segbench.worker.infer import Predictor, check_finite
from segbench.worker.native import MaskRule

__all__ = ["TTA_CHOICES", "ensemble_predict", "predict_with_uncertainty"]

#: test-time augmentations: ``flip`` (each spatial axis), ``rot90`` (90/180/270 degrees in the last two axes)
TTA_CHOICES = ("flip", "rot90")

Transform = tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]


def predict_with_uncertainty(
    predictor: Predictor,
    model: torch.nn.Module,
    images: Sequence[np.ndarray],
    tta: Sequence[str] = (),
    to_mask: MaskRule | None = None,
) -> tuple[list[np.ndarray], list[dict[str, float | None]]]:
    """Masks (as ``predictor.predict``) plus each case's uncertainty fields.

    Args:
        predictor: the job's predictor.
        model: a trained model.
        images: raw test images (min-max scaled here, as in training).
        tta: test-time augmentations for the TTA variance (see ``TTA_CHOICES``); the mask itself is
            always the plain prediction.
        to_mask: ``(case index, foreground logit) -> mask``; default: logit > 0 on the model grid
            (``segbench.worker.native`` resamples the logit to the file's grid first).

    Returns:
        ``(masks, uncertainty)``: uint8 masks and ``{"entropy", "disagreement", "tta_variance"}`` dicts.
    """
    masks, fields = [], []
    for i, (logits, views) in enumerate(_foreground_cases(predictor, [model], images, tta)):
        masks.append(to_mask(i, logits[0]) if to_mask else (logits[0] > 0).astype(np.uint8))
        fields.append(case_uncertainty(0.5 + _centred(logits[0]), tta=[0.5 + _centred(v) for v in views]))
    return masks, fields


def ensemble_predict(
    predictor: Predictor,
    models: Sequence[torch.nn.Module],
    images: Sequence[np.ndarray],
    to_mask: MaskRule | None = None,
) -> tuple[list[np.ndarray], list[dict[str, float | None]]]:
    """Masks of the members' mean foreground probability, with entropy and member disagreement.

    Args:
        predictor: predictor settings shared by the members (same activation and patch size).
        models: trained member models.
        images: raw test images.
        to_mask: ``(case index, score) -> mask`` with score the mean centred probability (a single
            member's logit); default: > 0 on the model grid.

    Returns:
        ``(masks, uncertainty)`` as :func:`predict_with_uncertainty`.
    """
    if not models:
        raise ValueError("ensemble_predict: an ensemble needs at least one member model")
    masks, fields = [], []
    for i, (logits, _) in enumerate(_foreground_cases(predictor, models, images, ())):
        centred = _centred(logits)
        mean = centred.mean(axis=0)
        # One member: its logit, so the mask is the member's own on any grid (a logit and its
        # probability interpolate differently); several: the mean probability, as it is averaged.
        score = logits[0] if len(models) == 1 else mean
        masks.append(to_mask(i, score) if to_mask else (score > 0).astype(np.uint8))
        members = [0.5 + c for c in centred] if len(models) > 1 else []
        fields.append(case_uncertainty(0.5 + mean, members=members))
    return masks, fields


def _foreground_cases(
    predictor: Predictor, models: Sequence[torch.nn.Module], images: Sequence[np.ndarray], tta: Sequence[str]
) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
    """Per case: foreground logits ``(M, *spatial)`` (float64) of each model, and per TTA view those
    of model 0 (mapped back to the original orientation); batch padding cropped as the predictor does."""
    unknown = sorted(set(tta) - set(TTA_CHOICES))
    if unknown:
        raise ValueError(f"unknown test-time augmentation(s) {unknown}; choose from {list(TTA_CHOICES)}")
    for m in models:
        m.eval()
    step = predictor.batch_size if predictor.roi_size is None else 1
    with torch.no_grad():
        for start in range(0, len(images), step):
            chunk = images[start : start + step]
            batch = stack_images(chunk, predictor.fmt).to(predictor.device)
            fg = np.stack([_foreground(_logits(predictor, m, batch)) for m in models])  # (M, B, ...)
            views = [
                _foreground(inverse(_logits(predictor, models[0], forward(batch))))
                for forward, inverse in _transforms(tta, batch)
            ]
            for i, image in enumerate(chunk):
                crop = tuple(slice(0, n) for n in image.shape[-(fg.ndim - 2) :])
                yield fg[(slice(None), i, *crop)], [v[(i, *crop)] for v in views]


def _logits(predictor: Predictor, model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """Model output as the predictor computes it; NaN logits are a recorded failure, not Dice 0."""
    return check_finite(predictor.logits(model, batch))


def _foreground(logits: torch.Tensor) -> np.ndarray:
    """The foreground logit ``x`` in float64, ``(B, *spatial)``; ``x > 0`` is exactly the mask rule."""
    x = logits.detach().cpu().numpy().astype(np.float64)
    if x.shape[1] == 1:
        return x[:, 0]
    if x.shape[1] == 2:
        return x[:, 1] - x[:, 0]  # argmax picks 1 exactly when l1 > l0
    raise ValueError(f"uncertainty needs a binary model (1 or 2 output channels), got {x.shape[1]}")


def _centred(fg: np.ndarray) -> np.ndarray:
    """``sigmoid(x) - 0.5 = 0.5 tanh(x / 2)`` in float64; its sign is the sign of ``x``."""
    return 0.5 * np.tanh(fg / 2.0)


def _transforms(tta: Sequence[str], batch: torch.Tensor) -> list[Transform]:
    """(forward, inverse) pairs on ``(N, C, *spatial)`` tensors."""
    spatial = list(range(2, batch.dim()))
    out: list[Transform] = []
    if "flip" in tta:
        for axis in spatial:
            out.append((lambda t, a=axis: torch.flip(t, (a,)), lambda t, a=axis: torch.flip(t, (a,))))
    if "rot90" in tta:
        square = batch.shape[-1] == batch.shape[-2]
        for k in (1, 2, 3) if square else (2,):
            out.append(
                (
                    lambda t, k=k: torch.rot90(t, k, dims=(-2, -1)),
                    lambda t, k=k: torch.rot90(t, -k, dims=(-2, -1)),
                )
            )
    return out
