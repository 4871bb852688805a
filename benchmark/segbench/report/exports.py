"""Exports written beside each report page: per-case CSV, summary CSV, LaTeX and Markdown tables.

Why hand-written LaTeX/Markdown rather than ``DataFrame.to_latex``/``to_markdown``: those need jinja2
styling and ``tabulate`` respectively, and a paper table wants "mean [low, high]" cells and escaped
model names, which are simplest to format directly.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

__all__ = [
    "CASE_COLUMNS",
    "board_cells",
    "leaderboard_markdown",
    "leaderboard_tex",
    "write_exports",
]

CASE_COLUMNS: list[str] = [
    "model",
    "model_name",
    "dataset",
    "complexity",
    "patch",
    "perturbation",
    "severity",
    "preset",
    "test_complexity",
    "seed",
    "case_id",
    "dice",
    "hd95",
    "nsd",
    "tp",
    "fp",
    "fn",
    "n_ref",
    "n_pred",
    "complexity_kl",
    "fbr",
    "entropy",
    "disagreement",
    "tta_variance",
    "perturbation_params",
]

_HEADER = ["Dataset", "Complexity", "Rank", "Model", "In-domain Dice", "OOD Dice", "Drop", "mCE"]


def board_cells(board: pd.DataFrame) -> list[list[str]]:
    """Leaderboard rows as display strings (shared by HTML-free exports), in :data:`_HEADER` order."""
    rows = []
    for r in board.itertuples(index=False):
        rows.append(
            [
                str(r.dataset),
                _num(r.complexity, 2, "–"),
                _num(r.rank, 0, "–"),
                str(r.model),
                _ci(r.id_mean, r.id_low, r.id_high) + (" †" if r.significantly_worse else ""),
                _ci(r.ood_mean, r.ood_low, r.ood_high) + (" †" if r.ood_significantly_worse else ""),
                _num(r.drop, 3, "–"),
                _num(r.mce, 2, "–"),
            ]
        )
    return rows


def leaderboard_markdown(board: pd.DataFrame) -> str:
    """GitHub-flavoured Markdown table; ``|`` in names is escaped."""
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    for row in board_cells(board):
        lines.append("| " + " | ".join(c.replace("|", r"\|") for c in row) + " |")
    lines.append("")
    lines.append("Dice: mean [95% CI]; † significantly worse than the best model (Holm-adjusted Wilcoxon).")
    return "\n".join(lines) + "\n"


def leaderboard_tex(board: pd.DataFrame) -> str:
    """A booktabs ``tabular`` (needs ``\\usepackage{booktabs}``), special characters escaped."""
    lines = [
        "% segbench leaderboard; Dice: mean [95% CI]; \\dag: significantly worse than the best (Holm)",
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
    cases.reindex(columns=CASE_COLUMNS).to_csv(paths[0], index=False)
    summary.to_csv(paths[1], index=False)
    paths[2].write_text(leaderboard_markdown(board), encoding="utf-8")
    paths[3].write_text(leaderboard_tex(board), encoding="utf-8")
    return paths


def _num(x: object, digits: int, missing: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)) or pd.isna(x):
        return missing
    return f"{float(x):.{digits}f}"


def _ci(mean: object, low: object, high: object) -> str:
    if _num(mean, 3, "") == "":
        return "–"
    return f"{_num(mean, 3, '–')} [{_num(low, 3, '–')}, {_num(high, 3, '–')}]"


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
