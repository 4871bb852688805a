"""Executors turn pending tasks into shard files; the parent ingests them.

``local`` runs jobs in this process, ``pool`` in N local worker processes, ``slurm`` as a
Slurm array job through submitit.  All speak ``Executor`` (``execute.base``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from segbench.execute.base import Executor, ExecutorOptions, run_tasks
from segbench.plan.task import Task

if TYPE_CHECKING:
    from segbench.progress import Reporter

__all__ = ["EXECUTORS", "Executor", "ExecutorOptions", "Task", "make_executor", "run_tasks"]

EXECUTORS = ("local", "pool", "slurm")


def make_executor(kind: str, options: ExecutorOptions, reporter: Reporter, **settings: Any) -> Executor:
    """Build the executor ``kind`` with its own ``settings`` (None values mean "default").

    Raises:
        ValueError: unknown kind, or a setting that kind does not take.
    """
    settings = {k: v for k, v in settings.items() if v is not None}
    if kind == "local":
        _no_settings(kind, settings)
        from segbench.execute.local import LocalExecutor

        return LocalExecutor(options, reporter)
    if kind == "pool":
        from segbench.execute.pool import PoolExecutor

        _only(kind, settings, {"workers", "jobs_per_gpu", "threads"})
        return PoolExecutor(options, reporter, **settings)
    if kind == "slurm":
        from segbench.execute.slurm import SlurmExecutor

        return SlurmExecutor(options, reporter, **settings)
    raise ValueError(f"unknown executor {kind!r}; choose from {', '.join(EXECUTORS)}")


def _no_settings(kind: str, settings: dict[str, Any]) -> None:
    _only(kind, settings, set())


def _only(kind: str, settings: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(settings) - allowed)
    if extra:
        options = ", ".join("--" + name.replace("_", "-") for name in extra)
        takers = [k for k, allowed_there in _SETTINGS.items() if k != kind and set(extra) <= allowed_there]
        hint = f"; use --executor {' or '.join(takers)}" if takers else ""
        raise ValueError(f"executor {kind!r} does not take {options}{hint}")


# Which executor takes which settings (for the hint above; slurm takes its own set and the pool's none).
_SETTINGS: dict[str, set[str]] = {
    "pool": {"workers", "jobs_per_gpu", "threads"},
    "slurm": {
        "partition",
        "gpus_per_task",
        "cpus_per_task",
        "mem_gb",
        "timeout_min",
        "array_parallelism",
        "cluster",
        "additional_parameters",
    },
}
