"""Report section "Does the model know when it fails?": failure detection from per-case uncertainty.

For every model (and ensemble) and test condition: Spearman(uncertainty, Dice), AUROC for failed cases
(Dice < 0.5) and AURC, with case-bootstrap CIs (:mod:`segbench.stats.failure_detection`); risk-coverage
curves in-domain and under shift; every number in ``failure_detection.csv``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from markupsafe import Markup
from plotly.subplots import make_subplots

from segbench.core import CONDITION_COLUMNS, IN_DOMAIN
from segbench.report import figures
from segbench.report.exports import write_csv
from segbench.report.sections import MAX_FAMILY_PLOTS, Section, _table
from segbench.stats.failure_detection import (
    FAILURE_DICE,
    UNCERTAINTY_FIELDS,
    failure_detection_table,
    risk_coverage,
)

__all__ = ["FAILURE_CSV", "failure_tables", "uncertainty_section"]

FAILURE_CSV = "failure_detection.csv"
_TITLES = {
    "entropy": "predictive entropy",
    "disagreement": "ensemble disagreement",
    "tta_variance": "TTA variance",
}


def failure_tables(cases: pd.DataFrame, n_resamples: int = 500, seed: int = 0) -> pd.DataFrame:
    """Per uncertainty field x model x condition, plus each model pooled in-domain / under shift.

    Pooled rows carry ``perturbation = "in-domain (all)"`` or ``"shifted (all)"`` and severity 0.
    """
    frames = []
    base = _scored(cases)
    pooled = base.assign(
        perturbation=base["perturbation"].map(
            lambda p: "in-domain (all)" if p == IN_DOMAIN else "shifted (all)"
        ),
        severity=0,
    )
    for field in UNCERTAINTY_FIELDS:
        if field not in base.columns or base[field].isna().all():
            continue
        for table in (base, pooled):
            frames.append(
                failure_detection_table(
                    table, ["model", *CONDITION_COLUMNS], field, FAILURE_DICE, n_resamples, seed=seed
                )
            )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def uncertainty_section(cases: pd.DataFrame, folder: Path, colour: dict[str, str]) -> Section:
    """The section (and ``failure_detection.csv`` in ``folder``)."""
    sec = Section("failure-detection", "Does the model know when it fails?")
    table = failure_tables(cases)
    if table.empty:
        sec.notes.append(
            "Not shown: no per-case uncertainty is stored (results from before segbench measured it; "
            "re-evaluate with a new results folder to fill it in)."
        )
        return sec
    write_csv(table, folder / FAILURE_CSV)  # formula cells escaped
    sec.notes.append(
        f"A case fails when its Dice is below {FAILURE_DICE:g}. Spearman < 0: more uncertain cases score "
        "worse (good). AUROC: probability that a failed case is more uncertain than a successful one "
        "(0.5 = chance, undefined when no or every case failed). AURC: mean risk (1 - Dice) when accepting "
        "the most certain cases first, averaged over coverages; compare with the oracle (perfect ordering) "
        "and random (= mean risk) values. 95% CIs resample test cases (with all their seed rows)."
    )
    pooled = table[table["perturbation"].isin(["in-domain (all)", "shifted (all)"])]
    cols = {
        "uncertainty": "uncertainty",
        "model": "model",
        "dataset": "dataset",
        "complexity": "complexity",
        "perturbation": "test",
        "n": "n",
        "n_failed": "failed",
        "spearman_ci": "Spearman [CI]",
        "auroc_ci": "AUROC [CI]",
        "aurc_ci": "AURC [CI]",
        "aurc_oracle": "AURC oracle",
        "aurc_random": "AURC random",
    }
    sec.tables.append(_table(_with_ci_text(pooled), cols, "failure-pooled"))
    per_condition = table[~table.index.isin(pooled.index)]
    sec.tables.append(
        _table(
            _with_ci_text(per_condition).assign(perturbation=_condition_text(per_condition)),
            cols,
            "failure-all",
        )
    )
    field = next(f for f in UNCERTAINTY_FIELDS if f in set(table["uncertainty"]))
    blocks = _scored(cases)[["dataset", "complexity"]].drop_duplicates().itertuples(index=False)
    for i, (ds, cx) in enumerate(list(blocks)[:MAX_FAMILY_PLOTS]):
        sec.plots.append(
            Markup(figures.to_div(_risk_coverage_figure(cases, ds, cx, field, colour), f"rc-{i}"))
        )
    return sec


def _risk_coverage_figure(
    cases: pd.DataFrame, dataset: str, complexity: float, field: str, colour: dict[str, str]
) -> go.Figure:
    scored = _scored(cases)
    block = scored[(scored["dataset"] == dataset) & _same(scored["complexity"], complexity)]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("in-domain", "under shift (all shifted conditions)"))
    for col, part in enumerate(
        (block[block["perturbation"] == IN_DOMAIN], block[block["perturbation"] != IN_DOMAIN]), 1
    ):
        for model, g in part.dropna(subset=[field, "dice"]).groupby("model", sort=True):
            coverage, risk = risk_coverage(g[field].to_numpy(float), 1 - g["dice"].to_numpy(float))
            fig.add_trace(
                go.Scatter(
                    x=coverage,
                    y=risk,
                    mode="lines",
                    name=str(model),
                    legendgroup=str(model),
                    showlegend=col == 1,
                    line={"color": colour.get(str(model), "#444")},
                ),
                row=1,
                col=col,
            )
    title = f"{dataset}" + ("" if pd.isna(complexity) else f", complexity {complexity:g}")
    figures.style(
        fig,
        title=f"{title}: risk-coverage by {_TITLES[field]} (lower is better)",
        height=380,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
    )
    fig.update_xaxes(title_text="coverage (most certain cases first)")
    fig.update_yaxes(title_text="selective risk (1 - Dice)", col=1)
    return fig


def _scored(cases: pd.DataFrame) -> pd.DataFrame:
    """Rows that pair a prediction with a test case of its own level (cross-complexity rows left out)."""
    out = cases
    if "test_complexity" in out.columns:
        out = out[pd.to_numeric(out["test_complexity"], errors="coerce").isna()]
    for col in ("dice", *UNCERTAINTY_FIELDS):
        if col in out.columns:
            out = out.assign(**{col: pd.to_numeric(out[col], errors="coerce")})
    return out


def _with_ci_text(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for name in ("spearman", "auroc", "aurc"):
        out[f"{name}_ci"] = [
            "–" if pd.isna(v) else f"{v:.3f}" + ("" if pd.isna(lo) else f" [{lo:.3f}, {hi:.3f}]")
            for v, lo, hi in zip(out[name], out[f"{name}_low"], out[f"{name}_high"], strict=True)
        ]
    return out


def _condition_text(table: pd.DataFrame) -> list[str]:
    from segbench.report.tables import condition_label

    return [condition_label(p, int(s)) for p, s in zip(table["perturbation"], table["severity"], strict=True)]


def _same(series: pd.Series, value: float) -> pd.Series:
    return series.isna() if pd.isna(value) else series == value
