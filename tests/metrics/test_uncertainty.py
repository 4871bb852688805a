"""Per-case uncertainty against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from segbench.metrics.uncertainty import (
    binary_entropy,
    candidate_mask,
    case_uncertainty,
    member_variance,
    predictive_entropy,
)


def test_binary_entropy_hand_values() -> None:
    p = np.array([0.0, 0.5, 1.0, 0.25])
    h25 = -(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75))  # 0.811278...
    np.testing.assert_allclose(binary_entropy(p), [0.0, 1.0, 0.0, h25])


def test_entropy_averages_over_candidates_only() -> None:
    # 2 candidate voxels (0.5 and 0.25) among confident background (0.0, 0.01 < 0.05)
    prob = np.array([[0.5, 0.25], [0.0, 0.01]])
    expected = (1.0 + binary_entropy(np.array([0.25]))[0]) / 2
    assert predictive_entropy(prob) == pytest.approx(expected)
    # no candidate at all: the mean over every voxel (small: the model is confident)
    empty = np.array([0.0, 0.0, 0.01, 0.01])
    assert predictive_entropy(empty) == pytest.approx(binary_entropy(np.array([0.01]))[0] / 2)


def test_member_variance_hand_values() -> None:
    a = np.array([1.0, 0.0, 0.0])
    b = np.array([0.0, 0.0, 0.0])
    # voxel 0: members 1 and 0 -> variance 0.25; voxels 1-2 are no candidate
    assert member_variance([a, b]) == pytest.approx(0.25)
    assert member_variance([a, a]) == 0.0
    with pytest.raises(ValueError, match="at least two"):
        member_variance([a])
    with pytest.raises(ValueError, match="differ in shape"):
        member_variance([a, np.zeros(4)])


def test_case_uncertainty_fields() -> None:
    m1, m2 = np.array([0.9, 0.1, 0.0]), np.array([0.5, 0.3, 0.0])
    mean = (m1 + m2) / 2  # [0.7, 0.2, 0]
    out = case_uncertainty(mean, members=[m1, m2])
    cand = candidate_mask([mean, m1, m2])
    assert cand.tolist() == [True, True, False]
    assert out["entropy"] == pytest.approx(binary_entropy(np.array([0.7, 0.2])).mean())
    assert out["disagreement"] == pytest.approx((0.04 + 0.01) / 2)  # variances 0.2^2 and 0.1^2
    assert out["tta_variance"] is None
    single = case_uncertainty(m1)
    assert single["disagreement"] is None and single["entropy"] == pytest.approx(
        binary_entropy(np.array([0.9, 0.1])).mean()
    )
