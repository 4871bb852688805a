"""Plotly figures as HTML fragments (plotly.js is loaded once per page, from ``../plotly.min.js``).

Each function takes a tidy table from :mod:`segbench.report.tables` or :mod:`.analysis3d` and returns a
``go.Figure``; no statistics are computed here. Colours are fixed per model across figures (``colours``)
so a model keeps its colour from the curves to the boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from segbench.core import IN_DOMAIN
from segbench.report.tables import condition_label

__all__ = [
    "box_figure",
    "cd_diagram",
    "colours",
    "complexity_curves",
    "cross_heatmap",
    "fbr_scatter",
    "patch_curves",
    "rank_blobs",
    "relative_gain",
    "severity_curves",
    "significance_map",
    "style",
    "to_div",
]

_LAYOUT = {"margin": {"l": 60, "r": 20, "t": 50, "b": 50}}
# for figure dicts written without validation: plotly.js cannot resolve a template *name*
_PLAIN_LAYOUT = {
    "paper_bgcolor": "white",
    "plot_bgcolor": "white",
    "font": {"family": "system-ui, sans-serif"},
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
}


def style(fig: go.Figure, **layout: Any) -> go.Figure:
    """``fig.update_layout(**layout)`` with the ``plotly_white`` template, set without validation.

    Why: naming the template validates and deep-copies its ~10 KB per figure (~45 ms each, about
    a second of a large report); plotly itself sets its default template this way, as a trusted
    object.
    """
    import plotly.io as pio

    fig.update_layout(**layout)
    fig.layout._validate = False
    try:
        fig.layout.template = pio.templates["plotly_white"]
    finally:
        fig.layout._validate = fig._validate
    return fig


def to_div(fig: go.Figure | dict, div_id: str) -> str:
    """An HTML ``<div>`` for ``fig`` that relies on the page's plotly.js (no CDN, works offline).

    ``fig`` may be a plain ``{"data": [...], "layout": {...}}`` dict (the many small maps and CD
    diagrams): it is written without plotly's Python-side validation, which costs ~0.1 s per figure.
    """
    import plotly.io as pio

    return pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
        validate=not isinstance(fig, dict),
    )


def colours(models: Sequence[str]) -> dict[str, str]:
    """A stable colour per model (sorted order, plotly's D3 palette, cycling)."""
    palette = qualitative.D3
    return {m: palette[i % len(palette)] for i, m in enumerate(sorted(set(models)))}


def complexity_curves(
    cis: pd.DataFrame,
    dataset: str,
    colour: dict[str, str],
    x_col: str = "complexity",
    x_title: str = "complexity (higher = harder)",
) -> go.Figure:
    """Mean in-domain Dice vs complexity per model, with the CI as error bars.

    Why bars, not bands: six overlapping shaded bands hid each other; each model's bars are shifted
    sideways by a small step (hover gives the true x), and a legend click hides a model.

    Args:
        cis: per (model, dataset, complexity) in-domain CIs: ``mean``, ``low``, ``high`` (and ``x_col``).
        dataset: dataset to plot.
        colour: model -> colour.
        x_col: column for the x axis (``complexity`` = alpha, or a measured complexity). Defaults to
            ``"complexity"``.
        x_title: x axis title.
    """
    fig = go.Figure()
    rows = cis[(cis["dataset"] == dataset) & cis[x_col].notna()].sort_values(x_col)
    models = sorted(rows["model"].astype(str).unique())
    x_range = float(rows[x_col].max() - rows[x_col].min()) if len(rows) else 0.0
    step = 0.012 * (x_range or 1.0)
    for i, (model, g) in enumerate(rows.groupby("model", sort=True)):
        shift = (i - (len(models) - 1) / 2) * step
        fig.add_trace(
            go.Scatter(
                x=(g[x_col] + shift).tolist(),
                y=g["mean"],
                customdata=g[x_col],
                mode="lines+markers",
                name=model,
                legendgroup=model,
                line={"color": colour[model]},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (g["high"] - g["mean"]).tolist(),
                    "arrayminus": (g["mean"] - g["low"]).tolist(),
                    "thickness": 1.2,
                    "width": 3,
                },
                hovertemplate=f"{model}: %{{y:.3f}} at %{{customdata:g}}<extra></extra>",
            )
        )
    style(
        fig,
        title=f"{dataset}: in-domain Dice vs task complexity (bars: 95% CI)",
        xaxis_title=x_title,
        yaxis_title="mean Dice",
        height=420,
        **_LAYOUT,
    )
    return fig


def relative_gain(cis: pd.DataFrame, dataset: str, reference: str, colour: dict[str, str]) -> go.Figure:
    """Relative in-domain Dice gain over ``reference`` (e.g. ``noskip_unet``) vs complexity, in percent."""
    rows = cis[(cis["dataset"] == dataset) & cis["complexity"].notna()]
    wide = rows.pivot_table(index="complexity", columns="model", values="mean")
    fig = go.Figure()
    for model in sorted(c for c in wide.columns if c != reference):
        gain = 100 * (wide[model] - wide[reference]) / wide[reference]
        fig.add_trace(
            go.Scatter(x=wide.index, y=gain, mode="lines+markers", name=model, line={"color": colour[model]})
        )
    fig.add_hline(y=0, line={"color": "#888", "dash": "dot"})
    style(
        fig,
        title=f"{dataset}: relative Dice gain over {reference} (%)",
        xaxis_title="complexity (higher = harder)",
        yaxis_title=f"(Dice - Dice[{reference}]) / Dice[{reference}] (%)",
        height=380,
        **_LAYOUT,
    )
    return fig


def severity_curves(
    cis: pd.DataFrame, dataset: str, complexity: float, colour: dict[str, str]
) -> go.Figure | None:
    """Dice vs severity, one panel per perturbation; severity 0 is the in-domain result.

    Returns ``None`` when the block has no perturbation.
    """
    block = cis[(cis["dataset"] == dataset) & _same(cis["complexity"], complexity)]
    perts = sorted(p for p in block["perturbation"].unique() if p != IN_DOMAIN)
    if not perts:
        return None
    ncols = min(3, len(perts))
    nrows = -(-len(perts) // ncols)
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=perts, shared_yaxes=True)
    clean = block[block["perturbation"] == IN_DOMAIN].assign(severity=0)
    for i, pert in enumerate(perts):
        r, c = i // ncols + 1, i % ncols + 1
        sub = pd.concat([clean, block[block["perturbation"] == pert]]).sort_values("severity")
        for model, g in sub.groupby("model", sort=True):
            fig.add_trace(
                go.Scatter(
                    x=g["severity"],
                    y=g["mean"],
                    mode="lines+markers",
                    name=model,
                    legendgroup=model,
                    showlegend=i == 0,
                    line={"color": colour[model]},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": (g["high"] - g["mean"]).tolist(),
                        "arrayminus": (g["mean"] - g["low"]).tolist(),
                        "thickness": 1,
                    },
                ),
                row=r,
                col=c,
            )
        fig.update_xaxes(title_text="severity (0 = in-domain)", dtick=1, row=r, col=c)
    fig.update_yaxes(title_text="mean Dice", col=1)
    style(
        fig,
        title=f"{dataset}{_cx(complexity)}: Dice vs severity (bars: 95% CI)",
        height=320 * nrows,
        **_LAYOUT,
    )
    return fig


def significance_map(tests: pd.DataFrame, title: str, alpha: float = 0.05) -> dict:
    """Models x models map of the signed paired effect, coloured only where Holm p < ``alpha``.

    Cell (row ``i``, column ``j``) is ``sign(median per-case difference i - j) * -log10(p_holm)``,
    clipped at 4: blue = the row model is better, red = worse; the colour scale breaks at
    ``-log10(alpha)``, so every non-significant cell is the same light grey whatever its p. The text
    shows the median difference and p; blank cells were not testable (or the diagonal). Returned as a
    plain plotly figure dict (see :func:`to_div`).
    """
    models = sorted(set(tests["model_a"]) | set(tests["model_b"]))
    pos = {m: i for i, m in enumerate(models)}
    z: list[list[float | None]] = [[None] * len(models) for _ in models]
    text = [[""] * len(models) for _ in models]
    for r in tests.itertuples(index=False):
        if pd.isna(r.p_holm):
            continue
        strength = min(-np.log10(max(float(r.p_holm), 1e-300)), 4.0)
        sign = float(np.sign(r.median_diff)) if pd.notna(r.median_diff) else 0.0
        a, b = pos[r.model_a], pos[r.model_b]
        z[a][b], z[b][a] = sign * strength, -sign * strength
        text[a][b] = f"{r.median_diff:+.3f}<br>p={r.p_holm:.2g}"
        text[b][a] = f"{-r.median_diff:+.3f}<br>p={r.p_holm:.2g}"
    brk = float(-np.log10(alpha))
    lo, hi = 0.5 - brk / 8.0, 0.5 + brk / 8.0  # the break at alpha on the [-4, 4] scale
    scale = [
        [0.0, "#b2182b"],
        [lo, "#f4a582"],
        [lo, "#eeeeee"],
        [hi, "#eeeeee"],
        [hi, "#92c5de"],
        [1.0, "#2166ac"],
    ]
    heat = {
        "type": "heatmap",
        "z": z,
        "x": models,
        "y": models,
        "text": text,
        "texttemplate": "%{text}",
        "colorscale": scale,
        "zmin": -4,
        "zmax": 4,
        "colorbar": {
            "title": {"text": "row vs column"},
            "tickvals": [-4, -brk, 0, brk, 4],
            "ticktext": [
                "worse, p 1e-4",
                f"worse, p {alpha:g}",
                "n.s.",
                f"better, p {alpha:g}",
                "better, p 1e-4",
            ],
        },
        "hovertemplate": "%{y} − %{x}: median %{text}<extra></extra>",
    }
    layout = {
        "title": {"text": title, "x": 0.02, "xanchor": "left", "font": {"size": 13}},
        "height": 160 + 48 * len(models),
        "width": 340 + 80 * len(models),
        **_PLAIN_LAYOUT,
        "yaxis": {"autorange": "reversed", "automargin": True, "title": {"text": "row model"}},
        "xaxis": {"automargin": True, "title": {"text": "column model"}},
    }
    return {"data": [heat], "layout": layout}


def cd_diagram(avg_ranks: dict[str, float], cd: float, title: str, colour: dict[str, str]) -> dict:
    """Demšar's critical-difference diagram: average ranks on an axis, groups within CD joined.

    Models hang from their average rank (rank 1 = best, on the left); the better half is labelled on
    the left, the rest on the right; a thick bar joins every maximal group of models whose average
    ranks differ by less than the critical difference (not significantly different, Nemenyi), and the
    CD itself is drawn as a scale bar above the axis. Returned as a plain plotly figure dict.
    """
    from segbench.stats.ranking import cd_cliques

    order = sorted(avg_ranks, key=lambda m: (avg_ranks[m], m))
    k = len(order)
    lo_x, hi_x = 1.0, float(max(k, 2))
    data: list[dict] = [
        _line([lo_x, hi_x], [0, 0], "#333", 1),
        {
            "type": "scatter",
            "x": list(range(1, k + 1)),
            "y": [0] * k,
            "mode": "markers+text",
            "marker": {"symbol": "line-ns-open", "size": 10, "color": "#333"},
            "text": [str(t) for t in range(1, k + 1)],
            "textposition": "top center",
            "hoverinfo": "skip",
            "showlegend": False,
        },
    ]
    notes = []
    half = (k + 1) // 2
    for i, m in enumerate(order):
        left = i < half
        depth = -(0.35 + 0.3 * (i if left else k - 1 - i))
        x_end = lo_x - 0.3 if left else hi_x + 0.3
        trace = _line([avg_ranks[m], avg_ranks[m], x_end], [0, depth, depth], colour.get(m, "#444"), 1.5)
        trace.pop("hoverinfo")
        trace["hovertemplate"] = f"{m}: average rank {avg_ranks[m]:.2f}<extra></extra>"
        data.append(trace)
        notes.append(
            {
                "x": x_end,
                "y": depth,
                "text": f"{m} ({avg_ranks[m]:.2f})",
                "showarrow": False,
                "xanchor": "right" if left else "left",
                "font": {"size": 12},
            }
        )
    for j, group in enumerate(cd_cliques(avg_ranks, cd)):
        y = -0.12 - 0.08 * j
        bar = _line([avg_ranks[group[0]] - 0.03, avg_ranks[group[-1]] + 0.03], [y, y], "#000", 4)
        bar.pop("hoverinfo")
        bar["hovertemplate"] = "not significantly different: " + ", ".join(group) + "<extra></extra>"
        data.append(bar)
    if np.isfinite(cd):
        bar = _line([lo_x, lo_x + cd], [0.45, 0.45], "#b00", 2)
        bar.update(mode="lines+markers", marker={"symbol": "line-ns-open", "size": 8, "color": "#b00"})
        data.append(bar)
        notes.append(
            {"x": lo_x + cd / 2, "y": 0.45, "yshift": 12, "text": f"CD = {cd:.2f}", "showarrow": False}
        )
    rows = max(half, k - half)
    # Labels hang outside the axis: reserve room for the longest one so none is clipped
    # ("ttention_unet"); about 7.5 px per character at font size 12.
    hanging = [len(str(n["text"])) for n in notes if n.get("xanchor") in ("left", "right")]
    label_px = 7.5 * max(hanging, default=8)
    width = int(max(620, 4 * label_px + 320))
    plot_px, span = width - 40, hi_x - lo_x
    pad = (label_px * span + 0.3 * plot_px) / (plot_px - 2 * label_px) + 0.2
    layout = {
        "title": {"text": title, "x": 0.02, "xanchor": "left", "font": {"size": 13}},
        "width": width,
        "xaxis": {"range": [lo_x - pad, hi_x + pad], "visible": False},
        "yaxis": {"range": [-(0.35 + 0.3 * rows) - 0.2, 0.7], "visible": False},
        "height": 190 + 38 * rows,
        "annotations": notes,
        **_PLAIN_LAYOUT,
        "margin": {"l": 20, "r": 20, "t": 50, "b": 10},
    }
    return {"data": data, "layout": layout}


def _line(x: list[float], y: list[float], colour: str, width: float) -> dict:
    return {
        "type": "scatter",
        "x": x,
        "y": y,
        "mode": "lines",
        "line": {"color": colour, "width": width},
        "hoverinfo": "skip",
        "showlegend": False,
    }


def rank_blobs(freq: pd.DataFrame, title: str, colour: dict[str, str]) -> go.Figure:
    """challengeR-style blob plot: marker area ~ share of bootstrap resamples giving a model each rank."""
    f = freq[freq["frequency"] > 0]
    order = f.drop_duplicates("model").sort_values(["full_rank", "model"])["model"].tolist()
    fig = go.Figure()
    for model in order:
        g = f[f["model"] == model]
        fig.add_trace(
            go.Scatter(
                x=[model] * len(g),
                y=g["rank"],
                mode="markers",
                name=model,
                showlegend=False,
                marker={"size": 6 + 34 * np.sqrt(g["frequency"]), "color": colour.get(model, "#444")},
                customdata=g["frequency"],
                hovertemplate="%{x}: rank %{y} in %{customdata:.1%} of resamples<extra></extra>",
            )
        )
    n = max(len(order), 1)
    style(
        fig,
        title=title,
        xaxis={"categoryorder": "array", "categoryarray": order, "title": "model (by full-data rank)"},
        yaxis={"autorange": "reversed", "dtick": 1, "title": "bootstrap rank", "range": [n + 0.5, 0.5]},
        height=320,
        **_LAYOUT,
    )
    return fig


def box_figure(boxes: pd.DataFrame, title: str, colour: dict[str, str]) -> go.Figure:
    """Per-case Dice distribution per condition (x) and model (colour) from precomputed box stats."""
    fig = go.Figure()
    b = boxes.assign(
        cond=[_cond(p, s) for p, s in zip(boxes["perturbation"], boxes["severity"], strict=True)]
    )
    for model, g in b.groupby("model", sort=True):
        fig.add_trace(
            go.Box(
                x=g["cond"],
                q1=g["q1"],
                median=g["median"],
                q3=g["q3"],
                lowerfence=g["lowerfence"],
                upperfence=g["upperfence"],
                mean=g["mean"],
                name=model,
                marker_color=colour[model],
                boxpoints=False,
            )
        )
    order = list(dict.fromkeys(b["cond"]))  # the caller's row order (in-domain first, suite order)
    fig.update_xaxes(categoryorder="array", categoryarray=order)
    style(
        fig,
        title=title,
        boxmode="group",
        yaxis_title="per-case Dice",
        xaxis_title="condition",
        height=380,
        **_LAYOUT,
    )
    return fig


def cross_heatmap(cross: pd.DataFrame, dataset: str, model: str) -> go.Figure:
    """Train complexity (rows) x test complexity (columns) mean Dice of one model."""
    g = cross[(cross["dataset"] == dataset) & (cross["model"] == model)]
    mat = g.pivot_table(index="train_complexity", columns="test_complexity", values="dice")
    fig = go.Figure(
        go.Heatmap(
            z=mat.to_numpy(dtype=float),
            x=[f"{v:g}" for v in mat.columns],
            y=[f"{v:g}" for v in mat.index],
            text=mat.map(lambda v: "" if pd.isna(v) else f"{v:.2f}").to_numpy(),
            texttemplate="%{text}",
            colorscale="Viridis",
            zmin=0,
            zmax=1,
            colorbar={"title": "Dice"},
            hovertemplate="train %{y}, test %{x}: Dice %{text}<extra></extra>",
        )
    )
    style(
        fig,
        title=f"{model} on {dataset}: train x test complexity",
        xaxis={"title": "test complexity", "type": "category"},
        yaxis={"title": "train complexity", "type": "category"},
        height=360,
        width=460,
        **_LAYOUT,
    )
    return fig


def patch_curves(cis: pd.DataFrame, dataset: str, colour: dict[str, str]) -> go.Figure:
    """In-domain Dice vs patch size per model with 95% CI bars (patch sizes ordered by voxels)."""
    rows = cis[cis["dataset"] == dataset]
    order = rows.sort_values("voxels", na_position="last")["patch"].drop_duplicates().tolist()
    fig = go.Figure()
    for model, g in rows.groupby("model", sort=True):
        g = g.set_index("patch").reindex([p for p in order if p in set(g["patch"])])
        fig.add_trace(
            go.Scatter(
                x=g.index.tolist(),
                y=g["estimate"],
                mode="lines+markers",
                name=model,
                line={"color": colour.get(model, "#444")},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (g["high"] - g["estimate"]).tolist(),
                    "arrayminus": (g["estimate"] - g["low"]).tolist(),
                },
            )
        )
    style(
        fig,
        title=f"{dataset}: in-domain Dice vs training patch size (bars: 95% CI)",
        xaxis={"title": "patch size (context)", "categoryorder": "array", "categoryarray": order},
        yaxis_title="mean Dice",
        height=400,
        showlegend=True,
        **_LAYOUT,
    )
    return fig


def fbr_scatter(
    points: pd.DataFrame, dataset: str, colour: dict[str, str], max_points: int = 4000
) -> go.Figure:
    """Per-case Dice vs test-volume foreground ratio (log x), one colour per model / patch entry.

    ``points`` has ``dataset``, ``model`` (entry), ``fbr``, ``dice``; at most ``max_points`` are drawn
    (a seeded random subset) to keep the page light.
    """
    rows = points[(points["dataset"] == dataset) & points["fbr"].notna()]
    if len(rows) > max_points:
        rows = rows.sample(max_points, random_state=0)
    fig = go.Figure()
    for model, g in rows.groupby("model", sort=True):
        fig.add_trace(
            go.Scattergl(
                x=g["fbr"],
                y=g["dice"],
                mode="markers",
                name=model,
                marker={"size": 6, "opacity": 0.7, "color": colour.get(model)},
            )
        )
    style(
        fig,
        title=f"{dataset}: Dice vs test-volume foreground ratio",
        xaxis={"title": "foreground ratio of the test volume", "type": "log"},
        yaxis_title="Dice",
        height=400,
        **_LAYOUT,
    )
    return fig


def _alpha(colour: str, a: float) -> str:
    """``#rrggbb`` -> ``rgba(r,g,b,a)`` for translucent CI bands."""
    h = colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{a})"


def _same(series: pd.Series, value: float) -> pd.Series:
    """Equality that treats NaN == NaN (complexity is NaN for datasets without the knob)."""
    return series.isna() if pd.isna(value) else series == value


def _cx(complexity: float) -> str:
    return "" if pd.isna(complexity) else f", complexity {complexity:g}"


def _cond(perturbation: str, severity: int) -> str:
    return condition_label(perturbation, severity)
