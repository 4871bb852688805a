"""The Provenance section: what ran (train jobs and ensembles counted apart), where, with which versions.

Why apart: ensembles are evaluations of stored checkpoints with a pseudo-seed, not trained networks;
counting them as jobs gave "33 train jobs, seeds 0, 1, 2" for a 24-job suite with seeds 1 and 2.
"""

from __future__ import annotations

import pandas as pd

from segbench.plan.ensembles import ENSEMBLE_MODEL
from segbench.report.sections import Section
from segbench.store.read import json_mapping

__all__ = ["provenance_section"]


def provenance_section(jobs: pd.DataFrame, suite_yaml: str, cases: pd.DataFrame) -> Section:
    sec = Section("provenance", "Provenance", code=suite_yaml or "(suite definition not stored)")
    if jobs.empty:
        sec.notes.append("No train jobs recorded.")
        return sec
    prov = [p for p in map(json_mapping, jobs["provenance"].dropna()) if p is not None]
    packages: dict[str, set[str]] = {}
    for p in prov:
        for name, version in (p.get("packages") or {}).items():
            packages.setdefault(name, set()).add(str(version))

    def values(key: str) -> str:
        return ", ".join(sorted({str(p.get(key)) for p in prov if p.get(key) is not None})) or "–"

    ens = _is_ensemble(jobs)
    trained, pooled = jobs[~ens], jobs[ens]
    rows = [
        ("train jobs", f"{len(trained)} ({int((trained['status'] == 'trained').sum())} trained)"),
        ("seeds", ", ".join(str(s) for s in sorted(trained["seed"].dropna().astype(int).unique())) or "–"),
    ]
    if len(pooled):  # averaged from stored checkpoints: evaluations, not jobs, and no seed of their own
        rows.append(("ensembles", f"{len(pooled)} (from the train jobs' checkpoints; no training)"))
    rows += [
        ("git commit", values("git_commit")),
        ("device", values("device")),
        ("gpu", values("gpu")),
        ("CPU threads per job", values("torch_threads")),  # CPU numbers depend on it
        ("cpu", values("cpu")),
        ("python", values("python")),
        ("platform", values("platform")),
        ("host", values("host")),
        ("train time (s, total)", f"{jobs['train_seconds'].fillna(0).sum():.1f}"),
        (
            "peak memory (MB, max)",
            f"{jobs['peak_memory_mb'].max():.0f}" if jobs["peak_memory_mb"].notna().any() else "–",
        ),
        ("per-case rows", str(len(cases))),
    ]
    if "seed" in cases and "model" in cases and len(cases):
        k = cases.groupby(cases["model"].astype(str))["seed"].nunique()
        rows.append(("seeds per model (k)", ", ".join(f"{m}: {int(v)}" for m, v in k.items())))
    rows += [(f"package {name}", ", ".join(sorted(v))) for name, v in sorted(packages.items())]
    sec.tables.append(
        {"id": "provenance-table", "columns": ["item", "value"], "rows": [list(r) for r in rows]}
    )
    return sec


def _is_ensemble(jobs: pd.DataFrame) -> pd.Series:
    """Rows of ``Store.jobs`` that are ensembles (averaged checkpoints), not trained networks."""
    if "model_name" not in jobs:
        return pd.Series(False, index=jobs.index)
    return jobs["model_name"].astype(str) == ENSEMBLE_MODEL
