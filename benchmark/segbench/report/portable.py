"""Portable reports: the single-file page.

Why: a suite folder copied elsewhere must keep working (its own ``plotly.min.js`` beside
``index.html``, written by :func:`segbench.report.build.write_plotly_js`), and ``segbench report
--self-contained`` writes one HTML file with plotly.js and the gallery image inlined, for e-mail or a
paper's supplement.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from markupsafe import Markup

__all__ = ["write_standalone"]


def write_standalone(
    template: Any, context: dict[str, Any], sections: list[Any], folder: Path, name: str
) -> Path:
    """Render the page once more with plotly.js and images inlined; returns ``folder/<name>.html``.

    Why a second render rather than post-processing ``index.html``: the template decides where the
    script goes, and images become ``data:`` URIs without touching HTML text.
    """
    from plotly.offline import get_plotlyjs

    inlined = []
    for sec in sections:
        if getattr(sec, "image", None) and (folder / sec.image).is_file():
            data = base64.b64encode((folder / sec.image).read_bytes()).decode("ascii")
            sec = _copy(sec, image=f"data:image/png;base64,{data}")
        inlined.append(sec)
    page = template.render(**{**context, "sections": inlined, "plotly_inline": Markup(get_plotlyjs())})
    path = folder / f"{name}.html"
    path.write_text(page, encoding="utf-8")
    return path


def _copy(section: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(section, **changes)
