"""The first-screen leaderboard and headline on constructed cases (hand-computed expectations)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from segbench.report.curves import curves_section, history_table
from segbench.report.failures import failed_jobs
from segbench.report.headline import headline_blocks
from segbench.report.leaderboard import board_tables, order_conditions, shift_families
from segbench.store.read import SuiteDefinition

SUITE_YAML = "name: t\nperturbations: [none, easier, {name: speckle, severity: [1, 3]}]\n"
SUITE = SuiteDefinition.parse(SUITE_YAML, "t")


def _cases() -> pd.DataFrame:
    """Two models, 4 cases, 2 seeds; dice = base + per-condition offset + 0.01 * case index."""
    offsets = {
        ("none", 0): 0.0,
        ("speckle", 1): -0.1,
        ("speckle", 3): -0.3,
        ("blur_background", 2): -0.2,
    }
    base = {"a": 0.8, "b": 0.7}
    rows = []
    for model, b in base.items():
        for (pert, sev), off in offsets.items():
            for seed in (1, 2):
                for i in range(4):
                    rows.append(
                        {
                            "model": model,
                            "dataset": "d",
                            "complexity": 0.5,
                            "perturbation": pert,
                            "severity": sev,
                            "test_complexity": np.nan,
                            "seed": seed,
                            "case_id": f"c{i}",
                            # model b is hit a quarter as hard by speckle
                            "dice": b + (off / 4 if model == "b" and pert == "speckle" else off) + 0.01 * i,
                            "hd95": 10.0 - 10 * b + i + (5.0 if pert != "none" else 0.0),
                            "nsd": np.nan,
                        }
                    )
    return pd.DataFrame(rows)


def _jobs() -> pd.DataFrame:
    rows = []
    for model, params, secs in (("a", 1000, 10.0), ("b", 50, 2.0)):
        for seed, mem in ((1, 100.0), (2, 120.0)):
            rows.append(
                {
                    "model": model,
                    "dataset": "d",
                    "complexity": 0.5,
                    "seed": seed,
                    "job_key": f"{model}{seed}",
                    "status": "trained",
                    "n_params": params,
                    "train_seconds": secs * seed,
                    "peak_memory_mb": mem,
                    "train_info": json.dumps({"history": [{"epoch": 1, "loss": 0.5, "val_dice": 0.6}]}),
                    "error": None,
                    "attempts": 1,
                }
            )
    rows.append(
        {**rows[0], "job_key": "x", "status": "failed", "error": "Traceback\n  line\nValueError: <b>bad</b>"}
    )
    return pd.DataFrame(rows)


def _tables():
    return board_tables(_cases(), pd.DataFrame(), _jobs(), SUITE, n_resamples=199, reference="a")


def test_families_follow_the_suite_and_in_domain_comes_first() -> None:
    cases = _cases()
    assert shift_families(cases, SUITE) == ["blur_background", "speckle"]  # 'easier' -> blur_background
    conds = order_conditions(cases[["perturbation", "severity"]].drop_duplicates(), SUITE)
    assert conds.values.tolist() == [["none", 0], ["blur_background", 2], ["speckle", 1], ["speckle", 3]]


def test_shift_columns_worst_case_drop_and_costs() -> None:
    (t,) = _tables()
    v = {k[2:]: cell for k, cell in t.values.items() if k[0] == "dice"}
    mean_i = 0.015  # 0.01 * mean(0..3)
    assert v[("a", "id")].value == pytest.approx(0.8 + mean_i)
    assert v[("a", "fam:speckle")].value == pytest.approx(0.8 - 0.2 + mean_i)  # mean of -0.1 and -0.3
    assert v[("b", "fam:speckle")].value == pytest.approx(0.7 - 0.05 + mean_i)
    # mean OOD pools only harder shifts (background blur makes the task easier), families weighted equally
    assert v[("a", "ood")].value == pytest.approx(0.8 - 0.2 + mean_i)  # the speckle family: (-0.1 - 0.3) / 2
    assert v[("a", "worst")].value == pytest.approx(0.5 + mean_i)
    assert v[("a", "worst")].title == "speckle s3"
    assert v[("b", "worst")].title == "easier (blur_background s2)"
    assert v[("a", "drop")].value == pytest.approx(0.2)
    assert v[("b", "drop")].value == pytest.approx((0.025 + 0.075) / 2)
    # 4 cases: the small-n rule holds in every cell, shift families, worst case and drop included
    assert all(v[("b", key)].ci == "[n too small]" for key in ("id", "fam:speckle", "ood", "worst", "drop"))
    assert v[("a", "params")].text == "1,000" and v[("a", "time")].value == pytest.approx(15.0)
    assert v[("a", "memory")].value == 120.0
    assert v[("a", "cases")].text == "4 / 4" and v[("a", "cases")].ci == "k=2"  # cases, seeds averaged
    assert (v[("a", "cost")].text, v[("a", "cost")].ci) == ("1,000", "15.0 s · 120 MB")  # one narrow cell
    assert t.families == ["easier", "speckle"]  # suite order, the suite's names
    easier, speckle = t.legend  # measured on the reference model "a": both shifts lower its Dice
    assert easier.startswith(
        "easier = blur_background s2: harder for a (mean Dice 0.815 in-domain, 0.615 shifted); "
        "registered as easier"
    )
    assert speckle == "speckle = speckle s1, s3: harder for a (mean Dice 0.815 in-domain, 0.615 shifted)"
    # the metric switch: HD95 ranks lower-is-better first and its drop is OOD - ID
    hd = t.rows["hd95"]
    assert [r["model"] for r in hd] == ["a", "b"] and hd[0]["rank"] == "1"  # a: 2 + i mm, b: 3 + i mm
    assert t.values[("hd95", "0.5", "b", "drop")].value == pytest.approx(5.0)  # worse under shift: +5 mm
    assert t.values[("hd95", "0.5", "b", "worst")].value == pytest.approx(3 + 1.5 + 5)
    assert "nsd" not in t.rows  # no defined values: no switch entry


def test_ensembles_show_no_training_time() -> None:
    jobs = _jobs().assign(model_name=lambda j: j["model"])
    jobs.loc[jobs["model"] == "b", "model_name"] = "ensemble"  # b: averaged checkpoints, 0 s recorded
    (t,) = board_tables(_cases(), pd.DataFrame(), jobs, SUITE, n_resamples=199)
    assert t.values[("dice", "0.5", "b", "time")].text == "–"
    assert t.values[("dice", "0.5", "b", "cost")].ci == "no training · 120 MB"


def test_board_marks_and_values_replace_dice_in_domain() -> None:
    board = pd.DataFrame(
        {
            "model": ["a", "b"],
            "dataset": ["d", "d"],
            "complexity": [0.5, 0.5],
            "id_mean": [0.9, 0.6],
            "id_low": [0.85, 0.5],
            "id_high": [0.95, 0.7],
            "ood_mean": [0.5, 0.55],
            "ood_low": [0.4, 0.5],
            "ood_high": [0.6, 0.6],
            "significantly_worse": [False, True],
            "ood_significantly_worse": [False, False],
            "n_id": [4, 4],
            "n_ood": [4, 4],
        }
    )
    (mixed,) = board_tables(_cases(), board.assign(mark=["", "mixed"]), _jobs(), SUITE, n_resamples=199)
    cell = mixed.values[("dice", "0.5", "b", "id")]  # the stats board's "mark" wins over the boolean
    assert not cell.dag and cell.ci == "[0.500, 0.700] (mixed)" and "no †" in cell.title
    small = board.assign(id_small_n=["", "n too small (4 cases)"])
    (t_small,) = board_tables(_cases(), small, _jobs(), SUITE, n_resamples=199)
    assert t_small.values[("dice", "0.5", "b", "id")].ci == "[n too small]"  # no interval below 10 cases
    assert t_small.values[("dice", "0.5", "a", "id")].ci == "[0.850, 0.950]"
    (t,) = board_tables(_cases(), board, _jobs(), SUITE, n_resamples=199)
    assert t.values[("dice", "0.5", "b", "id")].dag and t.values[("dice", "0.5", "b", "id")].text == "0.600"
    assert t.values[("dice", "0.5", "a", "drop")].value == pytest.approx(0.4)
    blocks = headline_blocks([t])
    text = " ".join("".join(p[1] for p in s) for s in blocks[0]["sentences"])
    assert "Most accurate in-domain: a (Dice 0.900)" in text
    assert "its lead is significant against every other model" in text
    assert "Best under shift: b (mean OOD Dice 0.550); its lead over a (0.500) is not significant." in text
    assert "Most robust" not in text and "best worst case" not in text  # point estimates name no winner
    assert "harder shifts only" in text
    anchors = [p[2] for s in blocks[0]["sentences"] for p in s if p[0] == "num"]
    assert anchors and all(a.startswith("leaderboard-0-dice-r") for a in anchors)


def test_training_curves_average_seeds_of_trained_jobs() -> None:
    hist = history_table(_jobs())
    assert len(hist) == 4 and set(hist["model"]) == {"a", "b"}  # the failed job's row is left out
    sec = curves_section(_jobs(), {"a": "#1f77b4", "b": "#ff7f0e"})
    assert sec.notes[0].startswith("Convergence not checked")  # one validated epoch per job
    assert len(sec.plots) == 1 and "± 1 SD across seeds." in sec.notes[1]
    assert "No training histories" in curves_section(pd.DataFrame(), {}).notes[0]


def test_failed_jobs_keep_the_traceback_tail() -> None:
    (f,) = failed_jobs(_jobs(), lines=2)
    assert f.tail == ["  line", "ValueError: <b>bad</b>"] and f.model == "a"
