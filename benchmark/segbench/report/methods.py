"""The auto-written methods paragraph: every test, correction and resample count the page used.

Why generated: the numbers in the paragraph come from the same :class:`StatsSettings` object the
statistics ran with, so the text cannot drift from what was computed.
"""

from __future__ import annotations

from segbench.report.tables import StatsSettings

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
        "enter neither and appear only in the train x test heatmap. Means pool seeds and cases.",
        f"Confidence intervals: {conf} bias-corrected and accelerated (BCa) bootstrap over cases of the mean "
        f"Dice, {s.n_resamples:,} resamples (seed {s.seed}), falling back to the percentile interval of the "
        "same resamples where BCa is degenerate (e.g. Dice piled up at 1.0); the interval's method is "
        "recorded in summary.csv. Cases with undefined Dice stay in the resampled set and each resample "
        "averages its defined values.",
        "Model comparisons: two-sided Wilcoxon signed-rank test (scipy.stats.wilcoxon, "
        f"zero_method='{s.zero_method}') on per-case Dice differences paired by seed and case id, for every "
        f"pair of models with at least {s.min_pairs} paired cases (otherwise reported as not testable). "
        "p-values are corrected with Holm's step-down method (statsmodels multipletests, method='holm') "
        "within each family: one family per (dataset, complexity, perturbation, severity) for the "
        "significance maps, and per (dataset, complexity) for the leaderboard marks (the OOD mark pairs "
        "cases on perturbation, severity, seed and case id). A dagger (†) marks a model whose Holm-adjusted "
        f"p against the best model of the block is below {s.alpha} and whose mean is lower. Effect sizes: "
        "median paired difference, matched-pairs rank-biserial correlation, and the paired bootstrap "
        f"{s.confidence:.0%} CI of the mean difference ({s.diff_resamples:,} resamples of the cases, BCa; "
        "tests.csv).",
        f"Robustness: drop = in-domain minus OOD Dice (absolute and relative). Corruption error (CE) per "
        f"perturbation is the summed error (1 - Dice) over severities divided by that of the baseline model "
        f"'{baseline_model}' (as ImageNet-C normalises to AlexNet); mCE is the mean over perturbations, "
        f"1.0 = as fragile as the baseline. Severity-weighted drop uses weights {s.severity_weight:.3g}^s "
        "(ROOD-MRI).",
        f"Rank stability: {s.rank_resamples:,} bootstrap resamples of the cases every model has (paired), "
        "ranking models by resample mean; the blob plot shows each rank's frequency (as challengeR) and "
        "Kendall's tau-b between the full-data and bootstrap rankings is given per block. Seed-to-seed "
        "spread (SD of per-seed means) is reported apart from the pooled within-seed case SD.",
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
