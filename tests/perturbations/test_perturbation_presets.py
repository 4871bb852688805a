"""The study's named shifts and the suite-layer expansion ``resolve``."""

from __future__ import annotations

import pytest

from segbench.perturbations import PRESET_PARAMETERS, PRESETS, SEVERITIES, level_table, resolve
from segbench.registry import PERTURBATIONS

STUDY = {
    "harder": ("speckle", "variance", 0.1),
    "hardest": ("speckle", "variance", 0.3),
    "easier": ("blur_background", "sigma", 3.0),
    "easiest": ("blur_background", "sigma", 7.0),
}


@pytest.mark.parametrize("preset", sorted(STUDY))
def test_preset_maps_to_documented_parameter(preset: str) -> None:
    name, key, value = STUDY[preset]
    target, severity = PRESETS[preset]
    assert target == name
    assert level_table(name)[severity][key] == value
    assert PRESET_PARAMETERS[preset] == {key: value}
    assert resolve(preset) == [(name, severity)]
    assert resolve(preset, severity) == [(name, severity)]


def test_presets_are_exactly_the_four_study_shifts() -> None:
    assert set(PRESETS) == set(STUDY)
    assert not set(PRESETS) & set(PERTURBATIONS.names())  # a preset never shadows an entry


def test_preset_with_another_severity_raises() -> None:
    with pytest.raises(ValueError, match="preset 'harder'"):
        resolve("harder", 5)


@pytest.mark.parametrize("name", PERTURBATIONS.names())
def test_registered_name_expands_to_all_levels(name: str) -> None:
    assert resolve(name) == [(name, s) for s in SEVERITIES]
    assert resolve(name, 3) == [(name, 3)]


@pytest.mark.parametrize("severity", [0, 6, 2.0, True])
def test_registered_name_with_bad_severity_raises(severity) -> None:
    with pytest.raises(ValueError, match="allowed: 1, 2, 3, 4, 5"):
        resolve("speckle", severity)


def test_none_passes_through() -> None:
    assert resolve("none") == [("none", 0)]
    assert resolve("none", 0) == [("none", 0)]
    with pytest.raises(ValueError, match="none"):
        resolve("none", 2)


def test_unknown_name_lists_allowed_names() -> None:
    with pytest.raises(ValueError, match="unknown perturbation 'speckel'") as info:
        resolve("speckel")
    message = str(info.value)
    for allowed in ("speckle", "harder", "easiest", "none", "motion"):
        assert allowed in message
