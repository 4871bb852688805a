"""Failure detection: Spearman, AUROC and AURC against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segbench.stats.failure_detection import (
    aurc,
    failure_auroc,
    failure_detection_table,
    rankdata,
    risk_coverage,
    spearman,
)


def test_rankdata_average_ties() -> None:
    assert rankdata([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]


def test_spearman_hand_values() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks x = 1,2,3,4 ; y = 1,3,2,4 -> d = 0,1,1,0 -> rho = 1 - 6*2/(4*15) = 0.8
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_auroc_hand_values() -> None:
    # failed cases have uncertainty 0.9 and 0.4; successes 0.5, 0.1, 0.4.
    # pairs (fail > ok): 0.9 beats all 3; 0.4 beats 0.1, ties 0.4 (1/2), loses to 0.5 -> (3 + 1.5) / 6
    u = [0.9, 0.4, 0.5, 0.1, 0.4]
    failed = [True, True, False, False, False]
    assert failure_auroc(u, failed) == pytest.approx(4.5 / 6)
    assert failure_auroc([0.1, 0.2], [False, True]) == 1.0
    assert np.isnan(failure_auroc([0.1, 0.2], [False, False]))


def test_risk_coverage_and_aurc_hand_values() -> None:
    u = [0.1, 0.2, 0.3]
    risk = [0.0, 1.0, 0.5]
    coverage, selective = risk_coverage(u, risk)
    np.testing.assert_allclose(coverage, [1 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(selective, [0.0, 0.5, 0.5])
    assert aurc(u, risk) == pytest.approx(1.0 / 3)
    # a tie between the two last cases: expected risk over both orders at coverage 2/3 is
    # (0 + (1 + 0.5)/2) / 2 = 0.375, at full coverage 0.5 -> AURC = (0 + 0.375 + 0.5) / 3
    assert aurc([0.1, 0.3, 0.3], risk) == pytest.approx(0.875 / 3)
    assert aurc([0.1, 0.3, 0.3], risk) == aurc([0.1, 0.3, 0.3], [0.0, 0.5, 1.0])  # row order irrelevant


def test_table_per_model_with_case_bootstrap() -> None:
    dice = [0.9, 0.8, 0.2, 0.7, 0.1, 0.95]
    entropy = [0.1, 0.2, 0.8, 0.3, 0.9, 0.05]  # a model that knows: monotone in Dice
    rows = pd.DataFrame(
        {
            "model": "a",
            "perturbation": "none",
            "case_id": [f"c{i}" for i in range(6)],
            "dice": dice,
            "entropy": entropy,
        }
    )
    table = failure_detection_table(rows, ["model", "perturbation"], n_resamples=200)
    row = table.iloc[0]
    assert row["n"] == 6 and row["n_failed"] == 2
    assert row["spearman"] == pytest.approx(-1.0)
    assert row["auroc"] == 1.0
    assert row["aurc"] == pytest.approx(row["aurc_oracle"])  # perfect ordering reaches the oracle
    assert row["aurc_random"] == pytest.approx(np.mean(1 - np.array(dice)))
    assert row["auroc_low"] <= row["auroc"] <= row["auroc_high"]
    missing = failure_detection_table(rows.drop(columns="entropy"), ["model"])
    assert missing.empty


def test_weighted_scores_equal_the_scalar_scores_on_expanded_tables() -> None:
    from segbench.stats.failure_detection import weighted_scores

    rng = np.random.default_rng(3)
    u = np.round(rng.random(12), 1)  # coarse: many ties
    dice = np.round(rng.random(12), 1)
    weights = rng.integers(0, 3, (20, 12))
    weights[0] = 1
    got = weighted_scores(u, dice, weights)
    for b in range(len(weights)):
        uu, dd = np.repeat(u, weights[b]), np.repeat(dice, weights[b])
        expected = {
            "spearman": spearman(uu, dd),
            "auroc": failure_auroc(uu, dd < 0.5),
            "aurc": aurc(uu, 1 - dd),
        }
        for name, value in expected.items():
            np.testing.assert_allclose(got[name][b], value, rtol=1e-12, atol=1e-12, err_msg=f"{name} b={b}")
