"""Executors turn pending tasks into shard files; the parent ingests them.

``local`` runs jobs in this process, ``pool`` in N local worker processes, ``slurm`` as a
Slurm array job through submitit.  All speak ``Executor`` (``execute.base``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segbench.execute.base import Executor, ExecutorOptions, run_tasks
from segbench.execute.config import EXECUTORS, ExecutorSettings, LocalSettings, PoolSettings, SlurmSettings
from segbench.plan.task import Task

if TYPE_CHECKING:
    from segbench.progress import Reporter

__all__ = [
    "EXECUTORS",
    "Executor",
    "ExecutorOptions",
    "ExecutorSettings",
    "LocalSettings",
    "PoolSettings",
    "SlurmSettings",
    "Task",
    "make_executor",
    "run_tasks",
]


def make_executor(settings: ExecutorSettings, options: ExecutorOptions, reporter: Reporter) -> Executor:
    """Build the executor that ``settings`` describe (``execute.config.settings_for`` checked them)."""
    if isinstance(settings, PoolSettings):
        from segbench.execute.pool import PoolExecutor

        return PoolExecutor(options, reporter, settings)
    if isinstance(settings, SlurmSettings):
        from segbench.execute.slurm import SlurmExecutor

        return SlurmExecutor(options, reporter, settings)
    from segbench.execute.local import LocalExecutor

    return LocalExecutor(options, reporter)
