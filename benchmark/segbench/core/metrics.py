"""The metric table: one entry per per-case metric, read by the worker, store, exports and report.

Why a table: adding a metric used to touch five files plus a manual schema migration.  Now the
worker fills every entry from its ``source`` (``segbench.worker.evaluate.case_metrics`` computes the
``"mask"`` entries, one function per name, and refuses a table entry without one), the store creates a
column per entry, the exports write them and the report offers them in its metric switch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["CASE_META_FIELDS", "METRICS", "MetricSpec", "metric"]


@dataclass(frozen=True)
class MetricSpec:
    """One per-case metric.

    Attributes:
        name: column name in the store, the exports and the report.
        dtype: SQLite/pandas type: ``"real"`` or ``"integer"``.
        direction: ``"higher"`` when larger is better, ``"lower"`` when smaller is, ``None`` for
            counts that are not scores.
        unit: display unit (``""`` for unitless, ``"mm"``, ``"voxels"``).
        title: human-readable name for the report.
        score: whether the report may rank models by it (leaderboard metric switch).
        valid: the closed range a value may take (``inf`` allowed where it is the upper end, e.g. a
            distance when one mask is empty); the store refuses a shard outside it, the gate a
            baseline outside it.  NaN/None (undefined) is always allowed.
        source: where the worker gets the value: ``"mask"`` (the predicted mask against the
            reference), ``"probabilities"`` (the prediction's uncertainty) or ``"case"`` (the
            test image's own meta).
    """

    name: str
    dtype: Literal["real", "integer"]
    direction: Literal["higher", "lower"] | None
    unit: str
    title: str
    score: bool = False
    valid: tuple[float, float] = (-math.inf, math.inf)
    source: Literal["mask", "probabilities", "case"] = "mask"

    def out_of_range(self, value: float | int | None) -> bool:
        """Whether ``value`` lies outside :attr:`valid` (NaN and None never do)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        low, high = self.valid
        return not low <= value <= high


_UNIT = (0.0, 1.0)
_NONNEG = (0.0, math.inf)

METRICS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec("dice", "real", "higher", "", "Dice", score=True, valid=_UNIT),
    MetricSpec("hd95", "real", "lower", "mm", "HD95", score=True, valid=_NONNEG),
    MetricSpec("nsd", "real", "higher", "", "NSD", score=True, valid=_UNIT),
    MetricSpec("tp", "integer", None, "voxels", "true positives", valid=_NONNEG),
    MetricSpec("fp", "integer", None, "voxels", "false positives", valid=_NONNEG),
    MetricSpec("fn", "integer", None, "voxels", "false negatives", valid=_NONNEG),
    MetricSpec("n_ref", "integer", None, "voxels", "reference size", valid=_NONNEG),
    MetricSpec("n_pred", "integer", None, "voxels", "prediction size", valid=_NONNEG),
    # per-case uncertainty of the prediction (segbench.metrics.uncertainty); NULL when not measured
    MetricSpec("entropy", "real", None, "bits", "predictive entropy", source="probabilities"),
    MetricSpec("disagreement", "real", None, "", "ensemble disagreement", source="probabilities"),
    MetricSpec("tta_variance", "real", None, "", "TTA variance", source="probabilities"),
)

CASE_META_FIELDS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec("complexity_kl", "real", "higher", "bits", "LBP-KL (study's formula)", source="case"),
    MetricSpec("complexity_jsd", "real", "higher", "bits", "LBP Jensen-Shannon divergence", source="case"),
    MetricSpec("fbr", "real", None, "", "foreground ratio", valid=_UNIT, source="case"),
)
"""Per-case properties of the test image (not of the prediction), stored beside the metrics."""


def metric(name: str) -> MetricSpec:
    """The entry called ``name`` (metrics and case fields); ``KeyError`` naming the known ones."""
    for spec in (*METRICS, *CASE_META_FIELDS):
        if spec.name == name:
            return spec
    known = ", ".join(s.name for s in (*METRICS, *CASE_META_FIELDS))
    raise KeyError(f"unknown metric {name!r}; known: {known}")
