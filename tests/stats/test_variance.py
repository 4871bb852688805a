"""ANOVA variance components against statsmodels' MixedLM (REML, crossed case and seed effects)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segbench.stats import anova_components, variance_components


def _crossed(n: int = 15, k: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 0.7 + rng.normal(0, 0.08, (n, 1)) + rng.normal(0, 0.04, (1, k)) + rng.normal(0, 0.02, (n, k))


def test_anova_equals_mixedlm_reml_on_balanced_data():
    sm = pytest.importorskip("statsmodels.formula.api")
    y = _crossed()
    n, k = y.shape
    long = pd.DataFrame(
        {"y": y.ravel(), "case": np.repeat(np.arange(n), k), "seed": np.tile(np.arange(k), n), "g": 1}
    )
    model = sm.mixedlm("y ~ 1", long, groups="g", vc_formula={"case": "0 + C(case)", "seed": "0 + C(seed)"})
    fit = model.fit(reml=True)
    vc = dict(zip(model.exog_vc.names, fit.vcomp, strict=True))
    ours = anova_components(y)
    assert ours["var_case"] == pytest.approx(vc["case"], rel=1e-3)
    assert ours["var_seed"] == pytest.approx(vc["seed"], rel=1e-3)
    assert ours["var_resid"] == pytest.approx(fit.scale, rel=1e-3)


def test_hand_computed_components():
    # 2 cases x 2 seeds: y = [[1, 3], [5, 7]]: case means 2, 6; seed means 3, 5; grand 4
    # SS_case = 2 * (4 + 4) = 16, SS_seed = 2 * (1 + 1) = 4, SS_total = 9 + 1 + 1 + 9 = 20, SS_res = 0
    c = anova_components(np.array([[1.0, 3.0], [5.0, 7.0]]))
    assert (c["ms_case"], c["ms_seed"], c["ms_resid"]) == (16.0, 4.0, 0.0)
    assert (c["var_case"], c["var_seed"], c["var_resid"]) == (8.0, 2.0, 0.0)


def test_variance_components_table_and_small_k():
    y = _crossed(n=12, k=3)
    rows = [{"model": "m", "seed": j, "case_id": i, "dice": y[i, j]} for i in range(12) for j in range(3)]
    out = variance_components(pd.DataFrame(rows), ["model"], n_resamples=300).iloc[0]
    assert out["n_cases"] == 12 and out["n_seeds"] == 3 and out["small_n"] == ""
    assert out[["share_case", "share_seed", "share_resid"]].sum() == pytest.approx(1.0)
    assert out["share_case_low"] <= out["share_case"] <= out["share_case_high"]
    two = pd.DataFrame([r for r in rows if r["seed"] < 2])
    out2 = variance_components(two, ["model"]).iloc[0]
    assert "no seed-level inference" in out2["small_n"] and np.isnan(out2["share_seed_low"])
    assert np.isfinite(out2["share_seed"])  # the point estimate is still shown


def test_seed_share_interval_covers_at_three_seeds() -> None:
    """Issue 19: at k = 3 the bootstrap share interval had lower bound 0 and far too low an upper bound;
    the chi-square interval covers the true share about as often as it says."""
    from segbench.stats.variance import seed_share_ci

    rng = np.random.default_rng(0)
    n, k, s_case, s_seed, s_res = 30, 3, 0.1, 0.05, 0.03
    truth = s_seed**2 / (s_case**2 + s_seed**2 + s_res**2)
    hits, lows = 0, []
    for _ in range(400):
        y = rng.normal(0, s_case, (n, 1)) + rng.normal(0, s_seed, (1, k)) + rng.normal(0, s_res, (n, k))
        lo, hi = seed_share_ci(anova_components(y), n, k)
        hits += lo <= truth <= hi
        lows.append(lo)
    assert 0.9 <= hits / 400 <= 0.99
    assert np.mean(np.array(lows) > 0) > 0.5  # not pinned at 0 in every row
