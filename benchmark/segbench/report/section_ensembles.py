"""Report section "Do ensembles buy robustness?": each ensemble against its best member.

Per ensemble and training condition (dataset, complexity): mean Dice in-domain and under shift of
the ensemble and of each member model, and the ensemble's paired gain over its best member with a
percentile bootstrap CI over test cases. The case is the unit: each case's Dice is averaged over
training seeds (and, under shift, over the shifted conditions) before pairing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from segbench.core import IN_DOMAIN
from segbench.report.sections import Section, _table
from segbench.seeding import derive_rng
from segbench.store.read import json_mapping

__all__ = ["ensemble_gains", "ensembles_section"]

_UNIT = ["dataset", "complexity", "case_id"]


def ensemble_gains(
    cases: pd.DataFrame, jobs: pd.DataFrame, n_resamples: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """One row per (ensemble, dataset, complexity, setting): ensemble and best-member Dice, paired gain + CI.

    Args:
        cases: per-case table (``model`` = label).
        jobs: ``Store.jobs(suite)``; ensemble rows carry their members in ``config``.
        n_resamples: bootstrap resamples. Defaults to 2000.
        seed: bootstrap seed. Defaults to 0.
    """
    members = _members(jobs)
    cols = ["ensemble", "dataset", "complexity", "setting", "n_cases", "ensemble_dice", "best_member"]
    cols += ["best_member_dice", "gain", "gain_low", "gain_high"]
    if not members or cases.empty:
        return pd.DataFrame(columns=cols)
    data = (
        cases[pd.to_numeric(cases.get("test_complexity"), errors="coerce").isna()]
        if "test_complexity" in cases
        else cases
    )
    data = data.assign(dice=pd.to_numeric(data["dice"], errors="coerce"))
    rows = []
    for setting, part in (
        ("in-domain", data[data["perturbation"] == IN_DOMAIN]),
        ("under shift", data[data["perturbation"] != IN_DOMAIN]),
    ):
        if part.empty:
            continue
        wide = part.groupby(["model", *_UNIT], dropna=False)["dice"].mean().unstack("model")
        for label, labels in members.items():
            if label not in wide.columns:
                continue
            for (ds, cx), block in wide.groupby(level=["dataset", "complexity"], dropna=False):
                present = [m for m in labels if m in block.columns and block[m].notna().any()]
                if not present:
                    continue
                best = max(present, key=lambda m: block[m].mean())
                pair = block[[label, best]].dropna()
                diff = (pair[label] - pair[best]).to_numpy()
                low, high = _percentile_ci(
                    diff, n_resamples, derive_rng(seed, "ensemble_gain", label, ds, cx, setting)
                )
                rows.append(
                    {
                        "ensemble": label,
                        "dataset": ds,
                        "complexity": cx,
                        "setting": setting,
                        "n_cases": len(pair),
                        "ensemble_dice": float(pair[label].mean()),
                        "best_member": best,
                        "best_member_dice": float(pair[best].mean()),
                        "gain": float(diff.mean()) if len(diff) else np.nan,
                        "gain_low": low,
                        "gain_high": high,
                    }
                )
    return pd.DataFrame(rows, columns=cols)


def ensembles_section(cases: pd.DataFrame, jobs: pd.DataFrame) -> Section | None:
    """The section, or None when the suite defines no ensemble."""
    table = ensemble_gains(cases, jobs)
    if table.empty:
        return None
    sec = Section("ensembles", "Do ensembles buy robustness?")
    sec.notes.append(
        "Each ensemble averages its members' probabilities (stored checkpoints, no retraining). Gain: "
        "ensemble minus its best member (highest mean Dice in that setting), paired over test cases "
        "(seed-averaged; under shift also averaged over the shifted conditions), with a 95% percentile "
        "bootstrap CI; a CI above 0 means the ensemble is better than every member there."
    )
    cols = {c: c.replace("_", " ") for c in table.columns}
    sec.tables.append(_table(table, cols, "ensemble-gains"))
    return sec


def _members(jobs: pd.DataFrame) -> dict[str, list[str]]:
    """Ensemble label -> member model labels, from the ensemble jobs' stored config."""
    out: dict[str, list[str]] = {}
    if jobs.empty or "config" not in jobs.columns:
        return out
    for label, config in zip(jobs["model"], jobs["config"], strict=True):
        record = json_mapping(config) or {}  # parsed by the store's read model (text from a raw table)
        if record.get("members"):
            names = [m["model"] for m in record["members"]]
            out.setdefault(str(label), [])
            out[str(label)] = sorted(set(out[str(label)]) | set(names))
    return out


def _percentile_ci(diff: np.ndarray, n_resamples: int, rng: np.random.Generator) -> tuple[float, float]:
    diff = diff[np.isfinite(diff)]
    if diff.size < 2:
        return np.nan, np.nan
    means = diff[rng.integers(0, diff.size, (n_resamples, diff.size))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))
