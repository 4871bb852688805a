"""Progress display: a rich bar over jobs and epochs with ETA, or plain log lines."""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["LogReporter", "Reporter", "RichReporter", "make_reporter"]


class Reporter(Protocol):
    def start(self, total_jobs: int) -> None: ...
    def job_started(self, job: Any, n_conditions: int) -> None: ...
    def status(self, stage: str) -> None: ...
    def epoch(self, epoch: int, total: int, loss: float, val_dice: float | None) -> None: ...
    def job_finished(self, job: Any, ok: bool, message: str = "") -> None: ...
    def close(self) -> None: ...


class RichReporter:
    """Two bars: jobs (with ETA) and the current job's epochs."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.jobs_task: Any = None
        self.epoch_task: Any = None

    def start(self, total_jobs: int) -> None:
        self.progress.start()
        self.jobs_task = self.progress.add_task("jobs", total=total_jobs)
        self.epoch_task = self.progress.add_task("", total=1, visible=False)

    def job_started(self, job: Any, n_conditions: int) -> None:
        self.progress.update(
            self.epoch_task,
            description=f"  {job.describe()}",
            completed=0,
            total=job.train.epochs,
            visible=True,
        )

    def status(self, stage: str) -> None:
        if stage == "evaluate":
            task = self.progress.tasks[self.epoch_task]
            self.progress.update(
                self.epoch_task,
                completed=task.total,
                description=task.description.split(" [")[0] + " [evaluate]",
            )

    def epoch(self, epoch: int, total: int, loss: float, val_dice: float | None) -> None:
        self.progress.update(self.epoch_task, completed=epoch)

    def job_finished(self, job: Any, ok: bool, message: str = "") -> None:
        self.progress.advance(self.jobs_task)
        if not ok:
            self.progress.console.print(f"[red]failed[/red] {job.describe()}: {message}")

    def close(self) -> None:
        self.progress.stop()


class LogReporter:
    """One line per job (and per validation) for logs and ``--quiet``-style output."""

    def __init__(self, stream: Any = None, epochs: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.epochs = epochs
        self.total = 0
        self.done = 0
        self.started = time.perf_counter()

    def _say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start(self, total_jobs: int) -> None:
        self.total = total_jobs

    def job_started(self, job: Any, n_conditions: int) -> None:
        self._say(f"[{self.done + 1}/{self.total}] {job.describe()} ({n_conditions} eval conditions)")

    def status(self, stage: str) -> None:
        pass

    def epoch(self, epoch: int, total: int, loss: float, val_dice: float | None) -> None:
        if self.epochs and val_dice is not None:
            self._say(f"    epoch {epoch}/{total} loss {loss:.4f} val dice {val_dice:.4f}")

    def job_finished(self, job: Any, ok: bool, message: str = "") -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        state = "done" if ok else f"FAILED: {message}"
        self._say(f"    {state} (elapsed {elapsed:.0f}s, eta {eta:.0f}s)")

    def close(self) -> None:
        pass


def make_reporter(quiet: bool) -> Reporter:
    """Rich bars on a terminal; log lines when ``quiet`` or when stderr is not a TTY."""
    if quiet or not sys.stderr.isatty():
        return LogReporter()
    return RichReporter()
