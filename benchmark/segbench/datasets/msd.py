"""Medical Segmentation Decathlon (MSD) 3D loader from a local copy.

Why local only: the benchmark never downloads data at run time; the user points ``root`` at
the folder holding e.g. ``Task09_Spleen/`` (with ``dataset.json``, ``imagesTr/``,
``labelsTr/``).  Preprocessing follows the context study (spleen: CT window [-57, 164] ->
[0, 1], RAS, spacing (1.5, 1.5, 2.0) mm, crop to the foreground of the windowed image) and
uses MONAI's own transforms so it matches what MONAI users would write.

Every listed file is checked *before* anything is resampled, so a typo or a missing file
fails at once with the exact path instead of after minutes of loading.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segbench.cases import Case, DatasetSplits
from segbench.metrics.complexity import foreground_ratio
from segbench.registry import register_dataset

__all__ = ["build", "read_training_list"]

_AXIS_PAIRS = ({"L", "R"}, {"A", "P"}, {"S", "I"})


@register_dataset("msd", dims=3, check=lambda params: _check(params))
def build(
    rng: np.random.Generator,
    complexity: float | None = None,
    *,
    root: str,
    task: str = "Task09_Spleen",
    n_train: int | None = None,
    n_val: int = 5,
    n_test: int = 10,
    intensity_window: tuple[float, float] = (-57.0, 164.0),
    spacing: tuple[float, float, float] = (1.5, 1.5, 2.0),
    crop_foreground: bool = True,
    orientation: str = "RAS",
    label_values: Sequence[int] | None = None,
) -> DatasetSplits:
    """A single-modality MSD task's labelled cases, preprocessed and split train/val/test.

    The ``training`` list of ``<root>/<task>/dataset.json`` (the only cases with labels) is
    shuffled with ``rng``; the first ``n_test`` go to test, the next ``n_val`` to val and the
    rest (or the next ``n_train``) to train, so changing ``n_train`` never changes the test
    set.  Each case goes through MONAI's ``LoadImaged`` (nibabel) -> ``EnsureChannelFirstd`` ->
    ``Orientationd(orientation)`` -> ``Spacingd(spacing, bilinear / nearest)`` ->
    ``ScaleIntensityRanged(window -> [0, 1], clip)`` -> ``CropForegroundd(source_key=image)``.

    Arrays keep MONAI's (nibabel's) axis order, i.e. ``(X, Y, Z)`` in ``orientation`` (the
    in-plane axes first, slices last), and ``Case.spacing`` is given in that same order, so
    metrics that take spacing per axis stay correct.

    Args:
        rng: injected by the runner; used only for the split shuffle.
        complexity: accepted for the runner's uniform call and ignored (real data has no knob).
        root: folder that contains the task folder.
        task: task folder name.  Defaults to ``"Task09_Spleen"``.
        n_train: training cases; ``None`` = all not used by val/test.  Defaults to ``None``.
        n_val: validation cases (>= 1).  Defaults to 5.
        n_test: test cases (>= 1).  Defaults to 10.
        intensity_window: ``(a_min, a_max)`` mapped to ``[0, 1]`` with clipping.  Defaults to
            ``(-57.0, 164.0)`` (the study's spleen window, in HU).
        spacing: target voxel size in mm per axis.  Defaults to ``(1.5, 1.5, 2.0)``.
        crop_foreground: crop image and label to the box where the windowed image is > 0
            (drops air around the body).  Defaults to ``True``.
        orientation: three axis codes, one of each of L/R, A/P, S/I.  Defaults to ``"RAS"``.
        label_values: label values that count as foreground; ``None`` = any value > 0.
            Defaults to ``None``.

    Returns:
        Splits of ``Case``: image float32 ``(X, Y, Z)`` in ``[0, 1]``, label uint8 0/1,
        spacing after resampling, meta ``source`` (the image file name without extension)
        and ``fbr`` (foreground / all voxels).  Case ids ``"train-000"``, ``"test-003"``, ...

    Raises:
        FileNotFoundError: ``root``, the task folder, ``dataset.json`` or a listed file is
            missing (the message names the exact path).
        ValueError: a bad parameter, a malformed ``dataset.json``, an image whose shape
            differs from its label's, or too few cases for the requested splits.
    """
    a_min, a_max = _check_window(intensity_window)
    pixdim = _check_spacing(spacing)
    axcodes = _check_orientation(orientation)
    foreground = _check_label_values(label_values)
    for param, value in (("n_val", n_val), ("n_test", n_test), ("n_train", n_train)):
        if value is None and param == "n_train":
            continue  # None = every case not used by val/test
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            allowed = "an integer >= 1 or None" if param == "n_train" else "an integer >= 1"
            raise ValueError(f"{param}={value!r} must be {allowed}")

    pairs = read_training_list(root, task)
    available = len(pairs)
    wanted = n_val + n_test + (n_train if n_train is not None else 1)
    if wanted > available:
        raise ValueError(
            f"{Path(root) / task / 'dataset.json'} lists {available} labelled cases but "
            f"n_train={n_train}, n_val={n_val}, n_test={n_test} need {wanted}"
        )
    order = rng.permutation(available)
    test_idx, val_idx = order[:n_test], order[n_test : n_test + n_val]
    rest = order[n_test + n_val :]
    train_idx = rest if n_train is None else rest[:n_train]

    transform = _make_transform(a_min, a_max, pixdim, axcodes, crop_foreground)
    splits: dict[str, list[Case]] = {}
    for name, indices in (("train", train_idx), ("val", val_idx), ("test", test_idx)):
        splits[name] = [
            _load_case(f"{name}-{i:03d}", *pairs[int(j)], transform, foreground)
            for i, j in enumerate(indices)
        ]
    return DatasetSplits(splits["train"], splits["val"], splits["test"])


def read_training_list(root: str | Path, task: str) -> list[tuple[Path, Path]]:
    """The checked ``(image, label)`` paths of ``<root>/<task>/dataset.json``'s ``training`` list.

    Why check everything here: the runner calls this before any expensive resampling, so
    each missing file or image/label shape mismatch is reported with its exact path.

    Raises:
        FileNotFoundError: missing root, task folder, ``dataset.json`` or listed file.
        ValueError: malformed ``dataset.json``, a 4D (multi-modal) image, or an image whose
            spatial shape differs from its label's.
    """
    root_dir = Path(root).expanduser()
    if not root_dir.is_dir():
        raise FileNotFoundError(f"MSD root={str(root)!r} is not an existing folder")
    task_dir = root_dir / task
    if not task_dir.is_dir():
        tasks = sorted(p.name for p in root_dir.iterdir() if p.is_dir())
        raise FileNotFoundError(
            f"MSD task folder {task_dir} does not exist (task={task!r}); folders in root: "
            f"{', '.join(tasks) or 'none'}"
        )
    manifest = task_dir / "dataset.json"
    if not manifest.is_file():
        raise FileNotFoundError(f"MSD manifest {manifest} does not exist")
    try:
        data = json.loads(manifest.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{manifest} is not valid JSON ({exc})") from None
    training = data.get("training") if isinstance(data, dict) else None
    if not isinstance(training, list) or not training:
        raise ValueError(f"{manifest} has no non-empty 'training' list of {{'image', 'label'}} entries")

    pairs: list[tuple[Path, Path]] = []
    for k, entry in enumerate(training):
        if not isinstance(entry, dict) or not {"image", "label"} <= entry.keys():
            raise ValueError(f"{manifest}: training[{k}] = {entry!r} lacks 'image' and 'label'")
        image, label = ((task_dir / str(entry[key])).resolve() for key in ("image", "label"))
        for path in (image, label):
            if not path.is_file():
                raise FileNotFoundError(f"{manifest}: training[{k}] lists {path}, which does not exist")
        image_shape, label_shape = _header_shape(image), _header_shape(label)
        if len(image_shape) != 3:
            raise ValueError(f"{image} has shape {image_shape}; only single-modality 3D tasks are supported")
        if (
            image_shape != label_shape[:3]
            or len(label_shape) not in (3, 4)
            or (len(label_shape) == 4 and label_shape[3] != 1)
        ):
            raise ValueError(f"image {image} has shape {image_shape} but its label {label} has {label_shape}")
        pairs.append((image, label))
    return pairs


def _header_shape(path: Path) -> tuple[int, ...]:
    import nibabel as nib  # lazy: importing the registry must stay cheap

    try:
        return tuple(int(s) for s in nib.load(str(path)).shape)
    except Exception as exc:  # nibabel raises several types for unreadable files
        raise ValueError(f"{path} cannot be read as NIfTI ({exc})") from exc


def _make_transform(
    a_min: float, a_max: float, pixdim: tuple[float, float, float], axcodes: str, crop: bool
) -> Any:
    # Imported here: MONAI is heavy and only this loader needs it.
    from monai.transforms import (
        Compose,
        CropForegroundd,
        EnsureChannelFirstd,
        LoadImaged,
        Orientationd,
        ScaleIntensityRanged,
        Spacingd,
    )

    keys = ["image", "label"]
    steps = [
        LoadImaged(keys=keys, reader="NibabelReader", image_only=True),
        EnsureChannelFirstd(keys=keys),
        Orientationd(keys=keys, axcodes=axcodes),
        Spacingd(keys=keys, pixdim=pixdim, mode=("bilinear", "nearest")),
        ScaleIntensityRanged(keys="image", a_min=a_min, a_max=a_max, b_min=0.0, b_max=1.0, clip=True),
    ]
    if crop:
        steps.append(CropForegroundd(keys=keys, source_key="image"))
    return Compose(steps)


def _load_case(
    case_id: str, image_path: Path, label_path: Path, transform: Any, foreground: tuple[int, ...] | None
) -> Case:
    try:
        out = transform({"image": str(image_path), "label": str(label_path)})
    except Exception as exc:
        raise ValueError(f"preprocessing {image_path} / {label_path} failed: {exc}") from exc
    image_t, label_t = out["image"], out["label"]
    image = np.asarray(image_t.detach().cpu().numpy()[0], dtype=np.float32)
    raw = np.rint(np.asarray(label_t.detach().cpu().numpy()[0]))
    label = (raw > 0) if foreground is None else np.isin(raw, foreground)
    label = label.astype(np.uint8)
    voxel = tuple(float(s) for s in np.asarray(image_t.pixdim, dtype=float))
    source = image_path.name.removesuffix(".gz").removesuffix(".nii")
    meta: dict[str, float | str] = {"source": source, "fbr": foreground_ratio(label)}
    return Case(case_id, np.ascontiguousarray(image), np.ascontiguousarray(label), voxel, meta)


def _check(params: dict[str, Any]) -> list[str]:
    """Problems ``segbench validate`` reports before anything runs: values, and that root, the
    task folder and its ``dataset.json`` exist (the listed images are checked when loading)."""
    problems = []
    for param, rule in (
        ("intensity_window", _check_window),
        ("spacing", _check_spacing),
        ("orientation", _check_orientation),
        ("label_values", _check_label_values),
    ):
        try:
            rule(params[param])
        except ValueError as exc:
            problems.append(f"{param}: {exc}")
    problems += [
        f"{p}: must be an integer >= 1"
        for p in ("n_val", "n_test", "n_train")
        if params[p] is not None and params[p] < 1
    ]
    root = Path(params["root"]).expanduser()
    if not root.is_dir():
        problems.append("root: is not an existing folder (the folder that holds e.g. Task09_Spleen/)")
    elif not (root / params["task"]).is_dir():
        tasks = sorted(p.name for p in root.iterdir() if p.is_dir())
        problems.append(
            f"task: no folder {params['task']!r} in root; folders there: {', '.join(tasks) or 'none'}"
        )
    elif not (root / params["task"] / "dataset.json").is_file():
        problems.append(f"task: {root / params['task'] / 'dataset.json'} does not exist")
    return problems


def _check_window(window: Sequence[float]) -> tuple[float, float]:
    try:
        a_min, a_max = (float(v) for v in window)
    except (TypeError, ValueError):
        raise ValueError(f"intensity_window={window!r} must be two numbers (a_min, a_max)") from None
    if not a_min < a_max:
        raise ValueError(f"intensity_window={window!r} needs a_min < a_max")
    return a_min, a_max


def _check_spacing(spacing: Sequence[float]) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in spacing)
    except (TypeError, ValueError):
        raise ValueError(f"spacing={spacing!r} must be three positive numbers (mm)") from None
    if len(values) != 3 or not all(v > 0 for v in values):
        raise ValueError(f"spacing={spacing!r} must be three positive numbers (mm)")
    return values[0], values[1], values[2]


def _check_orientation(orientation: str) -> str:
    codes = str(orientation).upper()
    if len(codes) != 3 or not all(len(pair & set(codes)) == 1 for pair in _AXIS_PAIRS):
        raise ValueError(
            f"orientation={orientation!r} must be three axis codes with one of each of L/R, A/P, S/I "
            "(e.g. 'RAS', 'LPS')"
        )
    return codes


def _check_label_values(values: Sequence[int] | None) -> tuple[int, ...] | None:
    if values is None:
        return None
    try:
        ints = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"label_values={values!r} must be None or a list of positive integers") from None
    if not ints or any(v < 1 for v in ints) or any(int(v) != v for v in values):
        raise ValueError(f"label_values={values!r} must be None or a non-empty list of positive integers")
    return ints
