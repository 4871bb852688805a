"""Where ``segbench preview`` leaves the suite's own gallery caption for the report (a leaf module).

Why a module of its own: the report's sections read it and ``preview`` writes it; neither should
import the other's stack (and the sections must not import the page assembly that imports them).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["GALLERY_CAPTION", "gallery_caption"]

#: written by ``segbench preview`` beside gallery.png
GALLERY_CAPTION = "gallery.txt"


def gallery_caption(folder: Path) -> str | None:
    """The caption ``segbench preview`` wrote for this suite's gallery, if any."""
    path = folder / GALLERY_CAPTION
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None
