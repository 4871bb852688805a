"""The calibration benchmark at small size: the architecture-level decision keeps its error rate under a
null with seed variance and collapsed seeds, where the these-networks test does not, and finds a real
difference."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

from stats_calibration import Scenario, calibrate

from segbench.stats import wilson_ci


def test_null_rate_within_alpha_and_power_at_small_size() -> None:
    null = Scenario(models=3, cases=20, seeds=3, seed_sd=0.03, collapse=0.05)
    power = Scenario(models=2, cases=30, seeds=3, seed_sd=0.005, collapse=0.0, delta=0.05)
    res = calibrate(80, null, power, alpha=0.05, seed=1)
    hits, n = res["null_arch"]
    assert wilson_ci(hits, n)[0] <= 0.05  # at most alpha within Monte-Carlo error
    nets_hits, _ = res["null_nets"]
    assert wilson_ci(nets_hits, n)[0] > 0.05  # the old †: these networks differ, the architectures do not
    power_hits, _ = res["power_arch"]
    assert power_hits / n > 0.5
