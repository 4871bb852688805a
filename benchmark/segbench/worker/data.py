"""Turn cases into model-ready tensors and training batches.

Two batch sources share one interface: whole images (2D study, ``patch_budget: full``)
and MONAI ``RandCropByPosNegLabel`` patches (3D context study, and large 2D images), whose
per-crop foreground ratio is recorded.  All randomness comes from generators seeded by the job.

Real data adds three things, all described by an ``InputFormat``: channel-first images
(RGB, several modalities), the dataset's per-image scaling (``minmax``, ``zscore`` or
``none`` after a fixed window), and images of different sizes, which are zero-padded per
batch to a common shape that is a multiple of the network's total stride (and masks
cropped back after prediction).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from monai.transforms import RandCropByPosNegLabel

from segbench.cases import Case

__all__ = [
    "Augmenter",
    "FullImageBatches",
    "InputFormat",
    "PatchBatches",
    "minmax",
    "scale_image",
    "stack_images",
]

# (raw image, label, rng) -> perturbed raw image; built from the suite's ``train.augment``.
Augmenter = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class InputFormat:
    """How images become model input.

    Attributes:
        spatial_dims: 2 or 3; an image with one more axis is channel-first.  ``None`` =
            every image is single-channel (the synthetic datasets).
        scaling: ``"minmax"`` per image (the study's), ``"zscore"`` per channel, ``"none"``.
        multiple: pad spatial sizes up to a multiple of this when a batch mixes sizes or
            a size does not divide by it (1 = pad only to the batch's largest image).
    """

    spatial_dims: int | None = None
    scaling: str = "minmax"
    multiple: int = 1


def minmax(image: np.ndarray) -> np.ndarray:
    """Per-image min-max scaling to [0, 1] (the study's intensity normalisation)."""
    image = image.astype(np.float32, copy=False)
    low, high = float(image.min()), float(image.max())
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def scale_image(image: np.ndarray, fmt: InputFormat = InputFormat()) -> np.ndarray:
    """One image as a channel-first float32 array ``(C, *spatial)``, scaled per ``fmt``."""
    image = np.asarray(image, dtype=np.float32)
    if fmt.spatial_dims is None or image.ndim == fmt.spatial_dims:
        image = image[None]
    if fmt.scaling == "minmax":
        return minmax(image)
    if fmt.scaling == "zscore":
        axes = tuple(range(1, image.ndim))
        mean, std = image.mean(axis=axes, keepdims=True), image.std(axis=axes, keepdims=True)
        return np.where(std > 0, (image - mean) / np.where(std > 0, std, 1.0), 0.0).astype(np.float32)
    return image


def stack_images(images: Sequence[np.ndarray], fmt: InputFormat = InputFormat()) -> torch.Tensor:
    """``(N, C, *spatial)`` float tensor of scaled images, zero-padded to one shape if needed."""
    arrays = [scale_image(im, fmt) for im in images]
    return torch.from_numpy(np.stack(pad_to_common(arrays, fmt.multiple)))


def pad_to_common(arrays: Sequence[np.ndarray], multiple: int = 1) -> list[np.ndarray]:
    """Zero-pad channel-first arrays (at the end of each spatial axis) to one shape.

    The common shape is the largest size per axis, rounded up to ``multiple`` only when
    padding is needed anyway or a size does not divide by it.
    """
    shapes = [a.shape[1:] for a in arrays]
    target = tuple(max(s[k] for s in shapes) for k in range(len(shapes[0])))
    if multiple > 1 and (len(set(shapes)) > 1 or any(t % multiple for t in target)):
        target = tuple(-(-t // multiple) * multiple for t in target)
    if all(s == target for s in shapes):
        return list(arrays)
    return [_pad_to(a, target) for a in arrays]


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

    Rotation is skipped for a batch whose images are not square.  Images of different
    sizes are padded per batch (labels with background) to a multiple of ``fmt.multiple``.
    """

    def __init__(
        self,
        cases: Sequence[Case],
        batch_size: int,
        seed: int,
        rotate90: float = 0.5,
        augmenter: Augmenter | None = None,
        fmt: InputFormat = InputFormat(),
    ) -> None:
        self.cases = list(cases)
        self.batch_size = batch_size
        self.rotate90 = rotate90
        self.augmenter = augmenter
        self.fmt = fmt
        self.generator = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.images = [scale_image(c.image, fmt) for c in self.cases]
        self.labels = [c.label[None].astype(np.float32) for c in self.cases]
        self.crop_fbr: list[float] = []

    def __len__(self) -> int:
        return -(-len(self.cases) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.cases), generator=self.generator)
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size].tolist()
            if self.augmenter is None:
                images = [self.images[i] for i in index]
            else:
                images = [
                    scale_image(self.augmenter(self.cases[i].image, self.cases[i].label, self.rng), self.fmt)
                    for i in index
                ]
            x = torch.from_numpy(np.stack(pad_to_common(images, self.fmt.multiple)))
            y = torch.from_numpy(np.stack(pad_to_common([self.labels[i] for i in index], self.fmt.multiple)))
            p = self.rotate90 if x.shape[-1] == x.shape[-2] else 0.0
            yield _random_rotate90(x, y, p, self.generator)


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
        fmt: InputFormat = InputFormat(),
    ) -> None:
        self.cases = list(cases)
        self.fmt = fmt
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
        image = scale_image(raw, self.fmt)
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
