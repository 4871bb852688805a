"""Each executor's own settings, typed and checked once; which executor a run uses.

Why one dataclass per executor: the options of ``pool`` and ``slurm`` have nothing in common, and a
kwargs dict let a misspelt or misplaced option (``--workers`` with slurm) travel until a constructor
rejected it.  A settings object is checked when it is built (the same checks as the command line's),
so an executor constructor receives only valid values.  The per-job limit (``--timeout-min``,
``train.timeout_min``) is not here: every executor enforces it (``ExecutorOptions.timeout_min``);
Slurm's own wall time, after which it requeues a job, is ``SlurmSettings.wall_time_min``.

Choice: CLI options over the suite's ``executor:`` section (its own kind only) over "local".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from segbench.suite.schema import Suite

__all__ = [
    "EXECUTORS",
    "ExecutorSettings",
    "LocalSettings",
    "PoolSettings",
    "SlurmSettings",
    "executor_choice",
    "settings_for",
]

EXECUTORS = ("local", "pool", "slurm")
CLUSTERS = ("slurm", "local", "debug")


@dataclass(frozen=True)
class LocalSettings:
    """The in-process executor takes no settings of its own."""

    kind: ClassVar[str] = "local"


@dataclass(frozen=True)
class PoolSettings:
    """N persistent worker processes on this machine.

    Args:
        workers: number of worker processes; None means one per GPU x ``jobs_per_gpu``, or 2 on CPU.
            Defaults to 2.
        jobs_per_gpu: concurrent jobs packed onto one GPU. Defaults to 1.
        threads: CPU threads of each worker, the run's ``train.threads``. Defaults to 1.
    """

    kind: ClassVar[str] = "pool"
    workers: int | None = 2
    jobs_per_gpu: int = 1
    threads: int = 1

    def __post_init__(self) -> None:
        _at_least("--workers", self.workers, 1)
        _at_least("--jobs-per-gpu", self.jobs_per_gpu, 1)
        _at_least("--threads", self.threads, 1)


@dataclass(frozen=True)
class SlurmSettings:
    """One submitit array job (``cluster="local"``/``"debug"`` run the same protocol without Slurm).

    Args:
        cluster: "slurm", or submitit's "local"/"debug" backends (tests, no cluster). Defaults to "slurm".
        partition, gpus_per_task, cpus_per_task, mem_gb: Slurm resources per job (None: the cluster's).
        wall_time_min: Slurm wall time per job in minutes (``--slurm-timeout-min``); a job reaching it
            is requeued. None: 24 hours off Slurm, the partition's limit on it.
        array_parallelism: array tasks running at once.
        additional_parameters: extra sbatch options, e.g. ``{"qos": "high"}``.
        poll_s: seconds between state checks. Defaults to 2.
    """

    kind: ClassVar[str] = "slurm"
    cluster: str = "slurm"
    partition: str | None = None
    gpus_per_task: int | None = None
    cpus_per_task: int | None = None
    mem_gb: float | None = None
    wall_time_min: int | None = None
    array_parallelism: int | None = None
    additional_parameters: Mapping[str, Any] = field(default_factory=dict)
    poll_s: float = 2.0

    def __post_init__(self) -> None:
        if self.cluster not in CLUSTERS:
            raise ValueError(f"--slurm-cluster must be slurm, local or debug, got {self.cluster!r}")
        _at_least("--gpus-per-task", self.gpus_per_task, 0)
        _at_least("--cpus-per-task", self.cpus_per_task, 1)
        _at_least("--slurm-timeout-min", self.wall_time_min, 1)
        _at_least("--array-parallelism", self.array_parallelism, 1)
        _positive("--mem-gb", self.mem_gb)
        _positive("poll_s", self.poll_s)


ExecutorSettings = LocalSettings | PoolSettings | SlurmSettings
_CLASSES: dict[str, type[LocalSettings] | type[PoolSettings] | type[SlurmSettings]] = {
    "local": LocalSettings,
    "pool": PoolSettings,
    "slurm": SlurmSettings,
}
# Command-line names of fields whose flag is not simply ``--field-name`` (for error messages).
_FLAGS = {"wall_time_min": "--slurm-timeout-min", "cluster": "--slurm-cluster"}


def settings_for(kind: str, values: Mapping[str, Any]) -> ExecutorSettings:
    """The settings of executor ``kind`` from ``values`` (None values mean "default").

    Raises:
        ValueError: unknown kind, an option that kind does not take (naming the kind that does), or
            a value out of range.
    """
    if kind not in _CLASSES:
        raise ValueError(f"unknown executor {kind!r}; choose from {', '.join(EXECUTORS)}")
    given = {k: v for k, v in values.items() if v is not None}
    extra = sorted(set(given) - _names(kind))
    if extra:
        options = ", ".join(_FLAGS.get(name, "--" + name.replace("_", "-")) for name in extra)
        takers = [k for k in _CLASSES if k != kind and set(extra) <= _names(k)]
        hint = f"; use --executor {' or '.join(takers)}" if takers else ""
        raise ValueError(f"executor {kind!r} does not take {options}{hint}")
    return _CLASSES[kind](**given)


def executor_choice(suite: Suite, kind: str | None, overrides: Mapping[str, Any]) -> ExecutorSettings:
    """The run's executor settings: the suite's section applies only to its own kind, CLI wins.

    Args:
        suite: the loaded suite (its optional ``executor:`` section).
        kind: "local", "pool", "slurm" from the command line, or None.
        overrides: per-executor options given on the command line (None = not given).
    """
    section = suite.executor
    chosen = kind or (section.kind if section else "local")
    values: dict[str, Any] = {}
    if section is not None and section.kind == chosen:
        values = section.model_dump(exclude={"kind"}, exclude_defaults=True)
    values.update({k: v for k, v in overrides.items() if v is not None})
    if chosen == "pool":  # its workers run at the jobs' thread count
        values.setdefault("threads", suite.train.threads)
    return settings_for(chosen, values)


def _names(kind: str) -> set[str]:
    return {f.name for f in fields(_CLASSES[kind])}


def _at_least(flag: str, value: int | None, low: int) -> None:
    if value is not None and not (isinstance(value, int) and value >= low):
        raise ValueError(f"{flag} must be an integer >= {low}, got {value!r}")


def _positive(flag: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{flag} must be a finite number > 0, got {value!r}")
