"""Wall time of one suite run sequentially, on the pool executor and through submitit.

    python benchmarks/pool_speedup.py [--suite suites/ci.yaml] [--workers 2] [--slurm-local]

Each executor runs the suite into its own fresh results folder; the script prints wall
times, the ratio to the sequential run and whether every per-case metric (Dice, HD95, NSD,
counts) is identical to it.  Machines shared with other work are noisy: repeat and take
the median before quoting a ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from segbench import api
from segbench.store import Store

_KEY = ["model", "dataset", "complexity", "perturbation", "severity", "seed", "case_id"]
_VALUES = ["dice", "hd95", "nsd", "tp", "fp", "fn", "n_pred"]


def run_once(
    suite: Path, results: Path, executor: str, settings: dict[str, Any]
) -> tuple[float, pd.DataFrame]:
    """Seconds for a full run of ``suite`` and its per-case table (sorted)."""
    start = time.perf_counter()
    summary = api.run_suite(
        suite, results, device="cpu", quiet=True, executor=executor, executor_settings=settings
    )
    seconds = time.perf_counter() - start
    if not summary.ok:
        raise SystemExit(f"{executor}: {len(summary.failed)} jobs failed: {summary.failed}")
    name = summary.suite
    cases = Store(results).cases(name).sort_values(_KEY).reset_index(drop=True)
    return seconds, cases[_KEY + _VALUES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=Path("suites/ci.yaml"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--slurm-local", action="store_true", help="also run via submitit's LocalExecutor")
    args = parser.parse_args()
    runs: list[tuple[str, str, dict[str, Any]]] = [
        ("local", "local", {}),
        (f"pool x{args.workers}", "pool", {"workers": args.workers}),
    ]
    if args.slurm_local:
        runs.append(("submitit local", "slurm", {"cluster": "local", "timeout_min": 120}))
    with tempfile.TemporaryDirectory() as tmp:
        reference: pd.DataFrame | None = None
        base = 0.0
        for label, executor, settings in runs:
            seconds, cases = run_once(args.suite, Path(tmp) / label.replace(" ", "_"), executor, settings)
            if reference is None:
                reference, base = cases, seconds
                same = "reference"
            else:
                same = "identical" if cases.equals(reference) else "DIFFERENT"
            print(
                f"{label:<16} {seconds:8.1f} s   ratio to local {base / seconds:5.2f}x   "
                f"{len(cases)} case rows, {same}"
            )


if __name__ == "__main__":
    main()
