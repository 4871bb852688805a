"""Robustness summaries: seed vs case spread, OOD drop, corruption error (CE/mCE), weighted degradation.

Definitions (all on condition means of ``metric``, a score in [0, 1] where higher is better, e.g. Dice;
"error" means ``1 - metric``):

* **In-domain (ID) mean**: mean over rows with ``perturbation == "none"``; out-of-domain (OOD) = any other
  perturbation, one condition per (perturbation, severity).
* **Absolute drop** ``ID - OOD`` and **relative drop** ``(ID - OOD) / ID``.
* **Corruption error** (Hendrycks & Dietterich 2019, ImageNet-C, where errors are normalised to AlexNet;
  here to a named baseline model, a U-Net by default): for one perturbation
  ``CE = sum_s (1 - metric_model,s) / sum_s (1 - metric_baseline,s)`` over the severities both have;
  ``mCE`` = mean of CE over perturbations. CE = 1 means "as fragile as the baseline", < 1 more robust.
  CE is NaN, with the reason stated, when the baseline has no results for that dataset/complexity, or
  its summed error is zero.
* **Severity-weighted degradation** (as ROOD-MRI weights severities): ``sum_s w_s drop_s / sum_s w_s``
  with ``w_s = alpha ** s`` (``alpha = 2/3``), so mild shifts, which are more likely in practice, weigh
  more; reported for the absolute and the relative drop.

Everything here is plain pandas groupby arithmetic: no library computes these summaries on a long table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segbench.core import IN_DOMAIN
from segbench.core.defaults import BASELINE_MODEL

__all__ = ["CONDITION_COLUMNS", "IN_DOMAIN", "RobustnessSummary", "robustness_summary", "seed_case_spread"]

CONDITION_COLUMNS: tuple[str, ...] = ("dataset", "complexity", "perturbation", "severity")
#: the ``perturbation`` value of in-domain rows


@dataclass(frozen=True)
class RobustnessSummary:
    """Three tidy tables at the three levels the quantities live on.

    Attributes:
        by_severity: one row per (model, group, perturbation, severity): ``model``, group columns,
            ``perturbation``, ``severity``, ``id_mean``, ``ood_mean``, ``n_ood`` (non-NaN OOD cases),
            ``abs_drop``, ``rel_drop``, ``baseline_ood_mean``, ``weight`` (``alpha ** severity``).
        by_perturbation: one row per (model, group, perturbation): ``model``, group columns,
            ``perturbation``, ``n_severities``, ``id_mean``, ``ood_mean`` (mean over severities), ``ce``,
            ``ce_reason`` ("" when defined), ``weighted_drop``, ``weighted_rel_drop``.
        by_model: one row per (model, group): ``model``, group columns, ``id_mean``, ``ood_mean`` (mean
            over all OOD conditions), ``mce``, ``n_perturbations`` (CEs averaged), ``mce_reason``,
            ``mean_weighted_drop``, ``mean_weighted_rel_drop`` (means over perturbations).
    """

    by_severity: pd.DataFrame
    by_perturbation: pd.DataFrame
    by_model: pd.DataFrame


def seed_case_spread(
    df: pd.DataFrame, metric: str = "dice", condition: Sequence[str] = CONDITION_COLUMNS
) -> pd.DataFrame:
    """Seed-to-seed spread reported apart from case-to-case spread, per model and condition.

    Why (DESIGN.md §5): a difference between models is only interesting if it exceeds what retraining
    with another seed does; the case SD alone mixes both sources.

    Args:
        df: long per-case table with ``model``, ``seed``, the ``condition`` columns and ``metric``.
        metric: value column (NaN rows dropped). Defaults to ``"dice"``.
        condition: condition columns. Defaults to :data:`CONDITION_COLUMNS`.

    Returns:
        One row per (model, condition): ``model``, condition columns, ``n_seeds``, ``n_cases`` (non-NaN
        rows over all seeds), ``mean`` (of all cases), ``seed_mean_min``, ``seed_mean_max``,
        ``between_seed_sd`` (SD, ddof=1, of the per-seed means; NaN with one seed) and
        ``within_seed_case_sd`` (pooled within-seed case SD: ``sqrt(sum_s (n_s - 1) var_s /
        sum_s (n_s - 1))``).
    """
    keys = ["model", *condition]
    d = df.loc[df[metric].notna(), [*keys, "seed", metric]]
    per_seed = d.groupby([*keys, "seed"], dropna=False, sort=True)[metric].agg(["mean", "var", "count"])
    per_seed["ss"] = per_seed["var"].fillna(0.0) * (per_seed["count"] - 1)
    per_seed["dof"] = per_seed["count"] - 1
    per_seed["total"] = per_seed["mean"] * per_seed["count"]
    g = per_seed.groupby(level=list(range(len(keys))), dropna=False, sort=True)
    out = pd.DataFrame(
        {
            "n_seeds": g["mean"].size(),
            "n_cases": g["count"].sum(),
            "mean": g["total"].sum() / g["count"].sum(),
            "seed_mean_min": g["mean"].min(),
            "seed_mean_max": g["mean"].max(),
            "between_seed_sd": g["mean"].std(ddof=1),
            "within_seed_case_sd": np.sqrt(g["ss"].sum() / g["dof"].sum().replace(0, np.nan)),
        }
    ).reset_index()
    return out


def robustness_summary(
    df: pd.DataFrame,
    metric: str = "dice",
    baseline_model: str = BASELINE_MODEL,
    alpha_weight: float = 2 / 3,
    group: Sequence[str] = ("dataset", "complexity"),
) -> RobustnessSummary:
    """ID vs OOD drop, CE/mCE against ``baseline_model`` and severity-weighted degradation.

    Args:
        df: long per-case table with ``model``, ``perturbation``, ``severity``, the ``group`` columns and
            ``metric`` (a [0, 1] score, higher better).
        metric: value column (NaN rows ignored). Defaults to ``"dice"``.
        baseline_model: model that CE is normalised to (its own CE is 1). Defaults to ``BASELINE_MODEL``.
        alpha_weight: severity weight base, ``w_s = alpha_weight ** s``. Defaults to 2/3 (ROOD-MRI).
        group: columns a model is summarised within. Defaults to ``("dataset", "complexity")``.

    Returns:
        A :class:`RobustnessSummary` (see its attributes for the columns).

    Raises:
        ValueError: if ``alpha_weight`` is not positive.
    """
    if not alpha_weight > 0:
        raise ValueError(f"alpha_weight must be > 0, got {alpha_weight}")
    grp = ["model", *group]
    d = df.loc[df[metric].notna()]
    is_id = d["perturbation"] == IN_DOMAIN
    id_mean = d[is_id].groupby(grp, dropna=False)[metric].mean().rename("id_mean").reset_index()
    sev = (
        d[~is_id]
        .groupby([*grp, "perturbation", "severity"], dropna=False, sort=True)[metric]
        .agg(ood_mean="mean", n_ood="count")
        .reset_index()
    )
    sev = sev.merge(id_mean, on=grp, how="left")
    sev["abs_drop"] = sev["id_mean"] - sev["ood_mean"]
    sev["rel_drop"] = sev["abs_drop"] / sev["id_mean"].where(sev["id_mean"] != 0)
    base = sev.loc[sev["model"] == baseline_model, [*group, "perturbation", "severity", "ood_mean"]]
    sev = sev.merge(
        base.rename(columns={"ood_mean": "baseline_ood_mean"}),
        on=[*group, "perturbation", "severity"],
        how="left",
    )
    sev["weight"] = alpha_weight ** sev["severity"].astype(float)
    by_severity = sev[
        [
            *grp,
            "perturbation",
            "severity",
            "id_mean",
            "ood_mean",
            "n_ood",
            "abs_drop",
            "rel_drop",
            "baseline_ood_mean",
            "weight",
        ]
    ]

    # per-perturbation sums, restricted to severities where each term is defined
    both = sev["ood_mean"].notna() & sev["baseline_ood_mean"].notna()
    work = sev.assign(
        _err=(1.0 - sev["ood_mean"]).where(both),
        _base_err=(1.0 - sev["baseline_ood_mean"]).where(both),
        _w=sev["weight"].where(sev["abs_drop"].notna()),
        _wr=sev["weight"].where(sev["rel_drop"].notna()),
    )
    work["_wd"] = work["_w"] * work["abs_drop"]
    work["_wrd"] = work["_wr"] * work["rel_drop"]
    g = work.groupby([*grp, "perturbation"], dropna=False, sort=True)
    pert = pd.DataFrame(
        {
            "n_severities": g["severity"].nunique(),
            "id_mean": g["id_mean"].first(),
            "ood_mean": g["ood_mean"].mean(),
            "_err": g["_err"].sum(min_count=1),
            "_base_err": g["_base_err"].sum(min_count=1),
            "weighted_drop": g["_wd"].sum(min_count=1) / g["_w"].sum(min_count=1),
            "weighted_rel_drop": g["_wrd"].sum(min_count=1) / g["_wr"].sum(min_count=1),
        }
    ).reset_index()
    pert["ce"] = pert["_err"] / pert["_base_err"].where(pert["_base_err"] > 0)
    has_base = _has_baseline(pert, group, baseline_model)
    pert["ce_reason"] = np.select(
        [~has_base, pert["_base_err"].isna(), pert["_base_err"] <= 0, pert["ce"].isna()],
        [
            f"baseline model {baseline_model!r} has no results for this {'/'.join(group) or 'table'}",
            f"baseline model {baseline_model!r} lacks this perturbation",
            "baseline error is zero",
            "no severities shared with the baseline",
        ],
        default="",
    )
    by_perturbation = pert[
        [
            *grp,
            "perturbation",
            "n_severities",
            "id_mean",
            "ood_mean",
            "ce",
            "ce_reason",
            "weighted_drop",
            "weighted_rel_drop",
        ]
    ]

    gm = by_perturbation.groupby(grp, dropna=False, sort=True)
    model = pd.DataFrame(
        {
            "mce": gm["ce"].mean(),
            "n_perturbations": gm["ce"].count(),
            "mean_weighted_drop": gm["weighted_drop"].mean(),
            "mean_weighted_rel_drop": gm["weighted_rel_drop"].mean(),
            "_reason": gm["ce_reason"].agg(lambda r: next((x for x in r if x), "")),
        }
    ).reset_index()
    ood_all = sev.groupby(grp, dropna=False)["ood_mean"].mean().rename("ood_mean").reset_index()
    model = id_mean.merge(model, on=grp, how="outer").merge(ood_all, on=grp, how="left")
    model["mce_reason"] = np.where(
        model["mce"].isna(), model["_reason"].fillna("no out-of-domain results"), ""
    )
    by_model = (
        model[
            [
                *grp,
                "id_mean",
                "ood_mean",
                "mce",
                "n_perturbations",
                "mce_reason",
                "mean_weighted_drop",
                "mean_weighted_rel_drop",
            ]
        ]
        .sort_values(grp)
        .reset_index(drop=True)
    )
    by_model["n_perturbations"] = by_model["n_perturbations"].fillna(0).astype(int)
    return RobustnessSummary(
        by_severity.reset_index(drop=True), by_perturbation.reset_index(drop=True), by_model
    )


def _has_baseline(pert: pd.DataFrame, group: Sequence[str], baseline_model: str) -> pd.Series:
    """Whether the baseline model has any OOD result in each row's group (NaN group keys match)."""
    if not group:
        return pd.Series(bool((pert["model"] == baseline_model).any()), index=pert.index)
    present = pert.loc[pert["model"] == baseline_model, list(group)].drop_duplicates().assign(_present=True)
    flag = pert[list(group)].merge(present, on=list(group), how="left")["_present"]
    return pd.Series(flag.fillna(False).astype(bool).to_numpy(), index=pert.index)
