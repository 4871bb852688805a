"""The Methods sentence on where real data was scored (native grid or the model's) and in which units.

Why from the case rows: each row's meta records ``scored_at`` and ``distance_unit`` as the
worker scored it, so the sentence states what was computed, not what a suite file now says.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from segbench.store.read import json_mapping

__all__ = ["distance_unit", "scoring_paragraph"]


def scoring_paragraph(cases: pd.DataFrame) -> str | None:
    """One paragraph for the Methods section, or None when no row is real data."""
    if cases.empty or "meta" not in cases:
        return None
    metas = [m for m in (_load(v) for v in cases["meta"]) if "distance_unit" in m]
    if not metas:
        return None
    native = sum(m.get("scored_at") == "native" for m in metas)
    units = sorted({str(m["distance_unit"]) for m in metas})
    where = (
        "every real-data case row was scored at native resolution"
        if native == len(metas)
        else f"{native} of {len(metas)} real-data case rows were scored at native resolution"
        if native
        else "real-data case rows were scored on the grid the model saw (score_at: model, or no resize)"
    )
    unit_text = " and ".join(
        {"px": "pixels of the file (2D images carry no spacing)", "mm": "mm"}[u] for u in units
    )
    return (
        f"Scoring of real data: {where}. At native resolution the model's foreground logit (for an ensemble, "
        "its mean probability) is cropped to the image, interpolated bilinearly (trilinearly in 3D, "
        "align_corners=False) back to the file's own grid and thresholded there, and Dice, HD95 and NSD "
        "are computed against the original label with the file's spacing, as nnU-Net and challenges "
        "report; a site used as a dataset shift is scored by the same rule as the training site. "
        f"HD95 and the NSD tolerance are in {unit_text}."
    )


def distance_unit(cases: pd.DataFrame) -> str | None:
    """HD95's unit for a column header: ``"px"`` or ``"mm"`` when real-data rows agree, ``"mm or px"``
    when they mix (each row's meta says), None when no row is real data (synthetic: pixel spacing 1)."""
    if cases.empty or "meta" not in cases:
        return None
    units = {
        str(m["distance_unit"]) for m in (_load(v) for v in cases["meta"].unique()) if "distance_unit" in m
    }
    if not units:
        return None
    return units.pop() if len(units) == 1 else "mm or px"


def _load(value: Any) -> dict[str, Any]:
    """A case row's ``meta`` (JSON text, kept as text in the cases table and its CSV) as a dict."""
    return json_mapping(value) or {}
