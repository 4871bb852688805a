"""Pure pandas summaries behind the leaderboard (no I/O)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["cross_complexity", "in_out_split", "leaderboard"]

CONDITION = ["dataset", "complexity", "perturbation", "severity"]


def in_out_split(cases: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(in-domain rows, out-of-domain rows); cross-complexity rows belong to neither."""
    same_level = cases["test_complexity"].isna()
    in_domain = cases[same_level & (cases["perturbation"] == "none")]
    shifted = cases[same_level & (cases["perturbation"] != "none")]
    return in_domain, shifted


def leaderboard(cases: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """Per (dataset, complexity, model): mean in-domain and out-of-domain metric and drop.

    Means are over cases and seeds; NaN Dice (both masks empty) is excluded and counted.
    """
    in_domain, shifted = in_out_split(cases)
    keys = ["dataset", "complexity", "model"]
    id_mean = in_domain.groupby(keys, dropna=False)[metric].agg(id_mean="mean", n_id="count")
    ood_mean = shifted.groupby(keys, dropna=False)[metric].agg(ood_mean="mean", n_ood="count")
    nan_count = cases.assign(isnan=cases[metric].isna()).groupby(keys, dropna=False)["isnan"].sum()
    board = id_mean.join(ood_mean, how="outer").join(nan_count.rename("n_nan"), how="left").reset_index()
    board["drop"] = board["id_mean"] - board["ood_mean"]
    board["rank"] = board.groupby(["dataset", "complexity"], dropna=False)["id_mean"].rank(
        ascending=False, method="min"
    )
    return board.sort_values(["dataset", "complexity", "rank"]).reset_index(drop=True)


def cross_complexity(cases: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """Train-complexity x test-complexity mean metric per (dataset, model), long form."""
    rows = cases[cases["perturbation"] == "none"].copy()
    if rows.empty:
        return pd.DataFrame(columns=["dataset", "model", "train_complexity", "test_complexity", metric])
    rows["train_complexity"] = rows["complexity"]
    rows["test_complexity"] = np.where(
        rows["test_complexity"].isna(), rows["complexity"], rows["test_complexity"]
    )
    return (
        rows.groupby(["dataset", "model", "train_complexity", "test_complexity"], dropna=False)[metric]
        .mean()
        .reset_index()
    )
