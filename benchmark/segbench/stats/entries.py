"""Who competes: the per-case table's ``model`` column as the statistics see it.

Why in ``stats`` (not ``report``): the regression gate and the report both need it, and the gate must
not import the report (stages import only downward).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["with_entries"]


def with_entries(cases: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``cases`` whose ``model`` column names the competitor (model, or model + patch size).

    Also casts the numeric key columns to float (all-NULL columns come back from SQLite as objects).

    Why: the stats functions pair and group on ``model``; a 3D suite that trains ``unet`` at two patch
    sizes has two competitors, which must not be pooled (nor raise as duplicate cases).
    """
    out = cases.copy()
    # SQLite NULLs give object columns when a whole column is empty (e.g. no complexity knob in 3D);
    # numeric dtypes keep merges and NaN-aware grouping consistent
    for col in ("complexity", "test_complexity", "dice", "fbr"):
        if col in out.columns:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    if "patch" in out.columns and out.groupby("model")["patch"].nunique().gt(1).any():
        out["model"] = out["model"].astype(str) + " [" + out["patch"].astype(str) + "]"
    return out
