"""Friedman + Nemenyi against Demšar (2006)'s worked example and scikit-posthocs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from segbench.stats import cd_cliques, critical_difference, friedman_nemenyi, friedman_tables

# Demšar (2006), JMLR 7, Table 6: AUC of four C4.5 variants on 14 data sets, with the paper's ranks.
# The paper ranks unrounded values; where its three-decimal values tie but its ranks do not (voting),
# the last digit is nudged so the values give the paper's ranks.
MODELS = ["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"]
DEMSAR = [
    ("adult (sample)", (0.763, 0.768, 0.771, 0.798), (4, 3, 2, 1)),
    ("breast cancer", (0.599, 0.591, 0.590, 0.569), (1, 2, 3, 4)),
    ("breast cancer wisconsin", (0.954, 0.971, 0.968, 0.967), (4, 1, 2, 3)),
    ("cmc", (0.628, 0.661, 0.654, 0.657), (4, 1, 3, 2)),
    ("ionosphere", (0.882, 0.888, 0.886, 0.898), (4, 2, 3, 1)),
    ("iris", (0.936, 0.931, 0.916, 0.931), (1, 2.5, 4, 2.5)),
    ("liver disorders", (0.661, 0.668, 0.609, 0.685), (3, 2, 4, 1)),
    ("lung cancer", (0.583, 0.583, 0.563, 0.625), (2.5, 2.5, 4, 1)),
    ("lymphography", (0.775, 0.838, 0.866, 0.875), (4, 3, 2, 1)),
    ("mushroom", (1.000, 1.000, 1.000, 1.000), (2.5, 2.5, 2.5, 2.5)),
    ("primary tumor", (0.940, 0.962, 0.965, 0.962), (4, 2.5, 1, 2.5)),
    ("rheum", (0.619, 0.666, 0.614, 0.669), (3, 2, 4, 1)),
    ("voting", (0.972, 0.981, 0.9752, 0.9748), (4, 1, 2, 3)),
    ("wine", (0.957, 0.978, 0.946, 0.970), (3, 1, 4, 2)),
]


def demsar_scores() -> pd.DataFrame:
    return pd.DataFrame([v for _, v, _ in DEMSAR], columns=MODELS, index=[n for n, _, _ in DEMSAR])


def test_demsar_ranks_statistics_and_cd():
    scores = demsar_scores()
    paper_ranks = np.array([r for _, _, r in DEMSAR], dtype=float)
    np.testing.assert_array_equal(stats.rankdata(-scores.to_numpy(), axis=1), paper_ranks)
    res = friedman_nemenyi(scores)
    # the paper: average ranks 3.143, 2.000, 2.893, 1.964; chi2_F = 9.28 (no tie correction); F_F = 3.69;
    # CD = 1.25. With the tie correction (5 of 14 data sets have ties) chi2 is scipy's 10.23.
    np.testing.assert_allclose([res["avg_ranks"][m] for m in MODELS], [3.143, 2.000, 2.893, 1.964], atol=5e-4)
    scipy_chi2 = stats.friedmanchisquare(*[-scores[m] for m in MODELS]).statistic
    assert res["chi2"] == pytest.approx(scipy_chi2, rel=1e-12) and res["chi2"] == pytest.approx(
        10.23, abs=0.01
    )
    assert res["ff"] == pytest.approx(13 * scipy_chi2 / (14 * 3 - scipy_chi2))
    assert res["cd"] == pytest.approx(1.25, abs=0.005)
    assert res["p_value"] < 0.05 and res["testable"]  # F(3, 39) critical value 2.85 < 3.69
    # "the post-hoc test is not powerful enough to detect any significant differences": every
    # pair differs by less than the CD, so one clique holds all four models
    assert all(p > 0.05 for p in res["nemenyi"].values())
    assert cd_cliques(res["avg_ranks"], res["cd"]) == [["C4.5+m+cf", "C4.5+m", "C4.5+cf", "C4.5"]]


def test_nemenyi_matches_scikit_posthocs():
    sp = pytest.importorskip("scikit_posthocs")
    rng = np.random.default_rng(0)
    scores = pd.DataFrame(rng.normal(size=(25, 5)) + np.arange(5) * 0.4, columns=list("abcde"))
    res = friedman_nemenyi(scores)
    ref = sp.posthoc_nemenyi_friedman(scores.to_numpy())
    for i, a in enumerate("abcde"):
        for j, b in enumerate("abcde"):
            if i < j:
                assert res["nemenyi"][(a, b)] == pytest.approx(ref.iloc[i, j], rel=1e-6, abs=1e-9)


def test_chi2_matches_scipy_without_ties():
    rng = np.random.default_rng(1)
    scores = pd.DataFrame(rng.normal(size=(12, 4)), columns=list("abcd"))
    res = friedman_nemenyi(scores)
    assert res["chi2"] == pytest.approx(stats.friedmanchisquare(*scores.to_numpy().T).statistic)


def test_cliques_and_small_inputs():
    assert critical_difference(4, 14) == pytest.approx(2.569 * np.sqrt(20 / 84), abs=1e-3)
    assert cd_cliques({"a": 1.0, "b": 1.5, "c": 3.0, "d": 3.2}, 1.0) == [["a", "b"], ["c", "d"]]
    assert not friedman_nemenyi(pd.DataFrame({"a": [1.0, 2.0], "b": [2.0, 1.0]}))["testable"]


def test_friedman_tables_average_seeds_per_case():
    rng = np.random.default_rng(2)
    rows = []
    for m, shift in [("a", 0.1), ("b", 0.05), ("c", 0.0)]:
        for seed in (1, 2):
            for i in range(10):
                rows.append(
                    {
                        "model": m,
                        "dataset": "d",
                        "seed": seed,
                        "case_id": i,
                        "dice": 0.5 + shift + rng.normal(0, 0.01),
                    }
                )
    fr, ranks = friedman_tables(pd.DataFrame(rows), ["dataset"])
    assert fr.iloc[0]["n_cases"] == 10 and fr.iloc[0]["n_seeds"] == 2 and fr.iloc[0]["testable"]
    assert ranks.set_index("model")["avg_rank"].to_dict() == {"a": 1.0, "b": 2.0, "c": 3.0}
