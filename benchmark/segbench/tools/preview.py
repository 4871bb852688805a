"""``segbench preview``: what each perturbation level does to one case of a suite's data.

Why a separate command: the report reads only the store, while a gallery needs the
dataset itself; the report shows ``gallery.png`` when this command has written it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from segbench.core import SEVERITIES
from segbench.paths import inside
from segbench.registry import DATASETS, PERTURBATIONS
from segbench.suite.load import load_suite

__all__ = ["PreviewResult", "preview_suite"]


@dataclass(frozen=True)
class PreviewResult:
    png: Path
    html: Path
    case_id: str
    names: list[str]


def preview_suite(
    suite_path: str | Path,
    out: str | Path = "reports",
    names: list[str] | None = None,
    case: int = 0,
    show_all: bool = False,
) -> PreviewResult:
    """Write ``<out>/<suite>/gallery.png`` and ``gallery.html`` for one test case.

    Args:
        suite_path: the suite whose first dataset (at its first complexity level) is shown.
        out: reports folder. Defaults to "reports".
        names: perturbations (rows); defaults to the suite's own (every registered one with ``show_all``).
        case: index of the test case to show. Defaults to 0.
        show_all: show the whole perturbation catalogue. Defaults to False.

    Raises:
        ValueError: bad case index or perturbation name, a user dataset (``preview`` runs no
            user code: only ``segbench run`` does), or an output folder outside ``out``.
    """
    from segbench.tools.gallery_labels import save_labelled_gallery
    from segbench.tools.preview_caption import suite_gallery_names, write_caption
    from segbench.worker.job import load_dataset  # the dataset cache shared with the runner

    suite = load_suite(suite_path)
    if DATASETS.get(suite.datasets[0].name).is_user_code:
        raise ValueError(
            f"preview does not run user code, and dataset {suite.datasets[0].name!r} is a "
            f"'module:callable'; preview a suite with a registered dataset (see 'segbench list')"
        )
    folder = inside(out, suite.name)
    complexity = suite.complexity[0] if suite.complexity else None
    tests = load_dataset(suite.datasets[0], complexity, suite.data_seed).test
    if not 0 <= case < len(tests):
        raise ValueError(f"case must be in 0..{len(tests) - 1}, got {case}")
    chosen = tests[case]
    names = names or suite_gallery_names(Path(suite_path).read_text(encoding="utf-8"), show_all)
    unknown = sorted(set(names) - set(PERTURBATIONS.names()))
    if unknown:
        raise ValueError(f"unknown perturbation(s) {unknown}; registered: {', '.join(PERTURBATIONS.names())}")
    zoom = max(1, 128 // max(chosen.image.shape[-2:]))
    png = save_labelled_gallery(folder / "gallery.png", chosen.image, chosen.label, names=names, zoom=zoom)
    write_caption(folder, suite, chosen.case_id, complexity, names)
    page = folder / "gallery.html"
    page.write_text(_gallery_html(suite.name, chosen.case_id, names), encoding="utf-8")
    return PreviewResult(png, page, chosen.case_id, list(names))


def _gallery_html(suite: str, case_id: str, names: list[str]) -> str:
    rows = []
    for name in names:
        levels = PERTURBATIONS.get(name).meta.get("levels", {})
        cells = "".join(f"<td>{html.escape(str(levels.get(s, '')))}</td>" for s in SEVERITIES)
        rows.append(f"<tr><th>{html.escape(name)}</th>{cells}</tr>")
    header = "".join(f"<th>severity {s}</th>" for s in SEVERITIES)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>segbench shift gallery: {html.escape(suite)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem}}
td,th{{border:1px solid #ccc;padding:.25rem .5rem}} table{{border-collapse:collapse}}
img{{image-rendering:pixelated;max-width:100%}}</style></head>
<body><h1>Shift gallery: {html.escape(suite)}</h1>
<p>Test case <code>{html.escape(case_id)}</code>. Rows, top to bottom: {html.escape(", ".join(names))}.
Columns: clean (label outlined in red), then severities 1 to 5. Each tile is min-max scaled, as the
model sees it.</p>
<img src="gallery.png" alt="perturbation gallery">
<h2>Level parameters</h2>
<table><thead><tr><th>perturbation</th>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>
</body></html>
"""
