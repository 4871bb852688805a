"""Robustness summaries against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segbench.stats.robustness import robustness_summary, seed_case_spread

# Condition means (constant per-case values, so every mean is exact). Two severities per perturbation.
#            ID     speckle s1  s2    blur s1  s2
MEANS = {
    "unet": (0.90, 0.80, 0.60, 0.85, 0.70),
    "noskip": (0.95, 0.90, 0.70, 0.75, 0.55),
}


def _table(models=MEANS, n_cases=4, datasets=("d",)):
    rows = []
    conds = [("none", 0), ("speckle", 1), ("speckle", 2), ("blur", 1), ("blur", 2)]
    for ds in datasets:
        for m, means in models.items():
            for (pert, sev), mu in zip(conds, means, strict=True):
                for seed in (0, 1):
                    rows.append(
                        pd.DataFrame(
                            {
                                "model": m,
                                "dataset": ds,
                                "complexity": np.nan,
                                "perturbation": pert,
                                "severity": sev,
                                "seed": seed,
                                "case_id": [f"c{i}" for i in range(n_cases)],
                                "dice": mu,
                            }
                        )
                    )
    return pd.concat(rows, ignore_index=True)


def test_drops_ce_mce_weighted_by_hand():
    s = robustness_summary(_table(), baseline_model="unet", alpha_weight=2 / 3)
    sev = s.by_severity.set_index(["model", "perturbation", "severity"])
    # noskip speckle s2: ID 0.95 - OOD 0.70 = 0.25; relative 0.25 / 0.95
    assert sev.loc[("noskip", "speckle", 2), "abs_drop"] == pytest.approx(0.25)
    assert sev.loc[("noskip", "speckle", 2), "rel_drop"] == pytest.approx(0.25 / 0.95)
    assert sev.loc[("noskip", "speckle", 2), "weight"] == pytest.approx(4 / 9)
    assert sev.loc[("noskip", "speckle", 2), "baseline_ood_mean"] == pytest.approx(0.60)

    pert = s.by_perturbation.set_index(["model", "perturbation"])
    # CE speckle: noskip errors 0.10 + 0.30 = 0.40, unet 0.20 + 0.40 = 0.60 -> 2/3
    # CE blur:    noskip errors 0.25 + 0.45 = 0.70, unet 0.15 + 0.30 = 0.45 -> 14/9
    assert pert.loc[("noskip", "speckle"), "ce"] == pytest.approx(2 / 3)
    assert pert.loc[("noskip", "blur"), "ce"] == pytest.approx(14 / 9)
    assert pert.loc[("unet", "speckle"), "ce"] == pytest.approx(1.0)  # baseline is 1 by definition
    assert pert.loc[("unet", "blur"), "ce"] == pytest.approx(1.0)
    # weighted drop, noskip speckle: drops 0.05 (w=2/3) and 0.25 (w=4/9) -> (2/3*.05 + 4/9*.25)/(10/9)
    expected = (2 / 3 * 0.05 + 4 / 9 * 0.25) / (10 / 9)
    assert pert.loc[("noskip", "speckle"), "weighted_drop"] == pytest.approx(expected)
    rel = (2 / 3 * 0.05 / 0.95 + 4 / 9 * 0.25 / 0.95) / (10 / 9)
    assert pert.loc[("noskip", "speckle"), "weighted_rel_drop"] == pytest.approx(rel)
    assert (pert["ce_reason"] == "").all()

    model = s.by_model.set_index("model")
    assert model.loc["noskip", "mce"] == pytest.approx((2 / 3 + 14 / 9) / 2)
    assert model.loc["unet", "mce"] == pytest.approx(1.0)
    assert model.loc["noskip", "n_perturbations"] == 2
    assert model.loc["noskip", "id_mean"] == pytest.approx(0.95)
    assert model.loc["noskip", "ood_mean"] == pytest.approx(np.mean([0.90, 0.70, 0.75, 0.55]))


def test_missing_baseline_gives_nan_with_reason():
    s = robustness_summary(_table(), baseline_model="attention_unet")
    assert s.by_perturbation["ce"].isna().all()
    assert s.by_perturbation["ce_reason"].str.contains("attention_unet").all()
    assert s.by_model["mce"].isna().all()
    assert s.by_model["mce_reason"].str.contains("has no results").all()
    assert s.by_model["mean_weighted_drop"].notna().all()  # other quantities still computed


def test_baseline_absent_in_one_dataset_only():
    t = pd.concat([_table(datasets=("d1",)), _table(models={"noskip": MEANS["noskip"]}, datasets=("d2",))])
    m = robustness_summary(t).by_model.set_index(["model", "dataset"])
    assert m.loc[("noskip", "d1"), "mce"] == pytest.approx((2 / 3 + 14 / 9) / 2)
    assert np.isnan(m.loc[("noskip", "d2"), "mce"])


def test_output_columns():
    s = robustness_summary(_table())
    assert list(s.by_severity.columns) == [
        "model",
        "dataset",
        "complexity",
        "perturbation",
        "severity",
        "id_mean",
        "ood_mean",
        "n_ood",
        "abs_drop",
        "rel_drop",
        "baseline_ood_mean",
        "weight",
    ]
    assert list(s.by_perturbation.columns) == [
        "model",
        "dataset",
        "complexity",
        "perturbation",
        "n_severities",
        "id_mean",
        "ood_mean",
        "ce",
        "ce_reason",
        "weighted_drop",
        "weighted_rel_drop",
    ]
    assert list(s.by_model.columns) == [
        "model",
        "dataset",
        "complexity",
        "id_mean",
        "ood_mean",
        "mce",
        "n_perturbations",
        "mce_reason",
        "mean_weighted_drop",
        "mean_weighted_rel_drop",
    ]
    with pytest.raises(ValueError, match="alpha_weight"):
        robustness_summary(_table(), alpha_weight=0.0)


def test_seed_case_spread_by_hand():
    df = pd.DataFrame(
        {
            "model": "m",
            "dataset": "d",
            "complexity": np.nan,
            "perturbation": "none",
            "severity": 0,
            "seed": [0, 0, 1, 1, 1],
            "case_id": ["a", "b", "a", "b", "c"],
            "dice": [0.8, 0.9, 0.6, 0.7, np.nan],
        }
    )
    row = seed_case_spread(df).iloc[0]
    # per-seed means 0.85 and 0.65 -> SD (ddof 1) = 0.2 / sqrt(2); within-seed variances 0.005 each
    # (n_s = 2, the NaN is dropped) -> pooled SD sqrt((0.005 + 0.005) / 2)
    assert row["n_seeds"] == 2 and row["n_cases"] == 4
    assert row["mean"] == pytest.approx(0.75)
    assert row["between_seed_sd"] == pytest.approx(0.2 / np.sqrt(2))
    assert row["within_seed_case_sd"] == pytest.approx(np.sqrt(0.005))
    assert (row["seed_mean_min"], row["seed_mean_max"]) == pytest.approx((0.65, 0.85))


def test_seed_case_spread_single_seed():
    df = pd.DataFrame(
        {
            "model": "m",
            "dataset": "d",
            "complexity": 1.0,
            "perturbation": "none",
            "severity": 0,
            "seed": 0,
            "case_id": ["a", "b"],
            "dice": [0.5, 0.7],
        }
    )
    row = seed_case_spread(df).iloc[0]
    assert np.isnan(row["between_seed_sd"])
    assert row["within_seed_case_sd"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
