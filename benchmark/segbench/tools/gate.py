"""The CI regression gate behind ``segbench check``: compare a suite's results with a committed baseline.

The statistics are :mod:`segbench.stats.regression`'s: per model x condition, the bootstrap CI of the
paired per-case Dice difference (current - baseline); a *regression* is a CI lying wholly below
``-delta``. This module adds the file handling and the verdict:

* the gate **fails** (``regressed=True``) when any entry regressed, or when a baseline entry has no
  current results (status ``missing``: a model or condition silently disappearing must not pass CI);
* entries new since the baseline (status ``new``) are listed but do not fail it;
* ``update=True`` rewrites the baseline from the current results (and never fails).

A baseline also records how its numbers were made (``run``: CPU threads per job, torch version, CPU
model), because CPU float results depend on them; ``check`` names every one that differs in the
current run, so a gate failure on another machine is not mistaken for a code regression.

Cross-complexity rows (``test_complexity`` set) are left out: the baseline keys on (model, dataset,
complexity, perturbation, severity). A model trained at several patch sizes is keyed ``"label [patch]"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from segbench.core import IN_DOMAIN
from segbench.stats.entries import with_entries
from segbench.stats.regression import compare_to_baseline, make_baseline, validate_baseline
from segbench.store import Store
from segbench.store.read import json_mapping

__all__ = ["GateResult", "run_differences", "run_gate", "run_record"]


@dataclass
class GateResult:
    """Outcome of one gate run.

    Attributes:
        table: one row per model x condition (columns of ``compare_to_baseline``).
        regressed: True when the gate fails (a regression, or baseline entries without results).
        text: a fixed-width table plus a one-line verdict, for the terminal / CI log.
        updated: True when the baseline file was (re)written.
        differences: how the current run was made differently from the baseline (threads, torch
            version, CPU), one line each; empty when it matches.
    """

    table: pd.DataFrame
    regressed: bool
    text: str
    updated: bool
    differences: list[str] = field(default_factory=list)


def run_gate(
    results: Path,
    baseline: Path,
    suite: str = "ci",
    delta: float = 0.05,
    update: bool = False,
) -> GateResult:
    """Compare ``suite``'s results in ``results`` with the baseline JSON, or rewrite it.

    Args:
        results: results folder holding ``segbench.sqlite``.
        baseline: baseline JSON path (e.g. ``reports/baseline/ci.json``).
        suite: suite name in the store. Defaults to ``"ci"``.
        delta: tolerated Dice drop; a regression needs the whole CI of the difference below ``-delta``.
            Defaults to 0.05.
        update: write the current results as the new baseline instead of failing. Defaults to False.

    Returns:
        A :class:`GateResult`.

    Raises:
        FileNotFoundError: no baseline file and ``update`` is False (the message names the path and
            ``--update``).
        LookupError: the store has no results for ``suite`` (the message says what to run).
        ValueError: ``delta`` is outside [0, 1] (NaN, inf), or the baseline file is not a valid
            segbench baseline (not JSON, no entries, NaN or out-of-range values, malformed entries:
            one line naming the file and entry).
    """
    if not 0 <= delta <= 1:  # NaN fails too; inf (or any delta > 1 on a Dice scale) disables the gate
        raise ValueError(f"--delta must be a Dice difference in [0, 1], got {delta:g}")
    results, baseline = Path(results), Path(baseline)
    if not update and not baseline.exists():
        raise FileNotFoundError(
            f"no baseline file at {baseline}; create it from the current results with "
            f"'segbench check --baseline {baseline} --results {results} --update'"
        )
    cases = _gate_cases(results, suite)
    run = run_record(results, suite)
    old = _load(baseline) if baseline.exists() else None
    table = compare_to_baseline(cases, old, delta=delta) if old is not None else pd.DataFrame()
    if update:
        payload = make_baseline(cases)
        payload["suite"] = suite
        payload["run"] = run
        baseline.parent.mkdir(parents=True, exist_ok=True)
        tmp = baseline.with_suffix(baseline.suffix + ".tmp")
        tmp.write_text(
            json.dumps(payload, indent=1, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8"
        )
        tmp.replace(baseline)  # atomic: a crash never leaves half a baseline
        if table.empty:
            table = compare_to_baseline(cases, payload, delta=delta)
        n = len(payload["entries"])
        text = _render(table, delta) + f"\nbaseline updated: {baseline} ({n} entries from suite {suite!r})"
        return GateResult(table, False, text, True)
    differences = run_differences(old, run)
    notes = "".join(f"\nnote: {line}" for line in differences)
    n_reg = int((table["status"] == "regressed").sum())
    n_missing = int((table["status"] == "missing").sum())
    failed = n_reg > 0 or n_missing > 0
    if failed:
        parts = [f"{n_reg} regressed beyond delta={delta:g}"] if n_reg else []
        parts += [f"{n_missing} baseline entries without current results"] if n_missing else []
        verdict = "FAIL: " + "; ".join(parts)
    else:
        verdict = f"PASS: no model x condition is worse than the baseline by more than {delta:g} Dice"
    return GateResult(table, failed, _render(table, delta) + notes + "\n" + verdict, False, differences)


def run_record(results: Path, suite: str) -> dict[str, str]:
    """How ``suite``'s stored jobs were run: CPU threads per job, torch version, CPU model.

    Read from the jobs' provenance; several values are joined with ", " and an unknown one is "".
    """
    jobs = Store(results).jobs(suite)
    found: dict[str, set[str]] = {name: set() for name in _RUN_FIELDS}
    for text in jobs["provenance"].dropna() if "provenance" in jobs else []:
        prov = json_mapping(text)
        if prov is None:
            continue  # not a JSON object: nothing to read
        values = {
            "threads": prov.get("torch_threads"),
            "torch": (prov.get("packages") or {}).get("torch"),
            "cpu": prov.get("cpu"),
        }
        for name, value in values.items():
            if value is not None:
                found[name].add(str(value))
    return {name: ", ".join(sorted(values)) for name, values in found.items()}


def run_differences(baseline: dict[str, Any] | None, run: dict[str, str]) -> list[str]:
    """One line per way the current ``run`` differs from ``baseline['run']`` (nothing when equal)."""
    if baseline is None:
        return []
    made = baseline.get("run")
    if not isinstance(made, dict):
        return [
            "the baseline does not record the CPU threads, torch version and CPU it was made with; "
            "regenerate it with --update to have them checked"
        ]
    lines = []
    for name, label in _RUN_FIELDS.items():
        before, now = str(made.get(name) or ""), run.get(name, "")
        if before and now and before != now:
            lines.append(
                f"{label} differ: baseline {before}, this run {now} "
                "(CPU results depend on it: differences may come from this, not from the code)"
            )
    return lines


_RUN_FIELDS = {"threads": "CPU threads per job", "torch": "torch versions", "cpu": "CPUs"}


def _gate_cases(results: Path, suite: str) -> pd.DataFrame:
    store = Store(results)
    if suite not in store.suites():
        raise LookupError(
            f"no results for suite {suite!r} in {store.path}; run "
            f"'segbench run suites/{suite}.yaml --results {results}' first"
        )
    cases = store.cases(suite)
    if cases.empty:
        raise LookupError(f"suite {suite!r} has no evaluated cases in {store.path}; run it first")
    return with_entries(cases[cases["test_complexity"].isna()])


def _load(path: Path) -> dict[str, Any]:
    """Read and validate a baseline (see :func:`validate_baseline`); every problem is a ``ValueError``."""
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a baseline file")
    if not path.is_file():  # a FIFO (a read would block forever) or a device
        raise ValueError(f"{path} is not a regular file (a FIFO or device), not a baseline file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path} is not a segbench baseline (not UTF-8: {exc.reason}); regenerate it with --update"
        ) from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); regenerate it with --update") from None
    return validate_baseline(data, path)


def _render(table: pd.DataFrame, delta: float) -> str:
    """Fixed-width table of every entry, worst difference first."""
    if table.empty:
        return "(no entries)"
    t = table.sort_values(["status", "diff"], key=lambda s: s.map(_status_order) if s.name == "status" else s)

    def num(x: float, fmt: str = "{:.3f}") -> str:
        return "-" if pd.isna(x) else fmt.format(x)

    view = pd.DataFrame(
        {
            "model": t["model"],
            "dataset": t["dataset"],
            "cx": t["complexity"].map(lambda v: num(v, "{:g}")),
            "condition": [
                p if p == IN_DOMAIN else f"{p} s{s}"
                for p, s in zip(t["perturbation"], t["severity"], strict=True)
            ],
            "baseline": t["baseline_mean"].map(num),
            "current": t["current_mean"].map(num),
            "diff": t["diff"].map(lambda v: num(v, "{:+.3f}")),
            "95% CI": [
                f"[{num(lo, '{:+.3f}')}, {num(hi, '{:+.3f}')}]"
                for lo, hi in zip(t["ci_low"], t["ci_high"], strict=True)
            ],
            "n": t["n_paired"].where(t["paired"], t["n_current"]).astype(int),
            "status": t["status"].str.upper().where(t["status"] != "ok", "ok"),
        }
    )
    header = f"regression gate: Dice, current - baseline; regressed = CI upper bound < -{delta:g}"
    return header + "\n" + view.to_string(index=False)


def _status_order(status: str) -> int:
    return {"regressed": 0, "missing": 1, "new": 2, "ok": 3}.get(status, 4)
