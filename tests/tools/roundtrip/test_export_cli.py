"""``segbench export`` through the CLI: layout on success, one-line errors on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from segbench.cli import main
from segbench.tools.roundtrip.manifest import Manifest

SUITE = """\
name: cli_export
models: [{{name: unet, params: {{channels: [4, 8, 16], strides: [2, 2]}}}}]
datasets:
  - name: {dataset}
    params: {params}
perturbations: [none, {{name: gaussian_noise, severity: 1}}]
"""


def _write(tmp_path: Path, dataset: str, params: str) -> Path:
    path = tmp_path / f"{dataset}.yaml"
    path.write_text(SUITE.format(dataset=dataset, params=params))
    return path


@pytest.mark.parametrize(("fmt", "image_name"), [("nifti", "{}.nii.gz"), ("nnunet-png", "{}_0000.png")])
def test_export_writes_folders_labels_and_manifest(tmp_path: Path, fmt: str, image_name: str) -> None:
    suite = _write(tmp_path, "textures2d", "{size: 16, n_images: 10, fg_texture: noise, bg_texture: stripes}")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["export", str(suite), "--out", str(out), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert "4 images in 2 folders" in result.output and "segbench import PRED" in result.output
    manifest = Manifest.read(out)  # the folder is accepted as well as the file
    assert [t.folder for t in manifest.test_sets] == ["textures2d_none", "textures2d_gaussian_noise_s1"]
    for test_set in manifest.test_sets:
        for case in test_set.cases:
            assert (out / case.image).name == image_name.format(case.case_id)
            assert (out / case.image).is_file() and (out / case.label).is_file()


def test_png_of_3d_data_is_a_one_line_error(tmp_path: Path) -> None:
    suite = _write(
        tmp_path,
        "spheres3d",
        "{size: 16, n_train: 2, n_val: 1, n_test: 2, train_radius: [3, 5], test_radius: [2, 6]}",
    )
    result = CliRunner().invoke(main, ["export", str(suite), "--out", str(tmp_path / "o"), "--format", "png"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "PNG holds 2D images only" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spheres3d.yaml"]  # nothing half-written


def test_export_and_import_of_a_suite_with_a_dataset_shift_scored_natively(tmp_path: Path) -> None:
    import numpy as np

    from segbench.api import import_predictions
    from segbench.datasets.examples import write_datalist_site
    from segbench.tools.roundtrip.files import read_array, write_label

    a = write_datalist_site(tmp_path, "a", n=6, size=16)
    b = write_datalist_site(tmp_path, "b", n=3, size=24, seed=2, textures=("noise", "grass"))
    suite = tmp_path / "shift.yaml"
    suite.write_text(
        "name: shift\nmodels: [unet]\n"
        f"datasets: [{{name: datalist, params: {{path: {a}, size: 8}}}}]\n"
        f"dataset_shifts: [{{label: site_B, dataset: {{name: datalist, params: {{path: {b}}}}}}}]\n"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["export", str(suite), "--out", str(out), "--format", "nifti"])
    assert result.exit_code == 0, result.output
    manifest = Manifest.read(out)
    site_b = next(t for t in manifest.test_sets if t.perturbation == "site_B")
    assert sorted(c.case_id for c in site_b.cases) == ["b_000", "b_001", "b_002"]  # all of B
    case = site_b.cases[0]
    assert case.shape == [8, 8] and read_array(out / case.meta["native_label"]).shape == (24, 24)
    # The exported 8x8 ground truth as predictions: scored against the 24x24 originals.
    preds = tmp_path / "preds"
    for test_set in manifest.test_sets:
        for c in test_set.cases:
            write_label(preds / test_set.folder / f"{c.case_id}.nii.gz", read_array(out / c.label), c.spacing)
    summary = import_predictions(preds, out, "truth", tmp_path / "results")
    from segbench.store import Store

    rows = Store(tmp_path / "results").cases("shift")
    b_rows = rows[rows["perturbation"] == "site_B"]
    native = [int((read_array(out / c.meta["native_label"]) > 0).sum()) for c in site_b.cases]
    assert sorted(b_rows["n_ref"].astype(int)) == sorted(native)  # the original labels' sizes
    assert summary is not None and 0.5 < float(np.nanmean(b_rows["dice"])) < 1.0  # resampled, not exact
