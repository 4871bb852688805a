"""Failed train jobs with the last lines of their tracebacks: a report section and ``segbench failures``.

Why: a failure is data (DESIGN.md §2) but its traceback used to be readable only in SQLite. The report
section shows the tail of each (escaped by the template's autoescaping), the command prints the same
in the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["FailedJob", "failed_jobs", "failures_section", "failures_text"]

#: traceback lines kept per failure
TAIL_LINES = 8


@dataclass(frozen=True)
class FailedJob:
    """One failed train job.

    Attributes:
        suite: suite it belongs to.
        model: model label.
        dataset: dataset name.
        complexity: complexity level (``None`` without the knob).
        seed: training seed.
        job_key: the job's content hash.
        attempts: attempts so far.
        tail: the last :data:`TAIL_LINES` lines of the latest traceback.
    """

    suite: str
    model: str
    dataset: str
    complexity: float | None
    seed: int
    job_key: str
    attempts: int
    tail: list[str]

    def describe(self) -> str:
        cx = "" if self.complexity is None else f" c={self.complexity:g}"
        return (
            f"{self.model} {self.dataset}{cx} seed={self.seed} ({self.job_key}, {self.attempts} attempt(s))"
        )


def failed_jobs(jobs: pd.DataFrame, lines: int = TAIL_LINES) -> list[FailedJob]:
    """Failed jobs of a ``Store.jobs()`` table, each with its traceback's last ``lines`` lines."""
    if jobs.empty or "status" not in jobs:
        return []
    out = []
    for r in jobs[jobs["status"] == "failed"].to_dict("records"):
        text = str(r.get("error") or "unknown error").rstrip()
        cx = r.get("complexity")
        out.append(
            FailedJob(
                suite=str(r.get("suite", "")),
                model=str(r.get("model")),
                dataset=str(r.get("dataset")),
                complexity=None if cx is None or pd.isna(cx) else float(cx),
                seed=int(r.get("seed") or 0),
                job_key=str(r.get("job_key")),
                attempts=int(r.get("attempts") or 0),
                tail=text.splitlines()[-lines:],
            )
        )
    return out


def failures_section(jobs: pd.DataFrame) -> Any:
    """Report section "Failed jobs" (absent-with-note when none failed)."""
    from segbench.report.sections import Section

    sec = Section("failures", "Failed jobs")
    failed = failed_jobs(jobs)
    if not failed:
        sec.notes.append("No failed train jobs.")
        return sec
    sec.notes.append(
        f"{len(failed)} train job(s) failed; the next 'segbench run' retries them. "
        f"Last {TAIL_LINES} lines of each latest traceback ('segbench failures' prints them too):"
    )
    sec.code = "\n\n".join(f"{f.describe()}\n" + "\n".join(f"    {line}" for line in f.tail) for f in failed)
    sec.code_title = "Tracebacks (last lines)"
    return sec


def failures_text(results: str | Path, suite: str | None = None, lines: int = TAIL_LINES) -> tuple[int, str]:
    """What ``segbench failures`` prints: (number of failed jobs, text).

    Raises:
        LookupError: no store in ``results`` (says what to run), or an unknown suite.
    """
    from segbench.store import Store

    store = Store(results)
    if not store.path.exists():
        raise LookupError(f"no results store at {store.path}; run a suite first ('segbench run SUITE.yaml')")
    if suite is not None and suite not in store.suites():
        raise LookupError(f"no suite {suite!r} in {store.path}; stored suites: {store.suites()}")
    failed = failed_jobs(store.jobs(suite), lines)
    seen: set[str] = set()
    blocks = []
    for f in failed:
        if f.job_key in seen:  # a job shared by two suites is listed once
            continue
        seen.add(f.job_key)
        blocks.append(f"[{f.suite}] {f.describe()}\n" + "\n".join(f"    {line}" for line in f.tail))
    if not blocks:
        return 0, f"no failed jobs in {store.path}"
    return len(blocks), f"{len(blocks)} failed job(s) in {store.path}:\n\n" + "\n\n".join(blocks)
