"""The convergence check on hand-made validation curves (gains computed by hand)."""

from __future__ import annotations

import math

import pandas as pd

from segbench.stats.convergence import convergence_table, convergence_text


def _history(curves: dict[str, list[float | None]]) -> pd.DataFrame:
    rows = []
    for model, values in curves.items():
        for epoch, v in enumerate(values, start=1):
            rows.append(
                {"model": model, "dataset": "d", "complexity": 0.5, "seed": 1, "epoch": epoch, "val_dice": v}
            )
    return pd.DataFrame(rows).astype({"val_dice": float})


def test_rising_tail_is_flagged_flat_tail_is_not() -> None:
    ten = [0.1 * i for i in range(1, 11)]  # rising to the end: tail = epochs 9, 10 (last 20 %)
    flat = [0.5, 0.6, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8, 0.803, 0.804]  # +0.004 in the tail: below 0.005
    sparse = [None, 0.5, None, 0.6, None, 0.7, None, 0.7, None, 0.72]  # validated every 2 epochs
    table = convergence_table(_history({"rising": ten, "flat": flat, "sparse": sparse})).set_index("model")
    assert table.loc["rising", "still_improving"] == True  # noqa: E712
    assert math.isclose(table.loc["rising", "gain"], 1.0 - 0.8)  # best in tail 1.0, before it 0.8
    assert table.loc["flat", "still_improving"] == False  # noqa: E712
    assert math.isclose(table.loc["sparse", "gain"], 0.72 - 0.7)  # tail = epoch 10 only
    assert table.loc["sparse", "still_improving"] == True  # noqa: E712
    text = convergence_text(table.reset_index())
    assert text.startswith("2 of 3 trained jobs were still improving in the last 20% of their epochs")
    assert "models: rising, sparse" in text


def test_one_validation_is_not_checked() -> None:
    table = convergence_table(_history({"once": [None, None, 0.5]}))
    assert math.isnan(table.loc[0, "still_improving"]) and convergence_text(table) == ""


def test_one_model_at_two_patch_sizes_is_two_jobs() -> None:
    """A 3D suite trains ``unet`` at two patch sizes, same seed: two verdicts, not one merged curve."""
    from segbench.report.curves import history_table

    def job(patch: list[int], curve: list[float]) -> dict[str, object]:
        history = [{"epoch": e, "loss": 1.0 - v, "val_dice": v} for e, v in enumerate(curve, start=1)]
        info = {"patch_size": patch, "history": history}
        return {"model": "unet", "dataset": "d", "complexity": None, "seed": 1, "status": "trained",
                "train_info": info}  # fmt: skip

    rising = [0.1 * i for i in range(1, 11)]
    flat = [0.5, 0.6, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]
    hist = history_table(pd.DataFrame([job([32, 32, 32], rising), job([64, 64, 64], flat)]))
    assert sorted(hist["model"].unique()) == ["unet [32x32x32]", "unet [64x64x64]"]
    table = convergence_table(hist).set_index("model")
    assert len(table) == 2
    assert table.loc["unet [32x32x32]", "still_improving"] == True  # noqa: E712
    assert table.loc["unet [64x64x64]", "still_improving"] == False  # noqa: E712
    assert convergence_text(table.reset_index()).startswith("1 of 2 trained jobs")
