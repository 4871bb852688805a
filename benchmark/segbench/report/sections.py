"""The report page's sections: each builds its plots, tables and notes from the computed tables.

Why a module of its own: each section decides whether the data supports it (and says why not
when it does not), which is most of the page's logic; ``build.py`` only orchestrates and writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from segbench.core import IN_DOMAIN
from segbench.core.metrics import metric
from segbench.paths import gallery_caption
from segbench.report import analysis3d, figures
from segbench.report.methods import methods_paragraphs
from segbench.report.scoring import scoring_paragraph
from segbench.report.tables import (
    BOARD_GROUP,
    CONDITION,
    SuiteTables,
    condition_label,
    measured_complexity,
)
from segbench.stats.hierarchical import MIN_CASES, MIN_SEEDS
from segbench.store.read import SuiteDefinition

__all__ = [
    "MAX_FAMILY_PLOTS",
    "PageData",
    "Section",
    "box_section",
    "cd_section",
    "complexity_section",
    "cross_section",
    "gallery_section",
    "inference_section",
    "methods_section",
    "rank_section",
    "severity_section",
    "significance_section",
    "variance_section",
]

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
    folded: list[dict[str, Any]] = field(default_factory=list)  # {"title", "plots"} in <details>


@dataclass
class PageData:
    """What every section builder reads (:mod:`segbench.report.page` lists the builders in page order).

    Attributes:
        tables: the suite's statistics (``None`` when no case is stored yet).
        cases: the per-case table with plain model labels (the 3D section splits them by patch).
        jobs: ``Store.jobs(suite)`` with its JSON columns parsed (:func:`segbench.store.read.typed_jobs`).
        suite: the stored suite, parsed once (its YAML in full; the provenance section caps what it shows).
        folder: the suite's report folder (sections may write CSVs or images beside the page).
        baseline_model: the suite's reference model (mCE, relative gain).
        colour: one colour per model label, shared by every figure.
    """

    tables: SuiteTables | None
    cases: pd.DataFrame
    jobs: pd.DataFrame
    suite: SuiteDefinition
    folder: Path
    baseline_model: str
    colour: dict[str, str]


def gallery_section(d: PageData) -> Section | None:
    """The shift gallery written by ``segbench preview`` into the report folder, when there is one."""
    if not (d.folder / "gallery.png").exists():
        return None
    note = gallery_caption(d.folder) or "One case under every perturbation and severity of the suite."
    return Section("gallery", "Shift gallery", notes=[note], image="gallery.png")


def methods_section(d: PageData) -> Section:
    """How every number was computed (the statistics' own paragraphs)."""
    t = _t(d)
    n_nan = int(t.cases["dice"].isna().sum())
    has_3d = analysis3d.has_3d_data(d.cases, d.jobs)
    paragraphs = methods_paragraphs(t.settings, d.baseline_model, has_3d, n_nan, not t.cross.empty)
    scoring = scoring_paragraph(d.cases)
    return Section("methods", "Methods", paragraphs=[*paragraphs, *([scoring] if scoring else [])])


def inference_section(d: PageData) -> Section:
    """What the sample supports: n independent cases and k seeds, and what cannot be inferred."""
    t = _t(d)
    sec = Section("inference", "Sample size and what it supports")
    cis = t.condition_cis
    if cis.empty:
        sec.notes.append("No defined Dice values.")
        return sec
    n_lo, n_hi = int(cis["n"].min()), int(cis["n"].max())
    n_txt = f"{n_lo}" if n_lo == n_hi else f"{n_lo}–{n_hi}"
    common, others = _seed_counts(t, {})
    k_txt = f"{common}" + (f" ({others})" if others else "")
    sec.notes.append(
        f"Every inference uses the test case as the unit: n = {n_txt} independent cases per model and "
        f"condition, k = {k_txt} seeds (trained networks) per model. Tests pair cases with each model's "
        "seeds averaged; intervals resample cases and each model's own seeds (two-level bootstrap); † "
        "and the headline are architecture-level decisions (see Methods)."
    )
    k_model = cis.groupby("model")["n_seeds"].max()
    few = k_model[k_model < MIN_SEEDS]
    if not few.empty:
        named = ", ".join(f"{m} (k = {int(k)})" for m, k in few.items())
        sec.notes.append(
            f"Fewer than {MIN_SEEDS} seeds for {named}: nothing is inferred about their seed-to-seed "
            "variation and no architecture-level claim (†, headline) involves them; a k = 1 model (a "
            "seed-pooled ensemble) has no seed level by design. Their intervals cover seed variation "
            "from at most 2 networks, which understates it."
        )
    if n_lo < MIN_CASES:
        small = cis.loc[cis["n"] < MIN_CASES, ["dataset"]].drop_duplicates()["dataset"].astype(str).tolist()
        sec.notes.append(
            f"Fewer than {MIN_CASES} test cases in some conditions ({', '.join(small)}): their intervals are "
            'flagged "n too small" instead of printed, and their tests (if any) have little power; a '
            "non-significant result there says nothing about equivalence."
        )
    return sec


def cd_section(d: PageData) -> Section:
    """Critical-difference diagrams: in-domain shown, per-perturbation folded."""
    t, colour = _t(d), d.colour
    sec = Section("cd", "Critical-difference rankings", grid=True)
    fr = t.friedman
    if fr.empty or not fr["testable"].any():
        reasons = sorted(set(fr["reason"])) if not fr.empty else ["no cases"]
        sec.notes.append(f"Not shown: no Friedman test was possible ({'; '.join(reasons)}).")
        return sec
    sec.notes.append(
        "Average rank of each model over the test cases (seeds averaged per case; rank 1 = best), "
        f"Friedman test (Iman–Davenport F) and Nemenyi post-hoc at alpha {t.settings.alpha:g} (Demšar "
        "2006): models joined by a bar are not significantly different; CD = critical difference. "
        "In-domain diagrams first; per-perturbation diagrams (severities averaged per case) are folded."
    )
    ok = fr[fr["testable"]]
    compact, folded = [], []
    for i, r in enumerate(ok.to_dict("records")):
        key = {c: r[c] for c in (*BOARD_GROUP, "scope")}
        ranks = t.friedman_ranks[_match(t.friedman_ranks, key)]
        avg = dict(zip(ranks["model"].astype(str), ranks["avg_rank"].astype(float), strict=True))
        title = (
            f"{_family_title(key)}, {key['scope']}<br>Friedman p={r['p_value']:.2g}, "
            f"n={r['n_cases']} cases, {_seeds_text(t, key)}"
        )
        div = _div(figures.cd_diagram(avg, float(r["cd"]), title, colour), f"cd-{i}")
        (compact if key["scope"] == "in-domain" else folded).append(div)
    sec.plots = compact[:MAX_FAMILY_PLOTS]
    if folded:
        sec.folded.append(
            {"title": f"Per-perturbation CD diagrams ({len(folded)})", "plots": folded[:MAX_FAMILY_PLOTS]}
        )
    untestable = fr[~fr["testable"]]
    if not untestable.empty:
        sec.notes.append(
            f"{len(untestable)} block(s) without a Friedman test: "
            + "; ".join(sorted(set(untestable["reason"].astype(str))))
            + "."
        )
    return sec


def significance_section(d: PageData) -> Section:
    """Pairwise effect maps: in-domain shown, shifted conditions folded."""
    t = _t(d)
    sec = Section("significance", "Significance maps", grid=True)
    testable = t.tests[t.tests["testable"]] if not t.tests.empty else t.tests
    if testable.empty:
        sec.notes.append(
            "No testable model pairs (fewer than "
            f"{t.settings.min_pairs} paired cases per condition, a single model, or identical results)."
        )
        return sec
    sec.notes.append(
        "Claims about these trained networks (the † marks speak for the architecture, see Methods): "
        "signed paired effect of the row model over the column model: median per-case Dice difference "
        "(seeds averaged) and Holm-adjusted Wilcoxon p, one family per condition. Blue: row better, red: "
        f"row worse; the colour breaks at p = {t.settings.alpha:g}, every non-significant cell is grey. "
        "One in-domain map per complexity level; per-condition maps are folded below. All pairs with "
        "effect sizes, p-value method and the architecture-level intervals and decisions: tests.csv."
    )
    fams = list(testable.groupby(CONDITION, dropna=False, sort=True))
    compact, folded = [], []
    for i, (key, fam) in enumerate(fams):
        keyd = dict(zip(CONDITION, key, strict=True))
        n = int(fam["n_cases"].max())
        title = f"{_family_title(keyd)}<br>n={n} cases, {_seeds_text(t, keyd)}"
        div = _div(figures.significance_map(fam, title, t.settings.alpha), f"sig-{i}")
        (compact if keyd["perturbation"] == IN_DOMAIN else folded).append(div)
    sec.plots = compact[:MAX_FAMILY_PLOTS]
    if folded:
        sec.folded.append(
            {
                "title": f"Per-condition maps ({len(folded)} shifted conditions)",
                "plots": folded[:MAX_FAMILY_PLOTS],
            }
        )
    if len(compact) > MAX_FAMILY_PLOTS or len(folded) > MAX_FAMILY_PLOTS:
        sec.notes.append(f"Showing at most {MAX_FAMILY_PLOTS} maps per group; all tests are in tests.csv.")
    return sec


def complexity_section(d: PageData) -> Section:
    """In-domain Dice vs complexity per model, and the gain relative to the reference model."""
    t, colour, reference = _t(d), d.colour, d.baseline_model
    id_cis = t.condition_cis[t.condition_cis["perturbation"] == IN_DOMAIN]
    sec = Section("complexity", "Dice vs task complexity")
    levels = id_cis.dropna(subset=["complexity"]).groupby("dataset")["complexity"].nunique()
    datasets = levels[levels >= 2].index.tolist()
    if not datasets:
        sec.notes.append("Not shown: the suite has fewer than two complexity levels per dataset.")
        return sec
    axis = t.settings.complexity_axis
    x_col, x_title = "complexity", "complexity (higher = harder)"
    if axis != "alpha":
        measured = measured_complexity(t.cases, axis)
        if measured.empty:
            sec.notes.append(f"No '{axis}' values recorded: the curves use the generator's complexity.")
        else:
            id_cis = id_cis.merge(measured[["dataset", "complexity", "measured"]], on=BOARD_GROUP, how="left")
            x_col = "measured"
            x_title = f"{metric(axis).title}, mean over each level's test cases (higher = easier)"
            sec.notes.append(f"x axis: {metric(axis).title} per level (mean over its test cases).")
    for i, ds in enumerate(datasets):
        sec.plots.append(_div(figures.complexity_curves(id_cis, ds, colour, x_col, x_title), f"cx-{i}"))
        if reference in set(id_cis.loc[id_cis["dataset"] == ds, "model"]):
            sec.plots.append(_div(figures.relative_gain(id_cis, ds, reference, colour), f"gain-{i}"))
        else:
            sec.notes.append(f"No relative-gain plot for {ds}: baseline_model '{reference}' is not in it.")
    return sec


def severity_section(d: PageData) -> Section:
    """Dice vs severity per shift family."""
    t, colour = _t(d), d.colour
    sec = Section("severity", "Dice vs severity")
    cis = t.condition_cis
    if not (cis["perturbation"] != IN_DOMAIN).any():
        sec.notes.append("Not shown: the suite has no test-time perturbation.")
        return sec
    blocks = cis[BOARD_GROUP].drop_duplicates().itertuples(index=False)
    for i, (ds, cx) in enumerate(list(blocks)[:MAX_FAMILY_PLOTS]):
        fig = figures.severity_curves(cis, ds, cx, colour)
        if fig is not None:
            sec.plots.append(_div(fig, f"sev-{i}"))
    return sec


def rank_section(d: PageData) -> Section:
    """Bootstrap rank frequencies and the share of resamples reproducing the ranking."""
    t, colour = _t(d), d.colour
    sec = Section("ranks", "Rank stability")
    if t.rank_freq.empty or t.rank_freq["model"].nunique() < 2:
        sec.notes.append("Not shown: ranking needs at least two models with shared in-domain cases.")
        return sec
    sec.notes.append(
        f"In-domain ranks over {t.settings.rank_resamples:,} two-level bootstrap resamples (cases, then "
        "each model's own seeds; the same cases for every model); blob area = share of resamples giving "
        "the model that rank. The table gives the share of resamples reproducing the full-data ranking "
        "exactly, with the Wilson 95% interval of its Monte-Carlo error (not a CI of the ranking), and "
        "the median Kendall tau; the 5th percentile only with at least 2,000 resamples."
    )
    fams = list(t.rank_freq.groupby(BOARD_GROUP, dropna=False, sort=True))
    for i, (key, fam) in enumerate(fams[:MAX_FAMILY_PLOTS]):
        title = _family_title(dict(zip(BOARD_GROUP, key, strict=True)))
        sec.plots.append(_div(figures.rank_blobs(fam, f"Ranks: {title}", colour), f"rank-{i}"))
    tau = t.rank_tau.copy()
    tau["same"] = [
        f"{r.share_same_ranking:.3f} [{r.share_low:.3f}, {r.share_high:.3f}]"
        if pd.notna(r.share_same_ranking)
        else "–"
        for r in tau.itertuples(index=False)
    ]
    sec.tables.append(
        _table(
            tau,
            {
                "dataset": "dataset",
                "complexity": "complexity",
                "n_cases": "cases (n)",
                "n_seeds": "seeds (k)",
                "n_models": "models",
                "same": "identical ranking [MC 95%]",
                "tau_median": "Kendall tau (median)",
                "tau_p05": "tau 5th pct",
                "small_n": "limits",
            },
            "rank-tau",
        )
    )
    return sec


def box_section(d: PageData) -> Section:
    """Per-case Dice distributions per block."""
    t, colour = _t(d), d.colour
    sec = Section("distributions", "Per-case distributions")
    sec.notes.append("Boxes: quartiles, whiskers to the most extreme case within 1.5 IQR; dashed line: mean.")
    fams = list(t.boxes.groupby(BOARD_GROUP, dropna=False, sort=True))
    for i, (key, fam) in enumerate(fams[:MAX_FAMILY_PLOTS]):
        title = "Per-case Dice: " + _family_title(dict(zip(BOARD_GROUP, key, strict=True)))
        sec.plots.append(_div(figures.box_figure(fam, title, colour), f"box-{i}"))
    return sec


def variance_section(d: PageData) -> Section:
    """Variance components: would another seed change the ranking?"""
    t = _t(d)
    sec = Section("variance", "Variance components: cases vs seeds")
    pv, v = t.pair_variance, t.variance
    if v.empty and pv.empty:
        sec.notes.append("No defined Dice values.")
        return sec
    sec.notes.append(
        "ANOVA decomposition of a two-way crossed design (every seed's network sees every case): share of "
        "variance from the case (image difficulty), the seed (a trained network shifting every case) and "
        'their interaction. For a model pair, the seed share of the per-case difference answers "would '
        'another seed change the ranking?": a high share means the comparison depends on the training run.'
    )
    if int(v["n_seeds"].max() if not v.empty else 0) < MIN_SEEDS:
        sec.notes.append(
            f"Fewer than {MIN_SEEDS} seeds: point estimates only, no intervals; nothing is inferred "
            "about seeds."
        )
    if not pv.empty:
        pv = pv.assign(seed_ci=_share_ci(pv, "seed"))
        sec.tables.append(
            _table(
                pv,
                {
                    "model": "in-domain pair (a − b)",
                    "dataset": "dataset",
                    "complexity": "complexity",
                    "n_cases": "cases (n)",
                    "n_seeds": "seeds (k)",
                    "mean": "mean difference",
                    "share_case": "case share",
                    "seed_ci": "seed share [95% CI]",
                    "share_resid": "seed x case share",
                    "small_n": "limits",
                },
                "pair-variance",
            )
        )
    in_dom = v[v["perturbation"] == IN_DOMAIN] if not v.empty else v
    if not in_dom.empty:
        in_dom = in_dom.assign(seed_ci=_share_ci(in_dom, "seed"))
        sec.tables.append(
            _table(
                in_dom,
                {
                    "model": "model",
                    "dataset": "dataset",
                    "complexity": "complexity",
                    "n_cases": "cases (n)",
                    "n_seeds": "seeds (k)",
                    "mean": "mean Dice",
                    "share_case": "case share",
                    "seed_ci": "seed share [95% CI]",
                    "share_resid": "seed x case share",
                    "seed_mean_min": "seed mean min",
                    "seed_mean_max": "seed mean max",
                },
                "variance",
            )
        )
        sec.notes.append("In-domain rows shown; every condition is in summary.csv.")
    return sec


def _share_ci(df: pd.DataFrame, comp: str) -> list[str]:
    out = []
    for share, lo, hi in zip(
        df[f"share_{comp}"], df[f"share_{comp}_low"], df[f"share_{comp}_high"], strict=True
    ):
        if pd.isna(share):
            out.append("–")
        elif pd.isna(lo):
            out.append(f"{share:.3f}")
        else:
            out.append(f"{share:.3f} [{lo:.3f}, {hi:.3f}]")
    return out


def _t(d: PageData) -> SuiteTables:
    """The statistics tables (the page only calls statistics builders when there are cases)."""
    if d.tables is None:
        raise ValueError("statistics sections need stored cases")
    return d.tables


def _match(df: pd.DataFrame, key: dict[str, Any]) -> pd.Series:
    mask = pd.Series(True, index=df.index)
    for col, value in key.items():
        mask &= df[col].isna() if pd.isna(value) else df[col] == value
    return mask


def cross_section(d: PageData) -> Section:
    """Train-complexity x test-complexity heatmaps."""
    t = _t(d)
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


def _seeds_text(t: SuiteTables, key: dict[str, Any]) -> str:
    """Seeds per model in a block, said once: ``k=2 seeds`` or ``k=2 seeds (unet_x2: 1)``.

    Why per model: an ensemble over seeds is one network-set (k = 1) beside models with k = 2; a
    block's minimum made a figure say "k=1" where its neighbour said "k=2".
    """
    common, others = _seed_counts(t, key)
    return f"k={common} seeds" + (f" ({others})" if others else "")


def _seed_counts(t: SuiteTables, key: dict[str, Any]) -> tuple[int, str]:
    """The most common seeds per model in a block, and the models that differ (``"unet_x2: 1"``)."""
    cis = t.condition_cis
    cis = cis[_match(cis, {c: key[c] for c in BOARD_GROUP if c in key})]
    if cis.empty:
        return 0, ""
    k = cis.groupby(cis["model"].astype(str))["n_seeds"].max().astype(int)
    common = int(k.mode().max())
    return common, ", ".join(f"{m}: {v}" for m, v in k.items() if v != common)


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
