"""``segbench compare A B``: what changed between two runs, per model x condition, with paired CIs.

A and B are results folders, or baseline JSON files written by ``segbench check --update``. The
statistics are the regression gate's (:func:`segbench.stats.compare_to_baseline`): per model x
condition the mean of B − A over cases matched on seed and case id, with its paired bootstrap CI
(unpaired when too few cases match). The verdict reads the CI: ``B better`` / ``B worse`` when it
excludes 0 (direction from the metric table, so lower HD95 is better), ``no clear difference``
otherwise, ``only in A`` / ``only in B`` for rows one side lacks.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from segbench.core import metric as metric_spec

__all__ = ["CompareResult", "compare_runs", "load_side"]

_COLUMNS = ["model", "dataset", "complexity", "perturbation", "severity", "seed", "case_id"]


@dataclass
class CompareResult:
    """A comparison.

    Attributes:
        table: one row per model x condition: keys, ``mean_a``, ``mean_b``, ``diff`` (B − A),
            ``ci_low``, ``ci_high``, ``paired``, ``n``, ``verdict``.
        text: fixed-width table and a one-line summary, for the terminal.
        html: the same as an HTML page (escaped).
    """

    table: pd.DataFrame
    text: str
    html: str


def load_side(path: str | Path, suite: str | None, metric: str) -> tuple[pd.DataFrame, str]:
    """Per-case long table of one side, and the suite it holds.

    Args:
        path: a results folder or a baseline JSON file.
        suite: suite name (needed when a folder holds several).
        metric: metric column.

    Raises:
        LookupError: no store / unknown suite / several suites and none named.
        ValueError: a JSON file that is not a segbench baseline, or of another metric.
    """
    path = Path(path)
    if path.is_file():
        return _from_baseline(path, metric)
    from segbench.report.tables import with_entries
    from segbench.store import Store

    store = Store(path)
    names = store.suites()
    if not names:
        raise LookupError(
            f"no results store with suites at {store.path}; give a results folder or a baseline JSON"
        )
    if suite is None:
        if len(names) > 1:
            raise LookupError(f"{path} holds several suites {names}; choose one with --suite")
        suite = names[0]
    if suite not in names:
        raise LookupError(f"no suite {suite!r} in {store.path}; stored suites: {names}")
    cases = store.cases(suite)
    cases = with_entries(cases[cases["test_complexity"].isna()])
    if metric not in cases:
        raise ValueError(f"metric {metric!r} is not stored in {store.path}")
    return cases[[*_COLUMNS, metric]], suite


def compare_runs(
    a: str | Path,
    b: str | Path,
    suite: str | None = None,
    metric: str = "dice",
    n_resamples: int = 2000,
    seed: int = 0,
) -> CompareResult:
    """Diff leaderboard B − A per model x condition with paired bootstrap CIs and a verdict.

    Args:
        a: results folder or baseline JSON (the reference).
        b: results folder or baseline JSON (the new run).
        suite: suite to compare. Defaults to the only one (or the baseline's).
        metric: a score metric of :data:`segbench.core.METRICS`. Defaults to ``"dice"``.
        n_resamples: bootstrap resamples per row. Defaults to 2000.
        seed: bootstrap seed. Defaults to 0.

    Returns:
        A :class:`CompareResult`.
    """
    from segbench.stats import compare_to_baseline, make_baseline

    spec = metric_spec(metric)
    df_a, suite_a = load_side(a, suite, metric)
    df_b, suite_b = load_side(b, suite or suite_a, metric)
    raw = compare_to_baseline(
        df_b, make_baseline(df_a, metric), delta=0.0, n_resamples=n_resamples, seed=seed
    )
    sign = -1.0 if spec.direction == "lower" else 1.0
    verdicts = []
    for r in raw.itertuples(index=False):
        if r.status == "missing":
            verdicts.append("only in A")
        elif r.status == "new":
            verdicts.append("only in B")
        elif pd.notna(r.ci_low) and sign * r.ci_low > 0 and sign * r.ci_high > 0:
            verdicts.append("B better")
        elif pd.notna(r.ci_high) and sign * r.ci_high < 0 and sign * r.ci_low < 0:
            verdicts.append("B worse")
        else:
            verdicts.append("no clear difference")
    table = pd.DataFrame(
        {
            "model": raw["model"],
            "dataset": raw["dataset"],
            "complexity": raw["complexity"],
            "perturbation": raw["perturbation"],
            "severity": raw["severity"],
            "mean_a": raw["baseline_mean"],
            "mean_b": raw["current_mean"],
            "diff": raw["diff"],
            "ci_low": raw["ci_low"],
            "ci_high": raw["ci_high"],
            "paired": raw["paired"],
            "n": raw["n_paired"].where(raw["paired"], raw[["n_baseline", "n_current"]].min(axis=1)),
            "verdict": verdicts,
        }
    )
    title = f"{spec.title}: B − A per model x condition (suite {suite_b}); A = {a}, B = {b}"
    return CompareResult(table, _text(table, title), _html(table, title))


def _from_baseline(path: Path, metric: str) -> tuple[pd.DataFrame, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deep
        raise ValueError(f"{path} is not a readable baseline JSON ({exc})") from None
    if not isinstance(data, dict) or "entries" not in data:
        raise ValueError(f"{path} is not a segbench baseline (written by 'segbench check --update')")
    if data.get("metric", "dice") != metric:
        raise ValueError(
            f"{path} holds {data.get('metric')!r}, not {metric!r}; pass --metric {data.get('metric')}"
        )
    rows = []
    for e in data["entries"]:
        for key, value in (e.get("values") or {}).items():
            seed, _, case_id = str(key).partition("/")
            rows.append(
                {
                    "model": e["model"],
                    "dataset": e["dataset"],
                    "complexity": math.nan if e.get("complexity") is None else float(e["complexity"]),
                    "perturbation": e["perturbation"],
                    "severity": int(e["severity"]),
                    "seed": int(seed),
                    "case_id": case_id,
                    metric: float(value),
                }
            )
    return pd.DataFrame(rows, columns=[*_COLUMNS, metric]), str(data.get("suite", ""))


def _cells(table: pd.DataFrame) -> list[list[str]]:
    def num(x: Any, fmt: str = "{:.3f}") -> str:
        return "–" if x is None or pd.isna(x) else fmt.format(x)

    rows = []
    for r in table.itertuples(index=False):
        cond = "in-domain" if r.perturbation == "none" else f"{r.perturbation} s{int(r.severity)}"
        rows.append(
            [
                str(r.model),
                str(r.dataset),
                num(r.complexity, "{:g}"),
                cond,
                num(r.mean_a),
                num(r.mean_b),
                num(r.diff, "{:+.3f}"),
                f"[{num(r.ci_low, '{:+.3f}')}, {num(r.ci_high, '{:+.3f}')}]",
                f"{int(r.n)}{'' if r.paired else ' (unpaired)'}",
                r.verdict,
            ]
        )
    return rows


_HEADER = ["model", "dataset", "cx", "condition", "A", "B", "B − A", "95% CI", "n", "verdict"]


def _summary(table: pd.DataFrame) -> str:
    counts = table["verdict"].value_counts()
    return "; ".join(f"{n} {v}" for v, n in counts.items()) or "no rows"


def _text(table: pd.DataFrame, title: str) -> str:
    view = pd.DataFrame(_cells(table), columns=_HEADER)
    body = view.to_string(index=False) if len(view) else "(no rows)"
    return f"{title}\n{body}\n{_summary(table)}"


def _html(table: pd.DataFrame, title: str) -> str:
    from html import escape

    head = "".join(f"<th>{escape(h)}</th>" for h in _HEADER)
    body = "".join(
        f'<tr class="{escape(row[-1].replace(" ", "-"))}">'
        + "".join(f"<td>{escape(c)}</td>" for c in row)
        + "</tr>"
        for row in _cells(table)
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>segbench compare</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.5rem 2rem}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}}th{{background:#f3f3f3}}
tr.B-worse td{{background:#fde2e2}}tr.B-better td{{background:#e2f5e2}}</style></head>
<body><h1>segbench compare</h1><p>{escape(title)}</p>
<p>Paired bootstrap 95% CI of the mean difference over cases matched on seed and case id (unpaired
where too few match). Verdict: the CI excludes 0 (better/worse in the metric's direction), else no
clear difference.</p>
<table id="compare"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<p>{escape(_summary(table))}</p></body></html>
"""
