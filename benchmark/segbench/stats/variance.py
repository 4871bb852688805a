"""Variance components of a model's per-case metric: cases, seeds and their interaction.

Why (DESIGN.md §5, issue 9): "would another seed change the ranking?" is answered by how much of
the variance of a model's results comes from the training seed compared with the test case. Every
seed (trained network) of a model is evaluated on every case, so the design is two-way *crossed*
without replication, ``y_ij = mu + c_i + s_j + e_ij`` (case ``i``, seed ``j``), with random case
effects ``c ~ (0, s2_case)``, seed effects ``s ~ (0, s2_seed)`` and the seed x case interaction plus
noise ``e ~ (0, s2_resid)``.

Estimator: the ANOVA (method-of-moments, expected mean squares) decomposition of a balanced
two-way random-effects design (Searle, Casella & McCulloch 1992, *Variance Components*, §4.6):
``s2_resid = MS_res``, ``s2_seed = (MS_seed - MS_res) / n``, ``s2_case = (MS_case - MS_res) / k``,
negative estimates truncated at 0. On balanced data with positive estimates this equals the REML
fit of ``statsmodels`` ``MixedLM`` with crossed case and seed variance components (the tests check
this), at a fraction of the cost, so a report can decompose hundreds of groups. Only cases with a
value for every seed enter (the decomposition needs a balanced table); ``n_cases`` says how many.

CIs: the seed share's from the chi-square law of the seed mean square (:func:`seed_share_ci`,
honest at k = 3); the case share's are percentile intervals of the two-level bootstrap of
:mod:`segbench.stats.hierarchical` (cases and seeds resampled; the components recomputed on each
resample from count-weighted sums of squares). With ``k < 3`` seeds nothing is inferred about seeds:
the point estimates are given, the intervals are NaN and ``small_n`` says why.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from segbench.seeding import derive_rng
from segbench.stats.hierarchical import MIN_SEEDS, case_seed_tables, small_n_flag

__all__ = ["anova_components", "pair_differences", "seed_share_ci", "variance_components"]

_COMPONENTS = ("case", "seed", "resid")


def anova_components(y: np.ndarray) -> dict[str, float]:
    """ANOVA variance components of a complete ``(n_cases, n_seeds)`` table.

    Args:
        y: complete (no NaN) cases x seeds values, ``n >= 2`` and ``k >= 2``.

    Returns:
        ``var_case``, ``var_seed``, ``var_resid`` (>= 0) and the mean squares ``ms_case``, ``ms_seed``,
        ``ms_resid``.

    Example:
        >>> anova_components(np.array([[0.9, 0.8], [0.7, 0.6], [0.5, 0.4]]))["var_seed"] > 0
        True
    """
    y = np.asarray(y, dtype=float)
    n, k = y.shape
    if n < 2 or k < 2 or np.isnan(y).any():
        raise ValueError(f"anova_components needs a complete table with >= 2 cases and seeds, got {y.shape}")
    ss_case, ss_seed, ss_res = _sums_of_squares(y[None], np.ones((1, n)), np.ones((1, k)))
    return _components(ss_case[0], ss_seed[0], ss_res[0], n, k)


def variance_components(
    df: pd.DataFrame,
    by: Sequence[str],
    metric: str = "dice",
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Case, seed and seed x case variance of ``metric`` per group (usually model x condition).

    Args:
        df: long per-case table with the ``by`` columns, ``seed``, ``case_id`` and ``metric``.
        by: grouping columns, e.g. ``["model", *CONDITION_COLUMNS]``.
        metric: value column. Defaults to ``"dice"``.
        n_resamples: two-level bootstrap resamples for the share CIs (0 = none). Defaults to 1000.
        confidence: two-sided level. Defaults to 0.95.
        seed: base seed. Defaults to 0.

    Returns:
        One row per group: ``by`` columns, ``n_cases`` (complete cases used), ``n_seeds``, ``mean``,
        ``var_case``, ``var_seed``, ``var_resid``, ``share_case``, ``share_seed``, ``share_resid``
        (shares of the total), ``share_seed_low``/``_high`` and ``share_case_low``/``_high``
        (percentile CIs, NaN with ``k < 3`` or fewer than 2 cases), ``seed_mean_min``,
        ``seed_mean_max`` (range of per-seed means) and ``small_n``.
    """
    by = list(by)
    alpha = (1 - confidence) / 2
    rows = []
    draws: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for t in case_seed_tables(df, by, metric):
        y = t.values[~np.isnan(t.values).any(axis=1)]
        n, k = y.shape
        row: dict[str, object] = {
            **dict(zip(by, t.key, strict=True)),
            "n_cases": int(n),
            "n_seeds": int(k),
            "mean": float(y.mean()) if y.size else np.nan,
            "seed_mean_min": float(y.mean(axis=0).min()) if y.size else np.nan,
            "seed_mean_max": float(y.mean(axis=0).max()) if y.size else np.nan,
            "small_n": small_n_flag(int(n), int(k)),
        }
        row.update({f"var_{c}": np.nan for c in _COMPONENTS})
        row.update({f"share_{c}": np.nan for c in _COMPONENTS})
        row.update(
            share_seed_low=np.nan, share_seed_high=np.nan, share_case_low=np.nan, share_case_high=np.nan
        )
        if n >= 2 and k >= 2:
            comp = anova_components(y)
            total = comp["var_case"] + comp["var_seed"] + comp["var_resid"]
            for c in _COMPONENTS:
                row[f"var_{c}"] = comp[f"var_{c}"]
                row[f"share_{c}"] = comp[f"var_{c}"] / total if total > 0 else np.nan
            if k >= MIN_SEEDS and n_resamples > 0 and total > 0:
                if (n, k) not in draws:  # groups of one shape share their draws (as group CIs do)
                    rng = derive_rng(seed, "variance_components", int(n), int(k))
                    draws[n, k] = (
                        _counts(rng.integers(0, n, size=(n_resamples, n)), n),
                        _counts(rng.integers(0, k, size=(n_resamples, k)), k),
                    )
                shares = _bootstrap_shares(y, *draws[n, k])
                lo, hi = np.nanquantile(shares["case"], [alpha, 1 - alpha])
                row["share_case_low"], row["share_case_high"] = float(lo), float(hi)
                row["share_seed_low"], row["share_seed_high"] = seed_share_ci(comp, n, k, confidence)
        rows.append(row)
    cols = [*by, "n_cases", "n_seeds", "mean"]
    cols += [f"var_{c}" for c in _COMPONENTS] + [f"share_{c}" for c in _COMPONENTS]
    cols += ["share_seed_low", "share_seed_high", "share_case_low", "share_case_high"]
    cols += ["seed_mean_min", "seed_mean_max", "small_n"]
    return pd.DataFrame(rows, columns=cols)


def seed_share_ci(comp: dict[str, float], n: int, k: int, confidence: float = 0.95) -> tuple[float, float]:
    """CI of the seed share from the chi-square law of the seed mean square (``k - 1`` df).

    Why not the bootstrap: with k = 3 seeds a bootstrap draws only 10 distinct seed multisets and its
    variance of the seed mean is (k - 1)/k of the true one; its share intervals had lower bound 0 in
    every row and upper bounds far too low. ``(k - 1) MS_seed / E[MS_seed]`` is chi-square with
    ``k - 1`` df under normal seed effects, so ``E[MS_seed] = n s2_seed + s2_resid`` has the exact
    interval ``(k - 1) MS_seed / chi2_{1 - a/2}`` .. ``/ chi2_{a/2}``; ``s2_seed`` follows with
    ``s2_resid`` at its estimate, and the share with the other components at theirs (a profile
    interval). At k = 3 the factor is about [0.27, 39]: honestly wide.

    Example:
        >>> comp = anova_components(np.array([[0.9, 0.8, 0.7], [0.7, 0.6, 0.5], [0.5, 0.4, 0.35]]))
        >>> lo, hi = seed_share_ci(comp, 3, 3)
        >>> 0 <= lo < hi <= 1
        True
    """
    alpha = (1 - confidence) / 2
    df = k - 1
    ms = comp["ms_seed"] * df
    bounds = []
    for q in (1 - alpha, alpha):
        v_seed = max((ms / stats.chi2.ppf(q, df) - comp["ms_resid"]) / n, 0.0)
        other = comp["var_case"] + comp["var_resid"]
        bounds.append(v_seed / (v_seed + other) if v_seed + other > 0 else np.nan)
    return float(bounds[0]), float(bounds[1])


def pair_differences(
    df: pd.DataFrame,
    family: Sequence[str],
    metric: str = "dice",
    pairs: Sequence[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Long table of per-(seed, case) differences between two models, one ``model`` label per pair.

    Why: "would another seed change the ranking?" is about the *difference* between two models, where
    the case effect (image difficulty) cancels; :func:`variance_components` on this table splits the
    difference's variance into a consistent per-case part and a seed part. Networks are paired by
    their seed value (seed ``j`` of both models shares the data order and initialisation stream), so
    only seeds both models have enter.

    Args:
        df: long table with ``model``, ``seed``, ``case_id``, the ``family`` columns and ``metric``.
        family: columns within which models are compared.
        metric: value column. Defaults to ``"dice"``.
        pairs: ``(a, b)`` pairs to difference; ``None`` = every pair with ``a < b``.

    Returns:
        ``family`` columns, ``model`` (``"a - b"``), ``model_a``, ``model_b``, ``seed``, ``case_id``,
        ``metric`` (``a - b``).
    """
    family = list(family)
    wide = df.pivot_table(index=[*family, "seed", "case_id"], columns="model", values=metric, dropna=False)
    models = sorted(wide.columns)
    todo = pairs if pairs is not None else [(a, b) for i, a in enumerate(models) for b in models[i + 1 :]]
    frames = []
    for a, b in todo:
        if a not in wide.columns or b not in wide.columns:
            continue
        d = (wide[a] - wide[b]).dropna().rename(metric).reset_index()
        frames.append(d.assign(model=f"{a} - {b}", model_a=a, model_b=b))
    cols = [*family, "model", "model_a", "model_b", "seed", "case_id", metric]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def _bootstrap_shares(y: np.ndarray, cc: np.ndarray, cs: np.ndarray) -> dict[str, np.ndarray]:
    """Component shares on two-level bootstrap resamples (case counts ``cc``, seed counts ``cs``)."""
    n, k = y.shape
    ss_case, ss_seed, ss_res = _sums_of_squares(y[None], cc, cs)
    comp = _components(ss_case, ss_seed, ss_res, n, k)
    total = comp["var_case"] + comp["var_seed"] + comp["var_resid"]
    with np.errstate(invalid="ignore", divide="ignore"):
        return {c: np.where(total > 0, comp[f"var_{c}"] / total, np.nan) for c in _COMPONENTS}


def _sums_of_squares(
    y: np.ndarray, cc: np.ndarray, cs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-way sums of squares of count-weighted tables (a resample = counts of cases and seeds).

    ``y`` is ``(1, n, k)``; ``cc`` ``(B, n)`` case counts (summing to n), ``cs`` ``(B, k)`` seed counts
    (summing to k). Row b's table is y with case i repeated ``cc[b, i]`` and seed j ``cs[b, j]`` times.
    """
    y2 = y[0]
    n, k = cc.sum(axis=1)[0], cs.sum(axis=1)[0]
    case_means = (cs @ y2.T) / k  # (B, n): mean over the drawn seeds of every case
    seed_means = (cc @ y2) / n  # (B, k): mean over the drawn cases of every seed
    grand = (seed_means * cs).sum(axis=1) / k
    ss_case = k * ((cc * case_means**2).sum(axis=1) - n * grand**2)
    ss_seed = n * ((cs * seed_means**2).sum(axis=1) - k * grand**2)
    ss_total = ((cc @ (y2**2)) * cs).sum(axis=1) - n * k * grand**2
    ss_res = ss_total - ss_case - ss_seed
    # the subtraction leaves rounding residue (~1e-15 of the total) where the true value is 0
    ss_res = np.where(ss_res > 1e-10 * np.abs(ss_total), ss_res, 0.0)
    return ss_case, ss_seed, ss_res


def _components(ss_case, ss_seed, ss_res, n: int, k: int) -> dict[str, np.ndarray]:
    ms_case = ss_case / (n - 1)
    ms_seed = ss_seed / (k - 1)
    ms_res = ss_res / ((n - 1) * (k - 1))
    return {
        "var_case": np.maximum((ms_case - ms_res) / k, 0.0),
        "var_seed": np.maximum((ms_seed - ms_res) / n, 0.0),
        "var_resid": ms_res,
        "ms_case": ms_case,
        "ms_seed": ms_seed,
        "ms_resid": ms_res,
    }


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    m = idx.shape[0]
    flat = idx.astype(np.intp) + (np.arange(m, dtype=np.intp) * n)[:, None]
    return np.bincount(flat.ravel(), minlength=m * n).reshape(m, n).astype(float)
