"""MSD loader on tiny NIfTI fixtures written in the Decathlon layout."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from segbench.datasets.msd import build, read_training_list
from segbench.registry import DATASETS

TASK = "Task09_Spleen"
SHAPE = (16, 16, 12)
VOXEL = (2.0, 2.0, 3.0)


def _write(path: Path, data: np.ndarray, voxel: tuple[float, ...] = VOXEL) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, np.diag([*voxel, 1.0])), str(path))


def _make_task(root: Path, n_cases: int = 5, shape: tuple[int, int, int] = SHAPE) -> Path:
    """``n_cases`` CT-like volumes: air (-1000 HU) border, tissue in [-200, 300], a labelled box."""
    task = root / TASK
    rng = np.random.default_rng(0)
    training = []
    for k in range(n_cases):
        image = np.full(shape, -1000.0, dtype=np.float32)
        image[2:-2, 2:-2, 1:-1] = rng.uniform(-200.0, 300.0, size=(shape[0] - 4, shape[1] - 4, shape[2] - 2))
        label = np.zeros(shape, dtype=np.uint8)
        label[5:10, 6:11, 4:8] = 1
        label[5:7, 6:8, 4:6] = 2  # a second structure, for label_values
        _write(task / "imagesTr" / f"spleen_{k}.nii.gz", image)
        _write(task / "labelsTr" / f"spleen_{k}.nii.gz", label)
        training.append({"image": f"./imagesTr/spleen_{k}.nii.gz", "label": f"./labelsTr/spleen_{k}.nii.gz"})
    (task / "dataset.json").write_text(json.dumps({"name": "Spleen", "training": training, "test": []}))
    return task


NO_RESAMPLE = {"spacing": VOXEL, "crop_foreground": False, "n_val": 1, "n_test": 1}


def test_registered() -> None:
    assert DATASETS.get("msd").factory is build


def test_intensity_window_exact_without_resampling(tmp_path: Path) -> None:
    task = _make_task(tmp_path)
    splits = build(np.random.default_rng(0), root=str(tmp_path), **NO_RESAMPLE)
    assert [len(splits.train), len(splits.val), len(splits.test)] == [3, 1, 1]
    for case in [*splits.train, *splits.val, *splits.test]:
        hu = np.asarray(nib.load(str(task / "imagesTr" / f"{case.meta['source']}.nii.gz")).dataobj)
        np.testing.assert_allclose(case.image, np.clip((hu + 57.0) / 221.0, 0.0, 1.0), atol=1e-5)
        assert case.image.dtype == np.float32 and case.label.dtype == np.uint8
        assert case.spacing == pytest.approx(VOXEL)
        assert int(case.label.sum()) == 5 * 5 * 4  # labels 1 and 2 are both foreground
        assert case.meta["fbr"] == pytest.approx(100 / np.prod(SHAPE))


def test_default_preprocessing_resamples_and_crops(tmp_path: Path) -> None:
    _make_task(tmp_path)
    splits = build(np.random.default_rng(0), root=str(tmp_path), n_val=1, n_test=1)
    case = splits.test[0]
    assert case.spacing == pytest.approx((1.5, 1.5, 2.0))
    # Resampled to finer voxels, then cropped to the body (the air border maps to 0).
    assert case.image.ndim == 3 and case.image.shape == case.label.shape
    assert case.image.min() >= 0.0 and case.image.max() <= 1.0
    assert case.image.shape[2] > SHAPE[2] - 2 and case.image.shape[0] < 16 * 2 / 1.5
    assert case.label.sum() > 0 and set(np.unique(case.label)) == {0, 1}


def test_label_values_select_structures(tmp_path: Path) -> None:
    _make_task(tmp_path)
    splits = build(np.random.default_rng(0), root=str(tmp_path), label_values=[2], **NO_RESAMPLE)
    assert int(splits.train[0].label.sum()) == 2 * 2 * 2


def test_splits_are_seeded_disjoint_and_complete(tmp_path: Path) -> None:
    _make_task(tmp_path)

    def sources(seed: int, **kw: object) -> list[list[str]]:
        s = build(np.random.default_rng(seed), root=str(tmp_path), **{**NO_RESAMPLE, **kw})
        return [[c.meta["source"] for c in split] for split in (s.train, s.val, s.test)]

    a = sources(1)
    assert a == sources(1)
    assert sorted(name for split in a for name in split) == [f"spleen_{k}" for k in range(5)]
    assert any(sources(seed) != a for seed in range(2, 6))
    # Fewer training cases leave val and test unchanged.
    b = sources(1, n_train=1)
    assert b[1:] == a[1:] and len(b[0]) == 1
    train = build(np.random.default_rng(1), root=str(tmp_path), **NO_RESAMPLE).train
    assert [c.case_id for c in train] == ["train-000", "train-001", "train-002"]


def test_missing_root_and_task(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        build(np.random.default_rng(0), root=str(tmp_path / "nowhere"))
    _make_task(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"Task02_Heart.*Task09_Spleen"):
        build(np.random.default_rng(0), root=str(tmp_path), task="Task02_Heart")


def test_missing_manifest(tmp_path: Path) -> None:
    task = _make_task(tmp_path)
    (task / "dataset.json").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(task / "dataset.json"))):
        read_training_list(tmp_path, TASK)


def test_malformed_manifest(tmp_path: Path) -> None:
    task = _make_task(tmp_path)
    (task / "dataset.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_training_list(tmp_path, TASK)
    (task / "dataset.json").write_text(json.dumps({"training": []}))
    with pytest.raises(ValueError, match="no non-empty 'training'"):
        read_training_list(tmp_path, TASK)


@pytest.mark.parametrize("kind", ["imagesTr", "labelsTr"])
def test_missing_listed_file_is_named(tmp_path: Path, kind: str) -> None:
    task = _make_task(tmp_path)
    missing = task / kind / "spleen_3.nii.gz"
    missing.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(f"{missing}, which does not exist")):
        build(np.random.default_rng(0), root=str(tmp_path), **NO_RESAMPLE)


def test_shape_mismatch_names_both_files(tmp_path: Path) -> None:
    task = _make_task(tmp_path)
    label = task / "labelsTr" / "spleen_2.nii.gz"
    _write(label, np.zeros((16, 16, 10), np.uint8))
    with pytest.raises(
        ValueError, match=rf"{re.escape(str(task / 'imagesTr' / 'spleen_2.nii.gz'))}.*{re.escape(str(label))}"
    ):
        read_training_list(tmp_path, TASK)


def test_too_few_cases(tmp_path: Path) -> None:
    _make_task(tmp_path, n_cases=3)
    with pytest.raises(ValueError, match=r"lists 3 labelled cases.*n_test=10"):
        build(np.random.default_rng(0), root=str(tmp_path))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"intensity_window": (100, -100)}, "intensity_window"),
        ({"spacing": (1.5, 0.0, 2.0)}, "spacing"),
        ({"orientation": "RAR"}, "orientation='RAR'"),
        ({"label_values": [0]}, "label_values"),
        ({"n_val": 0}, "n_val=0"),
        ({"n_train": 0}, "n_train=0 must be an integer >= 1 or None"),
    ],
)
def test_parameter_validation(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build(np.random.default_rng(0), root=str(tmp_path), **kwargs)
