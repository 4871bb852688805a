"""Per-case evaluation of one model under one eval condition."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segbench.cases import Case, perturb_channels
from segbench.core.records import CaseRecord
from segbench.metrics.distance import hd95, nsd
from segbench.metrics.overlap import confusion, dice
from segbench.plan import EvalCondition
from segbench.suite.validate import IN_DOMAIN
from segbench.worker.infer import Predictor
from segbench.worker.native import mask_rule, scoring_case
from segbench.worker.overlays import save_overlays

__all__ = ["case_metrics", "evaluate_condition", "perturb_cases", "score_cases"]

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
    """Dice, HD95, NSD and counts for one case (empty-mask rules in ``segbench.metrics``)."""
    ref = case.label.astype(bool)
    pred = pred.astype(bool)
    tp, fp, fn = confusion(pred, ref)
    return {
        "dice": dice(pred, ref),
        "hd95": hd95(pred, ref, case.spacing),
        "nsd": nsd(pred, ref, case.spacing, tolerance_mm=nsd_tolerance_mm),
        "tp": int(tp),
        "fp": int(fp),
        "fn": int(fn),
        "n_ref": int(ref.sum()),
        "n_pred": int(pred.sum()),
    }


def evaluate_condition(
    model: torch.nn.Module,
    predictor: Predictor,
    cases: Sequence[Case],
    condition: EvalCondition,
    rng_for: RngFor,
    tta: Sequence[str] = (),
    overlays: Path | None = None,
) -> list[CaseRecord]:
    """One row per test case: metrics, uncertainty, the case's meta, and the perturbation parameters.

    With ``overlays`` (``<results>/overlays/<cond_key>``), the best, median and worst case are also
    drawn there from the very images and masks just scored (:mod:`segbench.worker.overlays`).
    """
    from segbench.worker.probabilities import predict_with_uncertainty

    images, params = perturb_cases(cases, condition, rng_for)
    masks, uncertainty = predict_with_uncertainty(predictor, model, images, tta, mask_rule(cases))
    rows = score_cases(cases, masks, params, uncertainty)
    if overlays is not None:
        save_overlays(overlays, cases, images, masks, rows)
    return rows


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
        values["complexity_kl"] = _float(case.meta.get("complexity_kl"))
        values["complexity_jsd"] = _float(case.meta.get("complexity_jsd"))
        values["fbr"] = _float(case.meta.get("fbr"))
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
