"""``datalist``: a MONAI datalist / Medical Segmentation Decathlon style JSON.

``{"training": [{"image": "imgs/01.tif", "label": "masks/01.gif"}, ...], "validation": [...],
"test": [...]}`` with paths relative to the JSON's folder, resolved as
``monai.data.load_decathlon_datalist`` resolves them (the runner calls it; the light
pre-run check mirrors it without importing torch, and a test keeps the two equal).
``"image"`` may be a list of files (modalities, stacked as channels).  2D files (png, jpg,
tif, bmp, gif) and 3D (nii, nii.gz; nrrd, mha with ITK) are read through MONAI ``LoadImage``.
Lists that are missing (or hold no labels, like MSD's ``test``) are made by a seeded split.
A datalist with only a labelled ``test`` list is a test-only site: valid as a dataset shift,
refused (saying so) as a training dataset.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segbench.cases import DatasetSplits
from segbench.datasets.errors import DataError
from segbench.datasets.listing import Listing, Pair, not_a_file
from segbench.datasets.readers import stem
from segbench.datasets.realdata import build_dataset, registry_hooks
from segbench.registry import register_dataset

__all__ = ["build", "discover"]

_LISTS = (("training", None), ("validation", "val"), ("test", "test"))


def discover(path: str, *, use_monai: bool = False) -> Listing:
    """The labelled pairs of a datalist JSON.

    Args:
        path: the JSON file.
        use_monai: resolve paths with ``monai.data.load_decathlon_datalist`` (imports torch;
            the runner) instead of the identical light resolver (validation).

    Raises:
        DataError: the file is missing, not JSON, or has neither labelled ``training`` entries
            nor (test-only) a ``test`` list.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        kind = not_a_file(file)
        if kind:
            raise DataError(f"datalist {file} is {kind}, not a file; 'path' must name the datalist JSON file")
        raise DataError(f"datalist {file} does not exist; check 'path' (is SEGBENCH_DATA set?)")
    try:
        data = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise DataError(f"datalist {file} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not (
        isinstance(data.get("training"), list) or isinstance(data.get("test"), list)
    ):
        raise DataError(
            f"datalist {file} has no 'training' list of {{image, label}} entries "
            "(nor, for a test-only site, a 'test' list)"
        )
    pairs: list[Pair] = []
    official_test = False
    for key, subset in _LISTS:
        raw = data.get(key)
        if not isinstance(raw, list):
            continue
        entries = _resolve_monai(file, key) if use_monai else _resolve(file, raw, key)
        labelled = [e for e in entries if isinstance(e, dict) and e.get("label")]
        if key != "test" and len(labelled) != len(entries):
            # Dropping them silently trained on less data than listed; unlabelled *test* entries
            # (an MSD test list) are skipped, and the test split is then made from the labelled lists.
            k = next(i for i, e in enumerate(entries) if not (isinstance(e, dict) and e.get("label")))
            raise DataError(
                f"datalist {file}: {key}[{k}] has no 'label' ({entries[k]!r:.80}); every {key} entry "
                "needs an {image, label} pair"
            )
        if key == "training" and not labelled:
            raise DataError(f"datalist {file}: the 'training' list is empty; add {{image, label}} entries")
        official_test |= key == "test" and bool(labelled)
        for k, entry in enumerate(labelled):
            images = _as_paths(entry.get("image"), file, f"{key}[{k}].image")
            labels = _as_paths(entry["label"], file, f"{key}[{k}].label")
            pairs.append(Pair(stem(images[0]), images, labels, subset, f"{file.name} {key}[{k}]"))
    if not pairs:
        raise DataError(
            f"datalist {file}: no labelled entries in 'training' or 'test'; add {{image, label}} pairs"
        )
    return Listing("datalist", file.parent, pairs, (file,), official_test=official_test)


def _json_name(params: dict[str, Any]) -> str | None:
    """The datalist's own ``name`` field (its default label in reports), or None."""
    try:
        data = json.loads(Path(str(params.get("path", ""))).expanduser().read_text())
    except (OSError, ValueError, RecursionError):
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name.strip() else None


@register_dataset("datalist", label=_json_name, **registry_hooks("datalist", discover))
def build(
    rng: np.random.Generator,
    complexity: float | None = None,
    *,
    path: str,
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
    """A MONAI datalist / Decathlon JSON of 2D or 3D images with binary labels.

    Args:
        rng: injected by the runner; unused (the split hashes subject names, the same in every layout).
        complexity: accepted for the runner's uniform call and ignored.
        path: the datalist JSON (paths inside relative to its folder).
        size: resize to size x size (2D) / size^3 (3D); ``None`` keeps native sizes.
            Defaults to ``None``.
        channels: ``gray``, ``green`` or ``rgb``.  Defaults to ``"gray"``.
        intensity: ``minmax``, ``zscore`` or a window ``[a_min, a_max]``.  Defaults to ``"minmax"``.
        label_threshold: foreground = label > threshold; ``None`` = > 0 with a binary check.
            Defaults to ``None``.
        split: train/val/test fractions for the lists the JSON lacks.  Defaults to ``(0.7, 0.1, 0.2)``.
        group: regex on the file stem giving the subject (first capture group), so one
            subject's images stay in one split.  Defaults to ``None`` (each image its own).
        label_resize: ``nearest`` or ``area`` (see ``segbench.datasets.preprocess``).
            Defaults to ``"nearest"``.
        image_resize: ``bilinear`` or ``area``.  Defaults to ``"bilinear"``.
        score_at: ``native`` (metrics on each file's own grid) or ``model`` (on the resized grid).
            Defaults to ``"native"``.

    Returns:
        Splits of ``Case`` with ids = image file stems (see ``segbench.datasets.preprocess``).

    Example:
        >>> splits = build(np.random.default_rng(0), path="data/siteA.json", size=64)  # doctest: +SKIP
    """
    return build_dataset(
        discover(path, use_monai=True),
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


def _resolve(file: Path, raw: list[Any], key: str) -> list[Any]:
    """MONAI's resolution without MONAI: ``normpath(join(json folder, value))`` for image/label."""
    base = str(file.parent)
    out = []
    for k, item in enumerate(raw):
        if isinstance(item, str):  # MSD "test": a bare image path, no label
            item = {"image": item}
        if not isinstance(item, dict):
            raise DataError(f"datalist {file}: {key}[{k}] = {item!r} is not an {{image, label}} entry")
        out.append({k2: _join(base, v) if k2 in ("image", "label") else v for k2, v in item.items()})
    return out


def _resolve_monai(file: Path, key: str) -> list[Any]:
    from monai.data import load_decathlon_datalist

    return load_decathlon_datalist(str(file), is_segmentation=True, data_list_key=key)


def _join(base: str, value: Any) -> Any:
    if isinstance(value, str):
        return os.path.normpath(os.path.join(base, value))
    if isinstance(value, list):
        return [_join(base, v) for v in value]
    return value


def _as_paths(value: Any, file: Path, where: str) -> tuple[Path, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise DataError(f"datalist {file}: {where} = {value!r} must be a file path or a list of paths")
    return tuple(Path(v) for v in values)
