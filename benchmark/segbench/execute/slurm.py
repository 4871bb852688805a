"""Run jobs as a Slurm array job through submitit (the library Hydra and benchopt use).

Why submitit: it pickles the call, writes the sbatch file, requeues a preempted or
timed-out job after asking it to checkpoint, and offers ``local`` (real subprocesses,
the same pickling and file protocol) and ``debug`` (in-process) backends that the tests
use in place of a cluster.

- One array job per submission; resources come from CLI options or the suite's
  ``executor:`` section.  Logs and submitit's files go under ``results/slurm/``.
- Every submitted job id is recorded in ``results/slurm/jobs.json`` (the parent alone
  writes SQLite), so a rerun after the parent died re-attaches to jobs still queued or
  running and submits only what is missing.
- On preemption or time-out submitit calls ``checkpoint``: the job is requeued and the
  worker resumes from its last epoch state (``train.checkpoint_every``).
- A job that ends without a shard (killed, out of memory, requeued too often) is stored
  as failed with the tail of its log.
- Results come back through the worker's JSON shard only: submitit's pickled return value
  (``<id>_0_result.pkl``) is never read, so no file in the shared results folder is unpickled.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segbench.execute.base import ExecutorOptions
from segbench.execute.config import SlurmSettings
from segbench.plan.task import Task
from segbench.shards import atomic_write_bytes, pending_shards

if TYPE_CHECKING:
    from segbench.progress import Reporter

__all__ = ["JOBS_FILE", "SlurmExecutor", "WorkerCall"]

JOBS_FILE = "jobs.json"
_ALIVE_STATES = {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "CONFIGURING", "COMPLETING", "SUSPENDED"}


class WorkerCall:
    """The callable submitit pickles: runs one task (its JSON text) and returns the shard path.

    ``checkpoint`` (called by submitit on preemption/time-out) tells the running job to
    stop without recording a failure and requeues the same call; training then resumes
    from its last saved epoch.

    ``paths`` is the submitting process's ``sys.path``: a suite's ``module:callable``
    model must import in the job exactly as it did when the suite was validated, whatever
    the job's working directory or environment (the pool executor passes it as PYTHONPATH).
    """

    def __init__(self, paths: Sequence[str] = ()) -> None:
        self.paths = tuple(paths)

    def __call__(self, task_json: str) -> str:
        missing = [p for p in getattr(self, "paths", ()) if p and p not in sys.path]
        sys.path[:0] = missing
        from segbench.worker.__main__ import run_task_json

        return str(run_task_json(task_json))

    def checkpoint(self, task_json: str) -> Any:
        import submitit

        from segbench.worker.job import STOP_REQUESTED

        STOP_REQUESTED.set()
        return submitit.helpers.DelayedSubmission(WorkerCall(getattr(self, "paths", ())), task_json)


@dataclass
class _Watched:
    task: Task
    job: Any  # a submitit Job, or None when re-attached to a local job by pid
    job_id: str
    started: bool = False


class SlurmExecutor:
    """Submit tasks as one submitit array job and ingest shards as they land.

    Args:
        options: results folder, device and per-job timeout (``--timeout-min``, checked
            here as a wall-clock limit from the job's start; Slurm's own limit, after which it
            requeues the job, is ``settings.wall_time_min``).
        reporter: progress display (job start/finish; epochs are not forwarded).
        settings: cluster, Slurm resources and wall time (``wall_time_min``), poll interval.
            Defaults to ``SlurmSettings()``.
    """

    #: Ctrl-C leaves cluster jobs running; the next ``segbench run`` re-attaches to them.
    detach_on_interrupt = True

    def __init__(
        self, options: ExecutorOptions, reporter: Reporter, settings: SlurmSettings | None = None
    ) -> None:
        import submitit

        s = settings or SlurmSettings()
        cluster = s.cluster
        if cluster == "slurm" and shutil.which("sbatch") is None:
            raise ValueError(
                "--executor slurm: Slurm is not available here (no sbatch on PATH); run on the cluster's "
                "login node, or use --executor local or pool (--slurm-cluster local tests the protocol)"
            )
        self.options = options
        self.reporter = reporter
        self.cluster = cluster
        self.folder = options.results / "slurm"
        self.poll_s = s.poll_s
        self.executor = submitit.AutoExecutor(folder=self.folder / "%j", cluster=cluster)
        with contextlib.suppress(OSError):  # submitit creates the literal template folder
            (self.folder / "%j").rmdir()
        params: dict[str, Any] = {"name": "segbench"}
        if s.wall_time_min is not None or cluster != "slurm":
            params["timeout_min"] = s.wall_time_min or 24 * 60  # submitit's name for the wall time
        optional = {
            "mem_gb": s.mem_gb,
            "cpus_per_task": s.cpus_per_task,
            "gpus_per_node": s.gpus_per_task,
            "slurm_partition": s.partition,
            "slurm_array_parallelism": s.array_parallelism,
        }
        params.update({k: v for k, v in optional.items() if v is not None})
        if s.additional_parameters:
            params["slurm_additional_parameters"] = dict(s.additional_parameters)
        if cluster == "slurm":
            params.setdefault("slurm_signal_delay_s", 120)  # time to save state before the kill
        self.executor.update_parameters(**params)
        self._watched: list[_Watched] = []
        self.submitted = 0
        self.reattached = 0

    # -- Executor protocol ---------------------------------------------------------
    def submit(self, tasks: Sequence[Task]) -> None:
        registry = self._load_registry()
        fresh: list[Task] = []
        for task in tasks:
            entry = registry.get(task.job.key)
            if entry and entry["conditions"] == _cond_keys(task) and self._alive(entry):
                self._watched.append(_Watched(task, self._job_handle(entry["job_id"]), entry["job_id"]))
                self.reattached += 1
            else:
                fresh.append(task)
        if fresh:
            payloads = [t.to_json(self.options.results, self.options.device) for t in fresh]
            jobs = self.executor.map_array(WorkerCall(sys.path), payloads)
            for task, job in zip(fresh, jobs, strict=True):
                self._watched.append(_Watched(task, job, str(job.job_id)))
                registry[task.job.key] = {
                    "job_id": str(job.job_id),
                    "cluster": self.cluster,
                    "conditions": _cond_keys(task),
                    "submitted_at": time.time(),
                }
            self.submitted += len(fresh)
            self._save_registry(registry)

    def as_completed(self) -> Iterator[Path]:
        started_at: dict[str, float] = {}
        while self._watched:
            for item in list(self._watched):
                if not item.started and self._running(item):
                    # The --timeout-min clock starts when the job runs, not while it is queued.
                    item.started = True
                    started_at[item.job_id] = time.monotonic()
                    self.reporter.job_started(item.task.job, len(item.task.conditions))
                shard = self._finished(item, started_at.get(item.job_id))
                if shard is not None:
                    self._watched.remove(item)
                    self._forget(item.task)
                    yield shard
            if self._watched:
                time.sleep(self.poll_s)

    def cancel(self) -> None:
        for item in self._watched:
            if item.job is not None:
                item.job.cancel(check=False)
        self._watched.clear()

    # -- internals -------------------------------------------------------------------
    def _running(self, item: _Watched) -> bool:
        """Whether the job has left the queue (always, off Slurm)."""
        if self.cluster != "slurm" or item.job is None:
            return True
        return str(item.job.state).upper() not in {"PENDING", "REQUEUED", "CONFIGURING", "UNKNOWN"}

    def _finished(self, item: _Watched, started: float | None) -> Path | None:
        """The job's shard once it has ended (a failed shard if it left none), else None."""
        from segbench.worker.job import write_failed_shard

        limit = self.options.timeout_min
        if limit is not None and started is not None and time.monotonic() - started > limit * 60:
            if item.job is not None:
                item.job.cancel(check=False)
            reason = f"TimeoutError: job exceeded train.timeout_min={limit:g} minutes and was cancelled"
            return write_failed_shard(item.task.job, self.options.results, self._log_tail(item) + reason)
        if not self._done(item):
            return None
        # Never ``job.result()``: it unpickles ``<id>_0_result.pkl`` from the results folder, which is
        # shared and writable by others (a planted file would run code here).  The worker's JSON shard
        # is the result, as with every executor.
        shard = self._shard_of(item)
        if shard is not None:
            return shard
        ended = "re-attached job" if item.job is None else "job"
        reason = f"SlurmJobFailed: {ended} {item.job_id} ended without writing its result shard"
        return write_failed_shard(item.task.job, self.options.results, self._log_tail(item) + reason)

    def _shard_of(self, item: _Watched) -> Path | None:
        """The newest pending shard of the job's key (written by the worker under ``shards/``)."""
        prefix = f"{item.task.job.key}-"
        found = [p for p in pending_shards(self.options.results) if p.name.startswith(prefix)]
        return found[-1] if found else None

    def _done(self, item: _Watched) -> bool:
        if item.job is not None:
            try:
                return bool(item.job.done())
            except Exception:  # the debug backend runs the call inside done() and re-raises its error
                return True
        return not _pid_alive(item.job_id)

    def _alive(self, entry: dict[str, Any]) -> bool:
        """Whether a recorded job is still queued or running (worth re-attaching to)."""
        if entry.get("cluster") != self.cluster or self.cluster == "debug":
            return False
        if self.cluster == "local":
            return _pid_alive(entry["job_id"])
        import submitit

        state = submitit.SlurmJob(folder=self.folder / entry["job_id"].split("_")[0], job_id=entry["job_id"])
        return str(state.state).upper() in _ALIVE_STATES

    def _job_handle(self, job_id: str) -> Any:
        if self.cluster == "local":
            return None  # submitit cannot rebuild a local job without its process: watch the pid
        import submitit

        return submitit.SlurmJob(folder=self.folder / job_id.split("_")[0], job_id=job_id)

    def _log_tail(self, item: _Watched, lines: int = 30) -> str:
        texts = []
        if item.job is not None:
            for getter in (item.job.stderr, item.job.stdout):
                try:
                    texts.append(getter() or "")
                except Exception:  # logs missing on a node without the shared folder
                    continue
        else:
            for path in sorted((self.folder / item.job_id).glob("*.err")):
                texts.append(path.read_text(errors="replace"))
        tail = "\n".join("\n".join(texts).strip().splitlines()[-lines:])
        # The reason follows the tail: the run summary shows an error's last line.
        return f"--- log tail (job {item.job_id}, {self.folder / item.job_id}) ---\n{tail or '(empty)'}\n"

    def _load_registry(self) -> dict[str, dict[str, Any]]:
        path = self.folder / JOBS_FILE
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    def _save_registry(self, registry: dict[str, dict[str, Any]]) -> None:
        atomic_write_bytes(self.folder / JOBS_FILE, json.dumps(registry, indent=1).encode())

    def _forget(self, task: Task) -> None:
        registry = self._load_registry()
        if registry.pop(task.job.key, None) is not None:
            self._save_registry(registry)


def _cond_keys(task: Task) -> list[str]:
    return sorted(task.job.condition_key(c) for c in task.conditions)


def _pid_alive(job_id: str) -> bool:
    """Whether a local job's controller process still runs (a zombie counts as ended)."""
    try:
        pid = int(job_id.split("_")[0])
        os.kill(pid, 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
