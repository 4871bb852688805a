"""The CI regression gate's pure logic: record a per-case baseline, compare a new run with it.

A *regression* is a model x condition whose mean ``metric`` got worse by more than ``delta`` beyond
bootstrap uncertainty: with ``diff = current - baseline`` (higher-is-better metric), the upper end of
the CI of ``diff`` is below ``-delta``. Requiring the whole interval past ``-delta`` keeps seed noise and
small test sets from failing CI, while a real drop of more than ``delta`` still does.

The baseline stores per-case values keyed ``"seed/case_id"`` so the comparison can pair cases
(``paired_diff_ci``), which is much tighter than comparing two independent means. When too few ids
match (e.g. the test split changed) it falls back to the unpaired bootstrap (``unpaired_diff_ci``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from segbench.core.metrics import metric
from segbench.seeding import derive_rng
from segbench.stats.bootstrap import CI, paired_diff_ci, unpaired_diff_ci

__all__ = [
    "BASELINE_FORMAT",
    "KEY_COLUMNS",
    "BaselineError",
    "compare_to_baseline",
    "make_baseline",
    "validate_baseline",
]

BASELINE_FORMAT = "segbench-baseline/1"
#: one baseline entry per model x condition
KEY_COLUMNS: tuple[str, ...] = ("model", "dataset", "complexity", "perturbation", "severity")

_Key = tuple[str, str, float | None, str, int]


_Finite = Annotated[float, Field(allow_inf_nan=False)]


class BaselineError(ValueError):
    """A baseline file that cannot be trusted; one line naming the file, the entry and the field."""


class _Entry(BaseModel):
    """One model x condition of a baseline, with its per-case values."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    dataset: str = Field(min_length=1)
    complexity: _Finite | None = None
    perturbation: str = Field(min_length=1)
    severity: int = Field(ge=0)
    mean: _Finite | None = None
    n: int = Field(ge=1)
    values: dict[str, _Finite] = Field(min_length=1)

    @model_validator(mode="after")
    def _n_matches(self) -> _Entry:
        if self.n != len(self.values):
            raise ValueError(f"n is {self.n} but there are {len(self.values)} values")
        return self


class _Baseline(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. "suite", notes added by hand

    format: Literal["segbench-baseline/1"]
    metric: str = Field(min_length=1)
    entries: list[_Entry] = Field(min_length=1)

    @field_validator("entries")
    @classmethod
    def _unique(cls, entries: list[_Entry]) -> list[_Entry]:
        seen: set[_Key] = set()
        for i, entry in enumerate(entries):
            key = _key_of(entry.model_dump())
            if key in seen:
                raise ValueError(f"entry {i} repeats model x condition {key}")
            seen.add(key)
        return entries


def validate_baseline(data: Any, source: str | Path = "<baseline>") -> dict[str, Any]:
    """Check a loaded baseline before it is trusted: a gate must not pass because its baseline is empty.

    Rejected: not an object, unknown ``format``, no ``entries``, an entry without values, NaN or
    infinite values (a NaN mean compares as "not worse" and would pass every model), missing or
    mistyped fields, ``n`` disagreeing with the values, the same model x condition twice.

    Args:
        data: the parsed JSON.
        source: the file name for messages.

    Returns:
        ``data`` unchanged (already plain JSON types).

    Raises:
        BaselineError: one line: file, entry (index and key), field, problem, and how to regenerate.
    """
    fix = "regenerate it with 'segbench check --update'"
    if not isinstance(data, dict):
        raise BaselineError(f"{source}: not a segbench baseline (expected a JSON object); {fix}")
    try:
        _Baseline.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        where = "top level"
        if loc[:1] == ["entries"] and len(loc) > 1 and isinstance(loc[1], int):
            where = f"entries[{loc[1]}]{_describe_entry(data['entries'][loc[1]])}"
            loc = loc[2:]
        field = ".".join(str(p) for p in loc) or "(entry)"
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) else f" (got {str(got)[:40]!r})"
        more = f" (and {len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
        raise BaselineError(f"{source}: {where}: {field}: {err['msg']}{shown}{more}; {fix}") from None
    _check_range(data, source, fix)
    return data


def _check_range(data: dict[str, Any], source: str | Path, fix: str) -> None:
    """Values outside the metric's range (a Dice of 5) would make every current result look worse
    or better; refuse them like a NaN."""
    try:
        spec = metric(data["metric"])
    except KeyError:
        return  # a metric this version does not know: no range to check
    low, high = spec.valid
    for i, entry in enumerate(data["entries"]):
        values = {"mean": entry.get("mean"), **{f"values[{k!r}]": v for k, v in entry["values"].items()}}
        for field, value in values.items():
            if spec.out_of_range(value):
                raise BaselineError(
                    f"{source}: entries[{i}]{_describe_entry(entry)}: {field}: {spec.name} {value!r} "
                    f"is outside [{low:g}, {high:g}]; {fix}"
                )


def _describe_entry(entry: Any) -> str:
    if not isinstance(entry, dict):
        return ""
    parts = [str(entry.get(k)) for k in ("model", "dataset", "perturbation") if entry.get(k) is not None]
    return f" ({' / '.join(parts)})" if parts else ""


def make_baseline(df: pd.DataFrame, metric: str = "dice") -> dict[str, Any]:
    """A JSON-serialisable baseline of per-case values, one entry per model x condition.

    Args:
        df: long per-case table with :data:`KEY_COLUMNS`, ``seed``, ``case_id`` and ``metric``.
        metric: value column. Defaults to ``"dice"``.

    Returns:
        ``{"format": BASELINE_FORMAT, "metric": metric, "entries": [...]}``; each entry has ``model``,
        ``dataset``, ``complexity`` (``None`` when NaN), ``perturbation``, ``severity``, ``mean``,
        ``n`` and ``values`` (``{"seed/case_id": value}``). NaN values (both masks empty) are left out,
        and so is a model x condition without any other value, so the dict holds no NaN, passes strict
        JSON and :func:`validate_baseline`.

    Raises:
        ValueError: if a model has two rows for the same case in one condition.
    """
    entries = []
    for key, vals in _collect(df, metric).items():
        if not vals:  # every case NaN (both masks empty): nothing to compare against later
            continue
        arr = np.fromiter(vals.values(), dtype=float, count=len(vals))
        entries.append(
            {
                "model": key[0],
                "dataset": key[1],
                "complexity": key[2],
                "perturbation": key[3],
                "severity": key[4],
                "mean": float(arr.mean()) if arr.size else None,
                "n": len(vals),
                "values": vals,
            }
        )
    return {"format": BASELINE_FORMAT, "metric": metric, "entries": entries}


def compare_to_baseline(
    df: pd.DataFrame,
    baseline: Mapping[str, Any],
    delta: float = 0.05,
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    higher_is_better: bool = True,
    min_paired_share: float = 0.9,
) -> pd.DataFrame:
    """Compare a run with a baseline from :func:`make_baseline`, one row per model x condition.

    Pairing: cases are matched on ``"seed/case_id"``. If the matched ids cover at least
    ``min_paired_share`` of both sides (and at least 2), the CI is the paired bootstrap of the mean
    difference over matched cases and ``diff`` is that mean difference; otherwise both sides are
    resampled independently and ``diff`` is the difference of the two means.

    Args:
        df: current long per-case table (same columns as for :func:`make_baseline`).
        baseline: a baseline dict (e.g. loaded from JSON).
        delta: tolerated drop in the metric's units. Defaults to 0.05.
        n_resamples: bootstrap resamples per row. Defaults to 2000.
        seed: base seed; each row's generator is derived from it and the row key. Defaults to 0.
        confidence: two-sided CI level. Defaults to 0.95.
        higher_is_better: ``True`` for Dice/NSD; ``False`` (e.g. HD95) makes a regression
            ``ci_low > delta``. Defaults to True.
        min_paired_share: least share of matched ids on each side to use the paired CI. Defaults to 0.9.

    Returns:
        Columns :data:`KEY_COLUMNS`, ``baseline_mean``, ``current_mean``, ``diff`` (current - baseline),
        ``ci_low``, ``ci_high``, ``ci_method``, ``n_baseline``, ``n_current``, ``n_paired``, ``paired``
        (bool), ``regressed`` (bool), ``status``: ``"ok"``, ``"regressed"``, ``"missing"`` (in the
        baseline, no values now) or ``"new"`` (no values in the baseline).

    Raises:
        ValueError: if the baseline's format or metric does not match.
        BaselineError: if the baseline does not validate (:func:`validate_baseline`).
    """
    if baseline.get("format") != BASELINE_FORMAT:
        raise ValueError(f"unknown baseline format {baseline.get('format')!r}, expected {BASELINE_FORMAT!r}")
    validate_baseline(dict(baseline))
    metric = str(baseline["metric"])
    if metric not in df.columns:
        raise ValueError(f"baseline metric {metric!r} is not a column of the table")
    base = {_key_of(e): {str(k): float(v) for k, v in e["values"].items()} for e in baseline["entries"]}
    cur = _collect(df, metric)
    rows = []
    for key in sorted(set(base) | set(cur), key=_sort_key):
        b, c = base.get(key, {}), cur.get(key, {})
        row: dict[str, Any] = dict(zip(KEY_COLUMNS, key, strict=True))
        row.update(
            baseline_mean=_mean(b.values()),
            current_mean=_mean(c.values()),
            n_baseline=len(b),
            n_current=len(c),
            n_paired=0,
            paired=False,
            diff=np.nan,
            ci_low=np.nan,
            ci_high=np.nan,
            ci_method="",
            regressed=False,
        )
        if not b or not c:
            row["status"] = "missing" if b else "new"
            rows.append(row)
            continue
        common = sorted(set(b) & set(c))
        rng = derive_rng(seed, "compare_to_baseline", *map(str, key))
        paired = len(common) >= 2 and len(common) >= min_paired_share * max(len(b), len(c))
        if paired:
            ci: CI = paired_diff_ci(
                [c[i] for i in common], [b[i] for i in common], n_resamples, confidence, rng
            )
        else:
            ci = unpaired_diff_ci(list(c.values()), list(b.values()), n_resamples, confidence, rng)
        regressed = ci.high < -delta if higher_is_better else ci.low > delta
        row.update(
            n_paired=len(common) if paired else 0,
            paired=paired,
            diff=ci.estimate,
            ci_low=ci.low,
            ci_high=ci.high,
            ci_method=ci.method,
            regressed=bool(regressed),
            status="regressed" if regressed else "ok",
        )
        rows.append(row)
    cols = [
        *KEY_COLUMNS,
        "baseline_mean",
        "current_mean",
        "diff",
        "ci_low",
        "ci_high",
        "ci_method",
        "n_baseline",
        "n_current",
        "n_paired",
        "paired",
        "regressed",
        "status",
    ]
    out = pd.DataFrame(rows, columns=cols)
    out["complexity"] = out["complexity"].astype(float)  # None -> NaN, as in the per-case table
    return out


def _collect(df: pd.DataFrame, metric: str) -> dict[_Key, dict[str, float]]:
    """Per model x condition: ``{"seed/case_id": value}`` of non-NaN values (all keys kept)."""
    cols = [*KEY_COLUMNS, "seed", "case_id", metric]
    d = df[cols].copy()
    d["_case"] = d["seed"].astype(int).astype(str) + "/" + d["case_id"].astype(str)
    dup = d.duplicated([*KEY_COLUMNS, "_case"])  # NaN keys compare equal here
    if dup.any():
        first = d[dup].iloc[0]
        raise ValueError(f"duplicate case {first['_case']!r} for {_key_of(first.to_dict())}")
    out: dict[_Key, dict[str, float]] = {}
    for key, sub in d.groupby(list(KEY_COLUMNS), dropna=False, sort=False):
        ok = sub[metric].notna().to_numpy()  # NaN (both masks empty) is not a comparable value
        vals = sub[metric].to_numpy(dtype=float)[ok].tolist()
        out[_key_of(dict(zip(KEY_COLUMNS, key, strict=True)))] = dict(
            zip(sub["_case"].to_numpy()[ok].tolist(), vals, strict=True)
        )
    return out


def _key_of(e: Mapping[str, Any]) -> _Key:
    """Canonical hashable key; NaN/None complexity -> None, numbers -> float, severity -> int."""
    cx = e.get("complexity")  # optional in a baseline entry (None: the dataset has no knob)
    cx = None if cx is None or (isinstance(cx, float) and math.isnan(cx)) else float(cx)
    return (str(e["model"]), str(e["dataset"]), cx, str(e["perturbation"]), int(e["severity"]))


def _sort_key(k: _Key) -> tuple[Any, ...]:
    return (k[0], k[1], k[2] is not None, k[2] if k[2] is not None else 0.0, k[3], k[4])


def _mean(values: Any) -> float:
    arr = np.fromiter(values, dtype=float)
    return float(arr.mean()) if arr.size else np.nan
