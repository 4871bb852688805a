"""Where a suite's time goes, run sequentially, on the pool executor and through submitit.

    python benchmarks/pool_speedup.py [--suite suites/quick.yaml] [--workers 2] [--repeat 3]
                                      [--threads 1] [--shards N] [--slurm-local]

Each executor runs the suite into its own fresh results folder (every job at the same
``--threads``, so per-case results must be identical).  Per run it prints:

* wall time, and its ratio to the sequential run (the speed-up),
* CPU time (user + sys of this process and its reaped workers) and its ratio to the sequential
  run's: the pool's extra work (each worker's imports and dataset builds),
* ``in jobs``: the sum of the train jobs' own durations (shard start to finish), i.e. the work a
  pool can spread over its workers; ``ensembles``: the same for ensemble jobs;
* ``first``: seconds from the run's start to its first job starting (imports, planning, worker
  start-up); ``tail``: from the last train job's end to the run's end (ensembles, ingest);
* ``idle est.``: the wall time the run would take on an idle machine with one core per
  worker, estimated as first + in-jobs / workers (balanced) + tail, with the sequential run's
  in-job time as the work: a number to check against a real idle run, not a measurement;
* whether every per-case metric (Dice, HD95, NSD, counts) is identical to the sequential run.

``--shards N`` also runs the suite as ``run --shard 1/N`` ... ``N/N`` into N folders (one after
another, as N machines would in parallel) and merges them: its per-case table must be identical too
(its wall time is the parts' sum plus the merge; its idle estimate means nothing).

On a shared machine wall times are noisy and inflated (the load is printed first): compare the
CPU times and ratios of one invocation, and take the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from segbench import api
from segbench.store import Store

_KEY = ["model", "dataset", "complexity", "perturbation", "severity", "seed", "case_id"]
_VALUES = ["dice", "hd95", "nsd", "tp", "fp", "fn", "n_pred"]
_ENSEMBLE = "ensemble"  # the model name ensemble jobs are stored under


@dataclass
class Run:
    """One suite run's timings (seconds) and its per-case table."""

    wall: float
    cpu: float
    in_jobs: float
    ensembles: float
    first: float
    tail: float
    cases: pd.DataFrame


def run_once(
    suite: Path, results: Path, executor: str, settings: dict[str, Any], threads: int, shards: int = 0
) -> Run:
    """Run ``suite`` into ``results`` (or as ``shards`` parts merged into it) and time it."""
    cpu_before = _cpu_seconds()
    start_epoch, start = time.time(), time.perf_counter()
    parts = [f"{i}/{shards}" for i in range(1, shards + 1)] if shards else [None]
    folders = [results.with_name(f"{results.name}-part{i}") for i in range(shards)] if shards else [results]
    for part, folder in zip(parts, folders, strict=True):
        summary = api.run_suite(
            suite,
            folder,
            device="cpu",
            quiet=True,
            executor=executor,
            executor_settings=settings,
            threads=threads,
            shard=part,
        )
        if not summary.ok:
            raise SystemExit(f"{executor} {part or ''}: {len(summary.failed)} jobs failed: {summary.failed}")
    if shards:
        _merge_all(folders, results)
    wall = time.perf_counter() - start
    end_epoch = start_epoch + wall
    cpu = _cpu_seconds() - cpu_before
    store = Store(results)
    jobs = store.jobs(summary.suite)
    seconds = jobs["finished_at"] - jobs["started_at"]
    is_ensemble = jobs["model_name"] == _ENSEMBLE
    trained = jobs[~is_ensemble]
    cases = store.cases(summary.suite).sort_values(_KEY).reset_index(drop=True)
    return Run(
        wall=wall,
        cpu=cpu,
        in_jobs=float(seconds[~is_ensemble].sum()),
        ensembles=float(seconds[is_ensemble].sum()),
        first=float(jobs["started_at"].min() - start_epoch),
        tail=float(end_epoch - trained["finished_at"].max()),
        cases=cases[_KEY + _VALUES],
    )


def _merge_all(folders: list[Path], out: Path) -> None:
    """``segbench merge`` the parts two at a time into ``out``."""
    from segbench.tools.merge import merge_stores

    merged = folders[0]
    for i, folder in enumerate(folders[1:]):
        target = out if i == len(folders) - 2 else out.with_name(f"{out.name}-merge{i}")
        merge_stores(merged, folder, target)
        merged = target


def _cpu_seconds() -> float:
    """User + system CPU of this process and its reaped children (pool workers, Slurm jobs)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=Path("suites/quick.yaml"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per job (all executors)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per executor (medians are printed)")
    parser.add_argument("--shards", type=int, default=0, help="also run as N parts (--shard I/N) and merge")
    parser.add_argument("--slurm-local", action="store_true", help="also run via submitit's LocalExecutor")
    args = parser.parse_args()
    if args.shards == 1:
        parser.error("--shards needs at least 2 parts")
    runs: list[tuple[str, str, dict[str, Any], int, int]] = [
        ("local", "local", {}, 1, 0),
        (f"pool x{args.workers}", "pool", {"workers": args.workers}, args.workers, 0),
    ]
    if args.shards:
        runs.append((f"{args.shards} parts+merge", "local", {}, 1, args.shards))
    if args.slurm_local:
        runs.append(("submitit local", "slurm", {"cluster": "local", "timeout_min": 120}, 1, 0))
    load = os.getloadavg()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    state = "idle enough for wall times" if load[0] < 0.5 * cores else "BUSY: read CPU times and ratios"
    print(
        f"suite {args.suite}, {args.threads} thread(s) per job, {cores} cores; load average "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min): {state}"
    )
    header = (
        f"{'executor':<15}{'wall':>8}{'x seq':>7}{'cpu':>8}{'x seq':>7}{'in jobs':>9}{'ensembles':>10}"
        f"{'first':>7}{'tail':>7}{'idle est.':>10}{'x seq':>7}  per-case"
    )
    print(header)
    reference: Run | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for label, executor, settings, workers, shards in runs:
            repeats = []
            for i in range(args.repeat):
                folder = Path(tmp) / f"{label.replace(' ', '_').replace('+', '_')}-{i}"
                repeats.append(run_once(args.suite, folder, executor, settings, args.threads, shards))
            run = _median(repeats)
            if reference is None:
                reference, same = run, "reference"
            else:
                same = "identical" if all(r.cases.equals(reference.cases) for r in repeats) else "DIFFERENT"
            # idle estimate: start-up + the sequential run's job work spread over the workers + tail
            idle = run.first + reference.in_jobs / workers + run.tail
            idle_seq = reference.first + reference.in_jobs + reference.tail
            print(
                f"{label:<15}{run.wall:8.1f}{reference.wall / run.wall:7.2f}{run.cpu:8.1f}"
                f"{run.cpu / reference.cpu:7.2f}{run.in_jobs:9.1f}{run.ensembles:10.1f}{run.first:7.1f}"
                f"{run.tail:7.1f}{idle:10.1f}{idle_seq / idle:7.2f}  {len(run.cases)} rows, {same}"
            )


def _median(runs: list[Run]) -> Run:
    def med(name: str) -> float:
        return float(statistics.median(getattr(r, name) for r in runs))

    return Run(
        wall=med("wall"),
        cpu=med("cpu"),
        in_jobs=med("in_jobs"),
        ensembles=med("ensembles"),
        first=med("first"),
        tail=med("tail"),
        cases=runs[0].cases,
    )


if __name__ == "__main__":
    main()
