"""``nnunet``: an nnU-Net v2 raw dataset folder (``DatasetXXX_Name``).

``dataset.json`` gives ``channel_names`` (``{"0": "CT"}``), ``labels``
(``{"background": 0, "spleen": 1}``) and ``file_ending`` (``".nii.gz"``, ``".png"``);
``imagesTr/<case>_0000<ending>`` (one file per channel, ``_0001``...) pairs with
``labelsTr/<case><ending>``; optional ``imagesTs``/``labelsTs`` are the official test set
when labelled (a folder with only labelled ``imagesTs`` is a test-only site: valid as a
dataset shift, refused as a training set).  Both nnU-Net's 2D natural-image convention (PNG;
RGB in one ``_0000`` file, named ``R, G, B`` in ``channel_names``; use ``channels: rgb``) and
3D NIfTI are read.  Case ids are nnU-Net's case identifiers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segbench.cases import DatasetSplits
from segbench.datasets.errors import DataError
from segbench.datasets.listing import LabelRule, Listing, Pair, missing_file, require_dir
from segbench.datasets.readers import EXTENSIONS_2D
from segbench.datasets.realdata import build_dataset, registry_hooks
from segbench.registry import register_dataset

__all__ = ["build", "discover"]


def discover(root: str, foreground: Sequence[str | int] | None = None) -> Listing:
    """The labelled cases of an nnU-Net raw folder.

    Args:
        root: the dataset folder (holding ``dataset.json``, ``imagesTr``, ``labelsTr``).
        foreground: label names or values (from ``dataset.json`` ``labels``) that count as
            foreground; ``None`` = every label > 0.

    Raises:
        DataError: missing folder / ``dataset.json`` / files, a malformed ``dataset.json``,
            an unknown foreground name, a label file missing for an image.
    """
    folder = require_dir(Path(root).expanduser(), "nnU-Net dataset folder root=")
    manifest = folder / "dataset.json"
    if not manifest.is_file():
        raise DataError(
            f"nnU-Net dataset {folder} has no dataset.json; point root at the DatasetXXX_Name folder"
        )
    try:
        meta = json.loads(manifest.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise DataError(f"{manifest} is not valid JSON ({exc})") from None
    channels, labels, ending = _fields(meta, manifest)
    rule = _rule(labels, foreground, manifest)
    test: list[Pair] = []
    if (folder / "imagesTs").is_dir() and (folder / "labelsTs").is_dir():
        test = _pairs(folder / "imagesTs", folder / "labelsTs", channels, ending, "test", required=False)
    pairs: list[Pair] = []
    if (folder / "imagesTr").is_dir() or not test:  # a folder with only imagesTs: a test-only site
        pairs = _pairs(folder / "imagesTr", folder / "labelsTr", channels, ending, None, required=True)
    return Listing("nnunet", folder, pairs + test, (manifest,), rule, official_test=bool(test))


@register_dataset("nnunet", **registry_hooks("nnunet", discover))
def build(
    rng: np.random.Generator,
    complexity: float | None = None,
    *,
    root: str,
    foreground: Sequence[str | int] | None = None,
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
    """An nnU-Net v2 raw dataset (2D PNG or 3D NIfTI), labels mapped to one foreground.

    Args:
        rng: injected by the runner; unused (the split hashes subject names, the same in every layout).
        complexity: accepted for the runner's uniform call and ignored.
        root: the ``DatasetXXX_Name`` folder.
        foreground: label names or values that are foreground.  Defaults to every label > 0.
        size: see ``segbench.datasets.preprocess``.  Defaults to ``None`` (native size).
        channels: ``gray``, ``green`` or ``rgb``.  Defaults to ``"gray"``.
        intensity: ``minmax``, ``zscore`` or ``[a_min, a_max]``.  Defaults to ``"minmax"``.
        label_threshold: ignored label values check; foreground = label > threshold.
            Defaults to ``None`` (labels must be among ``dataset.json``'s).
        split: train/val/test fractions of ``imagesTr`` (train/val only when labelled
            ``imagesTs`` exist).  Defaults to ``(0.7, 0.1, 0.2)``.
        group: regex on the case id giving the subject.  Defaults to ``None``.
        label_resize, image_resize, score_at: resampling and where metrics are computed
            (see ``segbench.datasets.preprocess``).  Default to ``nearest``, ``bilinear``, ``native``.

    Returns:
        Splits of ``Case`` with ids = nnU-Net case identifiers.
    """
    return build_dataset(
        discover(root, foreground),
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


def _fields(meta: Any, manifest: Path) -> tuple[int, dict[str, int], str]:
    if not isinstance(meta, dict):
        raise DataError(f"{manifest} must be a JSON object with channel_names, labels, file_ending")
    for key in ("channel_names", "labels", "file_ending"):
        if key not in meta:
            raise DataError(f"{manifest} lacks {key!r} (nnU-Net v2 needs channel_names, labels, file_ending)")
    names, labels, ending = meta["channel_names"], meta["labels"], meta["file_ending"]
    if not isinstance(names, dict) or not names:
        raise DataError(f"{manifest}: channel_names={names!r} must map '0', '1', ... to names")
    if not isinstance(labels, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in labels.values()
    ):
        raise DataError(
            f"{manifest}: labels={labels!r} must map names to integer values "
            "(region-based labels are not supported)"
        )
    if not isinstance(ending, str) or not ending.startswith("."):
        raise DataError(f"{manifest}: file_ending={ending!r} must look like '.nii.gz' or '.png'")
    return len(names), {str(k): int(v) for k, v in labels.items()}, ending


def _rule(labels: dict[str, int], foreground: Sequence[str | int] | None, manifest: Path) -> LabelRule:
    values = tuple(sorted(set(labels.values())))
    hint = f"fix the label file or add the value to {manifest.name} 'labels'"
    if foreground is None:
        return LabelRule(None, values, binary=False, hint=hint)
    chosen = []
    for item in [foreground] if isinstance(foreground, str | int) else foreground:
        if isinstance(item, str) and item in labels:
            chosen.append(labels[item])
        elif isinstance(item, int) and not isinstance(item, bool) and item in values:
            chosen.append(item)
        else:
            raise DataError(
                f"{manifest}: foreground entry {item!r} is not a label; labels are "
                + ", ".join(f"{k}={v}" for k, v in labels.items())
            )
    listed = ", ".join(f"{k}={v}" for k, v in labels.items())
    if not chosen:
        raise DataError(
            f"{manifest}: foreground names no label; omit it for every label > 0, or name some of {listed}"
        )
    if 0 in chosen:
        raise DataError(
            f"{manifest}: foreground includes the background (value 0), which would segment everything "
            f"but the structures; name labels > 0 ({listed})"
        )
    return LabelRule(tuple(sorted(chosen)), values, binary=False, hint=hint)


def _pairs(
    images: Path, labels: Path, n_channels: int, ending: str, subset: str | None, required: bool
) -> list[Pair]:
    require_dir(images, "nnU-Net images folder")
    require_dir(labels, "nnU-Net labels folder")
    suffix = f"_0000{ending}"
    firsts = sorted(p for p in images.iterdir() if p.name.endswith(suffix))
    if not firsts and required:
        others = sorted(p.name for p in images.iterdir())[:3]
        raise DataError(
            f"nnU-Net images folder {images} has no '<case>{suffix}' files"
            + (f" (found e.g. {', '.join(others)}; check file_ending in dataset.json)" if others else "")
        )
    pairs = []
    for first in firsts:
        case = first.name[: -len(suffix)]
        channel_files = tuple(images / f"{case}_{c:04d}{ending}" for c in range(n_channels))
        where = f"nnU-Net case {case!r}"
        if ending.lower() in EXTENSIONS_2D and not any(p.is_file() for p in channel_files[1:]):
            # nnU-Net's natural-image convention: R, G, B named in channel_names, one RGB _0000 file.
            channel_files = channel_files[:1]
        for path in channel_files[1:]:
            if not path.is_file():
                raise missing_file(path, where, "channel file")
        label = labels / f"{case}{ending}"
        if not label.is_file():
            raise missing_file(label, where)
        pairs.append(Pair(case, channel_files, (label,), subset, where))
    found = {first.name[: -len(suffix)] for first in firsts}
    orphans = sorted(
        p.name[: -len(ending)]
        for p in labels.iterdir()
        if p.name.endswith(ending) and p.name[: -len(ending)] not in found
    )
    if orphans:  # a labelled case without its image would silently shrink the data set
        where = f"nnU-Net case {orphans[0]!r} (labelled in {labels})"
        raise missing_file(images / f"{orphans[0]}{suffix}", where, "image")
    return pairs
