"""Paired Wilcoxon signed-rank tests between models on per-case values, Holm-corrected per family.

Why these choices (DESIGN.md §5, issue 9):

* **The case is the unit.** Test images do not depend on the training seed, so a model's
  ``seed x case`` rows are not independent pairs. By default each model's values are averaged over
  its seeds per case first (``average_seeds=True``): one image = one pair, ``n_cases`` pairs; the
  output records ``n_cases`` and ``n_seeds``. (``average_seeds=False`` pairs on ``(seed, case_id)``,
  the old pseudo-replicated design, kept only for comparisons.)
* **The test**: two-sided Wilcoxon signed-rank on the per-case differences; ``zero_method`` is an
  argument and reported ('wilcox', 'pratt' and 'zsplit' give different p-values with zero
  differences).
* **The p-value method is chosen and recorded** (column ``p_method``): with ``n <= 50`` pairs the
  *exact* null distribution of ``R+`` given the observed (mid-)ranks — all ``2^n`` sign assignments,
  counted by dynamic programming over doubled mid-ranks, so ties and zeros are handled exactly (this
  is the exact permutation distribution that scipy's ``PermutationMethod`` samples or enumerates;
  without ties it equals scipy's ``method="exact"``). Above 50 pairs: the normal approximation with
  tie correction *and continuity correction* (``scipy.stats.wilcoxon(method="asymptotic",
  correction=True)``). scipy's own default silently switches to the uncorrected normal
  approximation for ties or zeros with n > 13.
* **Holm** step-down within each family (one family = one (dataset, complexity, perturbation,
  severity) condition), by the reference implementation ``multipletests(p, method='holm')`` with the
  method spelled out (statsmodels' default is Holm-Sidak). statsmodels 0.15 calls ``gc.collect()``
  inside every Holm call; :func:`holm` freezes the live objects around it (``gc.freeze()``), which
  makes that collection scan only the few objects created since.
* **Marks that agree with their evidence** (:func:`significantly_worse_than_best`): a model is marked
  worse than the block's best only when the Holm-adjusted p < alpha *and* the median per-case
  difference (best - model) points the same way; a significant test whose median effect points the
  other way (e.g. a model better on 11 of 12 cases with one failure: lower mean, yet the rank test
  favours it) is reported as ``"mixed"`` with a note, never as worse.

A pair is *untestable* (``testable=False``, p fields NaN, never an exception) when it has fewer than
``min_pairs`` paired cases — with 5 pairs the smallest exact two-sided p-value is 2/32 = 0.0625, so no
result could be significant at 0.05 — or when every difference is zero.
"""

from __future__ import annotations

import gc
import itertools
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import ndtr
from statsmodels.stats.multitest import multipletests

from segbench.stats.hierarchical import tables_by_family

__all__ = [
    "DEFAULT_FAMILY",
    "EXACT_MAX_N",
    "PAIR_KEYS",
    "holm",
    "pairwise_wilcoxon",
    "signed_rank_test",
    "significantly_worse_than_best",
]

#: one Holm family per evaluation condition
DEFAULT_FAMILY: tuple[str, ...] = ("dataset", "complexity", "perturbation", "severity")
#: columns that identify "the same case" across models when seeds are not averaged
PAIR_KEYS: tuple[str, ...] = ("seed", "case_id")
#: up to this many pairs the p-value is exact (ties and zeros included)
EXACT_MAX_N = 50

_RESULT_COLUMNS = (
    "model_a",
    "model_b",
    "n_pairs",
    "n_cases",
    "n_seeds",
    "statistic",
    "p_value",
    "p_holm",
    "p_method",
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
    average_seeds: bool = True,
) -> pd.DataFrame:
    """Two-sided paired Wilcoxon signed-rank test for every pair of models within each family.

    With ``average_seeds`` (default) each model's values are averaged over its seeds per case and the
    two models are paired on ``case_id``; otherwise on ``(seed, case_id)``. Pairs where either value is
    NaN are dropped. Model pairs are ordered alphabetically (``model_a < model_b``); differences are
    ``a - b``.

    Args:
        df: long per-case table with ``model``, ``seed``, ``case_id``, the ``family`` columns and ``metric``.
        metric: value column. Defaults to ``"dice"``.
        family: columns defining one Holm family. Defaults to :data:`DEFAULT_FAMILY`.
        zero_method: ``"wilcox"`` (drop zero differences), ``"pratt"`` or ``"zsplit"``. Defaults to
            ``"wilcox"``.
        min_pairs: fewest paired cases for a test to run. Defaults to 6.
        average_seeds: average over seeds per case first (the case is the unit). Defaults to True.

    Returns:
        One row per (family, model pair): the family columns, ``model_a``, ``model_b``, ``n_pairs``,
        ``n_cases`` (distinct cases in the pairs), ``n_seeds`` (the smaller seed count of the two),
        ``statistic`` (min(R+, R-)), ``p_value``, ``p_holm`` (Holm within the family, over testable
        pairs), ``p_method`` (see the module docstring), ``median_diff`` and ``mean_diff`` (a - b),
        ``rank_biserial`` ((R+ - R-) / (R+ + R-) over non-zero differences; positive = a larger),
        ``zero_method``, ``testable`` (bool), ``reason`` ("" when testable).

    Raises:
        ValueError: on an unknown ``zero_method``, or if a model has two rows for one (seed, case) in a
            family.

    Example:
        >>> tests = pairwise_wilcoxon(per_case_df, metric="dice")  # doctest: +SKIP
    """
    if zero_method not in ("wilcox", "pratt", "zsplit"):
        raise ValueError(f"zero_method must be 'wilcox', 'pratt' or 'zsplit', got {zero_method!r}")
    family = list(family)
    rows: list[dict[str, object]] = []
    for keyd, cols, n_seeds, case_ids in _families(df, metric, family, average_seeds):
        fam_rows = []
        for a, b in itertools.combinations(sorted(cols), 2):
            row = _test_pair(cols[a], cols[b], a, b, zero_method, min_pairs)
            ok = ~(np.isnan(cols[a]) | np.isnan(cols[b]))
            row["n_cases"] = int(ok.sum() if average_seeds else np.unique(case_ids[ok]).size)
            row["n_seeds"] = int(min(n_seeds.get(a, 0), n_seeds.get(b, 0)))
            fam_rows.append({**keyd, **row})
        ok_rows = [r for r in fam_rows if r["testable"]]
        if ok_rows:
            adjusted = holm([r["p_value"] for r in ok_rows])
            for r, p in zip(ok_rows, adjusted, strict=True):
                r["p_holm"] = float(p)
        rows.extend(fam_rows)
    out = pd.DataFrame(rows, columns=[*family, *_RESULT_COLUMNS])
    return out.astype({"testable": bool, "n_pairs": int, "n_cases": int, "n_seeds": int})


def signed_rank_test(d: np.ndarray, zero_method: str = "wilcox") -> tuple[float, float, str]:
    """Two-sided Wilcoxon signed-rank test of differences ``d`` with the p-value method recorded.

    Args:
        d: paired differences (no NaN), at least one non-zero.
        zero_method: ``"wilcox"``, ``"pratt"`` or ``"zsplit"`` (as ``scipy.stats.wilcoxon``).

    Returns:
        ``(statistic, p_value, p_method)``: scipy's statistic min(R+, R-), the two-sided p-value and
        ``"exact"`` (n <= 50, no ties or zeros), ``"exact (ties/zeros, permutation)"`` (n <= 50: the
        exact sign-flip distribution given the mid-ranks) or ``"normal approx., continuity-corrected"``
        (n > 50).

    Example:
        >>> x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]   # Hollander & Wolfe (1999)
        >>> y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
        >>> signed_rank_test(np.subtract(x, y))[1:]
        (0.0390625, 'exact')
    """
    d = np.asarray(d, dtype=float)
    n = d.size
    if n > EXACT_MAX_N:
        if zero_method == "wilcox":
            stat, p = _normal_approx_wilcox(d)
        else:
            res = stats.wilcoxon(d, zero_method=zero_method, correction=True, method="asymptotic")
            stat, p = float(res.statistic), float(res.pvalue)
        return stat, p, "normal approx., continuity-corrected"
    ranks, signs = _signed_ranks(d, zero_method)
    r_plus = float(np.sum(ranks[signs > 0]))
    r_minus = float(np.sum(ranks[signs < 0]))
    if zero_method == "zsplit":  # zeros' ranks are split evenly and do not move under sign flips
        half = float(np.sum(ranks[signs == 0])) / 2
        r_plus, r_minus = r_plus + half, r_minus + half
    free = ranks[signs != 0]
    p = _exact_signflip_p(free, float(np.sum(free[signs[signs != 0] > 0])))
    ties = np.unique(np.abs(d[d != 0])).size < np.count_nonzero(d) or np.any(d == 0)
    method = "exact (ties/zeros, permutation)" if ties else "exact"
    return min(r_plus, r_minus), p, method


def significantly_worse_than_best(
    df: pd.DataFrame,
    tests: pd.DataFrame,
    metric: str = "dice",
    family: Sequence[str] = DEFAULT_FAMILY,
    alpha: float = 0.05,
    higher_is_better: bool = True,
) -> pd.DataFrame:
    """Per family, mark the models worse than the best-mean model when test and effect agree.

    Why: a results table bolds the best model and marks the ones a paired test separates from it.
    The mark's *evidence* is the Wilcoxon test (ranks), so its *direction* must come from a matching
    effect estimate, not from the mean: a model better than the best on 11 of 12 cases but with one
    failure has a lower mean, yet the rank test is significant in its favour. Such a row gets
    ``mark == "mixed"`` and a note, never ``significantly_worse``.

    Args:
        df: the long per-case table the tests were run on.
        tests: output of :func:`pairwise_wilcoxon` on ``df`` with the same ``metric`` and ``family``.
        metric: value column. Defaults to ``"dice"``.
        family: family columns. Defaults to :data:`DEFAULT_FAMILY`.
        alpha: family-wise error rate for ``p_holm``. Defaults to 0.05.
        higher_is_better: ``True`` for Dice/NSD, ``False`` for HD95. Defaults to True.

    Returns:
        One row per (family, model): the family columns, ``model``, ``mean`` (mean over cases of the
        per-case seed means), ``n`` (cases), ``best_model`` (best mean; ties go to the alphabetically
        first), ``is_best``, ``p_holm_vs_best``, ``effect_vs_best`` (median per-case difference,
        oriented so that positive = the best model is better), ``significantly_worse`` (``p_holm <
        alpha`` and ``effect_vs_best > 0``), ``mark`` (``"worse"``, ``"mixed"`` or ``""``) and
        ``mark_note``.
    """
    keys = list(family) or ["_all"]  # a constant key makes "no family columns" one family
    data = df if family else df.assign(_all=0)
    tests = tests if family else tests.assign(_all=0)
    per_case = data.groupby([*keys, "model", "case_id"], dropna=False, sort=True)[metric].mean()
    means = (
        per_case.groupby(level=[*range(len(keys)), len(keys)], dropna=False, sort=True)
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
    t = tests[[*keys, "model_a", "model_b", "p_holm", "median_diff"]]
    sign = 1.0 if higher_is_better else -1.0
    both = pd.concat(
        [  # median_diff is a - b: with the best as a, best - model; as b, flip it
            t.rename(columns={"model_a": "best_model", "model_b": "model"}).assign(
                effect_vs_best=lambda x: sign * x["median_diff"]
            ),
            t.rename(columns={"model_b": "best_model", "model_a": "model"}).assign(
                effect_vs_best=lambda x: -sign * x["median_diff"]
            ),
        ],
        ignore_index=True,
    ).rename(columns={"p_holm": "p_holm_vs_best"})
    out = out.merge(both.drop(columns="median_diff"), on=[*keys, "best_model", "model"], how="left")
    out["is_best"] = out["model"] == out["best_model"]
    significant = (~out["is_best"]) & (out["p_holm_vs_best"] < alpha)
    agrees = out["effect_vs_best"] > 0
    out["significantly_worse"] = significant & agrees
    out["mark"] = np.where(out["significantly_worse"], "worse", np.where(significant, "mixed", ""))
    out["mark_note"] = np.where(
        out["mark"] == "mixed",
        "test significant but the median per-case difference does not favour the best-mean model "
        "(a few cases drive the mean); not marked worse",
        "",
    )
    cols = [*family, "model", "mean", "n", "best_model", "is_best", "p_holm_vs_best", "effect_vs_best"]
    cols += ["significantly_worse", "mark", "mark_note"]
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
        "p_method": "",
        "median_diff": float(np.median(d)) if n else np.nan,
        "mean_diff": float(np.mean(d)) if n else np.nan,
        "rank_biserial": np.nan,
        "zero_method": zero_method,
        "testable": False,
        "reason": "",
    }
    if n == 0:
        row["reason"] = "no paired cases (no common case with both values)"
        return row
    if n < min_pairs:
        row["reason"] = f"fewer than {min_pairs} paired cases"
        return row
    if not np.any(d):
        row["reason"] = "all differences zero"
        return row
    statistic, p, method = signed_rank_test(d, zero_method)
    if not np.isfinite(p):
        row["reason"] = "wilcoxon returned no p-value"
        return row
    nz = d[d != 0]
    ranks = _midranks(np.abs(nz))[0]
    r_plus, r_minus = ranks[nz > 0].sum(), ranks[nz < 0].sum()
    row.update(
        statistic=statistic,
        p_value=p,
        p_method=method,
        testable=True,
        rank_biserial=float((r_plus - r_minus) / (r_plus + r_minus)),
    )
    return row


def _normal_approx_wilcox(d: np.ndarray) -> tuple[float, float]:
    """scipy's ``wilcoxon(method="asymptotic", correction=True, zero_method="wilcox")`` without its
    per-call overhead (~10 ms, hundreds of calls per report): zeros dropped, mid-ranks, tie-corrected
    variance ``n(n+1)(2n+1)/24 - sum(t^3 - t)/48``, continuity correction 1/2 towards the mean."""
    nz = d[d != 0]
    n = nz.size
    ranks, t = _midranks(np.abs(nz))
    r_plus = float(ranks[nz > 0].sum())
    r_minus = float(ranks.sum()) - r_plus
    var = n * (n + 1) * (2 * n + 1) / 24.0 - float(np.sum(t**3 - t)) / 48.0
    mean = n * (n + 1) / 4.0
    if var <= 0:
        return min(r_plus, r_minus), 1.0
    z = max(abs(r_plus - mean) - 0.5, 0.0) / np.sqrt(var)
    return min(r_plus, r_minus), float(min(1.0, 2.0 * ndtr(-z)))


def _midranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mid-ranks of ``x`` (as ``scipy.stats.rankdata``) and the tie-group sizes, in plain numpy."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    sizes = np.diff(np.r_[starts, xs.size])
    mid = starts + (sizes + 1) / 2.0  # 1-based average rank of each tie group
    ranks = np.empty(x.size)
    ranks[order] = np.repeat(mid, sizes)
    return ranks, sizes.astype(float)


def _signed_ranks(d: np.ndarray, zero_method: str) -> tuple[np.ndarray, np.ndarray]:
    """Mid-ranks of ``|d|`` and signs, with scipy's zero handling (wilcox drops zeros before ranking)."""
    if zero_method == "wilcox":
        d = d[d != 0]
    return stats.rankdata(np.abs(d)), np.sign(d)


def _exact_signflip_p(ranks: np.ndarray, r_plus: float) -> float:
    """Two-sided p of ``R+`` under all ``2^n`` equally likely sign assignments of ``ranks``.

    Mid-ranks are multiples of 1/2, so doubled ranks are integers and the null distribution of the
    doubled sum is a subset-sum count (dynamic programming, ``O(n * sum)``; counts up to ``2^50`` are
    exact in float64). Two-sided as scipy's exact test: ``2 * min(P(R+ <= r), P(R+ >= r))``, capped at 1.
    """
    r2 = np.rint(2 * ranks).astype(np.int64)
    total = int(r2.sum())
    counts = np.zeros(total + 1)
    counts[0] = 1.0
    for r in r2:
        counts[r:] = counts[r:] + counts[: total + 1 - r].copy()
    probs = counts / counts.sum()
    t = int(np.rint(2 * r_plus))
    p = 2 * min(probs[: t + 1].sum(), probs[t:].sum())
    return float(min(1.0, p))


def _families(
    df: pd.DataFrame, metric: str, family: list[str], average_seeds: bool
) -> Iterator[tuple[dict[str, object], dict[str, np.ndarray], dict[str, int], np.ndarray]]:
    """Per family: its key, aligned per-model value vectors, seed counts and the row case ids.

    With ``average_seeds`` the vectors are per-case seed means over the union of the family's cases
    (NaN where a model lacks the case), built from one factorisation of the whole table.
    """
    if average_seeds:
        for key, by_model in tables_by_family(df, family, metric):
            tabs = list(by_model.values())
            cases = np.unique(np.concatenate([t.cases.astype(str) for t in tabs]))
            cols, n_seeds = {}, {}
            for t in tabs:
                v = np.full(cases.size, np.nan)
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    v[np.searchsorted(cases, t.cases.astype(str))] = np.nanmean(t.values, axis=1)
                cols[str(t.key[-1])] = v
                n_seeds[str(t.key[-1])] = int(t.values.shape[1])
            yield dict(zip(family, key, strict=True)), cols, n_seeds, cases
        return
    groups = df.groupby(family, dropna=False, sort=True) if family else [((), df)]
    for key, sub in groups:
        keyd = dict(zip(family, key if isinstance(key, tuple) else (key,), strict=True))
        wide = _wide(sub, metric, keyd)
        seeds = sub.groupby("model")["seed"].nunique()
        cols = {m: wide[m].to_numpy(float) for m in wide.columns}
        case_ids = wide.index.get_level_values("case_id").to_numpy()
        yield keyd, cols, {m: int(seeds.get(m, 0)) for m in cols}, case_ids


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
