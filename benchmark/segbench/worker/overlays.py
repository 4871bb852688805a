"""The best, median and worst test case of one evaluated condition, as small PNG overlays.

Why: a leaderboard number never shows what a model segmented. After a condition is scored, the
worker writes ``<results>/overlays/<cond_key>/{best,median,worst}.png`` (by the case's Dice) and an
``index.json`` naming the cases; the report links them from the leaderboard cells. Each picture is
drawn from the very image (the case's own perturbation draw) and mask that were just scored, single
models and ensembles alike: no extra prediction, only three small PNGs per condition.

A picture: the (perturbed) image in grey beside the same image with the ground truth outlined in
green and the prediction in magenta; 3D volumes show the axial slice with the most ground truth.
Writing is best-effort: a failure here never fails the evaluation it illustrates.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segbench.paths import OVERLAYS
from segbench.worker.native import scoring_case

__all__ = ["OVERLAYS", "RANKS", "overlay_image", "pick_cases", "save_overlays"]

#: the pictures of a condition, in display order
RANKS = ("best", "median", "worst")
_MIN_SIDE = 128  # small images are enlarged (nearest neighbour) to at least this many pixels
_MAX_SIDE = 256  # large ones are shrunk to at most this


def pick_cases(dice: Sequence[float | None]) -> dict[str, int]:
    """Indices of the best, median and worst case by Dice (undefined Dice left out).

    The median is the lower middle case of the sorted order, so it is a real case, never an average.

    Example:
        >>> pick_cases([0.5, None, 0.9, 0.1])
        {'best': 2, 'median': 0, 'worst': 3}
    """
    ok = [(float(d), i) for i, d in enumerate(dice) if d is not None and not math.isnan(float(d))]
    if not ok:
        return {}
    ok.sort()
    return {"best": ok[-1][1], "median": ok[(len(ok) - 1) // 2][1], "worst": ok[0][1]}


def save_overlays(
    folder: Path,
    cases: Sequence[Any],
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    rows: Sequence[Any],
) -> None:
    """Write the condition's three pictures and ``index.json`` into ``folder`` (best-effort).

    Args:
        folder: ``<results>/overlays/<cond_key>``.
        cases: the condition's test cases (clean: their labels are the ground truth).
        images: the images the model saw (perturbed), in ``cases`` order.
        masks: the predicted masks, in ``cases`` order.
        rows: the condition's ``CaseRecord`` rows (their Dice ranks the cases).
    """
    try:
        picks = pick_cases([r.values.get("dice") for r in rows])
        _save(folder, picks, {i: (cases[i], images[i], masks[i]) for i in set(picks.values())}, rows)
    except Exception as exc:  # a picture must never cost the scores it illustrates
        print(f"segbench: no overlays for {folder.name}: {type(exc).__name__}: {exc}", flush=True)


def overlay_image(image: np.ndarray, label: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``(H, 2W, 3)`` uint8: the image, then the image with ground truth (green) and prediction
    (magenta) outlines. 3D: the slice with the most ground truth (else the most prediction)."""
    image, label, pred = _slice(image, label, pred)
    grey = _grey(image)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    marked = rgb.copy()
    marked[_outline(label)] = (0, 200, 0)
    marked[_outline(pred)] = (230, 0, 230)
    both = _outline(label) & _outline(pred)
    marked[both] = (255, 255, 255)
    return np.concatenate([rgb, marked], axis=1)


def _save(
    folder: Path, picks: dict[str, int], drawn: dict[int, tuple[Any, ...]], rows: Sequence[Any]
) -> None:
    """Write the picked cases' pictures and ``index.json`` (nothing when no case has a Dice)."""
    from PIL import Image

    if not picks:
        return
    folder.mkdir(parents=True, exist_ok=True)
    index = {}
    for rank, i in picks.items():
        case, image, mask = drawn[i]
        truth = scoring_case(case).label  # the label the Dice was computed against (native grid or not)
        picture = Image.fromarray(overlay_image(image, truth, mask))
        picture = picture.resize(_size(picture.size), Image.Resampling.NEAREST)
        _atomic(folder / f"{rank}.png", lambda f, p=picture: p.save(f, format="PNG"))
        index[rank] = {
            "case_id": str(case.case_id),
            "dice": rows[i].values.get("dice"),
            "file": f"{rank}.png",
        }
    text = json.dumps(index, indent=1, default=str)
    _atomic(folder / "index.json", lambda f: f.write(text.encode("utf-8")))


def _slice(image: np.ndarray, label: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, ...]:
    """2D views: the channel axis reduced, and for volumes the most informative axial slice.

    A case scored at native resolution has its label and mask on the file's grid while the image is
    on the model's: the image is brought to the label's grid (nearest neighbour) for the picture.
    """
    pred = np.asarray(pred).reshape(label.shape)
    if image.ndim == label.ndim + 1:  # channel-first
        image = image[:3].transpose(*range(1, image.ndim), 0) if image.shape[0] == 3 else image[0]
    if image.shape[: label.ndim] != label.shape:
        index = np.ix_(*(np.arange(n) * image.shape[i] // n for i, n in enumerate(label.shape)))
        image = image[index]
    if label.ndim == 3:
        amount = label.reshape(label.shape[0], -1).sum(axis=1)
        if not amount.any():
            amount = pred.reshape(pred.shape[0], -1).sum(axis=1)
        z = int(np.argmax(amount))
        image, label, pred = image[z], label[z], pred[z]
    return image, label.astype(bool), pred.astype(bool)


def _grey(image: np.ndarray) -> np.ndarray:
    """Min-max scaled to uint8 (an RGB image is averaged: the outlines need a grey background)."""
    values = image.astype(np.float64)
    if values.ndim == 3:
        values = values.mean(axis=-1)
    lo, hi = np.nanmin(values), np.nanmax(values)
    scaled = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
    return (np.nan_to_num(scaled) * 255).astype(np.uint8)


def _outline(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with a 4-neighbour outside it (a one-pixel contour)."""
    padded = np.pad(mask, 1, constant_values=False)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inner


def _size(size: tuple[int, int]) -> tuple[int, int]:
    """Scale so the shorter side is at least ``_MIN_SIDE`` and the longer at most ``2 * _MAX_SIDE``."""
    w, h = size
    scale = max(1.0, _MIN_SIDE / h)
    scale = min(scale, 2 * _MAX_SIDE / w) if w * scale > 2 * _MAX_SIDE else scale
    return max(1, round(w * scale)), max(1, round(h * scale))


def _atomic(path: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, then rename: no half-written picture."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the pictures from a web server serving the report
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
