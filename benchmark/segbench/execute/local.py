"""Run jobs one after another (CPU or one GPU), each isolated from this process.

On Linux each job runs in a forked child (:mod:`segbench.execute.forked`): a model that calls
``os._exit``, segfaults or aborts fails its own job, named with the signal or exit code, and the
suite goes on.  With a per-job timeout (``train.timeout_min`` or ``--timeout-min``), or a CUDA
device named on the command line (the parent then initialised CUDA, which a fork cannot inherit),
the jobs run in a one-worker pool instead (a fresh interpreter; a hung job can only be stopped by
killing its process).  Elsewhere (macOS, Windows) jobs run in this process.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from segbench.execute.base import ExecutorOptions
from segbench.execute.config import PoolSettings
from segbench.execute.forked import fork_available, preload_for_children, run_forked
from segbench.plan.task import Task

if TYPE_CHECKING:
    from segbench.progress import Reporter

__all__ = ["LocalExecutor"]


class LocalExecutor:
    """Sequential execution; yields each shard as soon as it is written.

    Args:
        options: results folder, device and per-job timeout.
        reporter: progress display.
    """

    def __init__(self, options: ExecutorOptions, reporter: Reporter) -> None:
        self.options = options
        self.reporter = reporter
        self._tasks: list[Task] = []
        self._child = None

    def submit(self, tasks: Sequence[Task]) -> None:
        self._tasks.extend(tasks)

    def as_completed(self) -> Iterator[Path]:
        device = self.options.device or ""
        if self.options.timeout_min is not None or (fork_available() and device.startswith(("cuda", "mps"))):
            yield from self._in_child()
            return
        from segbench.worker.job import INTERRUPTED
        from segbench.worker.run import prebuild_dataset, run_task

        forking = fork_available()
        if forking and self._tasks:
            preload_for_children()
        INTERRUPTED.clear()
        with _ctrl_c_flag(INTERRUPTED):
            while self._tasks:
                task = self._tasks.pop(0)
                self.reporter.job_started(task.job, len(task.conditions))
                if forking:
                    prebuild_dataset(task)
                    shard = run_forked(task, self.options.results, self.options.device, self.reporter)
                else:
                    shard = run_task(
                        task,
                        self.options.results,
                        self.options.device,
                        on_epoch=self.reporter.epoch,
                        on_status=self.reporter.status,
                    )
                if INTERRUPTED.is_set():  # a library swallowed the KeyboardInterrupt
                    raise KeyboardInterrupt
                yield shard

    def _in_child(self) -> Iterator[Path]:
        import torch

        from segbench.execute.pool import PoolExecutor

        settings = PoolSettings(workers=1, threads=torch.get_num_threads())
        self._child = PoolExecutor(self.options, self.reporter, settings)
        self._child.submit(self._tasks)
        self._tasks = []
        yield from self._child.as_completed()

    def cancel(self) -> None:
        self._tasks.clear()
        if self._child is not None:
            self._child.cancel()


@contextlib.contextmanager
def _ctrl_c_flag(flag: threading.Event) -> Iterator[None]:
    """Record Ctrl-C in ``flag`` (then raise ``KeyboardInterrupt`` as usual) while running jobs.

    A run started with SIGINT ignored (in the background of a script, as POSIX shells start it)
    keeps ignoring it, as the pool and a ``--wait`` on the lock do.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    ):
        yield
        return

    def handler(signum: int, frame: object) -> None:
        flag.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
