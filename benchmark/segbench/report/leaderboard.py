"""The first-screen leaderboard: one table per dataset, one column per shift family, costs, metric switch.

Why a module of its own: the pooled OOD column of the stats board hides which shift hurts a model
(blur of the background is *easier*, speckle harder), so a reader needs one column per shift family
(the mean over its severities), the worst condition and the ID→OOD drop, for Dice, HD95 and NSD,
beside what a model costs (parameters, training time, peak memory).

What is computed here, and what is taken from the statistics tables:

* Dice in-domain and mean-OOD cells (value, CI, † mark) are the stats board's own
  (:func:`segbench.report.tables.leaderboard`), so the marks keep their tested meaning.
* Every other cell (shift families, worst case, drop, and all HD95/NSD cells) is the mean over test
  cases of the per-case values averaged over seeds and over the family's severities (the case is the
  unit, DESIGN.md §5), with the two-level (cases, each model's own seeds) bootstrap CI of
  :func:`segbench.stats.hier_group_cis` and the small-n rule. No † there: the decisions are on Dice.
* Mean OOD pools the *harder* shift families (catalogue direction, suite override), each family's
  severity mean weighted equally (:func:`segbench.stats.claims.harder_pool`).
* Worst-case OOD = the lowest (HD95: highest) condition mean of the model, naming the condition; its
  CI re-picks the worst inside every resample (:func:`segbench.stats.claims.worst_case_cis`).
* Drop = in-domain − mean OOD for higher-is-better metrics, mean OOD − in-domain for HD95, so a
  positive drop always means "worse under shift".

Pure: values in (DataFrames), values out (dicts the template renders); no I/O.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from segbench.core import IN_DOMAIN, METRICS, MetricSpec
from segbench.core.defaults import BASELINE_MODEL
from segbench.plan.ensembles import ENSEMBLE_MODEL
from segbench.report.shifts import Shift, shift_effects, suite_shifts
from segbench.store.read import NO_SUITE, SuiteDefinition

__all__ = [
    "BoardTable",
    "LeaderboardCell",
    "board_tables",
    "cost_table",
    "export_rows",
    "order_conditions",
    "shift_families",
    "suite_perturbation_order",
]

#: the metrics the switch offers: every score entry of the metric table
SCORE_METRICS: tuple[MetricSpec, ...] = tuple(m for m in METRICS if m.score)
_KEYS = ["model", "dataset", "complexity"]


@dataclass
class LeaderboardCell:
    """One displayed cell: text, the value it sorts by, an optional † and an anchor id."""

    text: str
    value: float = math.nan
    dag: bool = False
    title: str = ""
    anchor: str = ""
    ci: str = ""  # "[low, high]", shown smaller below the value
    href: str = ""  # where the value links to (the cell's predictions page), when there is one


@dataclass
class BoardTable:
    """One dataset's leaderboard.

    Attributes:
        dataset: dataset name.
        table_id: HTML id of the table.
        families: shift names as the suite gave them (column order; :mod:`.shifts`).
        columns: ``(key, header, tooltip)`` of every column after complexity/rank/model.
        rows: per metric name, the rows (dicts with ``complexity``, ``rank``, ``model``, ``cells``).
        values: per (metric, complexity label, model, column key) the numeric value (headline).
    """

    dataset: str
    table_id: str
    families: list[str]
    columns: list[tuple[str, str, str]]
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    values: dict[tuple[str, str, str, str], LeaderboardCell] = field(default_factory=dict)
    legend: list[str] = field(default_factory=list)  # one line per shift: name = definition, measured effect
    shifts: list[Shift] = field(default_factory=list)  # the shift columns' conditions (:mod:`.shifts`)


def suite_perturbation_order(suite_yaml: str) -> list[str]:
    """Perturbation names in the order a suite's YAML lists them (presets resolved to their perturbation).

    For callers holding only the text (``segbench preview``); the report reads
    :attr:`SuiteDefinition.perturbation_order` of the store's read model.
    """
    return list(SuiteDefinition.parse(suite_yaml).perturbation_order)


def shift_families(cases: pd.DataFrame, suite: SuiteDefinition = NO_SUITE) -> list[str]:
    """The shift families (perturbation names other than in-domain) of ``cases``, in suite order.

    Families the suite file does not list (e.g. a renamed suite) follow alphabetically.
    """
    present = set(cases.loc[cases["perturbation"] != IN_DOMAIN, "perturbation"].astype(str))
    order = [p for p in suite.perturbation_order if p in present]
    return order + sorted(present - set(order))


def order_conditions(table: pd.DataFrame, suite: SuiteDefinition = NO_SUITE) -> pd.DataFrame:
    """Rows of a per-condition table sorted: in-domain first, then shifts in suite order, severity up.

    Why: plotly draws categories in the order they first appear, so sorting the box statistics this
    way puts in-domain at the left of every box plot (it was alphabetical, in the middle).
    """
    if table.empty or "perturbation" not in table:
        return table
    families = shift_families(table, suite)
    rank = {IN_DOMAIN: -1, **{p: i for i, p in enumerate(families)}}
    key = table["perturbation"].astype(str).map(rank).fillna(len(rank))
    return (
        table.assign(_order=key.to_numpy())
        .sort_values(["_order", "perturbation", "severity"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def cost_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per model label (dataset, complexity): parameters, mean training seconds per job, peak memory.

    Args:
        jobs: ``Store.jobs(suite)``; only trained jobs count.

    Returns:
        Columns ``model``, ``dataset``, ``complexity``, ``n_params``, ``train_seconds`` (mean per job),
        ``peak_memory_mb`` (max), ``n_jobs``.
    """
    cols = [*_KEYS, "n_params", "train_seconds", "peak_memory_mb", "n_jobs"]
    if jobs.empty or "status" not in jobs:
        return pd.DataFrame(columns=cols)
    done = jobs[jobs["status"] == "trained"].copy()
    if done.empty:
        return pd.DataFrame(columns=cols)
    done["complexity"] = pd.to_numeric(done["complexity"], errors="coerce").astype(float)
    for col in ("n_params", "train_seconds", "peak_memory_mb"):
        done[col] = pd.to_numeric(done.get(col), errors="coerce").astype(float)
    if "model_name" in done:  # an ensemble's row records 0 s: it trains nothing, so no time per job
        done.loc[done["model_name"].astype(str) == ENSEMBLE_MODEL, "train_seconds"] = float("nan")
    g = done.groupby(_KEYS, dropna=False)
    out = g.agg(
        n_params=("n_params", "max"),
        train_seconds=("train_seconds", "mean"),
        peak_memory_mb=("peak_memory_mb", "max"),
        n_jobs=("job_key", "count"),
    )
    return out.reset_index()[cols]


def board_tables(
    cases: pd.DataFrame,
    board: pd.DataFrame,
    jobs: pd.DataFrame,
    suite: SuiteDefinition = NO_SUITE,
    n_resamples: int = 9999,
    confidence: float = 0.95,
    seed: int = 0,
    reference: str = BASELINE_MODEL,
) -> list[BoardTable]:
    """Every dataset's leaderboard, for every score metric.

    Args:
        cases: per-case table after :func:`segbench.report.tables.with_entries`.
        board: the stats leaderboard (Dice ID/OOD values, CIs and marks).
        jobs: ``Store.jobs(suite)`` for the cost columns (may be empty).
        suite: the stored suite (family order, shift names, direction overrides).
        n_resamples, confidence, seed: bootstrap settings of the non-board CIs.
        reference: the suite's baseline model, whose Dice measures each shift's effect (legend).

    Returns:
        One :class:`BoardTable` per dataset (sorted by name).
    """
    same = cases[cases["test_complexity"].isna()] if "test_complexity" in cases else cases
    families = shift_families(same, suite)
    metrics = [m for m in SCORE_METRICS if m.name in same.columns and same[m.name].notna().any()]
    costs = cost_table(jobs)
    from segbench.report.tables import shift_directions

    directions = shift_directions(families, suite)
    tables = []
    for t_i, (dataset, block) in enumerate(same.groupby("dataset", sort=True)):
        shifts = suite_shifts(suite, block)  # the suite's names ("harder"), not the perturbation's
        fams = [sh.name for sh in shifts]
        columns = _columns(fams)
        table = BoardTable(str(dataset), f"leaderboard-{t_i}", fams, columns)
        table.legend = _legend(block, shifts, reference, directions)
        table.shifts = shifts
        for spec in metrics:
            stats = _metric_stats(block, spec, shifts, n_resamples, confidence, seed, directions)
            if spec.name == "dice":
                stats = _with_board(stats, board)
            rows = _rows(table, stats, costs, spec, fams)
            table.rows[spec.name] = rows
        tables.append(table)
    return tables


def export_rows(tables: list[BoardTable], metric: str = "dice") -> tuple[list[str], list[list[str]]]:
    """Header and rows (display strings) of the leaderboards for the Markdown/LaTeX exports."""
    if not tables:
        return [], []
    header = ["Dataset", "Complexity", "Rank", "Model"]
    families = list(dict.fromkeys(f for t in tables for f in t.families))
    header += ["In-domain", *families, "Mean OOD", "Worst OOD", "Drop", "mCE", "Params", "Train s/job"]
    header += ["Peak MB"]
    out = []
    for t in tables:
        for row in t.rows.get(metric, []):
            cells = row["by_key"]
            line = [t.dataset, row["complexity"], row["rank"], row["model"]]
            line.append(_export_text(cells["id"]))
            line += [_export_text(cells[f"fam:{f}"]) if f"fam:{f}" in cells else "–" for f in families]
            line += [
                _export_text(cells[k]) for k in ("ood", "worst", "drop", "mce", "params", "time", "memory")
            ]
            out.append(line)
    return header, out


# -- internals ------------------------------------------------------------------------------------------
def _columns(families: list[str]) -> list[tuple[str, str, str]]:
    cols = [("id", "in-domain", "mean over in-domain test cases")]
    for f in families:
        cols.append((f"fam:{f}", f, f"{f}: mean over its conditions (see the shift legend)"))
    cols += [
        ("ood", "mean OOD", "harder shifts pooled: each family's severity mean, families weighted equally"),
        (
            "worst",
            "worst OOD",
            "the model's worst shift condition (its mean; CI of the worst, re-picked per resample)",
        ),
        ("drop", "drop", "in-domain minus mean OOD over harder shifts (positive = worse under shift)"),
        ("mce", "mCE", "mean corruption error vs the baseline model (Dice only; 1 = as fragile)"),
        ("cost", "cost", "trainable parameters; mean training seconds per job; peak memory of a job (MB)"),
        ("cases", "n / k", "independent test cases in-domain / under shift; k: seeds (networks) of the row"),
    ]
    return cols


def _legend(
    block: pd.DataFrame, shifts: list[Shift], reference: str, directions: dict[str, str]
) -> list[str]:
    """One line per shift: its suite name, what ran, whether it made the task easier or harder (measured
    on the reference model), and whether mean OOD pools it (its registered direction)."""
    effects = shift_effects(block, shifts, reference)
    lines = []
    for sh in shifts:
        e = effects[sh.name]
        line = f"{sh.name} = {sh.definition}"
        if e.verdict != "not measured":
            line += (
                f": {e.verdict} for {e.model} (mean Dice {e.in_domain:.3f} in-domain, "
                f"{e.shifted:.3f} shifted)"
            )
        registered = {directions.get(p, "harder") for p, _ in sh.conditions}
        if registered == {"easier"}:
            line += "; registered as easier, so not pooled in mean OOD and drop"
        lines.append(line)
    return lines


def _two_level(df: pd.DataFrame, by: list[str], metric: str, n: int, conf: float, seed: int) -> pd.DataFrame:
    """Two-level (cases, each model's seeds) CIs of ``metric`` per ``by`` group, after averaging each
    (case, seed) over whatever else ``by`` leaves out (severities of a family); ``n`` = cases,
    ``small`` = fewer than the small-n rule's cases."""
    from segbench.stats import hier_group_cis
    from segbench.stats.hierarchical import MIN_CASES

    cols = [*by, "estimate", "low", "high", "n", "small"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    pooled = df.groupby([*by, "seed", "case_id"], dropna=False)[metric].mean().reset_index()
    ci = hier_group_cis(pooled, by, metric, n_resamples=n, confidence=conf, seed=seed)
    ci = ci.rename(columns={"n_cases": "_cases"}).drop(columns="n").rename(columns={"_cases": "n"})
    ci["small"] = ci["n"] < MIN_CASES
    return ci[cols]


def _metric_stats(
    block: pd.DataFrame,
    spec: MetricSpec,
    shifts: list[Shift],
    n: int,
    conf: float,
    seed: int,
    directions: dict[str, str],
) -> pd.DataFrame:
    """One row per (model, dataset, complexity): ``<col>_mean/low/high/_small`` for id, families, ood,
    worst, and the drop with its CI. Every interval is two-level (cases and each model's own seeds)."""
    from segbench.stats.claims import drop_cis, harder_pool

    m = spec.name
    ind = block[block["perturbation"] == IN_DOMAIN]
    ood = block[block["perturbation"] != IN_DOMAIN]
    pooled = harder_pool(ood, directions, _KEYS, m)
    out = _prefixed(_two_level(ind, _KEYS, m, n, conf, seed), "id")
    out = out.merge(_prefixed(_two_level(pooled, _KEYS, m, n, conf, seed), "ood"), on=_KEYS, how="outer")
    for sh in shifts:
        fam = ood[sh.mask(ood)]
        out = out.merge(
            _prefixed(_two_level(fam, _KEYS, m, n, conf, seed), f"fam:{sh.name}"), on=_KEYS, how="outer"
        )
    out = out.merge(_worst(ood, spec, n, conf, seed), on=_KEYS, how="left")
    if "seed" in block:  # seeds (trained networks) per row: an ensemble's own k, not the suite's
        k = block.groupby(_KEYS, dropna=False)["seed"].nunique().rename("n_seeds").reset_index()
        out = out.merge(k, on=_KEYS, how="left")
    sign = -1.0 if spec.direction == "lower" else 1.0
    drop = drop_cis(ind, pooled, _KEYS, m, sign, n_resamples=n, confidence=conf, seed=seed)
    out = out.merge(drop, on=_KEYS, how="left")
    out["id_dag"] = False
    out["ood_dag"] = False
    return out


def _worst(ood: pd.DataFrame, spec: MetricSpec, n: int, conf: float, seed: int) -> pd.DataFrame:
    """Worst shift condition per model (:func:`segbench.stats.claims.worst_case_cis`), labelled."""
    from segbench.stats.claims import worst_case_cis
    from segbench.stats.hierarchical import MIN_CASES

    cols = [*_KEYS, "worst_mean", "worst_low", "worst_high", "worst_small", "worst_cond"]
    w = worst_case_cis(ood, _KEYS, spec.name, spec.direction == "lower", n, conf, seed)
    if w.empty:
        return pd.DataFrame(columns=cols)
    w["worst_small"] = w["worst_n"] < MIN_CASES
    w["worst_cond"] = [
        _cond_label(str(p), int(s)) for p, s in zip(w["perturbation"], w["severity"], strict=True)
    ]
    return w[cols]


def _with_board(stats: pd.DataFrame, board: pd.DataFrame) -> pd.DataFrame:
    """Dice: the stats board's in-domain / mean-OOD values, CIs and † marks replace ours."""
    if board.empty:
        return stats
    b = board.copy()
    b["complexity"] = pd.to_numeric(b["complexity"], errors="coerce").astype(float)
    take = {
        "id_mean": "id_mean",
        "id_low": "id_low",
        "id_high": "id_high",
        "ood_mean": "ood_mean",
        "ood_low": "ood_low",
        "ood_high": "ood_high",
    }
    b = b[[*_KEYS, *take, *(c for c in ("mce", "n_id", "n_ood", "n_seeds") if c in b)]].assign(
        id_dag=_marks(board, "mark", "significantly_worse"),
        ood_dag=_marks(board, "ood_mark", "ood_significantly_worse"),
        id_mixed=_mixed(board, "mark"),
        ood_mixed=_mixed(board, "ood_mark"),
        id_small=_small(board, "id_small_n"),
        ood_small=_small(board, "ood_small_n"),
    )
    carried = ("drop", "drop_low", "drop_high", "rank_low", "rank_high")
    carried += ("effect_vs_best", "effect_low", "effect_high", "mark_note")  # the † decision, for the tooltip
    for col in carried:
        if col in board:
            b[col] = board[col].to_numpy()
    ours = (*take, "id_dag", "ood_dag", "id_mixed", "ood_mixed", "id_small", "ood_small")
    ours += ("drop", "drop_low", "drop_high", "drop_small_n")  # the board's drop, or the board's means'
    s = stats.drop(columns=[c for c in ours if c in stats])
    s = s.drop(columns=[c for c in ("n_id", "n_ood", "n_seeds") if c in b and c in s])
    s = s.merge(b, on=_KEYS, how="outer")
    if "drop" not in b:  # a board without its own drop: in-domain minus OOD of its cells, no interval
        s["drop"] = s["id_mean"] - s["ood_mean"]
    return s


def _marks(board: pd.DataFrame, mark_col: str, bool_col: str) -> list[bool]:
    """† wherever the stats board says so: its ``mark == "worse"`` when present, else the boolean."""
    if mark_col in board:
        return [str(v) == "worse" for v in board[mark_col]]
    if bool_col in board:
        return [bool(v) for v in board[bool_col].fillna(False)]
    return [False] * len(board)


def _mixed(board: pd.DataFrame, mark_col: str) -> list[str]:
    """The stats board's "mixed" mark (test significant, median effect disagrees: no †) as a note."""
    if mark_col not in board:
        return [""] * len(board)
    return ["mixed" if str(v) == "mixed" else "" for v in board[mark_col]]


def _small(board: pd.DataFrame, flag_col: str) -> list[bool]:
    """The stats board's small-sample flag ("n too small": no interval is printed), when it has one."""
    if flag_col not in board:
        return [False] * len(board)
    return ["n too small" in str(v or "") for v in board[flag_col]]


def _prefixed(ci: pd.DataFrame, prefix: str) -> pd.DataFrame:
    ci = ci.rename(columns={"estimate": f"{prefix}_mean", "low": f"{prefix}_low", "high": f"{prefix}_high"})
    ci = ci.rename(columns={"small": f"{prefix}_small"})
    ci = ci.rename(columns={"n": f"n_{prefix}"}) if prefix in ("id", "ood") else ci.drop(columns=["n"])
    return ci[[c for c in ci.columns if c.startswith((prefix, f"n_{prefix}")) or c in _KEYS]]


def _rows(
    table: BoardTable, stats: pd.DataFrame, costs: pd.DataFrame, spec: MetricSpec, families: list[str]
) -> list[dict[str, Any]]:
    lower_better = spec.direction == "lower"
    stats = stats.copy()
    stats["complexity"] = pd.to_numeric(stats["complexity"], errors="coerce").astype(float)
    stats["rank"] = stats.groupby("complexity", dropna=False)["id_mean"].rank(
        ascending=lower_better, method="min"
    )
    stats = stats.sort_values(["complexity", "rank", "model"], na_position="last")
    cost = costs.assign(_label=costs["model"].astype(str)) if not costs.empty else costs
    digits = 1 if spec.unit == "mm" else 3
    rows = []
    for r_i, r in enumerate(stats.to_dict("records")):
        cx = "–" if pd.isna(r["complexity"]) else f"{r['complexity']:g}"
        c = _cost_of(cost, r)
        anchor = f"{table.table_id}-{spec.name}-r{r_i}"
        cells = {
            "id": _ci_cell(
                r,
                "id",
                digits,
                r.get("id_dag", False),
                title=_vs_best(r) if spec.name == "dice" else "",
                note=_note(r, "id"),
            ),
            **{f"fam:{f}": _ci_cell(r, f"fam:{f}", digits, note=_note(r, f"fam:{f}")) for f in families},
            "ood": _ci_cell(r, "ood", digits, r.get("ood_dag", False), note=_note(r, "ood")),
            "worst": _ci_cell(
                r, "worst", digits, title=str(r.get("worst_cond") or ""), note=_note(r, "worst")
            ),
            "drop": _drop_cell(r, digits),
            "mce": _num_cell(r.get("mce") if spec.name == "dice" else None, "{:.2f}"),
            "params": _num_cell(c.get("n_params"), "{:,.0f}"),
            "time": _num_cell(c.get("train_seconds"), "{:.1f}"),
            "memory": _num_cell(c.get("peak_memory_mb"), "{:.0f}"),
            "cost": _cost_cell(c),
            "cases": LeaderboardCell(
                f"{_int(r.get('n_id'))} / {_int(r.get('n_ood'))}",
                float(_int(r.get("n_id")) or 0),
                ci=f"k={_int(r.get('n_seeds'))}" if _int(r.get("n_seeds")) else "",
            ),
        }
        for key, cell in cells.items():
            cell.anchor = f"{anchor}-{re.sub(r'[^A-Za-z0-9_-]', '_', key)}"
            table.values[(spec.name, cx, str(r["model"]), key)] = cell
        rank = "–" if pd.isna(r["rank"]) else f"{r['rank']:.0f}"
        lo, hi = r.get("rank_low"), r.get("rank_high")
        if spec.name == "dice" and rank != "–" and not (pd.isna(lo) or pd.isna(hi)) and lo != hi:
            rank += f" ({lo:.0f}–{hi:.0f})"  # the 95% bootstrap rank interval
        rows.append(
            {
                "complexity": cx,
                "complexity_value": r["complexity"],
                "rank": rank,
                "model": str(r["model"]),
                "worse": bool(r.get("id_dag", False)),
                "anchor": anchor,
                "cells": [cells[k] for k, _, _ in table.columns],
                "by_key": cells,
            }
        )
    return rows


def _note(r: dict[str, Any], prefix: str) -> str:
    """``"mixed"`` / ``"small"`` notes the stats board attached to a Dice cell."""
    small = r.get(f"{prefix}_small")
    return " ".join(
        [str(r.get(f"{prefix}_mixed") or "")] + (["small"] if isinstance(small, bool) and small else [])
    ).strip()


def _cost_of(cost: pd.DataFrame, r: dict[str, Any]) -> dict[str, Any]:
    if cost.empty:
        return {}
    label = re.sub(r" \[[^\]]*\]$", "", str(r["model"]))  # "unet [64x64x64]" -> the job's label
    same_cx = cost["complexity"].isna() if pd.isna(r["complexity"]) else cost["complexity"] == r["complexity"]
    hit = cost[(cost["_label"] == label) & (cost["dataset"] == r["dataset"]) & same_cx]
    return hit.iloc[0].to_dict() if len(hit) else {}


def _ci_cell(
    r: dict[str, Any], prefix: str, digits: int, dag: bool = False, title: str = "", note: str = ""
) -> LeaderboardCell:
    mean, low, high = r.get(f"{prefix}_mean"), r.get(f"{prefix}_low"), r.get(f"{prefix}_high")
    if mean is None or pd.isna(mean):
        return LeaderboardCell("–", title=title)
    if "mixed" in note:
        title = "(mixed): the test is significant but the median difference disagrees, so no †"
    ci = ""
    if low is not None and high is not None and not (pd.isna(low) or pd.isna(high)):
        ci = f"[{low:.{digits}f}, {high:.{digits}f}]"
    ci = "[n too small]" if "small" in note else ci
    ci += " (mixed)" if "mixed" in note else ""
    return LeaderboardCell(f"{mean:.{digits}f}", float(mean), bool(dag), title, ci=ci)


def _cost_cell(c: dict[str, Any]) -> LeaderboardCell:
    """Parameters, seconds per job and peak MB in one narrow cell; an ensemble trains nothing."""
    params, secs, mem = c.get("n_params"), c.get("train_seconds"), c.get("peak_memory_mb")
    if params is None or pd.isna(params):
        return LeaderboardCell("–")
    text = f"{float(params) / 1e6:.2f}M" if float(params) >= 1e4 else f"{float(params):,.0f}"
    parts = [f"{secs:.1f} s" if secs is not None and not pd.isna(secs) else "no training"]
    parts += [f"{mem:.0f} MB"] if mem is not None and not pd.isna(mem) else []
    return LeaderboardCell(text, float(params), ci=" · ".join(parts))


def _vs_best(r: dict[str, Any]) -> str:
    """Tooltip of a Dice cell: the architecture-level difference from the block's best, or why none."""
    effect, low, high = r.get("effect_vs_best"), r.get("effect_low"), r.get("effect_high")
    note = str(r.get("mark_note") or "")
    if effect is None or pd.isna(effect):
        return ""
    text = f"best minus this model: {effect:+.3f}"
    if not (low is None or high is None or pd.isna(low) or pd.isna(high)):
        text += f" [{low:+.3f}, {high:+.3f}] (architecture level: cases and seeds)"
    return text + (f"; {note.removeprefix('none: ')}" if note else "")


def _drop_cell(r: dict[str, Any], digits: int) -> LeaderboardCell:
    """The drop with its two-level CI ("[n too small]" under the small-n rule)."""
    value = r.get("drop")
    if value is None or pd.isna(value):
        return LeaderboardCell("–")
    low, high = r.get("drop_low"), r.get("drop_high")
    ci = (
        ""
        if low is None or high is None or pd.isna(low) or pd.isna(high)
        else f"[{low:+.{digits}f}, {high:+.{digits}f}]"
    )
    ci = "[n too small]" if "n too small" in str(r.get("drop_small_n") or "") else ci
    return LeaderboardCell(f"{float(value):+.{digits}f}", float(value), ci=ci)


def _num_cell(value: Any, fmt: str) -> LeaderboardCell:
    if value is None or pd.isna(value):
        return LeaderboardCell("–")
    return LeaderboardCell(fmt.format(float(value)), float(value))


def _int(value: Any) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


def _export_text(cell: LeaderboardCell) -> str:
    return cell.text + (f" {cell.ci}" if cell.ci else "") + (" †" if cell.dag else "")


def _cond_label(perturbation: str, severity: int) -> str:
    from segbench.report.tables import condition_label

    return condition_label(perturbation, severity)
