"""Paired Wilcoxon + Holm against p-values enumerated or counted by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from segbench.stats.paired import holm, pairwise_wilcoxon, significantly_worse_than_best


def exact_wilcoxon_p(d: np.ndarray) -> float:
    """Two-sided exact p by enumerating all 2^n sign assignments of the ranks (no ties, no zeros)."""
    ranks = stats.rankdata(np.abs(d))
    n = len(d)
    centre = n * (n + 1) / 4
    t_obs = ranks[d > 0].sum()
    extreme = 0
    for signs in itertools.product((0, 1), repeat=n):
        t = float(np.dot(signs, ranks))
        extreme += abs(t - centre) >= abs(t_obs - centre) - 1e-9
    return extreme / 2**n


def holm_by_hand(p: list[float]) -> list[float]:
    """Holm from the definition: sort ascending, multiply the i-th (0-based) by (m - i), running max, clip."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p[i])
        out[i] = min(1.0, running)
    return out


# (differences a - b, expected exact two-sided p, where it came from)
EXACT_CASES = [
    # ranks of |d|: the two negatives have ranks 1, 2 -> R- = 3, n = 8. Subsets of {1..8} with sum <= 3:
    # {}, {1}, {2}, {3}, {1,2} = 5 of 256, two-sided p = 2 * 5 / 256.
    ([0.5, -0.1, 0.3, 0.8, 0.25, -0.05, 0.6, 0.45], 10 / 256),
    # all six positive: R- = 0, only {} -> p = 2 * 1 / 64.
    ([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 2 / 64),
    # smallest one negative: R- = 1, subsets {}, {1} -> p = 2 * 2 / 64.
    ([-0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 4 / 64),
    # n = 7, negatives at ranks 2, 3: R- = 5; subsets with sum <= 5: {}, {1}..{5}, {1,2}, {1,3}, {1,4},
    # {2,3} = 10 of 128 -> p = 20 / 128.
    ([0.11, -0.22, -0.33, 0.44, 0.55, 0.66, 0.77], 20 / 128),
]


@pytest.mark.parametrize(("d", "expected"), EXACT_CASES)
def test_exact_p_values(make_long, d, expected):
    d = np.asarray(d)
    b = np.full(d.size, 0.3)
    out = pairwise_wilcoxon(make_long({"a": b + d, "b": b}))
    assert len(out) == 1
    row = out.iloc[0]
    assert bool(row["testable"]) and row["reason"] == ""
    assert row["n_pairs"] == d.size
    assert row["p_value"] == pytest.approx(expected, rel=1e-9)
    assert row["p_value"] == pytest.approx(exact_wilcoxon_p(d), rel=1e-9)  # enumeration, same number
    assert row["p_holm"] == pytest.approx(expected, rel=1e-9)  # one test in the family: unchanged
    assert row["median_diff"] == pytest.approx(np.median(d))


def test_statistic_and_rank_biserial_by_hand(make_long):
    d = np.array(EXACT_CASES[0][0])
    row = pairwise_wilcoxon(make_long({"a": 0.3 + d, "b": np.full(8, 0.3)})).iloc[0]
    # R+ = 36 - 3 = 33, R- = 3: statistic = min = 3; rank-biserial = (33 - 3) / 36
    assert row["statistic"] == 3.0
    assert row["rank_biserial"] == pytest.approx(30 / 36)


def test_large_n_normal_approximation(make_long):
    rng = np.random.default_rng(0)
    d = rng.normal(0.02, 0.1, 60)
    row = pairwise_wilcoxon(make_long({"a": 0.5 + d, "b": np.full(60, 0.5)})).iloc[0]
    # hand formula: T+ ~ N(n(n+1)/4, n(n+1)(2n+1)/24) with continuity correction (|T+ - mean| - 1/2)
    n = 60
    r = stats.rankdata(np.abs(d))
    z = (abs(r[d > 0].sum() - n * (n + 1) / 4) - 0.5) / math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(z), rel=1e-6)
    assert row["p_method"] == "normal approx., continuity-corrected"


def test_holm_within_each_family(make_long):
    rng = np.random.default_rng(1)
    base = rng.uniform(0.5, 0.9, 12)
    vals = {
        m: np.clip(base + shift + rng.normal(0, 0.05, 12), 0, 1)
        for m, shift in [("a", 0.0), ("b", -0.03), ("c", -0.08), ("d", 0.01)]
    }
    df = pd.concat(
        [
            make_long(vals, perturbation="none", severity=0),
            make_long(
                {m: v - 0.1 * (i % 2) for i, (m, v) in enumerate(vals.items())},
                perturbation="speckle",
                severity=1,
            ),
        ]
    )
    out = pairwise_wilcoxon(df)
    assert len(out) == 2 * 6  # 4 models -> 6 pairs, two families
    for _, fam in out.groupby("perturbation"):
        assert fam["testable"].all()
        expected = holm_by_hand(fam["p_value"].tolist())  # m = 6 per family, not 12
        np.testing.assert_allclose(fam["p_holm"], expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        # hand: sorted 0.01, 0.03, 0.04 -> 3*0.01 = 0.03, 2*0.03 = 0.06, 1*0.04 = 0.04 -> running max 0.06
        ([0.01, 0.04, 0.03], [0.03, 0.06, 0.06]),
        # hand: 4*0.2 = 0.8, 3*0.3 = 0.9, 2*0.5 = 1.0, 1*0.6 -> running max 1.0; clipped at 1
        ([0.5, 0.2, 0.6, 0.3], [1.0, 0.8, 1.0, 0.9]),
        ([0.04], [0.04]),
        # ties keep their order: 2*0.02 = 0.04 twice
        ([0.02, 0.02], [0.04, 0.04]),
    ],
)
def test_holm_fixed_numbers_by_hand(p, expected):
    assert holm(p).tolist() == pytest.approx(expected)
    assert holm_by_hand(p) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        # Hand: sorted 0.01..0.05 times m - i = 5, 4, 3, 2, 1 -> 0.05, 0.08, 0.09, 0.08, 0.05; running max
        # 0.05, 0.08, 0.09, 0.09, 0.09.  Holm-Sidak (statsmodels' default) gives 1 - 0.99**5 = 0.049 for
        # the first, Hochberg's step-up 0.05 for all five: either slip would fail here.
        ([0.01, 0.02, 0.03, 0.04, 0.05], [0.05, 0.08, 0.09, 0.09, 0.09]),
        # Hand, unsorted input: sorted 0.001, 0.004, 0.012, 0.05, 0.2, 0.3 times 6..1 -> 0.006, 0.02,
        # 0.048, 0.15, 0.4, 0.3 -> running max ... 0.4, 0.4; returned in input order.
        ([0.3, 0.001, 0.2, 0.004, 0.012, 0.05], [0.4, 0.006, 0.4, 0.02, 0.048, 0.15]),
    ],
)
def test_holm_is_step_down_holm_not_sidak_or_hochberg(p, expected):
    """Replaces a comparison with ``multipletests(method="holm")``, which ``holm()`` itself calls."""
    np.testing.assert_allclose(holm(p), expected, rtol=1e-12)


def test_untestable_pairs_excluded_from_holm(make_long):
    rng = np.random.default_rng(2)
    a = rng.uniform(0.4, 0.9, 10)
    df = make_long({"a": a, "b": a - 0.05 - rng.uniform(0, 0.02, 10), "c": a + rng.normal(0, 0.05, 10)})
    df = pd.concat([df, make_long({"e": a[:4]})])  # only 4 cases: untestable against everyone
    out = pairwise_wilcoxon(df).set_index(["model_a", "model_b"])
    untestable = out[~out["testable"]]
    assert set(untestable.index) == {("a", "e"), ("b", "e"), ("c", "e")}
    assert (untestable["reason"] == "fewer than 6 paired cases").all()
    assert untestable["p_value"].isna().all() and untestable["p_holm"].isna().all()
    ok = out[out["testable"]]
    np.testing.assert_allclose(ok["p_holm"], holm_by_hand(ok["p_value"].tolist()))  # m = 3, not 6


@pytest.mark.parametrize(
    ("a", "b", "n_pairs", "reason"),
    [
        ([0.5] * 8, [0.5] * 8, 8, "all differences zero"),
        ([0.5, 0.6, 0.7, 0.8, 0.9], [0.4] * 5, 5, "fewer than 6 paired cases"),
        # NaN (both masks empty) drops the pair: 7 cases -> 5 pairs
        (
            [0.5, np.nan, 0.7, 0.8, 0.9, 0.6, 0.2],
            [0.4, 0.3, np.nan, 0.1, 0.2, 0.3, 0.1],
            5,
            "fewer than 6 paired cases",
        ),
    ],
)
def test_untestable_reasons(make_long, a, b, n_pairs, reason):
    row = pairwise_wilcoxon(make_long({"a": a, "b": b})).iloc[0]
    assert not row["testable"]
    assert row["n_pairs"] == n_pairs
    assert row["reason"] == reason
    assert math.isnan(row["p_value"]) and math.isnan(row["p_holm"])


def test_no_common_cases(make_long):
    a = make_long({"a": np.linspace(0.1, 0.9, 8)})
    b = make_long({"b": np.linspace(0.1, 0.9, 8)}, seed=1)
    # the case is the unit: the same images under other seeds still pair (seeds are averaged) ...
    row = pairwise_wilcoxon(pd.concat([a, b])).iloc[0]
    assert row["n_pairs"] == 8 and row["n_cases"] == 8 and row["n_seeds"] == 1
    # ... but pairing on (seed, case_id), the pseudo-replicated design, finds no common rows
    row = pairwise_wilcoxon(pd.concat([a, b]), average_seeds=False).iloc[0]
    assert row["n_pairs"] == 0 and not row["testable"]
    assert row["reason"].startswith("no paired cases")


def test_pairing_ignores_row_order(make_long):
    d = np.array(EXACT_CASES[0][0])
    df = make_long({"a": 0.3 + d, "b": np.full(8, 0.3)})
    shuffled = df.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(pairwise_wilcoxon(df), pairwise_wilcoxon(shuffled))


@pytest.mark.parametrize("zero_method", ["wilcox", "pratt", "zsplit"])
def test_zero_method_passed_through(make_long, zero_method):
    d = np.array([0.0, 0.0, 0.1, 0.2, -0.05, 0.3, 0.4, 0.15, 0.25])
    row = pairwise_wilcoxon(make_long({"a": 0.5 + d, "b": np.full(9, 0.5)}), zero_method=zero_method).iloc[0]
    exp = stats.wilcoxon((0.5 + d) - 0.5, zero_method=zero_method)
    assert row["zero_method"] == zero_method
    assert row["p_value"] == pytest.approx(exp.pvalue)


def test_bad_zero_method_and_duplicates(make_long):
    df = make_long({"a": [0.1] * 6, "b": [0.2] * 6})
    with pytest.raises(ValueError, match="zero_method"):
        pairwise_wilcoxon(df, zero_method="nope")
    with pytest.raises(ValueError, match="duplicate"):
        pairwise_wilcoxon(pd.concat([df, df]))


def test_significantly_worse_than_best(make_long):
    rng = np.random.default_rng(3)
    base = rng.uniform(0.6, 0.9, 30)
    vals = {
        "best": base,
        "close": base - rng.normal(0.0, 0.01, 30),  # indistinguishable
        "worse": base - 0.1 + rng.normal(0, 0.01, 30),  # clearly worse
    }
    df = make_long(vals)
    tests = pairwise_wilcoxon(df)
    out = significantly_worse_than_best(df, tests).set_index("model")
    best = out.index[out["is_best"]].tolist()
    assert best in (["best"], ["close"])
    assert out.loc["worse", "significantly_worse"]
    assert not out.loc["close", "significantly_worse"] and not out.loc["best", "significantly_worse"]
    assert (out["best_model"] == best[0]).all()
    # lower-is-better metric: the "worse" model (smallest values) becomes best
    rev = significantly_worse_than_best(df, tests, higher_is_better=False).set_index("model")
    assert rev.loc["worse", "is_best"]
    assert rev.loc["best", "significantly_worse"]


# Hollander & Wolfe (1999), Nonparametric Statistical Methods, 2nd ed., Example 3.1 (Hamilton
# depression scale, factor IV, first vs second visit of 9 patients); the same data are R's
# `wilcox.test(x, y, paired = TRUE)` example: V = 40, one-sided p = 0.01953 -> two-sided 0.0390625.
HW_X = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
HW_Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]


def test_published_wilcoxon_example_exact_p(make_long):
    row = pairwise_wilcoxon(make_long({"x": HW_X, "y": HW_Y})).iloc[0]
    assert row["p_method"] == "exact"
    assert row["p_value"] == pytest.approx(0.0390625, abs=1e-12)  # 2 * 10 / 2^9
    assert row["statistic"] == 5.0  # R+ = 40 of 45 -> R- = 5


def _enumerated_p(ranks: np.ndarray, r_plus: float) -> float:
    """Brute force over all 2^n sign vectors: 2 * min(P(T <= t), P(T >= t))."""
    n = ranks.size
    signs = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(float)
    t = signs @ ranks
    return min(1.0, 2 * min(np.mean(t <= r_plus + 1e-9), np.mean(t >= r_plus - 1e-9)))


def test_ties_and_zeros_use_the_exact_permutation_distribution():
    from segbench.stats.paired import signed_rank_test

    # n = 16 non-zero differences with tied magnitudes plus two zeros (dropped by 'wilcox')
    d = np.array([0.1, 0.1, -0.1, 0.2, 0.2, 0.3, -0.3, 0.3, 0.4, 0.5, 0.5, -0.05, 0.6, 0.7, 0.7, 0.8, 0, 0])
    stat, p, method = signed_rank_test(d, "wilcox")
    nz = d[d != 0]
    ranks = stats.rankdata(np.abs(nz))
    r_plus = ranks[nz > 0].sum()
    assert method == "exact (ties/zeros, permutation)"
    assert stat == min(r_plus, ranks.sum() - r_plus)
    assert p == pytest.approx(_enumerated_p(ranks, r_plus), rel=1e-12)
    # scipy's permutation method enumerates all 2^n assignments when n_resamples >= 2^n (n = 11 here)
    small = d[:11]
    ref = stats.wilcoxon(small, method=stats.PermutationMethod(n_resamples=5000))
    assert signed_rank_test(small)[1] == pytest.approx(ref.pvalue, rel=1e-9)


def test_no_ties_matches_scipy_exact_up_to_50_pairs():
    from segbench.stats.paired import signed_rank_test

    d = np.random.default_rng(4).normal(0.1, 0.3, 40)
    stat, p, method = signed_rank_test(d)
    ref = stats.wilcoxon(d, method="exact")
    assert method == "exact"
    assert p == pytest.approx(ref.pvalue, rel=1e-9) and stat == ref.statistic


def test_seeds_are_averaged_per_case(make_long):
    rng = np.random.default_rng(5)
    base = rng.uniform(0.5, 0.9, 12)
    df = pd.concat(
        [make_long({"a": base + 0.05 + rng.normal(0, 0.01, 12), "b": base}, seed=s) for s in (1, 2, 3)]
    )
    row = pairwise_wilcoxon(df).iloc[0]
    assert row["n_pairs"] == 12 and row["n_cases"] == 12 and row["n_seeds"] == 3
    a = df[df["model"] == "a"].groupby("case_id")["dice"].mean()
    b = df[df["model"] == "b"].groupby("case_id")["dice"].mean()
    assert row["p_value"] == pytest.approx(stats.wilcoxon(a - b, method="exact").pvalue)


def test_dagger_never_contradicts_the_effect(make_long):
    # "better" beats "ref" on 11 of 12 cases by 0.02 but fails badly on one: its mean is lower, so
    # "ref" is the best-mean model, yet the rank test is significant in favour of "better".
    ref = np.full(12, 0.8)
    better = ref + 0.02
    better[0] = 0.1
    df = make_long({"better": better, "ref": ref})
    tests = pairwise_wilcoxon(df)
    assert tests.iloc[0]["p_holm"] < 0.05 and tests.iloc[0]["rank_biserial"] > 0
    out = significantly_worse_than_best(df, tests).set_index("model")
    assert out.loc["ref", "is_best"]
    assert out.loc["better", "mark"] == "mixed"
    assert not out.loc["better", "significantly_worse"]
    assert "not marked worse" in out.loc["better", "mark_note"]
    assert out.loc["better", "effect_vs_best"] < 0


def test_fast_normal_approximation_equals_scipy_with_ties_and_zeros():
    from segbench.stats.paired import signed_rank_test

    d = np.round(np.random.default_rng(8).normal(0.02, 0.1, 80), 2)  # rounding: ties and zeros
    assert np.any(d == 0) and np.unique(np.abs(d)).size < d.size
    stat, p, method = signed_rank_test(d)
    ref = stats.wilcoxon(d, zero_method="wilcox", correction=True, method="asymptotic")
    assert method == "normal approx., continuity-corrected"
    assert (stat, p) == pytest.approx((ref.statistic, ref.pvalue), rel=1e-10)
