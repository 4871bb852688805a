"""Run jobs in N local worker processes (the same threads per job as anywhere, GPUs shared out).

Why subprocesses driven through a pipe rather than ``multiprocessing``: each worker gets
its own environment before torch is imported (``CUDA_VISIBLE_DEVICES``, thread counts),
a hung or crashed worker can be killed without corrupting a shared queue, and the wire
format is the same task JSON that ``python -m segbench.worker`` and Slurm use.

Protocol: the parent writes one task JSON per line to a worker's stdin; the worker
answers on a dedicated pipe (``--events-fd``) with JSON lines ``{"event": "epoch" |
"status" | "done", ...}``.  A worker's own stdout/stderr (user prints, warnings) go to
``results/logs/pool-<slot>.log``, whose tail is stored when the worker dies.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from segbench.execute.base import ExecutorOptions
from segbench.execute.config import PoolSettings
from segbench.execute.death import describe_exit
from segbench.plan.task import Task

if TYPE_CHECKING:
    from segbench.progress import Reporter

__all__ = ["PoolExecutor", "plan_slots"]


@dataclass(frozen=True)
class Slot:
    """One worker's placement: its GPU (None on CPU) and CPU thread count."""

    index: int
    gpu: str | None
    threads: int


def plan_slots(
    workers: int | None, device: str | None, jobs_per_gpu: int = 1, threads: int = 1
) -> list[Slot]:
    """Where each worker runs.

    Every worker runs its jobs with the same CPU thread count as any other executor would (the
    job's ``train.threads``, 1 by default): splitting the cores between workers made a job's
    numbers depend on the core count and the worker count.  Parallelism comes from workers.
    With GPUs, each visible GPU gets ``jobs_per_gpu`` workers (``workers`` overrides the
    total, assigned round-robin).

    Args:
        workers: number of processes; None means one per GPU x ``jobs_per_gpu``, or 2 on CPU.
        device: "cpu", "cuda", "cuda:N" or None (CUDA when available).
        jobs_per_gpu: concurrent jobs packed onto one GPU. Defaults to 1.
        threads: CPU threads of each worker (its jobs set their own, the same). Defaults to 1.

    The values are those of a ``PoolSettings``, which checked them.
    """
    gpus = _visible_gpus(device)
    count = workers if workers is not None else (len(gpus) * jobs_per_gpu if gpus else 2)
    return [Slot(i, gpus[i % len(gpus)] if gpus else None, threads) for i in range(count)]


def _visible_gpus(device: str | None) -> list[str]:
    if device is not None and device.startswith("cpu"):
        return []
    if device is not None and ":" in device:
        return [device.split(":", 1)[1]]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    if device is None and not _has_nvidia():
        return []  # no GPU: do not pay for importing torch in the parent
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def _has_nvidia() -> bool:
    return Path("/dev/nvidiactl").exists() or Path("/proc/driver/nvidia").exists()


@dataclass
class _Worker:
    slot: Slot
    proc: subprocess.Popen[bytes]
    events: int  # read end of the events pipe
    log: Path
    buffer: bytes = b""
    task: tuple[int, Task] | None = None
    started: float = 0.0
    data: str = ""  # the dataset its last task used (cached in that process)


@dataclass
class _Queue:
    pending: deque[tuple[int, Task]] = field(default_factory=deque)
    outstanding: int = 0


class PoolExecutor:
    """N persistent worker processes on this machine.

    Args:
        options: results folder, device and per-job timeout.
        reporter: progress display (events are forwarded from the workers).
        settings: workers, jobs per GPU and threads per worker (see ``plan_slots``). Defaults to
            ``PoolSettings()``.
    """

    def __init__(
        self, options: ExecutorOptions, reporter: Reporter, settings: PoolSettings | None = None
    ) -> None:
        settings = settings or PoolSettings()
        self.options = options
        self.reporter = reporter
        self.slots = plan_slots(settings.workers, options.device, settings.jobs_per_gpu, settings.threads)
        self.device = _worker_device(options.device, self.slots)
        self._queue = _Queue()
        self._workers: dict[int, _Worker] = {}
        self._selector = selectors.DefaultSelector()
        #: keep idle workers (imports done, datasets cached) for the next ``submit``; the caller then
        #: calls :meth:`close`. The runner sets it when ensembles wait for a second round.
        self.keep_alive = False

    # -- Executor protocol ---------------------------------------------------------
    def submit(self, tasks: Sequence[Task]) -> None:
        start = len(self._queue.pending) + self._queue.outstanding
        for offset, task in enumerate(tasks):
            self._queue.pending.append((start + offset, task))
        self._queue.outstanding += len(tasks)

    def as_completed(self) -> Iterator[Path]:
        finished = False
        try:
            while self._queue.outstanding:
                self._dispatch()
                for shard in self._poll(timeout=0.5):
                    self._queue.outstanding -= 1
                    yield shard
            finished = True
        finally:
            if not (finished and self.keep_alive):
                self.close()

    def cancel(self) -> None:
        self._queue.pending.clear()
        self._queue.outstanding = 0
        self.close()

    # -- internals -------------------------------------------------------------------
    def close(self) -> None:
        """Stop every worker (idle ones exit on EOF; busy ones are killed)."""
        for worker in list(self._workers.values()):
            self._stop(worker, kill=worker.task is not None)
        self._workers.clear()

    def _dispatch(self) -> None:
        for slot in self.slots:
            if not self._queue.pending:
                return
            worker = self._workers.get(slot.index)
            if worker is not None and worker.task is not None and worker.proc.poll() is not None:
                # Died mid-job and _poll has not recorded it yet: replacing the worker here lost the
                # job (never failed, never done), and the run waited for it forever.
                continue
            if worker is None or worker.proc.poll() is not None:
                if worker is not None:
                    self._stop(worker, kill=False)  # an idle worker that exited: release its pipe
                worker = self._workers[slot.index] = self._spawn(slot)
            if worker.task is not None:
                continue
            task_id, task = self._next_for(worker)
            worker.data = _data_key(task)
            line = task.to_json(self.options.results, self.device).replace("\n", "") + "\n"
            worker.task, worker.started = (task_id, task), time.monotonic()
            self.reporter.job_started(task.job, len(task.conditions))
            assert worker.proc.stdin is not None
            try:
                worker.proc.stdin.write(line.encode())
                worker.proc.stdin.flush()
            except BrokenPipeError:
                pass  # the worker died at start-up; _poll records it

    def _next_for(self, worker: _Worker) -> tuple[int, Task]:
        """The first pending task on the dataset this worker has cached, else the first one.

        Workers keep built datasets in memory (``load_dataset``), so sending a worker jobs on
        the data it already holds saves rebuilding it (seconds per dataset at 256x256).
        """
        pending = self._queue.pending
        for index, (_, task) in enumerate(pending):
            if worker.data and _data_key(task) == worker.data:
                item = pending[index]
                del pending[index]
                return item
        return pending.popleft()

    def _spawn(self, slot: Slot) -> _Worker:
        read_fd, write_fd = os.pipe()
        log = self.options.results / "logs" / f"pool-{slot.index}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **_slot_env(slot), "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        with log.open("ab") as handle:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "segbench.worker",
                    "--serve",
                    "--events-fd",
                    str(write_fd),
                    "--threads",
                    str(slot.threads),
                    "--parent-pid",
                    str(os.getpid()),
                ],
                stdin=subprocess.PIPE,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=env,
                pass_fds=(write_fd,),
                # Ctrl-C goes to the parent only; it stops the workers itself (and the kernel stops
                # them when the parent dies: the worker asks for a parent-death signal).
                start_new_session=True,
            )
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        worker = _Worker(slot, proc, read_fd, log)
        self._selector.register(read_fd, selectors.EVENT_READ, worker)
        return worker

    def _poll(self, timeout: float) -> Iterator[Path]:
        for key, _ in self._selector.select(timeout):
            worker: _Worker = key.data
            try:
                chunk = os.read(worker.events, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:  # the worker closed its end: it exited (checked below)
                self._selector.unregister(worker.events)
                continue
            worker.buffer += chunk
            *lines, worker.buffer = worker.buffer.split(b"\n")
            for line in lines:
                shard = self._handle(worker, json.loads(line))
                if shard is not None:
                    yield shard
        now = time.monotonic()
        for worker in list(self._workers.values()):
            if worker.task is None:
                continue
            limit = self.options.timeout_min
            if limit is not None and now - worker.started > limit * 60:
                yield self._fail(
                    worker,
                    f"TimeoutError: job exceeded train.timeout_min={limit:g} minutes "
                    f"and was stopped (worker killed)",
                )
            elif worker.proc.poll() is not None:
                yield self._fail(
                    worker,
                    # The reason goes last: the run summary shows an error's last line.
                    f"--- log tail ({worker.log}) ---\n{_tail(worker.log)}\n"
                    f"WorkerDied: worker process {describe_exit(worker.proc.returncode)}",
                )

    def _handle(self, worker: _Worker, event: dict[str, Any]) -> Path | None:
        assert worker.task is not None
        job = worker.task[1].job
        kind = event.get("event")
        if kind == "epoch":
            self.reporter.epoch(event["epoch"], event["total"], event["loss"], event["val_dice"], job=job)
        elif kind == "started":  # the timeout counts from here, not from the worker's imports
            worker.started = time.monotonic()
        elif kind == "status":
            self.reporter.status(event["stage"], job=job)
        elif kind == "done":
            worker.task = None
            return Path(event["shard"])
        return None

    def _fail(self, worker: _Worker, reason: str) -> Path:
        from segbench.worker.job import write_failed_shard

        assert worker.task is not None
        task = worker.task[1]
        self._stop(worker, kill=True)
        del self._workers[worker.slot.index]
        return write_failed_shard(task.job, self.options.results, reason)

    def _stop(self, worker: _Worker, kill: bool) -> None:
        stdin: IO[bytes] | None = worker.proc.stdin
        if kill:
            _kill_group(worker.proc)
        try:
            if stdin is not None:
                stdin.close()
        except OSError:
            pass
        try:
            worker.proc.wait(timeout=None if kill else 30)
        except subprocess.TimeoutExpired:
            _kill_group(worker.proc)
            worker.proc.wait()
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(worker.events)
        os.close(worker.events)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker and anything it started (it leads its own session, so its group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        proc.kill()


def _data_key(task: Task) -> str:
    job = task.job
    return f"{job.dataset.model_dump_json()}|{job.complexity}|{job.data_seed}"


def _slot_env(slot: Slot) -> dict[str, str]:
    env = {"OMP_NUM_THREADS": str(slot.threads), "MKL_NUM_THREADS": str(slot.threads)}
    env["CUDA_VISIBLE_DEVICES"] = slot.gpu if slot.gpu is not None else ""
    return env


def _worker_device(device: str | None, slots: list[Slot]) -> str | None:
    """Inside a worker its GPU is always ``cuda:0`` (CUDA_VISIBLE_DEVICES pins it)."""
    if any(s.gpu is not None for s in slots):
        return "cuda"
    return "cpu" if device is None or device.startswith("cpu") else device


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
