"""How close a run comes to the study it reproduces: published vs measured cells, and each finding tested.

Pure computations (values in, values out); :mod:`.section_fidelity` renders and exports them.

* :func:`suite_facts` — what the stored suite YAML says: its ``reference``, model label -> registry name,
  datasets, and the run's scale (image size, images, epochs, seeds) for the "note of scale".
* :func:`match_cases` — tags every per-case row with the reference table it belongs to (dataset name
  and identifying parameters) and its level on that table's axis (complexity, test condition or patch).
* :func:`cell_table` — one row per published-or-measured cell: published value, measured mean with its
  architecture-level CI (cases and seeds), difference.
* :func:`finding_table` — one row per comparison behind a finding: effect ``a - b`` with its
  architecture-level CI and decision (:func:`segbench.stats.architecture.architecture_effects`, Holm
  over all the reference's tests), then :func:`verdict` per finding.

Decisions (never a claim the statistics do not support):

* ``a_better``: *agree* when the architecture-level effect is significant and positive, *disagree* when
  significant and negative, otherwise *not significant at this scale*.
* ``equivalent`` (within ``±margin``): *agree* when the whole CI lies inside the margin, *disagree* when
  it lies entirely outside, otherwise *inconclusive at this scale* — a non-significant difference is not
  evidence of equivalence.
* *not tested*: a model, level or subset is absent from the run, fewer than 3 seeds (no architecture
  claim is possible with k < 3, DESIGN.md §5) or fewer than 10 paired cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segbench.core import IN_DOMAIN
from segbench.core.presets import PRESETS
from segbench.references import FindingTest, Reference, ReferenceTable
from segbench.report import analysis3d
from segbench.stats.architecture import architecture_effects, architecture_means
from segbench.store.read import json_mapping

__all__ = [
    "AGREE",
    "DISAGREE",
    "INCONCLUSIVE",
    "NOT_SIGNIFICANT",
    "NOT_TESTED",
    "SuiteFacts",
    "cell_table",
    "decide",
    "finding_table",
    "match_cases",
    "suite_facts",
    "verdict",
]

AGREE, DISAGREE = "agree", "disagree"
NOT_SIGNIFICANT = "not significant at this scale"
INCONCLUSIVE = "inconclusive at this scale"
NOT_TESTED = "not tested"


@dataclass(frozen=True)
class SuiteFacts:
    """What the fidelity section needs from the stored suite YAML."""

    reference: str | None
    names: dict[str, str] = field(default_factory=dict)  # model label -> registry name
    datasets: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    scale: dict[str, Any] = field(default_factory=dict)


def suite_facts(data: Any) -> SuiteFacts:
    """Read :class:`SuiteFacts` from the suite mapping (anything malformed is skipped, not raised)."""
    if not isinstance(data, dict):
        return SuiteFacts(None)
    ref = data.get("reference") if isinstance(data.get("reference"), str) else None
    names: dict[str, str] = {}
    for m in data.get("models") or []:
        spec = {"name": m} if isinstance(m, str) else m if isinstance(m, dict) else {}
        if isinstance(spec.get("name"), str):
            names[str(spec.get("label") or spec["name"])] = spec["name"]
    datasets = []
    for d in data.get("datasets") or []:
        spec = {"name": d} if isinstance(d, str) else d if isinstance(d, dict) else {}
        if isinstance(spec.get("name"), str):
            datasets.append((spec["name"], dict(spec.get("params") or {})))
    train = data.get("train") if isinstance(data.get("train"), dict) else {}
    scale: dict[str, Any] = {"seeds": len(data.get("seeds") or [1]), "epochs": train.get("epochs", 100)}
    for _, params in datasets[:1]:
        for key in ("size", "n_images", "split", "n_train", "n_test"):
            if key in params:
                scale[key] = params[key]
    return SuiteFacts(ref, names, datasets, scale)


def match_cases(cases: pd.DataFrame, ref: Reference, facts: SuiteFacts, jobs: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``cases`` that fall in a reference table, with ``table``, ``model_ref`` and ``level``.

    A row's dataset matches a table when its registry name is the table's and every parameter the
    table names has that value (the job's stored dataset params, else the suite's only dataset of
    that name). Cross-complexity rows are never matched; the ``complexity`` and ``patch`` axes take
    in-domain rows only.
    """
    if cases.empty:
        return cases.assign(table=pd.Series(dtype=object), model_ref="", level=np.nan)
    params = _dataset_params(cases, facts, jobs)
    base = cases.assign(model_ref=cases["model"].astype(str).map(facts.names), _params=params)
    if "test_complexity" in base:
        base = base[pd.to_numeric(base["test_complexity"], errors="coerce").isna()]
    parts = []
    for t in ref.tables:
        hit = base[(base["dataset"] == t.dataset.name) & base["model_ref"].notna()]
        hit = hit[[_params_match(p, t.dataset.params) for p in hit["_params"]]]
        if hit.empty:
            continue
        levels = hit.apply(lambda r, t=t: _level(r, t), axis=1)
        parts.append(hit.assign(table=t.id, level=levels))
    if not parts:
        return base.iloc[0:0].assign(table=pd.Series(dtype=object), level=np.nan).drop(columns="_params")
    out = pd.concat(parts, ignore_index=True).drop(columns="_params")
    return out[out["level"].notna()]


def cell_table(
    matched: pd.DataFrame, ref: Reference, jobs: pd.DataFrame, raw: pd.DataFrame, confidence: float = 0.95
) -> pd.DataFrame:
    """Published vs measured, one row per (table, model label, level) that either side has.

    Measured Dice: mean over cases of per-case seed means with its architecture-level CI
    (:func:`segbench.stats.architecture.architecture_means`: cases and seeds); ``fbr_drop``
    cells use :func:`segbench.report.analysis3d.fbr_split` (drop and Mann–Whitney p). Rows for models or
    levels only the paper has are left out (the run cannot say anything about them); so are models the
    paper did not train. A level the run has and the paper lacks keeps its row, with no published value.
    """
    cols = ["table", "metric", "model", "model_ref", "level", "published", "measured", "low", "high"]
    cols += ["p_value", "difference", "n_cases", "n_seeds"]
    rows: list[dict[str, Any]] = []
    for t in ref.tables:
        sub = matched[(matched["table"] == t.id) & matched["model_ref"].isin(list(t.rows))]
        if sub.empty:
            continue
        measured = (
            _measured_drop(sub, t, jobs, raw) if t.metric == "fbr_drop" else _measured_dice(sub, confidence)
        )
        for r in measured.to_dict("records"):
            published = _published(t, r["model_ref"], r["level"])
            if published is None and pd.isna(r["measured"]):
                continue  # e.g. an FBR split with every test volume inside the range: nothing to compare
            diff = r["measured"] - published if published is not None else np.nan
            rows.append({"table": t.id, "metric": t.metric, **r, "published": published, "difference": diff})
    out = pd.DataFrame(rows, columns=cols)
    return out.astype({"published": float}) if not out.empty else out


def finding_table(
    matched: pd.DataFrame, ref: Reference, jobs: pd.DataFrame, alpha: float = 0.05, confidence: float = 0.95
) -> pd.DataFrame:
    """One row per finding test: the effect ``a - b`` at the architecture level and the decision.

    All tests of the reference that can run form one multiplicity family (Holm over them), so the
    more findings a reference tests, the stronger each effect must be to count.
    """
    rows, pairs = [], []
    for f in ref.findings:
        for i, test in enumerate(f.tests):
            row: dict[str, Any] = {"finding": f.id, "test": i, **_describe(test), **_untested("")}
            pair, why = _pair_rows(matched, test, jobs)
            if why is None:
                pairs.append(pair.assign(test=len(rows)))
            row["decision"] = f"{NOT_TESTED}: {why}" if why else ""
            rows.append(row)
    effects = (
        architecture_effects(
            pd.concat(pairs, ignore_index=True),
            family=["test"],
            decision_family=(),
            alpha=alpha,
            confidence=confidence,
        )
        if pairs
        else pd.DataFrame(columns=["test"])
    )
    for r in effects.to_dict("records"):
        row, test = rows[int(r["test"])], _test(ref, rows[int(r["test"])])
        row.update({k: r[k] for k in ("effect", "effect_low", "effect_high", "n_cases")})
        row.update(n_seeds=min(int(r["k_a"]), int(r["k_b"])), significant=bool(r["significant"]))
        claim = str(r["claim"])
        row["decision"] = decide(test, row) if claim == "architecture" else f"{NOT_TESTED}: {_why(claim)}"
    for row in rows:
        row["decision"] = row["decision"] or f"{NOT_TESTED}: no paired cases"
    cols = ["finding", "test", "comparison", "expect", "effect", "effect_low", "effect_high", "significant"]
    return pd.DataFrame(rows, columns=[*cols, "n_cases", "n_seeds", "decision"])


def decide(test: FindingTest, r: dict[str, Any]) -> str:
    """The decision for one test from its effect, CI and significance (see the module docstring)."""
    low, high = float(r["effect_low"]), float(r["effect_high"])
    if test.expect == "equivalent":
        m = float(test.margin or 0)
        if -m < low and high < m:
            return AGREE
        return DISAGREE if low >= m or high <= -m else INCONCLUSIVE
    if not r["significant"]:
        return NOT_SIGNIFICANT
    return AGREE if float(r["effect"]) > 0 else DISAGREE


def verdict(decisions: list[str]) -> str:
    """One finding's verdict from its tests: any disagree wins; all agree; else the weakest answer."""
    if any(d == DISAGREE for d in decisions):
        return DISAGREE
    tested = [d for d in decisions if not d.startswith(NOT_TESTED)]
    if not tested:
        return NOT_TESTED
    if all(d == AGREE for d in tested):
        return (
            AGREE if len(tested) == len(decisions) else f"{AGREE} ({len(tested)} of {len(decisions)} tested)"
        )
    return INCONCLUSIVE if INCONCLUSIVE in tested else NOT_SIGNIFICANT


# -- helpers ------------------------------------------------------------------------------------------------
def _dataset_params(cases: pd.DataFrame, facts: SuiteFacts, jobs: pd.DataFrame) -> list[dict[str, Any]]:
    by_key: dict[str, dict[str, Any]] = {}
    if not jobs.empty and "config" in jobs and "job_key" in jobs:
        for key, cfg in zip(jobs["job_key"], map(json_mapping, jobs["config"]), strict=True):
            try:
                by_key[key] = dict(cfg.get("dataset_params") or {}) if cfg is not None else {}
            except (TypeError, ValueError):  # dataset_params that is not a mapping
                continue
    by_name: dict[str, dict[str, Any]] = {}
    for name, params in facts.datasets:
        by_name[name] = params if name not in by_name else {}  # ambiguous name: only the job says
    keys = cases["job_key"] if "job_key" in cases else pd.Series([None] * len(cases), index=cases.index)
    defaults = {d: _defaults(d) for d in cases["dataset"].astype(str).unique()}
    return [
        {**defaults[str(d)], **(by_key.get(k) or by_name.get(d, {}))}
        for k, d in zip(keys, cases["dataset"], strict=True)
    ]


def _defaults(dataset: str) -> dict[str, Any]:
    """The dataset factory's defaults, so ``direction: foreground`` matches a suite that leaves it out."""
    from segbench.registry import DATASETS
    from segbench.suite.params import signature_defaults

    try:
        return signature_defaults(DATASETS.get(dataset))
    except LookupError:
        return {}


def _params_match(params: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(params.get(k) == v for k, v in wanted.items())


def _level(row: pd.Series, t: ReferenceTable) -> Any:
    in_domain = row["perturbation"] == IN_DOMAIN
    if t.axis == "condition":
        if in_domain:
            return "none"
        named = [n for n, pair in PRESETS.items() if pair == (row["perturbation"], int(row["severity"]))]
        return named[0] if named else f"{row['perturbation']} s{int(row['severity'])}"
    if not in_domain:
        return None
    if t.axis == "complexity":
        return None if pd.isna(row["complexity"]) else round(float(row["complexity"]), 6)
    side = _patch_side(row.get("patch"))
    if side is None:
        return None
    if t.volume_side is None:
        return float(side)
    size = (row.get("_params") or {}).get("size")
    return round(side / float(size) * t.volume_side, 6) if isinstance(size, int | float) and size else None


def _patch_side(label: Any) -> int | None:
    parts = str(label).split("x")
    return int(parts[0]) if len(parts) == 3 and len(set(parts)) == 1 and parts[0].isdigit() else None


def _published(t: ReferenceTable, model_ref: str, level: Any) -> float | None:
    values = t.rows.get(model_ref)
    if values is None:
        return None
    for col, v in zip(t.columns, values, strict=True):
        if (isinstance(col, str) and col == level) or (
            not isinstance(col, str) and not isinstance(level, str) and abs(float(col) - float(level)) < 1e-6
        ):
            return float(v)
    return None


def _measured_dice(sub: pd.DataFrame, confidence: float) -> pd.DataFrame:
    ci = architecture_means(sub, by=["model", "model_ref", "level"], confidence=confidence)
    ci = ci.rename(columns={"mean": "measured", "k": "n_seeds"}).assign(p_value=np.nan)
    return ci[["model", "model_ref", "level", "measured", "low", "high", "p_value", "n_cases", "n_seeds"]]


def _measured_drop(
    sub: pd.DataFrame, t: ReferenceTable, jobs: pd.DataFrame, raw: pd.DataFrame
) -> pd.DataFrame:
    """Per model x patch: the within-minus-outside Dice drop of :func:`analysis3d.fbr_split`."""
    split = analysis3d.fbr_split(raw[raw["dataset"] == t.dataset.name], analysis3d.crop_fbr_ranges(jobs))
    levels = sub[["model", "model_ref", "patch", "level"]].drop_duplicates()
    out = levels.merge(split, on=["model", "patch"], how="inner")
    seeds = sub.groupby("model")["seed"].nunique().rename("n_seeds").reset_index()
    out = out.merge(seeds, on="model", how="left").assign(
        measured=out["drop"], low=np.nan, high=np.nan, n_cases=out["n_inside"] + out["n_outside"]
    )
    return out[["model", "model_ref", "level", "measured", "low", "high", "p_value", "n_cases", "n_seeds"]]


def _pair_rows(
    matched: pd.DataFrame, test: FindingTest, jobs: pd.DataFrame
) -> tuple[pd.DataFrame, str | None]:
    """The long table of one test (``model`` is ``"a"`` or ``"b"``), or why it cannot be run."""
    sub = matched[matched["table"] == test.table] if not matched.empty else matched
    if sub.empty:
        return pd.DataFrame(), f"this run has no data for table {test.table}"
    sides = []
    for side, name, level in (
        ("a", test.a, test.at),
        ("b", test.b, test.at if test.b_at is None else test.b_at),
    ):
        rows = sub[(sub["model_ref"] == name) & _level_is(sub["level"], level)]
        if rows.empty:
            return pd.DataFrame(), f"no {name} at {_show(level)} in this run"
        first = sorted(rows["model"].astype(str).unique())[0]  # several labels of one model: the first
        sides.append(rows[rows["model"].astype(str) == first].assign(model=side))
    pair = pd.concat(sides, ignore_index=True).assign(test=0)
    if test.subset == "outside_training_fbr":
        pair = _outside_fbr(pair, jobs)
        if pair.empty:
            return pair, "no test volume outside the training-crop FBR range"
    return pair[["test", "model", "seed", "case_id", "dice"]], None


def _outside_fbr(pair: pd.DataFrame, jobs: pd.DataFrame) -> pd.DataFrame:
    """Cases whose FBR lies outside the training-crop range pooled over the models at that patch size.

    Why pooled over models: a paired comparison needs the same cases on both sides; every model draws
    its crops from the same training volumes, so their ranges differ only by crop sampling.
    """
    ranges = analysis3d.crop_fbr_ranges(jobs)
    want = ranges[
        ranges["patch"].isin(set(pair["patch"].astype(str))) & ranges["dataset"].isin(set(pair["dataset"]))
    ]
    if want.empty or "fbr" not in pair:
        return pair.iloc[0:0]
    lo, hi = float(want["crop_fbr_min"].min()), float(want["crop_fbr_max"].max())
    fbr = pd.to_numeric(pair["fbr"], errors="coerce")
    return pair[fbr.notna() & ~fbr.between(lo, hi)]


def _level_is(levels: pd.Series, level: Any) -> pd.Series:
    if isinstance(level, str):
        return levels.astype(str) == level
    num = pd.to_numeric(levels, errors="coerce")
    return (num - float(level)).abs() < 1e-6


def _describe(test: FindingTest) -> dict[str, str]:
    b_at = test.at if test.b_at is None else test.b_at
    at, b_at = _show(test.at), _show(b_at)
    where = f"{test.table} at {at}" if b_at == at else f"{test.table}, {at} vs {b_at}"
    subset = ", test volumes outside the training FBR range" if test.subset != "all" else ""
    expect = "a > b" if test.expect == "a_better" else f"|a − b| < {test.margin:g}"
    return {"comparison": f"{test.a} − {test.b} ({where}{subset})", "expect": expect}


def _test(ref: Reference, row: dict[str, Any]) -> FindingTest:
    return next(f for f in ref.findings if f.id == row["finding"]).tests[int(row["test"])]


def _why(claim: str) -> str:
    return claim.removeprefix("none: ")


def _show(level: Any) -> str:
    return level if isinstance(level, str) else f"{float(level):g}"


def _untested(why: str) -> dict[str, Any]:
    return {
        "effect": np.nan,
        "effect_low": np.nan,
        "effect_high": np.nan,
        "significant": False,
        "n_cases": 0,
        "n_seeds": 0,
        "decision": f"{NOT_TESTED}: {why}",
    }
