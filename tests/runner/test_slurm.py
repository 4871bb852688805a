"""The Slurm executor on submitit's local (real subprocesses) and debug backends."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from tests_tiny_text import TEMPLATE, tiny_with_models

from segbench import api
from segbench.execute import ExecutorOptions, SlurmSettings, Task
from segbench.execute.slurm import JOBS_FILE, SlurmExecutor
from segbench.plan import expand
from segbench.progress import LogReporter
from segbench.store import Store
from segbench.suite.load import load_suite
from segbench.worker.checkpoint import state_path

pytestmark = pytest.mark.slow

_KEY = ["model", "perturbation", "severity", "seed", "case_id"]
_RELIABILITY = Path(__file__).parent.parent / "reliability"


def _cases(results: Path, suite: str) -> pd.DataFrame:
    cases = Store(results).cases(suite).sort_values(_KEY).reset_index(drop=True)
    return cases[[*_KEY, "dice", "hd95", "nsd"]]


def _quiet() -> LogReporter:
    return LogReporter(stream=open("/dev/null", "w"))


@pytest.mark.parametrize("cluster", ["debug", "local"])
def test_slurm_executor_matches_local_run(tiny_suite: Path, tmp_path: Path, cluster: str) -> None:
    reference, slurm = tmp_path / "sequential", tmp_path / cluster
    assert api.run_suite(tiny_suite, reference, device="cpu", quiet=True).ok
    summary = api.run_suite(
        tiny_suite,
        slurm,
        device="cpu",
        quiet=True,
        executor="slurm",
        executor_settings={"cluster": cluster, "wall_time_min": 30},
    )
    assert summary.ok and summary.ran == 2
    pd.testing.assert_frame_equal(_cases(reference, "tiny"), _cases(slurm, "tiny"))
    assert json.loads((slurm / "slurm" / JOBS_FILE).read_text()) == {}  # finished jobs forgotten
    if cluster == "local":
        assert len(list((slurm / "slurm").glob("*/*_log.out"))) == 2  # logs under results/slurm/


def test_rerun_reattaches_to_running_jobs_and_submits_only_missing(tiny_suite: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    jobs = expand(load_suite(tiny_suite))
    tasks = [Task(j, j.conditions) for j in jobs]
    options = ExecutorOptions(results, "cpu")
    first = SlurmExecutor(options, _quiet(), SlurmSettings(cluster="local", wall_time_min=30, poll_s=0.5))
    first.submit(tasks[:1])  # the "parent" dies here, its job keeps running
    registry = json.loads((results / "slurm" / JOBS_FILE).read_text())
    assert list(registry) == [jobs[0].key]

    second = SlurmExecutor(options, _quiet(), SlurmSettings(cluster="local", wall_time_min=30, poll_s=0.5))
    second.submit(tasks)
    assert (second.reattached, second.submitted) == (1, 1)
    shards = [json.loads(p.read_text()) for p in second.as_completed()]
    assert sorted(s["job_key"] for s in shards) == sorted(j.key for j in jobs)
    assert all(s["status"] == "done" for s in shards)


def test_preempted_job_is_requeued_and_resumes_from_its_last_epoch(write_suite, tmp_path: Path) -> None:
    epochs, per_epoch = 10, 7  # 28 training images in batches of 4
    marker = tmp_path / "paused"
    # The model pauses at the first training step of epoch 3 (after epoch 2's state was saved) and
    # waits there: the preemption below then hits the same point on an idle or a loaded machine.
    params = f"{{marker: '{marker}', step: {2 * per_epoch + 1}}}"
    model = f"  - {{name: 'pausing_models:unet_pausing_at', params: {params}}}"
    text = TEMPLATE.format(name="requeue", models=model).replace("epochs: 10", f"epochs: {epochs}")
    suite = write_suite(text.replace("lr: 0.01,", "lr: 0.01, checkpoint_every: 1,"), "requeue")
    reference, results = tmp_path / "reference", tmp_path / "results"
    marker.touch()  # the reference run never pauses
    assert api.run_suite(suite, reference, device="cpu", quiet=True).ok
    marker.unlink()

    (job,) = expand(load_suite(suite))
    executor = SlurmExecutor(
        ExecutorOptions(results, "cpu"), _quiet(), SlurmSettings(cluster="local", wall_time_min=30)
    )
    executor.submit([Task(job, job.conditions)])
    deadline = time.time() + 600  # a bound for a broken run only: the test waits on the marker
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the job never reached its pause point"
    saved = torch.load(state_path(results, job.key), weights_only=True)["epoch"]
    assert saved == 2, f"paused after epoch {saved}; expected 2 (did the split or batch size change?)"
    # What Slurm sends a preempted job: USR2 to the task (the local controller does not forward it).
    controller = executor._watched[0].job_id
    (task_pid,) = Path(f"/proc/{controller}/task/{controller}/children").read_text().split()
    os.kill(int(task_pid), signal.SIGUSR2)
    (shard_path,) = list(executor.as_completed())
    shard = json.loads(shard_path.read_text())
    assert shard["status"] == "done", shard["error"]
    log = "\n".join(p.read_text() for p in (results / "slurm").glob("*/*_log.*"))
    assert "Calling checkpoint method" in log and "Requeued job" in log, log
    history = shard["train"]["history"]
    assert [h["epoch"] for h in history] == list(range(1, epochs + 1))
    store = Store(results)
    store.record_suite("requeue", suite.read_text(), str(suite), [job])
    store.ingest(shard_path)
    pd.testing.assert_frame_equal(_cases(reference, "requeue"), _cases(results, "requeue"))


def test_job_killed_without_a_shard_is_stored_failed_with_its_log_tail(
    write_suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(_RELIABILITY))
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the job must get the path from the executor
    suite = write_suite(tiny_with_models(["faulty_models:crashes", "unet"], "crash"), "crash")
    results = tmp_path / "results"
    summary = api.run_suite(
        suite,
        results,
        device="cpu",
        quiet=True,
        executor="slurm",
        executor_settings={"cluster": "local", "wall_time_min": 30},
    )
    assert summary.ran == 2 and len(summary.failed) == 1
    jobs = Store(results).jobs("crash").set_index("model")
    error = jobs.loc["faulty_models:crashes", "error"]
    assert jobs.loc["faulty_models:crashes", "status"] == "failed"
    assert "SlurmJobFailed" in error and "--- log tail" in error
    assert jobs.loc["unet", "status"] == "trained"


def test_hung_slurm_job_is_cancelled_at_the_timeout(write_suite, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(_RELIABILITY))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    suite = write_suite(tiny_with_models(["faulty_models:hangs"], "hangs"), "hangs")
    results = tmp_path / "results"
    started = time.monotonic()
    summary = api.run_suite(
        suite,
        results,
        device="cpu",
        quiet=True,
        executor="slurm",
        executor_settings={"cluster": "local", "wall_time_min": 30},
        timeout_min=0.2,
    )
    assert time.monotonic() - started < 120
    assert len(summary.failed) == 1 and "timeout_min=0.2" in summary.failed[0][1]
    assert Store(results).jobs("hangs")["status"].tolist() == ["failed"]
