"""Start-up latency of the ``segbench`` commands that train nothing, against ``python -c pass``.

Why: ``validate``, ``list``, ``run --dry-run`` and ``run`` on a finished suite used to take 5-12 s,
almost all of it importing torch and MONAI.  This prints each command's median wall time over a
few runs, and checks the targets of the foundation issue (idle 2-core machine): ``validate``
<= 1.0 s and ``run`` on a finished 100-job suite <= 1.5 s.

The finished suite's store is built cheaply: one hand-made "done" shard per job (written with the
worker's own shard writer and ingested by the store, as a real run would), no training.

Usage::

    PYTHONPATH=benchmark python benchmarks/cli_latency.py [--repeat 5]

Exit status 1 when a target is missed (on a loaded machine, rerun before believing it).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

SUITE = """\
name: latency
seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
train: {epochs: 1, batch_size: 2}
models:
  - {name: unet, params: {channels: [4, 8], strides: [2]}}
  - {name: noskip_unet, params: {channels: [4, 8], strides: [2]}}
datasets:
  - {name: textures2d, params: {size: 32, n_images: 10}}
complexity: [0.1, 0.3, 0.5, 0.7, 0.9]
perturbations: [none, harder, {name: gaussian_noise, severity: [1, 3]}]
"""
# 2 models x 10 seeds x 5 complexity levels = 100 train jobs, 4 conditions each.

TARGETS = {"validate": 1.0, "run (finished, 100 jobs)": 1.5}


def build_finished_store(
    suite_path: Path, results: Path, cases: Callable[[Any, Any], list[dict[str, Any]]] | None = None
) -> int:
    """Write and ingest one finished shard per job of ``suite_path``; returns the job count.

    Uses the worker's shard writer and job record and the store's ingestion, so the store is
    what ``segbench run`` would leave (with made-up metric values: two cases, or ``cases(job,
    condition)``'s rows).
    """
    from segbench.plan import expand
    from segbench.store import Store
    from segbench.suite.load import load_suite
    from segbench.worker.shard import write_shard

    jobs = expand(load_suite(suite_path))
    now = time.time()
    for job in jobs:
        shard = {
            "job_key": job.key,
            "attempt_id": uuid.uuid4().hex[:8],
            "suite": job.suite,
            "job": job.record().model_dump(mode="json"),
            "status": "done",
            "error": None,
            "train": {
                "n_params": 100,
                "best_epoch": 1,
                "best_val_dice": 0.5,
                "history": [],
                "train_seconds": 0.1,
                "peak_memory_mb": 1.0,
                "crop_fbr": [],
                "patch_size": None,
                "n_train": 7,
                "n_val": 1,
            },
            "conditions": [
                {
                    "cond_key": job.condition_key(c),
                    "perturbation": c.perturbation,
                    "severity": c.severity,
                    "test_complexity": c.test_complexity,
                    "preset": c.preset,
                    "test_params": c.test_params or None,
                    "eval_seconds": 0.01,
                    "cases": cases(job, c)
                    if cases is not None
                    else [
                        {"case_id": f"case{i}", "dice": 0.5 + i / 10, "hd95": 3.0, "nsd": 0.5}
                        for i in range(2)
                    ],
                }
                for c in job.conditions
            ],
            "provenance": {"device": "cpu"},
            "started_at": now,
            "finished_at": now,
        }
        write_shard(results, shard)
    Store(results).ingest_pending()
    return len(jobs)


def _two_cases() -> list[dict[str, Any]]:
    return [{"case_id": f"case{i}", "dice": 0.5 + i / 10, "hd95": 3.0, "nsd": 0.5} for i in range(2)]


def _time(
    argv: list[str], repeat: int, env: dict[str, str], expect: str | None = None
) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (user + system) of ``argv`` over ``repeat`` runs.

    Why CPU too: on a shared machine the wall time grows with the load while the CPU time of a
    single-threaded start-up does not; on an idle machine the two are about equal.
    """
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0 or (expect and expect not in done.stdout):
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (median reported)")
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    package_root = Path(__file__).resolve().parents[1] / "benchmark"
    env["PYTHONPATH"] = os.pathsep.join([str(package_root), env.get("PYTHONPATH", "")])
    sys.path.insert(0, str(package_root))
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        suite = Path(tmp) / "latency.yaml"
        suite.write_text(SUITE)
        results = Path(tmp) / "results"
        n_jobs = build_finished_store(suite, results)
        seg = [py, "-m", "segbench.cli"]
        commands = {
            "python -c pass": ([py, "-c", "pass"], None),
            "--help": ([*seg, "--help"], "Usage"),
            "list": ([*seg, "list"], "noskip_unet"),
            "validate": ([*seg, "validate", str(suite)], "ok (100 train jobs"),
            "run --dry-run": (
                [*seg, "run", str(suite), "--results", str(results), "--dry-run"],
                "0 jobs to run",
            ),
            f"run (finished, {n_jobs} jobs)": (
                [*seg, "run", str(suite), "--results", str(results)],
                f"0 jobs run, {n_jobs} already done",
            ),
        }
        timings = {name: _time(argv, args.repeat, env, expect) for name, (argv, expect) in commands.items()}
    base = timings["python -c pass"][0]
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    print(f"median of {args.repeat} runs; load average {load:.2f} on {cores} cores")
    print(f"{'command':<28} {'wall s':>8} {'- python s':>11} {'cpu s':>7} {'target s':>9}")
    missed = []
    for name, (seconds, cpu) in timings.items():
        target = TARGETS.get(name)
        mark = "" if target is None else f"{target:>9.1f} {'ok' if seconds <= target else 'MISSED'}"
        if target is not None and seconds > target:
            missed.append(name)
        print(f"{name:<28} {seconds:>8.3f} {seconds - base:>11.3f} {cpu:>7.3f} {mark}")
    if missed and load > cores / 2:
        print(f"note: the machine is loaded ({load:.1f} > {cores / 2:.1f}); see 'cpu s' or rerun when idle")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
