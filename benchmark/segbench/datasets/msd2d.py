"""``msd2d``: axial slices of a Medical Segmentation Decathlon task (the skip study's Heart, Spleen).

Volumes are read and checked as ``msd`` reads them (``dataset.json`` ``training`` list,
MONAI ``LoadImaged`` -> ``Orientationd``, optional ``Spacingd``), then cut into slices along
the last axis; a slice is kept when more than ``min_foreground`` (0.5 %, the study's rule)
of it is foreground.  The split is **by patient**: one volume's slices never straddle two
splits (the default ``group`` takes the volume name from the case id ``<volume>_z<k>``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segbench.cases import Case, DatasetSplits
from segbench.datasets.cache import CACHE_VERSION, cached_cases
from segbench.datasets.errors import DataError
from segbench.datasets.listing import Listing, Pair, fingerprint
from segbench.datasets.msd import _check_label_values, _check_orientation, read_training_list
from segbench.datasets.preprocess import _resize, _scale, parse_preprocess
from segbench.datasets.readers import stem
from segbench.datasets.split import check_group, check_split, group_of, split_cases
from segbench.registry import register_dataset

__all__ = ["build", "discover"]

PATIENT = r"^(.*)_z\d+$"


def discover(root: str, task: str = "Task02_Heart") -> Listing:
    """The task's labelled volumes as a listing (one pair per patient), checked by ``msd``."""
    try:
        pairs = read_training_list(root, task)
    except (FileNotFoundError, ValueError) as exc:
        raise DataError(str(exc)) from None
    task_dir = Path(root).expanduser() / task
    listing_pairs = [Pair(stem(i), (i,), (lab,), None, f"{task} {i.name}") for i, lab in pairs]
    return Listing("msd2d", task_dir, listing_pairs, (task_dir / "dataset.json",))


def _check(params: dict[str, Any]) -> list[str]:
    try:
        _check_or_raise(params)
    except (ValueError, OSError, LookupError) as exc:
        return [str(exc)]
    return []


def _check_or_raise(params: dict[str, Any]) -> None:
    full = {**_DEFAULTS, **params}
    if "root" not in full:
        raise ValueError("msd2d needs root")
    parse_preprocess(full["size"], full["channels"], full["intensity"], full["label_threshold"])
    check_split(full["split"])
    check_group(full["group"])
    _check_orientation(full["orientation"])
    discover(full["root"], full["task"])


def _fingerprint(params: dict[str, Any]) -> str:
    full = {**_DEFAULTS, **params}
    try:
        return fingerprint(discover(full["root"], full["task"]))
    except (DataError, KeyError, ValueError, OSError):
        return "unavailable"


@register_dataset("msd2d", dims=2, check=_check, fingerprint=_fingerprint)
def build(
    rng: np.random.Generator,
    complexity: float | None = None,
    *,
    root: str,
    task: str = "Task02_Heart",
    min_foreground: float = 0.005,
    label_values: Sequence[int] | None = None,
    spacing: Sequence[float] | None = None,
    orientation: str = "RAS",
    size: int | None = 256,
    channels: str = "gray",
    intensity: str | Sequence[float] = "minmax",
    label_threshold: float | None = None,
    split: Sequence[float] = (0.7, 0.1, 0.2),
    group: str | None = PATIENT,
) -> DatasetSplits:
    """2D slices with > 0.5 % foreground of an MSD task, split by patient (the skip study).

    Args:
        rng: injected by the runner; unused (the split hashes subject names, the same in every layout).
        complexity: accepted for the runner's uniform call and ignored.
        root: folder holding the task folder.
        task: e.g. ``"Task02_Heart"`` or ``"Task09_Spleen"``.  Defaults to ``"Task02_Heart"``.
        min_foreground: keep slices whose foreground fraction exceeds this.  Defaults to 0.005.
        label_values: label values that are foreground; ``None`` = any > 0.  Defaults to ``None``.
        spacing: resample to this voxel size (mm) first; ``None`` keeps the native grid.
        orientation: axis codes for ``Orientationd``.  Defaults to ``"RAS"`` (slices = last axis).
        size: slice side after resizing; ``None`` keeps native.  Defaults to 256.
        channels: must be ``gray`` (MSD volumes are single-modality here).
        intensity: ``minmax`` per slice (the study), ``zscore`` or a window (e.g. CT
            ``[-57, 164]``).  Defaults to ``"minmax"``.
        label_threshold: foreground = label > threshold (overrides ``label_values``).
        split: train/val/test fractions of patients.  Defaults to ``(0.7, 0.1, 0.2)``.
        group: regex on the case id giving the patient.  Defaults to the volume name.

    Returns:
        Splits of ``Case`` with ids ``"<volume>_z<k>"`` (e.g. ``"la_003_z045"``), meta
        ``source`` (volume file), ``slice``, ``fbr``.
    """
    prep = parse_preprocess(size, channels, intensity, label_threshold)
    if prep.channels != "gray":
        raise ValueError(f"channels={channels!r}: msd2d slices are single-channel; use gray")
    if not 0.0 <= float(min_foreground) < 1.0:
        raise ValueError(f"min_foreground={min_foreground!r} must be in [0, 1)")
    fractions = check_split(split)
    pattern = check_group(group)
    axcodes = _check_orientation(orientation)
    foreground = _check_label_values(label_values)
    listing = discover(root, task)
    settings = [prep.as_dict(), float(min_foreground), foreground, spacing, axcodes, CACHE_VERSION]
    key_src = json.dumps([fingerprint(listing), settings], default=list)
    key = hashlib.sha256(key_src.encode()).hexdigest()[:20]

    def make() -> list[Case]:
        transform = _transform(axcodes, spacing)
        cases: list[Case] = []
        for pair in sorted(listing.pairs, key=lambda p: p.case_id):
            cases.extend(_slices(pair, transform, prep, float(min_foreground), foreground))
        return cases

    cases, _ = cached_cases("msd2d", key, make)
    if not cases:
        raise DataError(f"{listing.root}: no slice has more than {min_foreground:.1%} foreground")
    for case in cases:
        case.meta["group"] = group_of(case.case_id, pattern)
    parts = split_cases(cases, {}, fractions, pattern)
    return DatasetSplits(parts["train"], parts["val"], parts["test"], scaling=prep.scaling, fingerprint=key)


_DEFAULTS: dict[str, Any] = {
    "task": "Task02_Heart",
    "orientation": "RAS",
    "size": 256,
    "channels": "gray",
    "intensity": "minmax",
    "label_threshold": None,
    "split": (0.7, 0.1, 0.2),
    "group": PATIENT,
}


def _transform(axcodes: str, spacing: Sequence[float] | None) -> Any:
    from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, Orientationd, Spacingd

    keys = ["image", "label"]
    steps = [
        LoadImaged(keys=keys, reader="NibabelReader", image_only=True),
        EnsureChannelFirstd(keys=keys),
        Orientationd(keys=keys, axcodes=axcodes),
    ]
    if spacing is not None:
        pixdim = tuple(float(s) for s in spacing)
        steps.append(Spacingd(keys=keys, pixdim=pixdim, mode=("bilinear", "nearest")))
    return Compose(steps)


def _slices(
    pair: Pair, transform: Any, prep: Any, min_fg: float, foreground: tuple[int, ...] | None
) -> list[Case]:
    out = transform({"image": str(pair.images[0]), "label": str(pair.labels[0])})
    volume = np.asarray(out["image"].detach().cpu().numpy()[0], dtype=np.float32)
    raw = np.rint(np.asarray(out["label"].detach().cpu().numpy()[0]))
    if prep.label_threshold is not None:
        mask = raw > prep.label_threshold
    else:
        mask = (raw > 0) if foreground is None else np.isin(raw, foreground)
    voxel = tuple(float(s) for s in np.asarray(out["image"].pixdim, dtype=float))[:2]
    cases = []
    for z in range(volume.shape[-1]):
        label = mask[..., z].astype(np.uint8)
        if label.mean() <= min_fg:
            continue
        image = volume[..., z][None]
        spacing = voxel
        if prep.size is not None:
            target = (prep.size, prep.size)
            spacing = tuple(s * n / t for s, n, t in zip(voxel, label.shape, target, strict=True))
            image, label = _resize(image, label, target)
        image = _scale(image, prep.intensity)[0]
        meta: dict[str, float | str] = {"source": pair.images[0].name, "slice": z, "fbr": float(label.mean())}
        cases.append(Case(f"{pair.case_id}_z{z:03d}", image, label, spacing, meta))
    return cases
