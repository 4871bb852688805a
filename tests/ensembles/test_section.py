"""'Do ensembles buy robustness?': the ensemble's paired gain over its best member, by hand."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from segbench.report.section_ensembles import ensemble_gains, ensembles_section


def _rows() -> pd.DataFrame:
    dice = {  # model -> (in-domain per case, shifted per case)
        "a": ([0.8, 0.6, 0.7], [0.5, 0.3, 0.4]),
        "b": ([0.7, 0.7, 0.7], [0.2, 0.2, 0.2]),
        "ens": ([0.9, 0.7, 0.8], [0.5, 0.4, 0.3]),
    }
    rows = []
    for model, (clean, shifted) in dice.items():
        for i in range(3):
            base = {
                "model": model,
                "dataset": "d",
                "complexity": 0.5,
                "case_id": f"c{i}",
                "test_complexity": None,
            }
            rows.append({**base, "perturbation": "none", "severity": 0, "dice": clean[i]})
            rows.append({**base, "perturbation": "speckle", "severity": 2, "dice": shifted[i]})
    return pd.DataFrame(rows)


def _jobs() -> pd.DataFrame:
    config = json.dumps({"members": [{"model": "a", "seed": 1}, {"model": "b", "seed": 1}]})
    return pd.DataFrame({"model": ["a", "b", "ens"], "config": ["{}", "{}", config]})


def test_gain_over_best_member() -> None:
    table = ensemble_gains(_rows(), _jobs(), n_resamples=500).set_index("setting")
    clean, shifted = table.loc["in-domain"], table.loc["under shift"]
    # in-domain: a = 0.7, b = 0.7 (tie: max keeps the first listed, a); ens = 0.8 -> gain +0.1 on every case
    assert clean["ensemble_dice"] == pytest.approx(0.8) and clean["gain"] == pytest.approx(0.1)
    assert clean["gain_low"] == pytest.approx(0.1) and clean["gain_high"] == pytest.approx(0.1)
    # under shift the best member is a (0.4 vs 0.2); ens 0.4 -> gain 0 (per case 0, +0.1, -0.1)
    assert shifted["best_member"] == "a" and shifted["gain"] == pytest.approx(0.0, abs=1e-12)
    assert shifted["gain_low"] < 0 < shifted["gain_high"]
    assert ensembles_section(_rows(), _jobs()) is not None
    assert ensembles_section(_rows(), _jobs().assign(config="{}")) is None
