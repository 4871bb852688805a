"""Per-case evaluation of one model under one eval condition."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from segbench.cases import Case, perturb_channels
from segbench.core import IN_DOMAIN
from segbench.core.metrics import CASE_META_FIELDS, METRICS
from segbench.core.records import CaseRecord
from segbench.metrics.distance import hd95, nsd
from segbench.metrics.overlap import confusion, dice
from segbench.plan import EvalCondition
from segbench.worker.native import scoring_case

__all__ = ["case_metrics", "perturb_cases", "score_cases"]

RngFor = Callable[[Case], np.random.Generator]


def perturb_cases(
    cases: Sequence[Case], condition: EvalCondition, rng_for: RngFor
) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
    """Test images under ``condition`` plus the sampled parameters that rebuild each."""
    name = condition.perturbation
    if condition.test_dataset:  # another dataset: clean, or "<label>+<perturbation>" on top of it
        name = name.partition("+")[2] or IN_DOMAIN
    if name == IN_DOMAIN or condition.test_params:  # clean, or a dataset shift
        return [c.image for c in cases], [{} for _ in cases]
    from segbench.perturbations import apply_perturbation

    images, params = [], []
    for case in cases:
        image, sampled = perturb_channels(
            apply_perturbation,
            name,
            case.image,
            case.label,
            severity=condition.severity,
            rng=rng_for(case),
        )
        images.append(image)
        params.append(sampled)
    return images, params


def case_metrics(pred: np.ndarray, case: Case, nsd_tolerance_mm: float = 1.0) -> dict[str, Any]:
    """Every ``"mask"`` entry of the metric table for one case (empty-mask rules in ``segbench.metrics``)."""
    pair = _MaskPair(pred.astype(bool), case.label.astype(bool), case.spacing, nsd_tolerance_mm)
    return {spec.name: _MASK_METRICS[spec.name](pair) for spec in METRICS if spec.source == "mask"}


@dataclass
class _MaskPair:
    pred: np.ndarray
    ref: np.ndarray
    spacing: tuple[float, ...]
    nsd_tolerance_mm: float

    @cached_property
    def counts(self) -> tuple[int, int, int]:
        tp, fp, fn = confusion(self.pred, self.ref)
        return int(tp), int(fp), int(fn)


#: how each ``"mask"`` metric of ``segbench.core.METRICS`` is computed (a test checks both agree)
_MASK_METRICS: dict[str, Callable[[_MaskPair], float | int]] = {
    "dice": lambda p: dice(p.pred, p.ref),
    "hd95": lambda p: hd95(p.pred, p.ref, p.spacing),
    "nsd": lambda p: nsd(p.pred, p.ref, p.spacing, tolerance_mm=p.nsd_tolerance_mm),
    "tp": lambda p: p.counts[0],
    "fp": lambda p: p.counts[1],
    "fn": lambda p: p.counts[2],
    "n_ref": lambda p: int(p.ref.sum()),
    "n_pred": lambda p: int(p.pred.sum()),
}


def score_cases(
    cases: Sequence[Case],
    masks: Sequence[np.ndarray],
    params: Sequence[dict[str, Any]],
    uncertainty: Sequence[dict[str, Any]],
) -> list[CaseRecord]:
    """Rows for predicted ``masks`` (shared by single models and ensembles).

    A case with a native grid is scored against its original label and spacing
    (``segbench.worker.native``); its mask must then be on that grid.
    """
    rows = []
    for case, mask, sampled, unc in zip(cases, masks, params, uncertainty, strict=True):
        values = {**case_metrics(mask, scoring_case(case)), **unc}
        values.update({spec.name: _float(case.meta.get(spec.name)) for spec in CASE_META_FIELDS})
        rows.append(
            CaseRecord(
                case_id=str(case.case_id),
                values=values,
                meta=json.dumps(_scored_meta(case), default=str),
                perturbation_params=json.dumps(sampled, default=str),
            )
        )
    return rows


def _scored_meta(case: Case) -> dict[str, Any]:
    """The case's meta plus, for real data, where it was scored (the report's Methods says so)."""
    if "distance_unit" not in case.meta:
        return case.meta
    return {**case.meta, "scored_at": "native" if case.native is not None else "model"}


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
