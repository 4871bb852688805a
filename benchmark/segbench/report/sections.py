"""The report page's sections: each builds its plots, tables and notes from the computed tables.

Why a module of its own: each section decides whether the data supports it (and says why not
when it does not), which is most of the page's logic; ``build.py`` only orchestrates and writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from segbench.report import analysis3d, figures
from segbench.report.gallery_caption import gallery_caption
from segbench.report.methods import methods_paragraphs
from segbench.report.tables import BOARD_GROUP, CONDITION, StatsSettings, SuiteTables, condition_label

__all__ = ["MAX_FAMILY_PLOTS", "Section", "page_sections", "provenance_section"]

#: cap on per-family small multiples (significance maps, boxes, ...); the rest are in the CSV exports
MAX_FAMILY_PLOTS = 24
_MAX_TABLE_ROWS = 200


@dataclass
class Section:
    id: str
    title: str
    notes: list[str] = field(default_factory=list)
    plots: list[Markup] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    image: str | None = None
    code: str | None = None
    code_title: str = "Suite definition"  # heading of the <pre> block
    grid: bool = False  # small fixed-size figures side by side; otherwise one full-width figure per row


def page_sections(
    tables: SuiteTables, raw: pd.DataFrame, jobs: pd.DataFrame, folder: Path, baseline_model: str
) -> Iterator[Section]:
    """The page's sections in order; ``raw`` keeps plain model labels (the 3D section splits by patch)."""
    cases, colour = tables.cases, figures.colours(tables.cases["model"].astype(str).unique())
    id_cis = tables.condition_cis[tables.condition_cis["perturbation"] == "none"]
    has_3d = analysis3d.has_3d_data(raw, jobs)
    yield _significance_section(tables)
    yield _complexity_section(id_cis, colour, baseline_model)
    yield _severity_section(tables, colour)
    yield _rank_section(tables, colour)
    yield _box_section(tables, colour)
    yield _spread_section(tables)
    yield _cross_section(tables)
    if has_3d:
        yield _section_3d(raw, jobs, tables.settings)
    gallery = folder / "gallery.png"
    if gallery.exists():
        yield Section(
            "gallery",
            "Shift gallery",
            notes=[
                gallery_caption(folder)
                or "One case under every perturbation and severity of the suite (segbench preview)."
            ],
            image="gallery.png",
        )
    n_nan = int(cases["dice"].isna().sum())
    yield Section(
        "methods",
        "Methods",
        paragraphs=methods_paragraphs(tables.settings, baseline_model, has_3d, n_nan, not tables.cross.empty),
    )


def _significance_section(t: SuiteTables) -> Section:
    sec = Section("significance", "Significance maps", grid=True)
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
        "blank cells were not testable. All pairs with effect sizes and paired bootstrap CIs of their "
        "differences: tests.csv."
    )
    if len(fams) > MAX_FAMILY_PLOTS:
        sec.notes.append(f"Showing the first {MAX_FAMILY_PLOTS} of {len(fams)} families.")
    for i, (key, fam) in enumerate(fams[:MAX_FAMILY_PLOTS]):
        title = _family_title(dict(zip(CONDITION, key, strict=True)))
        sec.plots.append(_div(figures.significance_map(fam, title), f"sig-{i}"))
    return sec


def _complexity_section(id_cis: pd.DataFrame, colour: dict[str, str], reference: str) -> Section:
    # ``reference``: the suite's ``baseline_model``, the model every gain and mCE is relative to.
    sec = Section("complexity", "Dice vs task complexity")
    levels = id_cis.dropna(subset=["complexity"]).groupby("dataset")["complexity"].nunique()
    datasets = levels[levels >= 2].index.tolist()
    if not datasets:
        sec.notes.append("Not shown: the suite has fewer than two complexity levels per dataset.")
        return sec
    for i, ds in enumerate(datasets):
        sec.plots.append(_div(figures.complexity_curves(id_cis, ds, colour), f"cx-{i}"))
        if reference in set(id_cis.loc[id_cis["dataset"] == ds, "model"]):
            sec.plots.append(_div(figures.relative_gain(id_cis, ds, reference, colour), f"gain-{i}"))
        else:
            sec.notes.append(f"No relative-gain plot for {ds}: baseline_model '{reference}' is not in it.")
    return sec


def _severity_section(t: SuiteTables, colour: dict[str, str]) -> Section:
    sec = Section("severity", "Dice vs severity")
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


def _rank_section(t: SuiteTables, colour: dict[str, str]) -> Section:
    sec = Section("ranks", "Rank stability")
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


def _box_section(t: SuiteTables, colour: dict[str, str]) -> Section:
    sec = Section("distributions", "Per-case distributions")
    sec.notes.append("Boxes: quartiles, whiskers to the most extreme case within 1.5 IQR; dashed line: mean.")
    fams = list(t.boxes.groupby(BOARD_GROUP, dropna=False, sort=True))
    for i, (key, fam) in enumerate(fams[:MAX_FAMILY_PLOTS]):
        title = "Per-case Dice: " + _family_title(dict(zip(BOARD_GROUP, key, strict=True)))
        sec.plots.append(_div(figures.box_figure(fam, title, colour), f"box-{i}"))
    return sec


def _spread_section(t: SuiteTables) -> Section:
    sec = Section("spread", "Seed vs case spread")
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


def _cross_section(t: SuiteTables) -> Section:
    sec = Section("cross", "Cross-complexity (train x test)", grid=True)
    if t.cross.empty:
        sec.notes.append(
            "Not shown: the suite has no cross-complexity evaluations (suite key test_complexity)."
        )
        return sec
    pairs = t.cross[["dataset", "model"]].drop_duplicates().itertuples(index=False)
    for i, (ds, model) in enumerate(list(pairs)[:MAX_FAMILY_PLOTS]):
        sec.plots.append(_div(figures.cross_heatmap(t.cross, ds, model), f"cross-{i}"))
    return sec


def _section_3d(cases: pd.DataFrame, jobs: pd.DataFrame, s: StatsSettings) -> Section:
    sec = Section("analysis3d", "3D: context and foreground ratio")
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


def provenance_section(jobs: pd.DataFrame, suite_yaml: str, cases: pd.DataFrame) -> Section:
    sec = Section("provenance", "Provenance", code=suite_yaml or "(suite definition not stored)")
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
        parts.append(condition_label(key["perturbation"], key["severity"]))
    return ", ".join(parts)


def _div(fig: Any, div_id: str) -> Markup:
    return Markup(figures.to_div(fig, div_id))  # plotly escapes < > / inside its JSON
