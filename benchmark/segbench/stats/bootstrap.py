"""Bootstrap confidence intervals over cases: single CIs via SciPy, grouped CIs vectorised by hand.

Why two paths: :func:`bootstrap_ci`, :func:`paired_diff_ci` and :func:`unpaired_diff_ci` are thin
wrappers around ``scipy.stats.bootstrap(method='BCa')`` (the reference implementation) and are used for a
handful of intervals at a time. A report needs thousands of intervals (every model x condition) with
9,999 resamples each; calling SciPy per group costs a jackknife loop and a fresh resample per call, so
:func:`group_cis` deliberately re-implements the bootstrap of the *mean* in
vectorised numpy (algorithm in :func:`group_cis`), using the same BCa formulas as SciPy (Efron &
Tibshirani 1993, eq. 14.14-14.15) with the jackknife acceleration in closed form. Tests check the two
paths agree.

BCa is "degenerate" when every value is equal (no spread), and unreliable when the bias correction
``z0`` is infinite (every bootstrap mean on one side of the estimate, e.g. Dice piled up at 1.0), when
SciPy returns ``nan`` with a ``DegenerateDataWarning``, or when the BCa interval excludes the estimate.
In the last three cases the percentile interval of the same bootstrap distribution is returned instead
and ``method`` says so.

NaN values (e.g. Dice of a case where both masks are empty): the SciPy-based functions drop them before
resampling; :func:`group_cis` keeps those cases in the resampled set and averages the non-NaN values of
each resample (see its docstring for why). Either way the estimate is the mean of non-NaN values and
``n`` counts them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats
from scipy.special import ndtr, ndtri

from segbench.core import CONDITION_COLUMNS
from segbench.seeding import derive_rng

__all__ = [
    "CI",
    "CONDITION_COLUMNS",
    "CIMethod",
    "bootstrap_ci",
    "bootstrap_means",
    "group_cis",
    "paired_diff_ci",
    "percentile_or_bca",
    "unpaired_diff_ci",
]

CIMethod = Literal["BCa", "percentile", "degenerate"]

# keep one chunk of the (resamples x n) index matrix at about 1M entries (cache-friendly gathers)
_CHUNK_ENTRIES = 1_000_000
# up to this many columns, gathering per column beats bincount + matmul (measured on 2 CPU cores)
_GATHER_MAX_COLUMNS = 8


@dataclass(frozen=True)
class CI:
    """A bootstrap confidence interval of a mean.

    Attributes:
        estimate: the statistic on the full data (mean, or mean difference), ``nan`` if ``n == 0``.
        low: lower bound.
        high: upper bound.
        method: ``"BCa"``, ``"percentile"`` (BCa fell back) or ``"degenerate"`` (no spread or no data:
            ``low == high == estimate``).
        n: number of non-NaN values (pairs for paired differences) used.
        confidence: confidence level, e.g. 0.95.
    """

    estimate: float
    low: float
    high: float
    method: CIMethod
    n: int
    confidence: float = 0.95


def bootstrap_ci(
    values: ArrayLike,
    n_resamples: int = 9999,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> CI:
    """BCa bootstrap CI of the mean of ``values`` (``scipy.stats.bootstrap``), percentile fallback.

    Args:
        values: 1-D per-case values; NaNs are dropped.
        n_resamples: bootstrap resamples. Defaults to 9999 (DESIGN.md §5).
        confidence: two-sided confidence level. Defaults to 0.95.
        seed: int seed or ``np.random.Generator`` (never the global RNG). Defaults to 0.

    Returns:
        A :class:`CI`.

    Example:
        >>> bootstrap_ci([0.8, 0.9, 0.85, 0.7, 0.95], n_resamples=999, seed=1).method
        'BCa'
    """
    _check_confidence(confidence)
    x = _finite(values)
    n = x.size
    if n == 0:
        return CI(np.nan, np.nan, np.nan, "degenerate", 0, confidence)
    if np.ptp(x) == 0:  # all equal (or n == 1): report the value itself, not an inexact float mean
        v = float(x[0])
        return CI(v, v, v, "degenerate", n, confidence)
    return _scipy_ci((x,), _mean, float(x.mean()), n, n_resamples, confidence, seed, paired=False)


def paired_diff_ci(
    a: ArrayLike,
    b: ArrayLike,
    n_resamples: int = 9999,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> CI:
    """CI of the mean paired difference ``a - b`` (cases resampled jointly for both models).

    Args:
        a: per-case values of model A, aligned with ``b`` (same case at the same index).
        b: per-case values of model B.
        n_resamples: bootstrap resamples. Defaults to 9999.
        confidence: two-sided confidence level. Defaults to 0.95.
        seed: int seed or ``np.random.Generator``. Defaults to 0.

    Returns:
        A :class:`CI` of ``mean(a - b)`` over pairs where both are non-NaN; ``n`` = number of such pairs.

    Raises:
        ValueError: if ``a`` and ``b`` differ in length.
    """
    av = np.asarray(a, dtype=float).ravel()
    bv = np.asarray(b, dtype=float).ravel()
    if av.shape != bv.shape:
        raise ValueError(f"paired samples need equal lengths, got {av.size} and {bv.size}")
    # resampling pairs and averaging differences is the paired bootstrap of the mean difference
    return bootstrap_ci(av - bv, n_resamples, confidence, seed)


def unpaired_diff_ci(
    a: ArrayLike,
    b: ArrayLike,
    n_resamples: int = 9999,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> CI:
    """CI of ``mean(a) - mean(b)`` for independent samples (each resampled on its own).

    Why: used when the cases of two runs cannot be matched (e.g. a baseline recorded on other case ids).

    Args:
        a: values of sample A; NaNs dropped.
        b: values of sample B; NaNs dropped.
        n_resamples: bootstrap resamples. Defaults to 9999.
        confidence: two-sided confidence level. Defaults to 0.95.
        seed: int seed or ``np.random.Generator``. Defaults to 0.

    Returns:
        A :class:`CI`; ``n`` is ``min(len(a), len(b))`` after dropping NaNs.
    """
    _check_confidence(confidence)
    av, bv = _finite(a), _finite(b)
    n = int(min(av.size, bv.size))
    if n == 0:
        return CI(np.nan, np.nan, np.nan, "degenerate", 0, confidence)
    est = float(av.mean() - bv.mean())
    if (av.size == 1 or np.ptp(av) == 0) and (bv.size == 1 or np.ptp(bv) == 0):
        return CI(est, est, est, "degenerate", n, confidence)
    return _scipy_ci((av, bv), _mean_diff, est, n, n_resamples, confidence, seed, paired=False)


def bootstrap_means(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap means of every column of ``values``, all columns resampled with the same case indices.

    NaN entries (e.g. Dice of a case with both masks empty) stay in the case set and each resample
    averages its non-NaN entries (a ratio estimator), so columns with different NaN patterns can share
    one index matrix; a resample without any non-NaN entry gives NaN. Without NaNs this is the ordinary
    bootstrap of the mean.

    Algorithm (hand-written for speed): draw a ``(chunk, n)`` matrix of case indices (int32, which numpy
    generates several times faster than int64) and reuse it for every column. With few columns each
    column is gathered and summed (``O(B n)`` per column); with many columns the index rows are turned
    into resample counts with one ``bincount`` and all sums come from BLAS products ``counts @ values``
    (and ``counts @ not_nan`` for the denominators). Chunking bounds memory.

    Args:
        values: ``(n, G)`` array (or 1-D ``(n,)``); rows are cases, columns are groups that share case
            resampling (e.g. models evaluated on the same cases, which makes it a paired bootstrap).
        n_resamples: number of resamples ``B``.
        rng: generator the indices are drawn from.

    Returns:
        ``(B, G)`` array of resample means (``(B,)`` for 1-D input).
    """
    x = np.asarray(values, dtype=float)
    squeeze = x.ndim == 1
    x2 = x[:, None] if squeeze else x
    n, g = x2.shape
    if n == 0:
        raise ValueError("bootstrap_means needs at least one case")
    valid = ~np.isnan(x2)
    has_nan = ~valid.all(axis=0)
    x0 = np.where(valid, x2, 0.0)
    w = valid.astype(float)
    gather = g <= _GATHER_MAX_COLUMNS
    cols = [np.ascontiguousarray(x0[:, j]) for j in range(g)] if gather else []
    wcols = [np.ascontiguousarray(w[:, j]) if has_nan[j] else None for j in range(g)] if gather else []
    sums = np.empty((n_resamples, g))
    dens = np.full((n_resamples, g), float(n))
    chunk = max(1, min(n_resamples, _CHUNK_ENTRIES // n))
    for start in range(0, n_resamples, chunk):
        m = min(chunk, n_resamples - start)
        rows = slice(start, start + m)
        idx = rng.integers(0, n, size=(m, n), dtype=np.int32)
        if gather:
            for j in range(g):
                sums[rows, j] = cols[j][idx].sum(axis=1)
                wj = wcols[j]
                if wj is not None:
                    dens[rows, j] = wj[idx].sum(axis=1)
        else:
            flat = idx.astype(np.intp) + (np.arange(m, dtype=np.intp) * n)[:, None]
            counts = np.bincount(flat.ravel(), minlength=m * n).reshape(m, n).astype(float)
            with np.errstate(invalid="ignore"):  # an infinite value (0 * inf) makes that mean NaN
                sums[rows] = counts @ x0
            if has_nan.any():
                dens[rows, :] = np.where(has_nan, counts @ w, float(n))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(dens > 0, sums / dens, np.nan)
    return out[:, 0] if squeeze else out


def percentile_or_bca(
    values: np.ndarray, theta_b: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BCa interval of the mean per column from a bootstrap distribution, percentile where BCa fails.

    Same formulas as ``scipy.stats.bootstrap`` (``_bca_interval``): ``z0 = Phi^-1(p)`` with ``p`` the
    share of bootstrap means below the estimate (ties count half); acceleration from the jackknife, which
    for the mean is closed-form: leave-one-out means differ from the mean by ``(x_i - mean) / (n - 1)``,
    so ``a = sum(d^3) / (6 * sum(d^2)^1.5)`` with ``d = x - mean`` (O(n), no refits; NaN cases leave the
    mean unchanged when left out, so only non-NaN values enter). Quantiles use linear interpolation on the
    sorted non-NaN bootstrap means, as ``numpy.quantile``.

    Args:
        values: ``(n, G)`` data (columns = groups); NaN = missing value.
        theta_b: ``(B, G)`` bootstrap means of the columns (NaN for a resample without values).
        confidence: two-sided confidence level.

    Returns:
        ``(estimate, low, high, method)`` arrays of length ``G``; method entries are ``"BCa"``,
        ``"percentile"`` or ``"degenerate"`` (fewer than two distinct values: ``low == high ==
        estimate``, NaN when there is no value).
    """
    x = np.asarray(values, dtype=float)
    g = x.shape[1]
    valid = ~np.isnan(x)
    n_valid = valid.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        est = np.nanmean(x, axis=0)
        degenerate = (n_valid == 0) | (np.nanmax(x, axis=0) == np.nanmin(x, axis=0))
        d = x - est
        s2 = np.nansum(d**2, axis=0)
        s3 = np.nansum(d**3, axis=0)
        a_hat = s3 / (6.0 * s2**1.5)
        b_valid = (~np.isnan(theta_b)).sum(axis=0)
        share = ((theta_b < est).sum(axis=0) + (theta_b <= est).sum(axis=0)) / (2.0 * b_valid)
        z0 = ndtri(share)
        alpha = (1.0 - confidence) / 2.0
        z_lo, z_hi = ndtri(alpha), ndtri(1.0 - alpha)
        a1 = ndtr(z0 + (z0 + z_lo) / (1.0 - a_hat * (z0 + z_lo)))
        a2 = ndtr(z0 + (z0 + z_hi) / (1.0 - a_hat * (z0 + z_hi)))
    srt = np.sort(theta_b, axis=0)  # NaN sorts last; quantiles use the first b_valid rows
    bca_low, bca_high = _quantile_sorted(srt, a1, b_valid), _quantile_sorted(srt, a2, b_valid)
    pct_low = _quantile_sorted(srt, np.full(g, alpha), b_valid)
    pct_high = _quantile_sorted(srt, np.full(g, 1.0 - alpha), b_valid)
    eps = 1e-12 * np.maximum(1.0, np.abs(np.nan_to_num(est)))
    with np.errstate(invalid="ignore"):
        bca_ok = (
            np.isfinite(a1)
            & np.isfinite(a2)
            & np.isfinite(bca_low)
            & np.isfinite(bca_high)
            & (bca_low <= est + eps)
            & (bca_high >= est - eps)
        )
    low = np.where(bca_ok, bca_low, pct_low)
    high = np.where(bca_ok, bca_high, pct_high)
    method = np.where(bca_ok, "BCa", "percentile").astype(object)
    # all values equal: report the value itself, not an inexact float mean
    first = x[np.argmax(valid, axis=0), np.arange(g)]
    est = np.where(degenerate, np.where(n_valid > 0, first, np.nan), est)
    low = np.where(degenerate, est, low)
    high = np.where(degenerate, est, high)
    method[degenerate] = "degenerate"
    return est, low, high, method


def group_cis(
    df: pd.DataFrame,
    by: Sequence[str],
    metric: str = "dice",
    n_resamples: int = 9999,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """BCa CIs of the mean ``metric`` for every group of ``df``, vectorised across groups.

    Algorithm: groups are bucketed by their number of rows ``n`` (cases, NaN included). For each bucket
    one generator is derived from ``(seed, n)`` (so a group's interval does not depend on which other
    groups exist), the group values are stacked into an ``(n, G)`` matrix and :func:`bootstrap_means`
    resamples all of them with one shared index matrix; :func:`percentile_or_bca` turns the ``(B, G)``
    bootstrap means into intervals. Each group's interval is an ordinary bootstrap CI over its cases;
    groups of equal size share resample indices, so draws are correlated across groups (paired when
    their rows are the same cases in the same order), which leaves every marginal interval valid.

    NaN handling differs slightly from :func:`bootstrap_ci`: cases with a NaN value are resampled too
    and each resample averages its non-NaN values (so the number of usable cases varies across
    resamples, as it would across test sets); :func:`bootstrap_ci` drops NaNs first. The estimate is the
    same (mean of non-NaN values), and without NaNs so is the procedure. Why: groups of one condition
    then share one bucket whatever their NaN counts, which keeps 100k+ rows at a few seconds.

    Args:
        df: long per-case table.
        by: grouping columns, e.g. ``["model", *CONDITION_COLUMNS]``; NaN keys (complexity) are kept.
        metric: value column. Defaults to ``"dice"``.
        n_resamples: resamples per group. Defaults to 9999.
        confidence: two-sided level. Defaults to 0.95.
        seed: base seed. Defaults to 0.

    Returns:
        One row per group: the ``by`` columns, ``estimate``, ``low``, ``high``, ``method``, ``n``
        (non-NaN values).
    """
    _check_confidence(confidence)
    by = list(by)
    cols = [*by, "estimate", "low", "high", "method", "n"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    grouped = df.groupby(by, dropna=False, sort=True)[metric] if by else [((), df[metric])]
    keys: list[tuple[object, ...]] = []
    vals: list[np.ndarray] = []
    for key, ser in grouped:
        keys.append(key if isinstance(key, tuple) else (key,))
        vals.append(ser.to_numpy(dtype=float))
    n_groups = len(keys)
    est = np.full(n_groups, np.nan)
    low = np.full(n_groups, np.nan)
    high = np.full(n_groups, np.nan)
    method = np.full(n_groups, "degenerate", dtype=object)
    n_valid = np.array([int(np.count_nonzero(~np.isnan(v))) for v in vals])
    sizes = np.array([v.size for v in vals])
    for n in np.unique(sizes[n_valid > 0]):
        members = np.flatnonzero((sizes == n) & (n_valid > 0))
        x = np.column_stack([vals[i] for i in members])
        theta_b = bootstrap_means(x, n_resamples, derive_rng(seed, "group_cis", int(n)))
        e, lo, hi, m = percentile_or_bca(x, theta_b, confidence)
        est[members], low[members], high[members], method[members] = e, lo, hi, m
    out = pd.DataFrame(keys, columns=by) if by else pd.DataFrame(index=range(n_groups))
    out["estimate"], out["low"], out["high"], out["method"], out["n"] = est, low, high, method, n_valid
    return out[cols]


def _kendall_per_ranking(full_rank: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Kendall tau-b of ``full_rank`` against every row of ``ranks``, one scipy call per distinct row."""
    if ranks.shape[1] < 2:
        return np.full(ranks.shape[0], np.nan)
    uniq, inverse = np.unique(ranks, axis=0, return_inverse=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant rankings (all tied) give nan with a warning
        tau_u = np.array([stats.kendalltau(full_rank, row).statistic for row in uniq])
    return tau_u[inverse.ravel()]


def _wide(sub: pd.DataFrame, metric: str, keyd: dict[str, object]) -> pd.DataFrame:
    """Cases x models table of ``metric`` (index ``(seed, case_id)``), refusing duplicate rows."""
    idx = sub.set_index(["seed", "case_id", "model"])[metric]
    if idx.index.has_duplicates:
        dup = idx.index[idx.index.duplicated()][0]
        raise ValueError(
            f"duplicate rows for (seed, case_id, model)={dup} in group {keyd}; add the column that tells "
            "them apart to the grouping columns"
        )
    return idx.unstack("model").sort_index(axis=1)


def _scipy_ci(
    data: tuple[np.ndarray, ...],
    statistic: Callable[..., np.ndarray],
    estimate: float,
    n: int,
    n_resamples: int,
    confidence: float,
    seed: int | np.random.Generator,
    paired: bool,
) -> CI:
    """``scipy.stats.bootstrap`` BCa, re-read as percentile from the same resamples if BCa fails."""
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = stats.bootstrap(
            data,
            statistic,
            n_resamples=n_resamples,
            vectorized=True,
            paired=paired,
            confidence_level=confidence,
            method="BCa",
            rng=rng,
        )
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    warned = any(issubclass(w.category, stats.DegenerateDataWarning) for w in caught)
    eps = 1e-12 * max(1.0, abs(estimate))
    contains = low <= estimate + eps and high >= estimate - eps  # False for nan bounds too
    if not warned and contains:
        return CI(estimate, low, high, "BCa", n, confidence)
    res = stats.bootstrap(
        data,
        statistic,
        n_resamples=0,
        vectorized=True,
        paired=paired,
        confidence_level=confidence,
        method="percentile",
        bootstrap_result=res,
        rng=rng,
    )
    return CI(
        estimate,
        float(res.confidence_interval.low),
        float(res.confidence_interval.high),
        "percentile",
        n,
        confidence,
    )


def _quantile_sorted(srt: np.ndarray, q: np.ndarray, b_valid: np.ndarray) -> np.ndarray:
    """Per-column quantile ``q[j]`` of the first ``b_valid[j]`` rows of column-sorted ``srt``.

    Linear interpolation (numpy's default method); NaN where ``q`` is NaN or a column has no value.
    """
    q = np.asarray(q, dtype=float)
    ok = np.isfinite(q) & (b_valid > 0)
    last = np.maximum(b_valid - 1, 0)
    pos = np.where(ok, np.clip(q, 0.0, 1.0), 0.0) * last
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, last)
    frac = pos - lo
    cols = np.arange(srt.shape[1])
    with np.errstate(invalid="ignore"):  # inf * 0 where a column holds infinite values
        val = srt[lo, cols] * (1.0 - frac) + srt[hi, cols] * frac
    return np.where(ok, val, np.nan)


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def _mean_diff(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def _finite(values: ArrayLike) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[~np.isnan(x)]


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
