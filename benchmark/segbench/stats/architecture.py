"""Architecture-level claims: intervals that generalise over training seeds *and* test cases.

Why (DESIGN.md §5, issue 19): a paired test on per-case seed means speaks about *these trained
networks* — the k seeds that happened to be trained. A leaderboard reader wants to know about *the
architecture*: would another k training runs give the same answer? That adds the seed-to-seed
variance of each model to the uncertainty, and one collapsed seed can make a "significant" lead of
these networks meaningless for the architecture.

Model (crossed random effects, one model ``m``): ``y[c, s] = mu_m + case_c + seed_s + e[c, s]``
with case effects shared by all seeds and seed effects (a trained network) shared by all cases.
Each model has its *own* seeds: networks of two architectures trained with the same seed number
are different networks, so seed effects are independent across models and a model with k = 1
(a seed-pooled ensemble) simply has no seed level — it is never aligned with, or padded to, the
seed positions of another model.

Interval (a method-of-moments mixed-model interval, Satterthwaite 1946): for the mean of model m,
``se^2 = var(case means) / n + var(seed means) / k`` — the case term estimates
``s2_case + s2_e / k`` and the seed term ``s2_seed + s2_e / n``, so the sum estimates the variance of
the grand mean ``s2_case / n + s2_seed / k + s2_e / (n k)`` plus one extra ``s2_e / (n k)`` (slightly
conservative, never negative). For a paired difference A - B on the cases both have,
``se^2 = var(d) / n + var(seed means of A) / k_A + var(seed means of B) / k_B`` with ``d`` the
per-case difference of seed means (the case term is paired, the seed terms are independent). The
interval is ``estimate +- t_{df} se`` with the Welch-Satterthwaite degrees of freedom of the sum,
so at k = 3 a seed term that dominates has about 2 degrees of freedom and a wide interval — the
honest answer. A two-level *bootstrap* of 3 seeds understates their variance by (k - 1)/k and has
only 10 distinct seed draws; ``benchmarks/stats_calibration.py`` measures both and shows why this
interval is the one behind the decisions.

With k < 3 for either model no architecture-level claim is made (``claim`` says why, the interval
is NaN, ``significant`` is False). With fewer than 10 paired cases (``MIN_CASES``) no interval is
printed and nothing is marked either (the small-n rule).

Multiplicity: the decisions of one *decision family* — by default every model pair x condition of
one (dataset, complexity) block — are controlled together (Holm by default, or Benjamini-Hochberg),
on the p-values of the architecture-level t statistics.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import stdtr, stdtrit
from statsmodels.stats.multitest import multipletests

from segbench.stats.hierarchical import (
    MIN_CASES,
    MIN_SEEDS,
    CaseSeedTable,
    case_seed_tables,
    tables_by_family,
)
from segbench.stats.paired import _gc_frozen, pairwise_wilcoxon

__all__ = [
    "CONDITION",
    "DECISION_FAMILY",
    "EFFECT_COLUMNS",
    "MEAN_COLUMNS",
    "architecture_effects",
    "architecture_means",
    "crossed_mean_ci",
    "crossed_paired_ci",
]

#: columns of one evaluation condition
CONDITION: tuple[str, ...] = ("dataset", "complexity", "perturbation", "severity")
#: one multiplicity family: every pair x condition of a (dataset, complexity) block
DECISION_FAMILY: tuple[str, ...] = ("dataset", "complexity")

EFFECT_COLUMNS: tuple[str, ...] = (
    "model_a",
    "model_b",
    "n_cases",
    "k_a",
    "k_b",
    "effect",
    "effect_low",
    "effect_high",
    "se",
    "df",
    "p_arch",
    "p_arch_adj",
    "significant",
    "claim",
    "p",
    "p_method",
    "net_low",
    "net_high",
)
MEAN_COLUMNS: tuple[str, ...] = ("mean", "low", "high", "se", "df", "n_cases", "k", "claim")


def crossed_mean_ci(values: np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """Architecture-level t interval of one model's mean from its ``(n_cases, k_seeds)`` table.

    Args:
        values: cases x seeds (NaN = missing; a case or seed without any value drops out).
        confidence: two-sided level. Defaults to 0.95.

    Returns:
        ``mean`` (mean over cases of per-case seed means), ``low``, ``high``, ``se``, ``df``,
        ``n_cases``, ``k``. With ``k == 1`` the interval is the case-level t interval of these
        networks; with ``n < 2`` it is NaN.

    Example:
        >>> r = crossed_mean_ci(np.array([[0.8, 0.7, 0.9], [0.6, 0.5, 0.7], [0.7, 0.6, 0.8]]))
        >>> round(r["mean"], 3), r["k"]
        (0.7, 3)
    """
    y = _clean(np.asarray(values, dtype=float))
    n, k = y.shape
    out = {"mean": np.nan, "low": np.nan, "high": np.nan, "se": np.nan, "df": np.nan, "n_cases": n, "k": k}
    if n == 0 or k == 0:
        return out
    case_means = _nanmean(y, axis=1)
    out["mean"] = float(case_means.mean())
    terms = [(_var(case_means) / n, n - 1)]
    if k > 1:
        terms.append((_var(_nanmean(y, axis=0)) / k, k - 1))
    return {**out, **_t_interval(out["mean"], terms, confidence)}


def crossed_paired_ci(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """Architecture-level t interval of ``mean(A) - mean(B)`` on the cases both models have.

    Args:
        a: model A's ``(n_cases, k_a)`` table; ``b``: model B's ``(n_cases, k_b)``, same case rows.
            Each model keeps its own seeds (``k_a`` and ``k_b`` may differ).
        confidence: two-sided level. Defaults to 0.95.

    Returns:
        ``effect`` (mean over paired cases of the per-case seed-mean difference a - b), ``low``,
        ``high``, ``se``, ``df``, ``p`` (two-sided, t with ``df``), ``n_cases``, ``k_a``, ``k_b``,
        ``net_low``/``net_high`` (the case-level t interval of these networks). The architecture
        interval needs ``k_a, k_b >= 2``; otherwise it is NaN.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    both = _has_value(a) & _has_value(b)
    a, b = _clean(a[both]), _clean(b[both])
    n = int(a.shape[0])
    ka, kb = int(a.shape[1]), int(b.shape[1])
    out = dict.fromkeys(("effect", "low", "high", "se", "df", "p", "net_low", "net_high"), np.nan)
    out.update(n_cases=n, k_a=ka, k_b=kb)
    if n == 0:
        return out
    # after _clean every row and column has a value, so plain nanmean never sees an empty slice
    d = np.nanmean(a, axis=1) - np.nanmean(b, axis=1)
    out["effect"] = float(d.mean())
    if n < 2:
        return out
    var_d = float(np.var(d, ddof=1))
    net = _t_interval(out["effect"], [(var_d / n, n - 1)], confidence)
    out["net_low"], out["net_high"] = net["low"], net["high"]
    if ka < 2 or kb < 2:
        return out
    terms = [
        (var_d / n, n - 1),
        (float(np.var(np.nanmean(a, axis=0), ddof=1)) / ka, ka - 1),
        (float(np.var(np.nanmean(b, axis=0), ddof=1)) / kb, kb - 1),
    ]
    return {**out, **_t_interval(out["effect"], terms, confidence)}


def architecture_effects(
    df: pd.DataFrame,
    metric: str = "dice",
    family: Sequence[str] = CONDITION,
    decision_family: Sequence[str] = DECISION_FAMILY,
    alpha: float = 0.05,
    control: str = "holm",
    confidence: float = 0.95,
    min_seeds: int = MIN_SEEDS,
    min_cases: int = MIN_CASES,
    zero_method: str = "wilcox",
    min_pairs: int = 6,
) -> pd.DataFrame:
    """Architecture-level paired effects for every model pair within each ``family`` (condition).

    The decision behind a † and a headline sentence. Per pair (``model_a < model_b`` alphabetically,
    differences a - b): the mean per-case difference of seed means on the cases both have, its
    architecture-level interval (:func:`crossed_paired_ci`: cases and each model's own seeds), and
    whether it is *significant*: ``k_a, k_b >= min_seeds``, ``n_cases >= min_cases`` and the
    architecture-level p-value, adjusted over the decision family by ``control``, is below ``alpha``.
    Beside it, for the record, the *these-networks* Wilcoxon test on per-case seed means
    (:func:`segbench.stats.paired.pairwise_wilcoxon`), its p Holm-adjusted over the same decision
    family (``p``) — labelled, never used for a mark.

    Args:
        df: long per-case table: ``model``, ``seed``, ``case_id``, the ``family`` columns, ``metric``.
        metric: value column (higher or lower better does not matter: effects are signed).
            Defaults to ``"dice"``.
        family: columns of one comparison (a condition). Defaults to :data:`CONDITION`.
        decision_family: columns of one multiplicity family, a subset of ``family``; ``()`` = one family
            for the whole table. Defaults to :data:`DECISION_FAMILY`.
        alpha: error rate controlled per decision family. Defaults to 0.05.
        control: ``"holm"`` (family-wise error) or ``"fdr_bh"`` (Benjamini-Hochberg false discovery
            rate). Defaults to ``"holm"``.
        confidence: level of the printed intervals. Defaults to 0.95.
        min_seeds: fewest seeds per model for an architecture claim. Defaults to 3.
        min_cases: fewest paired cases for an interval and a claim. Defaults to 10.
        zero_method, min_pairs: of the these-networks Wilcoxon test.

    Returns:
        One row per (family, pair): the ``family`` columns, then ``model_a``, ``model_b``,
        ``n_cases``, ``k_a``, ``k_b``, ``effect`` (mean of a - b), ``effect_low``, ``effect_high``
        (architecture-level CI; NaN without a claim), ``se``, ``df``, ``p_arch`` (architecture-level
        two-sided p), ``p_arch_adj`` (adjusted over the decision family), ``significant`` (bool),
        ``claim`` (``"architecture"`` or why none is possible), ``p`` and ``p_method`` (these networks:
        Wilcoxon, Holm over the decision family), ``net_low``/``net_high`` (these networks' case-level
        CI of the effect).

    Raises:
        ValueError: on an unknown ``control`` or a ``decision_family`` not inside ``family``.

    Example:
        >>> effects = architecture_effects(cases)  # doctest: +SKIP
        >>> effects[effects["significant"]][["model_a", "model_b", "effect", "effect_low"]]  # doctest: +SKIP
    """
    if control not in ("holm", "fdr_bh"):
        raise ValueError(f"control must be 'holm' or 'fdr_bh', got {control!r}")
    family, decision_family = list(family), list(decision_family)
    if not set(decision_family) <= set(family):
        raise ValueError(f"decision_family {decision_family} must be columns of family {family}")
    rows: list[dict[str, object]] = []
    for key_t, tabs in tables_by_family(df, family, metric):
        keyd = dict(zip(family, key_t, strict=True))
        for a, b in itertools.combinations(sorted(tabs), 2):
            ta, tb = _aligned_pair(tabs[a], tabs[b])
            r = crossed_paired_ci(ta, tb, confidence)
            rows.append({**keyd, "model_a": a, "model_b": b, **_effect_row(r, min_seeds, min_cases)})
    out = pd.DataFrame(rows, columns=[*family, *EFFECT_COLUMNS])
    if out.empty:
        return out
    out = _merge_wilcoxon(out, df, metric, family, zero_method, min_pairs)
    out = _adjust(out, decision_family, alpha, control)
    return out.astype({"significant": bool, "n_cases": int, "k_a": int, "k_b": int})


def architecture_means(
    df: pd.DataFrame,
    by: Sequence[str] = ("model", *CONDITION),
    metric: str = "dice",
    confidence: float = 0.95,
    min_seeds: int = MIN_SEEDS,
    min_cases: int = MIN_CASES,
) -> pd.DataFrame:
    """Architecture-level mean of ``metric`` with its CI per group (usually model x condition).

    Args:
        df: long per-case table with the ``by`` columns, ``seed``, ``case_id`` and ``metric``.
        by: grouping columns. Defaults to ``("model", *CONDITION)``.
        metric: value column. Defaults to ``"dice"``.
        confidence: two-sided level. Defaults to 0.95.
        min_seeds, min_cases: as in :func:`architecture_effects`.

    Returns:
        One row per group: ``by`` columns, ``mean`` (over cases of per-case seed means), ``low``,
        ``high`` (:func:`crossed_mean_ci`; NaN with fewer than ``min_cases`` cases), ``se``, ``df``,
        ``n_cases``, ``k`` and ``claim`` (``"architecture"``; with k < ``min_seeds`` the interval is the
        case-level one of these networks and ``claim`` says so).
    """
    by = list(by)
    rows = []
    for t in case_seed_tables(df, by, metric):
        r = crossed_mean_ci(t.values, confidence)
        claim = "architecture"
        if r["n_cases"] < min_cases:
            r["low"] = r["high"] = np.nan
            claim = f"none: n too small ({r['n_cases']} cases < {min_cases})"
        elif r["k"] < min_seeds:  # no seed term: the case-level interval of these networks
            k = r["k"]
            r = {**crossed_mean_ci(_nanmean(t.values, axis=1)[:, None], confidence), "k": k}
            claim = f"these networks only: k = {k} < {min_seeds} seeds"
        rows.append({**dict(zip(by, t.key, strict=True)), **r, "claim": claim})
    return pd.DataFrame(rows, columns=[*by, *MEAN_COLUMNS])


# -- internals ------------------------------------------------------------------------------------------
def _effect_row(r: dict[str, float], min_seeds: int, min_cases: int) -> dict[str, object]:
    """One output row from :func:`crossed_paired_ci`, with the claim rule applied."""
    claim = "architecture"
    k_small = [f"k = {k}" for k in (r["k_a"], r["k_b"]) if k < min_seeds]
    if r["n_cases"] < min_cases:
        claim = f"none: n too small ({r['n_cases']} cases < {min_cases})"
    elif k_small:  # wording kept stable: the fidelity section quotes it
        claim = (
            f"none: {' and '.join(dict.fromkeys(k_small))} < {min_seeds} seeds (no architecture-level claim)"
        )
    ok = claim == "architecture"
    return {
        "n_cases": r["n_cases"],
        "k_a": r["k_a"],
        "k_b": r["k_b"],
        "effect": r["effect"],
        "effect_low": r["low"] if ok else np.nan,
        "effect_high": r["high"] if ok else np.nan,
        "se": r["se"] if ok else np.nan,
        "df": r["df"] if ok else np.nan,
        "p_arch": r["p"] if ok else np.nan,
        "claim": claim,
        "net_low": r["net_low"],
        "net_high": r["net_high"],
    }


def _merge_wilcoxon(
    out: pd.DataFrame, df: pd.DataFrame, metric: str, family: list[str], zero_method: str, min_pairs: int
) -> pd.DataFrame:
    """Attach the these-networks Wilcoxon raw p and method (adjusted later with the family)."""
    w = pairwise_wilcoxon(df, metric=metric, family=family, zero_method=zero_method, min_pairs=min_pairs)
    w = w[[*family, "model_a", "model_b", "p_value", "p_method"]]
    # pandas merges NaN keys (no complexity knob) as equal, which is what we want here
    out = out.drop(columns=["p", "p_method"]).merge(w, on=[*family, "model_a", "model_b"], how="left")
    return out.rename(columns={"p_value": "p"})[[*family, *EFFECT_COLUMNS]]


def _adjust(out: pd.DataFrame, decision_family: list[str], alpha: float, control: str) -> pd.DataFrame:
    """Adjust the architecture p over each decision family, and the Wilcoxon p by Holm over it."""
    out = out.copy()
    out["p_arch_adj"] = np.nan
    out["significant"] = False
    groups = (
        out.groupby(decision_family, dropna=False, sort=False).groups if decision_family else {(): out.index}
    )
    for idx in groups.values():
        sub = out.loc[idx]
        ok = sub["p_arch"].notna()
        if ok.any():
            with _gc_frozen():
                reject, adj = multipletests(
                    sub.loc[ok, "p_arch"].to_numpy(float), alpha=alpha, method=control
                )[:2]
            out.loc[sub.index[ok], "p_arch_adj"] = adj
            out.loc[sub.index[ok], "significant"] = reject
        okw = sub["p"].notna()
        if okw.any():
            with _gc_frozen():
                out.loc[sub.index[okw], "p"] = multipletests(
                    sub.loc[okw, "p"].to_numpy(float), method="holm"
                )[1]
    return out


def _aligned_pair(ta: CaseSeedTable, tb: CaseSeedTable) -> tuple[np.ndarray, np.ndarray]:
    """The two models' tables on the union of their cases, each with its own seed columns."""
    ca, cb = ta.cases.astype(str), tb.cases.astype(str)
    cases = np.union1d(ca, cb)
    a = np.full((cases.size, ta.values.shape[1]), np.nan)
    b = np.full((cases.size, tb.values.shape[1]), np.nan)
    a[np.searchsorted(cases, ca)] = ta.values
    b[np.searchsorted(cases, cb)] = tb.values
    return a, b


def _t_interval(est: float, terms: list[tuple[float, int]], confidence: float) -> dict[str, float]:
    """``est +- t_df se`` with ``se^2`` the sum of the terms and Welch-Satterthwaite ``df``."""
    terms = [(v, d) for v, d in terms if d > 0 and np.isfinite(v)]
    var = float(sum(v for v, _ in terms))
    if not terms:
        return {"low": np.nan, "high": np.nan, "se": np.nan, "df": np.nan, "p": np.nan}
    if var <= 0:  # no variation at any level: the difference is what it is
        return {"low": est, "high": est, "se": 0.0, "df": np.inf, "p": 1.0 if est == 0 else 0.0}
    denom = sum(v * v / d for v, d in terms)
    df = var * var / denom if denom > 0 else float(sum(d for _, d in terms))
    se = float(np.sqrt(var))
    # scipy.special's Student t (the ufuncs behind scipy.stats.t, without its per-call overhead)
    q = float(stdtrit(df, 0.5 + confidence / 2))
    p = float(2 * stdtr(df, -abs(est) / se))
    return {"low": est - q * se, "high": est + q * se, "se": se, "df": float(df), "p": p}


def _clean(y: np.ndarray) -> np.ndarray:
    """Drop cases (rows) and seeds (columns) without any value."""
    y = y[_has_value(y)]
    return y[:, ~np.isnan(y).all(axis=0)]


def _has_value(v: np.ndarray) -> np.ndarray:
    return (~np.isnan(v)).any(axis=1)


def _var(x: np.ndarray) -> float:
    x = x[~np.isnan(x)]
    return float(np.var(x, ddof=1)) if x.size > 1 else np.nan


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=axis)
