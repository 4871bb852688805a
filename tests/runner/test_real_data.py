"""Real-data suites end to end on CPU: fundus datalists (site A -> site B), mixed sizes, 2D patches."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segbench import api
from segbench.datasets.examples import write_example, write_fundus_site
from segbench.store import Store

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TINY = "{name: unet, params: {channels: [4, 8, 16], strides: [2, 2]}}"


def _run(tmp_path: Path, text: str, name: str = "suite"):  # type: ignore[no-untyped-def]
    suite = tmp_path / f"{name}.yaml"
    suite.write_text(text)
    results = tmp_path / "results"
    summary = api.run_suite(suite, results, quiet=True)
    assert summary.ok, summary.failed
    return Store(results)


def test_fundus_site_a_to_site_b_end_to_end(tmp_path: Path) -> None:
    """The issue's "done when": 565x584 RGB TIFF + GIF masks, site B as a dataset shift."""
    site_a = write_fundus_site(tmp_path, "siteA", list(range(21, 27)), seed=1)
    site_b = write_fundus_site(tmp_path, "siteB", [1, 2, 3], seed=2)
    store = _run(
        tmp_path,
        f"""\
name: fundus
seeds: [1]
train: {{epochs: 1, batch_size: 2, lr: 0.01, val_every: 1}}
models: [{TINY}]
datasets:
  - {{name: datalist, params: {{path: {site_a}, size: 32, channels: rgb}}}}
perturbations: [none, {{name: gaussian_noise, severity: 2}}]
dataset_shifts:
  - {{label: site_B, dataset: {{name: datalist, params: {{path: {site_b}}}}}, perturbations: [harder]}}
""",
    )
    cases = store.cases("fundus")
    # score_at: native (the default): scored against the 584x565 GIF, not the 32x32 resized mask.
    gif = np.asarray(Image.open(tmp_path / "siteB" / "1st_manual" / "01_manual1.gif").convert("L"))
    row = cases[(cases["perturbation"] == "site_B") & (cases["case_id"] == "01_training")]
    assert int(row["n_ref"].iloc[0]) == int((gif > 0).sum()) > 32 * 32
    by_condition = cases.groupby("perturbation")["case_id"].apply(sorted).to_dict()
    assert by_condition["site_B"] == ["01_training", "02_training", "03_training"]  # all of B
    assert by_condition["site_B+speckle"] == by_condition["site_B"]  # a perturbation on top of B
    on_top = cases[cases["perturbation"] == "site_B+speckle"]
    assert set(on_top["preset"]) == {"harder"}
    assert all(json.loads(p)["variance"] == 0.1 for p in on_top["perturbation_params"])
    assert len(by_condition["none"]) == len(by_condition["gaussian_noise"]) >= 1
    assert cases["dice"].notna().any()
    (info,) = store.jobs("fundus")["train_info"].map(json.loads)
    assert sorted(info["split"]["train"] + info["split"]["val"] + info["split"]["test"]) == [
        f"{k}_training" for k in range(21, 27)
    ]
    assert (tmp_path / "results" / "cache").is_dir()
    # Unchanged data: a second run trains nothing; a re-saved image retrains.
    summary = api.run_suite(tmp_path / "suite.yaml", tmp_path / "results", quiet=True)
    assert summary.ok
    assert api.plan_suite(tmp_path / "suite.yaml", tmp_path / "results").tasks == []
    image = tmp_path / "siteA" / "images" / "21_training.tif"
    os.utime(image, ns=(image.stat().st_atime_ns, image.stat().st_mtime_ns + 10**9))
    assert len(api.plan_suite(tmp_path / "suite.yaml", tmp_path / "results").tasks) == 1


def test_mixed_sizes_native_and_2d_patch_budget(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    training = []
    (tmp_path / "img").mkdir()
    for k, (h, w) in enumerate([(40, 36), (28, 44), (36, 36), (44, 30), (32, 40), (30, 30)]):
        image = rng.uniform(0, 80, (h, w))
        mask = np.zeros((h, w), np.uint8)
        mask[h // 4 : h // 2, w // 4 : w // 2] = 1
        image[mask > 0] += 150
        Image.fromarray(image.astype(np.uint8)).save(tmp_path / "img" / f"c{k}.png")
        Image.fromarray(mask).save(tmp_path / "img" / f"c{k}_seg.png")
        training.append({"image": f"img/c{k}.png", "label": f"img/c{k}_seg.png"})
    (tmp_path / "list.json").write_text(json.dumps({"training": training}))
    store = _run(
        tmp_path,
        f"""\
name: mixed
seeds: [1]
train: {{epochs: 2, batch_size: 3, lr: 0.01, val_every: 1}}
models: [{TINY}]
datasets:
  - {{name: datalist, params: {{path: {tmp_path / "list.json"}, size: null, split: [0.5, 0.17, 0.33]}}}}
patch_budget: [full, {{size: [16, 16], pos: 1, neg: 1, samples: 2}}]
""",
    )
    cases = store.cases("mixed")
    assert set(cases["patch"]) == {"full", "16x16"} or cases["patch"].nunique() == 2
    assert cases.groupby("job_key")["case_id"].count().tolist() == [2, 2]
    sizes = {c: int(cases[cases["case_id"] == c]["n_ref"].iloc[0]) for c in cases["case_id"]}
    expected = {
        f"c{k}": (h // 2 - h // 4) * (w // 2 - w // 4)
        for k, (h, w) in enumerate([(40, 36), (28, 44), (36, 36), (44, 30), (32, 40), (30, 30)])
    }
    assert all(sizes[c] == expected[c] for c in sizes)  # native-size labels, not resized


def test_real_example_suite_end_to_end(tmp_path: Path) -> None:
    """``suites/real_example.yaml`` on the files ``write_example`` makes (make test runs this)."""
    data = tmp_path / "data"
    write_example(data / "example")
    os.environ["SEGBENCH_DATA"] = str(data)
    try:
        text = os.path.expandvars((REPO / "suites" / "real_example.yaml").read_text())
    finally:
        del os.environ["SEGBENCH_DATA"]
    store = _run(tmp_path, text, "real_example")
    cases = store.cases("real_example")
    assert set(cases["perturbation"]) == {"none", "speckle", "blur_background", "site_B"}
    assert set(cases["dataset"]) == {"datalist", "nnunet"}
    # The datalist and its nnU-Net copy hold the same cases, so both test on the same ids.
    clean = cases[cases["perturbation"] == "none"]
    ids = clean.groupby("dataset")["case_id"].apply(lambda s: sorted(set(s))).to_dict()
    assert ids["datalist"] == ids["nnunet"]
    leaderboard = cases.groupby(["model", "perturbation"])["dice"].mean().unstack()
    print(leaderboard.round(3).to_string())
    from segbench.report.build import build_reports

    (built,) = build_reports(tmp_path / "results", tmp_path / "reports")
    page = built.index.read_text()
    assert "HD95 (px)" in page and "HD95 (mm)" not in page  # PNG files: distances in pixels
    assert "every real-data case row was scored at native resolution" in page
