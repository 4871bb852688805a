"""Predictions you can see: the worker's best/median/worst pictures and the leaderboard's cell pages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segbench import api
from segbench.report.build import build_reports
from segbench.store import Store
from segbench.worker.overlays import overlay_image, pick_cases

SUITE = """\
name: cells
seeds: [1]
train: {epochs: 2, batch_size: 4, lr: 0.01, val_every: 1}
models:
  - {name: unet, params: {channels: [4, 8, 16], strides: [2, 2]}}
datasets:
  - name: textures2d
    params: {size: 32, n_images: 40, fg_texture: noise, bg_texture: stripes}
complexity: [0.2]
perturbations: [none, harder]
ensembles: [{label: unet_x1, members: {model: unet, seeds: all}}]
"""


def test_pick_cases_ranks_by_dice_and_skips_undefined() -> None:
    assert pick_cases([0.5, None, 0.9, 0.1, float("nan")]) == {"best": 2, "median": 0, "worst": 3}
    assert pick_cases([0.7, 0.2]) == {"best": 0, "median": 1, "worst": 1}  # lower middle: a real case
    assert pick_cases([None]) == {}


def test_overlay_outlines_truth_green_and_prediction_magenta() -> None:
    image = np.arange(36, dtype=np.float32).reshape(6, 6)
    label = np.zeros((6, 6), np.uint8)
    label[1:4, 1:4] = 1  # 3x3 square: its centre (2, 2) is inside, not outline
    pred = np.zeros((6, 6), np.uint8)
    pred[4, 4] = 1
    out = overlay_image(image, label, pred)
    assert out.shape == (6, 12, 3) and out.dtype == np.uint8
    left, right = out[:, :6], out[:, 6:]
    assert (left[..., 0] == left[..., 1]).all()  # the plain image is grey
    assert tuple(right[1, 1]) == (0, 200, 0) and tuple(right[2, 2]) == tuple(left[2, 2])
    assert tuple(right[4, 4]) == (230, 0, 230)
    assert left[0, 0, 0] == 0 and left[5, 5, 0] == 255  # min-max scaled
    volume = np.zeros((3, 6, 6), np.float32)
    truth = np.zeros((3, 6, 6), np.uint8)
    truth[2, 2:4, 2:4] = 1  # the slice with the most truth is shown
    assert (overlay_image(volume, truth, truth)[2:4, 8:10] == 255).all()  # truth and prediction meet
    native = np.zeros((12, 12), np.uint8)  # scored at native resolution: label and mask on the file's grid
    native[3:9, 3:9] = 1
    assert overlay_image(image, native, native).shape == (12, 24, 3)  # the image follows the label's grid


@pytest.mark.slow
def test_cells_link_to_pictures_written_at_evaluation(write_suite, tmp_path: Path) -> None:
    results = tmp_path / "results"
    summary = api.run_suite(write_suite(SUITE, "cells"), results, quiet=True)
    assert summary.ok, summary.failed
    cases = Store(results).cases("cells")
    assert set(cases["model"]) == {"unet", "unet_x1"}
    for key in cases["cond_key"].unique():  # every evaluated condition has its pictures, ensembles too
        folder = results / "overlays" / key
        index = json.loads((folder / "index.json").read_text())
        assert set(index) == {"best", "median", "worst"}
        dice = cases[cases["cond_key"] == key].set_index("case_id")["dice"]
        assert index["best"]["dice"] == pytest.approx(dice.max())
        assert index["worst"]["dice"] == pytest.approx(dice.min())
        assert dice[index["worst"]["case_id"]] == pytest.approx(dice.min())
        with Image.open(folder / "best.png") as png:
            assert png.size == (256, 128)  # image | overlay, 32 px enlarged to 128
    (report,) = build_reports(results, tmp_path / "reports")
    page = report.index.read_text(encoding="utf-8")
    for column in ("id", "fam_harder"):
        href = f"cells/leaderboard-0-unet-0.2-{column}.html"
        assert f'<a href="{href}">' in page  # the leaderboard cell links to its page
        cell = (report.index.parent / href).read_text(encoding="utf-8")
        shown = [s.split('"')[0] for s in cell.split('<img src="')[1:]]
        assert len(shown) == 3 and all((report.index.parent / "cells" / s).is_file() for s in shown)
        assert cell.count('<tr><td class="name">') == cases["case_id"].nunique() == 8  # a row per case
    assert (
        "harder = speckle s2"
        in (report.index.parent / "cells" / "leaderboard-0-unet-0.2-fam_harder.html").read_text()
    )
