"""``nnunet``, ``busi``, ``glas`` and ``msd2d`` on small files written in each real layout."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from segbench.datasets import busi, datalist, glas, msd2d, nnunet
from segbench.datasets.errors import DataError
from segbench.datasets.examples import write_fundus_site, write_nnunet_copy


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _ids(splits) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(c.case_id for c in [*splits.train, *splits.val, *splits.test])


def test_fundus_datalist_and_its_nnunet_png_copy_give_the_same_cases(tmp_path: Path) -> None:
    site = write_fundus_site(tmp_path, "drive", [21, 22, 23, 24, 25, 26], shape=(58, 56))
    nn_root = write_nnunet_copy(site, tmp_path / "Dataset004_Drive")
    a = datalist.build(_rng(), path=str(site), channels="rgb", size=16)
    b = nnunet.build(_rng(), root=str(nn_root), channels="rgb", size=16)
    assert _ids(a) == _ids(b) == [f"{k}_training" for k in range(21, 27)]
    assert a.split_ids() == b.split_ids()  # same ids, same seed -> same split
    for x, y in zip(a.train, b.train, strict=True):
        np.testing.assert_allclose(x.image, y.image, atol=1e-6)  # TIFF and PNG hold the same pixels
        np.testing.assert_array_equal(x.label, y.label)  # GIF 0/255 == PNG 0/1 after binarising
    assert a.in_channels == 3


def _nnunet_3d(root: Path, n: int = 5, with_test: bool = False) -> Path:
    rng = np.random.default_rng(0)
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    meta = {
        "channel_names": {"0": "T1", "1": "T2"},
        "labels": {"background": 0, "liver": 1, "tumour": 2},
        "numTraining": n,
        "file_ending": ".nii.gz",
    }
    (root / "dataset.json").write_text(json.dumps(meta))

    def case(folder: str, lab_folder: str, name: str) -> None:
        for c in range(2):
            vol = rng.uniform(0, 1, (12, 12, 8)).astype(np.float32)
            nib.save(nib.Nifti1Image(vol, np.eye(4)), str(root / folder / f"{name}_{c:04d}.nii.gz"))
        label = np.zeros((12, 12, 8), np.uint8)
        label[2:8, 2:8, 2:6] = 1
        label[3:5, 3:5, 3:5] = 2
        nib.save(nib.Nifti1Image(label, np.eye(4)), str(root / lab_folder / f"{name}.nii.gz"))

    for k in range(n):
        case("imagesTr", "labelsTr", f"liver_{k:03d}")
    if with_test:
        (root / "imagesTs").mkdir()
        (root / "labelsTs").mkdir()
        case("imagesTs", "labelsTs", "liver_100")
    return root


def test_nnunet_3d_foreground_names_and_values(tmp_path: Path) -> None:
    root = _nnunet_3d(tmp_path / "Dataset002_Liver")
    every = nnunet.build(_rng(), root=str(root))
    tumour = nnunet.build(_rng(), root=str(root), foreground=["tumour"])
    by_value = nnunet.build(_rng(), root=str(root), foreground=[2])
    assert every.in_channels == 2 and every.spatial_dims == 3
    assert int(every.train[0].label.sum()) == 6 * 6 * 4
    assert int(tumour.train[0].label.sum()) == int(by_value.train[0].label.sum()) == 2 * 2 * 2
    with pytest.raises(DataError, match=r"foreground entry 'tumor' is not a label; labels are background=0"):
        nnunet.discover(str(root), ["tumor"])


def test_nnunet_labelled_imagests_is_the_official_test(tmp_path: Path) -> None:
    root = _nnunet_3d(tmp_path / "Dataset003_Liver", n=4, with_test=True)
    splits = nnunet.build(_rng(), root=str(root), split=[0.75, 0.25, 0.0])
    assert splits.official_test and [c.case_id for c in splits.test] == ["liver_100"]
    assert (len(splits.train), len(splits.val)) == (3, 1)


def _busi(root: Path) -> Path:
    base = root / "Dataset_BUSI_with_GT"
    for cls, n in (("benign", 3), ("malignant", 3), ("normal", 2)):
        (base / cls).mkdir(parents=True)
        for k in range(1, n + 1):
            image = (np.random.default_rng(k).uniform(0, 255, (30, 40, 3))).astype(np.uint8)
            Image.fromarray(image).save(base / cls / f"{cls} ({k}).png")
            mask = np.zeros((30, 40), np.uint8)
            mask[5:10, 5:10] = 255
            Image.fromarray(mask).save(base / cls / f"{cls} ({k})_mask.png")
    extra = np.zeros((30, 40), np.uint8)
    extra[20:25, 30:35] = 255  # a second lesion of benign (2)
    Image.fromarray(extra).save(base / "benign" / "benign (2)_mask_1.png")
    return root


def test_busi_ors_extra_masks_and_excludes_normal(tmp_path: Path) -> None:
    root = _busi(tmp_path)
    splits = busi.build(_rng(), root=str(root), size=None, split=[0.5, 0.25, 0.25])
    assert _ids(splits) == [f"{c} ({k})" for c in ("benign", "malignant") for k in (1, 2, 3)]
    cases = {c.case_id: c for c in [*splits.train, *splits.val, *splits.test]}
    assert int(cases["benign (2)"].label.sum()) == 50 and int(cases["benign (1)"].label.sum()) == 25
    assert cases["benign (1)"].image.shape == (30, 40)  # grayscale
    normal = busi.discover(str(root / "Dataset_BUSI_with_GT"), ["normal"])  # asked for explicitly
    assert sorted(p.case_id for p in normal.pairs) == ["normal (1)", "normal (2)"]


def test_glas_keeps_testa_testb_and_merges_instances(tmp_path: Path) -> None:
    for part, n in (("train", 5), ("testA", 2), ("testB", 1)):
        for k in range(1, n + 1):
            image = np.random.default_rng(k).uniform(0, 255, (24, 30, 3)).astype(np.uint8)
            Image.fromarray(image).save(tmp_path / f"{part}_{k}.bmp")
            anno = np.zeros((24, 30), np.uint8)
            anno[2:6, 2:6], anno[10:14, 10:16] = 1, 7  # two gland instances
            Image.fromarray(anno).save(tmp_path / f"{part}_{k}_anno.bmp")
    (tmp_path / "Grade.csv").write_text("name,grade\n")
    splits = glas.build(_rng(), root=str(tmp_path), size=None)
    assert [c.case_id for c in splits.test] == ["testA_1", "testA_2", "testB_1"]
    assert splits.official_test and splits.in_channels == 3
    assert (len(splits.train), len(splits.val)) == (4, 1)
    assert int(splits.train[0].label.sum()) == 16 + 24
    only_b = glas.build(_rng(), root=str(tmp_path), test="testB", size=16)
    assert [c.case_id for c in only_b.test] == ["testB_1"] and only_b.train[0].image.shape == (3, 16, 16)


def test_msd2d_keeps_foreground_slices_and_splits_by_patient(tmp_path: Path) -> None:
    task = tmp_path / "Task02_Heart"
    (task / "imagesTr").mkdir(parents=True)
    (task / "labelsTr").mkdir()
    training = []
    for k in range(5):
        image = np.random.default_rng(k).uniform(0, 500, (16, 16, 10)).astype(np.float32)
        label = np.zeros((16, 16, 10), np.uint8)
        label[4:12, 4:12, 2:6] = 1  # 64 / 256 = 25 % on slices 2..5
        label[0, 0, 7] = 1  # 1 / 256 = 0.39 % <= 0.5 %: dropped
        for folder, data in (("imagesTr", image), ("labelsTr", label)):
            nib.save(nib.Nifti1Image(data, np.eye(4)), str(task / folder / f"la_{k:03d}.nii.gz"))
        training.append({"image": f"./imagesTr/la_{k:03d}.nii.gz", "label": f"./labelsTr/la_{k:03d}.nii.gz"})
    (task / "dataset.json").write_text(json.dumps({"training": training}))
    splits = msd2d.build(_rng(), root=str(tmp_path), size=8, split=[0.6, 0.2, 0.2])
    ids = _ids(splits)
    assert len(ids) == 5 * 4 and all(i.split("_z")[1] in {"002", "003", "004", "005"} for i in ids)
    patients = {s: {c.case_id.split("_z")[0] for c in getattr(splits, s)} for s in ("train", "val", "test")}
    assert [len(patients[s]) for s in ("train", "val", "test")] == [3, 1, 1]
    assert not (patients["train"] & patients["test"]) and not (patients["train"] & patients["val"])
    assert splits.train[0].image.shape == (8, 8) and splits.train[0].meta["fbr"] == pytest.approx(0.25)


def test_file_backed_datasets_take_their_dims_from_the_files(tmp_path: Path) -> None:
    """datalist/nnunet hold PNGs or volumes: no fixed ``dims``; validation, weights checks and
    ``advise`` ask the files (a 3D nnU-Net folder was taken for 2D before)."""
    from segbench.registry import DATASETS

    volumes = _nnunet_3d(tmp_path / "Dataset002_Liver")
    site = write_fundus_site(tmp_path, "drive", [21, 22, 23], shape=(20, 20))
    pngs = write_nnunet_copy(site, tmp_path / "Dataset004_Drive")
    nn, dl = DATASETS.get("nnunet"), DATASETS.get("datalist")
    assert "dims" not in nn.meta and "dims" not in dl.meta
    assert nn.spatial_dims({"root": str(volumes)}) == 3
    assert nn.spatial_dims({"root": str(pngs)}) == 2
    assert dl.spatial_dims({"path": str(site)}) == 2
    assert nn.spatial_dims({"root": str(tmp_path / "missing")}) is None  # validation reports the path
    assert DATASETS.get("spheres3d").spatial_dims() == 3


def test_nnunet_foreground_must_name_structures(tmp_path: Path) -> None:
    """`foreground: [0]` (or `[background, ...]`) inverted the task, `[]` left empty masks; both validated."""
    root = _nnunet_3d(tmp_path / "Dataset002_Liver")
    with pytest.raises(DataError, match=r"foreground includes the background \(value 0\)"):
        nnunet.discover(str(root), ["background", "liver"])
    with pytest.raises(DataError, match=r"foreground includes the background"):
        nnunet.discover(str(root), [0])
    with pytest.raises(DataError, match=r"foreground names no label; omit it for every label > 0"):
        nnunet.discover(str(root), [])
