"""Two-level (case, seed) bootstrap: against scipy, against a brute-force resample, and on the
issue-9 table where seeds disagree in sign."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bootstrap_oracles import pairwise_diff_cis
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from segbench.stats import (
    group_cis,
    hier_group_cis,
    hier_pairwise_diff_cis,
    hier_rank_stability,
    pair_differences,
    pairwise_wilcoxon,
    pool_cases,
    small_n_flag,
    two_level_means,
    variance_components,
    wilson_ci,
)


def seeded_table(case_values: dict[str, np.ndarray], seed_shift: dict[str, list[float]]) -> pd.DataFrame:
    """Long table: model m, seed j, case i has ``case_values[m][i] + seed_shift[m][j]``."""
    rows = []
    for m, vals in case_values.items():
        for j, shift in enumerate(seed_shift[m]):
            for i, v in enumerate(vals):
                rows.append(
                    {
                        "model": m,
                        "dataset": "d",
                        "complexity": 0.5,
                        "perturbation": "none",
                        "severity": 0,
                        "seed": j + 1,
                        "case_id": f"c{i:02d}",
                        "dice": v + shift,
                    }
                )
    return pd.DataFrame(rows)


def test_one_seed_matches_scipy_bca():
    x = np.random.default_rng(0).beta(8, 2, 40)
    df = seeded_table({"m": x}, {"m": [0.0]})
    ours = hier_group_cis(df, ["model"], n_resamples=9999, seed=1).iloc[0]
    ref = stats.bootstrap((x,), np.mean, n_resamples=9999, method="BCa", rng=np.random.default_rng(2))
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert ours["method"] == "BCa" and ours["n_cases"] == 40 and ours["n_seeds"] == 1
    assert ours["estimate"] == pytest.approx(x.mean())
    # two independent Monte Carlo runs of the same interval agree to a few % of its width
    assert ours["low"] == pytest.approx(ref.confidence_interval.low, abs=0.05 * width)
    assert ours["high"] == pytest.approx(ref.confidence_interval.high, abs=0.05 * width)


def test_two_level_means_equals_brute_force_resampling():
    rng = np.random.default_rng(3)
    y = rng.normal(size=(7, 3, 2))
    y[2, 1, 0] = np.nan
    theta = two_level_means(y, 50, np.random.default_rng(9))
    again = np.random.default_rng(9)  # same draws, in the same order: cases (50, 7), then seeds (50, 3)
    ci = again.integers(0, 7, size=(50, 7), dtype=np.int32)
    sj = again.integers(0, 3, size=(50, 3), dtype=np.int32)
    for b in range(50):
        sample = y[ci[b]][:, sj[b], :]  # drawn cases x drawn seeds
        np.testing.assert_allclose(theta[b], np.nanmean(sample, axis=(0, 1)), rtol=1e-12)


def test_seeds_that_disagree_in_sign():
    """Issue 9's pattern: a model pair whose difference flips sign with the seed."""
    rng = np.random.default_rng(11)
    n = 12
    case = rng.uniform(0.6, 0.9, n)  # image difficulty, shared by every model and seed
    df = seeded_table(
        {"noskip": case + rng.normal(0, 0.01, n), "unet": case + rng.normal(0, 0.01, n)},
        # No-Skip - U-Net is negative on every image for seeds 1-2 and positive for seeds 3-4
        {"noskip": [-0.05, -0.04, 0.04, 0.05], "unet": [0.0, 0.0, 0.0, 0.0]},
    )
    per_seed = df.pivot_table(index=["seed", "case_id"], columns="model", values="dice")
    diff = (per_seed["noskip"] - per_seed["unet"]).groupby(level="seed")
    assert (diff.max() < 0).sum() == 2 and (diff.min() > 0).sum() == 2

    test = pairwise_wilcoxon(df).iloc[0]
    assert test["n_pairs"] == n and test["n_cases"] == n and test["n_seeds"] == 4  # not 48 rows

    hier = hier_pairwise_diff_cis(df, ["dataset"], n_resamples=4000).iloc[0]
    rows = pairwise_diff_cis(df, family=["dataset"], n_resamples=4000).iloc[0]  # (seed, case) rows
    assert hier["diff_n"] == n and rows["diff_n"] == 4 * n
    assert hier["diff_high"] - hier["diff_low"] > 1.5 * (rows["diff_high"] - rows["diff_low"])

    mean_hier = hier_group_cis(df, ["model"], n_resamples=4000).set_index("model")
    mean_rows = group_cis(df, ["model"], n_resamples=4000).set_index("model")
    width = lambda t: t.loc["noskip", "high"] - t.loc["noskip", "low"]  # noqa: E731
    assert width(mean_hier) > width(mean_rows)
    assert mean_hier.loc["noskip", "n_cases"] == n and mean_hier.loc["noskip", "n_seeds"] == 4

    # the difference's variance: the seed explains most of it (the image difficulty cancels)
    diffs = pair_differences(df, ["dataset"])
    vc = variance_components(diffs, ["model"], n_resamples=500).iloc[0]
    assert vc["model"] == "noskip - unet" and vc["n_cases"] == n and vc["n_seeds"] == 4
    assert vc["share_seed"] > 0.8
    # four seeds leave the interval wide (a resample may draw only same-sign seeds), but it is there
    assert 0 < vc["share_seed_low"] <= vc["share_seed"] <= vc["share_seed_high"] <= 1
    # per model, U-Net's seeds explain almost nothing, No-Skip's a clear part
    per_model = variance_components(df, ["model"], n_resamples=0).set_index("model")
    assert per_model.loc["unet", "share_seed"] < 0.02 < 0.1 < per_model.loc["noskip", "share_seed"]


def test_pooled_ood_resamples_cases_not_conditions():
    rng = np.random.default_rng(2)
    frames = []
    for pert, sev in [("speckle", 1), ("speckle", 2), ("blur", 1)]:
        df = seeded_table({"m": rng.uniform(0.5, 0.9, 15)}, {"m": [0.0, 0.01]})
        frames.append(df.assign(perturbation=pert, severity=sev))
    ood = pd.concat(frames)
    pooled = hier_group_cis(pool_cases(ood, ["model", "dataset"]), ["model", "dataset"]).iloc[0]
    assert pooled["n_cases"] == 15  # 15 images, not 45 image x condition pairs
    assert pooled["estimate"] == pytest.approx(ood["dice"].mean())


def test_small_n_flags():
    assert small_n_flag(12, 3) == ""
    assert "n too small" in small_n_flag(7, 5)
    assert "no seed-level inference" in small_n_flag(12, 2)
    df = seeded_table({"m": np.linspace(0.5, 0.9, 5)}, {"m": [0.0, 0.02]})
    assert hier_group_cis(df, ["model"], n_resamples=200).iloc[0]["small_n"] == small_n_flag(5, 2)


def test_rank_stability_share_and_wilson():
    rng = np.random.default_rng(7)
    case = rng.uniform(0.5, 0.9, 20)
    df = seeded_table(
        {"a": case + 0.10, "b": case + 0.05 + rng.normal(0, 0.02, 20), "c": case + rng.normal(0, 0.02, 20)},
        {"a": [0, 0.01, -0.01], "b": [0, 0.005, 0], "c": [0.0, 0.0, 0.01]},
    )
    freq, tau = hier_rank_stability(df, by=["dataset"], n_resamples=2000)
    row = tau.iloc[0]
    assert row["n_cases"] == 20 and row["n_seeds"] == 3 and row["n_models"] == 3
    assert row["share_same_ranking"] > 0.9 and row["tau_median"] == 1.0
    same = round(row["share_same_ranking"] * 2000)
    lo, hi = proportion_confint(same, 2000, alpha=0.05, method="wilson")
    assert (row["share_low"], row["share_high"]) == pytest.approx((lo, hi), rel=1e-9)
    assert np.isfinite(row["tau_p05"])
    np.testing.assert_allclose(freq.groupby("model")["frequency"].sum(), 1.0)
    # below 2,000 resamples no quantile is reported (it jumps between atoms from run to run)
    assert np.isnan(hier_rank_stability(df, by=["dataset"], n_resamples=500)[1].iloc[0]["tau_p05"])


def test_wilson_matches_statsmodels():
    for k, n in [(0, 10), (95, 100), (1000, 1000), (37, 80)]:
        assert wilson_ci(k, n) == pytest.approx(proportion_confint(k, n, method="wilson"), rel=1e-9)


def test_median_difference_ci():
    rng = np.random.default_rng(1)
    case = rng.uniform(0.5, 0.9, 30)
    df = seeded_table({"a": case + 0.03, "b": case}, {"a": [0, 0.01, 0.0], "b": [0, 0, 0.01]})
    out = hier_pairwise_diff_cis(df, ["dataset"], n_resamples=1000, median=True).iloc[0]
    a = df[df["model"] == "a"].groupby("case_id")["dice"].mean()
    b = df[df["model"] == "b"].groupby("case_id")["dice"].mean()
    assert out["median_diff"] == pytest.approx(np.median(a - b))
    assert out["median_low"] <= out["median_diff"] <= out["median_high"]
    assert out["median_low"] > 0


def test_duplicate_case_seed_rows_are_refused():
    df = seeded_table({"m": np.linspace(0.5, 0.9, 4)}, {"m": [0.0]})
    with pytest.raises(ValueError, match=r"duplicate rows for \(case_id, seed\)=\('c00', 1\)"):
        hier_group_cis(pd.concat([df, df.head(1)]), ["model"], n_resamples=10)
