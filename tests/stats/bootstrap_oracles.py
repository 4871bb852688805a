"""Test oracles: the per-case-row (one-level) rank stability and pairwise difference CIs.

Why here, not in ``segbench.stats``: the report uses the two-level versions
(``segbench.stats.hierarchical``); these one-level ones are kept only to check the vectorised bootstrap
machinery against SciPy and the two-level versions against the one-level ones where they must agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from segbench.core import CONDITION_COLUMNS
from segbench.seeding import derive_rng
from segbench.stats.bootstrap import (
    _check_confidence,
    _kendall_per_ranking,
    _wide,
    bootstrap_means,
    percentile_or_bca,
)

__all__ = ["pairwise_diff_cis", "rank_stability"]


def rank_stability(
    df: pd.DataFrame,
    metric: str = "dice",
    by: Sequence[str] = CONDITION_COLUMNS,
    n_resamples: int = 1000,
    seed: int = 0,
    higher_is_better: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """How stable the model ranking by mean ``metric`` is under resampling of cases.

    Within each ``by`` group, cases are the ``(seed, case_id)`` pairs that every model of the group has a
    non-NaN value for (paired, complete cases). Each bootstrap resample draws cases with replacement, the
    same cases for all models (:func:`bootstrap_means`), and ranks models by their resample means (rank 1
    = best, ties share the lowest rank). Kendall's tau-b (``scipy.stats.kendalltau``) compares each
    resample's ranking with the full-data ranking; it is computed once per distinct ranking, as there are
    few of them.

    Args:
        df: long per-case table with ``model``, ``seed``, ``case_id`` and ``metric`` columns.
        metric: value column. Defaults to ``"dice"``.
        by: condition columns; ``()`` ranks over the whole table. Defaults to :data:`CONDITION_COLUMNS`.
        n_resamples: resamples per group. Defaults to 1000 (DESIGN.md §5).
        seed: base seed; each group's generator is derived from it and the group key. Defaults to 0.
        higher_is_better: ``True`` for Dice/NSD, ``False`` for HD95. Defaults to True.

    Returns:
        ``(rank_freq, tau_summary)``. ``rank_freq``: ``by`` columns, ``model``, ``full_rank`` (rank on all
        cases), ``rank``, ``frequency`` (share of resamples; every rank 1..n_models is listed, so
        frequencies sum to 1 per model). ``tau_summary``: ``by`` columns, ``n_cases``, ``n_models``,
        ``tau_mean``, ``tau_median``, ``tau_p05`` (5th percentile), ``share_same_ranking``.

    Raises:
        ValueError: if a model has two rows for the same ``(seed, case_id)`` within a group.
    """
    by = list(by)
    freq_rows: list[dict[str, object]] = []
    tau_rows: list[dict[str, object]] = []
    groups = df.groupby(by, dropna=False, sort=True) if by else [((), df)]
    for key, sub in groups:
        key_t = key if isinstance(key, tuple) else (key,)
        keyd = dict(zip(by, key_t, strict=True))
        wide = _wide(sub, metric, keyd).dropna()
        models = list(wide.columns)
        n_cases, n_models = len(wide), len(models)
        tau_row: dict[str, object] = {**keyd, "n_cases": n_cases, "n_models": n_models}
        if n_cases == 0 or n_models == 0:
            tau_rows.append(
                {
                    **tau_row,
                    "tau_mean": np.nan,
                    "tau_median": np.nan,
                    "tau_p05": np.nan,
                    "share_same_ranking": np.nan,
                }
            )
            continue
        x = wide.to_numpy(dtype=float)
        sign = -1.0 if higher_is_better else 1.0
        full_rank = stats.rankdata(sign * x.mean(axis=0), method="min").astype(int)
        theta_b = bootstrap_means(x, n_resamples, derive_rng(seed, "rank_stability", *key_t))
        ranks = stats.rankdata(sign * theta_b, axis=1, method="min").astype(int)
        for j, model in enumerate(models):
            counts = np.bincount(ranks[:, j], minlength=n_models + 1)[1:]
            for r in range(n_models):
                freq_rows.append(
                    {
                        **keyd,
                        "model": model,
                        "full_rank": int(full_rank[j]),
                        "rank": r + 1,
                        "frequency": counts[r] / n_resamples,
                    }
                )
        taus = _kendall_per_ranking(full_rank, ranks)
        tau_rows.append(
            {
                **tau_row,
                "tau_mean": float(np.mean(taus)) if n_models > 1 else np.nan,
                "tau_median": float(np.median(taus)) if n_models > 1 else np.nan,
                "tau_p05": float(np.quantile(taus, 0.05)) if n_models > 1 else np.nan,
                "share_same_ranking": float(np.mean((ranks == full_rank).all(axis=1))),
            }
        )
    freq_cols = [*by, "model", "full_rank", "rank", "frequency"]
    tau_cols = [*by, "n_cases", "n_models", "tau_mean", "tau_median", "tau_p05", "share_same_ranking"]
    return pd.DataFrame(freq_rows, columns=freq_cols), pd.DataFrame(tau_rows, columns=tau_cols)


def pairwise_diff_cis(
    df: pd.DataFrame,
    metric: str = "dice",
    family: Sequence[str] = CONDITION_COLUMNS,
    n_resamples: int = 9999,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired bootstrap CIs of the mean difference between every two models within each family.

    Why: a p-value says whether two models differ; the CI of their paired difference says by how
    much, which is what a reader compares with a clinically relevant margin. Cases are the
    ``(seed, case_id)`` pairs; one index matrix resamples all model pairs of a family together
    (:func:`bootstrap_means`), and :func:`percentile_or_bca` gives BCa (percentile where BCa is
    degenerate). A case missing or NaN for either model drops out of that pair only.

    Args:
        df: long per-case table with ``model``, ``seed``, ``case_id``, the ``family`` columns and ``metric``.
        metric: value column. Defaults to ``"dice"``.
        family: columns of one comparison family. Defaults to :data:`CONDITION_COLUMNS`.
        n_resamples: resamples per family. Defaults to 9999.
        confidence: two-sided confidence level. Defaults to 0.95.
        seed: base seed; each family's generator is derived from it and the family key. Defaults to 0.

    Returns:
        One row per (family, model pair), models ordered alphabetically as in
        :func:`segbench.stats.paired.pairwise_wilcoxon`: the family columns, ``model_a``, ``model_b``,
        ``diff`` (mean of ``a - b``), ``diff_low``, ``diff_high``, ``diff_method``, ``diff_n``.
    """
    _check_confidence(confidence)
    family = list(family)
    rows: list[dict[str, object]] = []
    groups = df.groupby(family, dropna=False, sort=True) if family else [((), df)]
    for key, sub in groups:
        key_t = key if isinstance(key, tuple) else (key,)
        keyd = dict(zip(family, key_t, strict=True))
        wide = _wide(sub, metric, keyd)
        pairs = [(a, b) for i, a in enumerate(wide.columns) for b in wide.columns[i + 1 :]]
        if not pairs or wide.empty:
            continue
        diffs = np.column_stack([wide[a].to_numpy(float) - wide[b].to_numpy(float) for a, b in pairs])
        rng = derive_rng(seed, "pairwise_diff", *key_t)
        values = wide.to_numpy(float)
        if np.isnan(values).any():
            theta_b = bootstrap_means(diffs, n_resamples, rng)
        else:
            # Complete cases: the mean of a resampled difference is the difference of the resampled
            # means, so M model columns give all M(M-1)/2 pairs (same indices, exact).
            theta_m = bootstrap_means(values, n_resamples, rng)
            col = {m: j for j, m in enumerate(wide.columns)}
            theta_b = np.column_stack([theta_m[:, col[a]] - theta_m[:, col[b]] for a, b in pairs])
        estimate, low, high, method = percentile_or_bca(diffs, theta_b, confidence)
        n_valid = (~np.isnan(diffs)).sum(axis=0)
        for j, (a, b) in enumerate(pairs):
            rows.append(
                {
                    **keyd,
                    "model_a": a,
                    "model_b": b,
                    "diff": float(estimate[j]),
                    "diff_low": float(low[j]),
                    "diff_high": float(high[j]),
                    "diff_method": str(method[j]),
                    "diff_n": int(n_valid[j]),
                }
            )
    columns = [*family, "model_a", "model_b", "diff", "diff_low", "diff_high", "diff_method", "diff_n"]
    return pd.DataFrame(rows, columns=columns)
