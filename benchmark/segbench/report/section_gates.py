"""Report section "What did the gated skips learn?": learned gate value vs complexity, per level.

Reads the gates each gated job stored in ``train_info`` (one list per level, top = full resolution
first; per-channel gates are averaged per level). A level whose gate falls towards 0 as complexity
rises is one the network learned to stop using.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from markupsafe import Markup

from segbench.report import figures
from segbench.report.sections import Section, _table
from segbench.store.read import train_record

__all__ = ["gate_table", "gates_section"]


def gate_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, dataset, complexity, level): mean gate over seeds, min, max, seeds.

    Args:
        jobs: ``Store.jobs(suite)`` (``model``, ``dataset``, ``complexity``, ``seed``, ``train_info``), raw
            or parsed (:func:`segbench.store.read.typed_jobs`).
    """
    cols = ["model", "dataset", "complexity", "level", "gate_mean", "gate_min", "gate_max", "n_seeds"]
    rows = []
    if jobs.empty or "train_info" not in jobs.columns:
        return pd.DataFrame(columns=cols)
    for r in jobs.itertuples(index=False):
        info = train_record(r.train_info)
        gates = info.gates if info is not None else None
        if not gates:
            continue
        for level, values in enumerate(gates):
            rows.append(
                {
                    "model": r.model,
                    "dataset": r.dataset,
                    "complexity": np.nan if r.complexity is None else float(r.complexity),
                    "level": level,
                    "seed": r.seed,
                    "gate": float(np.mean(values)),
                }
            )
    if not rows:
        return pd.DataFrame(columns=cols)
    long = pd.DataFrame(rows)
    out = long.groupby(["model", "dataset", "complexity", "level"], dropna=False)["gate"].agg(
        gate_mean="mean", gate_min="min", gate_max="max", n_seeds="count"
    )
    return out.reset_index()[cols]


def gates_section(jobs: pd.DataFrame) -> Section | None:
    """The section, or None when no job stored gates (no gated model in the suite)."""
    table = gate_table(jobs)
    if table.empty:
        return None
    sec = Section("gates", "What did the gated skips learn?")
    sec.notes.append(
        "Learned skip gates g = sigmoid(w) per level (0 = top, full resolution), averaged over channels "
        "for per-channel gates; line: mean over training seeds, bars: min-max over seeds. Gates start "
        "open (near 1); a gate near 0 means the network stopped using that skip."
    )
    palette = figures.colours([str(level) for level in table["level"].unique()])
    for i, ((model, ds), g) in enumerate(table.groupby(["model", "dataset"], sort=True)):
        fig = go.Figure()
        for level, lv in g.sort_values("complexity").groupby("level"):
            x = lv["complexity"].fillna(0.0).tolist()
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=lv["gate_mean"],
                    mode="lines+markers",
                    name=f"level {level}",
                    line={"color": palette[str(level)]},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": (lv["gate_max"] - lv["gate_mean"]).tolist(),
                        "arrayminus": (lv["gate_mean"] - lv["gate_min"]).tolist(),
                    },
                )
            )
        figures.style(
            fig,
            title=f"{model} on {ds}: learned gate vs task complexity",
            xaxis_title="complexity (higher = harder)",
            yaxis_title="gate value",
            yaxis_range=[0, 1.02],
            height=380,
        )
        sec.plots.append(Markup(figures.to_div(fig, f"gates-{i}")))
    cols = {c: c.replace("_", " ") for c in table.columns}
    sec.tables.append(_table(table, cols, "gates-table"))
    return sec
