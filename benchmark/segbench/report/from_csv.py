"""``segbench analyze``: the statistics and the report of any long per-case table.

Why: the claims segbench's report makes (architecture-level intervals, controlled decisions) are as
useful for nnU-Net evaluations or another lab's runs as for segbench's own. Such a table has the
columns of segbench's ``cases.csv`` export: required ``model``, ``seed``, ``case_id``, ``dice``;
optional ``dataset``, ``complexity``, ``perturbation``, ``severity``, ``test_complexity``, ``hd95``,
``nsd`` (a missing optional column is one level: one dataset named after the file, no complexity
knob, everything in-domain). The table is validated before any statistic (one line per problem,
naming the file, line and column) and handed to the same :func:`segbench.report.build.render_suite`
that ``segbench report`` uses, so the HTML, ``summary.csv`` and ``tests.csv`` are the same tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from segbench.core import IN_DOMAIN
from segbench.core.defaults import BASELINE_MODEL

if TYPE_CHECKING:
    from segbench.report.build import ReportResult

__all__ = ["REQUIRED", "CasesTableError", "analyze_csv", "read_cases_csv"]

REQUIRED: tuple[str, ...] = ("model", "seed", "case_id", "dice")
_NUMERIC: tuple[str, ...] = ("dice", "hd95", "nsd", "complexity", "test_complexity", "severity")
#: one row = one (model, condition, seed, case)
_ROW_KEYS: tuple[str, ...] = (
    "model",
    "dataset",
    "complexity",
    "patch",
    "perturbation",
    "severity",
    "test_complexity",
    "seed",
    "case_id",
)
_CONDITION = ("dataset", "complexity", "patch", "perturbation", "severity", "test_complexity")


class CasesTableError(ValueError):
    """A per-case table segbench cannot analyse; the message names the file, line and column."""


def read_cases_csv(path: Path) -> pd.DataFrame:
    """Read and validate a long per-case CSV into the table ``Store.cases`` returns.

    Args:
        path: the CSV file.

    Returns:
        The per-case table (``suite``, ``model``, ``model_name``, ``dataset``, ``complexity``, ``patch``,
        ``seed``, ``perturbation``, ``severity``, ``preset``, ``test_complexity``, ``case_id``, the
        metric columns, ...).

    Raises:
        CasesTableError: unreadable file, missing required column, a non-numeric or out-of-range
            metric, a duplicate row, or a model with cases the others lack in a condition.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise CasesTableError(f"{path}: cannot read as CSV: {exc}") from None
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise CasesTableError(
            f"{path}: missing required column {', '.join(repr(c) for c in missing)} "
            f"(required: {', '.join(REQUIRED)}; found: {', '.join(raw.columns) or 'none'})"
        )
    if raw.empty:
        raise CasesTableError(f"{path}: no rows below the header")
    df = raw.copy()
    for col in ("model", "case_id", "seed"):
        blank = df[col].str.strip() == ""
        if blank.any():
            raise CasesTableError(f"{path}: line {_line(blank.idxmax())}, column {col!r}: empty value")
    for col in (c for c in _NUMERIC if c in df.columns):
        df[col] = _numeric(df[col], path, col)
    df["seed"] = _seed(df["seed"])
    df = _with_defaults(df, path)
    _check_duplicates(df, path)
    _check_same_cases(df, path)
    return df


def analyze_csv(
    path: Path, out: Path, self_contained: bool = False, baseline_model: str = BASELINE_MODEL
) -> ReportResult:
    """Report of ``path`` into ``out/<file stem>/``: the same pages and exports as ``segbench report``.

    Args:
        path: the per-case CSV.
        out: reports folder.
        self_contained: also write the one-file page.
        baseline_model: the model corruption errors are normalised to. Defaults to ``BASELINE_MODEL``.

    Returns:
        The :class:`segbench.report.build.ReportResult`.
    """
    from segbench.report.build import render_suite

    cases = read_cases_csv(path)
    name = Path(path).stem
    n_conditions = int(cases.groupby(["model", *_CONDITION, "seed"], dropna=False).ngroups)
    suite_yaml = f"name: {name}\nbaseline_model: {baseline_model}\n"
    return render_suite(
        name,
        cases.assign(suite=name),
        pd.DataFrame(),
        suite_yaml,
        n_conditions,
        n_conditions,
        Path(out),
        self_contained=self_contained,
    )


def _line(index: object) -> int:
    """CSV line of a 0-based data row (the header is line 1)."""
    return int(index) + 2  # type: ignore[call-overload]


def _numeric(col: pd.Series, path: Path, name: str) -> pd.Series:
    """``col`` as floats; an empty cell is NaN, anything else that is not a number is an error."""
    text = col.str.strip()
    values = pd.to_numeric(text.where(text != "", None), errors="coerce")
    bad = values.isna() & (text != "") & ~text.str.lower().isin(["nan", "na", "null", "none"])
    if bad.any():
        i = bad.idxmax()
        raise CasesTableError(f"{path}: line {_line(i)}, column {name!r}: {col[i]!r} is not a number")
    values = values.astype(float)
    if name in ("dice", "nsd"):
        out = (values < 0) | (values > 1)
        if out.any():
            i = out.idxmax()
            raise CasesTableError(f"{path}: line {_line(i)}, column {name!r}: {col[i]} is outside [0, 1]")
    return values


def _seed(col: pd.Series) -> pd.Series:
    """Integer seeds stay integers (as the store has them); other labels stay text."""
    as_int = pd.to_numeric(col.str.strip(), errors="coerce")
    if as_int.notna().all() and (as_int == as_int.round()).all():
        return as_int.astype(np.int64)
    return col.str.strip()


def _with_defaults(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The columns the report expects, a missing optional column being one level."""
    defaults: dict[str, object] = {
        "dataset": path.stem,
        "complexity": np.nan,
        "perturbation": IN_DOMAIN,
        "severity": 0.0,
        "test_complexity": np.nan,
        "patch": "full",
        "preset": None,
    }
    for col, value in defaults.items():
        if col not in df.columns:
            df[col] = value
        elif df[col].dtype == object:
            df[col] = df[col].where(df[col] != "", value)
    df["severity"] = df["severity"].fillna(0).astype(np.int64)
    if "model_name" not in df.columns:
        df["model_name"] = df["model"]
    return df


def _check_duplicates(df: pd.DataFrame, path: Path) -> None:
    dup = df.duplicated(list(_ROW_KEYS), keep=False)
    if dup.any():
        rows = df.index[dup]
        first = rows[0]
        same = df.loc[rows[1:], list(_ROW_KEYS)].eq(df.loc[first, list(_ROW_KEYS)]).all(axis=1)
        second = same.idxmax() if same.any() else rows[1]
        raise CasesTableError(
            f"{path}: line {_line(second)}, column 'case_id': duplicates line {_line(first)} (same model, "
            f"seed, case_id {df.at[first, 'case_id']!r} and condition); one row per model, condition, seed "
            "and case"
        )


def _check_same_cases(df: pd.DataFrame, path: Path) -> None:
    """Every model of a condition must have the same cases, or the pairing would silently shrink."""
    for _, cond in df.groupby(list(_CONDITION), dropna=False, sort=True):
        by_model = cond.groupby("model")["case_id"].apply(lambda c: set(c.astype(str)))
        if len(by_model) < 2:
            continue
        union = set().union(*by_model)
        for model, cases in by_model.items():
            lacking = sorted(union - cases)
            if lacking:
                other = cond[cond["case_id"].astype(str) == lacking[0]]
                i = other.index[0]
                raise CasesTableError(
                    f"{path}: line {_line(i)}, column 'case_id': case {lacking[0]!r} of model "
                    f"{other.at[i, 'model']!r} is missing for model {model!r} in the same condition "
                    f"({_condition_text(other.loc[i])}); every model needs the same cases"
                )


def _condition_text(row: pd.Series) -> str:
    parts = [f"dataset {row['dataset']}", f"perturbation {row['perturbation']} s{int(row['severity'])}"]
    if pd.notna(row["complexity"]):
        parts.insert(1, f"complexity {row['complexity']:g}")
    return ", ".join(parts)
