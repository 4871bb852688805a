"""Markdown and LaTeX leaderboards with the page's columns (per-shift, worst case, drop, costs).

Why beside :mod:`segbench.report.exports`: that module writes the per-case CSVs and the pooled board;
these two files follow the first-screen leaderboard (:mod:`segbench.report.leaderboard`), Dice only.
"""

from __future__ import annotations

from pathlib import Path

from segbench.report.exports import _tex_escape, markdown_cell
from segbench.report.leaderboard import BoardTable, export_rows

__all__ = ["board_markdown", "board_tex", "write_board_exports"]

_NOTE = (
    "Dice: mean [95% CI, two-level: cases and seeds]; shift columns: mean over the shift's severities; "
    "mean OOD: harder shifts, families weighted equally; worst OOD: the lowest condition mean; drop: "
    "in-domain - mean OOD; † significantly worse than the best model of its block, architecture level "
    "(cases and each model's seeds resampled, Holm over the block's pairs x conditions, >= 3 seeds)."
)


def board_markdown(tables: list[BoardTable]) -> str:
    """GitHub-flavoured Markdown table; labels escaped (HTML and ``|``: :func:`markdown_cell`)."""
    header, rows = export_rows(tables)
    lines = ["| " + " | ".join(markdown_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows]
    return "\n".join([*lines, "", _NOTE]) + "\n"


def board_tex(tables: list[BoardTable]) -> str:
    """A booktabs ``tabular`` (needs ``\\usepackage{booktabs}``), special characters escaped."""
    header, rows = export_rows(tables)
    lines = [
        "% segbench leaderboard; " + _NOTE.replace("†", "\\dag").replace("%", "\\%"),
        "\\begin{tabular}{llrl" + "l" * (len(header) - 4) + "}",
        "\\toprule",
        " & ".join(_tex_escape(h) for h in header) + " \\\\",
        "\\midrule",
    ]
    lines += [" & ".join(_tex_escape(c).replace("†", "$^\\dag$") for c in row) + " \\\\" for row in rows]
    return "\n".join([*lines, "\\bottomrule", "\\end{tabular}"]) + "\n"


def write_board_exports(folder: Path, tables: list[BoardTable]) -> list[Path]:
    """(Over)write ``leaderboard.md`` and ``leaderboard.tex`` in ``folder``; nothing when no table."""
    if not tables:
        return []
    md, tex = folder / "leaderboard.md", folder / "leaderboard.tex"
    md.write_text(board_markdown(tables), encoding="utf-8")
    tex.write_text(board_tex(tables), encoding="utf-8")
    return [md, tex]
