"""Defaults that several stages must agree on (the suite schema, the statistics, the report, the CLI).

Why here: ``core`` imports nothing from segbench, so the suite schema, ``stats`` and ``report`` can
all take the same value from one place instead of each writing its own ``"unet"``.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BASELINE_MODEL"]

BASELINE_MODEL: Final = "unet"
"""The model corruption errors are normalised to when a suite names no ``baseline_model``."""
