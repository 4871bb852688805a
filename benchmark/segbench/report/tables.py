"""Pure pandas/stats summaries behind the report (values in, values out; no I/O, no plotting).

Why a separate module: every number the page prints is computed here, so the tests (and
``benchmarks/report_scale.py``) can check and time it without rendering HTML.

Row roles in the per-case table (``Store.cases``):

* **in-domain**: ``perturbation == "none"`` and no ``test_complexity``;
* **out-of-domain (OOD)**: any other perturbation (incl. dataset shifts at severity 0), no
  ``test_complexity``;
* **cross-complexity**: ``test_complexity`` set (trained at ``complexity``, tested at another level);
  neither in- nor out-of-domain, they only feed the train x test heatmap.

A leaderboard *entry* is a model label, or ``"label [patch]"`` when a suite trains a model at several
patch sizes (3D), because each patch size is then a separately trained competitor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from segbench.presets import PRESETS
from segbench.stats import (
    group_cis,
    pairwise_diff_cis,
    pairwise_wilcoxon,
    rank_stability,
    robustness_summary,
    seed_case_spread,
    significantly_worse_than_best,
)
from segbench.stats.entries import with_entries

__all__ = [
    "BOARD_GROUP",
    "CONDITION",
    "StatsSettings",
    "SuiteTables",
    "box_stats",
    "compute_tables",
    "condition_label",
    "cross_complexity",
    "in_out_split",
    "leaderboard",
    "with_entries",
]

CONDITION: list[str] = ["dataset", "complexity", "perturbation", "severity"]
#: one leaderboard block per (dataset, complexity)
BOARD_GROUP: list[str] = ["dataset", "complexity"]


def condition_label(perturbation: str, severity: int) -> str:
    """Human name of a test condition: ``in-domain``, ``harder (speckle s2)``, ``rician s3``.

    The study's named shifts are shown by their preset name, so a reader finds "harder" and
    "easiest" in the figures, not only the perturbation underneath.
    """
    if perturbation == "none":
        return "in-domain"
    base = f"{perturbation} s{int(severity)}" if int(severity) else perturbation
    named = [name for name, pair in PRESETS.items() if pair == (perturbation, int(severity))]
    return f"{named[0]} ({base})" if named else base


@dataclass(frozen=True)
class StatsSettings:
    """Every knob of the statistics, so the methods paragraph can name what was actually used.

    Attributes:
        n_resamples: bootstrap resamples for CIs. Defaults to 9999 (DESIGN.md §5).
        rank_resamples: bootstrap resamples for rank stability. Defaults to 1000.
        diff_resamples: bootstrap resamples for the paired CIs of every model difference in
            ``tests.csv`` (secondary to the per-model CIs; one index matrix per condition). Defaults to 2000.
        confidence: two-sided CI level. Defaults to 0.95.
        alpha: family-wise error rate for the Holm-adjusted mark. Defaults to 0.05.
        zero_method: ``scipy.stats.wilcoxon`` zero handling. Defaults to ``"wilcox"``.
        min_pairs: fewest paired cases for a Wilcoxon test. Defaults to 6.
        seed: base seed of every bootstrap. Defaults to 0.
        severity_weight: ROOD-MRI severity weight base (``w_s = a ** s``). Defaults to 2/3.
    """

    n_resamples: int = 9999
    rank_resamples: int = 1000
    diff_resamples: int = 2000
    confidence: float = 0.95
    alpha: float = 0.05
    zero_method: str = "wilcox"
    min_pairs: int = 6
    seed: int = 0
    severity_weight: float = 2 / 3


@dataclass
class SuiteTables:
    """Everything the page shows, as tidy tables (see :func:`compute_tables`)."""

    cases: pd.DataFrame
    board: pd.DataFrame
    condition_cis: pd.DataFrame
    tests: pd.DataFrame
    worse: pd.DataFrame
    robustness_by_perturbation: pd.DataFrame
    rank_freq: pd.DataFrame
    rank_tau: pd.DataFrame
    spread: pd.DataFrame
    boxes: pd.DataFrame
    cross: pd.DataFrame
    settings: StatsSettings = field(default_factory=StatsSettings)


def in_out_split(cases: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(in-domain rows, out-of-domain rows); cross-complexity rows belong to neither."""
    same_level = cases["test_complexity"].isna()
    in_domain = cases[same_level & (cases["perturbation"] == "none")]
    shifted = cases[same_level & (cases["perturbation"] != "none")]
    return in_domain, shifted


def leaderboard(
    cases: pd.DataFrame, baseline_model: str = "unet", settings: StatsSettings | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Leaderboard per (dataset, complexity) with CIs, drop, corruption error and significance marks.

    In-domain Dice CI: BCa over all in-domain cases of the entry (seeds x cases). OOD Dice: mean over
    all OOD cases pooled across perturbations and severities, with its BCa CI. ``significantly_worse``
    (in-domain) and ``ood_significantly_worse`` (pooled OOD, cases paired on perturbation, severity,
    seed and case id) come from paired Wilcoxon tests against the best entry, Holm-adjusted within the
    (dataset, complexity) block. ``mce`` is the mean corruption error against ``baseline_model``.

    Args:
        cases: per-case table after :func:`with_entries`.
        baseline_model: entry CE is normalised to. Defaults to ``"unet"``.
        settings: statistics settings. Defaults to :class:`StatsSettings`.

    Returns:
        ``(board, id_tests, ood_tests)``: the board (one row per dataset, complexity, model: ``rank``,
        ``id_mean``, ``id_low``, ``id_high``, ``id_method``, ``n_id``, ``ood_mean``, ``ood_low``,
        ``ood_high``, ``n_ood``, ``drop``, ``rel_drop``, ``mce``, ``mce_reason``, ``n_nan``,
        ``significantly_worse``, ``p_holm_vs_best``, ``ood_significantly_worse``) and the two
        pairwise test tables behind the marks.
    """
    s = settings or StatsSettings()
    in_domain, shifted = in_out_split(cases)
    keys = ["model", *BOARD_GROUP]
    id_ci = _cis(in_domain, keys, s, "id")
    ood_ci = _cis(shifted, keys, s, "ood")
    board = id_ci.merge(ood_ci, on=keys, how="outer")
    nan = cases.assign(_nan=cases["dice"].isna()).groupby(keys, dropna=False)["_nan"].sum()
    board = board.merge(nan.rename("n_nan").reset_index(), on=keys, how="left")
    board["drop"] = board["id_mean"] - board["ood_mean"]
    board["rel_drop"] = board["drop"] / board["id_mean"].where(board["id_mean"] != 0)

    robust = robustness_summary(
        pd.concat([in_domain, shifted]),
        baseline_model=baseline_model,
        alpha_weight=s.severity_weight,
        group=BOARD_GROUP,
    )
    board = board.merge(robust.by_model[[*keys, "mce", "mce_reason"]], on=keys, how="left")

    id_tests, id_worse = _tests_and_marks(in_domain, BOARD_GROUP, s)
    pooled = shifted.assign(
        case_id=shifted["perturbation"].astype(str)
        + "/"
        + shifted["severity"].astype(str)
        + "/"
        + shifted["case_id"].astype(str)
    )
    ood_tests, ood_worse = _tests_and_marks(pooled, BOARD_GROUP, s)
    board = board.merge(
        id_worse[[*keys, "significantly_worse", "p_holm_vs_best"]], on=keys, how="left"
    ).merge(
        ood_worse[[*keys, "significantly_worse"]].rename(
            columns={"significantly_worse": "ood_significantly_worse"}
        ),
        on=keys,
        how="left",
    )
    for col in ("significantly_worse", "ood_significantly_worse"):
        board[col] = board[col].astype("boolean").fillna(False).astype(bool)
    board["rank"] = board.groupby(BOARD_GROUP, dropna=False)["id_mean"].rank(ascending=False, method="min")
    board = board.sort_values([*BOARD_GROUP, "rank", "model"], na_position="last").reset_index(drop=True)
    cols = [*BOARD_GROUP, "rank", "model"]
    return board[cols + [c for c in board.columns if c not in cols]], id_tests, ood_tests


def cross_complexity(cases: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """Train-complexity x test-complexity mean metric per (dataset, model), long form.

    The diagonal (test = train) comes from the in-domain rows; the off-diagonal from the
    cross-complexity rows. Empty when the suite has no cross-complexity rows.
    """
    cols = ["dataset", "model", "train_complexity", "test_complexity", metric, "n"]
    if "test_complexity" not in cases or cases["test_complexity"].isna().all():
        return pd.DataFrame(columns=cols)
    rows = cases[cases["perturbation"] == "none"].copy()
    rows["train_complexity"] = rows["complexity"]
    rows["test_complexity"] = rows["test_complexity"].fillna(rows["complexity"])
    out = (
        rows.groupby(["dataset", "model", "train_complexity", "test_complexity"])[metric]
        .agg(["mean", "count"])
        .rename(columns={"mean": metric, "count": "n"})
        .reset_index()
    )
    out.columns = cols
    return out


def box_stats(cases: pd.DataFrame, by: Sequence[str], metric: str = "dice") -> pd.DataFrame:
    """Quartiles, Tukey fences and mean per group, for plotly boxes drawn from precomputed stats.

    Why precomputed: sending every case to the browser makes a 100k-row page tens of MB; five numbers
    per box keep it small and render the same box (whiskers at the most extreme value within
    1.5 IQR of the box).
    """
    d = cases.loc[cases[metric].notna(), [*by, metric]]
    g = d.groupby(list(by), dropna=False)[metric]
    q = g.quantile([0.25, 0.5, 0.75]).unstack()
    q.columns = ["q1", "median", "q3"]
    out = q.join(g.agg(["mean", "count", "min", "max"])).reset_index()
    iqr = out["q3"] - out["q1"]
    lo_lim, hi_lim = out["q1"] - 1.5 * iqr, out["q3"] + 1.5 * iqr
    merged = d.merge(out[[*by]].assign(_lo=lo_lim.to_numpy(), _hi=hi_lim.to_numpy()), on=list(by), how="left")
    inside = merged[(merged[metric] >= merged["_lo"]) & (merged[metric] <= merged["_hi"])]
    fences = inside.groupby(list(by), dropna=False)[metric].agg(lowerfence="min", upperfence="max")
    return out.merge(fences.reset_index(), on=list(by), how="left")


def compute_tables(
    cases: pd.DataFrame, baseline_model: str = "unet", settings: StatsSettings | None = None
) -> SuiteTables:
    """All statistics of one suite's report from its per-case table.

    Args:
        cases: ``Store.cases(suite)`` (non-empty).
        baseline_model: CE baseline (the suite's ``baseline_model``). Defaults to ``"unet"``.
        settings: statistics settings. Defaults to :class:`StatsSettings`.

    Returns:
        A :class:`SuiteTables`.
    """
    s = settings or StatsSettings()
    df = with_entries(cases)
    in_domain, shifted = in_out_split(df)
    same_level = pd.concat([in_domain, shifted])
    board, _, _ = leaderboard(df, baseline_model, s)
    condition_cis = _cis(same_level, ["model", *CONDITION], s, "")
    tests = pairwise_wilcoxon(same_level, zero_method=s.zero_method, min_pairs=s.min_pairs)
    diff_cis = pairwise_diff_cis(
        same_level, n_resamples=s.diff_resamples, confidence=s.confidence, seed=s.seed
    )
    tests = tests.merge(diff_cis, on=[*CONDITION, "model_a", "model_b"], how="left")
    worse = significantly_worse_than_best(same_level, tests, alpha=s.alpha)
    robust = robustness_summary(same_level, baseline_model=baseline_model, alpha_weight=s.severity_weight)
    rank_freq, rank_tau = rank_stability(in_domain, by=BOARD_GROUP, n_resamples=s.rank_resamples, seed=s.seed)
    spread = seed_case_spread(same_level)
    boxes = box_stats(same_level, ["model", *CONDITION])
    return SuiteTables(
        cases=df,
        board=board,
        condition_cis=condition_cis,
        tests=tests,
        worse=worse,
        robustness_by_perturbation=robust.by_perturbation,
        rank_freq=rank_freq,
        rank_tau=rank_tau,
        spread=spread,
        boxes=boxes,
        cross=cross_complexity(df),
        settings=s,
    )


def _cis(df: pd.DataFrame, keys: list[str], s: StatsSettings, prefix: str) -> pd.DataFrame:
    """``group_cis`` with columns renamed ``<prefix>_mean/low/high/method`` and ``n_<prefix>``."""
    ci = group_cis(df, keys, n_resamples=s.n_resamples, confidence=s.confidence, seed=s.seed)
    if not prefix:
        return ci.rename(columns={"estimate": "mean"})
    return ci.rename(
        columns={
            "estimate": f"{prefix}_mean",
            "low": f"{prefix}_low",
            "high": f"{prefix}_high",
            "method": f"{prefix}_method",
            "n": f"n_{prefix}",
        }
    )


def _tests_and_marks(
    df: pd.DataFrame, family: list[str], s: StatsSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pairwise Wilcoxon (Holm within ``family``) and the worse-than-best marks; empty-safe."""
    if df.empty:
        empty = pd.DataFrame(columns=[*family, "model", "significantly_worse", "p_holm_vs_best"])
        return pd.DataFrame(), empty
    tests = pairwise_wilcoxon(df, family=family, zero_method=s.zero_method, min_pairs=s.min_pairs)
    return tests, significantly_worse_than_best(df, tests, family=family, alpha=s.alpha)
