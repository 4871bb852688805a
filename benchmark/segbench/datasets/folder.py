"""``folder``: a plain pair of folders, images in one and masks in the other, matched by file stem.

The simplest layout a collection comes in (``images/01.png`` with ``masks/01.png``, or
``masks/01_mask.png`` with ``label_suffix: _mask``).  Used for training, the cases are split as
every layout's (``split``, ``group``); used as a dataset shift, every pair is a test case (a
test-only site needs no other structure).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from segbench.cases import DatasetSplits
from segbench.datasets.errors import DataError
from segbench.datasets.listing import Listing, Pair, list_images, missing_file, require_dir
from segbench.datasets.readers import extension, is_image, stem
from segbench.datasets.realdata import build_dataset, registry_hooks
from segbench.registry import register_dataset

__all__ = ["build", "discover"]


def discover(images: str, labels: str, label_suffix: str = "") -> Listing:
    """The (image, mask) pairs of two folders: mask stem = image stem + ``label_suffix``.

    Raises:
        DataError: a folder is missing or holds no images, a mask is missing (with the nearest
            names), or two masks match one image.
    """
    image_dir = Path(images).expanduser()
    label_dir = require_dir(Path(labels).expanduser(), "folder labels=")
    masks: dict[str, list[Path]] = {}
    for path in sorted(label_dir.iterdir()):
        if path.is_file() and is_image(path):
            masks.setdefault(stem(path), []).append(path)
    pairs = []
    for image in list_images(image_dir, "folder images="):
        wanted = f"{stem(image)}{label_suffix}"
        found = masks.get(wanted, [])
        where = f"folder image {image.name}"
        if not found:
            raise missing_file(label_dir / f"{wanted}{extension(image)}", where, "mask")
        if len(found) > 1:
            raise DataError(
                f"{where}: {len(found)} masks match ({', '.join(p.name for p in found)}); keep one"
            )
        pairs.append(Pair(stem(image), (image,), (found[0],), None, where))
    return Listing("folder", image_dir, pairs)


@register_dataset("folder", **registry_hooks("folder", discover))
def build(
    rng: np.random.Generator,
    complexity: float | None = None,
    *,
    images: str,
    labels: str,
    label_suffix: str = "",
    size: int | None = None,
    channels: str = "gray",
    intensity: str | Sequence[float] = "minmax",
    label_threshold: float | None = None,
    split: Sequence[float] = (0.7, 0.1, 0.2),
    group: str | None = None,
    label_resize: str = "nearest",
    image_resize: str = "bilinear",
    score_at: str = "native",
) -> DatasetSplits:
    """Images and masks in two folders, paired by file stem (2D files or NIfTI volumes).

    Args:
        rng: injected by the runner; unused (the split hashes subject names).
        complexity: accepted for the runner's uniform call and ignored.
        images: the image folder.  labels: the mask folder.
        label_suffix: what the mask stem adds to the image stem (``_mask``).  Defaults to ``""``.
        size, channels, intensity, label_threshold, split, group, label_resize, image_resize, score_at:
            see ``segbench.datasets.preprocess`` (defaults as for ``datalist``).

    Returns:
        Splits of ``Case`` with ids = image file stems.
    """
    return build_dataset(
        discover(images, labels, label_suffix),
        rng,
        size=size,
        channels=channels,
        intensity=intensity,
        label_threshold=label_threshold,
        split=split,
        group=group,
        label_resize=label_resize,
        image_resize=image_resize,
        score_at=score_at,
    )
