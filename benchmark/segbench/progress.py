"""Progress display: a rich bar over jobs and epochs with ETA, or plain log lines.

Several jobs may run at once (pool and Slurm executors), so epoch and stage events name
their job (``job=``); ``None`` means the job started last (the sequential case).
Reporters live in the parent process: executors forward their workers' events here.
"""

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
    def status(self, stage: str, job: Any = None) -> None: ...
    def epoch(self, epoch: int, total: int, loss: float, val_dice: float | None, job: Any = None) -> None: ...
    def job_finished(self, job: Any, ok: bool, message: str = "") -> None: ...
    def close(self) -> None: ...


class RichReporter:
    """A jobs bar (with ETA) and one epoch bar per running job."""

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
        # One bar per running job (a fresh task each, so elapsed/ETA never freeze), and its best val Dice.
        self.epoch_tasks: dict[str, Any] = {}
        self.best_val: dict[str, float] = {}
        self.last_key: str | None = None

    def start(self, total_jobs: int) -> None:
        self.progress.start()
        self.jobs_task = self.progress.add_task("jobs", total=total_jobs)

    @property
    def epoch_task(self) -> int | None:
        """Index in ``progress.tasks`` of the bar of the job started last (None when none runs)."""
        task_id = self.epoch_tasks.get(self.last_key or "")
        return next((i for i, t in enumerate(self.progress.tasks) if t.id == task_id), None)

    def _key(self, job: Any) -> str | None:
        return job.key if job is not None else self.last_key

    def job_started(self, job: Any, n_conditions: int) -> None:
        self.epoch_tasks[job.key] = self.progress.add_task(
            f"  {job.describe()}", completed=0, total=job.train.epochs, train=""
        )
        self.best_val[job.key] = float("nan")
        self.last_key = job.key

    def status(self, stage: str, job: Any = None) -> None:
        task_id = self.epoch_tasks.get(self._key(job) or "")
        if stage == "evaluate" and task_id is not None:
            task = next(t for t in self.progress.tasks if t.id == task_id)
            self.progress.update(
                task_id,
                completed=task.total,
                description=task.description.removesuffix(" [evaluate]") + " [evaluate]",
            )

    def epoch(self, epoch: int, total: int, loss: float, val_dice: float | None, job: Any = None) -> None:
        key = self._key(job) or ""
        task_id = self.epoch_tasks.get(key)
        if task_id is not None:
            self.progress.update(task_id, completed=epoch, train=self._train_text(key, loss, val_dice))

    def job_finished(self, job: Any, ok: bool, message: str = "") -> None:
        self.progress.advance(self.jobs_task)
        task_id = self.epoch_tasks.pop(job.key, None)
        if task_id is not None:
            self.progress.remove_task(task_id)
        if not ok:
            self.progress.console.print(f"[red]failed[/red] {escape(job.describe())}: {escape(message)}")

    def close(self) -> None:
        self.progress.stop()

    def _train_text(self, key: str, loss: float, val_dice: float | None) -> str:
        """``loss 0.41 · best val Dice 0.83``: the current loss and the best validation Dice so far."""
        best_val = self.best_val.get(key, float("nan"))
        if val_dice is not None and not val_dice <= best_val:  # NaN-safe "better or first"
            best_val = self.best_val[key] = val_dice
        best = "" if best_val != best_val else f" · best val Dice {best_val:.3f}"
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
        self.started_jobs = 0
        self.started = time.perf_counter()

    def _say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start(self, total_jobs: int) -> None:
        self.total = total_jobs

    def job_started(self, job: Any, n_conditions: int) -> None:
        self.started_jobs += 1
        self._say(f"[{self.started_jobs}/{self.total}] {job.describe()} ({n_conditions} eval conditions)")

    def status(self, stage: str, job: Any = None) -> None:
        if stage.startswith("retrain"):
            self._say(f"    {stage}")

    def epoch(self, epoch: int, total: int, loss: float, val_dice: float | None, job: Any = None) -> None:
        if self.epochs and val_dice is not None:
            name = f"{job.describe()} " if job is not None else ""
            self._say(f"    {name}epoch {epoch}/{total} loss {loss:.4f} val dice {val_dice:.4f}")

    def job_finished(self, job: Any, ok: bool, message: str = "") -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        state = "done" if ok else f"FAILED: {message}"
        self._say(f"    {state}: {job.describe()} (elapsed {elapsed:.0f}s, eta {eta:.0f}s)")

    def close(self) -> None:
        pass


def make_reporter(quiet: bool) -> Reporter:
    """Rich bars on a terminal; log lines when ``quiet`` or when stderr is not a TTY."""
    if quiet or not sys.stderr.isatty():
        return LogReporter()
    return RichReporter()
