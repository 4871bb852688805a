"""Exports written beside each report page: per-case CSV, summary CSV, LaTeX and Markdown tables.

Why hand-written LaTeX/Markdown rather than ``DataFrame.to_latex``/``to_markdown``: those need jinja2
styling and ``tabulate`` respectively, and a paper table wants "mean [low, high]" cells and escaped
model names, which are simplest to format directly.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import NamedTuple

import pandas as pd

__all__ = [
    "CASE_COLUMNS",
    "BoardCells",
    "board_cells",
    "cap_text",
    "case_columns",
    "csv_safe",
    "leaderboard_markdown",
    "leaderboard_tex",
    "markdown_cell",
    "write_csv",
    "write_exports",
]

_KEY_COLUMNS: tuple[str, ...] = (
    "model",
    "model_name",
    "dataset",
    "dataset_label",
    "complexity",
    "patch",
    "perturbation",
    "severity",
    "preset",
    "test_complexity",
    "seed",
    "case_id",
)


def case_columns() -> list[str]:
    """Columns of ``cases.csv``: the keys, then every metric-table entry, then the perturbation draw.

    Read from :data:`segbench.core.METRICS` at call time, so a metric added there is exported.
    """
    from segbench.core import metrics as table

    return [
        *_KEY_COLUMNS,
        *(m.name for m in (*table.METRICS, *table.CASE_META_FIELDS)),
        "perturbation_params",
    ]


CASE_COLUMNS: list[str] = case_columns()
"""``case_columns()`` at import time (kept for callers that want a constant)."""

_HEADER = ["Dataset", "Complexity", "Rank", "Model", "In-domain Dice", "OOD Dice", "Drop", "mCE"]


class BoardCells(NamedTuple):
    """One leaderboard row as display strings, in :data:`_HEADER` order (read by name, not position)."""

    dataset: str
    complexity: str
    rank: str
    model: str
    id: str
    ood: str
    drop: str
    mce: str


def board_cells(board: pd.DataFrame) -> list[BoardCells]:
    """Leaderboard rows as display strings (shared by the page and the HTML-free exports)."""
    rows = []
    for r in board.itertuples(index=False):
        rows.append(
            BoardCells(
                dataset=str(r.dataset),
                complexity=_num(r.complexity, 2, "–"),
                rank=_num(r.rank, 0, "–"),
                model=str(r.model),
                id=_ci(r.id_mean, r.id_low, r.id_high, _flag(r, "id_small_n"))
                + _mark(r, "mark", "significantly_worse"),
                ood=_ci(r.ood_mean, r.ood_low, r.ood_high, _flag(r, "ood_small_n"))
                + _mark(r, "ood_mark", "ood_significantly_worse"),
                drop=_num(r.drop, 3, "–"),
                mce=_num(r.mce, 2, "–"),
            )
        )
    return rows


def markdown_cell(text: str) -> str:
    """A Markdown table cell: HTML special characters escaped (GitHub renders raw HTML), ``|`` escaped,
    line breaks flattened (a newline would end the table row)."""
    import html

    flat = " ".join(str(text).splitlines())
    return html.escape(flat, quote=False).replace("|", r"\|")


def leaderboard_markdown(board: pd.DataFrame) -> str:
    """GitHub-flavoured Markdown table; labels are escaped (:func:`markdown_cell`)."""
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    for row in board_cells(board):
        lines.append("| " + " | ".join(markdown_cell(c) for c in row) + " |")
    lines.append("")
    lines.append(
        "Dice: mean over test cases of the per-case seed means [95% two-level bootstrap CI; "
        "'n too small' below 10 cases]; † significantly worse than the best model, a claim about the "
        "architecture (cases and each model's seeds resampled, Holm over the block; needs >= 3 seeds)."
    )
    return "\n".join(lines) + "\n"


def leaderboard_tex(board: pd.DataFrame) -> str:
    """A booktabs ``tabular`` (needs ``\\usepackage{booktabs}``), special characters escaped."""
    lines = [
        "% segbench leaderboard; Dice: mean [95% CI]; \\dag: significantly worse than the best "
        "(architecture level, Holm)",
        "\\begin{tabular}{llrlllrr}",
        "\\toprule",
        " & ".join(_HEADER) + " \\\\",
        "\\midrule",
    ]
    for row in board_cells(board):
        cells = [_tex_escape(c).replace("†", "$^\\dag$") for c in row]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def write_exports(
    folder: Path, cases: pd.DataFrame, board: pd.DataFrame, summary: pd.DataFrame
) -> list[Path]:
    """Write ``cases.csv``, ``summary.csv``, ``leaderboard.md`` and ``leaderboard.tex`` into ``folder``.

    Args:
        folder: the suite's report folder.
        cases: per-case table (raw, as the store returns it).
        board: leaderboard from :func:`segbench.report.tables.leaderboard`.
        summary: per model x condition summary (mean, CI, n, seed/case spread).

    Returns:
        The written paths.
    """
    paths = [folder / n for n in ("cases.csv", "summary.csv", "leaderboard.md", "leaderboard.tex")]
    write_csv(cases.reindex(columns=case_columns()), paths[0])
    write_csv(summary, paths[1])
    paths[2].write_text(leaderboard_markdown(board), encoding="utf-8")
    paths[3].write_text(leaderboard_tex(board), encoding="utf-8")
    return paths


EMBED_LIMIT = 64 * 1024
"""Most characters of user text (suite description, suite YAML) a report page embeds."""


def cap_text(text: str, limit: int = EMBED_LIMIT) -> str:
    """``text`` cut to ``limit`` characters with a note saying so.

    Why: a report embeds the suite's description and YAML; a 50 MB description made a 100 MB page.
    """
    if len(text) <= limit:
        return text
    note = f"[... truncated: {limit:,} of {len(text):,} characters shown; see the suite file]"
    return text[:limit] + "\n" + note


def csv_safe(table: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``table`` whose text cells cannot run as spreadsheet formulas (CSV injection).

    As OWASP recommends, a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return
    gets a leading ``'``. Numbers stay numbers: numeric columns are untouched, and so is text that is
    a plain number (``"-0.5"``), which a spreadsheet cannot evaluate as a formula.
    """
    out = table.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_csv_cell)
    if out.columns.dtype == object:
        out.columns = [_csv_cell(c) for c in out.columns]
    return out


def write_csv(table: pd.DataFrame, path: Path) -> Path:
    """Write ``table`` as CSV without the index, formula-like cells escaped (:func:`csv_safe`)."""
    csv_safe(table).to_csv(path, index=False)
    return path


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _csv_cell(value: object) -> object:
    if not isinstance(value, str) or not value.startswith(_FORMULA_START) or _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def _num(x: object, digits: int, missing: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)) or pd.isna(x):
        return missing
    return f"{float(x):.{digits}f}"


def _ci(mean: object, low: object, high: object, too_small: bool = False) -> str:
    if _num(mean, 3, "") == "":
        return "–"
    if too_small:  # fewer than 10 independent cases: no interval is printed (issue 9)
        return f"{_num(mean, 3, '–')} [n too small]"
    return f"{_num(mean, 3, '–')} [{_num(low, 3, '–')}, {_num(high, 3, '–')}]"


def _flag(row: object, column: str) -> bool:
    """Whether the row's small-sample flag says "n too small" (fewer than 10 cases)."""
    return "n too small" in str(getattr(row, column, "") or "")


def _mark(row: object, column: str, worse_column: str) -> str:
    """`` †`` for a mark backed by test and effect, `` (mixed)`` when they disagree.

    Boards without a ``mark`` column (older callers) fall back to the boolean ``worse_column``.
    """
    if not hasattr(row, column):
        return " †" if bool(getattr(row, worse_column, False)) else ""
    mark = str(getattr(row, column) or "")
    return " †" if mark == "worse" else " (mixed)" if mark == "mixed" else ""


_TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def _tex_escape(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in text)
