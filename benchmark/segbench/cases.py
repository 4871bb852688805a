"""Plain data shared by datasets, perturbations and the worker.

Why: every stage hands over the same small, framework-free values (numpy arrays plus
metadata), so datasets and perturbations stay testable without torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Case", "DatasetSplits"]


@dataclass(frozen=True)
class Case:
    """One image with its binary label.

    Attributes:
        case_id: stable identifier, unique within its split (pairs cases across models).
        image: float32 array, ``(H, W)`` or ``(D, H, W)``, no channel axis.
        label: uint8 array of 0/1, same shape as ``image``.
        spacing: voxel size per axis in mm (``(1.0, 1.0)`` for synthetic 2D data).
        meta: per-case scalars stored with the metrics, e.g. ``{"complexity_kl": 1.3}``
            or ``{"fbr": 0.04}``.
    """

    case_id: str
    image: np.ndarray
    label: np.ndarray
    spacing: tuple[float, ...]
    meta: dict[str, float | str] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetSplits:
    """The train/val/test cases a dataset factory returns."""

    train: list[Case]
    val: list[Case]
    test: list[Case]

    @property
    def spatial_dims(self) -> int:
        return self.train[0].image.ndim if self.train else self.test[0].image.ndim
