"""The pool executor: N worker processes give the same per-case results as a sequential run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from segbench import api
from segbench.cli import main
from segbench.execute import ExecutorOptions, Task
from segbench.execute.config import PoolSettings, SlurmSettings
from segbench.execute.pool import plan_slots
from segbench.plan import expand
from segbench.plan.task import job_from_dict, job_to_dict
from segbench.store import Store
from segbench.suite.load import load_suite

_KEY = ["model", "complexity", "perturbation", "severity", "seed", "case_id"]


def _cases(results: Path, suite: str) -> pd.DataFrame:
    cases = Store(results).cases(suite).sort_values(_KEY).reset_index(drop=True)
    return cases[[*_KEY, "dice", "hd95", "nsd", "tp", "fp", "fn", "n_pred"]]


def test_task_json_round_trip_keeps_every_field(tiny_suite: Path, tmp_path: Path) -> None:
    job = expand(load_suite(tiny_suite))[0]
    task = Task(job, job.conditions[1:])
    back, results, device = Task.from_json(task.to_json(tmp_path, "cpu"))
    assert back == task and results == tmp_path and device == "cpu"
    assert job_from_dict(json.loads(json.dumps(job_to_dict(job)))) == job


def test_slots_keep_the_job_thread_count_and_pack_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda _: set(range(16)), raising=False)
    # Not the cores split between workers: that made a job's numbers depend on the machine.
    cpu = plan_slots(4, "cpu")
    assert [s.gpu for s in cpu] == [None] * 4 and {s.threads for s in cpu} == {1}
    assert {s.threads for s in plan_slots(2, "cpu", threads=3)} == {3}
    with pytest.raises(ValueError, match="--threads"):
        PoolSettings(workers=2, threads=0)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    packed = plan_slots(None, "cuda", jobs_per_gpu=4)
    assert [s.gpu for s in packed] == ["0", "1"] * 4 and {s.threads for s in packed} == {1}
    assert [s.gpu for s in plan_slots(None, "cuda:1", jobs_per_gpu=2)] == ["1", "1"]
    with pytest.raises(ValueError, match="--jobs-per-gpu"):
        PoolSettings(workers=None, jobs_per_gpu=0)


def test_local_executor_refuses_pool_options(tiny_suite: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["run", str(tiny_suite), "--results", str(tmp_path / "r"), "--workers", "2", "--quiet"]
    )
    assert result.exit_code == 2 and "does not take --workers" in result.output


@pytest.mark.slow
def test_pool_of_two_matches_sequential_per_case(tiny_suite: Path, tmp_path: Path) -> None:
    import torch

    sequential, pooled = tmp_path / "seq", tmp_path / "pool"
    # CPU float results depend on the intra-op thread count (oneDNN splits reductions by thread), so
    # every job runs at train.threads (1 by default) whatever this process uses: 3 threads here.
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        assert api.run_suite(tiny_suite, sequential, device="cpu", quiet=True).ok
        assert torch.get_num_threads() == 3  # put back after each job
    finally:
        torch.set_num_threads(before)
    args = ["--executor", "pool", "--workers", "2", "--device", "cpu", "--quiet"]
    result = CliRunner().invoke(main, ["run", str(tiny_suite), "--results", str(pooled), *args])
    assert result.exit_code == 0, result.output
    a, b = _cases(sequential, "tiny"), _cases(pooled, "tiny")
    assert len(a) == 2 * 2 * 8
    pd.testing.assert_frame_equal(a, b)
    jobs = Store(pooled).jobs("tiny")
    assert (jobs["status"] == "trained").all() and (jobs["peak_memory_mb"] > 0).all()
    for stored in (Store(sequential).jobs("tiny"), jobs):  # recorded with every job
        assert {json.loads(p)["torch_threads"] for p in stored["provenance"]} == {1}
    # Each worker logged to its own file, and a rerun has nothing left to do.
    assert sorted(p.name for p in (pooled / "logs").glob("pool-*.log")) == ["pool-0.log", "pool-1.log"]
    again = api.run_suite(tiny_suite, pooled, quiet=True, executor="pool", executor_settings={"workers": 2})
    assert again.ran == 0 and again.skipped == 2


@pytest.mark.slow
def test_worker_entry_point_runs_a_task_file(tiny_suite: Path, tmp_path: Path) -> None:
    job = expand(load_suite(tiny_suite))[0]
    results = tmp_path / "results"
    task_file = tmp_path / "task.json"
    task_file.write_text(Task(job, job.conditions[:1]).to_json(results, "cpu"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-m", "segbench.worker", str(task_file)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    shard = json.loads(Path(done.stdout.strip().splitlines()[-1]).read_text())
    assert shard["status"] == "done" and shard["job_key"] == job.key
    assert len(shard["conditions"]) == 1 and len(shard["conditions"][0]["cases"]) == 8
    missing = subprocess.run(
        [sys.executable, "-m", "segbench.worker", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert missing.returncode == 2 and "nope.json" in missing.stderr


def test_options_dataclass_is_frozen(tmp_path: Path) -> None:
    options = ExecutorOptions(tmp_path)
    with pytest.raises(AttributeError):
        options.device = "cuda"  # type: ignore[misc]


def test_suite_executor_section_is_used_and_cli_options_win(write_suite) -> None:
    from segbench.execute.config import executor_choice

    text = """\
    name: sect
    models: [unet]
    datasets: [textures2d]
    executor: {kind: slurm, partition: gpu, gpus_per_task: 1, timeout_min: 120,
               additional_parameters: {qos: high}}
    """
    suite = load_suite(write_suite(text, "sect"))
    settings = executor_choice(suite, None, {"partition": None, "mem_gb": 16})
    assert settings == SlurmSettings(
        partition="gpu",
        gpus_per_task=1,
        wall_time_min=120,  # the suite's old key timeout_min is read as Slurm's wall time
        additional_parameters={"qos": "high"},
        mem_gb=16,
    )
    # Another executor on the command line ignores the suite's Slurm section.
    assert executor_choice(suite, "pool", {"workers": 3}) == PoolSettings(workers=3, threads=1)


def test_executor_settings_are_checked_when_built() -> None:
    from segbench.execute.config import settings_for

    assert settings_for("pool", {"workers": None, "jobs_per_gpu": 2}) == PoolSettings(jobs_per_gpu=2)
    assert settings_for("slurm", {"wall_time_min": 30}).wall_time_min == 30
    with pytest.raises(ValueError, match=r"--workers must be an integer >= 1, got 0"):
        PoolSettings(workers=0)
    with pytest.raises(ValueError, match=r"--mem-gb must be a finite number > 0, got inf"):
        SlurmSettings(mem_gb=float("inf"))
    with pytest.raises(ValueError, match=r"--slurm-cluster must be slurm, local or debug, got 'lsf'"):
        SlurmSettings(cluster="lsf")
    with pytest.raises(ValueError, match=r"--slurm-timeout-min must be an integer >= 1, got 0"):
        settings_for("slurm", {"wall_time_min": 0})
    # An option of another executor names the flag and the executor that takes it.
    with pytest.raises(ValueError, match=r"'pool' does not take --slurm-timeout-min; use --executor slurm"):
        settings_for("pool", {"wall_time_min": 30})
    with pytest.raises(ValueError, match=r"'local' does not take --workers; use --executor pool"):
        settings_for("local", {"workers": 2})
    with pytest.raises(ValueError, match="unknown executor 'ray'"):
        settings_for("ray", {})
    with pytest.raises(ValueError, match="timeout_min must be a finite number of minutes > 0, got nan"):
        ExecutorOptions(Path("r"), timeout_min=float("nan"))
