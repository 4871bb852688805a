"""Ranking stability under the two-level bootstrap, and the Wilson interval it reports.

Why a module of its own: ranking models is a different question from the interval of a mean or a
paired difference (``stats.hierarchical``); it reuses that module's resampling (cases, then seeds)
and adds only what a ranking needs: ranks per resample, Kendall's tau against the full-data ranking,
and a Wilson interval of the share of identical rankings.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from segbench.seeding import derive_rng
from segbench.stats.hierarchical import (
    _align,
    _has_value,
    _nanmean,
    own_seed_means,
    small_n_flag,
    tables_by_family,
)

__all__ = ["hier_rank_stability", "wilson_ci"]


def hier_rank_stability(
    df: pd.DataFrame,
    metric: str = "dice",
    by: Sequence[str] = ("dataset", "complexity"),
    n_resamples: int = 2000,
    seed: int = 0,
    higher_is_better: bool = True,
    confidence: float = 0.95,
    min_quantile_resamples: int = 2000,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """How often a two-level bootstrap (cases, then seeds) reproduces the model ranking by mean.

    Cases are those every model of the group has a value for. Each resample ranks the models by their
    resample means (rank 1 = best, ties share the lowest rank) and compares with the full-data ranking.

    Why these summaries: with few models most resamples give the *same* ranking, so the distribution
    of Kendall's tau is a few atoms and its 5th percentile jumps between them from run to run; the
    share of identical rankings (with a Wilson CI over resamples) and the median tau are stable. The
    5th percentile is given only with at least ``min_quantile_resamples`` resamples.

    Args:
        df: long per-case table with ``model``, ``seed``, ``case_id``, ``by`` columns and ``metric``.
        metric: value column. Defaults to ``"dice"``.
        by: columns of one ranking. Defaults to ``("dataset", "complexity")``.
        n_resamples: resamples per group. Defaults to 2000.
        seed: base seed. Defaults to 0.
        higher_is_better: ``True`` for Dice/NSD. Defaults to True.
        confidence: level of the Wilson interval. Defaults to 0.95.
        min_quantile_resamples: fewest resamples for the tau 5th percentile. Defaults to 2000.

    Returns:
        ``(rank_freq, tau_summary)``. ``rank_freq``: ``by``, ``model``, ``full_rank``, ``rank``,
        ``frequency``. ``tau_summary``: ``by``, ``n_cases``, ``n_seeds``, ``n_models``,
        ``n_resamples``, ``share_same_ranking``, ``share_low``, ``share_high`` (Wilson), ``tau_median``,
        ``tau_mean``, ``tau_p05`` (NaN below ``min_quantile_resamples``), ``small_n``.
    """
    by = list(by)
    freq_rows: list[dict[str, object]] = []
    tau_rows: list[dict[str, object]] = []
    sign = -1.0 if higher_is_better else 1.0
    for key_t, tabs in tables_by_family(df, by, metric):
        keyd = dict(zip(by, key_t, strict=True))
        models = sorted(tabs)
        ks = [tabs[m].values.shape[1] for m in models]
        k = max(ks, default=0)  # a k = 1 ensemble has no seed level by design: it does not set k
        cases = (
            np.unique(np.concatenate([tabs[m].cases.astype(str) for m in models])) if models else np.array([])
        )
        aligned = {m: _align(tabs[m], cases, tabs[m].values.shape[1]) for m in models}
        common = np.ones(len(cases), bool)
        for m in models:
            common &= _has_value(aligned[m])
        n_cases = int(common.sum())
        base = {**keyd, "n_cases": n_cases, "n_seeds": k, "n_models": len(models), "n_resamples": n_resamples}
        if n_cases == 0 or len(models) < 2:
            tau_rows.append({**base, **_empty_tau(), "small_n": small_n_flag(n_cases, k)})
            continue
        ys = [aligned[m][common] for m in models]
        full_rank = stats.rankdata(sign * np.array([_nanmean(y, axis=1).mean() for y in ys]), method="min")
        full_rank = full_rank.astype(int)
        # each model over its own seeds: a k = 1 ensemble is ranked by its Dice, never by a padding NaN
        theta = own_seed_means(ys, n_resamples, derive_rng(seed, "hier_rank", *key_t))
        score = np.where(np.isnan(theta), np.inf, sign * theta)
        ranks = stats.rankdata(score, axis=1, method="min").astype(int)
        for j, model in enumerate(models):
            counts = np.bincount(ranks[:, j], minlength=len(models) + 1)[1:]
            for r in range(len(models)):
                freq_rows.append(
                    {
                        **keyd,
                        "model": model,
                        "full_rank": int(full_rank[j]),
                        "rank": r + 1,
                        "frequency": counts[r] / n_resamples,
                    }
                )
        same = int((ranks == full_rank).all(axis=1).sum())
        lo, hi = wilson_ci(same, n_resamples, confidence)
        taus = _kendall_per_ranking(full_rank, ranks)
        taus_ok = bool(np.isfinite(taus).any())  # tau is undefined when every rank ties (one model)
        tau_rows.append(
            {
                **base,
                "share_same_ranking": same / n_resamples,
                "share_low": lo,
                "share_high": hi,
                "tau_median": float(np.nanmedian(taus)) if taus_ok else np.nan,
                "tau_mean": float(np.nanmean(taus)) if taus_ok else np.nan,
                "tau_p05": float(np.nanquantile(taus, 0.05))
                if taus_ok and n_resamples >= min_quantile_resamples
                else np.nan,
                "small_n": small_n_flag(n_cases, k),
            }
        )
    freq_cols = [*by, "model", "full_rank", "rank", "frequency"]
    tau_cols = [*by, "n_cases", "n_seeds", "n_models", "n_resamples", "share_same_ranking", "share_low"]
    tau_cols += ["share_high", "tau_median", "tau_mean", "tau_p05", "small_n"]
    return pd.DataFrame(freq_rows, columns=freq_cols), pd.DataFrame(tau_rows, columns=tau_cols)


def wilson_ci(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (Wilson 1927; Agresti & Coull 1998).

    Why Wilson: the share of identical rankings is often near 1, where the Wald interval collapses to
    a point or leaves [0, 1].

    Example:
        >>> [round(v, 4) for v in wilson_ci(95, 100)]
        [0.8883, 0.9785]
    """
    if trials <= 0:
        return (math.nan, math.nan)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _empty_tau() -> dict[str, float]:
    keys = ("share_same_ranking", "share_low", "share_high", "tau_median", "tau_mean", "tau_p05")
    return dict.fromkeys(keys, np.nan)


def _kendall_per_ranking(full_rank: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Kendall tau-b of ``full_rank`` against every row of ``ranks``, one scipy call per distinct row."""
    uniq, inverse = np.unique(ranks, axis=0, return_inverse=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tau_u = np.array([stats.kendalltau(full_rank, row).statistic for row in uniq])
    return tau_u[inverse.ravel()]
