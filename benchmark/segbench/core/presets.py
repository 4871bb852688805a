"""The skip-connection study's named test-time shifts, as plain data.

Why outside ``segbench.perturbations``: the report names conditions by preset ("harder")
and must not pay for importing the perturbation transforms (MONAI, ~3 s) to do so.
``segbench.perturbations.presets`` re-exports this table and ties it to the level tables.
"""

from __future__ import annotations

__all__ = ["PRESETS"]

PRESETS: dict[str, tuple[str, int]] = {
    "harder": ("speckle", 2),
    "hardest": ("speckle", 4),
    "easier": ("blur_background", 2),
    "easiest": ("blur_background", 4),
}
"""Preset name -> (perturbation, severity): the skip-connection study's test-time shifts."""
