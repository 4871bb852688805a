"""``glas``: the Warwick-QU gland segmentation set (GlaS, MICCAI 2015), the skip study's histology.

Layout: ``<root>/train_N.bmp`` + ``train_N_anno.bmp`` (gland instance ids > 0, background 0),
``testA_N[_anno].bmp`` and ``testB_N[_anno].bmp``.  Glands become one foreground class;
``testA``/``testB`` are kept as the official test splits (``test`` picks which), and
``train`` is split into train/val by ``split``.  RGB images; 256 x 256 by default (the study
trained on 256 x 256 crops -- use ``size: null`` with a ``patch_budget`` of 256 for crops).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from segbench.cases import DatasetSplits
from segbench.datasets.errors import DataError
from segbench.datasets.listing import LabelRule, Listing, Pair, list_images, missing_file
from segbench.datasets.realdata import build_dataset, registry_hooks
from segbench.registry import register_dataset

__all__ = ["build", "discover"]

_NAME = re.compile(r"^(train|testA|testB)_(\d+)$")
_TESTS = ("testA", "testB", "both")


def discover(root: str, test: str = "both") -> Listing:
    """Image/annotation pairs; ``train_*`` free for the split, ``testA_*``/``testB_*`` fixed as test.

    Raises:
        DataError: no images, an image without ``_anno`` (with the nearest names), bad ``test``.
    """
    if test not in _TESTS:
        raise DataError(f"GlaS test={test!r} is not allowed; use one of {', '.join(_TESTS)}")
    folder = Path(root).expanduser()
    if (folder / "Warwick_QU_Dataset").is_dir():
        folder = folder / "Warwick_QU_Dataset"
    files = list_images(folder, "GlaS root=")
    pairs = []
    for image in files:
        found = _NAME.match(image.stem)
        if not found:
            continue  # annotations, Grade.csv and other files
        part = found.group(1)
        if part != "train" and test not in (part, "both"):
            continue
        label = image.with_name(f"{image.stem}_anno{image.suffix}")
        where = f"GlaS image {image.name}"
        if not label.is_file():
            raise missing_file(label, where)
        pairs.append(Pair(image.stem, (image,), (label,), None if part == "train" else "test", where))
    if not any(p.subset is None for p in pairs):
        raise DataError(f"GlaS root={folder} has no train_N.bmp images; point root at the Warwick QU folder")
    rule = LabelRule(None, None, binary=False, hint="")
    return Listing("glas", folder, pairs, rule=rule, official_test=any(p.subset for p in pairs))


@register_dataset("glas", dims=2, **registry_hooks("glas", discover))
def build(
    rng: np.random.Generator,
    complexity: float | None = None,
    *,
    root: str,
    test: str = "both",
    size: int | None = 256,
    channels: str = "rgb",
    intensity: str | Sequence[float] = "minmax",
    label_threshold: float | None = None,
    split: Sequence[float] = (0.85, 0.15, 0.0),
    group: str | None = None,
    label_resize: str = "nearest",
    image_resize: str = "bilinear",
    score_at: str = "native",
) -> DatasetSplits:
    """GlaS colon histology: glands (instance ids > 0) vs stroma, official testA/testB kept.

    Args:
        rng: injected by the runner; unused (the split hashes subject names, the same in every layout).
        complexity: accepted for the runner's uniform call and ignored.
        root: the Warwick QU folder (or its parent).
        test: ``testA``, ``testB`` or ``both`` as the test split.  Defaults to ``"both"``.
        size: output side; ``None`` keeps native sizes.  Defaults to 256.
        channels: Defaults to ``"rgb"`` (H&E colour).
        intensity, label_threshold, group, label_resize, image_resize, score_at: see
            ``segbench.datasets.preprocess`` (defaults ``nearest``, ``bilinear``, ``native``).
        split: train/val fractions of ``train_*`` (test is fixed).  Defaults to ``(0.85, 0.15, 0.0)``.

    Returns:
        Splits of ``Case`` with ids ``"train_12"``, ``"testA_3"``...
    """
    if not isinstance(split, Sequence) or len(split) != 3:
        raise DataError(f"split={split!r} must be three fractions (train, val, test)")
    return build_dataset(
        discover(root, test),
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
