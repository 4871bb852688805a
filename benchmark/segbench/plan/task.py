"""A task: one unit of work the executors hand to a worker, and its JSON form (light: no torch).

Why in ``plan`` (not ``execute``): the plan produces tasks, executors carry them and the worker runs
them; with the type here, below both, neither ``execute`` nor ``worker`` imports the other's package
to name it.  A task serialises to JSON (``Task.to_json``), so any scheduler can drive it with
``python -m segbench.worker TASK.json``.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from segbench.plan.ensembles import EnsembleJob
from segbench.plan.jobs import EvalCondition, TrainJob

__all__ = ["Job", "Task", "job_from_dict", "job_to_dict"]

#: what a task runs: a train job (train or reuse its checkpoint, then evaluate) or an ensemble of
#: trained jobs (evaluate only); both have ``key``, ``suite``, ``describe()`` and ``condition_key``
Job = TrainJob | EnsembleJob


@dataclass(frozen=True)
class Task:
    """A job plus the conditions it still has to evaluate.

    An ensemble task is planned after its members' tasks and sent only once they are trained.
    """

    job: Job
    conditions: tuple[EvalCondition, ...]

    @property
    def is_ensemble(self) -> bool:
        return isinstance(self.job, EnsembleJob)

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


def job_to_dict(job: Job) -> dict[str, Any]:
    """JSON-able form of a job (pydantic fields dumped, conditions as dicts; an ensemble's members)."""
    if isinstance(job, EnsembleJob):
        return {
            "ensemble": {
                "suite": job.suite,
                "label": job.label,
                "seed": job.seed,
                "key": job.key,
                "members": [job_to_dict(m) for m in job.members],
            }
        }
    out: dict[str, Any] = {}
    for f in dataclasses.fields(job):
        value = getattr(job, f.name)
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        elif f.name == "conditions":
            value = [dataclasses.asdict(c) for c in value]
        out[f.name] = value
    return out


def job_from_dict(data: dict[str, Any]) -> Job:
    """Rebuild a job from ``job_to_dict``'s output (types from the annotations)."""
    if "ensemble" in data:
        ens = data["ensemble"]
        members = tuple(_train_job(m) for m in ens["members"])
        return EnsembleJob(ens["suite"], ens["label"], members, ens["seed"], ens["key"])
    return _train_job(data)


def _train_job(data: dict[str, Any]) -> TrainJob:
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
