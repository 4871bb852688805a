"""Two-level bootstrap over cases and seeds: CIs of means and of paired differences.

Why (DESIGN.md §5, issue 9): the test images do not depend on the training seed, so the
``seed x case`` rows of one model are not independent observations. "n = 24" for 12 images and two
networks is pseudo-replication: rows of the same image are correlated (they share its difficulty),
and rows of the same seed are correlated too (one trained network shifts every image). The unit of
analysis is therefore the **case**; seeds are a second, crossed level (every network of a model is
evaluated on every case).

Resampling scheme (one resample ``b``):

1. draw ``n`` cases with replacement from the ``n`` cases (the same draw for every model of a
   comparison, so differences stay paired);
2. draw ``k`` seed positions with replacement from the ``k`` seeds (one draw shared by all cases,
   because a seed is one trained network that is applied to every case);
3. the statistic is the mean over the drawn cases x drawn seeds (NaN cells, e.g. Dice with both
   masks empty, are skipped: a ratio of sums).

This is the hierarchical (multi-stage) bootstrap of Davison & Hinkley (1997, *Bootstrap Methods and
their Application*, §3.8, "Hierarchical data": resample the top-level units with replacement, then
the second stage) and Ren et al. (2010, "Nonparametric bootstrapping for hierarchical data", J. Appl.
Stat. 37(9):1487-1498), applied to a *crossed* second level as McCullagh (2000, "Resampling and
exchangeable arrays", Bernoulli 6(2):285-301) analyses: rows (cases) and columns (seeds) are each
resampled. Why seeds are not resampled independently *within* each case: a seed's effect is shared
by all cases, so per-case seed draws would average it away over the ``n`` cases and shrink the seed
variance by ``1/n``; the shared draw keeps it at ``sigma_seed^2 / k``, as a new training run would
see it. With ``k < 3`` the seed level is resampled too but cannot say much about seeds (with two
seeds the bootstrap variance of their mean is half the true one): results carry a ``small_n`` flag
and the report says so. With ``k == 1`` this is the ordinary case bootstrap.

Intervals: BCa with the acceleration from the jackknife over cases (the top level; closed form for
the mean of per-case seed means, see :func:`segbench.stats.bootstrap.percentile_or_bca`), percentile
where BCa is degenerate. Vectorised with case/seed *count* matrices and BLAS products, so a report's
hundreds of groups take a fraction of a second.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segbench.seeding import derive_rng
from segbench.stats.bootstrap import percentile_or_bca

__all__ = [
    "MIN_CASES",
    "MIN_SEEDS",
    "CaseSeedTable",
    "case_seed_tables",
    "hier_group_cis",
    "hier_pairwise_diff_cis",
    "own_seed_means",
    "pool_cases",
    "small_n_flag",
    "tables_by_family",
    "two_level_means",
]

#: fewer independent cases than this: CIs are flagged "n too small"
MIN_CASES = 10
#: fewer seeds than this: nothing is inferred about seed-to-seed variation
MIN_SEEDS = 3

_CHUNK_ENTRIES = 1_000_000


@dataclass
class CaseSeedTable:
    """One group's values as a cases x seeds matrix.

    Attributes:
        key: the group key (tuple of the grouping values).
        cases: case ids (row order).
        seeds: seed values (column order).
        values: ``(n_cases, n_seeds)`` float array; NaN = missing or undefined.
    """

    key: tuple[object, ...]
    cases: np.ndarray
    seeds: np.ndarray
    values: np.ndarray


def small_n_flag(n_cases: int, n_seeds: int) -> str:
    """The small-sample warning of one inference ("" when there is none).

    Args:
        n_cases: independent cases.
        n_seeds: seeds (trained networks) per model.

    Returns:
        ``"n too small (N cases < 10)"``, ``"k < 3 seeds: no seed-level inference"``, both joined
        by ``"; "``, or ``""``.
    """
    parts = []
    if n_cases < MIN_CASES:
        parts.append(f"n too small ({n_cases} cases < {MIN_CASES})")
    if n_seeds < MIN_SEEDS:
        parts.append(f"k < {MIN_SEEDS} seeds: no seed-level inference")
    return "; ".join(parts)


def case_seed_tables(
    df: pd.DataFrame, by: Sequence[str], metric: str = "dice", unit: str = "case_id"
) -> list[CaseSeedTable]:
    """Split a long table into one cases x seeds matrix per group.

    Args:
        df: long table with the ``by`` columns, ``seed``, ``unit`` and ``metric``.
        by: grouping columns (NaN keys kept).
        metric: value column. Defaults to ``"dice"``.
        unit: the case column. Defaults to ``"case_id"``.

    Returns:
        One :class:`CaseSeedTable` per group (sorted by key); seeds that have no value in a group are
        left out of that group's matrix.

    Raises:
        ValueError: if a group has two rows for one (case, seed), naming the group.
    """
    by = list(by)
    out: list[CaseSeedTable] = []
    if df.empty:
        return out
    # Factorise once and split with numpy: a pandas pivot per group costs ~20 ms, which a report with
    # hundreds of groups cannot afford.
    if by:
        grouped = df.groupby(by, dropna=False, sort=True)
        g_codes = grouped.ngroup().to_numpy()
        keys = [k if isinstance(k, tuple) else (k,) for k in grouped.size().index]
    else:
        g_codes = np.zeros(len(df), dtype=np.int64)
        keys = [()]
    c_codes, c_labels = pd.factorize(df[unit], sort=True)
    s_codes, s_labels = pd.factorize(df["seed"], sort=True)
    values = df[metric].to_numpy(dtype=float)
    n_c, n_s = max(len(c_labels), 1), max(len(s_labels), 1)
    flat = (g_codes.astype(np.int64) * n_c + c_codes) * n_s + s_codes
    order = np.argsort(flat, kind="stable")
    flat_sorted = flat[order]
    dup = np.flatnonzero(flat_sorted[1:] == flat_sorted[:-1])
    if dup.size:
        row = df.iloc[order[dup[0]]]
        raise ValueError(
            f"duplicate rows for ({unit}, seed)=({_plain(row[unit])!r}, {_plain(row['seed'])!r}) in group "
            f"{dict(zip(by, keys[g_codes[order[dup[0]]]], strict=True))}; add the column that tells them "
            "apart to the grouping columns"
        )
    bounds = np.searchsorted(g_codes[order], np.arange(len(keys) + 1))
    for gi, key in enumerate(keys):
        rows = order[bounds[gi] : bounds[gi + 1]]
        cu, ci = np.unique(c_codes[rows], return_inverse=True)
        su, si = np.unique(s_codes[rows], return_inverse=True)
        mat = np.full((cu.size, su.size), np.nan)
        mat[ci, si] = values[rows]
        keep = ~np.isnan(mat).all(axis=0)
        out.append(CaseSeedTable(key, np.asarray(c_labels)[cu], np.asarray(s_labels)[su][keep], mat[:, keep]))
    return out


def tables_by_family(
    df: pd.DataFrame, family: Sequence[str], metric: str = "dice"
) -> list[tuple[tuple[object, ...], dict[str, CaseSeedTable]]]:
    """Per family key, every model's :class:`CaseSeedTable` (one factorisation of the whole table).

    Returns:
        ``[(family key, {model: table})]`` in sorted family order.
    """
    out: dict[tuple[object, ...], tuple[tuple[object, ...], dict[str, CaseSeedTable]]] = {}
    for t in case_seed_tables(df, [*family, "model"], metric):
        # NaN keys (no complexity knob) are distinct float objects: group on a NaN-free copy
        norm = tuple("<NaN>" if isinstance(v, float) and np.isnan(v) else v for v in t.key[:-1])
        out.setdefault(norm, (t.key[:-1], {}))[1][str(t.key[-1])] = t
    return list(out.values())


def two_level_means(
    values: np.ndarray, n_resamples: int, rng: np.random.Generator, resample_seeds: bool = True
) -> np.ndarray:
    """Two-level bootstrap means of every column group, cases and seeds resampled (module docstring).

    Algorithm: per chunk of resamples, case draws become a ``(m, n)`` count matrix ``C`` and seed draws
    a ``(m, k)`` count matrix ``S``; the resample sum of group ``g`` is
    ``sum_j S[b, j] * (C @ Y[:, j, g])[b]`` — one BLAS product for all groups — and the denominator the
    same with the non-NaN indicator.

    Args:
        values: ``(n_cases, n_seeds, G)`` array (NaN = missing); all groups share the case and seed
            draws, which makes differences between groups paired.
        n_resamples: resamples ``B``.
        rng: the generator draws come from.
        resample_seeds: also resample seeds (the second level). Defaults to True.

    Returns:
        ``(B, G)`` resample means (NaN where a resample drew no value).
    """
    y = np.asarray(values, dtype=float)
    if y.ndim != 3:
        raise ValueError(f"values must be (n_cases, n_seeds, groups), got shape {y.shape}")
    n, k, g = y.shape
    if n == 0 or k == 0:
        raise ValueError("two_level_means needs at least one case and one seed")
    valid = ~np.isnan(y)
    any_nan = not valid.all()
    y0 = np.where(valid, y, 0.0).reshape(n, k * g)
    w = valid.astype(float).reshape(n, k * g)
    out = np.empty((n_resamples, g))
    chunk = max(1, min(n_resamples, _CHUNK_ENTRIES // max(n, 1)))
    for start in range(0, n_resamples, chunk):
        m = min(chunk, n_resamples - start)
        cc = _counts(rng.integers(0, n, size=(m, n), dtype=np.int32), n)
        if resample_seeds and k > 1:
            cs = _counts(rng.integers(0, k, size=(m, k), dtype=np.int32), k)
        else:
            cs = np.ones((m, k))
        sums = np.einsum("mk,mkg->mg", cs, (cc @ y0).reshape(m, k, g))
        if any_nan:
            dens = np.einsum("mk,mkg->mg", cs, (cc @ w).reshape(m, k, g))
        else:
            dens = np.full((m, g), float(n * k))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + m] = np.where(dens > 0, sums / dens, np.nan)
    return out


def own_seed_means(tables: Sequence[np.ndarray], n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Two-level bootstrap means of several models on the same cases, each over its *own* seeds.

    Why not :func:`two_level_means`: that shares one seed-position draw across groups, which needs a
    common ``k``; models with different seed counts (a seed-pooled ensemble has k = 1) would be padded
    with NaN seed positions, and a draw of only padding leaves the model without a value. Here the
    case draw is shared (differences stay paired) and every model draws its own ``k_m`` seeds with
    replacement (seed effects of different architectures are independent networks).

    Args:
        tables: one ``(n_cases, k_m)`` array per model, rows = the same cases (NaN = missing).
        n_resamples: resamples ``B``.
        rng: the generator draws come from.

    Returns:
        ``(B, M)`` resample means (NaN where a resample drew no value for a model).
    """
    ys = [np.asarray(t, dtype=float) for t in tables]
    n = ys[0].shape[0] if ys else 0
    if n == 0 or any(y.shape[0] != n or y.shape[1] == 0 for y in ys):
        raise ValueError("own_seed_means needs tables with the same, non-zero number of cases and seeds")
    by_k: dict[int, list[int]] = {}
    for g, y in enumerate(ys):
        by_k.setdefault(y.shape[1], []).append(g)
    # models with the same k share one BLAS product over the case counts; seed draws stay per model
    cubes = {k: np.stack([ys[g] for g in members], axis=2) for k, members in by_k.items()}
    out = np.empty((n_resamples, len(ys)))
    chunk = max(1, min(n_resamples, _CHUNK_ENTRIES // max(n, 1)))
    for start in range(0, n_resamples, chunk):
        m = min(chunk, n_resamples - start)
        cc = _counts(rng.integers(0, n, size=(m, n), dtype=np.int32), n)
        for k, members in by_k.items():
            y, g = cubes[k], len(members)
            if k > 1:
                draws = rng.integers(0, k, size=(m * g, k), dtype=np.int32)
                cs = _counts(draws, k).reshape(m, g, k).transpose(0, 2, 1)  # (m, k, G)
            else:
                cs = np.ones((m, 1, g))
            valid = ~np.isnan(y)
            sums = np.einsum(
                "mkg,mkg->mg", cs, (cc @ np.where(valid, y, 0.0).reshape(n, k * g)).reshape(m, k, g)
            )
            dens = np.einsum("mkg,mkg->mg", cs, (cc @ valid.reshape(n, k * g).astype(float)).reshape(m, k, g))
            with np.errstate(invalid="ignore", divide="ignore"):
                out[start : start + m, members] = np.where(dens > 0, sums / dens, np.nan)
    return out


def hier_group_cis(
    df: pd.DataFrame,
    by: Sequence[str],
    metric: str = "dice",
    n_resamples: int = 9999,
    confidence: float = 0.95,
    seed: int = 0,
    unit: str = "case_id",
    resample_seeds: bool = True,
) -> pd.DataFrame:
    """Two-level bootstrap CI of the mean ``metric`` of every group (cases, then seeds).

    Groups with the same number of cases and seeds share one set of draws (derived from
    ``(seed, n_cases, n_seeds)``, so an interval does not depend on which other groups exist).

    Args:
        df: long per-case table with the ``by`` columns, ``seed``, ``unit`` and ``metric``.
        by: grouping columns, e.g. ``["model", *CONDITION_COLUMNS]``.
        metric: value column. Defaults to ``"dice"``.
        n_resamples: resamples. Defaults to 9999.
        confidence: two-sided level. Defaults to 0.95.
        seed: base seed. Defaults to 0.
        unit: the case column. Defaults to ``"case_id"`` (pass a pooled key to keep a case's conditions
            together, see :func:`pool_cases`).
        resample_seeds: resample the seed level. Defaults to True.

    Returns:
        One row per group: the ``by`` columns, ``estimate`` (mean over cases of per-case seed means),
        ``low``, ``high``, ``method`` (``"BCa"``, ``"percentile"``, ``"degenerate"``), ``n_cases``
        (cases with a value), ``n_seeds``, ``n`` (non-NaN rows) and ``small_n`` (:func:`small_n_flag`).
    """
    by = list(by)
    cols = [*by, "estimate", "low", "high", "method", "n_cases", "n_seeds", "n", "small_n"]
    tabs = case_seed_tables(df, by, metric, unit)
    if not tabs:
        return pd.DataFrame(columns=cols)
    rows: list[dict[str, object]] = [{}] * len(tabs)
    buckets: dict[tuple[int, int], list[int]] = {}
    for i, t in enumerate(tabs):
        buckets.setdefault(t.values.shape, []).append(i)
    for (n, k), members in buckets.items():
        y = np.stack([tabs[i].values for i in members], axis=2)
        case_means = _nanmean(y, axis=1)  # (n, G)
        if n == 0 or k == 0:
            est = low = high = np.full(len(members), np.nan)
            method = np.full(len(members), "degenerate", dtype=object)
        else:
            theta = two_level_means(y, n_resamples, derive_rng(seed, "hier_cis", n, k), resample_seeds)
            est, low, high, method = percentile_or_bca(case_means, theta, confidence)
        for j, i in enumerate(members):
            n_cases = int(np.count_nonzero(~np.isnan(case_means[:, j])))
            n_rows = int(np.count_nonzero(~np.isnan(y[:, :, j])))
            rows[i] = {
                **dict(zip(by, tabs[i].key, strict=True)),
                "estimate": float(est[j]),
                "low": float(low[j]),
                "high": float(high[j]),
                "method": str(method[j]),
                "n_cases": n_cases,
                "n_seeds": int(k),
                "n": n_rows,
                "small_n": small_n_flag(n_cases, int(k)),
            }
    return pd.DataFrame(rows, columns=cols)


def pool_cases(df: pd.DataFrame, keys: Sequence[str], metric: str = "dice") -> pd.DataFrame:
    """Average each (keys, seed, case) over the other columns, e.g. a case's OOD conditions.

    Why: a pooled out-of-domain mean over perturbations x severities still rests on the same test
    images; averaging a case's conditions first makes the case the resampled unit (its conditions stay
    together), instead of counting every condition as another case.

    Returns:
        ``keys``, ``seed``, ``case_id``, ``metric`` (mean of the non-NaN values; NaN if none).
    """
    keys = list(keys)
    return df.groupby([*keys, "seed", "case_id"], dropna=False, sort=True)[metric].mean().reset_index()


def hier_pairwise_diff_cis(
    df: pd.DataFrame,
    family: Sequence[str],
    metric: str = "dice",
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    pairs: Sequence[tuple[str, str]] | None = None,
    median: bool = False,
) -> pd.DataFrame:
    """Paired two-level bootstrap CIs of ``mean(a) - mean(b)`` for model pairs within each family.

    Cases are paired across the two models (a case without a value for either model drops out of that
    pair); each model is resampled over its *own* seeds (:func:`own_seed_means`): networks of two
    architectures are different networks whatever their seed number, and a k = 1 model (a seed-pooled
    ensemble) is never padded to another model's seed positions.

    Args:
        df: long per-case table with ``model``, ``seed``, ``case_id``, ``family`` columns, ``metric``.
        family: columns of one comparison family.
        metric: value column. Defaults to ``"dice"``.
        n_resamples: resamples per family. Defaults to 2000.
        confidence: two-sided level. Defaults to 0.95.
        seed: base seed (each family's generator is derived from it and the family key).
        pairs: only these ``(a, b)`` pairs (both orders are looked up per family); ``None`` = every
            pair with ``a < b``.
        median: also bootstrap the *median* of the per-case seed-mean differences (percentile CI):
            adds ``median_diff``, ``median_low``, ``median_high``. Defaults to False.

    Returns:
        One row per (family, pair): family columns, ``model_a``, ``model_b``, ``diff``, ``diff_low``,
        ``diff_high``, ``diff_method``, ``diff_n`` (paired cases), ``n_seeds`` (the smaller seed count)
        [, ``median_diff``, ``median_low``, ``median_high``].
    """
    family = list(family)
    rows: list[dict[str, object]] = []
    wanted = None if pairs is None else {tuple(p) for p in pairs}
    for key_t, tabs in tables_by_family(df, family, metric):
        keyd = dict(zip(family, key_t, strict=True))
        models = sorted(tabs)
        fam_pairs = [
            (a, b)
            for i, a in enumerate(models)
            for b in models[i + 1 :]
            if wanted is None or (a, b) in wanted or (b, a) in wanted
        ]
        if wanted is not None:  # keep the caller's orientation
            fam_pairs = [(b, a) if (b, a) in wanted else (a, b) for a, b in fam_pairs]
        if not fam_pairs:
            continue
        cases = np.unique(np.concatenate([tabs[m].cases.astype(str) for m in models]))
        aligned = {m: _align(tabs[m], cases, tabs[m].values.shape[1]) for m in models}
        stacks = []
        for a, b in fam_pairs:
            both = _has_value(aligned[a]) & _has_value(aligned[b])
            stacks += [
                np.where(both[:, None], aligned[a], np.nan),
                np.where(both[:, None], aligned[b], np.nan),
            ]
        rng = derive_rng(seed, "hier_pairwise_diff", *key_t)
        theta = own_seed_means(stacks, n_resamples, rng)
        theta_d = theta[:, 0::2] - theta[:, 1::2]
        cm = np.column_stack([_nanmean(t, axis=1) for t in stacks])
        d_cases = cm[:, 0::2] - cm[:, 1::2]
        est, low, high, method = percentile_or_bca(d_cases, theta_d, confidence)
        med = (
            _median_cis(stacks, n_resamples, derive_rng(seed, "hier_median", *key_t), confidence)
            if median
            else None
        )
        for j, (a, b) in enumerate(fam_pairs):
            row = {
                **keyd,
                "model_a": a,
                "model_b": b,
                "diff": float(est[j]),
                "diff_low": float(low[j]),
                "diff_high": float(high[j]),
                "diff_method": str(method[j]),
                "diff_n": int(np.count_nonzero(~np.isnan(d_cases[:, j]))),
                "n_seeds": int(min(tabs[a].values.shape[1], tabs[b].values.shape[1])),
            }
            if med is not None:
                row.update(median_diff=med[0][j], median_low=med[1][j], median_high=med[2][j])
            rows.append(row)
    cols = [
        *family,
        "model_a",
        "model_b",
        "diff",
        "diff_low",
        "diff_high",
        "diff_method",
        "diff_n",
        "n_seeds",
    ]
    if median:
        cols += ["median_diff", "median_low", "median_high"]
    return pd.DataFrame(rows, columns=cols)


def _median_cis(
    stacks: list[np.ndarray], n_resamples: int, rng: np.random.Generator, confidence: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile CIs of the median per-case difference for pairs ``stacks = [a0, b0, a1, b1, ...]``.

    Each resample draws every model's own seeds (a BLAS product with the seed counts gives each case's
    resampled seed mean), forms the per-case differences, then draws cases and takes their median;
    cases missing for a pair are left out of that pair's draw.
    """
    n_pairs = len(stacks) // 2
    est, low, high = np.full(n_pairs, np.nan), np.full(n_pairs, np.nan), np.full(n_pairs, np.nan)
    alpha = (1 - confidence) / 2
    for p in range(n_pairs):
        a, b = stacks[2 * p], stacks[2 * p + 1]
        ok = _has_value(a) & _has_value(b)
        a, b = a[ok], b[ok]
        m = a.shape[0]
        if m == 0:
            continue
        est[p] = float(np.median(_nanmean(a, axis=1) - _nanmean(b, axis=1)))
        means = []
        for y in (a, b):
            k = y.shape[1]
            cs = _counts(rng.integers(0, k, size=(n_resamples, k)), k) if k > 1 else np.ones((n_resamples, 1))
            with np.errstate(invalid="ignore", divide="ignore"):
                means.append((np.nan_to_num(y) @ cs.T) / ((~np.isnan(y)) @ cs.T))  # (m, B)
        d = np.ascontiguousarray((means[0] - means[1]).T)  # (B, m)
        idx = rng.integers(0, m, size=(n_resamples, m))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(np.take_along_axis(d, idx, axis=1), axis=1)
        low[p], high[p] = np.nanquantile(med, [alpha, 1 - alpha])
    return est, low, high


def _plain(value: object) -> object:
    """numpy scalar -> Python scalar, so messages read ``1``, not ``np.int64(1)``."""
    return value.item() if isinstance(value, np.generic) else value


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    """``(m, n)`` draw indices -> ``(m, n)`` float counts of each unit per row."""
    m = idx.shape[0]
    flat = idx.astype(np.intp) + (np.arange(m, dtype=np.intp) * n)[:, None]
    return np.bincount(flat.ravel(), minlength=m * n).reshape(m, n).astype(float)


def _align(t: CaseSeedTable, cases: np.ndarray, k: int) -> np.ndarray:
    """``t.values`` re-indexed to ``cases`` rows and padded with NaN seed columns to ``k``."""
    out = np.full((len(cases), k), np.nan)
    pos = np.searchsorted(cases, t.cases.astype(str))
    out[pos, : t.values.shape[1]] = t.values
    return out


def _has_value(v: np.ndarray) -> np.ndarray:
    return (~np.isnan(v)).any(axis=1)


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=axis)
