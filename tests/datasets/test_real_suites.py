"""The shipped real-data suites validate once their data exists (written here in each layout)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image
from test_real_layouts import _busi

from segbench.datasets.examples import write_example
from segbench.plan import expand
from segbench.suite.errors import SuiteError
from segbench.suite.load import load_suite

SUITES = Path(__file__).resolve().parents[2] / "suites"


def _load(name: str, data: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    # Expanded here so the test does not depend on how the loader reads ${NAME}.
    os.environ["SEGBENCH_DATA"] = str(data)
    try:
        text = os.path.expandvars((SUITES / name).read_text())
    finally:
        del os.environ["SEGBENCH_DATA"]
    path = tmp_path / name
    path.write_text(text)
    return load_suite(path)


def _msd(root: Path, task: str) -> None:
    folder = root / task
    (folder / "imagesTr").mkdir(parents=True)
    (folder / "labelsTr").mkdir()
    training = []
    for k in range(4):
        label = np.zeros((8, 8, 4), np.uint8)
        label[2:6, 2:6, 1:3] = 1
        for sub, data in (("imagesTr", np.ones((8, 8, 4), np.float32)), ("labelsTr", label)):
            nib.save(nib.Nifti1Image(data, np.eye(4)), str(folder / sub / f"v{k}.nii.gz"))
        training.append({"image": f"./imagesTr/v{k}.nii.gz", "label": f"./labelsTr/v{k}.nii.gz"})
    (folder / "dataset.json").write_text(json.dumps({"training": training}))


def test_real_example_validates_and_plans(tmp_path: Path) -> None:
    write_example(tmp_path / "data" / "example")
    suite = _load("real_example.yaml", tmp_path / "data", tmp_path)
    jobs = expand(suite)
    assert len(jobs) == 4 and {c.perturbation for c in jobs[0].conditions} >= {"none", "site_B"}


def test_skip_real_validates_with_each_layout_present(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _busi(data / "BUSI")
    _msd(data / "MSD", "Task02_Heart")
    _msd(data / "MSD", "Task09_Spleen")
    (data / "GlaS").mkdir()
    for part in ("train_1", "train_2", "testA_1"):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(data / "GlaS" / f"{part}.bmp")
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(data / "GlaS" / f"{part}_anno.bmp")
    suite = _load("skip_real.yaml", data, tmp_path)
    assert [d.name for d in suite.datasets] == ["busi", "msd2d", "msd2d", "glas"]
    (data / "GlaS" / "testA_1_anno.bmp").unlink()
    with pytest.raises(
        SuiteError, match=r"GlaS image testA_1\.bmp: label file .*testA_1_anno\.bmp does not exist"
    ):
        _load("skip_real.yaml", data, tmp_path)


def test_patch_budget_length_follows_the_files_dimensionality(tmp_path: Path) -> None:
    from segbench.datasets.examples import write_datalist_site

    flat = write_datalist_site(tmp_path, "flat", n=5, size=16)
    nii = tmp_path / "vol"
    nii.mkdir()
    training = []
    for k in range(5):
        for name, data in (
            (f"v{k}", np.zeros((8, 8, 8), np.float32)),
            (f"v{k}_seg", np.eye(8, dtype=np.uint8)[None].repeat(8, 0)),
        ):
            nib.save(nib.Nifti1Image(data, np.eye(4)), str(nii / f"{name}.nii.gz"))
        training.append({"image": f"vol/v{k}.nii.gz", "label": f"vol/v{k}_seg.nii.gz"})
    (tmp_path / "vol.json").write_text(json.dumps({"training": training}))

    def suite(path: Path, size: str) -> Path:
        out = tmp_path / "suite.yaml"
        out.write_text(
            f"name: p\nmodels: [unet]\ndatasets: [{{name: datalist, params: {{path: {path}}}}}]\n"
            f"patch_budget:\n  - {{size: {size}}}\n"
        )
        return out

    load_suite(suite(flat, "[8, 8]"))  # 2D patches on 2D images
    load_suite(suite(tmp_path / "vol.json", "[8, 8, 8]"))  # 3D patches on NIfTI volumes
    with pytest.raises(SuiteError, match=r"patch_budget\.0\.size.*needs 3 values"):
        load_suite(suite(tmp_path / "vol.json", "[8, 8]"))


def test_shift_conditions_with_perturbations_on_top(tmp_path: Path) -> None:
    from segbench.datasets.examples import write_datalist_site
    from segbench.suite.load import parse_suite

    a = write_datalist_site(tmp_path, "a", n=5, size=16)
    b = write_datalist_site(tmp_path, "b", n=4, size=16)
    text = (
        f"name: s\nmodels: [unet]\ndatasets: [{{name: datalist, params: {{path: {a}}}}}]\n"
        "perturbations: [none, harder]\ndataset_shifts:\n"
        f"  - {{label: site_B, dataset: {{name: datalist, params: {{path: {b}}}}}, "
        "perturbations: [none, harder, {name: gaussian_noise, severity: [1, 2]}]}\n"
    )
    (job,) = expand(parse_suite(text, "s.yaml"))
    names = [(c.perturbation, c.severity, c.preset, bool(c.test_dataset)) for c in job.conditions]
    assert names == [
        ("none", 0, None, False),
        ("speckle", 2, "harder", False),
        ("site_B", 0, None, True),
        ("site_B+speckle", 2, "harder", True),
        ("site_B+gaussian_noise", 1, None, True),
        ("site_B+gaussian_noise", 2, None, True),
    ]
    assert len({job.condition_key(c) for c in job.conditions}) == 6
    bad = text.replace("severity: [1, 2]", "severity: [9]")
    (tmp_path / "bad.yaml").write_text(bad)
    with pytest.raises(
        SuiteError, match=r"dataset_shifts\.0\.perturbations\.2\.severity\.0.*one of 1, 2, 3, 4, 5"
    ):
        load_suite(tmp_path / "bad.yaml")
