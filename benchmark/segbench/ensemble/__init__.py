"""Ensembles without retraining: plan (pure), inference and evaluation (torch, imported lazily).

``segbench.ensemble`` itself imports no torch: ``plan`` is what ``run --dry-run`` and ``validate`` need.
"""

from segbench.plan.ensembles import ENSEMBLE_MODEL, EnsembleJob, expand_ensembles

__all__ = ["ENSEMBLE_MODEL", "EnsembleJob", "expand_ensembles"]
