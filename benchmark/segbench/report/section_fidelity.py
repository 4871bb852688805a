"""Report section "Does it reproduce?": for a suite with ``reference: <name>``, the study's findings
tested on this run and its published numbers beside the measured ones; exported as ``fidelity.csv``,
``fidelity_findings.csv`` and ``fidelity.md``.

The numbers come from :mod:`segbench.report.fidelity`; this module formats them and writes the files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from segbench.references import ReferenceError, load_reference
from segbench.report.exports import markdown_cell, write_csv
from segbench.report.fidelity import (
    cell_table,
    finding_table,
    match_cases,
    suite_facts,
    verdict,
)
from segbench.report.sections import Section, _fmt
from segbench.report.tables import StatsSettings
from segbench.store.read import SuiteDefinition

__all__ = ["fidelity_sections"]

_CELL_COLUMNS = {
    "table": "table",
    "model": "model",
    "level": "level",
    "published": "published",
    "measured_ci": "measured [95% CI]",
    "difference": "measured − published",
    "n_cases": "cases (n)",
    "n_seeds": "seeds (k)",
}
_METRIC = {"dice": "Dice", "fbr_drop": "Dice drop inside → outside training FBR"}
_FINDING_COLUMNS = {
    "finding": "finding",
    "comparison": "comparison (a − b)",
    "expect": "published",
    "effect_ci": "effect [95% CI]",
    "n_cases": "cases (n)",
    "n_seeds": "seeds (k)",
    "decision": "this run",
}


def fidelity_sections(
    cases: pd.DataFrame,
    jobs: pd.DataFrame,
    suite: SuiteDefinition,
    folder: Path,
    settings: StatsSettings | None = None,
) -> list[Section]:
    """The fidelity section (and its exports) when the suite declares a reference; else nothing.

    Args:
        cases: per-case table with raw model labels (``Store.cases``).
        jobs: ``Store.jobs`` (dataset params, training-crop FBRs).
        suite: the stored suite (its ``reference``, models, scale).
        folder: the suite's report folder (exports are written there).
        settings: statistics settings (alpha, confidence). Defaults to :class:`StatsSettings`.
    """
    facts = suite_facts(suite.data)  # None (unparseable YAML) gives no reference: no section
    if facts.reference is None:
        return []
    sec = Section("fidelity", "Does it reproduce?")
    try:
        ref = load_reference(facts.reference)
    except ReferenceError as exc:
        sec.notes.append(f"Not shown: {exc}.")
        return [sec]
    s = settings or StatsSettings()
    matched = match_cases(cases, ref, facts, jobs)
    cells = cell_table(matched, ref, jobs, cases, s.confidence)
    findings = finding_table(matched, ref, jobs, s.alpha, s.confidence)
    verdicts = {f: verdict(list(g["decision"])) for f, g in findings.groupby("finding", sort=False)}
    sec.notes += _intro(ref, facts.scale, cells, cases)
    sec.tables.append(_findings_table(ref, findings, verdicts))
    sec.tables.append(_cells_table(cells))
    _write(folder, ref, facts.scale, cells, findings, verdicts)
    return [sec]


def _intro(ref: Any, scale: dict[str, Any], cells: pd.DataFrame, cases: pd.DataFrame) -> list[str]:
    notes = [
        f"Reference '{ref.name}' v{ref.version}: {ref.citation}",
        f"Scale: this run {_scale(scale)}; the paper {_scale(ref.scale)}. A gap to the published Dice is "
        "expected when the run is smaller; the findings are tested on this run's own data.",
        "Each finding is tested by the paired difference a − b of mean Dice with its architecture-level "
        "95% CI (cases and each model's own seeds); significance is Holm-adjusted over all the reference's "
        "tests, the printed CI is not. agree / disagree "
        "need a significant effect; a non-significant one is reported as not significant at this scale, "
        "never as agreement; an equivalence claim agrees only when the whole CI lies within its margin. "
        "Measured Dice: mean over cases of per-case seed means [architecture-level 95% CI]. The published "
        "numbers are means of 3 runs without intervals.",
    ]
    notes += [f"Known protocol difference: {d}" for d in ref.protocol_differences]
    if cells.empty:
        notes.append(
            "No measured cell of this run falls in the reference's tables (datasets or models differ)."
        )
    else:
        unmatched = sorted(set(cases["model"].astype(str)) - set(cells["model"].astype(str)))
        if unmatched:
            notes.append(f"Models without published numbers (not compared): {', '.join(unmatched)}.")
    return notes


def _findings_table(ref: Any, findings: pd.DataFrame, verdicts: dict[str, str]) -> dict[str, Any]:
    statements = {f.id: f.statement for f in ref.findings}
    rows = []
    for r in findings.to_dict("records"):
        head = r["test"] == 0
        rows.append(
            [
                f"{r['finding']}: {statements[r['finding']]} → {verdicts[r['finding']]}" if head else "″",
                r["comparison"],
                r["expect"],
                _effect(r),
                _fmt(r["n_cases"], 0),
                _fmt(r["n_seeds"], 0),
                r["decision"],
            ]
        )
    return {"id": "fidelity-findings", "columns": list(_FINDING_COLUMNS.values()), "rows": rows, "note": ""}


def _cells_table(cells: pd.DataFrame) -> dict[str, Any]:
    rows = []
    for r in cells.to_dict("records"):
        rows.append(
            [
                f"{r['table']} ({_METRIC[r['metric']]})",
                str(r["model"]),
                _level(r["level"]),
                _fmt(r["published"], 3),
                _measured(r),
                "–" if pd.isna(r["difference"]) else f"{r['difference']:+.3f}",
                _fmt(r["n_cases"], 0),
                _fmt(r["n_seeds"], 0),
            ]
        )
    return {"id": "fidelity-cells", "columns": list(_CELL_COLUMNS.values()), "rows": rows, "note": ""}


def _write(
    folder: Path, ref: Any, scale: dict[str, Any], cells: pd.DataFrame, findings: pd.DataFrame, verdicts: dict
) -> None:
    write_csv(cells.assign(reference=ref.name, reference_version=ref.version), folder / "fidelity.csv")
    write_csv(findings.assign(verdict=findings["finding"].map(verdicts)), folder / "fidelity_findings.csv")
    statements = {f.id: f.statement for f in ref.findings}
    lines = [
        f"# Does it reproduce? {ref.title}",
        "",
        f"Reference `{ref.name}` v{ref.version}: {markdown_cell(ref.citation)}",
        "",
        f"Scale: this run {_scale(scale)}; the paper {_scale(ref.scale)}.",
        "",
        "## Findings",
        "",
        "| finding | published statement | comparison (a − b) | effect [95% CI] | n | k | this run |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in findings.to_dict("records"):
        cells_md = [
            f"{r['finding']} ({verdicts[r['finding']]})",
            statements[r["finding"]] if r["test"] == 0 else "″",
            r["comparison"],
            _effect(r),
            _fmt(r["n_cases"], 0),
            _fmt(r["n_seeds"], 0),
            r["decision"],
        ]
        lines.append("| " + " | ".join(markdown_cell(c) for c in cells_md) + " |")
    lines += ["", "## Published vs measured", ""]
    lines += ["| " + " | ".join(_CELL_COLUMNS.values()) + " |", "|" + "---|" * len(_CELL_COLUMNS)]
    for row in _cells_table(cells)["rows"]:
        lines.append("| " + " | ".join(markdown_cell(c) for c in row) + " |")
    (folder / "fidelity.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _effect(r: dict[str, Any]) -> str:
    if pd.isna(r["effect"]):
        return "–"
    return f"{r['effect']:+.3f} [{r['effect_low']:+.3f}, {r['effect_high']:+.3f}]"


def _measured(r: dict[str, Any]) -> str:
    if pd.isna(r["measured"]):
        return "–"
    if pd.notna(r["low"]):
        return f"{r['measured']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"
    if pd.notna(r["p_value"]):
        return f"{r['measured']:.3f} (Mann–Whitney p={r['p_value']:.2g})"
    return f"{r['measured']:.3f}"


def _level(level: Any) -> str:
    return level if isinstance(level, str) else f"{float(level):g}"


def _scale(scale: dict[str, Any]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in scale.items()) or "not recorded"
