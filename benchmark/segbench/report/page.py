"""The report page's sections, in reading order: the one place that says what the page shows, and where.

Why one list: the sections used to come from four places (``sections.page_sections``, the gates
module's ``beyond_sections``, ``portable.extra_sections`` and a provenance call in ``build.py``), so
Methods landed in the middle of the page and a new section had no obvious home. Here a section is one
line of :data:`SECTIONS`: ``(id, builder)``. A builder takes the :class:`PageData` and returns a
:class:`~segbench.report.sections.Section` (or a list of them), or ``None`` / ``[]`` when the suite has
nothing of that kind (no gated model, no ensembles, no reference study).

Reading order (the first screen, headline and leaderboard, is the template's ``_top``):

1. what the sample supports, then the plots that answer the suite's question (complexity, severity,
   rankings, distributions, cross-complexity, 3D context, and whether it reproduces a reference study);
2. what a reader checks next (ensembles, failure detection, gates, training curves and convergence,
   the shift gallery);
3. expert tables (variance components), failed jobs, then Methods and provenance last.
"""

from __future__ import annotations

from collections.abc import Callable

from segbench.report import sections as s
from segbench.report.section_3d import section_3d
from segbench.report.sections import PageData, Section

__all__ = ["SECTIONS", "PageData", "page_sections"]


Builder = Callable[[PageData], Section | list[Section] | None]


def _stats(builder: Builder) -> Builder:
    """A section that needs the statistics tables: skipped while no case is stored."""

    def build(d: PageData) -> Section | None:
        return None if d.tables is None else builder(d)

    return build


def _ensembles(d: PageData) -> Section | None:
    from segbench.report.section_ensembles import ensembles_section

    return ensembles_section(d.cases, d.jobs) if not d.cases.empty else None


def _uncertainty(d: PageData) -> Section | None:
    from segbench.report.section_uncertainty import uncertainty_section

    return uncertainty_section(d.cases, d.folder, d.colour) if not d.cases.empty else None


def _gates(d: PageData) -> Section | None:
    from segbench.report.section_gates import gates_section

    return gates_section(d.jobs)


def _curves(d: PageData) -> Section | None:
    from segbench.report.curves import curves_section

    return curves_section(d.jobs, d.colour)


def _failures(d: PageData) -> Section | None:
    from segbench.report.failures import failures_section

    return failures_section(d.jobs)


def _fidelity(d: PageData) -> list[Section]:
    from segbench.report.section_fidelity import fidelity_sections

    return fidelity_sections(d.cases, d.jobs, d.suite, d.folder, d.tables.settings if d.tables else None)


def _provenance(d: PageData) -> Section | None:
    from segbench.report.exports import cap_text
    from segbench.report.section_provenance import provenance_section

    return provenance_section(d.jobs, cap_text(d.suite.yaml), d.cases)


#: every section of the page, in reading order; add a section by adding one line
SECTIONS: list[tuple[str, Builder]] = [
    ("inference", _stats(s.inference_section)),
    ("complexity", _stats(s.complexity_section)),
    ("severity", _stats(s.severity_section)),
    ("cd", _stats(s.cd_section)),
    ("significance", _stats(s.significance_section)),
    ("ranks", _stats(s.rank_section)),
    ("distributions", _stats(s.box_section)),
    ("cross", _stats(s.cross_section)),
    ("analysis3d", _stats(section_3d)),
    ("fidelity", _fidelity),
    ("ensembles", _ensembles),
    ("failure-detection", _uncertainty),
    ("gates", _gates),
    ("curves", _curves),
    ("gallery", s.gallery_section),
    ("variance", _stats(s.variance_section)),
    ("failures", _failures),
    ("methods", _stats(s.methods_section)),
    ("provenance", _provenance),
]


def page_sections(data: PageData) -> list[Section]:
    """Every section the data supports, in :data:`SECTIONS` order."""
    out: list[Section] = []
    for _, build in SECTIONS:
        built = build(data)
        out += built if isinstance(built, list) else [] if built is None else [built]
    return out
