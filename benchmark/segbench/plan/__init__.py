"""Suite -> plan: train jobs with their eval conditions (``jobs``), ensembles (``ensembles``), tasks.

Light (no torch): ``validate`` and ``run --dry-run`` import it.  Everything public in ``plan.jobs`` is
importable from ``segbench.plan`` as well.
"""

from segbench.plan import jobs as _jobs
from segbench.plan.jobs import *  # noqa: F403  (the public names of plan.jobs, listed in its __all__)
from segbench.plan.task import Task

__all__ = [*_jobs.__all__, "Task"]
