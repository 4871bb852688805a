"""Prediction: whole-image forward passes, or MONAI sliding windows for patch-trained models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext

import numpy as np
import torch
from monai.inferers import sliding_window_inference

from segbench.models.contract import checked_logits, out_channels_for
from segbench.worker.data import InputFormat, stack_images

__all__ = ["NonFiniteOutputError", "Predictor", "check_finite"]


class NonFiniteOutputError(FloatingPointError):
    """The model produced NaN/inf logits: a failure to record, never a (zero) score."""


def check_finite(logits: torch.Tensor) -> torch.Tensor:
    """``logits`` unchanged, or ``NonFiniteOutputError`` when any value is NaN/inf.

    Every prediction path (plain, TTA, ensembles) calls this before thresholding: a NaN
    compared with 0 is False, so NaN logits would otherwise become an empty mask scored as Dice 0.
    """
    bad = int((~torch.isfinite(logits)).sum().item())
    if bad:
        raise NonFiniteOutputError(
            f"model output has {bad} non-finite values of {logits.numel()} (NaN/inf logits)"
        )
    return logits


class Predictor:
    """Binary masks from a model, matching how it was trained.

    Non-finite logits raise ``NonFiniteOutputError`` (thresholding NaN would silently
    give an empty mask, i.e. Dice 0 and a worst-case HD95 scored as a result).

    Args:
        activation: "sigmoid" (1 output channel, threshold 0.5) or "softmax" (argmax).
        roi_size: sliding-window size (the training patch); None predicts whole images.
        overlap: sliding-window overlap. Defaults to 0.25.
        batch_size: images (or windows) per forward pass.
        fmt: channels, scaling and padding of the inputs (default: single-channel, min-max);
            masks of padded images are cropped back to each image's own size.
    """

    def __init__(
        self,
        device: torch.device,
        activation: str = "sigmoid",
        roi_size: Sequence[int] | None = None,
        overlap: float = 0.25,
        batch_size: int = 8,
        amp: bool = False,
        fmt: InputFormat | None = None,
    ) -> None:
        self.fmt = fmt or InputFormat()
        self.device = device
        self.activation = activation
        self.roi_size = tuple(roi_size) if roi_size else None
        self.overlap = overlap
        self.batch_size = batch_size
        self.amp = amp and device.type == "cuda"

    @property
    def out_channels(self) -> int:
        return out_channels_for(self.activation)

    def _checked(self, model: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
        """``model`` whose every window's output is checked to be logits for that window."""
        return lambda window: checked_logits(model(window), window, self.out_channels)

    def _autocast(self):  # type: ignore[no-untyped-def]
        return torch.autocast("cuda", dtype=torch.float16) if self.amp else nullcontext()

    def _to_mask(self, logits: torch.Tensor) -> np.ndarray:
        check_finite(logits)
        if self.activation == "softmax":
            return logits.argmax(dim=1).to(torch.uint8).cpu().numpy()
        return (logits[:, 0] > 0).to(torch.uint8).cpu().numpy()  # sigmoid(x) > 0.5  <=>  x > 0

    def logits(self, model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        """Float logits for ``batch``: one forward pass, or Gaussian-blended sliding windows of the
        training patch size; every output is checked to be logits for its input."""
        with self._autocast():
            if self.roi_size is None:
                out = checked_logits(model(batch), batch, self.out_channels)
            else:
                out = sliding_window_inference(
                    batch,
                    self.roi_size,
                    self.batch_size,
                    self._checked(model),
                    overlap=self.overlap,
                    mode="gaussian",
                )
        return torch.as_tensor(out).float()

    @torch.no_grad()
    def predict(self, model: torch.nn.Module, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Masks (uint8, each the shape of its image) for raw images (min-max scaled here)."""
        model.eval()
        # Whole images go in batches; sliding windows batch the windows of one image instead.
        step = self.batch_size if self.roi_size is None else 1
        masks: list[np.ndarray] = []
        for start in range(0, len(images), step):
            chunk = images[start : start + step]
            batch = stack_images(chunk, self.fmt).to(self.device)
            for image, mask in zip(chunk, self._to_mask(self.logits(model, batch)), strict=True):
                masks.append(mask[tuple(slice(0, n) for n in image.shape[-mask.ndim :])])
        return masks
