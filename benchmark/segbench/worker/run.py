"""Run one task, whichever kind: a train job (``worker.job``) or an ensemble (``worker.ensemble``).

Why one entry point: every executor (in-process, pool, Slurm, a hand-written scheduler calling
``python -m segbench.worker``) hands the worker a :class:`~segbench.plan.task.Task` and gets a shard
path back, so an ensemble gets the same timeout, progress events and failure records as a train job.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from segbench.plan.ensembles import EnsembleJob
from segbench.plan.task import Task

if TYPE_CHECKING:
    from segbench.worker.train import EpochCallback

__all__ = ["prebuild_dataset", "run_task"]


def run_task(
    task: Task,
    results: Path,
    device: str | None = None,
    on_epoch: EpochCallback | None = None,
    on_status: Callable[[str], None] | None = None,
) -> Path:
    """Run ``task`` and return its shard's path (a failure is a shard too)."""
    if isinstance(task.job, EnsembleJob):
        from segbench.worker.ensemble import run_ensemble

        return run_ensemble(task.job, task.conditions, results, device, on_status)
    from segbench.worker.job import run_job

    return run_job(task.job, task.conditions, results, device, on_epoch, on_status)


def prebuild_dataset(task: Task) -> None:
    """Build the task's dataset in this process when it is generated (registry meta ``generated``).

    Why: the local executor runs each job in a forked child, whose in-memory dataset cache dies with
    it; built here first, every child of the suite inherits the cases (the quick suite regenerated its
    textures 33 times: 54 s -> 72 s).  Only generated datasets (numpy and scikit-image, no torch), so
    the parent still runs no torch operation before it forks.  A dataset that fails to build is left
    to the child, which records the failure as its job's.
    """
    from segbench.registry import DATASETS
    from segbench.worker.job import load_dataset

    job = task.job.members[0] if isinstance(task.job, EnsembleJob) else task.job
    with contextlib.suppress(Exception):
        if DATASETS.get(job.dataset.name).meta.get("generated"):
            load_dataset(job.dataset, job.complexity, job.data_seed)
