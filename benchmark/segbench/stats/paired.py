"""Paired Wilcoxon signed-rank tests between models, Holm-corrected within each condition family.

Why these choices (DESIGN.md §5): models are compared on the *same* cases (same seed, same case id,
same condition), so the per-case differences are tested, not two independent samples. The test is
``scipy.stats.wilcoxon`` (two-sided; ``zero_method`` is an argument and is reported in the output, since
'wilcox', 'pratt' and 'zsplit' give different p-values when some differences are exactly zero). Multiple
comparisons are corrected with Holm's step-down method within each family (one family = one
(dataset, complexity, perturbation, severity) condition) — Holm, not statsmodels' default Holm-Sidak.

Holm is computed by the reference implementation, ``statsmodels.stats.multitest.multipletests(p,
method='holm')``, with the method passed explicitly (its default is Holm-Sidak). statsmodels 0.15 calls
``gc.collect()`` inside every Holm call, so the cost per family grows with the number of live Python
objects (measured 50-150 ms per call once torch, scipy and pandas are imported). :func:`holm` therefore
makes one call per family with the live objects frozen (``gc.freeze()``, undone right after), which
makes that collection scan only the few objects created since (~0.05 ms); ``benchmarks/report_scale.py``
measures the total. The tests check :func:`holm` against the
definition (hand-computed step-down values).

A pair is *untestable* (``testable=False``, p fields NaN, never an exception) when it has fewer than
``min_pairs`` paired cases — with 5 pairs the smallest exact two-sided p-value is 2/32 = 0.0625, so no
result could be significant at 0.05 — or when every difference is zero.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

__all__ = ["DEFAULT_FAMILY", "PAIR_KEYS", "holm", "pairwise_wilcoxon", "significantly_worse_than_best"]

#: one Holm family per evaluation condition
DEFAULT_FAMILY: tuple[str, ...] = ("dataset", "complexity", "perturbation", "severity")
#: columns that identify "the same case" across models
PAIR_KEYS: tuple[str, ...] = ("seed", "case_id")

_RESULT_COLUMNS = (
    "model_a",
    "model_b",
    "n_pairs",
    "statistic",
    "p_value",
    "p_holm",
    "median_diff",
    "mean_diff",
    "rank_biserial",
    "zero_method",
    "testable",
    "reason",
)


def pairwise_wilcoxon(
    df: pd.DataFrame,
    metric: str = "dice",
    family: Sequence[str] = DEFAULT_FAMILY,
    zero_method: str = "wilcox",
    min_pairs: int = 6,
) -> pd.DataFrame:
    """Two-sided paired Wilcoxon signed-rank test for every pair of models within each family.

    Rows of two models are paired on ``(seed, case_id)`` (inner join); pairs where either value is NaN
    are dropped. Model pairs are ordered alphabetically (``model_a < model_b``); differences are
    ``a - b``.

    Args:
        df: long per-case table with columns ``model``, ``seed``, ``case_id``, the ``family`` columns and
            ``metric``.
        metric: value column. Defaults to ``"dice"``.
        family: columns defining one Holm family. Defaults to :data:`DEFAULT_FAMILY`.
        zero_method: ``scipy.stats.wilcoxon`` zero handling: ``"wilcox"`` (drop zero differences),
            ``"pratt"`` or ``"zsplit"``. Defaults to ``"wilcox"``.
        min_pairs: fewest paired cases for a test to run. Defaults to 6.

    Returns:
        One row per (family, model pair): the family columns, ``model_a``, ``model_b``, ``n_pairs``,
        ``statistic`` (scipy's: min(R+, R-) for the two-sided test), ``p_value``, ``p_holm`` (Holm within
        the family, over testable pairs), ``median_diff`` and ``mean_diff`` (a - b), ``rank_biserial``
        (matched-pairs rank-biserial correlation (R+ - R-) / (R+ + R-) over non-zero differences;
        positive = a larger), ``zero_method``, ``testable`` (bool), ``reason`` ("" when testable).

    Raises:
        ValueError: on an unknown ``zero_method``, or if a model has two rows for one case in a family.

    Example:
        >>> tests = pairwise_wilcoxon(per_case_df, metric="dice")  # doctest: +SKIP
    """
    if zero_method not in ("wilcox", "pratt", "zsplit"):
        raise ValueError(f"zero_method must be 'wilcox', 'pratt' or 'zsplit', got {zero_method!r}")
    family = list(family)
    rows: list[dict[str, object]] = []
    groups = df.groupby(family, dropna=False, sort=True) if family else [((), df)]
    for key, sub in groups:
        keyd = dict(zip(family, key if isinstance(key, tuple) else (key,), strict=True))
        wide = _wide(sub, metric, keyd)
        fam_rows = []
        for a, b in itertools.combinations(sorted(wide.columns), 2):
            fam_rows.append(
                {
                    **keyd,
                    **_test_pair(
                        wide[a].to_numpy(float), wide[b].to_numpy(float), a, b, zero_method, min_pairs
                    ),
                }
            )
        ok = [r for r in fam_rows if r["testable"]]
        if ok:
            adjusted = holm([r["p_value"] for r in ok])
            for r, p in zip(ok, adjusted, strict=True):
                r["p_holm"] = float(p)
        rows.extend(fam_rows)
    out = pd.DataFrame(rows, columns=[*family, *_RESULT_COLUMNS])
    return out.astype({"testable": bool, "n_pairs": int})


def significantly_worse_than_best(
    df: pd.DataFrame,
    tests: pd.DataFrame,
    metric: str = "dice",
    family: Sequence[str] = DEFAULT_FAMILY,
    alpha: float = 0.05,
    higher_is_better: bool = True,
) -> pd.DataFrame:
    """Per family, mark the models significantly worse than the best-mean model (Holm-adjusted).

    Why: a results table usually bolds the best model and marks the ones a paired test separates from
    it; "not marked" then means "not distinguishable from the best at this sample size".

    Args:
        df: the long per-case table the tests were run on.
        tests: output of :func:`pairwise_wilcoxon` on ``df`` with the same ``metric`` and ``family``.
        metric: value column. Defaults to ``"dice"``.
        family: family columns. Defaults to :data:`DEFAULT_FAMILY`.
        alpha: family-wise error rate for ``p_holm``. Defaults to 0.05.
        higher_is_better: ``True`` for Dice/NSD, ``False`` for HD95. Defaults to True.

    Returns:
        One row per (family, model): the family columns, ``model``, ``mean`` (over the model's non-NaN
        cases in the family), ``n``, ``best_model`` (highest mean; ties go to the alphabetically first),
        ``is_best``, ``p_holm_vs_best`` (NaN for the best model or an untestable pair) and
        ``significantly_worse`` (``p_holm_vs_best < alpha`` and the mean is worse than the best's).
    """
    keys = list(family) or ["_all"]  # a constant key makes "no family columns" one family
    data = df if family else df.assign(_all=0)
    tests = tests if family else tests.assign(_all=0)
    means = (
        data.groupby([*keys, "model"], dropna=False, sort=True)[metric]
        .agg(mean="mean", n="count")
        .reset_index()
    )
    scored = means[means["n"] > 0].assign(_score=lambda m: m["mean"] if higher_is_better else -m["mean"])
    # drop_duplicates treats NaN keys (e.g. complexity) as equal, so this keeps one best row per family
    best = (
        scored.sort_values(["_score", "model"], ascending=[False, True])
        .drop_duplicates(subset=keys, keep="first")
        .rename(columns={"model": "best_model", "mean": "_best_mean"})[[*keys, "best_model", "_best_mean"]]
    )
    out = means.merge(best, on=keys, how="left")
    t = tests[[*keys, "model_a", "model_b", "p_holm"]]
    both = pd.concat(
        [
            t.rename(columns={"model_a": "best_model", "model_b": "model"}),
            t.rename(columns={"model_b": "best_model", "model_a": "model"}),
        ],
        ignore_index=True,
    ).rename(columns={"p_holm": "p_holm_vs_best"})
    out = out.merge(both, on=[*keys, "best_model", "model"], how="left")
    out["is_best"] = out["model"] == out["best_model"]
    worse_mean = out["mean"] < out["_best_mean"] if higher_is_better else out["mean"] > out["_best_mean"]
    out["significantly_worse"] = (~out["is_best"]) & (out["p_holm_vs_best"] < alpha) & worse_mean
    cols = [*family, "model", "mean", "n", "best_model", "is_best", "p_holm_vs_best", "significantly_worse"]
    return out[cols].reset_index(drop=True)


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values of one family, via ``multipletests(p, method='holm')``.

    Why statsmodels rather than six lines of numpy: the adjusted values are a published claim of the
    report, so they come from the reference implementation; ``method='holm'`` is spelled out because
    statsmodels' default is Holm-Sidak (DESIGN.md §5).

    Args:
        p_values: raw p-values of one family, no NaN.

    Returns:
        Adjusted p-values (``min(1, running max of (m - i) * p_(i))``), in input order.

    Example:
        >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return p.copy()
    with _gc_frozen():
        adjusted = multipletests(p, method="holm")[1]
    return np.asarray(adjusted, dtype=float)


@contextmanager
def _gc_frozen() -> Iterator[None]:
    """Freeze live objects so statsmodels' ``gc.collect()`` skips them; unfreeze afterwards.

    Why: the full collection otherwise walks every object of the process on each call. Frozen objects
    are neither freed nor lost, only skipped, and ``gc.unfreeze()`` puts them back. If someone else
    already froze objects we leave their freeze alone (unfreezing would undo it).
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _test_pair(
    a: np.ndarray, b: np.ndarray, name_a: str, name_b: str, zero_method: str, min_pairs: int
) -> dict[str, object]:
    """Wilcoxon result row for one aligned pair of value vectors (NaN pairs dropped)."""
    ok = ~(np.isnan(a) | np.isnan(b))
    d = a[ok] - b[ok]
    n = int(d.size)
    row: dict[str, object] = {
        "model_a": name_a,
        "model_b": name_b,
        "n_pairs": n,
        "statistic": np.nan,
        "p_value": np.nan,
        "p_holm": np.nan,
        "median_diff": float(np.median(d)) if n else np.nan,
        "mean_diff": float(np.mean(d)) if n else np.nan,
        "rank_biserial": np.nan,
        "zero_method": zero_method,
        "testable": False,
        "reason": "",
    }
    if n == 0:
        row["reason"] = "no paired cases (no common seed, case_id with both values)"
        return row
    if n < min_pairs:
        row["reason"] = f"fewer than {min_pairs} paired cases"
        return row
    if not np.any(d):
        row["reason"] = "all differences zero"
        return row
    res = stats.wilcoxon(d, zero_method=zero_method, alternative="two-sided")
    if not np.isfinite(res.pvalue):
        row["reason"] = "wilcoxon returned no p-value"
        return row
    nz = d[d != 0]
    ranks = stats.rankdata(np.abs(nz))
    r_plus, r_minus = ranks[nz > 0].sum(), ranks[nz < 0].sum()
    row.update(
        statistic=float(res.statistic),
        p_value=float(res.pvalue),
        testable=True,
        rank_biserial=float((r_plus - r_minus) / (r_plus + r_minus)),
    )
    return row


def _wide(sub: pd.DataFrame, metric: str, keyd: dict[str, object]) -> pd.DataFrame:
    """Cases x models table (index = PAIR_KEYS), refusing duplicate (case, model) rows."""
    idx = sub.set_index([*PAIR_KEYS, "model"])[metric]
    if idx.index.has_duplicates:
        dup = idx.index[idx.index.duplicated()][0]
        raise ValueError(
            f"duplicate rows for (seed, case_id, model)={dup} in family {keyd}; add the column that tells "
            "them apart to `family`"
        )
    return idx.unstack("model")
