"""Render ``<out>/<suite>/index.html`` (plus exports) for every suite in a store, and ``<out>/index.html``.

Why plotly.js is written beside each page (``<out>/<suite>/plotly.min.js``) rather than embedded: the
pages stay small (a 3.5 MB library per page otherwise), work offline from ``file://``, and a copied suite
folder keeps working; ``self_contained=True`` also writes one file with it inlined (:mod:`.portable`).

The page is assembled from *sections* (title, note, plots, tables, paragraphs); a section appears only
when the data supports it, otherwise a one-line note says why it is absent. All statistics come from
:mod:`segbench.report.tables` / :mod:`.analysis3d`; this module only orchestrates and writes files.
Jinja2 autoescaping is on for every template: only plotly's own ``<div>``s (whose JSON plotly escapes)
are marked safe.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from segbench.paths import OVERLAYS, refuse_links
from segbench.paths import safe_name as _safe_name  # shared with `segbench preview`
from segbench.report import figures
from segbench.report.board_export import write_board_exports
from segbench.report.cells import write_cell_pages
from segbench.report.curves import history_table
from segbench.report.exports import board_cells, cap_text, write_csv, write_exports
from segbench.report.headline import page_top
from segbench.report.leaderboard import order_conditions
from segbench.report.page import page_sections
from segbench.report.portable import write_standalone
from segbench.report.sections import MAX_FAMILY_PLOTS, PageData, Section
from segbench.report.tables import (
    BOARD_GROUP,
    CONDITION,
    StatsSettings,
    SuiteTables,
    compute_tables,
    shift_directions,
    with_entries,
)
from segbench.stats.convergence import convergence_table, convergence_text
from segbench.store import Store
from segbench.store.read import SuiteDefinition, typed_jobs

__all__ = [
    "MAX_FAMILY_PLOTS",
    "ReportResult",
    "build_reports",
    "render_suite",
    "write_plotly_js",
]


@dataclass
class ReportResult:
    """One rendered suite report.

    Attributes:
        suite: suite name.
        index: path of its ``index.html``.
        n_cases: per-case rows in the report.
        expected: evaluation conditions the suite defines.
        done: evaluation conditions in the store.
        seconds: wall time to compute and render.
    """

    suite: str
    index: Path
    n_cases: int
    expected: int
    done: int
    seconds: float = 0.0
    standalone: Path | None = None  # the --self-contained single file, when written

    @property
    def partial(self) -> bool:
        """True when some of the suite's evaluations are missing from the store."""
        return self.done < self.expected


def write_plotly_js(out: Path) -> Path:
    """Copy plotly.min.js from the installed plotly package into ``out`` (once; each suite folder)."""
    from plotly.offline import get_plotlyjs

    target = out / "plotly.min.js"
    if not target.exists():
        out.mkdir(parents=True, exist_ok=True)
        target.write_text(get_plotlyjs(), encoding="utf-8")
    return target


def build_reports(
    results: str | Path, out: str | Path, suites: list[str] | None = None, self_contained: bool = False
) -> list[ReportResult]:
    """One report per suite in the store (or those named), plus the cross-suite index page.

    Args:
        results: results folder (holds ``segbench.sqlite``).
        out: reports folder; each suite gets ``<out>/<suite>/``.
        suites: only these suites. Defaults to every stored suite.
        self_contained: also write ``<out>/<suite>/<suite>.html`` with plotly.js and images inlined.

    Returns:
        One :class:`ReportResult` per rendered suite.

    Raises:
        LookupError: empty store (says what to run) or unknown suite names (lists the stored ones).
    """
    store, out = Store(results), Path(out)
    refuse_links(out)  # a link planted in the reports folder would redirect a page or a CSV
    names = store.suites()
    if not names:
        raise LookupError(
            f"no results in {store.path}; run a suite first, e.g. "
            f"'segbench run suites/quick.yaml --results {store.results}', then 'segbench report'"
        )
    unknown = sorted(set(suites or []) - set(names))
    if unknown:
        raise LookupError(f"no results for suite(s) {unknown}; stored suites: {names}")
    built: list[ReportResult] = []
    definitions: dict[str, SuiteDefinition] = {}
    for name in suites or names:
        start = time.perf_counter()
        stored = store.read_suite(name)
        result = render_suite(
            name,
            stored.cases,
            stored.jobs,
            stored.definition,
            stored.expected,
            stored.done,
            out,
            self_contained=self_contained,
            overlays=Path(results) / OVERLAYS,
        )
        result.seconds = time.perf_counter() - start
        built.append(result)
        definitions[name] = stored.definition
    _write_index(out, store, built, definitions)
    return built


def render_suite(
    suite: str,
    cases: pd.DataFrame,
    jobs: pd.DataFrame,
    definition: SuiteDefinition | str,
    expected: int,
    done: int,
    out: Path,
    settings: StatsSettings | None = None,
    self_contained: bool = False,
    overlays: Path | None = None,
) -> ReportResult:
    """Compute the statistics of one suite and write its page and exports under ``out/<suite>/``.

    Why it takes DataFrames rather than a store: ``benchmarks/report_scale.py`` and the tests feed
    synthetic tables straight in (with the suite's YAML text, parsed here once). ``build_reports`` passes
    the store's read model (:meth:`segbench.store.Store.read_suite`).

    Args:
        suite: suite name (escaped in the page; made filesystem-safe for the folder name).
        cases: ``Store.cases(suite)``.
        jobs: ``Store.jobs(suite)`` (may be empty), raw or already parsed (:func:`typed_jobs`).
        definition: the stored suite (:class:`SuiteDefinition`), or its YAML text.
        expected: evaluation conditions the suite defines.
        done: evaluation conditions present.
        out: reports folder.
        settings: statistics settings. Defaults to :class:`StatsSettings`.
        self_contained: also write one file with plotly.js and images inlined (see :mod:`.portable`).
        overlays: ``<results>/overlays`` (the worker's prediction pictures), for the cell pages.

    Returns:
        A :class:`ReportResult`.
    """
    settings = settings or StatsSettings()
    if not isinstance(definition, SuiteDefinition):
        definition = SuiteDefinition.parse(definition, suite)
    jobs = typed_jobs(jobs)  # a no-op on the store's read model; parses the JSON of a raw table once
    folder = out / _safe_name(suite)
    folder.mkdir(parents=True, exist_ok=True)
    write_plotly_js(folder)  # beside index.html: a copied suite folder still works
    baseline_model = definition.baseline_model
    blocks: list[dict[str, Any]] = []
    top: dict[str, Any] | None = None
    tables: SuiteTables | None = None
    missing = max(expected - done, 0)
    failed = _failed_jobs(jobs)
    if cases.empty:
        write_exports(folder, cases, _empty_board(), pd.DataFrame())
    else:
        cases = with_entries(cases).assign(model=cases["model"])  # numeric dtypes, raw model labels
        directions = shift_directions(cases["perturbation"].astype(str).unique(), definition)
        tables = compute_tables(cases, baseline_model, settings, directions)
        blocks = _board_blocks(tables.board)
        tables.boxes = order_conditions(tables.boxes, definition)  # in-domain first, suite order
        top = page_top(
            cases,
            tables.board,
            jobs,
            definition,
            settings.n_resamples,
            settings.confidence,
            settings.seed,
            tables.effects,
            reference=baseline_model,
        )
        write_cell_pages(folder, top["tables"], cases, overlays, _env())
        write_exports(folder, cases, tables.board, _summary(tables))
        write_board_exports(folder, top["tables"])
        write_csv(tables.tests, folder / "tests.csv")
    labels = [*cases.get("model", pd.Series(dtype=str)).astype(str).unique()]
    if not cases.empty:  # a 3D suite's tables name competitors "model [patch]": they need colours too
        labels += [*with_entries(cases)["model"].astype(str).unique()]
    labels += [*jobs["model"].astype(str).unique()] if not jobs.empty else []
    colour = figures.colours(list(dict.fromkeys(labels)))
    data = PageData(tables, cases, jobs, definition, folder, baseline_model, colour)
    sections: list[Section] = page_sections(data)
    unconverged = convergence_text(convergence_table(history_table(jobs)))
    context = dict(
        top=top if blocks else None,
        suite=suite,
        description=cap_text(definition.description),
        blocks=blocks,
        sections=sections,
        n_cases=len(cases),
        expected=expected,
        done=done,
        missing=missing,
        failed=failed,
        unconverged=unconverged,
        baseline_model=baseline_model,
        generated=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
    template = _env().get_template("suite.html.j2")
    index = folder / "index.html"
    index.write_text(template.render(**context), encoding="utf-8")
    result = ReportResult(suite, index, len(cases), expected, done)
    if self_contained:
        result.standalone = write_standalone(template, context, sections, folder, _safe_name(suite))
    return result


# -- sections ---------------------------------------------------------------------------------------------
def _board_blocks(board: pd.DataFrame) -> list[dict[str, Any]]:
    """Leaderboard rows grouped per (dataset, complexity) for the template."""
    blocks: list[dict[str, Any]] = []
    cells = board_cells(board)
    for (ds, cx), idx in board.groupby(BOARD_GROUP, dropna=False, sort=False).groups.items():
        rows = []
        for i in idx:
            r = board.loc[i]
            c = cells[board.index.get_loc(i)]
            rows.append(
                {
                    "rank": c.rank,
                    "model": c.model,
                    "id": c.id,
                    "ood": c.ood,
                    "drop": c.drop,
                    "mce": c.mce,
                    "worse": bool(r["significantly_worse"]),
                    "ood_worse": bool(r["ood_significantly_worse"]),
                    "n_id": int(r["n_id"]) if pd.notna(r["n_id"]) else 0,
                    "n_ood": int(r["n_ood"]) if pd.notna(r["n_ood"]) else 0,
                    "k": int(r["n_seeds"]) if pd.notna(r.get("n_seeds")) else 0,
                    "mark_note": str(r.get("mark_note") or ""),
                    "mce_reason": r["mce_reason"] if isinstance(r["mce_reason"], str) else "",
                }
            )
        blocks.append({"dataset": ds, "complexity": "–" if pd.isna(cx) else f"{cx:g}", "rows": rows})
    return blocks


def _summary(t: SuiteTables) -> pd.DataFrame:
    """Per model x condition: mean, two-level CI and its method, n cases, k seeds, variance shares."""
    keys = ["model", *CONDITION]
    cis = t.condition_cis.rename(columns={"mean": "dice_mean", "low": "ci_low", "high": "ci_high"})
    cis = cis.rename(columns={"method": "ci_method", "n": "n_cases"})
    spread = t.spread[[*keys, "between_seed_sd", "within_seed_case_sd"]]
    shares = ["share_case", "share_seed", "share_resid", "share_seed_low", "share_seed_high"]
    variance = t.variance.reindex(columns=[*keys, *shares])
    return cis.merge(spread, on=keys, how="left").merge(variance, on=keys, how="left")


def _failed_jobs(jobs: pd.DataFrame) -> list[dict[str, str]]:
    if jobs.empty:
        return []
    failed = jobs[jobs["status"] == "failed"]
    out = []
    for r in failed.itertuples(index=False):
        last = (r.error or "").strip().splitlines()
        out.append(
            {"model": str(r.model), "seed": str(r.seed), "error": last[-1] if last else "unknown error"}
        )
    return out


def _empty_board() -> pd.DataFrame:
    cols = ["dataset", "complexity", "rank", "model", "id_mean", "id_low", "id_high", "ood_mean", "ood_low"]
    cols += ["ood_high", "drop", "mce", "significantly_worse", "ood_significantly_worse"]
    return pd.DataFrame(columns=cols)


def _env() -> Environment:
    return Environment(
        loader=PackageLoader("segbench.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
    )


def _write_index(
    out: Path, store: Store, built: list[ReportResult], definitions: dict[str, SuiteDefinition]
) -> Path:
    """``<out>/index.html``: every stored suite with its counts and a link to its page.

    Suites rendered now reuse their parsed definition; the others (pages from an earlier run) are read
    here, once each.
    """
    rendered = {b.suite: b for b in built}
    rows = []
    for name in store.suites():
        folder = out / _safe_name(name)
        expected, done = store.expected_counts(name)
        definition = definitions.get(name) or SuiteDefinition.parse(store.suite_yaml(name) or "", name)
        rows.append(
            {
                "suite": name,
                "href": f"{_safe_name(name)}/index.html" if (folder / "index.html").exists() else None,
                "description": cap_text(definition.description),
                "expected": expected,
                "done": done,
                "n_cases": rendered[name].n_cases if name in rendered else None,
            }
        )
    page = (
        _env().get_template("index.html.j2").render(suites=rows, generated=time.strftime("%Y-%m-%d %H:%M:%S"))
    )
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
