"""Bootstrap CIs: agreement with scipy's BCa, coverage by simulation, degenerate fallbacks, ranks."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from bootstrap_oracles import pairwise_diff_cis, rank_stability
from scipy import stats

from segbench.stats.bootstrap import (
    bootstrap_ci,
    bootstrap_means,
    group_cis,
    paired_diff_ci,
    percentile_or_bca,
    unpaired_diff_ci,
)


def test_vectorised_bca_matches_scipy_on_same_distribution():
    # scipy's own bootstrap distribution fed to our BCa formulas must give scipy's interval exactly:
    # checks z0 (ties count half), the closed-form jackknife acceleration and the quantile rule.
    rng = np.random.default_rng(0)
    for dist in (rng.beta(8, 1.5, 45), rng.exponential(1.0, 30), rng.normal(0, 1, 80)):
        res = stats.bootstrap((dist,), np.mean, n_resamples=4999, method="BCa", rng=1)
        est, low, high, method = percentile_or_bca(dist[:, None], res.bootstrap_distribution[:, None], 0.95)
        assert method[0] == "BCa"
        assert est[0] == pytest.approx(dist.mean())
        assert low[0] == pytest.approx(res.confidence_interval.low, rel=1e-10)
        assert high[0] == pytest.approx(res.confidence_interval.high, rel=1e-10)


def test_group_cis_agrees_with_bootstrap_ci():
    rng = np.random.default_rng(1)
    x = rng.beta(6, 1.2, 60)  # skewed towards 1, like Dice
    df = pd.DataFrame({"g": "x", "dice": x})
    row = group_cis(df, ["g"], n_resamples=9999, seed=0).iloc[0]
    ci = bootstrap_ci(x, n_resamples=9999, seed=0)
    width = ci.high - ci.low
    assert row["method"] == ci.method == "BCa"
    assert row["estimate"] == pytest.approx(ci.estimate)
    # different resamples, so agreement only up to Monte-Carlo error (~1% of the width at B=9999)
    assert abs(row["low"] - ci.low) < 0.05 * width
    assert abs(row["high"] - ci.high) < 0.05 * width


def test_bootstrap_means_exact_for_counts():
    # each resample mean must be the mean of some multiset of the data: check with a 0/1 indicator
    x = np.array([0.0, 0.0, 1.0, 0.0])
    theta = bootstrap_means(x, 500, np.random.default_rng(0))
    assert theta.shape == (500,)
    assert set(np.round(theta * 4).astype(int)) <= {0, 1, 2, 3, 4}
    assert theta.mean() == pytest.approx(0.25, abs=0.03)
    # shared indices across columns: column 2 = column 1 + 1 exactly in every resample
    xx = np.column_stack([np.arange(7.0), np.arange(7.0) + 1])
    tt = bootstrap_means(xx, 100, np.random.default_rng(0))
    np.testing.assert_allclose(tt[:, 1], tt[:, 0] + 1)


def test_coverage_bootstrap_ci():
    # 200 draws of n=40 from N(0.7, 0.1^2): the 95% CI should cover 0.7 in about 95% of draws.
    # With 200 draws the binomial SD of the coverage is ~1.5 pp; BCa at n=40 undercovers slightly.
    rng = np.random.default_rng(123)
    start = time.perf_counter()
    covered = 0
    for i in range(200):
        ci = bootstrap_ci(rng.normal(0.7, 0.1, 40), n_resamples=999, seed=i)
        covered += ci.low <= 0.7 <= ci.high
    assert 0.88 <= covered / 200 <= 0.99
    assert time.perf_counter() - start < 10


def test_coverage_group_cis():
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"g": np.repeat(np.arange(200), 40), "dice": rng.normal(0.7, 0.1, 200 * 40)})
    out = group_cis(df, ["g"], n_resamples=999, seed=3)
    coverage = ((out["low"] <= 0.7) & (out["high"] >= 0.7)).mean()
    assert 0.88 <= coverage <= 0.99
    assert (out["method"] == "BCa").all() and (out["n"] == 40).all()


@pytest.mark.parametrize(
    ("values", "method", "n", "estimate"),
    [
        ([0.9] * 12, "degenerate", 12, 0.9),
        ([1.0], "degenerate", 1, 1.0),
        ([], "degenerate", 0, math.nan),
        ([np.nan, np.nan], "degenerate", 0, math.nan),
        ([0.1] * 3 + [np.nan], "degenerate", 3, 0.1),
    ],
)
def test_degenerate_inputs(values, method, n, estimate):
    ci = bootstrap_ci(values, n_resamples=99)
    assert ci.method == method and ci.n == n
    np.testing.assert_equal([ci.estimate, ci.low, ci.high], [estimate] * 3)
    row = group_cis(
        pd.DataFrame({"g": 0, "dice": np.asarray(values, float)}).iloc[: len(values)], ["g"], n_resamples=99
    )
    if len(values):
        assert row["method"].iloc[0] == method and row["n"].iloc[0] == n
        np.testing.assert_allclose(row[["estimate", "low", "high"]].iloc[0].astype(float), [estimate] * 3)


def test_bca_nan_in_scipy_falls_back_to_percentile():
    # Dice piled at 1.0 with one failure and very few resamples: for some seeds every bootstrap mean
    # is above the estimate, scipy's z0 is infinite and its BCa interval is nan (DegenerateDataWarning).
    x = np.r_[np.ones(29), 0.2]
    hits = 0
    for seed in range(60):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = stats.bootstrap((x,), np.mean, n_resamples=3, method="BCa", rng=np.random.default_rng(seed))
        ci = bootstrap_ci(x, n_resamples=3, seed=seed)
        if np.isnan(ref.confidence_interval.low):
            hits += 1
            assert ci.method == "percentile"
            assert np.isfinite(ci.low) and np.isfinite(ci.high) and ci.low <= ci.high
    assert hits > 0  # the scenario really occurred


def test_vectorised_fallback_when_z0_infinite():
    x = np.r_[np.ones(29), 0.2][:, None]
    theta_b = np.full((50, 1), 1.0)  # every resample above the estimate: z0 = +inf
    _, low, high, method = percentile_or_bca(x, theta_b, 0.95)
    assert method[0] == "percentile"
    assert low[0] == high[0] == 1.0


def test_paired_and_unpaired_diff():
    rng = np.random.default_rng(4)
    a = rng.uniform(0.6, 0.9, 50)
    b = a - 0.05 + rng.normal(0, 0.01, 50)
    b[3] = np.nan
    ci = paired_diff_ci(a, b, n_resamples=1999, seed=0)
    assert ci.n == 49
    assert ci.estimate == pytest.approx(np.nanmean(a - b))
    assert 0.04 < ci.low < ci.estimate < ci.high < 0.06
    assert paired_diff_ci(a, b, n_resamples=1999, seed=0) == ci  # deterministic for a seed
    un = unpaired_diff_ci(a, b, n_resamples=1999, seed=0)
    assert un.estimate == pytest.approx(np.mean(a) - np.nanmean(b))
    assert un.high - un.low > 3 * (ci.high - ci.low)  # pairing removes the case-to-case variance
    with pytest.raises(ValueError, match="equal lengths"):
        paired_diff_ci(a, b[:-1])


def test_group_cis_keys_nan_and_independence():
    rng = np.random.default_rng(5)
    df = pd.DataFrame(
        {
            "model": np.repeat(["a", "b", "c"], 30),
            "complexity": np.repeat([np.nan, 0.5, np.nan], 30),
            "dice": rng.uniform(0, 1, 90),
        }
    )
    df.loc[5, "dice"] = np.nan
    out = group_cis(df, ["model", "complexity"], n_resamples=499, seed=1)
    assert list(out.columns) == ["model", "complexity", "estimate", "low", "high", "method", "n"]
    assert out["n"].tolist() == [29, 30, 30]
    assert out["complexity"].isna().tolist() == [True, False, True]
    # a group's CI depends only on its own values, size and the seed, not on the other groups
    alone = group_cis(df[df["model"] == "b"], ["model", "complexity"], n_resamples=499, seed=1)
    pd.testing.assert_frame_equal(out.iloc[[1]].reset_index(drop=True), alone)


def _rank_table(means: dict[str, float], n: int = 40, sd: float = 0.05, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 0.1, n)
    rows = [
        pd.DataFrame(
            {
                "model": m,
                "dataset": "d",
                "complexity": np.nan,
                "perturbation": "none",
                "severity": 0,
                "seed": 0,
                "case_id": [f"c{i}" for i in range(n)],
                "dice": mu + common + rng.normal(0, sd, n),
            }
        )
        for m, mu in means.items()
    ]
    return pd.concat(rows, ignore_index=True)


def test_rank_stability_frequencies_and_tau():
    df = _rank_table({"a": 0.9, "b": 0.7, "c": 0.5, "d": 0.69})
    freq, tau = rank_stability(df, n_resamples=300, seed=0)
    sums = freq.groupby("model")["frequency"].sum()
    np.testing.assert_allclose(sums, 1.0)
    assert set(freq["rank"]) == {1, 2, 3, 4}
    # a and c are far apart from the rest: always ranks 1 and 4
    top = freq[(freq["model"] == "a") & (freq["rank"] == 1)]["frequency"].item()
    bottom = freq[(freq["model"] == "c") & (freq["rank"] == 4)]["frequency"].item()
    assert top == 1.0 and bottom == 1.0
    # b and d are close: both orders occur
    b2 = freq[(freq["model"] == "b") & (freq["rank"] == 2)]["frequency"].item()
    assert 0.0 < b2 < 1.0
    t = tau.iloc[0]
    assert t["n_cases"] == 40 and t["n_models"] == 4
    assert 0.6 < t["tau_mean"] < 1.0 and t["tau_median"] <= 1.0
    assert 0.0 < t["share_same_ranking"] < 1.0


def test_rank_stability_direction_and_complete_cases():
    df = _rank_table({"a": 0.9, "b": 0.5})
    df.loc[(df["model"] == "b") & (df["case_id"] == "c0"), "dice"] = np.nan
    freq, tau = rank_stability(df, n_resamples=100, higher_is_better=False)
    assert tau["n_cases"].item() == 39  # the case with a NaN is dropped for every model
    assert freq.set_index(["model", "rank"]).loc[("b", 1), "frequency"] == 1.0
    assert tau["tau_mean"].item() == 1.0


def test_group_cis_with_nan_close_to_dropping_nan():
    # NaN cases are resampled and skipped per resample (ratio estimator); with few NaNs the interval
    # is close to the drop-NaN-first bootstrap of scipy, and the estimate is identical.
    rng = np.random.default_rng(8)
    x = rng.beta(5, 1.5, 80)
    x[rng.choice(80, 6, replace=False)] = np.nan
    row = group_cis(pd.DataFrame({"g": 1, "dice": x}), ["g"], n_resamples=9999, seed=2).iloc[0]
    ci = bootstrap_ci(x, n_resamples=9999, seed=2)
    assert row["n"] == ci.n == 74
    assert row["estimate"] == pytest.approx(np.nanmean(x))
    width = ci.high - ci.low
    assert abs(row["low"] - ci.low) < 0.1 * width and abs(row["high"] - ci.high) < 0.1 * width


def test_bootstrap_means_nan_ratio_and_paths_agree():
    # gather path (few columns) and bincount+matmul path (many columns) give the same means
    rng = np.random.default_rng(9)
    x = rng.uniform(0, 1, (25, 12))
    x[rng.random((25, 12)) < 0.2] = np.nan
    many = bootstrap_means(x, 300, np.random.default_rng(0))
    few = np.column_stack(
        [bootstrap_means(x[:, [j]], 300, np.random.default_rng(0))[:, 0] for j in range(12)]
    )
    np.testing.assert_allclose(many, few, rtol=1e-12)
    # a resample's mean is the mean of its non-NaN draws: check one column with a 0/1/NaN pattern
    col = np.array([1.0, np.nan, 0.0, 0.0])
    t = bootstrap_means(col, 2000, np.random.default_rng(1))
    assert np.nanmax(t) <= 1.0 and np.nanmin(t) >= 0.0
    assert np.isnan(t).mean() == pytest.approx(0.25**4, abs=0.01)  # all four draws hit the NaN case


def test_group_cis_all_nan_group():
    df = pd.DataFrame({"g": [0, 0, 1, 1, 1], "dice": [np.nan, np.nan, 0.2, 0.4, 0.9]})
    out = group_cis(df, ["g"], n_resamples=199)
    assert out["n"].tolist() == [0, 3]
    assert out.loc[0, "method"] == "degenerate" and np.isnan(out.loc[0, "estimate"])
    assert out.loc[1, "low"] <= out.loc[1, "estimate"] <= out.loc[1, "high"]


def test_pairwise_diff_cis_match_scipy_paired_bootstrap() -> None:
    """The vectorised family-wise CIs agree with scipy's paired bootstrap on each pair."""
    from segbench.stats import paired_diff_ci

    rng = np.random.default_rng(3)
    n = 40
    base = rng.uniform(0.5, 0.9, n)
    values = {"a": base + 0.05 + rng.normal(0, 0.03, n), "b": base, "c": base - 0.02 + rng.normal(0, 0.05, n)}
    values["c"][5] = np.nan  # a NaN drops that case from pairs with c only
    rows = [
        {
            "dataset": "d",
            "complexity": 0.5,
            "perturbation": "none",
            "severity": 0,
            "seed": 1,
            "case_id": f"c{i:02d}",
            "model": m,
            "dice": v[i],
        }
        for m, v in values.items()
        for i in range(n)
    ]
    out = pairwise_diff_cis(pd.DataFrame(rows), n_resamples=4999, seed=0).set_index(["model_a", "model_b"])
    assert list(out.index) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert out.loc[("a", "c"), "diff_n"] == n - 1 and out.loc[("a", "b"), "diff_n"] == n
    for a, b in out.index:
        keep = ~np.isnan(values[a] - values[b])
        ref = paired_diff_ci(values[a][keep], values[b][keep], n_resamples=4999, seed=1)
        row = out.loc[(a, b)]
        assert row["diff"] == pytest.approx(ref.estimate)
        width = ref.high - ref.low
        assert abs(row["diff_low"] - ref.low) < 0.15 * width
        assert abs(row["diff_high"] - ref.high) < 0.15 * width
    assert out.loc[("a", "b"), "diff_low"] > 0  # a is clearly better than b
