"""Exports do not carry markup or spreadsheet formulas from labels into other tools (fast, no CLI)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from segbench.report.exports import cap_text, csv_safe, leaderboard_markdown, markdown_cell, write_csv


def _board(model: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "dataset": "d",
                "complexity": 0.2,
                "rank": 1,
                "model": model,
                "id_mean": 0.8,
                "id_low": 0.7,
                "id_high": 0.9,
                "significantly_worse": False,
                "ood_mean": float("nan"),
                "ood_low": float("nan"),
                "ood_high": float("nan"),
                "ood_significantly_worse": False,
                "drop": float("nan"),
                "mce": float("nan"),
            }
        ]
    )


def test_markdown_escapes_html_and_pipes() -> None:
    text = leaderboard_markdown(_board('<img src=x onerror="alert(1)"> a|b & c'))
    row = text.splitlines()[2]
    assert "<img" not in row and '&lt;img src=x onerror="alert(1)"&gt; a\\|b &amp; c' in row
    assert row.count(" | ") == 7  # the label's pipe did not add a column
    assert markdown_cell("two\nlines") == "two lines"


def test_csv_cells_that_look_like_formulas_get_a_quote_numbers_stay_numbers(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "model": ['=HYPERLINK("http://x","click")', "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", "unet"],
            "as_text": ["-0.5", "-1", "+2", "=1", "ok", "", "-inf"],
            "dice": [-0.25, 0.5, -1.0, 0.0, 1.0, 0.3, -2.0],
        }
    )
    safe = csv_safe(table)
    assert safe["model"].tolist() == [
        '\'=HYPERLINK("http://x","click")',
        "'+cmd",
        "'-2+3",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "unet",
    ]
    assert safe["as_text"].tolist() == ["-0.5", "-1", "+2", "'=1", "ok", "", "'-inf"]  # plain numbers stay
    assert safe["dice"].tolist() == table["dice"].tolist()  # numeric column untouched
    back = pd.read_csv(write_csv(table, tmp_path / "t.csv"))
    assert back["dice"].dtype == float and back["dice"].iloc[0] == -0.25
    assert back["model"].iloc[0].startswith("'=")


def test_cap_text_truncates_with_a_note() -> None:
    assert cap_text("short") == "short"
    capped = cap_text("x" * 100_000, limit=1000)
    assert capped.startswith("x" * 1000) and len(capped) < 1200 and "truncated: 1,000 of 100,000" in capped
