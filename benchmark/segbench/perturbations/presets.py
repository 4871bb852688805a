"""The study's named shifts and the name/severity expansion used by the suite layer.

Why here: a suite lists ``harder`` or ``{name: speckle, severity: [1, 2]}``; the plan needs
concrete ``(perturbation, severity)`` pairs, and the presets must stay tied to the level tables
(tests check that each preset's level holds the study's parameter).
"""

from __future__ import annotations

from segbench.core import IN_DOMAIN
from segbench.core.presets import PRESETS
from segbench.perturbations.base import SEVERITIES, level_table
from segbench.registry import PERTURBATIONS

__all__ = ["PRESETS", "PRESET_PARAMETERS", "resolve"]


PRESET_PARAMETERS: dict[str, dict[str, float]] = {
    "harder": {"variance": 0.1},
    "hardest": {"variance": 0.3},
    "easier": {"sigma": 3.0},
    "easiest": {"sigma": 7.0},
}
"""The study's documented parameter of each preset (what its level must contain)."""

# The runner evaluates the clean test set itself; resolve passes it through unchanged.
_IDENTITY = IN_DOMAIN


def resolve(name: str, severity: int | None = None) -> list[tuple[str, int]]:
    """Expand a suite's perturbation entry into concrete ``(perturbation, severity)`` pairs.

    Args:
        name: a preset (``harder``, ``hardest``, ``easier``, ``easiest``), a registered
            perturbation, or ``"none"`` (the clean condition, returned as ``("none", 0)``).
        severity: ``None`` for every level of a registered perturbation (1..5), or one level.
            Presets fix their own severity, so it must be ``None`` (or equal to the preset's).

    Returns:
        The pairs in severity order, e.g. ``resolve("harder") == [("speckle", 2)]``.

    Raises:
        ValueError: unknown name (the message lists the allowed ones), an undefined severity,
            or a severity that contradicts a preset.
    """
    if name == _IDENTITY:
        if severity not in (None, 0):
            raise ValueError(f"'none' is the clean image; it takes no severity, got {severity!r}")
        return [(_IDENTITY, 0)]
    if name in PRESETS:
        target, level = PRESETS[name]
        if severity is not None and severity != level:
            raise ValueError(
                f"preset {name!r} is {target} at severity {level}; omit 'severity' or use "
                f"{{name: {target}, severity: ...}} for other levels"
            )
        return [(target, level)]
    if name not in PERTURBATIONS:
        allowed = ", ".join([*sorted(PRESETS), _IDENTITY, *PERTURBATIONS.names()])
        raise ValueError(f"unknown perturbation {name!r}; allowed: {allowed}")
    try:
        levels = sorted(level_table(name))
    except ValueError:  # registered without a built-in table: the usual five levels
        levels = list(SEVERITIES)
    if severity is None:
        return [(name, level) for level in levels]
    if isinstance(severity, bool) or not isinstance(severity, int) or severity not in levels:
        raise ValueError(
            f"{name}: severity {severity!r} is not defined; allowed: {', '.join(map(str, levels))}"
        )
    return [(name, severity)]
