"""The executor interface: what the runner hands out (tasks) and gets back (shard paths).

Why a protocol and a task file: the parent process only ever needs "here are tasks" and
"tell me which shard files landed", so a backend that runs jobs in this process, in a pool
of local processes or on a Slurm cluster is one small module.  A task serialises to JSON
(``segbench.plan.task.Task.to_json``), so any scheduler can drive a job with
``python -m segbench.worker TASK.json``.  Workers only write shards; the parent alone writes SQLite.

This module must stay light (no torch): worker processes import it before they pin
their GPU and thread count.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from segbench.plan.task import Task

__all__ = ["Executor", "ExecutorOptions", "run_tasks"]


@dataclass(frozen=True)
class ExecutorOptions:
    """Options every executor understands (checked when built).

    Args:
        results: the results folder (shards, checkpoints, logs).
        device: "cpu", "cuda", "cuda:N" or None (CUDA when available).
        timeout_min: stop a job running longer than this and record it as failed; None
            (the default) lets jobs run as long as they need.
    """

    results: Path
    device: str | None = None
    timeout_min: float | None = None

    def __post_init__(self) -> None:
        limit = self.timeout_min
        if limit is not None and not (isinstance(limit, int | float) and math.isfinite(limit) and limit > 0):
            raise ValueError(f"timeout_min must be a finite number of minutes > 0, got {limit!r}")


@runtime_checkable
class Executor(Protocol):
    """Runs tasks somewhere and reports each finished job's shard file.

    The progress reporter is given to the constructor (it cannot cross process
    boundaries; executors forward their workers' events to it).
    """

    def submit(self, tasks: Sequence[Task]) -> None:
        """Queue ``tasks``; may start running them at once."""
        ...

    def as_completed(self) -> Iterator[Path]:
        """Shard paths in the order the jobs finish, until every submitted task has one."""
        ...

    def cancel(self) -> None:
        """Stop everything still queued or running (idempotent)."""
        ...


def run_tasks(executor: Executor, tasks: Sequence[Task]) -> Iterator[Path]:
    """Submit ``tasks`` and yield shards as they land; cancels on error or Ctrl-C.

    An executor whose jobs outlive the parent (``detach_on_interrupt = True``, Slurm) is
    left running on Ctrl-C: the next run re-attaches to its jobs instead of redoing them.
    """
    executor.submit(tasks)
    try:
        yield from executor.as_completed()
    except (KeyboardInterrupt, GeneratorExit):
        if not getattr(executor, "detach_on_interrupt", False):
            executor.cancel()
        raise
    except BaseException:
        executor.cancel()
        raise
