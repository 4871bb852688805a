"""Was a model still learning when training stopped? A check on the stored validation curves.

Why: a leaderboard of unconverged networks compares training budgets, not architectures; the quick
suite's validation Dice still rises at its last epoch. The rule, applied per train job:

* the *tail* is the last :data:`TAIL` (20 %) of the epochs the job ran (at least its last validated
  epoch);
* the job is *still improving* when the best validation Dice inside the tail exceeds the best before
  it by more than :data:`MIN_GAIN` (0.005 Dice, below the seed-to-seed noise of the suites here).

A job with fewer than two validated epochs, or none before its tail, is "not checked" (no verdict).
Pure: a long history table in, one row per job out.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["MIN_GAIN", "TAIL", "convergence_table", "convergence_text"]

#: share of the last epochs that must show no further gain
TAIL = 0.2
#: a validation Dice gain above this, inside the tail, counts as "still improving"
MIN_GAIN = 0.005

_JOB = ["model", "dataset", "complexity", "seed"]


def convergence_table(history: pd.DataFrame) -> pd.DataFrame:
    """One row per job: epochs, best validation Dice before and inside the tail, and the verdict.

    Args:
        history: long table with ``model``, ``dataset``, ``complexity``, ``seed``, ``epoch`` and
            ``val_dice`` (NaN on epochs without validation), as
            :func:`segbench.report.curves.history_table` returns it.

    Returns:
        Columns ``model``, ``dataset``, ``complexity``, ``seed``, ``epochs``, ``best_before``,
        ``best_tail``, ``gain`` and ``still_improving`` (True / False, or NaN when not checked).
    """
    cols = [*_JOB, "epochs", "best_before", "best_tail", "gain", "still_improving"]
    if history.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for key, g in history.groupby(_JOB, dropna=False, sort=True):
        epochs = float(g["epoch"].max())
        val = g.dropna(subset=["val_dice"])
        start = epochs - TAIL * epochs
        tail = val[val["epoch"] > start]
        if tail.empty and len(val):
            tail = val[val["epoch"] == val["epoch"].max()]
        before = val[val["epoch"] < tail["epoch"].min()] if len(tail) else val
        best_before = float(before["val_dice"].max()) if len(before) else math.nan
        best_tail = float(tail["val_dice"].max()) if len(tail) else math.nan
        gain = best_tail - best_before
        verdict: object = math.nan if math.isnan(gain) else bool(gain > MIN_GAIN)
        rows.append(
            dict(zip(_JOB, key, strict=True))
            | {
                "epochs": int(epochs),
                "best_before": best_before,
                "best_tail": best_tail,
                "gain": gain,
                "still_improving": verdict,
            }
        )
    return pd.DataFrame(rows, columns=cols)


def convergence_text(table: pd.DataFrame) -> str:
    """One sentence for a summary: how many checked jobs were still improving ("" when none)."""
    checked = table[table["still_improving"].notna()]
    improving = checked[checked["still_improving"].astype(bool)]
    if improving.empty:
        return ""
    models = ", ".join(sorted(improving["model"].astype(str).unique()))
    return (
        f"{len(improving)} of {len(checked)} trained jobs were still improving in the last "
        f"{TAIL:.0%} of their epochs (validation Dice up by more than {MIN_GAIN:g}; models: {models}): "
        "their results are from unconverged networks; more epochs may change the ranking"
    )
