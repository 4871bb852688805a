"""3D context-versus-foreground-ratio analysis (issue 5): pure computations, no plotting.

* :func:`has_3d_data` — does the suite have patch sizes other than ``"full"`` or training-crop FBRs?
* :func:`patch_cis` — in-domain Dice per model x patch size with two-level bootstrap CIs.
* :func:`crop_fbr_ranges` — the training-crop FBR range per (model, patch size, dataset).
* :func:`fbr_split` — test cases inside vs outside that range: Dice drop and Mann–Whitney U.

Choices (stated in the report's methods paragraph):

* **Range pooled over seeds.** The training-crop FBR range is ``min..max`` of ``crop_fbr`` pooled over
  every job of a (model, patch size, dataset) — i.e. over seeds (and complexity levels, which 3D
  datasets do not vary). Why: all seeds train on the same volumes (``data_seed`` is fixed) and differ
  only in which random crops they drew, so the pooled range is the FBR range that configuration is
  exposed to; a per-job range from a few dozen crops would move with the seed.
* **One value per test volume.** Dice is averaged over seeds per test case before the split, so each
  test volume counts once and the two groups are independent samples; the test is then the two-sided
  Mann–Whitney U (``scipy.stats.mannwhitneyu``), not a paired test (inside and outside are different
  cases).
* **Degenerate splits** (every case inside, or every case outside, or no recorded FBR) give no drop and
  no p-value; ``status`` says which.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from segbench.core import IN_DOMAIN
from segbench.core.records import TrainRecord
from segbench.stats import hier_group_cis
from segbench.store.read import train_record

__all__ = ["crop_fbr_ranges", "fbr_split", "has_3d_data", "patch_cis", "patch_label"]

_KEYS = ["model", "patch", "dataset"]


def has_3d_data(cases: pd.DataFrame, jobs: pd.DataFrame | None = None) -> bool:
    """True when the suite trains on patches other than ``"full"`` or records training-crop FBR.

    Why not "any test FBR": 2D datasets record the test image's foreground ratio too, and a 2D
    whole-image suite has no training-crop range to compare it with, so the section would be empty.
    """
    if cases.empty:
        return False
    if "patch" in cases and (cases["patch"].astype(str) != "full").any():
        return True
    return jobs is not None and not crop_fbr_ranges(jobs).empty


def patch_label(train_info: str | dict[str, Any] | TrainRecord | None) -> str:
    """``"full"`` or ``"32x32x32"`` from a job's ``train_info`` (record, JSON or dict), as ``Store.cases``."""
    info = train_record(train_info)
    size = info.patch_size if info is not None else None
    return "full" if not size else "x".join(str(int(s)) for s in size)


def patch_cis(
    cases: pd.DataFrame, n_resamples: int = 9999, confidence: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """In-domain Dice per (dataset, model, patch) with two-level CIs (cases, then each model's seeds).

    Why two-level: the mean averages over seeds, and a volume's seed x case rows are not independent
    (issue 19: pooling them as cases made the interval too narrow).

    Args:
        cases: per-case table (raw model labels, ``patch`` column).
        n_resamples: bootstrap resamples. Defaults to 9999.
        confidence: CI level. Defaults to 0.95.
        seed: bootstrap seed. Defaults to 0.

    Returns:
        Columns ``dataset``, ``model``, ``patch``, ``voxels`` (patch voxel count, NaN for "full", used to
        order the x axis), ``estimate``, ``low``, ``high``, ``method``, ``n`` (cases), ``n_seeds``.
    """
    d = _in_domain(cases)
    ci = hier_group_cis(
        d, ["dataset", "model", "patch"], n_resamples=n_resamples, confidence=confidence, seed=seed
    )
    ci = ci.drop(columns=["n", "small_n"]).rename(columns={"n_cases": "n"})
    ci["voxels"] = ci["patch"].map(_voxels)
    return ci.sort_values(["dataset", "model", "voxels"], na_position="last").reset_index(drop=True)


def crop_fbr_ranges(jobs: pd.DataFrame) -> pd.DataFrame:
    """Training-crop FBR range per (model, patch, dataset), pooled over that configuration's jobs.

    Args:
        jobs: ``Store.jobs(suite)`` (columns ``model``, ``dataset``, ``status``, ``train_info``).

    Returns:
        Columns ``model``, ``patch``, ``dataset``, ``n_jobs``, ``n_crops``, ``crop_fbr_min``,
        ``crop_fbr_max``, ``crop_fbr_median``; only configurations with at least one recorded crop.
    """
    rows: list[dict[str, Any]] = []
    cols = [*_KEYS, "n_jobs", "n_crops", "crop_fbr_min", "crop_fbr_max", "crop_fbr_median"]
    if jobs.empty:
        return pd.DataFrame(columns=cols)
    trained = jobs[jobs["status"] == "trained"]
    for _, job in trained.iterrows():
        info = train_record(job["train_info"])  # parsed once by the store's read model
        fbr = [float(v) for v in ((info.crop_fbr if info is not None else None) or []) if v is not None]
        rows.append(
            {"model": job["model"], "patch": patch_label(info), "dataset": job["dataset"], "fbr": fbr}
        )
    if not rows:
        return pd.DataFrame(columns=cols)
    out = []
    for key, grp in pd.DataFrame(rows).groupby(_KEYS, sort=True):
        pooled = np.array([v for lst in grp["fbr"] for v in lst], dtype=float)
        if pooled.size == 0:
            continue
        out.append(
            dict(
                zip(_KEYS, key, strict=True),
                n_jobs=len(grp),
                n_crops=int(pooled.size),
                crop_fbr_min=float(pooled.min()),
                crop_fbr_max=float(pooled.max()),
                crop_fbr_median=float(np.median(pooled)),
            )
        )
    return pd.DataFrame(out, columns=cols)


def fbr_split(cases: pd.DataFrame, ranges: pd.DataFrame) -> pd.DataFrame:
    """Dice of test volumes inside vs outside the training-crop FBR range, per (model, patch, dataset).

    Args:
        cases: per-case table (raw model labels, ``patch``, ``fbr``, ``dice``); only in-domain rows are
            used, averaged over seeds per ``case_id``.
        ranges: output of :func:`crop_fbr_ranges`.

    Returns:
        One row per configuration with test cases: the keys, ``crop_fbr_min``, ``crop_fbr_max``,
        ``n_inside``, ``n_outside``, ``dice_inside``, ``dice_outside``, ``drop`` (inside - outside),
        ``u_statistic``, ``p_value`` (two-sided Mann–Whitney U) and ``status``: ``"ok"``,
        ``"all inside"``, ``"all outside"``, ``"no training-crop FBR"``, ``"no test FBR"`` or
        ``"too few cases"`` (a side with no non-NaN Dice). Drop and p are NaN unless ``"ok"``.
    """
    cols = [
        *_KEYS,
        "crop_fbr_min",
        "crop_fbr_max",
        "n_inside",
        "n_outside",
        "dice_inside",
        "dice_outside",
        "drop",
        "u_statistic",
        "p_value",
        "status",
    ]
    d = _in_domain(cases)
    if d.empty:
        return pd.DataFrame(columns=cols)
    per_case = d.groupby([*_KEYS, "case_id"], dropna=False).agg(dice=("dice", "mean"), fbr=("fbr", "first"))
    per_case = per_case.reset_index().merge(ranges, on=_KEYS, how="left")
    out = []
    for key, grp in per_case.groupby(_KEYS, sort=True):
        row: dict[str, Any] = dict(zip(_KEYS, key, strict=True))
        lo, hi = grp["crop_fbr_min"].iloc[0], grp["crop_fbr_max"].iloc[0]
        row.update(crop_fbr_min=lo, crop_fbr_max=hi, n_inside=0, n_outside=0)
        row.update(dice_inside=np.nan, dice_outside=np.nan, drop=np.nan, u_statistic=np.nan, p_value=np.nan)
        known = grp[grp["fbr"].notna()]
        if pd.isna(lo):
            row["status"] = "no training-crop FBR"
        elif known.empty:
            row["status"] = "no test FBR"
        else:
            inside = known["fbr"].between(lo, hi)
            a = known.loc[inside, "dice"].dropna().to_numpy(float)
            b = known.loc[~inside, "dice"].dropna().to_numpy(float)
            row.update(n_inside=int(inside.sum()), n_outside=int((~inside).sum()))
            if not (~inside).any():
                row["status"] = "all inside"
            elif not inside.any():
                row["status"] = "all outside"
            elif a.size == 0 or b.size == 0:
                row["status"] = "too few cases"
            else:
                res = stats.mannwhitneyu(a, b, alternative="two-sided")
                row.update(
                    dice_inside=float(a.mean()),
                    dice_outside=float(b.mean()),
                    drop=float(a.mean() - b.mean()),
                    u_statistic=float(res.statistic),
                    p_value=float(res.pvalue),
                    status="ok",
                )
        out.append(row)
    return pd.DataFrame(out, columns=cols)


def _in_domain(cases: pd.DataFrame) -> pd.DataFrame:
    same_level = cases["test_complexity"].isna() if "test_complexity" in cases else True
    d = cases[(cases["perturbation"] == IN_DOMAIN) & same_level]
    return d.assign(patch=d["patch"].astype(str)) if "patch" in d else d.assign(patch="full")


def _voxels(label: str) -> float:
    if label == "full":
        return np.nan
    return float(np.prod([int(v) for v in str(label).split("x")]))
