"""Plotly figures as HTML fragments (plotly.js is loaded once per page)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

__all__ = ["complexity_curves", "to_div"]


def to_div(fig: go.Figure, div_id: str) -> str:
    """An HTML ``<div>`` for ``fig`` that relies on the page's plotly.js."""
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False})


def complexity_curves(board: pd.DataFrame, dataset: str) -> go.Figure:
    """Mean Dice vs complexity per model, in-domain (solid) and out-of-domain (dashed)."""
    fig = go.Figure()
    rows = board[board["dataset"] == dataset].sort_values("complexity")
    for model, group in rows.groupby("model", sort=True):
        fig.add_trace(
            go.Scatter(
                x=group["complexity"], y=group["id_mean"], mode="lines+markers", name=f"{model} in-domain"
            )
        )
        if group["ood_mean"].notna().any():
            fig.add_trace(
                go.Scatter(
                    x=group["complexity"],
                    y=group["ood_mean"],
                    mode="lines+markers",
                    line={"dash": "dash"},
                    name=f"{model} out-of-domain",
                )
            )
    fig.update_layout(
        title=f"{dataset}: Dice vs task complexity",
        xaxis_title="complexity (alpha: higher = harder)",
        yaxis_title="mean Dice",
        yaxis_range=[0, 1],
        template="plotly_white",
        height=420,
    )
    return fig
