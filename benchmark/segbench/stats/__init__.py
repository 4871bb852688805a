"""Statistics over the per-case long table (pure pandas/scipy/statsmodels; values in, values out).

Modules: :mod:`.paired` (Wilcoxon with exact/permutation p + Holm, evidence-consistent marks),
:mod:`.hierarchical` (two-level case/seed bootstrap: CIs, paired differences, rank stability),
:mod:`.architecture` (architecture-level effects and means: cases and each model's own seeds, the
decisions behind † and the headline), :mod:`.variance` (case/seed variance components),
:mod:`.ranking` (Friedman + Nemenyi, critical difference), :mod:`.bootstrap` (row-level BCa CIs
used by the gate), :mod:`.robustness` (OOD drop, CE/mCE, weighted degradation), :mod:`.regression`
(CI gate). Conventions are in DESIGN.md §5.
"""

from segbench.stats.architecture import (
    architecture_effects,
    architecture_means,
    crossed_mean_ci,
    crossed_paired_ci,
)
from segbench.stats.bootstrap import (
    CI,
    CONDITION_COLUMNS,
    bootstrap_ci,
    group_cis,
    paired_diff_ci,
    unpaired_diff_ci,
)
from segbench.stats.hierarchical import (
    hier_group_cis,
    hier_pairwise_diff_cis,
    pool_cases,
    small_n_flag,
    two_level_means,
)
from segbench.stats.paired import pairwise_wilcoxon, signed_rank_test, significantly_worse_than_best
from segbench.stats.rank_stability import hier_rank_stability, wilson_ci
from segbench.stats.ranking import cd_cliques, critical_difference, friedman_nemenyi, friedman_tables
from segbench.stats.regression import compare_to_baseline, make_baseline
from segbench.stats.robustness import RobustnessSummary, robustness_summary, seed_case_spread
from segbench.stats.variance import anova_components, pair_differences, variance_components

__all__ = [
    "CI",
    "CONDITION_COLUMNS",
    "RobustnessSummary",
    "anova_components",
    "architecture_effects",
    "architecture_means",
    "bootstrap_ci",
    "cd_cliques",
    "compare_to_baseline",
    "critical_difference",
    "crossed_mean_ci",
    "crossed_paired_ci",
    "friedman_nemenyi",
    "friedman_tables",
    "group_cis",
    "hier_group_cis",
    "hier_pairwise_diff_cis",
    "hier_rank_stability",
    "make_baseline",
    "pair_differences",
    "paired_diff_ci",
    "pairwise_wilcoxon",
    "pool_cases",
    "robustness_summary",
    "seed_case_spread",
    "signed_rank_test",
    "significantly_worse_than_best",
    "small_n_flag",
    "two_level_means",
    "unpaired_diff_ci",
    "variance_components",
    "wilson_ci",
]
