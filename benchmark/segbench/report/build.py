"""Render ``<out>/<suite>/index.html`` (plus exports) for every suite in a store, and ``<out>/index.html``.

Why plotly.js is written once beside the pages (``<out>/plotly.min.js``) rather than embedded: the
pages stay small (a 3.5 MB library per page otherwise) and still work offline from ``file://``.

The page is assembled from *sections* (title, note, plots, tables, paragraphs); a section appears only
when the data supports it, otherwise a one-line note says why it is absent. All statistics come from
:mod:`segbench.report.tables` / :mod:`.analysis3d`; this module only orchestrates and writes files.
Jinja2 autoescaping is on for every template: only plotly's own ``<div>``s (whose JSON plotly escapes)
are marked safe.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from segbench.report import analysis3d, figures
from segbench.report.exports import board_cells, write_exports
from segbench.report.methods import methods_paragraphs
from segbench.report.tables import (
    BOARD_GROUP,
    CONDITION,
    StatsSettings,
    SuiteTables,
    compute_tables,
    with_entries,
)
from segbench.store import Store

__all__ = [
    "MAX_FAMILY_PLOTS",
    "ReportResult",
    "build_reports",
    "render_suite",
    "write_plotly_js",
]

#: cap on per-family small multiples (significance maps, boxes, ...); the rest are in the CSV exports
MAX_FAMILY_PLOTS = 24
_MAX_TABLE_ROWS = 200
_NOSKIP = "noskip_unet"


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

    @property
    def partial(self) -> bool:
        """True when some of the suite's evaluations are missing from the store."""
        return self.done < self.expected


@dataclass
class _Section:
    id: str
    title: str
    notes: list[str] = field(default_factory=list)
    plots: list[Markup] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    image: str | None = None
    code: str | None = None
    grid: bool = False  # small fixed-size figures side by side; otherwise one full-width figure per row


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
    """One report per suite in the store (or those named), plus the cross-suite index page.

    Args:
        results: results folder (holds ``segbench.sqlite``).
        out: reports folder; each suite gets ``<out>/<suite>/``.
        suites: only these suites. Defaults to every stored suite.

    Returns:
        One :class:`ReportResult` per rendered suite.

    Raises:
        LookupError: empty store (says what to run) or unknown suite names (lists the stored ones).
    """
    store, out = Store(results), Path(out)
    names = store.suites()
    if not names:
        raise LookupError(
            f"no results in {store.path}; run a suite first, e.g. "
            f"'segbench run suites/quick.yaml --results {store.results}', then 'segbench report'"
        )
    unknown = sorted(set(suites or []) - set(names))
    if unknown:
        raise LookupError(f"no results for suite(s) {unknown}; stored suites: {names}")
    write_plotly_js(out)
    built = []
    for name in suites or names:
        start = time.perf_counter()
        expected, done = store.expected_counts(name)
        result = render_suite(
            name, store.cases(name), store.jobs(name), store.suite_yaml(name) or "", expected, done, out
        )
        result.seconds = time.perf_counter() - start
        built.append(result)
    _write_index(out, store, built)
    return built


def render_suite(
    suite: str,
    cases: pd.DataFrame,
    jobs: pd.DataFrame,
    suite_yaml: str,
    expected: int,
    done: int,
    out: Path,
    settings: StatsSettings | None = None,
) -> ReportResult:
    """Compute the statistics of one suite and write its page and exports under ``out/<suite>/``.

    Why it takes DataFrames rather than a store: ``benchmarks/report_scale.py`` and the tests feed
    synthetic tables straight in.

    Args:
        suite: suite name (escaped in the page; made filesystem-safe for the folder name).
        cases: ``Store.cases(suite)``.
        jobs: ``Store.jobs(suite)`` (may be empty).
        suite_yaml: the suite definition text shown in the provenance section.
        expected: evaluation conditions the suite defines.
        done: evaluation conditions present.
        out: reports folder.
        settings: statistics settings. Defaults to :class:`StatsSettings`.

    Returns:
        A :class:`ReportResult`.
    """
    settings = settings or StatsSettings()
    folder = out / _safe_name(suite)
    folder.mkdir(parents=True, exist_ok=True)
    baseline_model = _baseline_model(suite_yaml)
    sections: list[_Section] = []
    blocks: list[dict[str, Any]] = []
    missing = max(expected - done, 0)
    failed = _failed_jobs(jobs)
    if cases.empty:
        write_exports(folder, cases, _empty_board(), pd.DataFrame())
    else:
        cases = with_entries(cases).assign(model=cases["model"])  # numeric dtypes, raw model labels
        tables = compute_tables(cases, baseline_model, settings)
        blocks = _board_blocks(tables.board)
        sections = list(_sections(tables, cases, jobs, folder, baseline_model))
        write_exports(folder, cases, tables.board, _summary(tables))
        tables.tests.to_csv(folder / "tests.csv", index=False)
    sections.append(_provenance(jobs, suite_yaml, cases))
    env = _env()
    page = env.get_template("suite.html.j2").render(
        suite=suite,
        description=_description(suite_yaml),
        blocks=blocks,
        sections=sections,
        n_cases=len(cases),
        expected=expected,
        done=done,
        missing=missing,
        failed=failed,
        baseline_model=baseline_model,
        generated=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
    index = folder / "index.html"
    index.write_text(page, encoding="utf-8")
    return ReportResult(suite, index, len(cases), expected, done)


# -- sections ---------------------------------------------------------------------------------------------
def _sections(
    tables: SuiteTables, raw: pd.DataFrame, jobs: pd.DataFrame, folder: Path, baseline_model: str
) -> Iterator[_Section]:
    """The page's sections in order; ``raw`` keeps plain model labels (the 3D section splits by patch)."""
    cases, colour = tables.cases, figures.colours(tables.cases["model"].astype(str).unique())
    id_cis = tables.condition_cis[tables.condition_cis["perturbation"] == "none"]
    has_3d = analysis3d.has_3d_data(raw, jobs)
    yield _significance_section(tables)
    yield _complexity_section(id_cis, colour)
    yield _severity_section(tables, colour)
    yield _rank_section(tables, colour)
    yield _box_section(tables, colour)
    yield _spread_section(tables)
    yield _cross_section(tables)
    if has_3d:
        yield _section_3d(raw, jobs, tables.settings)
    gallery = folder / "gallery.png"
    if gallery.exists():
        yield _Section(
            "gallery",
            "Shift gallery",
            notes=[
                "One case under every perturbation and severity of the suite (written by segbench preview)."
            ],
            image="gallery.png",
        )
    n_nan = int(cases["dice"].isna().sum())
    yield _Section(
        "methods",
        "Methods",
        paragraphs=methods_paragraphs(tables.settings, baseline_model, has_3d, n_nan, not tables.cross.empty),
    )


def _significance_section(t: SuiteTables) -> _Section:
    sec = _Section("significance", "Significance maps", grid=True)
    testable = t.tests[t.tests["testable"]] if not t.tests.empty else t.tests
    if testable.empty:
        sec.notes.append(
            "No testable model pairs (fewer than "
            f"{t.settings.min_pairs} paired cases per condition, a single model, or identical results)."
        )
        return sec
    fams = list(testable.groupby(CONDITION, dropna=False, sort=True))
    sec.notes.append(
        "Holm-adjusted p-values of the paired Wilcoxon test per model pair, one family per condition; "
        "blank cells were not testable. All pairs with effect sizes: tests.csv."
    )
    if len(fams) > MAX_FAMILY_PLOTS:
        sec.notes.append(f"Showing the first {MAX_FAMILY_PLOTS} of {len(fams)} families.")
    for i, (key, fam) in enumerate(fams[:MAX_FAMILY_PLOTS]):
        title = _family_title(dict(zip(CONDITION, key, strict=True)))
        sec.plots.append(_div(figures.significance_map(fam, title), f"sig-{i}"))
    return sec


def _complexity_section(id_cis: pd.DataFrame, colour: dict[str, str]) -> _Section:
    sec = _Section("complexity", "Dice vs task complexity")
    levels = id_cis.dropna(subset=["complexity"]).groupby("dataset")["complexity"].nunique()
    datasets = levels[levels >= 2].index.tolist()
    if not datasets:
        sec.notes.append("Not shown: the suite has fewer than two complexity levels per dataset.")
        return sec
    for i, ds in enumerate(datasets):
        sec.plots.append(_div(figures.complexity_curves(id_cis, ds, colour), f"cx-{i}"))
        if _NOSKIP in set(id_cis.loc[id_cis["dataset"] == ds, "model"]):
            sec.plots.append(_div(figures.relative_gain(id_cis, ds, _NOSKIP, colour), f"gain-{i}"))
        else:
            sec.notes.append(f"No relative-gain plot for {ds}: the suite has no '{_NOSKIP}' to compare with.")
    return sec


def _severity_section(t: SuiteTables, colour: dict[str, str]) -> _Section:
    sec = _Section("severity", "Dice vs severity")
    cis = t.condition_cis
    if not (cis["perturbation"] != "none").any():
        sec.notes.append("Not shown: the suite has no test-time perturbation.")
        return sec
    blocks = cis[BOARD_GROUP].drop_duplicates().itertuples(index=False)
    for i, (ds, cx) in enumerate(list(blocks)[:MAX_FAMILY_PLOTS]):
        fig = figures.severity_curves(cis, ds, cx, colour)
        if fig is not None:
            sec.plots.append(_div(fig, f"sev-{i}"))
    return sec


def _rank_section(t: SuiteTables, colour: dict[str, str]) -> _Section:
    sec = _Section("ranks", "Rank stability")
    if t.rank_freq.empty or t.rank_freq["model"].nunique() < 2:
        sec.notes.append("Not shown: ranking needs at least two models with shared in-domain cases.")
        return sec
    sec.notes.append(
        f"In-domain ranks over {t.settings.rank_resamples:,} paired bootstrap resamples of the cases; "
        "blob area = share of resamples giving the model that rank."
    )
    fams = list(t.rank_freq.groupby(BOARD_GROUP, dropna=False, sort=True))
    for i, (key, fam) in enumerate(fams[:MAX_FAMILY_PLOTS]):
        title = _family_title(dict(zip(BOARD_GROUP, key, strict=True)))
        sec.plots.append(_div(figures.rank_blobs(fam, f"Ranks: {title}", colour), f"rank-{i}"))
    tau = t.rank_tau.copy()
    sec.tables.append(
        _table(
            tau,
            {
                "dataset": "dataset",
                "complexity": "complexity",
                "n_cases": "cases",
                "n_models": "models",
                "tau_mean": "Kendall tau (mean)",
                "tau_p05": "tau 5th pct",
                "share_same_ranking": "same ranking",
            },
            "rank-tau",
        )
    )
    return sec


def _box_section(t: SuiteTables, colour: dict[str, str]) -> _Section:
    sec = _Section("distributions", "Per-case distributions")
    sec.notes.append("Boxes: quartiles, whiskers to the most extreme case within 1.5 IQR; dashed line: mean.")
    fams = list(t.boxes.groupby(BOARD_GROUP, dropna=False, sort=True))
    for i, (key, fam) in enumerate(fams[:MAX_FAMILY_PLOTS]):
        title = "Per-case Dice: " + _family_title(dict(zip(BOARD_GROUP, key, strict=True)))
        sec.plots.append(_div(figures.box_figure(fam, title, colour), f"box-{i}"))
    return sec


def _spread_section(t: SuiteTables) -> _Section:
    sec = _Section("spread", "Seed vs case spread")
    if t.spread.empty:
        sec.notes.append("No defined Dice values.")
        return sec
    if t.spread["n_seeds"].max() < 2:
        sec.notes.append("One seed per model: the between-seed SD is undefined (blank); only case SD shown.")
    sec.notes.append("Between-seed SD: SD of per-seed means. Case SD: pooled within-seed SD of cases.")
    sec.tables.append(
        _table(
            t.spread,
            {
                "model": "model",
                "dataset": "dataset",
                "complexity": "complexity",
                "perturbation": "perturbation",
                "severity": "severity",
                "n_seeds": "seeds",
                "n_cases": "cases",
                "mean": "mean Dice",
                "between_seed_sd": "between-seed SD",
                "within_seed_case_sd": "case SD",
            },
            "spread",
        )
    )
    return sec


def _cross_section(t: SuiteTables) -> _Section:
    sec = _Section("cross", "Cross-complexity (train x test)", grid=True)
    if t.cross.empty:
        sec.notes.append(
            "Not shown: the suite has no cross-complexity evaluations (suite key test_complexity)."
        )
        return sec
    pairs = t.cross[["dataset", "model"]].drop_duplicates().itertuples(index=False)
    for i, (ds, model) in enumerate(list(pairs)[:MAX_FAMILY_PLOTS]):
        sec.plots.append(_div(figures.cross_heatmap(t.cross, ds, model), f"cross-{i}"))
    return sec


def _section_3d(cases: pd.DataFrame, jobs: pd.DataFrame, s: StatsSettings) -> _Section:
    sec = _Section("analysis3d", "3D: context and foreground ratio")
    colour = figures.colours(cases["model"].astype(str).unique())
    pcis = analysis3d.patch_cis(cases, s.n_resamples, s.confidence, s.seed)
    for i, ds in enumerate(sorted(pcis["dataset"].unique())):
        if pcis.loc[pcis["dataset"] == ds, "patch"].nunique() > 1:
            sec.plots.append(_div(figures.patch_curves(pcis, ds, colour), f"patch-{i}"))
        else:
            sec.notes.append(f"{ds}: a single patch size, so no Dice-vs-patch-size curve.")
    in_dom = cases[(cases["perturbation"] == "none") & cases["test_complexity"].isna()]
    points = in_dom.assign(model=in_dom["model"].astype(str) + " [" + in_dom["patch"].astype(str) + "]")
    if points["fbr"].notna().any():
        pcol = figures.colours(points["model"].unique())
        for i, ds in enumerate(sorted(points["dataset"].unique())):
            sec.plots.append(_div(figures.fbr_scatter(points, ds, pcol), f"fbr-{i}"))
    else:
        sec.notes.append("No test-volume foreground ratios recorded: no FBR scatter.")
    split = analysis3d.fbr_split(cases, analysis3d.crop_fbr_ranges(jobs))
    if split.empty:
        sec.notes.append("No in-domain cases for the within/outside training-FBR split.")
        return sec
    split = split.assign(
        verdict=[
            f"{r.drop:+.3f} (p={r.p_value:.3g})" if r.status == "ok" else f"degenerate: {r.status}"
            for r in split.itertuples(index=False)
        ]
    )
    sec.notes.append(
        "Test volumes inside vs outside the training-crop FBR range (min..max over the configuration's "
        "training crops, pooled over seeds); drop = Dice inside - Dice outside, two-sided Mann–Whitney U."
    )
    sec.tables.append(
        _table(
            split,
            {
                "model": "model",
                "patch": "patch",
                "dataset": "dataset",
                "crop_fbr_min": "train FBR min",
                "crop_fbr_max": "train FBR max",
                "n_inside": "inside",
                "n_outside": "outside",
                "dice_inside": "Dice inside",
                "dice_outside": "Dice outside",
                "verdict": "drop (p)",
            },
            "fbr-split",
            digits=4,
        )
    )
    return sec


def _provenance(jobs: pd.DataFrame, suite_yaml: str, cases: pd.DataFrame) -> _Section:
    sec = _Section("provenance", "Provenance", code=suite_yaml or "(suite definition not stored)")
    if jobs.empty:
        sec.notes.append("No train jobs recorded.")
        return sec
    prov = [json.loads(p) for p in jobs["provenance"].dropna()]
    packages: dict[str, set[str]] = {}
    for p in prov:
        for name, version in (p.get("packages") or {}).items():
            packages.setdefault(name, set()).add(str(version))

    def values(key: str) -> str:
        return ", ".join(sorted({str(p.get(key)) for p in prov if p.get(key) is not None})) or "–"

    rows = [
        ("train jobs", f"{len(jobs)} ({int((jobs['status'] == 'trained').sum())} trained)"),
        ("seeds", ", ".join(str(s) for s in sorted(jobs["seed"].dropna().astype(int).unique()))),
        ("git commit", values("git_commit")),
        ("device", values("device")),
        ("gpu", values("gpu")),
        ("python", values("python")),
        ("platform", values("platform")),
        ("host", values("host")),
        ("train time (s, total)", f"{jobs['train_seconds'].fillna(0).sum():.1f}"),
        (
            "peak memory (MB, max)",
            f"{jobs['peak_memory_mb'].max():.0f}" if jobs["peak_memory_mb"].notna().any() else "–",
        ),
        ("per-case rows", str(len(cases))),
    ]
    rows += [(f"package {name}", ", ".join(sorted(v))) for name, v in sorted(packages.items())]
    sec.tables.append(
        {"id": "provenance-table", "columns": ["item", "value"], "rows": [list(r) for r in rows]}
    )
    return sec


# -- helpers ----------------------------------------------------------------------------------------------
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
                    "rank": c[2],
                    "model": c[3],
                    "id": c[4],
                    "ood": c[5],
                    "drop": c[6],
                    "mce": c[7],
                    "worse": bool(r["significantly_worse"]),
                    "ood_worse": bool(r["ood_significantly_worse"]),
                    "n_id": int(r["n_id"]) if pd.notna(r["n_id"]) else 0,
                    "n_ood": int(r["n_ood"]) if pd.notna(r["n_ood"]) else 0,
                    "mce_reason": r["mce_reason"] if isinstance(r["mce_reason"], str) else "",
                }
            )
        blocks.append({"dataset": ds, "complexity": "–" if pd.isna(cx) else f"{cx:g}", "rows": rows})
    return blocks


def _summary(t: SuiteTables) -> pd.DataFrame:
    """Per model x condition: mean, CI and its method, n, seed/case spread (summary.csv)."""
    keys = ["model", *CONDITION]
    cis = t.condition_cis.rename(columns={"mean": "dice_mean", "low": "ci_low", "high": "ci_high"})
    cis = cis.rename(columns={"method": "ci_method", "n": "n_cases"})
    spread = t.spread[[*keys, "n_seeds", "between_seed_sd", "within_seed_case_sd"]]
    return cis.merge(spread, on=keys, how="left")


def _table(df: pd.DataFrame, columns: dict[str, str], table_id: str, digits: int = 3) -> dict[str, Any]:
    """A template table (display strings), at most ``_MAX_TABLE_ROWS`` rows."""
    rows = []
    for rec in df.head(_MAX_TABLE_ROWS).to_dict("records"):
        rows.append([_fmt(rec.get(c), digits) for c in columns])
    note = (
        f"first {_MAX_TABLE_ROWS} of {len(df)} rows (all in summary.csv)" if len(df) > _MAX_TABLE_ROWS else ""
    )
    return {"id": table_id, "columns": list(columns.values()), "rows": rows, "note": note}


def _fmt(value: Any, digits: int) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"
    return str(value)


def _family_title(key: dict[str, Any]) -> str:
    parts = [str(key["dataset"])]
    if "complexity" in key and not pd.isna(key["complexity"]):
        parts.append(f"complexity {key['complexity']:g}")
    if "perturbation" in key:
        parts.append(
            "in-domain" if key["perturbation"] == "none" else f"{key['perturbation']} s{key['severity']}"
        )
    return ", ".join(parts)


def _div(fig: Any, div_id: str) -> Markup:
    return Markup(figures.to_div(fig, div_id))  # plotly escapes < > / inside its JSON


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


def _baseline_model(suite_yaml: str) -> str:
    """The suite's ``baseline_model`` (default ``"unet"``), read from the stored YAML."""
    try:
        data = yaml.safe_load(suite_yaml) or {}
    except yaml.YAMLError:
        return "unet"
    return str(data.get("baseline_model", "unet")) if isinstance(data, dict) else "unet"


def _description(suite_yaml: str) -> str:
    try:
        data = yaml.safe_load(suite_yaml) or {}
    except yaml.YAMLError:
        return ""
    return str(data.get("description", "")).strip() if isinstance(data, dict) else ""


def _safe_name(suite: str) -> str:
    """Folder name for a suite: the name itself when it is a plain identifier (schema-enforced)."""
    return (
        suite
        if re.fullmatch(r"[A-Za-z0-9_.-]+", suite) and suite not in {".", ".."}
        else re.sub(r"[^A-Za-z0-9_.-]", "_", suite).strip(".") or "suite"
    )


def _empty_board() -> pd.DataFrame:
    cols = ["dataset", "complexity", "rank", "model", "id_mean", "id_low", "id_high", "ood_mean", "ood_low"]
    cols += ["ood_high", "drop", "mce", "significantly_worse", "ood_significantly_worse"]
    return pd.DataFrame(columns=cols)


def _env() -> Environment:
    return Environment(
        loader=PackageLoader("segbench.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
    )


def _write_index(out: Path, store: Store, built: list[ReportResult]) -> Path:
    """``<out>/index.html``: every stored suite with its counts and a link to its page."""
    rendered = {b.suite: b for b in built}
    rows = []
    for name in store.suites():
        folder = out / _safe_name(name)
        expected, done = store.expected_counts(name)
        rows.append(
            {
                "suite": name,
                "href": f"{_safe_name(name)}/index.html" if (folder / "index.html").exists() else None,
                "description": _description(store.suite_yaml(name) or ""),
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
