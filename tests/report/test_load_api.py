"""``segbench.load``: the same rows as the report's ``cases.csv``, typed, plus suites and jobs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import segbench
from segbench.report.build import build_reports

pytestmark = pytest.mark.slow


def test_load_returns_the_rows_of_cases_csv_typed(ci_results: Path, tmp_path: Path) -> None:
    (report,) = build_reports(ci_results, tmp_path / "reports")
    csv = pd.read_csv(report.index.parent / "cases.csv")
    res = segbench.load(ci_results)
    assert list(res.cases.columns) == ["suite", *csv.columns]
    assert len(res.cases) == len(csv) == 3 * 2 * 3 * 12  # models x levels x conditions x test cases
    assert (res.cases["suite"] == "ci").all()
    for col in [c for c in csv.columns if str(res.cases[c].dtype) == "string" and c != "perturbation_params"]:
        assert res.cases[col].fillna("").tolist() == csv[col].fillna("").astype(str).tolist(), col
    assert {"model", "dataset", "perturbation", "case_id"} <= {
        c for c in csv if str(res.cases[c].dtype) == "string"
    }
    for col in [c for c in csv.columns if str(res.cases[c].dtype) != "string"]:  # every numeric column
        assert np.allclose(res.cases[col].astype(float), csv[col].astype(float), equal_nan=True), col
    assert str(res.cases["severity"].dtype) == "Int64" and str(res.cases["tp"].dtype) == "Int64"
    assert res.cases["dice"].dtype == "float64" and str(res.cases["model"].dtype) == "string"
    assert res.suites["name"].tolist() == ["ci"] and "name: ci" in res.suites.loc[0, "yaml"]
    assert len(res.jobs) == 6 and set(res.jobs["status"]) == {"trained"}


def test_load_names_what_is_missing(ci_results: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no results database at"):
        segbench.load(tmp_path / "empty")
    with pytest.raises(LookupError, match=r"stored suites: \['ci'\]"):
        segbench.load(ci_results, suite="nope")
    assert len(segbench.load(ci_results, suite="ci").cases) == 216
