"""A misbehaving model fails its own job, visibly, and the suite goes on (issue 14: 2, 3, 4, 12)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests_tiny_text import tiny_with_models

from segbench import api
from segbench.cli import main
from segbench.store import Store

pytestmark = pytest.mark.slow


def _invoke(suite: Path, results: Path, *extra: str):
    return CliRunner().invoke(main, ["run", str(suite), "--results", str(results), "--quiet", *extra])


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("faulty_models:exits", "SystemExit: 3"),
        ("faulty_models:base_exception", "QuietAbort: faulty model: a bare BaseException"),
        ("faulty_models:raises", "RuntimeError: faulty model: forward always raises"),
        ("faulty_models:returns_tuple", "ModelOutputError: the model returned a tuple, not a tensor"),
        (
            "faulty_models:downsamples",
            "ModelOutputError: the model returned shape (4, 1, 16, 16) for an input of shape (4, 1, 32, 32)",
        ),
        ("faulty_models:no_parameters", "ModelOutputError: the model has no trainable parameters"),
    ],
)
def test_exit_or_base_exception_in_user_code_is_a_recorded_failure(
    write_suite, tmp_path: Path, model: str, message: str
) -> None:
    text = tiny_with_models([model, "unet"], "faults").replace("epochs: 10", "epochs: 2")
    suite = write_suite(text, "faults")
    results = tmp_path / "results"
    result = _invoke(suite, results)
    assert result.exit_code == 1, result.output  # not a silent exit 0 or the model's own code
    assert "1 FAILED" in result.output and message.split(":")[0] in result.output
    jobs = Store(results).jobs("faults").set_index("model")
    assert jobs.loc[model, "status"] == "failed" and message in jobs.loc[model, "error"]
    assert jobs.loc["unet", "status"] == "trained"  # the suite went on after the failure


def test_hung_job_is_killed_at_the_timeout_and_stored_as_failed(write_suite, tmp_path: Path) -> None:
    suite = write_suite(tiny_with_models(["faulty_models:hangs"], "hang"), "hang")
    results = tmp_path / "results"
    started = time.monotonic()
    result = _invoke(suite, results, "--timeout-min", "0.1")  # 6 s, counted once the worker is ready
    assert time.monotonic() - started < 120
    assert result.exit_code == 1, result.output
    assert "timeout_min=0.1" in result.output
    jobs = Store(results).jobs("hang")
    assert jobs["status"].tolist() == ["failed"]
    assert "TimeoutError: job exceeded train.timeout_min=0.1 minutes" in jobs["error"].iloc[0]


def test_suite_timeout_applies_in_a_pool_worker(write_suite, tmp_path: Path) -> None:
    text = tiny_with_models(["faulty_models:hangs"], "hangpool")
    text = text.replace("lr: 0.01,", "lr: 0.01, timeout_min: 0.1,")
    suite = write_suite(text, "hangpool")
    results = tmp_path / "results"
    result = _invoke(suite, results, "--executor", "pool", "--workers", "1")
    assert result.exit_code == 1 and "timeout_min=0.1" in result.output, result.output
    assert Store(results).jobs("hangpool")["status"].tolist() == ["failed"]


def test_nan_logits_at_test_time_fail_the_condition_not_score_zero(write_suite, tmp_path: Path) -> None:
    # Batch 8: validation (4 images) passes one batch of 4, the test set (8) one batch of 8.
    text = tiny_with_models(["faulty_models:nan_at_test"], "nan").replace("batch_size: 4", "batch_size: 8")
    text = text.replace("epochs: 10", "epochs: 2")
    suite = write_suite(text, "nan")
    results = tmp_path / "results"
    result = _invoke(suite, results)
    assert result.exit_code == 1, result.output
    assert "NonFiniteOutputError" in result.output and "non-finite" in result.output
    store = Store(results)
    assert store.cases("nan").empty  # nothing scored as Dice 0
    jobs = store.jobs("nan")
    assert jobs["status"].tolist() == ["failed"] and "condition none" in jobs["error"].iloc[0]
    # The model was trained and saved: the rerun reuses it and fails the same conditions again.
    ckpt = next((results / "checkpoints").glob("*.pt"))
    mtime = ckpt.stat().st_mtime_ns
    plan = api.plan_suite(suite, results)
    assert "trained; 2 conditions to evaluate" in "\n".join(plan.lines())
    again = api.run_suite(suite, results, quiet=True)
    assert len(again.failed) == 1 and ckpt.stat().st_mtime_ns == mtime


def test_failure_after_training_is_a_failure_everywhere(write_suite, tmp_path: Path, monkeypatch) -> None:
    """Evaluation crashing after a successful training: store, summary and exit code all say failed."""
    import segbench.worker.job as job_module

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(job_module, "score_cases", broken)
    suite = write_suite(tiny_with_models(["unet"], "late").replace("epochs: 10", "epochs: 2"), "late")
    results = tmp_path / "results"
    result = _invoke(suite, results)
    assert result.exit_code == 1 and "No space left on device" in result.output
    jobs = Store(results).jobs("late")
    assert jobs["status"].tolist() == ["failed"]
    assert jobs["n_params"].iloc[0] > 0  # the training itself is kept (checkpoint saved)


def test_failed_checkpoint_save_leaves_job_untrained(write_suite, tmp_path: Path, monkeypatch) -> None:
    import segbench.worker.job as job_module

    def full_disk(path, payload):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(job_module, "save_payload", full_disk)
    suite = write_suite(tiny_with_models(["unet"], "nosave").replace("epochs: 10", "epochs: 2"), "nosave")
    results = tmp_path / "results"
    assert _invoke(suite, results).exit_code == 1
    jobs = Store(results).jobs("nosave")
    assert jobs["status"].tolist() == ["failed"]
    plan = api.plan_suite(suite, results)
    assert "to train" in "\n".join(plan.lines()) and "trained;" not in "\n".join(plan.lines())
    assert not list(results.glob("checkpoints/*.pt"))


def test_pool_worker_that_dies_fails_its_job_and_is_replaced(write_suite, tmp_path: Path) -> None:
    text = tiny_with_models(["faulty_models:crashes", "unet"], "crashpool").replace("epochs: 10", "epochs: 2")
    suite = write_suite(text, "crashpool")
    results = tmp_path / "results"
    result = _invoke(suite, results, "--executor", "pool", "--workers", "1")
    assert result.exit_code == 1, result.output
    assert "WorkerDied: worker process was killed by SIGKILL (signal 9" in result.output  # the reason
    jobs = Store(results).jobs("crashpool").set_index("model")
    assert jobs.loc["faulty_models:crashes", "status"] == "failed"
    assert "--- log tail" in jobs.loc["faulty_models:crashes", "error"]
    assert jobs.loc["unet", "status"] == "trained"  # a fresh worker took the next job


def test_worker_that_dies_before_the_poll_notices_still_fails_its_job(write_suite, tmp_path: Path) -> None:
    """The race behind an intermittent hang: a busy worker died, and the next dispatch saw the dead
    process before ``_poll`` did. It replaced the worker as if idle, so the crashed job was never
    failed nor done and the run waited for it forever. Here the race is forced: dispatch runs
    again only once the worker is certainly dead."""
    import io
    import json

    from segbench.execute import ExecutorOptions, PoolSettings, Task
    from segbench.execute.pool import PoolExecutor
    from segbench.plan import expand
    from segbench.progress import LogReporter
    from segbench.suite.load import load_suite

    text = tiny_with_models(["faulty_models:crashes", "unet"], "race").replace("epochs: 10", "epochs: 1")
    jobs = expand(load_suite(write_suite(text, "race")))
    crash = next(j for j in jobs if j.model.name == "faulty_models:crashes")
    other = next(j for j in jobs if j is not crash)
    options = ExecutorOptions(tmp_path / "results", "cpu")
    pool = PoolExecutor(options, LogReporter(stream=io.StringIO()), PoolSettings(workers=1))
    pool.submit([Task(crash, crash.conditions), Task(other, other.conditions)])
    pool._dispatch()
    (worker,) = pool._workers.values()
    worker.proc.wait(timeout=300)  # it kills itself in the first forward pass
    pool._dispatch()  # sees the dead process first
    assert pool._workers[0] is worker, "the dead busy worker was replaced and its job lost"
    shards = [json.loads(p.read_text()) for p in pool.as_completed()]
    by_key = {s["job_key"]: s["status"] for s in shards}
    assert by_key == {crash.key: "failed", other.key: "done"}
