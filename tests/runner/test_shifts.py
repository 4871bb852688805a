"""A suite mixing train-time augmentation with every kind of test-time shift, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segbench import api
from segbench.report.build import build_reports
from segbench.store import Store

pytestmark = pytest.mark.slow

SUITE = """\
name: shifts
seeds: [1]
train:
  epochs: 4
  batch_size: 4
  lr: 0.01
  val_every: 2
  augment: [{name: gaussian_noise, severity: [1, 2], p: 0.5}, {name: gamma, p: 0.3}]
models:
  - {name: unet, params: {channels: [4, 8, 16], strides: [2, 2]}}
  - {name: noskip_unet, params: {channels: [4, 8, 16], strides: [2, 2]}}
datasets:
  - name: textures2d
    params: {size: 32, n_images: 30, fg_texture: noise, bg_texture: stripes}
complexity: [0.2, 0.7]
test_complexity: all
perturbations: [none, harder, hardest, easier, easiest, {name: rician, severity: 3}]
dataset_shifts:
  - {label: unseen_textures, params: {test_fg_texture: brick, test_bg_texture: grass}}
"""


def test_augmented_training_with_all_shift_kinds(tmp_path: Path) -> None:
    suite = tmp_path / "shifts.yaml"
    suite.write_text(SUITE)
    results = tmp_path / "results"
    summary = api.run_suite(suite, results, quiet=True)
    assert summary.ok, summary.failed
    cases = Store(results).cases("shifts")
    in_level = cases[cases["test_complexity"].isna()]
    assert set(in_level["perturbation"]) == {
        "none",
        "speckle",
        "blur_background",
        "rician",
        "unseen_textures",
    }
    presets = cases.dropna(subset=["preset"]).groupby("preset")["severity"].first().to_dict()
    assert presets == {"harder": 2, "hardest": 4, "easier": 2, "easiest": 4}
    speckle = cases[cases["preset"] == "hardest"]["perturbation_params"].map(json.loads)
    assert {p["variance"] for p in speckle} == {0.3}

    # The dataset shift keeps the cases (same masks) but changes the images.
    clean = in_level[in_level["perturbation"] == "none"].set_index(["job_key", "case_id"])
    shifted = in_level[in_level["perturbation"] == "unseen_textures"].set_index(["job_key", "case_id"])
    assert sorted(clean.index) == sorted(shifted.index)
    assert (clean["n_ref"] == shifted.loc[clean.index, "n_ref"]).all()

    cross = cases[cases["test_complexity"].notna()]
    assert set(zip(cross["complexity"], cross["test_complexity"], strict=True)) == {(0.2, 0.7), (0.7, 0.2)}

    (built,) = build_reports(results, tmp_path / "reports")
    page = built.index.read_text()
    assert 'id="cross-0"' in page and 'id="cross-1"' in page  # one heatmap per model


def test_augmentation_changes_training(tmp_path: Path) -> None:
    base = SUITE.replace("complexity: [0.2, 0.7]\ntest_complexity: all", "complexity: [0.2]")
    plain = base.replace(
        "  augment: [{name: gaussian_noise, severity: [1, 2], p: 0.5}, {name: gamma, p: 0.3}]\n", ""
    )
    runs = {}
    for name, text in {"aug": base, "plain": plain}.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(
            text.replace(
                "perturbations: [none, harder, hardest, easier, easiest, {name: rician, severity: 3}]",
                "perturbations: [none]",
            )
        )
        api.run_suite(path, tmp_path / name, quiet=True)
        runs[name] = Store(tmp_path / name).cases("shifts")
    assert set(runs["aug"]["job_key"]).isdisjoint(runs["plain"]["job_key"])
    assert not runs["aug"]["dice"].equals(runs["plain"]["dice"])
