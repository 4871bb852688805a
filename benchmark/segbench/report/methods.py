"""The auto-written methods paragraph: every test, correction and resample count the page used.

Why generated: the numbers in the paragraph come from the same :class:`StatsSettings` object the
statistics ran with, so the text cannot drift from what was computed.
"""

from __future__ import annotations

from segbench.report.tables import StatsSettings
from segbench.stats.hierarchical import MIN_CASES, MIN_SEEDS
from segbench.stats.paired import EXACT_MAX_N

__all__ = ["methods_paragraphs"]


def methods_paragraphs(
    settings: StatsSettings, baseline_model: str, has_3d: bool, n_nan: int, has_cross: bool
) -> list[str]:
    """Plain-text paragraphs (rendered escaped) describing the statistics of one report.

    Args:
        settings: the settings the statistics ran with.
        baseline_model: the model corruption errors are normalised to.
        has_3d: whether the 3D FBR analysis section is present.
        n_nan: number of per-case rows with undefined Dice (both masks empty).
        has_cross: whether the cross-complexity heatmap is present.

    Returns:
        Paragraphs in reading order.
    """
    s = settings
    conf = f"{s.confidence:.0%}"
    paras = [
        "Metrics follow nnU-Net: Dice is undefined (NaN) when reference and prediction are both empty; "
        f"such cases ({n_nan} per-case rows in this report) are excluded from means and counted. "
        "In-domain means are over test cases with no perturbation; out-of-domain (OOD) means pool every "
        "perturbation and severity; cross-complexity evaluations (trained at one level, tested at another) "
        "enter neither and appear only in the train x test heatmap.",
        "Unit of analysis: the test case. Test images do not depend on the training seed, so a model's "
        "seed x case rows are not independent; seeds (trained networks) are a second level, crossed with "
        "the cases (every network sees every case). Every inference states n (independent cases) and k "
        f"(seeds). With fewer than {MIN_CASES} cases an interval is replaced by 'n too small'; with fewer "
        f"than {MIN_SEEDS} seeds nothing is inferred about seed-to-seed variation.",
        f"Confidence intervals: {conf} bias-corrected and accelerated (BCa) intervals of a two-level "
        f"bootstrap, {s.n_resamples:,} resamples (seed {s.seed}): each resample draws the cases with "
        "replacement and, shared by all cases, the seeds with replacement (a seed is one network applied "
        "to every case), and averages the drawn cases x seeds (Davison & Hinkley 1997, §3.8; Ren et al. "
        "2010; McCullagh 2000 for the crossed level). The acceleration comes from the jackknife over "
        "cases; the percentile interval of the same resamples is used where BCa is degenerate (e.g. Dice "
        "piled up at 1.0), and the method is recorded in summary.csv. The estimate is the mean over "
        "cases of the per-case seed means. The pooled OOD interval averages each case's perturbations and "
        "severities first, so a case's conditions are resampled together.",
        "Model comparisons: two-sided Wilcoxon signed-rank test on per-case Dice differences, each "
        f"model's seeds averaged per case (zero_method='{s.zero_method}'), for every pair of models with "
        f"at least {s.min_pairs} paired cases (otherwise reported as not testable). p-values: with at most "
        f"{EXACT_MAX_N} pairs the exact null distribution of the signed-rank sum given the observed "
        "mid-ranks (all 2^n sign assignments; with ties or zeros this is the exact permutation "
        "distribution, without them scipy's exact test); above that the normal approximation with tie "
        "and continuity correction. The method of each test is the p_method column of tests.csv. "
        "p-values are Holm-corrected (statsmodels multipletests, method='holm') within each family: one "
        "family per (dataset, complexity, perturbation, severity) for the significance maps, and per "
        "(dataset, complexity) for the leaderboard marks (OOD marks use each case's mean over its OOD "
        f"conditions). A dagger (†) marks a model whose Holm-adjusted p against the block's best-mean "
        f"model is below {s.alpha} and whose median per-case difference favours the best model; when "
        "the test is significant but the median points the other way the row says '(mixed)' instead. "
        "Effect sizes: median per-case difference with its two-level bootstrap percentile CI "
        f"({s.diff_resamples:,} resamples) behind each mark, matched-pairs rank-biserial correlation, "
        f"and the two-level bootstrap {conf} CI of the mean difference (tests.csv).",
        "Rankings: per (dataset, complexity), and per perturbation with severities averaged per case, "
        "models are ranked within each test case (seeds averaged; mid-ranks for ties), average ranks are "
        "compared by the Friedman test with the Iman–Davenport F correction, and every pair by the "
        f"Nemenyi test; the critical difference at alpha {s.alpha} is "
        "q_alpha·sqrt(k(k+1)/(6N)) (Demšar 2006), drawn as critical-difference diagrams.",
        f"Robustness: drop = in-domain minus OOD Dice (absolute and relative). Corruption error (CE) per "
        f"perturbation is the summed error (1 - Dice) over severities divided by that of the baseline model "
        f"'{baseline_model}' (as ImageNet-C normalises to AlexNet); mCE is the mean over perturbations, "
        f"1.0 = as fragile as the baseline. Severity-weighted drop uses weights {s.severity_weight:.3g}^s "
        "(ROOD-MRI).",
        f"Rank stability: {s.rank_resamples:,} two-level bootstrap resamples (the same cases for every "
        "model) re-rank the models by resample mean; reported are the share of resamples giving the "
        "identical ranking with its Wilson 95% interval, the median Kendall tau-b against the full-data "
        "ranking and, only from 2,000 resamples on, its 5th percentile; the blob plot shows each rank's "
        "frequency (as challengeR). Variance components: ANOVA (expected mean squares) estimates of the "
        "case, seed and seed x case variance of a two-way crossed random-effects design (equal to the "
        "REML fit of a mixed model on balanced data), per model and condition and for the per-case "
        f"difference of every in-domain model pair, with percentile CIs of the shares from "
        f"{s.vc_resamples:,} two-level bootstrap resamples when there are at least {MIN_SEEDS} seeds.",
    ]
    if has_cross:
        paras.append(
            "Cross-complexity: mean Dice of every model trained at one complexity level and tested at "
            "another (no perturbation); the diagonal is the in-domain result."
        )
    if has_3d:
        paras.append(
            "3D analysis: Dice per patch size with the same BCa intervals. For the FBR shift analysis, the "
            "training-crop foreground ratio range is min..max of every recorded training crop pooled over "
            "the seeds of a (model, patch size, dataset); each test volume's Dice is averaged over seeds, "
            "volumes are split by whether their foreground ratio lies inside that range, and the two "
            "groups are compared with a two-sided Mann–Whitney U test (scipy.stats.mannwhitneyu, "
            "unpaired, uncorrected). Splits with every case on one side are reported as degenerate."
        )
    return paras
