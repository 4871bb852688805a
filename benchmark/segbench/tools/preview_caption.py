"""What ``segbench preview`` shows by default (the suite's own perturbations) and the caption it writes.

Why apart from ``preview.py``: the report reads the caption (``gallery.txt``) without importing the
dataset stack, and the default rows come from the suite text alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["suite_gallery_names", "write_caption"]


def suite_gallery_names(suite_yaml: str, show_all: bool = False) -> list[str]:
    """Registered perturbations the suite tests with, in suite order (presets resolved); every
    registered one with ``show_all`` or when the suite has none (e.g. only dataset shifts)."""
    from segbench.registry import PERTURBATIONS
    from segbench.report.leaderboard import suite_perturbation_order

    registered = PERTURBATIONS.names()
    if show_all:
        return list(registered)
    own = [p for p in suite_perturbation_order(suite_yaml) if p in registered]
    return own or list(registered)


def write_caption(folder: Path, suite: Any, case_id: str, complexity: float | None, names: list[str]) -> Path:
    """Write ``gallery.txt``: the caption the report shows under this suite's gallery."""
    from segbench.paths import GALLERY_CAPTION

    dataset = suite.datasets[0].name
    level = "" if complexity is None else f" at complexity {complexity:g}"
    text = (
        f"Suite {suite.name}: test case {case_id} of {dataset}{level} under "
        f"{'its' if len(names) < 6 else 'the'} test-time shifts ({', '.join(names)}). Rows: perturbation; "
        "columns: clean (label outlined in red), then severity 1 to 5 with each level's parameters under "
        "the tile. Each tile is min-max scaled, as the model sees it."
    )
    path = folder / GALLERY_CAPTION
    path.write_text(text + "\n", encoding="utf-8")
    return path
