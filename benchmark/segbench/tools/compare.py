"""``segbench compare A B``: what changed between two runs, per model x condition, with paired CIs.

A and B are results folders, or baseline JSON files written by ``segbench check --update``.

Pairing depends on the seeds, and the output says which one was used:

* **Same seeds on both sides** (a code change, another machine): the regression gate's statistics
  (:func:`segbench.stats.compare_to_baseline`): per model x condition the mean of B − A over cases
  matched on seed and case id, with its paired bootstrap CI (unpaired when too few cases match).
* **Different seeds** (two halves of a study, a rerun with new seeds): networks trained with another
  seed differ by seed noise, and matching seed 1 of A with seed 4 of B means nothing.  Each side is
  averaged over its seeds per case, the cases are paired on case id, and the interval is the
  architecture-level one (:func:`segbench.stats.architecture.crossed_paired_ci`: cases and each
  side's own seeds).  With fewer than 3 seeds on a side, or fewer than 10 paired cases, seed noise
  cannot be told apart from a real change, and the row says so instead of giving a verdict.

The verdict reads the CI: ``B better`` / ``B worse`` when it excludes 0 (direction from the metric
table, so lower HD95 is better), ``no clear difference`` otherwise, ``only in A`` / ``only in B`` for
rows one side lacks.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from segbench.core import IN_DOMAIN
from segbench.core import metric as metric_spec
from segbench.stats.hierarchical import MIN_CASES, MIN_SEEDS

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
        pairing: which pairing was used and why (printed in ``text`` and ``html``).
    """

    table: pd.DataFrame
    text: str
    html: str
    pairing: str = ""


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
    spec = metric_spec(metric)
    df_a, suite_a = load_side(a, suite, metric)
    df_b, suite_b = load_side(b, suite or suite_a, metric)
    sign = -1.0 if spec.direction == "lower" else 1.0
    seeds_a, seeds_b = _seeds(df_a), _seeds(df_b)
    if seeds_a == seeds_b:
        table = _by_seed_and_case(df_a, df_b, metric, sign, n_resamples, seed)
        pairing = f"paired on seed and case id (seeds {seeds_a} on both sides)"
        method = "Paired bootstrap 95% CI of the mean difference over cases matched on seed and case id"
    else:
        table = _by_case(df_a, df_b, metric, sign)
        pairing = (
            f"paired on case id, seed means (seeds differ: A {seeds_a}, B {seeds_b}); a verdict needs "
            f"{MIN_SEEDS}+ seeds per side, as seed noise is otherwise not excluded"
        )
        method = (
            "95% CI of the mean per-case difference of seed means, over cases and each side's own seeds "
            "(architecture level)"
        )
    title = f"{spec.title}: B − A per model x condition (suite {suite_b}); A = {a}, B = {b}"
    return CompareResult(table, _text(table, title, pairing), _html(table, title, pairing, method), pairing)


def _seeds(df: pd.DataFrame) -> str:
    return ", ".join(str(s) for s in sorted(set(df["seed"].dropna().astype(int))))


def _by_seed_and_case(
    df_a: pd.DataFrame, df_b: pd.DataFrame, metric: str, sign: float, n_resamples: int, seed: int
) -> pd.DataFrame:
    """Same seeds: cases matched on (seed, case id), paired bootstrap CI (the gate's statistics)."""
    from segbench.stats import compare_to_baseline, make_baseline

    raw = compare_to_baseline(
        df_b, make_baseline(df_a, metric), delta=0.0, n_resamples=n_resamples, seed=seed
    )
    verdicts = []
    for r in raw.itertuples(index=False):
        if r.status == "missing":
            verdicts.append("only in A")
        elif r.status == "new":
            verdicts.append("only in B")
        else:
            verdicts.append(_verdict(r.ci_low, r.ci_high, sign))
    return pd.DataFrame(
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


def _by_case(df_a: pd.DataFrame, df_b: pd.DataFrame, metric: str, sign: float) -> pd.DataFrame:
    """Different seeds: per-case seed means paired on case id, architecture-level interval."""
    from segbench.stats.architecture import crossed_paired_ci

    keys = ["model", "dataset", "complexity", "perturbation", "severity"]
    sides = [dict(_case_seed_tables(df, keys, metric)) for df in (df_a, df_b)]
    rows = []
    for key in sorted(set(sides[0]) | set(sides[1]), key=lambda k: tuple(map(str, k))):
        ta, tb = sides[0].get(key), sides[1].get(key)
        row: dict[str, Any] = dict(zip(keys, key, strict=True))
        row.update(mean_a=_grand_mean(ta), mean_b=_grand_mean(tb), paired=True, n=0)
        row.update(diff=math.nan, ci_low=math.nan, ci_high=math.nan)
        if ta is None or tb is None:
            row["verdict"] = "only in B" if ta is None else "only in A"
            row["n"] = len(tb if ta is None else ta)
            rows.append(row)
            continue
        common = ta.index.intersection(tb.index)
        r = crossed_paired_ci(tb.loc[common].to_numpy(), ta.loc[common].to_numpy())
        row.update(diff=r["effect"], n=r["n_cases"])
        k = min(r["k_a"], r["k_b"])
        if k < MIN_SEEDS:
            row["verdict"] = f"no verdict: k = {k} < {MIN_SEEDS} seeds"
        elif r["n_cases"] < MIN_CASES:
            row["verdict"] = f"no verdict: {r['n_cases']} cases < {MIN_CASES}"
        else:
            row.update(ci_low=r["low"], ci_high=r["high"])
            row["verdict"] = _verdict(r["low"], r["high"], sign)
        rows.append(row)
    columns = [*keys, "mean_a", "mean_b", "diff", "ci_low", "ci_high", "paired", "n", "verdict"]
    return pd.DataFrame(rows, columns=columns)


def _case_seed_tables(df: pd.DataFrame, keys: list[str], metric: str) -> list[tuple[tuple, pd.DataFrame]]:
    """One (case id x seed) table of ``metric`` per model x condition."""
    out = []
    for key, sub in df.groupby(keys, dropna=False, sort=False):
        table = sub.pivot_table(index="case_id", columns="seed", values=metric, aggfunc="mean", dropna=False)
        out.append((tuple(key), table.astype(float)))
    return out


def _grand_mean(table: pd.DataFrame | None) -> float:
    """Mean over cases of each case's mean over seeds (NaN-aware)."""
    if table is None:
        return math.nan
    means = table.mean(axis=1, skipna=True).dropna()
    return float(means.mean()) if len(means) else math.nan


def _verdict(low: float, high: float, sign: float) -> str:
    if pd.notna(low) and sign * low > 0 and sign * high > 0:
        return "B better"
    if pd.notna(high) and sign * high < 0 and sign * low < 0:
        return "B worse"
    return "no clear difference"


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
    from segbench.stats.regression import validate_baseline

    # The gate's checks, naming this file: an all-NaN or out-of-range side would otherwise read as
    # rows "only in A" (or fail later under the name "<baseline>").
    validate_baseline(data, path)
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
        cond = "in-domain" if r.perturbation == IN_DOMAIN else f"{r.perturbation} s{int(r.severity)}"
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


def _text(table: pd.DataFrame, title: str, pairing: str) -> str:
    view = pd.DataFrame(_cells(table), columns=_HEADER)
    body = view.to_string(index=False) if len(view) else "(no rows)"
    return f"{title}\n{pairing}\n{body}\n{_summary(table)}"


def _html(table: pd.DataFrame, title: str, pairing: str, method: str) -> str:
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
<p id="pairing"><b>Pairing:</b> {escape(pairing)}.</p>
<p>{escape(method)} (unpaired where too few match). Verdict: the CI excludes 0 (better/worse in the
metric's direction), else no clear difference.</p>
<table id="compare"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<p>{escape(_summary(table))}</p></body></html>
"""
