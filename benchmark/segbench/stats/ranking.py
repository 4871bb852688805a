"""Critical-difference ranking of many models: Friedman test over cases, Nemenyi post-hoc (Demšar 2006).

Why: pairwise Wilcoxon tests answer "does A differ from B"; a benchmark with several models also
wants one ranking with its uncertainty. Demšar (2006, "Statistical comparisons of classifiers over
multiple data sets", JMLR 7:1-30) ranks the models within each block (here: each test case, with
the metric averaged over seeds, so a case is one block whatever the seed count), averages the ranks,
tests them with Friedman's chi-square and its Iman-Davenport F correction, and compares every pair
with the Nemenyi test: two models differ when their average ranks differ by at least the critical
difference ``CD = q_alpha * sqrt(k (k + 1) / (6 N))`` (``q_alpha`` = studentized range quantile /
sqrt(2), infinite degrees of freedom). The CD diagram draws the average ranks on an axis and joins
models that are not significantly different.

Formulas are Demšar's (section 3.2.2): ``chi2_F = 12N / (k(k+1)) * (sum R_j^2 - k(k+1)^2 / 4)`` with
mid-ranks for ties, divided by the tie correction ``1 - sum(t^3 - t) / (N k (k^2 - 1))`` over the tie
groups of every case (as ``scipy.stats.friedmanchisquare``), ``F_F = (N-1) chi2_F / (N(k-1) -
chi2_F)`` with ``(k-1, (k-1)(N-1))`` degrees of freedom (the p-value reported). Nemenyi p-values are
``P(Q > |R_i - R_j| * sqrt(2) / se)`` from ``scipy.stats.studentized_range`` with ``se = sqrt(k (k+1) /
(6N))`` — the same formula as ``scikit_posthocs.posthoc_nemenyi_friedman``, which the tests use as the
reference (it is not imported here because it loads matplotlib and seaborn, ~1 s of every report).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["FriedmanResult", "cd_cliques", "critical_difference", "friedman_nemenyi", "friedman_tables"]

#: fewest blocks (cases) and models for a Friedman test
MIN_BLOCKS, MIN_MODELS = 2, 3


class FriedmanResult(dict):
    """Result of :func:`friedman_nemenyi` (a dict, so it turns into a table row directly).

    Keys: ``n_blocks``, ``n_models``, ``chi2``, ``ff``, ``p_value`` (Iman-Davenport F), ``cd``,
    ``alpha``, ``avg_ranks`` (``{model: rank}``), ``nemenyi`` (``{(a, b): p}``), ``testable``, ``reason``.
    """


def critical_difference(n_models: int, n_blocks: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of average ranks (Demšar 2006, eq. in §3.2.2).

    Example:
        >>> round(critical_difference(4, 14), 2)   # Demšar's example: four C4.5 variants, 14 data sets
        1.25
    """
    return float(_q_alpha(n_models, alpha) * math.sqrt(n_models * (n_models + 1) / (6.0 * n_blocks)))


@functools.lru_cache(maxsize=64)
def _q_alpha(n_models: int, alpha: float) -> float:
    """Studentized range quantile / sqrt(2) (Demšar's q_alpha); cached, the quantile costs ~10 ms."""
    return float(stats.studentized_range.ppf(1 - alpha, n_models, np.inf) / math.sqrt(2))


def friedman_nemenyi(
    scores: pd.DataFrame, alpha: float = 0.05, higher_is_better: bool = True
) -> FriedmanResult:
    """Friedman test, average ranks, Nemenyi p-values and CD of a blocks x models table.

    Args:
        scores: rows = blocks (cases), columns = models; rows with a NaN are dropped (Friedman needs
            complete blocks).
        alpha: level of the critical difference. Defaults to 0.05.
        higher_is_better: rank 1 = highest score when True (Dice). Defaults to True.

    Returns:
        A :class:`FriedmanResult`; ``testable`` False (with ``reason``) for fewer than 3 models or 2
        complete blocks, or when every block ranks all models equal.
    """
    x = scores.dropna(axis=0, how="any")
    models = [str(c) for c in x.columns]
    n, k = x.shape
    res = FriedmanResult(
        n_blocks=int(n),
        n_models=int(k),
        chi2=np.nan,
        ff=np.nan,
        p_value=np.nan,
        cd=np.nan,
        alpha=alpha,
        avg_ranks={},
        nemenyi={},
        testable=False,
        reason="",
    )
    if k < MIN_MODELS:
        res["reason"] = f"fewer than {MIN_MODELS} models"
        return res
    if n < MIN_BLOCKS:
        res["reason"] = f"fewer than {MIN_BLOCKS} cases with a value for every model"
        return res
    vals = x.to_numpy(float)
    ranks = stats.rankdata(-vals if higher_is_better else vals, axis=1)  # mid-ranks for ties
    avg = ranks.mean(axis=0)
    res["avg_ranks"] = dict(zip(models, avg.tolist(), strict=True))
    res["cd"] = critical_difference(k, n, alpha)
    chi2 = 12.0 * n / (k * (k + 1)) * (np.sum(avg**2) - k * (k + 1) ** 2 / 4.0)
    ties = 1.0 - _tie_sum(ranks) / (n * k * (k * k - 1))
    if ties > 0:
        chi2 /= ties
    res["chi2"] = float(chi2)
    denom = n * (k - 1) - chi2
    if denom <= 0:  # every block ranks the models identically: chi2 at its maximum
        res["ff"], res["p_value"] = math.inf, 0.0
    else:
        ff = (n - 1) * chi2 / denom
        res["ff"] = float(ff)
        res["p_value"] = float(stats.f.sf(ff, k - 1, (k - 1) * (n - 1)))
    if np.allclose(ranks, ranks[:, :1]):
        res["reason"] = "every case ranks all models equal"
        return res
    se = math.sqrt(k * (k + 1) / (6.0 * n))
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    q = np.array([abs(avg[i] - avg[j]) / se * math.sqrt(2) for i, j in pairs])
    p = stats.studentized_range.sf(q, k, np.inf)  # one vectorised call for all pairs
    for (i, j), pv in zip(pairs, np.atleast_1d(p), strict=True):
        res["nemenyi"][(models[i], models[j])] = float(pv)
    res["testable"] = True
    return res


def cd_cliques(avg_ranks: dict[str, float], cd: float) -> list[list[str]]:
    """Maximal groups of models whose average ranks lie within ``cd`` of each other (the CD bars).

    Models are sorted by average rank; a group is a run of consecutive models whose first and last
    rank differ by less than ``cd``; groups contained in another are dropped, singletons omitted.

    Example:
        >>> cd_cliques({"a": 1.0, "b": 1.5, "c": 3.0}, 1.0)
        [['a', 'b']]
    """
    order = sorted(avg_ranks, key=lambda m: (avg_ranks[m], m))
    groups: list[list[str]] = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and avg_ranks[order[j + 1]] - avg_ranks[order[i]] < cd:
            j += 1
        if j > i and not any(set(order[i : j + 1]) <= set(g) for g in groups):
            groups.append(order[i : j + 1])
    return groups


def friedman_tables(
    df: pd.DataFrame,
    by: Sequence[str],
    metric: str = "dice",
    alpha: float = 0.05,
    higher_is_better: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Friedman + Nemenyi per group of a long table; a case (averaged over seeds) is one block.

    Args:
        df: long per-case table with ``model``, ``seed``, ``case_id``, ``by`` and ``metric``.
        by: columns of one ranking (e.g. ``["dataset", "complexity", "scope"]``).
        metric: value column. Defaults to ``"dice"``.
        alpha: CD level. Defaults to 0.05.
        higher_is_better: direction. Defaults to True.

    Returns:
        ``(friedman, ranks)``: ``friedman`` has ``by``, ``n_cases``, ``n_seeds`` (max per model),
        ``n_models``, ``chi2``, ``ff``, ``p_value`` (Iman-Davenport), ``cd``, ``testable``, ``reason``
        and ``nemenyi`` (``"a|b=p; ..."``, for the CSV); ``ranks`` has ``by``, ``model``, ``avg_rank``
        and ``clique_bars`` (indices of the CD groups of :func:`cd_cliques` the model belongs to).
    """
    by = list(by)
    f_rows, r_rows = [], []
    if df.empty:
        return _empty_friedman(by), pd.DataFrame(columns=[*by, "model", "avg_rank", "clique_bars"])
    groups = df.groupby(by, dropna=False, sort=True) if by else [((), df)]
    for key, sub in groups:
        key_t = key if isinstance(key, tuple) else (key,)
        keyd = dict(zip(by, key_t, strict=True))
        # one block per case: each model's values averaged over its seeds (and any other rows)
        wide = sub.groupby(["case_id", "model"], sort=True)[metric].mean().unstack("model")
        k_seeds = int(sub.groupby("model")["seed"].nunique().max())
        res = friedman_nemenyi(wide, alpha, higher_is_better)
        f_rows.append(
            {
                **keyd,
                "n_cases": res["n_blocks"],
                "n_seeds": k_seeds,
                "n_models": res["n_models"],
                "chi2": res["chi2"],
                "ff": res["ff"],
                "p_value": res["p_value"],
                "cd": res["cd"],
                "testable": res["testable"],
                "reason": res["reason"],
                "nemenyi": "; ".join(f"{a}|{b}={p:.4g}" for (a, b), p in res["nemenyi"].items()),
            }
        )
        bars = cd_cliques(res["avg_ranks"], res["cd"]) if res["avg_ranks"] else []
        for model, rank in res["avg_ranks"].items():
            r_rows.append(
                {
                    **keyd,
                    "model": model,
                    "avg_rank": rank,
                    "clique_bars": ",".join(str(i) for i, g in enumerate(bars) if model in g),
                }
            )
    return pd.DataFrame(f_rows), pd.DataFrame(r_rows, columns=[*by, "model", "avg_rank", "clique_bars"])


def _empty_friedman(by: list[str]) -> pd.DataFrame:
    cols = [
        *by,
        "n_cases",
        "n_seeds",
        "n_models",
        "chi2",
        "ff",
        "p_value",
        "cd",
        "testable",
        "reason",
        "nemenyi",
    ]
    return pd.DataFrame(columns=cols)


def _tie_sum(ranks: np.ndarray) -> float:
    """``sum(t^3 - t)`` over the tie groups of every row (case) of a mid-rank matrix."""
    srt = np.sort(ranks, axis=1)
    total = 0.0
    for row in srt:
        _, counts = np.unique(row, return_counts=True)
        total += float(np.sum(counts.astype(float) ** 3 - counts))
    return total
