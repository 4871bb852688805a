"""Progress display: a rich bar over jobs and epochs with ETA, or plain log lines."""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
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
            TextColumn("{task.description}", markup=False),  # "[evaluate]", "unet [64x64]" are text
            BarColumn(),
            MofNCompleteColumn(),
            _TrainColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.jobs_task: Any = None
        self.epoch_task: Any = None
        self.best_val = float("nan")

    def start(self, total_jobs: int) -> None:
        self.progress.start()
        self.jobs_task = self.progress.add_task("jobs", total=total_jobs)
        self.epoch_task = self.progress.add_task("", total=1, visible=False)

    def job_started(self, job: Any, n_conditions: int) -> None:
        # reset (not update): a finished task keeps its stop time, which froze elapsed/ETA after job 1
        self.progress.reset(
            self.epoch_task, description=f"  {job.describe()}", total=job.train.epochs, visible=True, train=""
        )
        self.best_val = float("nan")

    def status(self, stage: str) -> None:
        if stage == "evaluate":
            task = self.progress.tasks[self.epoch_task]
            self.progress.update(
                self.epoch_task,
                completed=task.total,
                description=task.description.removesuffix(" [evaluate]") + " [evaluate]",
            )

    def epoch(self, epoch: int, total: int, loss: float, val_dice: float | None) -> None:
        self.progress.update(self.epoch_task, completed=epoch, train=self._train_text(loss, val_dice))

    def job_finished(self, job: Any, ok: bool, message: str = "") -> None:
        self.progress.advance(self.jobs_task)
        if not ok:
            self.progress.console.print(f"[red]failed[/red] {escape(job.describe())}: {escape(message)}")

    def close(self) -> None:
        self.progress.stop()

    def _train_text(self, loss: float, val_dice: float | None) -> str:
        """``loss 0.41 · best val Dice 0.83``: the current loss and the best validation Dice so far."""
        if val_dice is not None and not val_dice <= self.best_val:  # NaN-safe "better or first"
            self.best_val = val_dice
        best = "" if self.best_val != self.best_val else f" · best val Dice {self.best_val:.3f}"
        return f"loss {loss:.4f}{best}"


class _TrainColumn(ProgressColumn):
    """The job bar's training numbers (empty on bars without them, e.g. the jobs bar)."""

    def render(self, task: Any) -> Any:
        from rich.text import Text

        return Text(str(task.fields.get("train", "")), style="cyan")


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
