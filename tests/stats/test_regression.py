"""CI gate: baseline round trip, ok / regressed / missing / new."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from segbench.stats.regression import BaselineError, compare_to_baseline, make_baseline, validate_baseline


def _run(seed: int = 0, n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for model, mu in [("unet", 0.85), ("noskip", 0.8), ("attn", 0.88)]:
        for cx in (np.nan, 0.5):
            for pert, sev in [("none", 0), ("speckle", 3)]:
                for s in (1, 2):
                    rows.append(
                        pd.DataFrame(
                            {
                                "model": model,
                                "dataset": "d",
                                "complexity": cx,
                                "perturbation": pert,
                                "severity": sev,
                                "seed": s,
                                "case_id": [f"c{i:02d}" for i in range(n)],
                                "dice": np.clip(rng.normal(mu - 0.05 * sev / 3, 0.08, n), 0, 1),
                            }
                        )
                    )
    df = pd.concat(rows, ignore_index=True)
    df.loc[3, "dice"] = np.nan  # a both-empty case
    return df


def _baseline_json(df: pd.DataFrame) -> dict:
    # the baseline must survive strict JSON (no NaN) unchanged
    return json.loads(json.dumps(make_baseline(df), allow_nan=False))


def test_identical_data_all_ok():
    df = _run()
    out = compare_to_baseline(df, _baseline_json(df), n_resamples=500)
    assert len(out) == 3 * 2 * 2
    assert (out["status"] == "ok").all() and not out["regressed"].any()
    assert out["paired"].all()
    np.testing.assert_allclose(out["diff"], 0.0)
    assert out["complexity"].isna().sum() == 6  # NaN complexity survives the round trip


def test_shifted_model_regresses():
    base = _run()
    cur = base.copy()
    cur.loc[cur["model"] == "noskip", "dice"] -= 0.2
    out = compare_to_baseline(cur, _baseline_json(base), delta=0.05, n_resamples=500)
    nos = out[out["model"] == "noskip"]
    assert (nos["status"] == "regressed").all() and nos["regressed"].all()
    np.testing.assert_allclose(nos["diff"], -0.2)
    assert (nos["ci_high"] < -0.05).all()
    assert (out.loc[out["model"] != "noskip", "status"] == "ok").all()


def test_small_drop_within_delta_is_ok():
    base = _run()
    cur = base.copy()
    cur.loc[cur["model"] == "unet", "dice"] -= 0.02  # worse, but by less than delta
    out = compare_to_baseline(cur, _baseline_json(base), delta=0.05, n_resamples=500)
    assert (out["status"] == "ok").all()


def test_missing_and_new():
    base = _run()
    cur = base[base["model"] != "attn"].copy()
    extra = base[base["model"] == "unet"].assign(model="swin")
    out = compare_to_baseline(pd.concat([cur, extra]), _baseline_json(base), n_resamples=200)
    status = out.groupby("model")["status"].unique().map(set).to_dict()
    assert status == {"attn": {"missing"}, "swin": {"new"}, "unet": {"ok"}, "noskip": {"ok"}}
    miss = out[out["model"] == "attn"]
    assert miss["n_current"].eq(0).all() and miss["current_mean"].isna().all() and not miss["regressed"].any()


def test_unpaired_fallback_on_new_case_ids():
    base = _run(seed=0)
    cur = _run(seed=1)  # fresh noise, and rename ids so nothing pairs
    cur["case_id"] = "x" + cur["case_id"]
    cur.loc[cur["model"] == "attn", "dice"] -= 0.25
    out = compare_to_baseline(cur, _baseline_json(base), n_resamples=500)
    assert not out["paired"].any() and (out["n_paired"] == 0).all()
    assert (out.loc[out["model"] == "attn", "status"] == "regressed").all()
    assert (out.loc[out["model"] != "attn", "status"] == "ok").all()


def test_lower_is_better_and_format_check():
    base = _run().rename(columns={"dice": "hd95"})
    cur = base.copy()
    cur.loc[cur["model"] == "unet", "hd95"] += 1.0  # distance went up by 1 mm
    b = json.loads(json.dumps(make_baseline(base, metric="hd95")))
    out = compare_to_baseline(cur, b, delta=0.5, n_resamples=300, higher_is_better=False)
    assert (out.loc[out["model"] == "unet", "status"] == "regressed").all()
    assert (out.loc[out["model"] != "unet", "status"] == "ok").all()
    with pytest.raises(ValueError, match="format"):
        compare_to_baseline(cur, {"format": "other", "metric": "hd95", "entries": []})


def test_baseline_structure():
    df = _run(n=6)
    b = make_baseline(df)
    e = next(
        x
        for x in b["entries"]
        if x["model"] == "unet"
        and x["complexity"] is None
        and x["perturbation"] == "none"
        and x["severity"] == 0
    )
    assert e["n"] == 11  # 2 seeds x 6 cases, minus the NaN case
    assert "1/c00" in e["values"] and "2/c05" in e["values"]
    assert e["mean"] == pytest.approx(np.mean(list(e["values"].values())))
    with pytest.raises(ValueError, match="duplicate"):
        make_baseline(pd.concat([df, df]))


# -- the baseline is validated before it is trusted (a gate must not pass on an empty or NaN baseline) --


def _tiny_baseline() -> dict:
    return {
        "format": "segbench-baseline/1",
        "metric": "dice",
        "suite": "ci",
        "entries": [
            {
                "model": "unet",
                "dataset": "d",
                "complexity": None,
                "perturbation": "none",
                "severity": 0,
                "mean": 0.75,
                "n": 2,
                "values": {"1/c0": 0.5, "1/c1": 1.0},
            }
        ],
    }


def _broken(change) -> dict:
    data = _tiny_baseline()
    change(data)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_broken(lambda d: d.update(entries=[])), r"top level: entries: List should have at least 1 item"),
        (
            _broken(lambda d: d["entries"][0].update(values={"1/c0": float("nan"), "1/c1": float("nan")})),
            r"entries\[0\] \(unet / d / none\): values\.1/c0: Input should be a finite number",
        ),
        (_broken(lambda d: d["entries"][0].update(mean=float("nan"))), r"entries\[0\].*mean: .*finite"),
        (
            _broken(lambda d: d["entries"][0].pop("model")),
            r"entries\[0\] \(d / none\): model: Field required",
        ),
        (
            _broken(lambda d: d["entries"][0].update(values={})),
            r"values: Dictionary should have at least 1",
        ),
        (_broken(lambda d: d["entries"][0].update(n=5)), r"n is 5 but there are 2 values"),
        (_broken(lambda d: d["entries"].append(d["entries"][0])), r"repeats model x condition"),
        (
            _broken(lambda d: d["entries"][0].update(severity="high")),
            r"severity: Input should be a valid integer",
        ),
        (["not", "an", "object"], r"expected a JSON object"),
        (_broken(lambda d: d.update(format="other/2")), r"format: Input should be 'segbench-baseline/1'"),
    ],
)
def test_invalid_baselines_are_rejected_in_one_line(data, message: str) -> None:
    with pytest.raises(BaselineError, match=message) as info:
        validate_baseline(data, "base.json")
    text = str(info.value)
    assert text.startswith("base.json: ") and "\n" not in text and "--update" in text


def test_all_nan_baseline_cannot_pass_the_comparison() -> None:
    df = _run()
    data = _baseline_json(df)
    for entry in data["entries"]:
        entry["values"] = {k: float("nan") for k in entry["values"]}
    with pytest.raises(BaselineError, match="finite number"):
        compare_to_baseline(df, data)


def test_make_baseline_leaves_out_conditions_without_values_and_validates() -> None:
    df = _run()
    empty = (df["model"] == "attn") & (df["perturbation"] == "speckle") & df["complexity"].isna()
    df.loc[empty, "dice"] = np.nan
    data = _baseline_json(df)
    assert len(data["entries"]) == 3 * 2 * 2 - 1
    assert validate_baseline(data) is data
