"""The rich job bar: markup shown as text, training numbers, the timer restarting for every job."""

from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from segbench.progress import RichReporter


def _job(name: str) -> SimpleNamespace:
    return SimpleNamespace(key=name, describe=lambda: f"{name} [64x64]", train=SimpleNamespace(epochs=3))


def _reporter() -> tuple[RichReporter, io.StringIO]:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=200, record=True)
    return RichReporter(console), buf


def test_evaluate_stage_and_brackets_are_shown_as_text() -> None:
    rep, _ = _reporter()
    rep.start(2)
    rep.job_started(_job("unet"), 3)
    rep.status("evaluate")
    task = rep.progress.tasks[rep.epoch_task]
    assert task.description == "  unet [64x64] [evaluate]"
    rendered = rep.progress.columns[0].render(task)
    assert "[evaluate]" in str(rendered) and "[64x64]" in str(rendered)  # markup=False keeps them
    rep.close()


def test_job_bar_shows_loss_and_best_validation_dice() -> None:
    rep, _ = _reporter()
    rep.start(1)
    rep.job_started(_job("unet"), 3)
    rep.epoch(1, 3, 0.5, 0.61)
    rep.epoch(2, 3, 0.4, 0.55)  # worse validation: the best stays 0.610
    rep.epoch(3, 3, 0.3, None)
    task = rep.progress.tasks[rep.epoch_task]
    assert task.fields["train"] == "loss 0.3000 · best val Dice 0.610"
    rep.close()


def test_timer_restarts_for_every_job() -> None:
    rep, _ = _reporter()
    rep.start(2)
    rep.job_started(_job("a"), 3)
    for e in (1, 2, 3):
        rep.epoch(e, 3, 0.5, None)
    task = rep.progress.tasks[rep.epoch_task]
    assert task.finished  # job 1's bar stopped its clock
    rep.job_finished(_job("a"), True)
    rep.job_started(_job("b"), 3)
    task = rep.progress.tasks[rep.epoch_task]
    assert not task.finished and task.completed == 0 and task.fields["train"] == ""
    rep.epoch(1, 3, 0.5, None)
    assert task.elapsed is not None and task.elapsed < 5  # counted from job 2's start, not frozen
    rep.close()


def test_failure_message_markup_is_escaped() -> None:
    rep, _ = _reporter()
    rep.start(1)
    rep.job_started(_job("a"), 3)
    rep.job_finished(_job("a"), False, "ValueError: bad [bold]x[/bold]")
    rep.close()
    assert "bad [bold]x[/bold]" in rep.console.export_text()
