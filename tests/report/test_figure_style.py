"""Report figures get plotly_white without per-figure template validation, and keep validation."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from segbench.report.figures import style


def test_style_sets_the_white_template_and_still_validates_the_layout() -> None:
    default = pio.templates.default
    fig = style(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), title="t", height=300)
    layout = fig.to_dict()["layout"]
    assert layout["template"] == pio.templates["plotly_white"].to_plotly_json()
    assert layout["title"] == {"text": "t"} and layout["height"] == 300
    assert pio.templates.default == default  # no global state touched
    with pytest.raises(ValueError, match="titel"):
        style(go.Figure(), titel="typo")
    with pytest.raises(ValueError):  # validation is back on after the template is set
        fig.layout.height = "tall"
