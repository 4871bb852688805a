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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from segbench.core import IN_DOMAIN
from segbench.core.defaults import BASELINE_MODEL
from segbench.core.presets import PRESETS
from segbench.stats import (
    friedman_tables,
    hier_group_cis,
    hier_rank_stability,
    pair_differences,
    robustness_summary,
    seed_case_spread,
    variance_components,
)
from segbench.stats.claims import (
    OOD,
    decide,
    decision_table,
    drop_cis,
    harder_pool,
    marks_vs_best,
    rank_intervals,
    tests_table,
)
from segbench.stats.entries import with_entries
from segbench.store.read import NO_SUITE, SuiteDefinition

__all__ = [
    "BOARD_GROUP",
    "COMPLEXITY_AXES",
    "CONDITION",
    "StatsSettings",
    "SuiteTables",
    "box_stats",
    "compute_tables",
    "condition_label",
    "cross_complexity",
    "in_out_split",
    "leaderboard",
    "measured_complexity",
    "shift_directions",
    "with_entries",
]

CONDITION: list[str] = ["dataset", "complexity", "perturbation", "severity"]
#: one leaderboard block per (dataset, complexity)
BOARD_GROUP: list[str] = ["dataset", "complexity"]
#: what the complexity curves can put on their x axis
COMPLEXITY_AXES: tuple[str, ...] = ("alpha", "complexity_jsd", "complexity_kl")


def condition_label(perturbation: str, severity: int) -> str:
    """Human name of a test condition: ``in-domain``, ``harder (speckle s2)``, ``rician s3``.

    The study's named shifts are shown by their preset name, so a reader finds "harder" and
    "easiest" in the figures, not only the perturbation underneath.
    """
    if perturbation == IN_DOMAIN:
        return "in-domain"
    base = f"{perturbation} s{int(severity)}" if int(severity) else perturbation
    named = [name for name, pair in PRESETS.items() if pair == (perturbation, int(severity))]
    return f"{named[0]} ({base})" if named else base


def shift_directions(perturbations: Iterable[str], suite: SuiteDefinition = NO_SUITE) -> dict[str, str]:
    """Direction (``"harder"``/``"easier"``) of every shift: the suite's override, else the catalogue's.

    The catalogue is the perturbation registration (``direction=``, one place, also read by the
    measured easier/harder display); a suite overrides it per entry (``{name: x, direction: easier}``;
    a preset's override applies to its perturbation).
    """
    from segbench.perturbations.base import shift_direction

    out = {str(p): shift_direction(str(p)) for p in perturbations if str(p) != IN_DOMAIN}
    out.update(suite.directions)
    return out


@dataclass(frozen=True)
class StatsSettings:
    """Every knob of the statistics, so the methods paragraph can name what was actually used.

    Attributes:
        n_resamples: two-level (case, seed) bootstrap resamples for CIs of means. Defaults to 9999
            (DESIGN.md §5).
        rank_resamples: two-level bootstrap resamples for rank stability. Defaults to 2000 (the tau
            5th percentile is only reported from 2,000 on).
        diff_resamples: two-level bootstrap resamples for the paired CIs of every model difference in
            ``tests.csv`` and of the median effect behind each leaderboard mark. Defaults to 2000.
        vc_resamples: two-level bootstrap resamples for the variance-component CIs (only with >= 3
            seeds). Defaults to 1000.
        confidence: two-sided CI level. Defaults to 0.95.
        alpha: error rate of the marks, controlled per (dataset, complexity) family. Defaults to 0.05.
        control: ``"holm"`` (family-wise error) or ``"fdr_bh"`` (false discovery rate) over every
            model pair x decided condition of a (dataset, complexity) block. Defaults to ``"holm"``.
        zero_method: ``scipy.stats.wilcoxon`` zero handling. Defaults to ``"wilcox"``.
        min_pairs: fewest paired cases for a Wilcoxon test. Defaults to 6.
        seed: base seed of every bootstrap. Defaults to 0.
        severity_weight: ROOD-MRI severity weight base (``w_s = a ** s``). Defaults to 2/3.
        complexity_axis: x axis of the Dice-vs-complexity curves: ``"alpha"`` (the generator's knob),
            ``"complexity_jsd"`` (mean LBP Jensen-Shannon divergence of the level's test cases) or
            ``"complexity_kl"`` (the study's LBP-KL). Defaults to ``"alpha"``.
    """

    n_resamples: int = 9999
    rank_resamples: int = 2000
    diff_resamples: int = 2000
    vc_resamples: int = 1000
    confidence: float = 0.95
    alpha: float = 0.05
    control: str = "holm"
    zero_method: str = "wilcox"
    min_pairs: int = 6
    seed: int = 0
    severity_weight: float = 2 / 3
    complexity_axis: str = "alpha"

    def __post_init__(self) -> None:
        if self.control not in ("holm", "fdr_bh"):
            raise ValueError(f"control={self.control!r} is not one of holm, fdr_bh")
        if self.complexity_axis not in COMPLEXITY_AXES:
            raise ValueError(
                f"complexity_axis={self.complexity_axis!r} is not one of {', '.join(COMPLEXITY_AXES)}"
            )


@dataclass
class SuiteTables:
    """Everything the page shows, as tidy tables (see :func:`compute_tables`)."""

    cases: pd.DataFrame
    board: pd.DataFrame
    condition_cis: pd.DataFrame
    tests: pd.DataFrame
    effects: pd.DataFrame
    robustness_by_perturbation: pd.DataFrame
    rank_freq: pd.DataFrame
    rank_tau: pd.DataFrame
    spread: pd.DataFrame
    boxes: pd.DataFrame
    cross: pd.DataFrame
    settings: StatsSettings = field(default_factory=StatsSettings)
    variance: pd.DataFrame = field(default_factory=pd.DataFrame)
    pair_variance: pd.DataFrame = field(default_factory=pd.DataFrame)
    friedman: pd.DataFrame = field(default_factory=pd.DataFrame)
    friedman_ranks: pd.DataFrame = field(default_factory=pd.DataFrame)


def in_out_split(cases: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(in-domain rows, out-of-domain rows); cross-complexity rows belong to neither."""
    same_level = cases["test_complexity"].isna()
    in_domain = cases[same_level & (cases["perturbation"] == IN_DOMAIN)]
    shifted = cases[same_level & (cases["perturbation"] != IN_DOMAIN)]
    return in_domain, shifted


def leaderboard(
    cases: pd.DataFrame,
    baseline_model: str = BASELINE_MODEL,
    settings: StatsSettings | None = None,
    directions: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leaderboard per (dataset, complexity) with CIs, rank intervals, drop, corruption error and marks.

    The test case is the unit (DESIGN.md §5). In-domain Dice: mean over cases of the per-case seed
    means, with the two-level (cases, then seeds) BCa CI of :func:`segbench.stats.hier_group_cis`. OOD
    Dice: each case's *harder* shift families (each the mean over its severities, families weighted
    equally; :func:`segbench.stats.claims.harder_pool`), so the pooled CI resamples cases with their
    conditions together and a shift that makes the task easier does not enter; ``drop`` = in-domain -
    OOD with the two-level CI of the per-case, per-seed difference. Marks (†): architecture-level
    decisions (:func:`segbench.stats.claims.decide`: cases and each model's own seeds, Holm over every
    pair x condition of the block) against the block's best entry; ``mark_note`` says when no
    architecture claim is possible (k < 3 seeds, n < 10 cases). ``mce`` is the mean corruption error
    against ``baseline_model``.

    Args:
        cases: per-case table after :func:`with_entries`.
        baseline_model: entry CE is normalised to. Defaults to ``BASELINE_MODEL``.
        settings: statistics settings. Defaults to :class:`StatsSettings`.
        directions: perturbation -> ``"harder"``/``"easier"`` (:func:`shift_directions`); missing =
            harder.

    Returns:
        ``(board, effects)``: the board (one row per dataset, complexity, model: ``rank``,
        ``rank_low``, ``rank_high``, ``id_mean``, ``id_low``, ``id_high``, ``id_method``, ``n_id``
        (cases), ``n_seeds``, ``id_small_n``, ``ood_mean``, ``ood_low``, ``ood_high``, ``n_ood``,
        ``ood_small_n``, ``drop``, ``drop_low``, ``drop_high``, ``rel_drop``, ``mce``, ``mce_reason``,
        ``n_nan``, ``significantly_worse``, ``mark``, ``mark_note``, ``p_adj_vs_best``,
        ``effect_vs_best``, ``effect_low``, ``effect_high``, ``ood_significantly_worse``,
        ``ood_mark``) and the architecture-level decisions behind the marks.
    """
    s = settings or StatsSettings()
    directions = dict(directions or {})
    in_domain, shifted = in_out_split(cases)
    keys = ["model", *BOARD_GROUP]
    id_ci = _cis(in_domain, keys, s, "id")
    pooled = harder_pool(shifted, directions, keys)
    ood_ci = _cis(pooled, keys, s, "ood").drop(columns="n_seeds_ood", errors="ignore")
    board = id_ci.rename(columns={"n_seeds_id": "n_seeds"}).merge(ood_ci, on=keys, how="outer")
    nan = cases.assign(_nan=cases["dice"].isna()).groupby(keys, dropna=False)["_nan"].sum()
    board = board.merge(nan.rename("n_nan").reset_index(), on=keys, how="left")
    drop = drop_cis(in_domain, pooled, keys, n_resamples=s.n_resamples, confidence=s.confidence, seed=s.seed)
    board = board.merge(drop, on=keys, how="left")
    board["rel_drop"] = board["drop"] / board["id_mean"].where(board["id_mean"] != 0)

    robust = robustness_summary(
        pd.concat([in_domain, shifted]),
        baseline_model=baseline_model,
        alpha_weight=s.severity_weight,
        group=BOARD_GROUP,
    )
    board = board.merge(robust.by_model[[*keys, "mce", "mce_reason"]], on=keys, how="left")

    effects = decide(pd.concat([in_domain, shifted]), directions, s.alpha, s.control, s.confidence)
    id_marks = marks_vs_best(effects, IN_DOMAIN, board.rename(columns={"id_mean": "mean"}))
    ood_marks = marks_vs_best(effects, OOD, board.rename(columns={"ood_mean": "mean"}))
    id_marks = id_marks.rename(columns={"claim": "mark_note"})
    id_cols = [*keys, "significantly_worse", "mark_note", "p_adj_vs_best", "effect_vs_best"]
    board = board.merge(id_marks[[*id_cols, "effect_low", "effect_high"]], on=keys, how="left").merge(
        ood_marks[[*keys, "significantly_worse"]].rename(
            columns={"significantly_worse": "ood_significantly_worse"}
        ),
        on=keys,
        how="left",
    )
    for col in ("significantly_worse", "ood_significantly_worse"):
        board[col] = board[col].astype("boolean").fillna(False).astype(bool)
    board["mark"] = board["significantly_worse"].map({True: "worse", False: ""})
    board["ood_mark"] = board["ood_significantly_worse"].map({True: "worse", False: ""})
    board["mark_note"] = board["mark_note"].where(board["mark_note"] != "architecture", "")
    for col in ("mark", "ood_mark", "mark_note", "id_small_n", "ood_small_n"):
        board[col] = board[col].fillna("").astype(str)
    board["rank"] = board.groupby(BOARD_GROUP, dropna=False)["id_mean"].rank(ascending=False, method="min")
    board = board.merge(rank_intervals(in_domain, BOARD_GROUP, s.rank_resamples, s.seed), on=keys, how="left")
    board = board.sort_values([*BOARD_GROUP, "rank", "model"], na_position="last").reset_index(drop=True)
    cols = [*BOARD_GROUP, "rank", "rank_low", "rank_high", "model"]
    return board[cols + [c for c in board.columns if c not in cols]], effects


def cross_complexity(cases: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """Train-complexity x test-complexity mean metric per (dataset, model), long form.

    The diagonal (test = train) comes from the in-domain rows; the off-diagonal from the
    cross-complexity rows. Empty when the suite has no cross-complexity rows.
    """
    cols = ["dataset", "model", "train_complexity", "test_complexity", metric, "n"]
    if "test_complexity" not in cases or cases["test_complexity"].isna().all():
        return pd.DataFrame(columns=cols)
    rows = cases[cases["perturbation"] == IN_DOMAIN].copy()
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


def measured_complexity(cases: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean measured complexity (``complexity_jsd`` or ``complexity_kl``) of each level's test cases.

    Why per level: the per-image measure is noisy; the level mean over its test cases orders levels
    (the test images are the same for every model and seed, so each case counts once).

    Returns:
        ``dataset``, ``complexity``, ``measured`` (mean over distinct in-domain cases), ``n_cases``;
        empty when the column is absent or has no values.
    """
    cols = ["dataset", "complexity", "measured", "n_cases"]
    if column not in cases.columns:
        return pd.DataFrame(columns=cols)
    in_domain, _ = in_out_split(cases)
    d = in_domain.dropna(subset=[column, "complexity"]).drop_duplicates(["dataset", "complexity", "case_id"])
    if d.empty:
        return pd.DataFrame(columns=cols)
    out = d.groupby(["dataset", "complexity"])[column].agg(measured="mean", n_cases="count").reset_index()
    return out[cols]


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
    cases: pd.DataFrame,
    baseline_model: str = BASELINE_MODEL,
    settings: StatsSettings | None = None,
    directions: Mapping[str, str] | None = None,
) -> SuiteTables:
    """All statistics of one suite's report from its per-case table.

    Args:
        cases: ``Store.cases(suite)`` (non-empty).
        baseline_model: CE baseline (the suite's ``baseline_model``). Defaults to ``BASELINE_MODEL``.
        settings: statistics settings. Defaults to :class:`StatsSettings`.
        directions: shift directions (:func:`shift_directions`); missing = harder.

    Returns:
        A :class:`SuiteTables`.
    """
    s = settings or StatsSettings()
    df = with_entries(cases)
    in_domain, shifted = in_out_split(df)
    same_level = pd.concat([in_domain, shifted])
    board, effects = leaderboard(df, baseline_model, s, directions)
    condition_cis = _cis(same_level, ["model", *CONDITION], s, "")
    tests = tests_table(decision_table(same_level, directions or {}), effects, s.zero_method, s.min_pairs)
    robust = robustness_summary(same_level, baseline_model=baseline_model, alpha_weight=s.severity_weight)
    rank_freq, rank_tau = hier_rank_stability(
        in_domain, by=BOARD_GROUP, n_resamples=s.rank_resamples, seed=s.seed, confidence=s.confidence
    )
    variance = variance_components(
        same_level, ["model", *CONDITION], n_resamples=s.vc_resamples, confidence=s.confidence, seed=s.seed
    )
    pair_variance = variance_components(
        pair_differences(in_domain, BOARD_GROUP),
        [*BOARD_GROUP, "model"],
        n_resamples=s.vc_resamples,
        confidence=s.confidence,
        seed=s.seed,
    )
    friedman, friedman_ranks = _friedman(in_domain, shifted, s)
    return SuiteTables(
        cases=df,
        board=board,
        condition_cis=condition_cis,
        tests=tests,
        effects=effects,
        robustness_by_perturbation=robust.by_perturbation,
        rank_freq=rank_freq,
        rank_tau=rank_tau,
        spread=seed_case_spread(same_level),
        boxes=box_stats(same_level, ["model", *CONDITION]),
        cross=cross_complexity(df),
        settings=s,
        variance=variance,
        pair_variance=pair_variance,
        friedman=friedman,
        friedman_ranks=friedman_ranks,
    )


def _cis(df: pd.DataFrame, keys: list[str], s: StatsSettings, prefix: str) -> pd.DataFrame:
    """Two-level CIs, columns renamed ``<prefix>_mean/low/high/method/small_n``, ``n_<prefix>`` (cases).

    Without a prefix: ``mean``, ``low``, ``high``, ``method``, ``n`` (cases), ``n_seeds``, ``n_rows``,
    ``small_n``.
    """
    ci = hier_group_cis(df, keys, n_resamples=s.n_resamples, confidence=s.confidence, seed=s.seed)
    ci = ci.rename(columns={"n": "n_rows"})
    if not prefix:
        return ci.rename(columns={"estimate": "mean", "n_cases": "n"})
    return ci.drop(columns="n_rows").rename(
        columns={
            "estimate": f"{prefix}_mean",
            "low": f"{prefix}_low",
            "high": f"{prefix}_high",
            "method": f"{prefix}_method",
            "n_cases": f"n_{prefix}",
            "n_seeds": f"n_seeds_{prefix}",
            "small_n": f"{prefix}_small_n",
        }
    )


def _friedman(
    in_domain: pd.DataFrame, shifted: pd.DataFrame, s: StatsSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Friedman + Nemenyi per (dataset, complexity): in-domain, and per perturbation (severities and
    seeds averaged per case)."""
    by = [*BOARD_GROUP, "scope"]
    parts = [in_domain.assign(scope="in-domain")]
    if not shifted.empty:
        parts.append(shifted.assign(scope=shifted["perturbation"].astype(str)))
    return friedman_tables(pd.concat(parts, ignore_index=True), by, alpha=s.alpha)
