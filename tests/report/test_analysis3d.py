"""The 3D FBR analysis on constructed cases: ranges pooled per configuration, inside/outside split."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from segbench.report.analysis3d import crop_fbr_ranges, fbr_split, has_3d_data, patch_cis, patch_label


def _job(model: str, seed: int, crops: list[float] | None, patch: list[int] | None = (8, 8, 8)) -> dict:
    info = {"crop_fbr": crops, "patch_size": list(patch) if patch else None}
    return {
        "model": model,
        "dataset": "spheres3d",
        "seed": seed,
        "status": "trained",
        "train_info": json.dumps(info),
    }


def _cases(model: str, fbr: list[float], dice: list[float], seeds=(1,), patch: str = "8x8x8") -> pd.DataFrame:
    rows = [
        {
            "model": model,
            "patch": patch,
            "dataset": "spheres3d",
            "complexity": np.nan,
            "perturbation": "none",
            "severity": 0,
            "test_complexity": np.nan,
            "seed": s,
            "case_id": f"c{i}",
            "fbr": f,
            "dice": d,
        }
        for s in seeds
        for i, (f, d) in enumerate(zip(fbr, dice, strict=True))
    ]
    return pd.DataFrame(rows)


def test_patch_label_matches_store_convention():
    assert patch_label(json.dumps({"patch_size": [32, 32, 16]})) == "32x32x16"
    assert patch_label({"patch_size": None}) == "full"
    assert patch_label(None) == "full"


def test_ranges_pool_over_seeds_and_skip_jobs_without_crops():
    jobs = pd.DataFrame(
        [
            _job("unet", 1, [0.10, 0.20]),
            _job("unet", 2, [0.05, 0.15]),  # pooled: 0.05..0.20
            _job("unetr", 1, []),  # no crops recorded -> no range
            {**_job("unet", 3, [0.9]), "status": "failed"},  # failed jobs never count
        ]
    )
    ranges = crop_fbr_ranges(jobs)
    assert ranges[["model", "patch", "n_jobs", "n_crops"]].values.tolist() == [["unet", "8x8x8", 2, 4]]
    assert ranges.loc[0, "crop_fbr_min"] == 0.05 and ranges.loc[0, "crop_fbr_max"] == 0.20


def test_split_drop_and_mann_whitney_on_constructed_cases():
    jobs = pd.DataFrame([_job("unet", 1, [0.1, 0.3])])
    fbr = [0.1, 0.2, 0.25, 0.3, 0.01, 0.02, 0.5, 0.6]  # 4 inside (bounds inclusive), 4 outside
    dice = [0.9, 0.8, 0.85, 0.95, 0.3, 0.4, 0.5, 0.2]
    row = fbr_split(_cases("unet", fbr, dice), crop_fbr_ranges(jobs)).iloc[0]
    assert row["status"] == "ok" and (row["n_inside"], row["n_outside"]) == (4, 4)
    assert row["dice_inside"] == pytest.approx(0.875) and row["dice_outside"] == pytest.approx(0.35)
    assert row["drop"] == pytest.approx(0.525)
    # independent reference: scipy on the two groups written out by hand
    ref = stats.mannwhitneyu([0.9, 0.8, 0.85, 0.95], [0.3, 0.4, 0.5, 0.2], alternative="two-sided")
    assert row["p_value"] == pytest.approx(ref.pvalue) and row["u_statistic"] == 16.0
    assert row["p_value"] == pytest.approx(2 / 70)  # exact: 1 of C(8,4)=70 orderings each side


def test_seeds_are_averaged_per_test_volume():
    jobs = pd.DataFrame([_job("unet", 1, [0.1, 0.3]), _job("unet", 2, [0.1, 0.3])])
    cases = _cases("unet", [0.2, 0.9], [0.8, 0.4], seeds=(1, 2))
    row = fbr_split(cases, crop_fbr_ranges(jobs)).iloc[0]
    assert (row["n_inside"], row["n_outside"]) == (1, 1)  # two volumes, not four rows


@pytest.mark.parametrize(
    ("fbr", "status"),
    [([0.15, 0.2, 0.25], "all inside"), ([0.5, 0.6, 0.7], "all outside"), ([np.nan] * 3, "no test FBR")],
)
def test_degenerate_splits_give_no_number(fbr, status):
    jobs = pd.DataFrame([_job("unet", 1, [0.1, 0.3])])
    row = fbr_split(_cases("unet", fbr, [0.8, 0.7, 0.9]), crop_fbr_ranges(jobs)).iloc[0]
    assert row["status"] == status
    assert np.isnan(row["drop"]) and np.isnan(row["p_value"])


def test_no_training_crops_is_stated():
    row = fbr_split(_cases("unet", [0.2], [0.8]), crop_fbr_ranges(pd.DataFrame([_job("unet", 1, [])]))).iloc[
        0
    ]
    assert row["status"] == "no training-crop FBR"


def test_patch_cis_orders_by_voxels_and_detects_3d():
    a = _cases("unet", [0.1] * 6, [0.5, 0.55, 0.6, 0.5, 0.52, 0.58], patch="32x32x32")
    b = _cases("unet", [0.1] * 6, [0.7, 0.75, 0.8, 0.7, 0.72, 0.78], patch="16x16x16")
    cis = patch_cis(pd.concat([a, b]), n_resamples=999)
    assert cis["patch"].tolist() == ["16x16x16", "32x32x32"]
    assert cis["estimate"].tolist() == pytest.approx([0.741666, 0.541666], abs=1e-5)
    assert (cis["low"] <= cis["estimate"]).all() and (cis["estimate"] <= cis["high"]).all()
    assert has_3d_data(a)
    full = a.assign(patch="full")
    assert not has_3d_data(full, pd.DataFrame([_job("unet", 1, [], None)]))
    assert has_3d_data(full, pd.DataFrame([_job("unet", 1, [0.1], None)]))
