"""Suite -> plan: train jobs with their eval conditions (``jobs``), ensembles (``ensembles``), tasks.

Light (no torch): ``validate`` and ``run --dry-run`` import it.
"""

from segbench.plan.jobs import (
    EVAL_PROTOCOL,
    TRAIN_PROTOCOL,
    EvalCondition,
    TrainJob,
    canonical_json,
    dataset_fingerprint,
    dataset_identity,
    expand,
    job_key,
    patch_size,
)
from segbench.plan.task import Task

__all__ = [
    "EVAL_PROTOCOL",
    "TRAIN_PROTOCOL",
    "EvalCondition",
    "Task",
    "TrainJob",
    "canonical_json",
    "dataset_fingerprint",
    "dataset_identity",
    "expand",
    "job_key",
    "patch_size",
]
