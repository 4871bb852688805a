"""Scale benchmark: statistics + full HTML report for ~100k per-case rows x 5 models.

How the data gets in: a synthetic per-case table (the columns ``Store.cases`` returns) is fed straight
into :func:`segbench.report.build.render_suite`, the function ``build_reports`` calls after reading the
store; the SQLite read is skipped because it is not what this measures (``Store.cases`` on 100k rows is a
single ``read_sql_query``). The table: 5 models x 1 dataset x 5 complexity levels x 9 conditions (in-domain
+ 4 perturbations x 2 severities) x 2 seeds x 222 cases = 99,900 rows; Dice has a per-case difficulty
shared by all models (so paired tests see realistic correlation), a model effect and a shift effect.

Reported: total wall time (target <= 10 s), the time in the statistics vs rendering, and the share spent
in two-level bootstrap resampling (``hier_group_cis`` + ``hier_rank_stability`` + ``rank_intervals``,
and within them ``two_level_means``), and the architecture-level decisions (``decide``).

Usage::

    .venv/bin/python benchmarks/report_scale.py [--cases 222] [--out /tmp/segbench-scale]
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import segbench.report.analysis3d as analysis3d
import segbench.report.tables as tables
import segbench.stats.hierarchical as hierarchical
from segbench.report.build import render_suite, write_plotly_js

MODELS = ["unet", "noskip_unet", "attention_unet", "unetr", "segresnet"]
PERTURBATIONS = ["speckle", "gaussian_blur", "bias_field", "gibbs"]
COMPLEXITY = [0.1, 0.3, 0.5, 0.7, 0.9]
SEEDS = [1, 2]

TIMES: dict[str, float] = defaultdict(float)


def synthetic_cases(n_cases: int, rng: np.random.Generator) -> pd.DataFrame:
    """The long per-case table, vectorised (one block per model x complexity x condition x seed)."""
    conditions = [("none", 0)] + [(p, s) for p in PERTURBATIONS for s in (2, 4)]
    difficulty = rng.normal(0, 0.08, n_cases)
    blocks = []
    for mi, model in enumerate(MODELS):
        for cx in COMPLEXITY:
            for pert, sev in conditions:
                for seed in SEEDS:
                    base = 0.92 - 0.3 * cx - 0.01 * mi - 0.04 * sev + 0.01 * (seed - 1.5)
                    dice = np.clip(base + difficulty + rng.normal(0, 0.05, n_cases), 0, 1)
                    blocks.append(
                        pd.DataFrame(
                            {
                                "model": model,
                                "complexity": cx,
                                "perturbation": pert,
                                "severity": sev,
                                "seed": seed,
                                "case_id": [f"case{i:04d}" for i in range(n_cases)],
                                "dice": dice,
                            }
                        )
                    )
    df = pd.concat(blocks, ignore_index=True)
    n = len(df)
    df["suite"], df["model_name"], df["dataset"], df["patch"] = "scale", df["model"], "textures2d", "full"
    df["preset"], df["test_complexity"] = None, np.nan
    for col in ("hd95", "nsd", "complexity_kl", "fbr"):
        df[col] = rng.uniform(0, 1, n)
    for col in ("tp", "fp", "fn", "n_ref", "n_pred"):
        df[col] = rng.integers(0, 500, n)
    df["meta"], df["perturbation_params"], df["job_key"], df["cond_key"] = "{}", "{}", "job", "cond"
    return df


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            TIMES[name] += time.perf_counter() - start

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=222, help="test cases per condition and seed")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "segbench-scale")
    args = parser.parse_args()

    # instrument the statistics entry points where the report modules look them up
    tables.hier_group_cis = _timed("hier_group_cis", tables.hier_group_cis)
    tables.hier_rank_stability = _timed("hier_rank_stability", tables.hier_rank_stability)
    analysis3d.hier_group_cis = _timed("hier_group_cis (3D)", analysis3d.hier_group_cis)
    hierarchical.two_level_means = _timed("two_level_means", hierarchical.two_level_means)
    tables.compute_tables = _timed("statistics (compute_tables)", tables.compute_tables)
    import segbench.report.build as build

    build.compute_tables = tables.compute_tables
    tables.decide = _timed("decide (architecture level)", tables.decide)
    tables.tests_table = _timed("tests_table (+Wilcoxon)", tables.tests_table)
    tables.rank_intervals = _timed("rank_intervals", tables.rank_intervals)
    tables.drop_cis = _timed("drop_cis", tables.drop_cis)
    tables.variance_components = _timed("variance_components", tables.variance_components)
    tables.friedman_tables = _timed("friedman_tables", tables.friedman_tables)
    cases = synthetic_cases(args.cases, np.random.default_rng(0))
    jobs = pd.DataFrame(columns=["model", "seed", "status", "error", "provenance", "train_seconds"])
    jobs["peak_memory_mb"] = pd.Series(dtype=float)
    write_plotly_js(args.out)
    start = time.perf_counter()
    result = render_suite("scale", cases, jobs, "name: scale\n", 1, 1, args.out)
    total = time.perf_counter() - start

    boot = TIMES["hier_group_cis"] + TIMES["hier_rank_stability"] + TIMES["rank_intervals"]
    print(
        f"rows: {len(cases):,} ({len(MODELS)} models); page: {result.index} "
        f"({result.index.stat().st_size / 1e6:.1f} MB)"
    )
    print(f"total (statistics + figures + HTML + exports): {total:.2f} s  [target <= 10 s]")
    for name in (
        "statistics (compute_tables)",
        "decide (architecture level)",
        "tests_table (+Wilcoxon)",
        "hier_group_cis",
        "hier_rank_stability",
        "rank_intervals",
        "drop_cis",
        "two_level_means",
        "variance_components",
        "friedman_tables",
    ):
        print(f"  {name:<30} {TIMES[name]:6.2f} s  ({TIMES[name] / total:5.1%})")
    print(f"two-level bootstrap share (CIs, rank stability, rank intervals): {boot / total:.1%}")


if __name__ == "__main__":
    main()
