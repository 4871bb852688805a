"""Which executor a run uses: CLI options over the suite's ``executor:`` section over "local"."""

from __future__ import annotations

from typing import Any

from segbench.suite.schema import Suite

__all__ = ["executor_choice"]


def executor_choice(suite: Suite, kind: str | None, overrides: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(kind, settings)``: the suite's section applies only to its own kind, CLI wins.

    Args:
        suite: the loaded suite (its optional ``executor:`` section).
        kind: "local", "pool", "slurm" from the command line, or None.
        overrides: per-executor options given on the command line (None = not given).
    """
    section = suite.executor
    chosen = kind or (section.kind if section else "local")
    settings: dict[str, Any] = {}
    if section is not None and section.kind == chosen:
        settings = section.model_dump(exclude={"kind"}, exclude_defaults=True)
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return chosen, settings
