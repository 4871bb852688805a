"""Does the model know when it fails? Rank correlation, failure AUROC and AURC of per-case uncertainty.

What is computed, per model x test condition, from per-case (uncertainty, Dice) pairs:

* **Spearman's rho** between uncertainty and Dice (Pearson correlation of average ranks; negative
  when more uncertain cases score worse, which is what a self-aware model shows).
* **AUROC** of uncertainty as a detector of *failed* cases (Dice < threshold, default 0.5): the
  probability that a random failed case is more uncertain than a random successful one, ties counting
  one half — the Mann-Whitney U statistic divided by ``n_fail * n_ok``, in closed form from ranks.
  Undefined (NaN) when every case failed or none did.
* **AURC**: area under the risk-coverage curve (Geifman & El-Yaniv 2017; Jaeger et al. 2023) with risk
  ``1 - Dice``: cases are accepted from most to least certain, and the selective risk (mean risk of the
  accepted cases) is averaged over coverages ``1/n .. n/n``. Lower is better; the oracle ordering gives
  the minimum, a random one the overall mean risk. Tied uncertainties are accepted as a block, each
  coverage inside the block taking the expected risk over the block's orders (linearity), so the value
  does not depend on row order.

Cases are the unit: with several training seeds, a case contributes one row per seed, and the CIs
resample *cases* (all seed rows of a case together), as everywhere else in segbench.
Pure numpy/pandas.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from segbench.seeding import derive_rng

__all__ = [
    "FAILURE_DICE",
    "UNCERTAINTY_FIELDS",
    "aurc",
    "failure_auroc",
    "failure_detection_table",
    "rankdata",
    "risk_coverage",
    "spearman",
    "weighted_scores",
]

#: a case whose Dice is below this failed (the issue's default)
FAILURE_DICE = 0.5
#: per-case uncertainty columns, in the order the report tries them
UNCERTAINTY_FIELDS: tuple[str, ...] = ("entropy", "disagreement", "tta_variance")


def rankdata(x: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (as ``scipy.stats.rankdata(method='average')``)."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n == 0:
        return np.empty(0)
    order = np.argsort(x, kind="mergesort")
    block, bounds = _tie_blocks(x[order])
    ranks = np.empty(n)
    ranks[order] = 0.5 * (bounds[block] + bounds[block + 1] + 1)  # mean of positions start+1 .. end
    return ranks


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Spearman's rho: Pearson correlation of the average ranks; NaN when either side is constant or n < 3."""
    x, y = _finite_pairs(x, y)
    if len(x) < 3:
        return float("nan")
    rx, ry = rankdata(x) - (len(x) + 1) / 2, rankdata(y) - (len(y) + 1) / 2
    denom = np.sqrt((rx**2).sum() * (ry**2).sum())
    return float((rx * ry).sum() / denom) if denom > 0 else float("nan")


def failure_auroc(uncertainty: Sequence[float] | np.ndarray, failed: Sequence[bool] | np.ndarray) -> float:
    """AUROC of ``uncertainty`` for detecting ``failed`` cases (closed form from ranks, ties = 1/2).

    ``AUROC = (R_fail - n_fail (n_fail + 1) / 2) / (n_fail n_ok)`` with ``R_fail`` the rank sum of the
    failed cases. NaN when there is no failed or no successful case.
    """
    u = np.asarray(uncertainty, dtype=np.float64)
    f = np.asarray(failed, dtype=bool)
    keep = np.isfinite(u)
    u, f = u[keep], f[keep]
    n_fail, n_ok = int(f.sum()), int((~f).sum())
    if n_fail == 0 or n_ok == 0:
        return float("nan")
    r_fail = rankdata(u)[f].sum()
    return float((r_fail - n_fail * (n_fail + 1) / 2) / (n_fail * n_ok))


def risk_coverage(
    uncertainty: Sequence[float] | np.ndarray, risk: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Coverage ``k/n`` and selective risk (expected mean risk of the ``k`` most certain cases), k = 1..n.

    Tied uncertainties form one block; inside it, the risk at coverage ``k`` is the expectation over
    the block's orderings.
    """
    u, r = _finite_pairs(uncertainty, risk)
    n = len(u)
    if n == 0:
        return np.empty(0), np.empty(0)
    order = np.argsort(u, kind="mergesort")
    r = r[order]
    block, bounds = _tie_blocks(u[order])
    sums = np.add.reduceat(r, bounds[:-1])
    before = np.concatenate([[0.0], np.cumsum(sums)[:-1]])  # risk of all more certain blocks
    means = sums / np.diff(bounds)
    position = np.arange(n) - bounds[block] + 1  # 1-based position inside the block
    cum = before[block] + means[block] * position
    k = np.arange(1, n + 1)
    return k / n, cum / k


def aurc(uncertainty: Sequence[float] | np.ndarray, risk: Sequence[float] | np.ndarray) -> float:
    """Area under the risk-coverage curve: the mean selective risk over coverages 1/n..1 (NaN if empty)."""
    _, selective = risk_coverage(uncertainty, risk)
    return float(selective.mean()) if len(selective) else float("nan")


def failure_detection_table(
    cases: pd.DataFrame,
    by: Sequence[str],
    uncertainty: str = "entropy",
    threshold: float = FAILURE_DICE,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Spearman, AUROC and AURC (with case-bootstrap percentile CIs) per group of ``cases``.

    Args:
        cases: per-case rows with ``case_id``, ``dice`` and the ``uncertainty`` column (one row per
            seed and case; rows with a missing Dice or uncertainty are left out).
        by: grouping columns, e.g. ``["model", "dataset", "complexity", "perturbation", "severity"]``.
        uncertainty: which uncertainty column. Defaults to ``"entropy"``.
        threshold: Dice below which a case failed. Defaults to 0.5.
        n_resamples: bootstrap resamples of cases (0: no CIs). Defaults to 1000.
        confidence: two-sided CI level. Defaults to 0.95.
        seed: base seed of the bootstrap. Defaults to 0.

    Returns:
        One row per group: the ``by`` columns, ``uncertainty``, ``n`` (rows), ``n_cases``, ``n_failed``,
        ``spearman``, ``auroc``, ``aurc``, ``aurc_oracle``, ``aurc_random`` and ``*_low``/``*_high``.
    """
    by = list(by)
    cols = [*by, "uncertainty", "n", "n_cases", "n_failed", "spearman", "spearman_low", "spearman_high"]
    cols += [
        "auroc",
        "auroc_low",
        "auroc_high",
        "aurc",
        "aurc_low",
        "aurc_high",
        "aurc_oracle",
        "aurc_random",
    ]
    if cases.empty or uncertainty not in cases.columns:
        return pd.DataFrame(columns=cols)
    data = cases.assign(_u=pd.to_numeric(cases[uncertainty], errors="coerce"))
    data = data.assign(_d=pd.to_numeric(data["dice"], errors="coerce")).dropna(subset=["_u", "_d"])
    rows = []
    alpha = (1 - confidence) / 2
    for key, g in data.groupby(by, dropna=False, sort=True):
        u, d = g["_u"].to_numpy(), g["_d"].to_numpy()
        stats = _scores(u, d, threshold)
        row = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        row.update(
            uncertainty=uncertainty,
            n=len(g),
            n_cases=g["case_id"].nunique(),
            n_failed=int((d < threshold).sum()),
        )
        row.update(stats)
        row["aurc_oracle"] = aurc(1 - d, 1 - d)
        row["aurc_random"] = float(np.mean(1 - d)) if len(d) else float("nan")
        boot = _bootstrap(
            g, threshold, n_resamples, derive_rng(seed, "failure_detection", *map(str, row.values()))
        )
        for name in ("spearman", "auroc", "aurc"):
            vals = boot[name][np.isfinite(boot[name])] if len(boot[name]) else boot[name]
            ok = len(vals) >= max(10, n_resamples // 2)
            row[f"{name}_low"] = float(np.quantile(vals, alpha)) if ok else float("nan")
            row[f"{name}_high"] = float(np.quantile(vals, 1 - alpha)) if ok else float("nan")
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def _scores(u: np.ndarray, d: np.ndarray, threshold: float) -> dict[str, float]:
    return {"spearman": spearman(u, d), "auroc": failure_auroc(u, d < threshold), "aurc": aurc(u, 1 - d)}


def _bootstrap(
    g: pd.DataFrame, threshold: float, n_resamples: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Resample case ids (each with all its seed rows) and recompute the three scores.

    Vectorised over resamples: a resample is a weight per row (how often its case was drawn), and
    :func:`weighted_scores` computes the scores of the weight-expanded table exactly.
    """
    if n_resamples <= 0:
        return {k: np.empty(0) for k in ("spearman", "auroc", "aurc")}
    codes, ids = pd.factorize(g["case_id"])
    picks = rng.integers(0, len(ids), (n_resamples, len(ids)))
    counts = np.zeros((n_resamples, len(ids)))
    np.add.at(counts, (np.arange(n_resamples)[:, None], picks), 1.0)
    return weighted_scores(g["_u"].to_numpy(float), g["_d"].to_numpy(float), counts[:, codes], threshold)


def weighted_scores(
    u: np.ndarray, dice: np.ndarray, weights: np.ndarray, threshold: float = FAILURE_DICE
) -> dict[str, np.ndarray]:
    """Spearman, AUROC and AURC of the table where row ``i`` appears ``weights[b, i]`` times, per ``b``.

    Equal to the scalar functions on ``np.repeat(rows, weights[b])`` (ties, including the copies a
    resample makes, handled the same way); used by the bootstrap so that 1,000 resamples cost a few
    matrix products instead of 1,000 Python-level recomputations.

    Args:
        u: uncertainty per row, shape ``(n,)``.
        dice: Dice per row, shape ``(n,)``.
        weights: non-negative integer counts, shape ``(B, n)``.
        threshold: failure threshold on Dice.

    Returns:
        ``{"spearman", "auroc", "aurc"}``, each of shape ``(B,)`` (NaN where undefined).
    """
    w = np.asarray(weights, dtype=np.float64)
    total = w.sum(axis=1)
    risk = 1.0 - dice
    failed = dice < threshold
    with np.errstate(invalid="ignore", divide="ignore"):
        # AUROC: sum over (failed, ok) copy pairs of [u_f > u_o] + 1/2 [u_f == u_o]
        beats = (u[:, None] > u[None, :]) + 0.5 * (u[:, None] == u[None, :])
        wf, wo = w * failed, w * ~failed
        auroc = np.einsum("bi,ij,bj->b", wf, beats, wo) / (wf.sum(axis=1) * wo.sum(axis=1))
        # Spearman: average ranks of the expanded multiset, then a weighted Pearson correlation
        ranks = [
            w @ (v[None, :] < v[:, None]).T + (w @ (v[None, :] == v[:, None]).T + 1) / 2 for v in (u, dice)
        ]
        centred = [r - (w * r).sum(axis=1, keepdims=True) / total[:, None] for r in ranks]
        cov = (w * centred[0] * centred[1]).sum(axis=1)
        var = [(w * c**2).sum(axis=1) for c in centred]
        spearman = np.where(
            (total >= 3) & (var[0] > 0) & (var[1] > 0), cov / np.sqrt(var[0] * var[1]), np.nan
        )
        # AURC: per tie block of m copies after K more certain ones, sum_t (R_prev + t S/m) / (K + t)
        _, block = np.unique(u, return_inverse=True)
        onehot = np.eye(block.max() + 1)[block]
        m, s = w @ onehot, (w * risk) @ onehot
        k_before, r_before = np.cumsum(m, axis=1) - m, np.cumsum(s, axis=1) - s
        harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, int(total.max()) + 1))])
        d_h = harmonic[(k_before + m).astype(int)] - harmonic[k_before.astype(int)]
        mean_risk = np.where(m > 0, s / np.where(m > 0, m, 1), 0.0)
        aurc = (r_before * d_h + mean_risk * (m - k_before * d_h)).sum(axis=1) / total
    auroc = np.where(np.isfinite(auroc), auroc, np.nan)
    return {"spearman": spearman, "auroc": auroc, "aurc": np.where(total > 0, aurc, np.nan)}


def _tie_blocks(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted values: each position's tie-block index, and the block boundaries ``[0, ..., n]``."""
    new = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    starts = np.flatnonzero(new)
    return np.cumsum(new) - 1, np.r_[starts, len(sorted_values)]


def _finite_pairs(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired values differ in length: {x.shape} vs {y.shape}")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]
