"""Builders for small per-case long tables used by the stats tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pytest


def long_table(
    values: dict[str, Sequence[float]],
    dataset: str = "d",
    complexity: float = np.nan,
    perturbation: str = "none",
    severity: int = 0,
    seed: int = 0,
    metric: str = "dice",
) -> pd.DataFrame:
    """Rows for one condition: ``values[model][i]`` is case ``c{i}`` of that model."""
    frames = []
    for model, vals in values.items():
        vals = np.asarray(vals, dtype=float)
        frames.append(
            pd.DataFrame(
                {
                    "suite": "t",
                    "model": model,
                    "dataset": dataset,
                    "complexity": complexity,
                    "perturbation": perturbation,
                    "severity": severity,
                    "seed": seed,
                    "case_id": [f"c{i}" for i in range(vals.size)],
                    metric: vals,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def make_long() -> Callable[..., pd.DataFrame]:
    return long_table
