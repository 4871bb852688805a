"""Plain data shared by datasets, perturbations and the worker.

Why: every stage hands over the same small, framework-free values (numpy arrays plus
metadata), so datasets and perturbations stay testable without torch.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["SCALINGS", "Case", "DatasetSplits", "NativeGrid", "perturb_channels"]

SCALINGS = ("minmax", "zscore", "none")


@dataclass(frozen=True)
class NativeGrid:
    """A case's label on its file's own grid, kept when the image was resized for the model.

    Attributes:
        label: uint8 0/1 ``(*native spatial)``, the label as read (after ``label_threshold``).
        spacing: the file's voxel size per axis (mm), ``(1.0, ...)`` where the file has none.
    """

    label: np.ndarray
    spacing: tuple[float, ...]


@dataclass(frozen=True)
class Case:
    """One image with its binary label.

    Attributes:
        case_id: stable identifier, unique within its split (pairs cases across models);
            real datasets use the file stem.
        image: float32 array, ``(H, W)`` or ``(D, H, W)``, or channel-first ``(C, H, W)`` /
            ``(C, D, H, W)`` for multi-channel data (RGB, several modalities).  The channel
            axis exists exactly when ``image.ndim == label.ndim + 1``.
        label: uint8 array of 0/1, the spatial shape of ``image``.
        spacing: voxel size per spatial axis in mm (``(1.0, 1.0)`` = pixel units).
        meta: per-case scalars stored with the metrics, e.g. ``{"complexity_kl": 1.3}``
            or ``{"fbr": 0.04}``.
        native: the original grid to score on (``score_at: native`` with a resize), else None.
    """

    case_id: str
    image: np.ndarray
    label: np.ndarray
    spacing: tuple[float, ...]
    meta: dict[str, float | str] = field(default_factory=dict)
    native: NativeGrid | None = None

    @property
    def in_channels(self) -> int:
        """Number of image channels (1 when the image has no channel axis)."""
        return self.image.shape[0] if self.image.ndim == self.label.ndim + 1 else 1


@dataclass(frozen=True)
class DatasetSplits:
    """The train/val/test cases a dataset factory returns.

    Attributes:
        scaling: the per-image intensity scaling the runner applies to model inputs (after
            any test-time perturbation): ``"minmax"`` (the study's; synthetic data),
            ``"zscore"`` (per channel) or ``"none"`` (a fixed window already applied).
        official_test: the test list is the dataset's own (a datalist ``test`` list, GlaS
            testA/B); a train-on-A/test-on-B shift then uses only it, else all of B's cases.
        fingerprint: the files' content identity (real data; ``""`` for synthetic).
    """

    train: list[Case]
    val: list[Case]
    test: list[Case]
    scaling: str = "minmax"
    official_test: bool = False
    fingerprint: str = ""

    @property
    def spatial_dims(self) -> int:
        case = self.train[0] if self.train else self.test[0]
        return case.label.ndim

    @property
    def in_channels(self) -> int:
        return (self.train[0] if self.train else self.test[0]).in_channels

    @property
    def common_size(self) -> tuple[int, ...] | None:
        """The one image size every case shares, or None when sizes differ (``size: null``).

        Why: a model built for a fixed input (UNETR's ``img_size``) must not get the first
        image's size when the others differ.
        """
        shapes = {c.label.shape for c in (*self.train, *self.val, *self.test)}
        return tuple(int(s) for s in shapes.pop()) if len(shapes) == 1 else None

    def split_ids(self) -> dict[str, list[str]]:
        """Case ids per split (stored with the job so the split can be exported)."""
        return {name: [c.case_id for c in getattr(self, name)] for name in ("train", "val", "test")}


def perturb_channels(
    perturb: Callable[..., tuple[np.ndarray, dict[str, Any]]],
    name: str,
    image: np.ndarray,
    label: np.ndarray,
    *,
    severity: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply a (name, image, label, severity, rng) perturbation per channel of a multi-channel image.

    Why one draw for every channel: each channel gets a copy of the same generator state,
    so a gamma, bias field or blur is the same on R, G and B (no colour shift is invented)
    and noise is luminance noise.  Single-channel images are passed straight through.
    """
    if image.ndim == label.ndim:
        return perturb(name, image, label, severity=severity, rng=rng)
    out, params = [], {}
    for k, channel in enumerate(image):
        stream = rng if k == image.shape[0] - 1 else copy.deepcopy(rng)
        result, sampled = perturb(name, channel, label, severity=severity, rng=stream)
        out.append(result)
        params = params or sampled
    return np.stack(out).astype(np.float32), params
