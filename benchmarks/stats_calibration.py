"""Calibrate the report's decisions by simulation: false-positive rate under the null, power under a
true difference.

Run: ``PYTHONPATH=benchmark OMP_NUM_THREADS=1 .venv/bin/python benchmarks/stats_calibration.py
[--sims 1000]``

Each simulated suite is a per-case table from a known hierarchical model (DESIGN.md §5): one
dataset x complexity block, ``--models`` models, ``--conditions`` conditions, ``--cases`` test cases and
``--seeds`` trained networks per model. A value is

    y = mu[model] + case[c, cond] + inter[model, c] + net[model, seed] + e[model, seed, c, cond]

with case effects shared by every model (what makes pairing matter), a model x case interaction, a
network (seed) effect shared by all cases and conditions of that network, and seed x case noise; with
probability ``--collapse`` a network *collapses* (its Dice falls to about 0.15 on every case).

* **Null** (every ``mu`` equal): the decision is "some model pair of the block is significant", the
  event behind any † and any headline claim. Its rate must not exceed alpha within Monte-Carlo error.
  Printed for the architecture-level decision the report uses
  (:func:`segbench.stats.architecture_effects`) and, for contrast, for the these-networks Wilcoxon
  with Holm per condition (the old †).
* **Power**: two models, a true difference of ``--delta`` Dice and seed sd ``--power-seed-sd``
  (modest): the share of suites where the architecture-level decision finds it (in the right
  direction).

* For contrast, the two-level *bootstrap* decision (BCa interval over cases and each model's seeds,
  Bonferroni over the block), the alternative to the t interval: with 3 seeds it understates seed
  variance by (k - 1)/k.

Rates come with a Wilson 95% Monte-Carlo interval. The default run takes a few minutes at one thread
(``--no-bootstrap``: about one).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segbench.stats import architecture_effects, hier_pairwise_diff_cis, pairwise_wilcoxon, wilson_ci

CONDITION = ["dataset", "complexity", "perturbation", "severity"]


@dataclass(frozen=True)
class Scenario:
    """One simulated design and its effect sizes (Dice units)."""

    models: int = 3
    conditions: int = 2
    cases: int = 40
    seeds: int = 3
    case_sd: float = 0.10
    inter_sd: float = 0.03
    seed_sd: float = 0.02
    noise_sd: float = 0.03
    collapse: float = 0.03
    delta: float = 0.0


def simulate_suite(sc: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """One per-case long table of ``sc``; model ``m0`` is ``delta`` better than the others."""
    case = rng.normal(0, sc.case_sd, (sc.cases, 1)) + rng.normal(0, sc.case_sd / 3, (sc.cases, sc.conditions))
    frames = []
    case_ids = np.array([f"c{i:03d}" for i in range(sc.cases)])
    for m in range(sc.models):
        mu = 0.7 + (sc.delta if m == 0 else 0.0)
        inter = rng.normal(0, sc.inter_sd, sc.cases)
        for s in range(sc.seeds):
            net = rng.normal(0, sc.seed_sd)
            collapsed = rng.random() < sc.collapse
            for cond in range(sc.conditions):
                y = mu + case[:, cond] + inter + net + rng.normal(0, sc.noise_sd, sc.cases)
                if collapsed:
                    y = 0.15 + rng.normal(0, 0.05, sc.cases)
                frames.append(
                    pd.DataFrame(
                        {
                            "dataset": "sim",
                            "complexity": np.nan,
                            "perturbation": f"p{cond}",
                            "severity": 0,
                            "model": f"m{m}",
                            "seed": s,
                            "case_id": case_ids,
                            "dice": np.clip(y, 0.0, 1.0),
                        }
                    )
                )
    return pd.concat(frames, ignore_index=True)


def decisions(df: pd.DataFrame, alpha: float, bootstrap: bool = False) -> dict[str, object]:
    """The architecture-level and these-networks decisions of one simulated suite.

    With ``bootstrap``, also the decision a two-level bootstrap would give: any pair x condition whose
    two-level BCa interval at level ``1 - alpha / m`` (Bonferroni over the block's ``m`` comparisons)
    excludes 0 — the alternative the t interval was chosen over.
    """
    arch = architecture_effects(df, alpha=alpha)
    nets = pairwise_wilcoxon(df)
    best_pair = arch[(arch["model_a"] == "m0")]
    out = {
        "arch_any": bool(arch["significant"].any()),
        "nets_any": bool((nets["p_holm"] < alpha).any()),
        "arch_m0_better": bool((best_pair["significant"] & (best_pair["effect"] > 0)).any()),
    }
    if bootstrap:
        ci = hier_pairwise_diff_cis(df, CONDITION, n_resamples=2000, confidence=1 - alpha / len(arch))
        out["boot_any"] = bool(((ci["diff_low"] > 0) | (ci["diff_high"] < 0)).any())
    return out


def rate(hits: int, n: int) -> str:
    """``"0.041 [0.030, 0.056]"``: a rate with its Wilson 95% Monte-Carlo interval."""
    lo, hi = wilson_ci(hits, n)
    return f"{hits / n:.3f} [{lo:.3f}, {hi:.3f}]"


def calibrate(
    sims: int, null: Scenario, power: Scenario, alpha: float = 0.05, seed: int = 0, bootstrap: bool = False
) -> dict[str, tuple[int, int]]:
    """Hit counts ``(hits, sims)`` of each decision under the null and under the power scenario."""
    rng = np.random.default_rng(seed)
    counts = {"null_arch": 0, "null_nets": 0, "power_arch": 0}
    if bootstrap:
        counts["null_boot"] = 0
    for _ in range(sims):
        d0 = decisions(simulate_suite(null, rng), alpha, bootstrap)
        counts["null_arch"] += d0["arch_any"]
        counts["null_nets"] += d0["nets_any"]
        if bootstrap:
            counts["null_boot"] += d0["boot_any"]
        counts["power_arch"] += decisions(simulate_suite(power, rng), alpha)["arch_m0_better"]
    return {k: (v, sims) for k, v in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seed-sd", type=float, default=0.02, help="null scenario's seed sd")
    parser.add_argument("--collapse", type=float, default=0.03, help="chance a network collapses")
    parser.add_argument("--delta", type=float, default=0.03)
    parser.add_argument("--power-seed-sd", type=float, default=0.005)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument(
        "--no-bootstrap", action="store_true", help="skip the two-level bootstrap comparison (faster)"
    )
    args = parser.parse_args()
    null = Scenario(
        models=args.models, cases=args.cases, seeds=args.seeds, seed_sd=args.seed_sd, collapse=args.collapse
    )
    power = Scenario(
        models=2,
        cases=args.cases,
        seeds=args.seeds,
        seed_sd=args.power_seed_sd,
        collapse=0.0,
        delta=args.delta,
    )
    start = time.process_time()
    res = calibrate(args.sims, null, power, args.alpha, bootstrap=not args.no_bootstrap)
    print(f"null: {null}")
    print(f"power: {power}")
    print(f"{args.sims} simulated suites per scenario, alpha = {args.alpha}")
    print(f"null, any architecture-level claim (†/headline): {rate(*res['null_arch'])}")
    print(f"null, any these-networks claim (Wilcoxon, Holm per condition): {rate(*res['null_nets'])}")
    if "null_boot" in res:
        print(f"null, any two-level bootstrap claim (BCa, Bonferroni): {rate(*res['null_boot'])}")
    print(f"power for a true {args.delta} Dice difference: {rate(*res['power_arch'])}")
    print(f"CPU time {time.process_time() - start:.1f} s")


if __name__ == "__main__":
    main()
