"""The shared vocabulary of every stage (no stage owns it; it imports nothing from segbench).

Why a package of its own: the in-domain marker, the condition columns, the injected model
arguments and the metric table used to be defined in several stages that then imported each
other for constants.  Everything here is plain Python (no numpy/torch), so any module, light or
heavy, may import it without cost or cycles.
"""

from segbench.core.metrics import CASE_META_FIELDS, METRICS, MetricSpec, metric
from segbench.core.vocab import (
    CONDITION_COLUMNS,
    IN_DOMAIN,
    INJECTED_MODEL_ARGS,
    RUNNER_ARGS,
    SEVERITIES,
)

__all__ = [
    "CASE_META_FIELDS",
    "CONDITION_COLUMNS",
    "INJECTED_MODEL_ARGS",
    "IN_DOMAIN",
    "METRICS",
    "RUNNER_ARGS",
    "SEVERITIES",
    "MetricSpec",
    "metric",
]
