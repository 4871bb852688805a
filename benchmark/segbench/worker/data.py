"""Turn cases into model-ready tensors and training batches.

Two batch sources share one interface: whole images (2D study, ``patch_budget: full``)
and MONAI ``RandCropByPosNegLabel`` patches (3D context study), whose per-crop foreground
ratio is recorded.  All randomness comes from generators seeded by the job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from monai.transforms import RandCropByPosNegLabel

from segbench.cases import Case

__all__ = ["Augmenter", "FullImageBatches", "PatchBatches", "minmax", "stack_images"]

# (raw image, label, rng) -> perturbed raw image; built from the suite's ``train.augment``.
Augmenter = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]


def minmax(image: np.ndarray) -> np.ndarray:
    """Per-image min-max scaling to [0, 1] (the study's intensity normalisation)."""
    image = image.astype(np.float32, copy=False)
    low, high = float(image.min()), float(image.max())
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def stack_images(images: Sequence[np.ndarray]) -> torch.Tensor:
    """``(N, 1, *spatial)`` float tensor of min-max scaled images."""
    return torch.from_numpy(np.stack([minmax(im) for im in images])[:, None])


def _random_rotate90(x: torch.Tensor, y: torch.Tensor, p: float, gen: torch.Generator) -> tuple:
    """RandRotate90 per sample in the last two axes (as MONAI's, prob ``p``, k in 1..3)."""
    if p <= 0:
        return x, y
    x, y = x.clone(), y.clone()
    apply = torch.rand(len(x), generator=gen) < p
    turns = torch.randint(1, 4, (len(x),), generator=gen)
    for i in torch.nonzero(apply).flatten().tolist():
        k = int(turns[i])
        x[i] = torch.rot90(x[i], k, dims=(-2, -1))
        y[i] = torch.rot90(y[i], k, dims=(-2, -1))
    return x, y


class FullImageBatches:
    """Shuffled mini-batches of whole images with RandRotate90 and optional augmentation.

    Square images are required for rotation; non-square ones skip it (noted in docs).
    """

    def __init__(
        self,
        cases: Sequence[Case],
        batch_size: int,
        seed: int,
        rotate90: float = 0.5,
        augmenter: Augmenter | None = None,
    ) -> None:
        self.cases = list(cases)
        self.batch_size = batch_size
        self.rotate90 = rotate90 if cases and cases[0].image.shape[-1] == cases[0].image.shape[-2] else 0.0
        self.augmenter = augmenter
        self.generator = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.images = stack_images([c.image for c in self.cases])
        self.labels = torch.from_numpy(np.stack([c.label for c in self.cases])[:, None].astype(np.float32))
        self.crop_fbr: list[float] = []

    def __len__(self) -> int:
        return -(-len(self.cases) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.cases), generator=self.generator)
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            if self.augmenter is None:
                x = self.images[index]
            else:
                x = stack_images(
                    [
                        self.augmenter(self.cases[i].image, self.cases[i].label, self.rng)
                        for i in index.tolist()
                    ]
                )
            yield _random_rotate90(x, self.labels[index], self.rotate90, self.generator)


class PatchBatches:
    """Mini-batches of ``RandCropByPosNegLabel`` patches; records each crop's FBR.

    Why MONAI's sampler: it is the study's (pos=1, neg=1, num_samples=4) and handles
    volumes smaller than the patch by cropping what fits (``allow_smaller``), which we
    then pad back to the patch size.
    """

    def __init__(
        self,
        cases: Sequence[Case],
        patch_size: Sequence[int],
        batch_size: int,
        seed: int,
        pos: float = 1.0,
        neg: float = 1.0,
        samples: int = 4,
        rotate90: float = 0.0,
        augmenter: Augmenter | None = None,
    ) -> None:
        self.cases = list(cases)
        self.patch_size = tuple(int(s) for s in patch_size)
        self.batch_size = batch_size
        self.rotate90 = rotate90
        self.augmenter = augmenter
        self.generator = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.cropper = RandCropByPosNegLabel(
            spatial_size=self.patch_size, pos=pos, neg=neg, num_samples=samples, allow_smaller=True
        )
        self.cropper.set_random_state(seed=seed % 2**32)
        self.samples = samples
        self.crop_fbr: list[float] = []

    def __len__(self) -> int:
        return -(-len(self.cases) * self.samples // self.batch_size)

    def _crops(self, case: Case) -> list[tuple[np.ndarray, np.ndarray]]:
        raw = self.augmenter(case.image, case.label, self.rng) if self.augmenter else case.image
        image = minmax(raw)[None]
        label = case.label[None].astype(np.float32)
        # One draw of crop centres, applied to image and label alike.
        self.cropper.randomize(label=torch.as_tensor(label))
        image_crops = self.cropper(torch.as_tensor(image), randomize=False)
        label_crops = self.cropper(torch.as_tensor(label), randomize=False)
        return [
            (_pad_to(np.asarray(i), self.patch_size), _pad_to(np.asarray(lab), self.patch_size))
            for i, lab in zip(image_crops, label_crops, strict=True)
        ]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.cases), generator=self.generator).tolist()
        buffer: list[tuple[np.ndarray, np.ndarray]] = []
        for i in order:
            for image, label in self._crops(self.cases[i]):
                self.crop_fbr.append(float(label.mean()))
                buffer.append((image, label))
                if len(buffer) == self.batch_size:
                    yield self._collate(buffer)
                    buffer = []
        if buffer:
            yield self._collate(buffer)

    def _collate(self, items: list[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(np.stack([i for i, _ in items]).astype(np.float32))
        y = torch.from_numpy(np.stack([lab for _, lab in items]).astype(np.float32))
        return _random_rotate90(x, y, self.rotate90, self.generator)


def _pad_to(array: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """Zero-pad a channel-first crop up to ``size`` (volumes smaller than the patch)."""
    pads = [(0, 0)] + [(0, max(0, s - d)) for s, d in zip(size, array.shape[1:], strict=True)]
    return np.pad(array, pads) if any(p[1] for p in pads) else array
