"""``busi``: Breast Ultrasound Images (Al-Dhabyani et al. 2020), the skip study's ultrasound set.

Layout: ``<root>/Dataset_BUSI_with_GT/{benign,malignant,normal}/<class> (N).png`` with
``<class> (N)_mask.png`` and, for images with several lesions, ``<class> (N)_mask_1.png``...,
which are OR-ed into one mask (the study's rule).  ``normal`` (no lesion) is excluded unless
listed in ``classes``.  ``root`` may also be the ``Dataset_BUSI_with_GT`` folder itself.
Grayscale, 256 x 256 by default, as the study.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from segbench.cases import DatasetSplits
from segbench.datasets.errors import DataError
from segbench.datasets.listing import Listing, Pair, list_images, missing_file, require_dir
from segbench.datasets.realdata import build_dataset, registry_hooks
from segbench.registry import register_dataset

__all__ = ["CLASSES", "build", "discover"]

CLASSES = ("benign", "malignant", "normal")
_MASK = re.compile(r"_mask(_\d+)?$")


def discover(root: str, classes: Sequence[str] = ("benign", "malignant")) -> Listing:
    """Image/mask pairs of the chosen classes; extra ``_mask_k`` files join their image's labels.

    Raises:
        DataError: missing folders, an unknown class, a folder without images, an image
            without ``_mask.png`` (with the nearest names), a mask without its image.
    """
    base = require_dir(Path(root).expanduser(), "BUSI root=")
    if (base / "Dataset_BUSI_with_GT").is_dir():
        base = base / "Dataset_BUSI_with_GT"
    chosen = [classes] if isinstance(classes, str) else list(classes)
    unknown = [c for c in chosen if c not in CLASSES]
    if unknown or not chosen:
        raise DataError(f"BUSI classes={chosen!r}: use some of {', '.join(CLASSES)}")
    pairs = []
    for name in chosen:
        files = list_images(base / name, f"BUSI class folder ({name})")
        stems = {p.stem: p for p in files}
        images = [p for p in files if not _MASK.search(p.stem)]
        masks: dict[str, list[Path]] = {}
        for p in files:
            found = _MASK.search(p.stem)
            if found:
                owner = p.stem[: found.start()]
                if owner not in stems:
                    raise DataError(f"{p}: mask without its image {owner}{p.suffix}; rename or remove it")
                masks.setdefault(owner, []).append(p)
        for image in images:
            labels = sorted(masks.get(image.stem, []), key=lambda q: (len(q.stem), q.stem))
            if not labels:
                expected = image.with_name(f"{image.stem}_mask{image.suffix}")
                raise missing_file(expected, f"BUSI image {image.name}")
            pairs.append(Pair(image.stem, (image,), tuple(labels), None, f"BUSI image {image.name}"))
    return Listing("busi", base, pairs)


@register_dataset("busi", dims=2, **registry_hooks("busi", discover))
def build(
    rng: np.random.Generator,
    complexity: float | None = None,
    *,
    root: str,
    classes: Sequence[str] = ("benign", "malignant"),
    size: int | None = 256,
    channels: str = "gray",
    intensity: str | Sequence[float] = "minmax",
    label_threshold: float | None = None,
    split: Sequence[float] = (0.7, 0.1, 0.2),
    group: str | None = None,
    label_resize: str = "nearest",
    image_resize: str = "bilinear",
    score_at: str = "native",
) -> DatasetSplits:
    """BUSI benign + malignant ultrasound, masks OR-ed, 256 x 256 grayscale (the skip study).

    Args:
        rng: injected by the runner; unused (the split hashes subject names, the same in every layout).
        complexity: accepted for the runner's uniform call and ignored.
        root: folder holding ``Dataset_BUSI_with_GT`` (or that folder itself).
        classes: class folders to use.  Defaults to ``("benign", "malignant")``.
        size: output side; ``None`` keeps native sizes.  Defaults to 256.
        channels, intensity, label_threshold, split, group, label_resize, image_resize, score_at:
            see ``segbench.datasets.preprocess`` (defaults ``nearest``, ``bilinear``, ``native``).

    Returns:
        Splits of ``Case`` with ids = image stems (``"benign (12)"``).
    """
    return build_dataset(
        discover(root, classes),
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
