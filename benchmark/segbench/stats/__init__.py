"""Statistics over the per-case long table (pure pandas/scipy/statsmodels; values in, values out).

Modules: :mod:`.paired` (Wilcoxon + Holm), :mod:`.bootstrap` (BCa CIs, rank stability),
:mod:`.robustness` (seed/case spread, OOD drop, CE/mCE, weighted degradation), :mod:`.regression`
(CI gate). Conventions are in DESIGN.md §5.
"""

from segbench.stats.bootstrap import (
    CI,
    CONDITION_COLUMNS,
    bootstrap_ci,
    group_cis,
    paired_diff_ci,
    pairwise_diff_cis,
    rank_stability,
    unpaired_diff_ci,
)
from segbench.stats.paired import pairwise_wilcoxon, significantly_worse_than_best
from segbench.stats.regression import compare_to_baseline, make_baseline
from segbench.stats.robustness import RobustnessSummary, robustness_summary, seed_case_spread

__all__ = [
    "CI",
    "CONDITION_COLUMNS",
    "RobustnessSummary",
    "bootstrap_ci",
    "compare_to_baseline",
    "group_cis",
    "make_baseline",
    "paired_diff_ci",
    "pairwise_diff_cis",
    "pairwise_wilcoxon",
    "rank_stability",
    "robustness_summary",
    "seed_case_spread",
    "significantly_worse_than_best",
    "unpaired_diff_ci",
]
