"""``datalist`` on small files written in the MONAI datalist layout, in every 2D and 3D format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from segbench.datasets import datalist
from segbench.datasets.examples import write_datalist_site
from segbench.registry import DATASETS


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.mark.parametrize("ext", [".png", ".tif", ".gif", ".bmp", ".nii.gz"])
def test_every_2d_format_loads_the_written_pixels(tmp_path: Path, ext: str) -> None:
    path = write_datalist_site(tmp_path, "site", n=6, size=24, ext=ext)
    splits = datalist.build(_rng(), path=str(path))
    cases = {c.case_id: c for c in [*splits.train, *splits.val, *splits.test]}
    assert sorted(cases) == [f"site_{k:03d}" for k in range(6)]
    for case_id, case in cases.items():
        written = path.parent / "site" / "images" / f"{case_id}{ext}"
        if ext == ".nii.gz":
            raw = np.asarray(nib.load(str(written)).dataobj, dtype=np.float32)
        else:  # a GIF is a palette image: its intensities are the palette's grey levels
            raw = np.asarray(Image.open(written).convert("L"), dtype=np.float32)
        expected = (raw - raw.min()) / (raw.max() - raw.min())  # minmax, the default
        np.testing.assert_allclose(case.image, expected, atol=1e-6)
        assert case.label.dtype == np.uint8 and set(np.unique(case.label)) <= {0, 1}
        assert case.spacing == (1.0, 1.0)
        assert case.meta["source"] == written.name


def test_light_resolver_matches_monai_load_decathlon_datalist(tmp_path: Path) -> None:
    from monai.data import load_decathlon_datalist

    path = write_datalist_site(tmp_path, "a", n=4, size=16)
    data = json.loads(path.read_text())
    data["training"][0]["image"] = ["a/images/a_000.png", "./a/images/a_001.png"]
    data["validation"] = [data["training"].pop()]
    path.write_text(json.dumps(data))
    for key in ("training", "validation"):
        monai = load_decathlon_datalist(str(path), data_list_key=key)
        ours = datalist._resolve(path, data[key], key)
        assert ours == monai


def test_listed_validation_and_test_are_kept_missing_lists_are_split(tmp_path: Path) -> None:
    path = write_datalist_site(tmp_path, "s", n=10, size=16)
    data = json.loads(path.read_text())
    data["test"] = ["s/images/s_000.png"]  # MSD style: bare image paths, no labels -> ignored
    path.write_text(json.dumps(data))
    assert not datalist.build(_rng(), path=str(path)).official_test
    data["test"] = data["training"][:2]
    data["training"] = data["training"][2:]
    path.write_text(json.dumps(data))
    splits = datalist.build(_rng(), path=str(path), split=[0.75, 0.25, 0.0])
    assert [c.case_id for c in splits.test] == ["s_000", "s_001"]
    assert splits.official_test
    assert (len(splits.train), len(splits.val)) == (6, 2)
    again = datalist.build(_rng(), path=str(path), split=[0.75, 0.25, 0.0])
    assert splits.split_ids() == again.split_ids()  # seeded


def test_group_keeps_one_subject_in_one_split(tmp_path: Path) -> None:
    path = write_datalist_site(tmp_path, "g", n=12, size=16)
    data = json.loads(path.read_text())
    for k, entry in enumerate(data["training"]):  # subjects p0..p3, three images each
        src = path.parent / entry["image"]
        dst = src.with_name(f"p{k // 3}_{k % 3}.png")
        src.rename(dst)
        entry["image"] = f"g/images/{dst.name}"
    path.write_text(json.dumps(data))
    for seed in range(5):
        splits = datalist.build(
            np.random.default_rng(seed), path=str(path), group=r"^(p\d+)_", split=[0.5, 0.25, 0.25]
        )
        subjects = {
            name: {c.case_id.split("_")[0] for c in getattr(splits, name)}
            for name in ("train", "val", "test")
        }
        assert len(subjects["train"]) == 2 and len(subjects["val"]) == 1 and len(subjects["test"]) == 1
        assert not (subjects["train"] & subjects["val"]) and not (subjects["train"] & subjects["test"])


def test_multimodal_3d_nifti_and_size(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    training = []
    for k in range(5):
        names = []
        for m in range(2):
            vol = rng.uniform(0, 100 * (m + 1), size=(20, 18, 16)).astype(np.float32)
            name = f"c{k}_m{m}.nii.gz"
            nib.save(nib.Nifti1Image(vol, np.diag([2.0, 2.0, 3.0, 1.0])), str(tmp_path / name))
            names.append(name)
        label = np.zeros((20, 18, 16), np.uint8)
        label[5:12, 4:10, 3:9] = 1
        nib.save(nib.Nifti1Image(label, np.diag([2.0, 2.0, 3.0, 1.0])), str(tmp_path / f"c{k}_seg.nii.gz"))
        training.append({"image": names, "label": f"c{k}_seg.nii.gz"})
    (tmp_path / "list.json").write_text(json.dumps({"training": training}))
    native = datalist.build(_rng(), path=str(tmp_path / "list.json"), intensity="zscore")
    case = native.train[0]
    assert native.in_channels == 2 and native.spatial_dims == 3 and native.scaling == "zscore"
    assert case.image.shape == (2, 20, 18, 16) and case.spacing == (2.0, 2.0, 3.0)
    np.testing.assert_allclose(case.image.mean(axis=(1, 2, 3)), 0.0, atol=1e-5)
    assert int(case.label.sum()) == 7 * 6 * 6
    small = datalist.build(_rng(), path=str(tmp_path / "list.json"), size=10)
    assert small.train[0].image.shape == (2, 10, 10, 10)
    assert small.train[0].spacing == pytest.approx((4.0, 3.6, 4.8))


def test_window_intensity_and_label_threshold(tmp_path: Path) -> None:
    path = write_datalist_site(tmp_path, "w", n=4, size=16)
    # A lossy (JPEG-like) mask: values 0, 3, 250, 255; a threshold makes it binary again.
    mask = np.zeros((16, 16), np.uint8)
    mask[2:8, 2:8] = 255
    mask[2, 2], mask[10, 10] = 250, 3
    entry = json.loads(path.read_text())["training"][0]
    Image.fromarray(mask).save(path.parent / entry["label"])
    splits = datalist.build(_rng(), path=str(path), intensity=[50, 150], label_threshold=127)
    case = next(c for c in [*splits.train, *splits.val, *splits.test] if c.case_id == "w_000")
    assert int(case.label.sum()) == 36 and splits.scaling == "none"
    raw = np.asarray(Image.open(path.parent / entry["image"]), dtype=np.float32)
    np.testing.assert_allclose(case.image, np.clip((raw - 50) / 100, 0, 1), atol=1e-6)


def test_itk_formats_say_what_is_missing(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    if __import__("importlib").util.find_spec("itk") is not None:
        pytest.skip("ITK installed here")
    (tmp_path / "a.mha").write_bytes(b"ObjectType = Image\n")
    (tmp_path / "a_seg.mha").write_bytes(b"ObjectType = Image\n")
    (tmp_path / "l.json").write_text(json.dumps({"training": [{"image": "a.mha", "label": "a_seg.mha"}]}))
    (problem,) = DATASETS.get("datalist").meta["check"]({"path": str(tmp_path / "l.json")})
    assert re.search(r"a\.mha: reading \.mha files needs ITK.*pip install itk", problem)


def test_nrrd_volumes_load_as_their_nifti_copies(tmp_path: Path) -> None:
    """NRRD through pynrrd: the same voxels, axis order and spacing as NIfTI; with and without
    ``space directions`` (MONAI's NrrdReader raises KeyError on files that lack it)."""
    import nrrd

    rng = np.random.default_rng(0)
    entries: dict[str, list[dict[str, str]]] = {"nii": [], "nrrd": [], "bare": []}
    for k in range(4):
        vol = rng.uniform(0, 1, (14, 12, 6)).astype(np.float32)
        lab = np.zeros((14, 12, 6), np.uint8)
        lab[3 : 9 + k, 2:8, 1:5] = 1
        affine = np.diag([0.8, 0.8, 2.0, 1.0])
        nib.save(nib.Nifti1Image(vol, affine), str(tmp_path / f"v{k}.nii.gz"))
        nib.save(nib.Nifti1Image(lab, affine), str(tmp_path / f"v{k}_seg.nii.gz"))
        spatial = {"space": "left-posterior-superior", "space directions": np.diag([0.8, 0.8, 2.0])}
        nrrd.write(str(tmp_path / f"v{k}.nrrd"), vol, spatial, index_order="F")
        nrrd.write(str(tmp_path / f"v{k}_seg.nrrd"), lab, spatial, index_order="F")
        nrrd.write(str(tmp_path / f"b{k}.nrrd"), vol, index_order="F")
        nrrd.write(str(tmp_path / f"b{k}_seg.nrrd"), lab, index_order="F")
        entries["nii"].append({"image": f"v{k}.nii.gz", "label": f"v{k}_seg.nii.gz"})
        entries["nrrd"].append({"image": f"v{k}.nrrd", "label": f"v{k}_seg.nrrd"})
        entries["bare"].append({"image": f"b{k}.nrrd", "label": f"b{k}_seg.nrrd"})
    built = {}
    for name, training in entries.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"training": training}))
        assert DATASETS.get("datalist").meta["check"]({"path": str(path)}) == []
        assert DATASETS.get("datalist").spatial_dims({"path": str(path)}) == 3
        built[name] = datalist.build(_rng(), path=str(path))
    nii, nrd, bare = (
        sorted([*b.train, *b.val, *b.test], key=lambda c: c.case_id[1:]) for b in built.values()
    )
    for a, b, c in zip(nii, nrd, bare, strict=True):
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.label, b.label)
        np.testing.assert_array_equal(a.image, c.image)
        assert a.spacing == pytest.approx(b.spacing) == (0.8, 0.8, 2.0) and c.spacing == (1.0, 1.0, 1.0)
    broken = tmp_path / "broken.json"
    (tmp_path / "x.nrrd").write_bytes(b"NRRD0004\ntype: float\n")
    broken.write_text(json.dumps({"training": [{"image": "x.nrrd", "label": "v0_seg.nrrd"}]}))
    (problem,) = DATASETS.get("datalist").meta["check"]({"path": str(broken)})
    assert "x.nrrd: cannot be read as NRRD" in problem


def test_unlabelled_training_entries_are_named_not_dropped(tmp_path: Path) -> None:
    """An entry without 'label' in training/validation was silently dropped (less data than listed);
    an unlabelled test list (as MSD ships it) is still skipped."""
    path = write_datalist_site(tmp_path, "u", n=6, size=16)
    training = json.loads(path.read_text())["training"]
    check = DATASETS.get("datalist").meta["check"]
    image_only = {"image": training[2]["image"]}
    for listing, needle in (
        ({"training": [*training[:2], image_only, *training[3:]]}, "training[2] has no 'label'"),
        ({"training": training[:4], "validation": [image_only]}, "validation[0] has no 'label'"),
    ):
        path.write_text(json.dumps(listing))
        (problem,) = check({"path": str(path)})
        assert needle in problem, problem
    path.write_text(json.dumps({"training": training, "test": [{"image": e["image"]} for e in training[:2]]}))
    assert check({"path": str(path)}) == []
