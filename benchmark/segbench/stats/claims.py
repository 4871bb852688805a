"""What a report may claim: the decision table of one suite, harder-shift pooling and marks vs the best.

Why one module: every claim on the page — a † beside a cell, a headline sentence — is a decision, and
decisions are only as good as their *family* (issue 19). Here the family is every model pair x
every condition the page decides on within one (dataset, complexity) block:

* each evaluation condition (perturbation x severity, in-domain included);
* each shift family pooled over its severities (``family:<name>``), for "best under <family>";
* the pooled out-of-domain condition (``ood``): each case's *harder* shift families, each family
  the mean over its severities and the families weighted equally — so a perturbation with five
  severities does not count five times, and a shift that makes the task easier (background blur)
  does not flatter the "drop".

:func:`segbench.stats.architecture_effects` decides them all at once (Holm over the block by default).
Pure: values in (the per-case table, the shift directions), values out.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from segbench.core import IN_DOMAIN
from segbench.seeding import derive_rng
from segbench.stats.architecture import architecture_effects
from segbench.stats.hierarchical import (
    case_seed_tables,
    hier_group_cis,
    own_seed_means,
    tables_by_family,
    two_level_means,
)
from segbench.stats.paired import pairwise_wilcoxon

__all__ = [
    "FAMILY_PREFIX",
    "OOD",
    "decide",
    "decision_table",
    "drop_cis",
    "harder_families",
    "harder_pool",
    "marks_vs_best",
    "rank_intervals",
    "tests_table",
    "worst_case_cis",
]

#: the pooled harder-shift condition's name in the decision table
OOD = "ood"
#: prefix of a shift family pooled over its severities
FAMILY_PREFIX = "family:"


def harder_families(perturbations: Sequence[str], directions: Mapping[str, str]) -> list[str]:
    """The shift families that enter the pooled OOD value: those not marked ``"easier"``."""
    return [p for p in dict.fromkeys(perturbations) if p != IN_DOMAIN and directions.get(p) != "easier"]


def harder_pool(
    shifted: pd.DataFrame, directions: Mapping[str, str], keys: Sequence[str], metric: str = "dice"
) -> pd.DataFrame:
    """Per (keys, seed, case): the mean over harder shift families of each family's severity mean.

    Args:
        shifted: out-of-domain rows (``perturbation != "none"``).
        directions: perturbation -> ``"harder"``/``"easier"``; missing = harder.
        keys: the columns kept (e.g. ``["model", "dataset", "complexity"]``).
        metric: value column. Defaults to ``"dice"``.

    Returns:
        ``keys``, ``seed``, ``case_id``, ``metric`` (NaN-skipping means); empty when no shift is harder.
    """
    keys = list(keys)
    cols = [*keys, "seed", "case_id", metric]
    hard = harder_families(shifted["perturbation"].astype(str).unique().tolist(), directions)
    rows = shifted[shifted["perturbation"].astype(str).isin(hard)]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    unit = [*keys, "seed", "case_id"]
    fam = rows.groupby([*unit, "perturbation"], dropna=False, sort=True)[metric].mean()
    return fam.groupby(level=list(range(len(unit))), dropna=False).mean().reset_index()[cols]


def decision_table(
    same_level: pd.DataFrame, directions: Mapping[str, str], metric: str = "dice"
) -> pd.DataFrame:
    """Every condition the page decides on, stacked as one long table (module docstring).

    Args:
        same_level: in-domain and shifted rows (no cross-complexity rows) with ``model``, ``seed``,
            ``case_id``, ``dataset``, ``complexity``, ``perturbation``, ``severity`` and ``metric``.
        directions: perturbation -> direction.
        metric: value column. Defaults to ``"dice"``.

    Returns:
        The same columns; pooled rows have ``perturbation`` ``"family:<name>"`` or ``"ood"`` and
        ``severity`` 0.
    """
    keys = ["model", "dataset", "complexity"]
    cols = [*keys, "perturbation", "severity", "seed", "case_id", metric]
    base = same_level[cols]
    shifted = base[base["perturbation"] != IN_DOMAIN]
    parts = [base]
    if not shifted.empty:
        multi = shifted.groupby("perturbation")["severity"].nunique()
        fams = shifted[shifted["perturbation"].isin(multi[multi > 1].index)]
        if not fams.empty:  # a one-severity family is already a condition of its own
            pooled = fams.groupby([*keys, "perturbation", "seed", "case_id"], dropna=False)[metric].mean()
            pooled = pooled.reset_index()
            pooled["perturbation"] = FAMILY_PREFIX + pooled["perturbation"].astype(str)
            parts.append(pooled.assign(severity=0)[cols])
        ood = harder_pool(shifted, directions, keys, metric)
        if not ood.empty:
            parts.append(ood.assign(perturbation=OOD, severity=0)[cols])
    return pd.concat(parts, ignore_index=True)


def decide(
    same_level: pd.DataFrame,
    directions: Mapping[str, str],
    alpha: float = 0.05,
    control: str = "holm",
    confidence: float = 0.95,
    metric: str = "dice",
) -> pd.DataFrame:
    """Architecture-level effects of every pair x decided condition, controlled per (dataset, complexity).

    Returns:
        :func:`segbench.stats.architecture_effects` output over :func:`decision_table`.
    """
    table = decision_table(same_level, directions, metric)
    return architecture_effects(table, metric=metric, alpha=alpha, control=control, confidence=confidence)


def marks_vs_best(
    effects: pd.DataFrame, perturbation: str, means: pd.DataFrame, higher_is_better: bool = True
) -> pd.DataFrame:
    """Per (dataset, complexity, model) in one decided condition: is it worse than the block's best?

    The best model is the one with the highest mean in ``means`` (lowest for HD95; ties go to the
    alphabetically first), as the table ranks them; its lead over a model is marked only by a
    *controlled architecture-level* decision (``significant`` in ``effects``) whose effect points
    the same way.

    Args:
        effects: :func:`decide` output.
        perturbation: the decided condition: ``"none"`` (in-domain), ``"ood"`` or ``"family:<name>"``.
        means: ``dataset``, ``complexity``, ``model``, ``mean`` of that condition (the table's values).
        higher_is_better: metric direction. Defaults to True.

    Returns:
        ``dataset``, ``complexity``, ``model``, ``best_model``, ``is_best``, ``significantly_worse``,
        ``p_adj_vs_best``, ``effect_vs_best`` (best - model, mean), ``effect_low``, ``effect_high``,
        ``claim``.
    """
    cols = ["dataset", "complexity", "model", "best_model", "is_best", "significantly_worse"]
    cols += ["p_adj_vs_best", "effect_vs_best", "effect_low", "effect_high", "claim"]
    sub = effects[effects["perturbation"] == perturbation]
    if sub.empty:
        return pd.DataFrame(columns=cols)
    sign = 1.0 if higher_is_better else -1.0
    both = pd.concat(
        [  # effect is a - b; oriented so that positive = "first model better"
            sub.assign(first=sub["model_a"], second=sub["model_b"], e=sign * sub["effect"]),
            sub.assign(
                first=sub["model_b"],
                second=sub["model_a"],
                e=-sign * sub["effect"],
                effect_low=-sub["effect_high"],
                effect_high=-sub["effect_low"],
            ),
        ],
        ignore_index=True,
    )
    if not higher_is_better:
        both["effect_low"], both["effect_high"] = -both["effect_high"], -both["effect_low"]
    rows = []
    ranked = means.dropna(subset=["mean"]).assign(_s=lambda d: sign * d["mean"])
    ranked = ranked.sort_values(["_s", "model"], ascending=[False, True])
    for (ds, cx), block in both.groupby(["dataset", "complexity"], dropna=False, sort=True):
        models = sorted(set(block["first"]))
        same = ranked["complexity"].isna() if pd.isna(cx) else ranked["complexity"] == cx
        top = ranked[(ranked["dataset"] == ds) & same & ranked["model"].isin(models)]
        if top.empty:
            continue
        best = str(top["model"].iloc[0])
        vs = block[block["first"] == best].set_index("second")
        for m in models:
            r = vs.loc[m] if m in vs.index else None
            rows.append(
                {
                    "dataset": ds,
                    "complexity": cx,
                    "model": m,
                    "best_model": best,
                    "is_best": m == best,
                    "significantly_worse": bool(r is not None and r["significant"] and r["e"] > 0),
                    "p_adj_vs_best": np.nan if r is None else r["p_arch_adj"],
                    "effect_vs_best": np.nan if r is None else r["e"],
                    "effect_low": np.nan if r is None else r["effect_low"],
                    "effect_high": np.nan if r is None else r["effect_high"],
                    "claim": "" if r is None else str(r["claim"]),
                }
            )
    return pd.DataFrame(rows, columns=cols)


def rank_intervals(
    df: pd.DataFrame,
    by: Sequence[str],
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    metric: str = "dice",
    higher_is_better: bool = True,
) -> pd.DataFrame:
    """Each model's rank interval: the central ``confidence`` range of its bootstrap rank distribution.

    Resamples draw the cases every model has (shared, so ranks stay paired) and each model's own seeds
    (:func:`segbench.stats.hierarchical.own_seed_means`); rank 1 = best, ties share the lowest rank.
    "rank 1-2" then says the data cannot tell the first two apart, which a bare rank hides.

    Returns:
        ``by`` columns, ``model``, ``rank_low``, ``rank_high``.
    """
    by = list(by)
    cols = [*by, "model", "rank_low", "rank_high"]
    rows = []
    sign = -1.0 if higher_is_better else 1.0
    alpha = (1 - confidence) / 2
    for key_t, tabs in tables_by_family(df, by, metric):
        models = sorted(tabs)
        cases = np.unique(np.concatenate([tabs[m].cases.astype(str) for m in models]))
        ys = []
        for m in models:
            y = np.full((cases.size, tabs[m].values.shape[1]), np.nan)
            y[np.searchsorted(cases, tabs[m].cases.astype(str))] = tabs[m].values
            ys.append(y)
        common = np.logical_and.reduce([(~np.isnan(y)).any(axis=1) for y in ys])
        if not common.any():
            continue
        theta = own_seed_means([y[common] for y in ys], n_resamples, derive_rng(seed, "rank_ci", *key_t))
        ranks = stats.rankdata(np.where(np.isnan(theta), np.inf, sign * theta), axis=1, method="min")
        low = np.quantile(ranks, alpha, axis=0, method="lower")
        high = np.quantile(ranks, 1 - alpha, axis=0, method="higher")
        for j, m in enumerate(models):
            rows.append(
                {
                    **dict(zip(by, key_t, strict=True)),
                    "model": m,
                    "rank_low": int(low[j]),
                    "rank_high": int(high[j]),
                }
            )
    return pd.DataFrame(rows, columns=cols)


def tests_table(
    same_level: pd.DataFrame, effects: pd.DataFrame, zero_method: str = "wilcox", min_pairs: int = 6
) -> pd.DataFrame:
    """``tests.csv``: every decided pair x condition, both kinds of claim side by side.

    ``same_level`` is the table the decisions were taken on (:func:`decision_table`), so pooled rows
    (``family:<name>``, ``ood``) get their Wilcoxon columns too.

    Architecture level (the decision behind † and the headline): ``effect`` (mean of a - b over paired
    cases of per-case seed means), ``effect_low``/``effect_high`` (its architecture-level CI),
    ``significant``, ``claim``, ``p_arch``/``p_arch_adj``. These networks (labelled, for the record):
    the Wilcoxon columns of :func:`segbench.stats.paired.pairwise_wilcoxon` on the real conditions,
    with ``p_holm`` adjusted over the same (dataset, complexity) family as the decisions, and
    ``net_low``/``net_high``.
    """
    keys = [*CONDITION_KEYS, "model_a", "model_b"]
    w = pairwise_wilcoxon(same_level, zero_method=zero_method, min_pairs=min_pairs).drop(
        columns=["p_holm", "n_cases", "p_method"]
    )
    out = effects.rename(columns={"p": "p_holm"}).merge(w, on=keys, how="left")
    out["testable"] = out["testable"].astype("boolean").fillna(False).astype(bool)
    out["n_seeds"] = out[["k_a", "k_b"]].min(axis=1)
    first = [*keys, "n_cases", "k_a", "k_b", "effect", "effect_low", "effect_high", "significant", "claim"]
    return out[first + [c for c in out.columns if c not in first]]


CONDITION_KEYS: tuple[str, ...] = ("dataset", "complexity", "perturbation", "severity")


def drop_cis(
    in_domain: pd.DataFrame,
    pooled: pd.DataFrame,
    keys: Sequence[str],
    metric: str = "dice",
    sign: float = 1.0,
    n_resamples: int = 9999,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Drop = ``sign * (in-domain - pooled harder OOD)`` with the two-level CI of its per-(case, seed) value.

    The drop of one network on one case is its in-domain value minus its pooled harder-shift value
    (:func:`harder_pool`), so the drop is a mean over cases x seeds like any other cell and gets the
    same two-level interval (cases that have both). ``sign = -1`` for lower-is-better metrics (HD95),
    so a positive drop always means "worse under shift".

    Returns:
        ``keys``, ``drop``, ``drop_low``, ``drop_high``, ``drop_small_n``.
    """
    keys = list(keys)
    cols = [*keys, "drop", "drop_low", "drop_high", "drop_small_n"]
    if in_domain.empty or pooled.empty:
        return pd.DataFrame(columns=cols)
    unit = [*keys, "seed", "case_id"]
    ind = in_domain.groupby(unit, dropna=False)[metric].mean().rename("_id").reset_index()
    both = pooled[[*unit, metric]].rename(columns={metric: "_ood"}).merge(ind, on=unit, how="inner")
    both[metric] = sign * (both["_id"] - both["_ood"])
    ci = hier_group_cis(both, keys, metric, n_resamples=n_resamples, confidence=confidence, seed=seed)
    names = {"estimate": "drop", "low": "drop_low", "high": "drop_high", "small_n": "drop_small_n"}
    return ci.rename(columns=names)[cols]


def worst_case_cis(
    shifted: pd.DataFrame,
    keys: Sequence[str],
    metric: str = "dice",
    lower_better: bool = False,
    n_resamples: int = 9999,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Each group's worst shift condition, with a percentile CI of the worst *re-picked in every resample*.

    Why: the worst of many condition means is a selected minimum (winner's curse); its own condition's
    interval ignores the selection. Here every two-level resample (cases and seeds, shared by the
    group's conditions, since the same networks see the same cases under every shift) recomputes all
    condition means and takes their minimum (HD95: maximum), so the interval covers the selection.
    Groups with the same (cases, seeds) shape share draws, as in
    :func:`segbench.stats.hierarchical.hier_group_cis`.

    Returns:
        ``keys``, ``perturbation``, ``severity`` (the worst condition), ``worst_mean``, ``worst_low``,
        ``worst_high``, ``worst_n`` (cases of that condition).
    """
    keys = list(keys)
    cols = [*keys, "perturbation", "severity", "worst_mean", "worst_low", "worst_high", "worst_n"]
    if shifted.empty:
        return pd.DataFrame(columns=cols)
    groups: dict[tuple[object, ...], list] = {}
    for t in case_seed_tables(shifted, [*keys, "perturbation", "severity"], metric):
        norm = tuple("<NaN>" if isinstance(v, float) and np.isnan(v) else v for v in t.key[: len(keys)])
        groups.setdefault(norm, []).append(t)
    cubes = []
    for conds in groups.values():
        cases = np.unique(np.concatenate([t.cases.astype(str) for t in conds]))
        seeds = np.unique(np.concatenate([t.seeds for t in conds]))
        y = np.full((cases.size, seeds.size, len(conds)), np.nan)
        for j, t in enumerate(conds):
            rows = np.searchsorted(cases, t.cases.astype(str))
            y[np.ix_(rows, np.searchsorted(seeds, t.seeds), [j])] = t.values[:, :, None]
        cubes.append((conds, y))
    alpha = (1 - confidence) / 2
    out = []
    buckets: dict[tuple[int, int], list[int]] = {}
    for i, (_, y) in enumerate(cubes):
        buckets.setdefault(y.shape[:2], []).append(i)
    for (n, k), members in buckets.items():
        stack = np.concatenate([cubes[i][1] for i in members], axis=2)
        theta = two_level_means(stack, n_resamples, derive_rng(seed, "worst_case", n, k))
        start = 0
        for i in members:
            conds, y = cubes[i]
            part = theta[:, start : start + y.shape[2]]
            start += y.shape[2]
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                means = np.nanmean(np.nanmean(y, axis=1), axis=0)
                if np.isnan(means).all():
                    continue
                j = int(np.nanargmax(means) if lower_better else np.nanargmin(means))
                worst_b = np.nanmax(part, axis=1) if lower_better else np.nanmin(part, axis=1)
                low, high = np.nanquantile(worst_b, [alpha, 1 - alpha])
            key = conds[j].key
            out.append(
                {
                    **dict(zip(keys, key[: len(keys)], strict=True)),
                    "perturbation": key[len(keys)],
                    "severity": key[len(keys) + 1],
                    "worst_mean": float(means[j]),
                    "worst_low": float(low),
                    "worst_high": float(high),
                    "worst_n": int((~np.isnan(y[:, :, j])).any(axis=1).sum()),
                }
            )
    return pd.DataFrame(out, columns=cols)
