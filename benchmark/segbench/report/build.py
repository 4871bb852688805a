"""Render ``reports/<suite>/index.html`` and ``cases.csv`` from the store.

Why plotly.js is written once beside the pages (``reports/plotly.min.js``) rather than
embedded: the pages stay small and still work offline.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from segbench.report import figures
from segbench.report.tables import leaderboard
from segbench.store import Store

__all__ = ["ReportResult", "build_reports"]

CASE_COLUMNS = [
    "model",
    "dataset",
    "complexity",
    "perturbation",
    "severity",
    "preset",
    "test_complexity",
    "seed",
    "case_id",
    "dice",
    "hd95",
    "nsd",
    "tp",
    "fp",
    "fn",
    "n_ref",
    "n_pred",
    "complexity_kl",
    "fbr",
]


@dataclass
class ReportResult:
    suite: str
    index: Path
    n_cases: int
    expected: int
    done: int

    @property
    def partial(self) -> bool:
        return self.done < self.expected


def _env() -> Environment:
    return Environment(
        loader=PackageLoader("segbench.report", "templates"), autoescape=select_autoescape(["html", "j2"])
    )


def write_plotly_js(out: Path) -> Path:
    """Copy plotly.min.js from the installed plotly package once per reports folder."""
    from plotly.offline import get_plotlyjs

    target = out / "plotly.min.js"
    if not target.exists():
        out.mkdir(parents=True, exist_ok=True)
        target.write_text(get_plotlyjs(), encoding="utf-8")
    return target


def build_reports(
    results: str | Path, out: str | Path, suites: list[str] | None = None
) -> list[ReportResult]:
    """One report per suite in the store (or those named); raises LookupError if none."""
    store, out = Store(results), Path(out)
    names = store.suites()
    if not names:
        raise LookupError(f"no results in {store.path}; run 'segbench run SUITE' first")
    unknown = sorted(set(suites or []) - set(names))
    if unknown:
        raise LookupError(f"no results for suite(s) {unknown}; stored suites: {names}")
    write_plotly_js(out)
    return [_build_one(store, name, out) for name in (suites or names)]


def _build_one(store: Store, suite: str, out: Path) -> ReportResult:
    cases = store.cases(suite)
    folder = out / suite
    folder.mkdir(parents=True, exist_ok=True)
    expected, done = store.expected_counts(suite)
    cases.reindex(columns=CASE_COLUMNS).to_csv(folder / "cases.csv", index=False)
    board = leaderboard(cases) if not cases.empty else pd.DataFrame()
    plots = []
    if not board.empty and board["complexity"].notna().any():
        for i, dataset in enumerate(sorted(board["dataset"].unique())):
            plots.append(figures.to_div(figures.complexity_curves(board, dataset), f"curve-{i}"))
    page = (
        _env()
        .get_template("suite.html.j2")
        .render(
            suite=suite,
            board=board.to_dict("records"),
            plots=plots,
            n_cases=len(cases),
            expected=expected,
            done=done,
            yaml=store.suite_yaml(suite) or "",
            escape=html.escape,
        )
    )
    index = folder / "index.html"
    index.write_text(page, encoding="utf-8")
    return ReportResult(suite, index, len(cases), expected, done)
