"""GPU throughput: the quick suite sequentially and packed K jobs per GPU; the full study's ETA.

    python benchmarks/gpu_throughput.py [--suite suites/quick.yaml] [--packing 1 2 4 8]
                                        [--skip-jobs 15] [--device cuda]

For each setting the suite runs into a fresh results folder and the script prints jobs per
hour, mean GPU utilisation and peak GPU memory (both sampled every 0.5 s with
``nvidia-smi``; ``torch.cuda.utilization`` when nvidia-smi is missing) and the largest
per-job peak memory the workers recorded.  Then it times the first ``--skip-jobs`` jobs of
``suites/skip.yaml`` (256x256, 100 epochs) at the best packing and extrapolates to all of
its jobs.  Goals (issue 10): >= 4x jobs/hour from packing on the quick suite; the full
skip.yaml in <= 30 min on one H200.

``--device cpu`` runs the same measurements with K CPU workers instead of K jobs per GPU
(a smoke test of this script on machines without a GPU; utilisation is then not sampled).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from segbench import api
from segbench.execute import ExecutorOptions, Task, make_executor, run_tasks
from segbench.execute.config import settings_for
from segbench.plan import expand
from segbench.progress import LogReporter
from segbench.store import Store
from segbench.suite.load import load_suite


class GpuSampler:
    """Mean utilisation (%) and peak memory used (MiB) of all GPUs, sampled in a thread."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.util: list[float] = []
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> GpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> tuple[float, float] | None:
        if shutil.which("nvidia-smi"):
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            rows = [[float(v) for v in line.split(",")] for line in out.strip().splitlines() if line]
            if rows:
                return sum(r[0] for r in rows) / len(rows), max(r[1] for r in rows)
        import torch

        if torch.cuda.is_available():
            return float(torch.cuda.utilization()), torch.cuda.memory_reserved() / 2**20
        return None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            sample = self._sample()
            if sample is not None:
                self.util.append(sample[0])
                self.peak_mib = max(self.peak_mib, sample[1])

    @property
    def mean_util(self) -> float:
        return sum(self.util) / len(self.util) if self.util else float("nan")


def _settings(device: str, k: int) -> tuple[str, dict[str, Any]]:
    if k == 0:
        return "local", {}
    if device.startswith("cuda"):
        return "pool", {"jobs_per_gpu": k}
    return "pool", {"workers": k}


def measure_suite(suite: Path, root: Path, device: str, k: int) -> dict[str, float]:
    """Run ``suite`` with packing ``k`` (0 = sequential in-process) into a fresh folder."""
    executor, settings = _settings(device, k)
    results = root / f"k{k}"
    start = time.perf_counter()
    with GpuSampler() as gpu:
        summary = api.run_suite(
            suite, results, device=device, quiet=True, executor=executor, executor_settings=settings
        )
    seconds = time.perf_counter() - start
    jobs = Store(results).jobs(summary.suite)
    return {
        "k": k,
        "jobs": summary.ran,
        "failed": len(summary.failed),
        "seconds": seconds,
        "jobs_per_hour": summary.ran / seconds * 3600,
        "gpu_util": gpu.mean_util,
        "gpu_peak_mib": gpu.peak_mib,
        "job_peak_mb": float(jobs["peak_memory_mb"].max()) if len(jobs) else float("nan"),
    }


def time_first_jobs(suite: Path, n: int, root: Path, device: str, k: int) -> tuple[float, int]:
    """Seconds for the first ``n`` jobs of ``suite`` (packing ``k``) and the suite's job count."""
    jobs = expand(load_suite(suite))
    tasks = [Task(j, j.conditions) for j in jobs[:n]]
    executor, settings = _settings(device, k)
    options = ExecutorOptions(root / "skip", device)
    runner = make_executor(settings_for(executor, settings), options, LogReporter())
    start = time.perf_counter()
    for _ in run_tasks(runner, tasks):
        pass
    return time.perf_counter() - start, len(jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=Path("suites/quick.yaml"))
    parser.add_argument("--packing", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--skip-suite", type=Path, default=Path("suites/skip.yaml"))
    parser.add_argument("--skip-jobs", type=int, default=15, help="0 skips the extrapolation")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("no CUDA GPU visible: nothing to measure (use --device cpu for a smoke test)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = [measure_suite(args.suite, root, args.device, k) for k in [0, *args.packing]]
        base = rows[0]["jobs_per_hour"]
        print(f"{args.suite} on {args.device}:")
        print(
            f"{'packing':>10} {'jobs':>5} {'seconds':>9} {'jobs/h':>8} {'speed-up':>8} "
            f"{'GPU util %':>10} {'GPU peak MiB':>12} {'job peak MB':>11}"
        )
        for row in rows:
            label = "sequential" if row["k"] == 0 else f"K={row['k']:g}"
            print(
                f"{label:>10} {row['jobs']:>5.0f} {row['seconds']:>9.1f} {row['jobs_per_hour']:>8.1f} "
                f"{row['jobs_per_hour'] / base:>7.2f}x {row['gpu_util']:>10.1f} {row['gpu_peak_mib']:>12.0f} "
                f"{row['job_peak_mb']:>11.0f}" + (f"  ({row['failed']:.0f} FAILED)" if row["failed"] else "")
            )
        if args.skip_jobs:
            best = max(rows[1:] or rows, key=lambda r: r["jobs_per_hour"])
            k = int(best["k"])
            seconds, total = time_first_jobs(args.skip_suite, args.skip_jobs, root, args.device, k)
            estimate = seconds / args.skip_jobs * total
            print(
                f"{args.skip_suite}: first {args.skip_jobs} jobs in {seconds:.0f} s at K={k}; "
                f"all {total} jobs extrapolate to {estimate / 60:.0f} min (goal <= 30 min)"
            )


if __name__ == "__main__":
    main()
