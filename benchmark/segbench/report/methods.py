"""The auto-written methods paragraph: every test, correction and resample count the page used.

Why generated: the numbers in the paragraph come from the same :class:`StatsSettings` object the
statistics ran with, so the text cannot drift from what was computed.
"""

from __future__ import annotations

from segbench.report.tables import StatsSettings
from segbench.stats.hierarchical import MIN_CASES, MIN_SEEDS
from segbench.stats.paired import EXACT_MAX_N

__all__ = ["CALIBRATION", "methods_paragraphs"]

#: figures of ``benchmarks/stats_calibration.py`` (default run, 1,000 suites; rate [Wilson 95%])
CALIBRATION: dict[str, str] = {
    "null": "0.029 [0.020, 0.041]",
    "null_nets": "0.720 [0.691, 0.747]",
    "null_boot": "0.175 [0.153, 0.200]",
    "power": "0.839 [0.815, 0.860]",
}


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
        "In-domain means are over test cases with no perturbation. The mean OOD value pools only the "
        "shifts that make the task harder (the perturbation catalogue records each family's direction; "
        "a suite may override it, e.g. background blur is 'easier'): each case's value under a family "
        "is its mean over the family's severities, and the harder families are weighted equally, so a "
        "perturbation with five severities does not count five times. Cross-complexity evaluations "
        "(trained at one level, tested at another) appear only in the train x test heatmap.",
        "Unit of analysis: the test case. Test images do not depend on the training seed, so a model's "
        "seed x case rows are not independent; seeds (trained networks) are a second level, crossed with "
        "the cases (every network sees every case). Each model has its own seeds: networks of two "
        "architectures trained with the same seed number are different networks, and a seed-pooled "
        "ensemble (k = 1) has no seed level at all. Every inference states n (independent cases) and k "
        f"(seeds). With fewer than {MIN_CASES} cases no interval is printed ('n too small') and nothing "
        f"is marked; with fewer than {MIN_SEEDS} seeds nothing is inferred about seed-to-seed variation "
        "and no architecture-level claim is made.",
        "Two kinds of claim. About these trained networks: paired tests on per-case seed means (below; "
        "in tests.csv, labelled). About the architecture — what a leaderboard reader wants, and what "
        "the † marks and headline sentences claim: would another k training runs give the same answer? "
        "Its interval for a paired difference A - B is a crossed random-effects (mixed-model) moment "
        "interval: estimate = mean over paired cases of the per-case seed-mean difference, squared "
        "standard error = var(per-case differences)/n + var(A's per-seed means)/k_A + var(B's per-seed "
        "means)/k_B, and a t quantile with Welch–Satterthwaite degrees of freedom (so with 3 seeds and "
        "a dominant seed term about 2 degrees of freedom). Its p-values are controlled over one family "
        f"per (dataset, complexity): every model pair x every decided condition (each perturbation x "
        f"severity, each shift family pooled over severities, the pooled OOD value), by "
        f"{'Holm' if s.control == 'holm' else 'Benjamini–Hochberg'} at {s.alpha}. A dagger (†) marks "
        "a model whose architecture-level difference from the block's best-mean model is significant "
        "in that family and points the same way; headline sentences are built only from these decisions. "
        f"Calibration by simulation (benchmarks/stats_calibration.py; 3 models, 40 cases, 3 seeds, seed "
        f"sd 0.02 with a 3% chance per network of collapsing, 1,000 simulated suites): the rate of any "
        f"architecture-level claim under no true difference was {CALIBRATION['null']} (Monte-Carlo 95% "
        f"interval), against {CALIBRATION['null_nets']} for the these-networks Wilcoxon with Holm per "
        f"condition and {CALIBRATION['null_boot']} for a two-level bootstrap BCa interval with "
        f"Bonferroni over the block (3 seeds give it too little seed variance); the power to find a "
        f"true 0.03 Dice difference with seed sd 0.005 was "
        f"{CALIBRATION['power']}.",
        f"Confidence intervals of the cells: {conf} bias-corrected and accelerated (BCa) intervals of "
        f"a two-level bootstrap, {s.n_resamples:,} resamples (seed {s.seed}): each resample draws the "
        "cases with replacement and, shared by all cases, the model's own seeds with replacement (a seed "
        "is one network applied to every case), and averages the drawn cases x seeds (Davison & Hinkley "
        "1997, §3.8; Ren et al. 2010; McCullagh 2000 for the crossed level); the acceleration comes from "
        "the jackknife over cases, and the percentile interval is used where BCa is degenerate (recorded "
        "in summary.csv). This holds for every cell that averages over seeds: in-domain, each shift "
        "family (a case's severities averaged first), the pooled OOD value, the drop (in-domain minus "
        "pooled OOD of each network on each case), HD95 and NSD. The worst-case cell names the model's "
        "worst condition; its interval takes the worst condition inside every resample, so the selection "
        "is resampled too. With 3 seeds the bootstrap understates seed variance by a factor (k - 1)/k, "
        "which is why decisions use the t interval above. mCE has no interval.",
        "These networks: two-sided Wilcoxon signed-rank test on per-case Dice differences, each "
        f"model's seeds averaged per case (zero_method='{s.zero_method}'), for every pair of models with "
        f"at least {s.min_pairs} paired cases (otherwise reported as not testable). p-values: with at most "
        f"{EXACT_MAX_N} pairs the exact null distribution of the signed-rank sum given the observed "
        "mid-ranks (all 2^n sign assignments; with ties or zeros this is the exact permutation "
        "distribution, without them scipy's exact test); above that the normal approximation with tie "
        "and continuity correction (p_method in tests.csv). In tests.csv p_holm is Holm-adjusted "
        "(statsmodels multipletests, method='holm') over the same (dataset, complexity) family as the "
        "decisions; the significance maps show these tests with Holm within each condition. tests.csv "
        "also gives, per pair and condition, effect (mean difference a - b), effect_low/effect_high (the "
        "architecture-level interval), significant (the decision behind †), claim (why none is possible "
        "where it is not), and net_low/net_high (the case-level interval of these networks).",
        "Rankings: per (dataset, complexity), and per perturbation with severities averaged per case, "
        "models are ranked within each test case (seeds averaged; mid-ranks for ties), average ranks are "
        "compared by the Friedman test (scipy, with its tie correction) with the Iman–Davenport F "
        f"correction, and every pair by the Nemenyi test; the critical difference at alpha {s.alpha} is "
        "q_alpha·sqrt(k(k+1)/(6N)) (Demšar 2006), drawn as critical-difference diagrams. Each leaderboard "
        f"rank has a {conf} interval ('1 (1–2)'): the central range of the model's rank over "
        f"{s.rank_resamples:,} two-level resamples, each model over its own seeds.",
        f"Robustness: drop = in-domain minus pooled harder-shift OOD Dice (absolute and relative). "
        f"Corruption error (CE) per perturbation is the summed error (1 - Dice) over severities divided "
        f"by that of the baseline model '{baseline_model}' (as ImageNet-C normalises to AlexNet); mCE is "
        f"the mean over perturbations, 1.0 = as fragile as the baseline. Severity-weighted drop uses "
        f"weights {s.severity_weight:.3g}^s (ROOD-MRI).",
        f"Rank stability: {s.rank_resamples:,} two-level bootstrap resamples (the same cases for every "
        "model, each model's own seeds) re-rank the models by resample mean; reported are the share of "
        "resamples giving the identical ranking with the Wilson 95% interval of its Monte-Carlo error "
        "(how precisely the resamples estimate that share, not a confidence interval of the ranking), "
        "the median Kendall tau-b against the full-data ranking and, only from 2,000 resamples on, its "
        "5th percentile; the blob plot shows each rank's frequency (as challengeR). Variance components: "
        "ANOVA (expected mean squares) estimates of the case, seed and seed x case variance of a two-way "
        "crossed random-effects design (equal to the REML fit of a mixed model on balanced data), per "
        "model and condition and for the per-case difference of every in-domain model pair. The seed "
        f"share's {conf} interval (only with at least {MIN_SEEDS} seeds) comes from the chi-square "
        "distribution of the seed mean square with k - 1 degrees of freedom, the other components at "
        "their estimates: at k = 3 it is honestly wide.",
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
