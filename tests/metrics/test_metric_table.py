"""The metric table drives the worker: every ``"mask"`` entry is computed, nothing else is."""

from __future__ import annotations

import numpy as np
import pytest

from segbench.cases import Case
from segbench.core import CASE_META_FIELDS, METRICS
from segbench.worker.evaluate import case_metrics, score_cases


def _case(meta: dict | None = None) -> Case:
    label = np.zeros((4, 4), np.uint8)
    label[1, 1] = 1
    return Case("c0", np.zeros((4, 4), np.float32), label, (1.0, 1.0), meta or {})


def test_case_metrics_returns_exactly_the_tables_mask_entries_with_hand_values() -> None:
    pred = np.zeros((4, 4), np.uint8)
    pred[1, 1] = pred[1, 2] = 1  # one hit, one false positive
    values = case_metrics(pred, _case())
    assert list(values) == [m.name for m in METRICS if m.source == "mask"]
    assert (values["tp"], values["fp"], values["fn"], values["n_ref"], values["n_pred"]) == (1, 1, 0, 1, 2)
    assert values["dice"] == pytest.approx(2 * 1 / (2 + 1))


def test_score_cases_fills_case_fields_from_the_table() -> None:
    case = _case({"complexity_kl": "1.5", "fbr": 0.25, "other": "kept in meta only"})
    (row,) = score_cases([case], [case.label], [{}], [{"entropy": 0.1}])
    assert {m.name for m in CASE_META_FIELDS} <= set(row.values)
    assert row.values["complexity_kl"] == 1.5 and row.values["fbr"] == 0.25
    assert row.values["complexity_jsd"] is None and "other" not in row.values
    assert row.values["dice"] == 1.0 and row.values["entropy"] == 0.1
