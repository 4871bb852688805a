"""Names that several stages must agree on, defined once."""

from __future__ import annotations

from typing import Final

__all__ = ["CONDITION_COLUMNS", "INJECTED_MODEL_ARGS", "IN_DOMAIN", "RUNNER_ARGS", "SEVERITIES"]

IN_DOMAIN: Final = "none"
"""The perturbation name of the clean (in-domain) test condition."""

SEVERITIES: Final[tuple[int, ...]] = (1, 2, 3, 4, 5)
"""The severities every built-in perturbation defines (1 = mildest)."""

CONDITION_COLUMNS: Final[tuple[str, ...]] = ("dataset", "complexity", "perturbation", "severity")
"""Columns of the per-case table that identify one comparison family (one test condition)."""

INJECTED_MODEL_ARGS: Final[tuple[str, ...]] = ("spatial_dims", "in_channels", "out_channels", "img_size")
"""Model factory arguments the runner fills in from the dataset and patch budget; never set in a suite."""

RUNNER_ARGS: Final[frozenset[str]] = frozenset({"rng", "image", "label", "severity", "complexity"})
"""Dataset/perturbation factory arguments the runner passes itself; never set in a suite."""
