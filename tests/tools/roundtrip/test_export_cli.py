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
