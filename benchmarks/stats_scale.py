"""Time the statistics layer on a synthetic per-case table of report size.

Run: ``PYTHONPATH=benchmark .venv/bin/python benchmarks/stats_scale.py [--cases-per-model 20000]``

Default table: 5 models x 20,000 rows each = 100,000 per-case rows, over 20 conditions (one dataset,
two complexity levels, in-domain plus 3 perturbations x 3 severities), 5 seeds x 200 cases per
condition, ~1% NaN Dice (both masks empty). Prints the wall time of each step and the share spent in
bootstrap resampling (two-level CIs, paired differences, rank stability, variance components,
compare_to_baseline).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from segbench.stats import (
    compare_to_baseline,
    friedman_tables,
    hier_group_cis,
    hier_pairwise_diff_cis,
    hier_rank_stability,
    make_baseline,
    pairwise_wilcoxon,
    robustness_summary,
    significantly_worse_than_best,
    variance_components,
)

MODELS = ("unet", "noskip_unet", "attention_unet", "unetr", "swin_unetr")
CONDITIONS = [("none", 0)] + [(p, s) for p in ("speckle", "gaussian_blur", "bias_field") for s in (1, 3, 5)]
COMPLEXITIES = (0.3, 0.8)
N_SEEDS = 5


def synthetic_table(cases_per_model: int, seed: int = 0) -> pd.DataFrame:
    """Long per-case table with the store's columns; Dice falls with severity and complexity."""
    rng = np.random.default_rng(seed)
    n_cond = len(CONDITIONS) * len(COMPLEXITIES)
    n_cases = max(1, cases_per_model // (n_cond * N_SEEDS))
    case_ids = np.array([f"case{i:05d}" for i in range(n_cases)])
    case_effect = rng.normal(0, 0.08, n_cases)  # shared by models: makes pairing matter
    frames = []
    for mi, model in enumerate(MODELS):
        for cx in COMPLEXITIES:
            for pert, sev in CONDITIONS:
                for s in range(N_SEEDS):
                    mu = 0.9 - 0.01 * mi - 0.1 * cx - 0.02 * sev * (1 + 0.2 * mi) + rng.normal(0, 0.01)
                    dice = np.clip(mu + case_effect + rng.normal(0, 0.05, n_cases), 0, 1)
                    dice[rng.random(n_cases) < 0.01] = np.nan
                    frames.append(
                        pd.DataFrame(
                            {
                                "suite": "scale",
                                "model": model,
                                "dataset": "textures2d",
                                "complexity": cx,
                                "perturbation": pert,
                                "severity": sev,
                                "seed": s,
                                "case_id": case_ids,
                                "dice": dice,
                                "hd95": 20 * (1 - dice),
                                "nsd": dice,
                            }
                        )
                    )
    return pd.concat(frames, ignore_index=True)


def _timed(label: str, fn: Callable[[], Any], times: dict[str, float]) -> Any:
    start = time.perf_counter()
    out = fn()
    times[label] = time.perf_counter() - start
    print(f"{label:<40s} {times[label]:7.2f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases-per-model", type=int, default=20_000)
    parser.add_argument("--n-resamples", type=int, default=9999)
    args = parser.parse_args()

    df = synthetic_table(args.cases_per_model)
    n_groups = df.groupby(["model", "dataset", "complexity", "perturbation", "severity"]).ngroups
    print(f"table: {len(df):,} rows, {df['model'].nunique()} models, {n_groups} model x condition groups")
    times: dict[str, float] = {}
    by = ["model", "dataset", "complexity", "perturbation", "severity"]
    _timed(
        f"hier_group_cis ({args.n_resamples} resamples, BCa)",
        lambda: hier_group_cis(df, by, n_resamples=args.n_resamples, seed=0),
        times,
    )
    tests = _timed("pairwise_wilcoxon (seed means) + Holm", lambda: pairwise_wilcoxon(df), times)
    _timed("significantly_worse_than_best", lambda: significantly_worse_than_best(df, tests), times)
    cond = ["dataset", "complexity", "perturbation", "severity"]
    _timed(
        "hier_pairwise_diff_cis (2000 resamples)",
        lambda: hier_pairwise_diff_cis(df, cond, n_resamples=2000, seed=0),
        times,
    )
    _timed("robustness_summary", lambda: robustness_summary(df, baseline_model="unet"), times)
    _timed(
        "variance_components (1000 resamples)", lambda: variance_components(df, by, n_resamples=1000), times
    )
    _timed("hier_rank_stability (2000 resamples)", lambda: hier_rank_stability(df, by=cond, seed=0), times)
    _timed("friedman_tables", lambda: friedman_tables(df, cond), times)
    baseline = _timed("make_baseline", lambda: make_baseline(df), times)
    _timed(
        "compare_to_baseline (2000 resamples)",
        lambda: compare_to_baseline(df, baseline, n_resamples=2000),
        times,
    )
    total = sum(times.values())
    boot = sum(v for k, v in times.items() if k.startswith(("hier_", "variance", "compare")))
    print(f"{'total':<40s} {total:7.2f} s")
    print(f"share in bootstrap resampling: {boot / total:.0%}")


if __name__ == "__main__":
    main()
