"""Architecture-level paired effects: hand-computed intervals, own seeds per model, the k and n rules,
a collapsed seed, and multiplicity over the decision family."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from segbench.stats import architecture_effects, architecture_means, crossed_mean_ci, crossed_paired_ci


def table(models: dict[str, np.ndarray], conditions: tuple[str, ...] = ("none",)) -> pd.DataFrame:
    """Long table from per-model ``(n_cases, k)`` arrays, the same values in every condition."""
    rows = []
    for cond in conditions:
        for m, y in models.items():
            for c in range(y.shape[0]):
                for s in range(y.shape[1]):
                    rows.append(
                        {
                            "dataset": "d",
                            "complexity": np.nan,
                            "perturbation": cond,
                            "severity": 0,
                            "model": m,
                            "seed": s,
                            "case_id": f"c{c:02d}",
                            "dice": y[c, s],
                        }
                    )
    return pd.DataFrame(rows)


def hierarchical(
    rng: np.random.Generator, n: int, k: int, mu: float, case: np.ndarray, sd_seed: float
) -> np.ndarray:
    return mu + case[:, None] + rng.normal(0, sd_seed, k)[None, :] + rng.normal(0, 0.02, (n, k))


def test_paired_interval_is_the_hand_computed_satterthwaite_t_interval() -> None:
    rng = np.random.default_rng(1)
    case = rng.normal(0, 0.1, 20)
    a, b = hierarchical(rng, 20, 3, 0.7, case, 0.03), hierarchical(rng, 20, 4, 0.68, case, 0.03)
    r = crossed_paired_ci(a, b)
    d = a.mean(axis=1) - b.mean(axis=1)
    terms = [d.var(ddof=1) / 20, a.mean(axis=0).var(ddof=1) / 3, b.mean(axis=0).var(ddof=1) / 4]
    dfs = [19, 2, 3]
    se = np.sqrt(sum(terms))
    df = sum(terms) ** 2 / sum(t * t / f for t, f in zip(terms, dfs, strict=True))
    q = stats.t.ppf(0.975, df)
    assert r["effect"] == pytest.approx(d.mean())
    assert (r["k_a"], r["k_b"]) == (3, 4)  # each model keeps its own seeds: no padding to 4
    assert r["low"] == pytest.approx(d.mean() - q * se)
    assert r["high"] == pytest.approx(d.mean() + q * se)
    assert r["p"] == pytest.approx(2 * stats.t.sf(abs(d.mean()) / se, df))


def test_collapsed_seed_gives_no_architecture_claim_though_these_networks_differ() -> None:
    """One collapsed seed: every case is worse for these networks (Wilcoxon p tiny), but another
    three training runs could well reverse it, so no † may follow (issue 19, finding 1)."""
    rng = np.random.default_rng(2)
    case = rng.normal(0, 0.1, 40)
    a = hierarchical(rng, 40, 3, 0.62, case, 0.01)
    b = 0.62 + case[:, None] + np.array([0.0, 0.04, 0.0])[None, :] + rng.normal(0, 0.005, (40, 3))
    a[:, 0] = 0.13 + rng.normal(0, 0.02, 40)  # a collapsed network
    e = architecture_effects(table({"a": a, "b": b}))
    row = e.iloc[0]
    assert row["p"] < 1e-6  # these networks: clearly different
    assert row["effect"] < -0.1
    assert row["effect_low"] < 0 < row["effect_high"]
    assert not row["significant"]
    assert row["claim"] == "architecture"


def test_real_difference_with_modest_seed_variance_is_found() -> None:
    rng = np.random.default_rng(3)
    case = rng.normal(0, 0.1, 60)
    a = hierarchical(rng, 60, 5, 0.75, case, 0.005)
    b = hierarchical(rng, 60, 5, 0.65, case, 0.005)
    row = architecture_effects(table({"a": a, "b": b})).iloc[0]
    assert row["significant"]
    assert row["effect_low"] > 0


def test_k1_and_small_n_make_no_claim_and_say_why() -> None:
    rng = np.random.default_rng(4)
    case = rng.normal(0, 0.1, 30)
    models = {
        "ens": hierarchical(rng, 30, 1, 0.9, case, 0.0),  # a seed-pooled ensemble, far better
        "unet": hierarchical(rng, 30, 3, 0.6, case, 0.01),
    }
    e = architecture_effects(table(models))
    row = e.iloc[0]
    assert (row["k_a"], row["k_b"]) == (1, 3)
    assert row["claim"] == "none: k = 1 < 3 seeds (no architecture-level claim)" and not row["significant"]
    assert np.isnan(row["effect_low"]) and row["net_low"] > 0.25  # these networks: a clear lead
    small = architecture_effects(table({m: y[:8] for m, y in models.items()}))
    assert "n too small (8 cases < 10)" in small.iloc[0]["claim"] and not small.iloc[0]["significant"]
    means = architecture_means(table(models), by=["model"])
    assert means.set_index("model").loc["ens", "claim"].startswith("these networks only: k = 1")
    assert means.set_index("model").loc["unet", "claim"] == "architecture"


def test_decisions_are_controlled_over_the_whole_dataset_complexity_block() -> None:
    rng = np.random.default_rng(5)
    case = rng.normal(0, 0.1, 25)
    models = {m: hierarchical(rng, 25, 3, 0.7 + 0.01 * i, case, 0.01) for i, m in enumerate("abc")}
    e = architecture_effects(table(models, ("none", "blur", "noise")))
    assert len(e) == 9  # 3 pairs x 3 conditions: one family
    assert np.allclose(e["p_arch_adj"], multipletests(e["p_arch"], method="holm")[1])
    assert (e["significant"] == (e["p_arch_adj"] < 0.05)).all()
    per_condition = architecture_effects(
        table(models, ("none", "blur", "noise")), decision_family=CONDITION_ALL
    )
    assert (per_condition["p_arch_adj"] <= e["p_arch_adj"] + 1e-12).all()
    bh = architecture_effects(table(models, ("none", "blur", "noise")), control="fdr_bh")
    assert np.allclose(bh["p_arch_adj"], multipletests(e["p_arch"], method="fdr_bh")[1])
    with pytest.raises(ValueError, match="control must be"):
        architecture_effects(table(models), control="bonferroni")


CONDITION_ALL = ("dataset", "complexity", "perturbation", "severity")


def test_mean_interval_widens_with_seed_variance() -> None:
    rng = np.random.default_rng(6)
    case = rng.normal(0, 0.1, 30)
    calm = crossed_mean_ci(hierarchical(rng, 30, 3, 0.7, case, 0.001))
    noisy = crossed_mean_ci(hierarchical(rng, 30, 3, 0.7, case, 0.1))
    assert noisy["high"] - noisy["low"] > 3 * (calm["high"] - calm["low"])
    assert noisy["df"] < 5  # the seed term dominates: about k - 1 degrees of freedom


def test_k1_ensemble_is_ranked_by_its_dice_not_by_a_padding_nan() -> None:
    """Issue 19: an ensemble 0.10 better on every case was ranked last in (1 - 1/k)^k of resamples."""
    from segbench.stats import hier_pairwise_diff_cis, hier_rank_stability
    from segbench.stats.claims import rank_intervals

    rng = np.random.default_rng(7)
    case = rng.normal(0, 0.1, 30)
    unet = hierarchical(rng, 30, 3, 0.6, case, 0.01)
    df = table({"ens": unet.mean(axis=1, keepdims=True) + 0.1, "unet": unet, "other": unet - 0.01})
    freq, _ = hier_rank_stability(df, by=["dataset"], n_resamples=500)
    first = freq[(freq["model"] == "ens") & (freq["rank"] == 1)]["frequency"].iloc[0]
    assert first == 1.0
    ranks = rank_intervals(df, ["dataset"], n_resamples=500).set_index("model")
    assert (ranks.loc["ens", "rank_low"], ranks.loc["ens", "rank_high"]) == (1, 1)
    diff = hier_pairwise_diff_cis(df, ["dataset"], n_resamples=500).set_index(["model_a", "model_b"])
    row = diff.loc[("ens", "unet")]
    assert 0.07 < row["diff_low"] < 0.1 < row["diff_high"] < 0.13  # own seeds, no forced first seed
