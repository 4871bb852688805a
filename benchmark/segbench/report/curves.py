"""Training curves: loss and validation Dice per epoch, mean ± SD band over seeds, per model.

Why: a leaderboard number says nothing about whether a model had finished learning; the worker
already records ``{"epoch", "loss", "val_dice"}`` per epoch in ``train_info.history`` (the store keeps
it per job), so the report can show whether curves flattened and how much seeds disagree.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segbench.report.analysis3d import patch_label
from segbench.stats.entries import with_entries
from segbench.store.read import train_record

__all__ = ["curves_section", "history_table"]

_MAX_FIGURES = 24


def history_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Long table of every trained job's history.

    Args:
        jobs: ``Store.jobs(suite)`` (raw or parsed, :func:`segbench.store.read.typed_jobs`); only
            trained jobs count.

    Returns:
        Columns ``model``, ``dataset``, ``complexity``, ``seed``, ``patch``, ``epoch``, ``loss``,
        ``val_dice`` (NaN on epochs without validation); empty when no job recorded a history.
        ``model`` names the competitor as the leaderboard does (``"unet [64x64x64]"`` when a suite
        trains a model at several patch sizes), so two patch sizes are two jobs and two curves.
    """
    cols = ["model", "dataset", "complexity", "seed", "patch", "epoch", "loss", "val_dice"]
    rows: list[dict[str, Any]] = []
    if jobs.empty or "train_info" not in jobs:
        return pd.DataFrame(columns=cols)
    for r in jobs.to_dict("records"):
        if r.get("status", "trained") != "trained":
            continue  # a failed retry keeps an earlier attempt's history; the curves show trained jobs
        info = train_record(r.get("train_info"))
        patch = patch_label(info)
        for h in (info.history if info is not None else None) or []:
            rows.append(
                {
                    "model": str(r["model"]),
                    "dataset": r["dataset"],
                    "complexity": r["complexity"],
                    "seed": r["seed"],
                    "patch": patch,
                    "epoch": h.get("epoch"),
                    "loss": h.get("loss"),
                    "val_dice": h.get("val_dice"),
                }
            )
    out = pd.DataFrame(rows, columns=cols)
    for col in ("complexity", "epoch", "loss", "val_dice"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return with_entries(out)  # one model at two patch sizes: two competitors, as on the leaderboard


def curves_section(jobs: pd.DataFrame, colour: dict[str, str]) -> Any:
    """The report section "Training curves" (one figure per dataset x complexity)."""
    from segbench.report.sections import Section, _div, _table
    from segbench.stats.convergence import MIN_GAIN, TAIL, convergence_table, convergence_text

    sec = Section("curves", "Training curves and convergence")
    hist = history_table(jobs)
    if hist.empty:
        sec.notes.append(_no_history_reason(jobs))
        return sec
    conv = convergence_table(hist)
    warning = convergence_text(conv)
    if warning:
        sec.notes.append(warning + ".")
    elif conv["still_improving"].notna().any():
        sec.notes.append(
            f"Converged: no job's validation Dice rose by more than {MIN_GAIN:g} in its last {TAIL:.0%} "
            "of epochs."
        )
    else:
        sec.notes.append("Convergence not checked: no job validated before its last 20% of epochs.")
    improving = conv[conv["still_improving"].eq(True)]
    if not improving.empty:
        sec.tables.append(
            _table(
                improving,
                {
                    "model": "model",
                    "dataset": "dataset",
                    "complexity": "complexity",
                    "seed": "seed",
                    "epochs": "epochs",
                    "best_before": f"best val Dice before the last {TAIL:.0%}",
                    "best_tail": f"best val Dice in the last {TAIL:.0%}",
                    "gain": "gain",
                },
                "convergence",
            )
            | {"summary": f"Jobs still improving at the end of training ({len(improving)})"}
        )
    n_seeds = int(hist.groupby(["model", "dataset", "complexity"], dropna=False)["seed"].nunique().max())
    sec.notes.append(
        "Mean training loss and validation Dice per epoch over seeds; band: ± 1 SD across seeds"
        + (" (one seed: no band)." if n_seeds < 2 else ".")
    )
    blocks = list(hist.groupby(["dataset", "complexity"], dropna=False, sort=True))
    if len(blocks) > _MAX_FIGURES:
        sec.notes.append(f"Showing the first {_MAX_FIGURES} of {len(blocks)} dataset x complexity blocks.")
    for i, ((ds, cx), block) in enumerate(blocks[:_MAX_FIGURES]):
        title = f"{ds}" + ("" if pd.isna(cx) else f", complexity {cx:g}")
        sec.plots.append(_div(_figure(block, title, colour), f"curves-{i}"))
    return sec


def _figure(block: pd.DataFrame, title: str, colour: dict[str, str]) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from segbench.report.figures import _alpha, style

    fig = make_subplots(rows=1, cols=2, subplot_titles=["training loss", "validation Dice"])
    for model, g in block.groupby("model", sort=True):
        c = colour.get(model, "#444")
        for col_i, metric in enumerate(("loss", "val_dice"), start=1):
            agg = g.dropna(subset=[metric]).groupby("epoch")[metric].agg(["mean", "std"]).reset_index()
            if agg.empty:
                continue
            x = agg["epoch"].tolist()
            if agg["std"].notna().any():
                sd = agg["std"].fillna(0)
                fig.add_trace(
                    go.Scatter(
                        x=x + x[::-1],
                        y=(agg["mean"] + sd).tolist() + (agg["mean"] - sd).tolist()[::-1],
                        fill="toself",
                        mode="lines",
                        line={"width": 0},
                        fillcolor=_alpha(c, 0.18),
                        hoverinfo="skip",
                        showlegend=False,
                        legendgroup=model,
                    ),
                    row=1,
                    col=col_i,
                )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=agg["mean"],
                    mode="lines+markers",
                    name=model,
                    legendgroup=model,
                    showlegend=col_i == 1,
                    line={"color": c},
                ),
                row=1,
                col=col_i,
            )
    fig.update_xaxes(title_text="epoch")
    style(
        fig,
        title=f"Training curves: {title}",
        height=340,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
    )
    return fig


def _no_history_reason(jobs: pd.DataFrame) -> str:
    """Why a suite has no training curve: no job trained, pretrained weights only, or older records."""
    status = jobs["status"] if "status" in jobs else pd.Series(dtype=str)
    trained = jobs[status == "trained"] if not jobs.empty else jobs
    if trained.empty:
        failed = int((status == "failed").sum())
        return (
            f"No training histories: no job of this suite finished training ({failed} failed; "
            "see Failed jobs)."
        )
    epochs = trained["best_epoch"] if "best_epoch" in trained else pd.Series(dtype=float)
    if epochs.isna().all():
        return (
            "No training histories: the models were evaluated from given weights, nothing was trained here."
        )
    return "No training histories stored (jobs trained before histories were recorded)."
