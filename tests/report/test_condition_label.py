"""Condition names in the report: the study's presets are shown by name."""

from __future__ import annotations

import pytest

from segbench.report.tables import condition_label


@pytest.mark.parametrize(
    ("perturbation", "severity", "label"),
    [
        ("none", 0, "in-domain"),
        ("speckle", 2, "harder (speckle s2)"),
        ("speckle", 4, "hardest (speckle s4)"),
        ("blur_background", 2, "easier (blur_background s2)"),
        ("blur_background", 4, "easiest (blur_background s4)"),
        ("speckle", 3, "speckle s3"),
        ("rician", 5, "rician s5"),
        ("unseen_textures", 0, "unseen_textures"),
    ],
)
def test_condition_label(perturbation: str, severity: int, label: str) -> None:
    assert condition_label(perturbation, severity) == label
