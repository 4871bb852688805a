"""The executor interface: what the runner hands out (tasks) and gets back (shard paths).

Why a protocol and a task file: the parent process only ever needs "here are tasks" and
"tell me which shard files landed", so a backend that runs jobs in this process, in a pool
of local processes or on a Slurm cluster is one small module.  A task serialises to JSON
(``Task.to_json``), so any scheduler can drive a job with ``python -m segbench.worker
TASK.json``.  Workers only write shards; the parent alone writes SQLite.

This module must stay light (no torch): worker processes import it before they pin
their GPU and thread count.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from segbench.plan import EvalCondition, TrainJob

__all__ = ["Executor", "ExecutorOptions", "Task", "job_from_dict", "job_to_dict", "run_tasks"]


@dataclass(frozen=True)
class Task:
    """A job plus the conditions it still has to evaluate."""

    job: TrainJob
    conditions: tuple[EvalCondition, ...]

    def to_json(self, results: Path, device: str | None = None) -> str:
        """The task file that ``python -m segbench.worker`` runs (job, conditions, results)."""
        return json.dumps(
            {
                "job": job_to_dict(self.job),
                "conditions": [dataclasses.asdict(c) for c in self.conditions],
                "results": str(results),
                "device": device,
            },
            indent=1,
        )

    @staticmethod
    def from_json(text: str) -> tuple[Task, Path, str | None]:
        """Inverse of ``to_json``: ``(task, results folder, device)``."""
        data = json.loads(text)
        task = Task(job_from_dict(data["job"]), tuple(EvalCondition(**c) for c in data["conditions"]))
        return task, Path(data["results"]), data.get("device")


@dataclass(frozen=True)
class ExecutorOptions:
    """Options every executor understands.

    Args:
        results: the results folder (shards, checkpoints, logs).
        device: "cpu", "cuda", "cuda:N" or None (CUDA when available).
        timeout_min: stop a job running longer than this and record it as failed; None
            (the default) lets jobs run as long as they need.
    """

    results: Path
    device: str | None = None
    timeout_min: float | None = None


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


def job_to_dict(job: TrainJob) -> dict[str, Any]:
    """JSON-able form of a ``TrainJob`` (pydantic fields dumped, conditions as dicts)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(job):
        value = getattr(job, f.name)
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        elif f.name == "conditions":
            value = [dataclasses.asdict(c) for c in value]
        out[f.name] = value
    return out


def job_from_dict(data: dict[str, Any]) -> TrainJob:
    """Rebuild a ``TrainJob`` from ``job_to_dict``'s output (types from the annotations)."""
    hints = typing.get_type_hints(TrainJob)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(TrainJob):
        value = data[f.name]
        model_type = _pydantic_type(hints[f.name])
        if f.name == "conditions":
            value = tuple(EvalCondition(**c) for c in value)
        elif model_type is not None and value is not None:
            value = model_type.model_validate(value)
        kwargs[f.name] = value
    return TrainJob(**kwargs)


def _pydantic_type(hint: Any) -> type[BaseModel] | None:
    candidates = typing.get_args(hint) or (hint,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None
