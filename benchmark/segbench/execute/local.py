"""Run jobs one after another in this process (CPU or one GPU)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from segbench.plan import EvalCondition, TrainJob

if TYPE_CHECKING:
    from segbench.progress import Reporter

__all__ = ["LocalExecutor", "Task"]


@dataclass(frozen=True)
class Task:
    """A job plus the conditions it still has to evaluate."""

    job: TrainJob
    conditions: tuple[EvalCondition, ...]


class LocalExecutor:
    """Sequential in-process execution; yields each shard as soon as it is written."""

    def run(
        self, tasks: Sequence[Task], results: Path, device: str | None, reporter: Reporter
    ) -> Iterator[Path]:
        from segbench.worker.job import run_job  # lazy: torch only when there is work

        for task in tasks:
            reporter.job_started(task.job, len(task.conditions))
            shard = run_job(
                task.job, task.conditions, results, device, on_epoch=reporter.epoch, on_status=reporter.status
            )
            yield shard
