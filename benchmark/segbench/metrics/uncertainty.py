"""Per-case uncertainty from foreground probabilities: entropy, ensemble disagreement, TTA variance.

Why these three: predictive entropy needs only one model; disagreement between ensemble members and
variance across test-time augmentations probe what one forward pass cannot (epistemic spread). Each is
averaged over the *foreground-candidate* voxels — where some prediction gives the foreground at least
``threshold`` probability — because averaging over the whole image lets the (large, confident)
background swamp the value: a missed lesion would then look as certain as a perfect one.

Pure numpy; probabilities are foreground probabilities in ``[0, 1]`` of one case, any shape.
Entropies are in bits (a binary entropy is at most 1 bit).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "CANDIDATE_THRESHOLD",
    "binary_entropy",
    "candidate_mask",
    "case_uncertainty",
    "member_variance",
    "predictive_entropy",
]

#: a voxel is a foreground candidate when some prediction gives it at least this probability
CANDIDATE_THRESHOLD = 0.05


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """``-p log2 p - (1-p) log2 (1-p)`` elementwise, 0 at p = 0 and p = 1 (bits).

    Example:
        >>> binary_entropy(np.array([0.0, 0.5, 1.0])).tolist()
        [0.0, 1.0, 0.0]
    """
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return np.nan_to_num(h, nan=0.0)


def candidate_mask(
    probs: Sequence[np.ndarray] | np.ndarray, threshold: float = CANDIDATE_THRESHOLD
) -> np.ndarray:
    """Voxels where any of ``probs`` (one map, or several: members, augmentations) is >= ``threshold``."""
    stack = np.asarray(probs, dtype=np.float64)
    if stack.ndim == 0:
        raise ValueError("candidate_mask: expected a probability map, got a scalar")
    return stack >= threshold if isinstance(probs, np.ndarray) else (stack >= threshold).any(axis=0)


def predictive_entropy(prob: np.ndarray, candidates: np.ndarray | None = None) -> float:
    """Mean binary entropy of ``prob`` over the candidate voxels (bits, in [0, 1]).

    Args:
        prob: foreground probabilities of one case (the ensemble mean for an ensemble).
        candidates: boolean mask of foreground candidates. Defaults to ``prob >= CANDIDATE_THRESHOLD``.

    Returns:
        The mean entropy over the candidates; when there is no candidate (every voxel confidently
        background) the mean over all voxels, which is then small — the model *is* confident.
    """
    prob = np.asarray(prob, dtype=np.float64)
    mask = candidate_mask(prob) if candidates is None else np.asarray(candidates, dtype=bool)
    h = binary_entropy(prob)
    return float(h[mask].mean() if mask.any() else h.mean())


def member_variance(probs: Sequence[np.ndarray], candidates: np.ndarray | None = None) -> float:
    """Mean over candidate voxels of the variance across ``probs`` (ensemble members or TTA views).

    The population variance (``ddof=0``) of probabilities lies in ``[0, 0.25]``; 0 when all agree.

    Args:
        probs: two or more probability maps of the same case and shape.
        candidates: boolean mask. Defaults to voxels where any map is >= ``CANDIDATE_THRESHOLD``.

    Raises:
        ValueError: fewer than two maps (no spread to measure) or shapes that differ.
    """
    if len(probs) < 2:
        raise ValueError(f"member_variance needs at least two probability maps, got {len(probs)}")
    shapes = {np.shape(p) for p in probs}
    if len(shapes) != 1:
        raise ValueError(f"member_variance: probability maps differ in shape: {sorted(shapes)}")
    stack = np.asarray(probs, dtype=np.float64)
    mask = candidate_mask(list(stack)) if candidates is None else np.asarray(candidates, dtype=bool)
    var = stack.var(axis=0)
    return float(var[mask].mean() if mask.any() else var.mean())


def case_uncertainty(
    prob: np.ndarray,
    members: Sequence[np.ndarray] = (),
    tta: Sequence[np.ndarray] = (),
    threshold: float = CANDIDATE_THRESHOLD,
) -> dict[str, float | None]:
    """The per-case uncertainty fields stored with the metrics.

    Args:
        prob: the prediction's foreground probabilities (for an ensemble, the members' mean).
        members: the ensemble members' maps (empty for a single model: no disagreement).
        tta: maps under each test-time augmentation, mapped back (empty when TTA is off).
        threshold: foreground-candidate threshold. Defaults to ``CANDIDATE_THRESHOLD``.

    Returns:
        ``{"entropy": ..., "disagreement": ... or None, "tta_variance": ... or None}``.
    """
    maps = [prob, *members, *tta]
    candidates = candidate_mask(maps, threshold) if len(maps) > 1 else candidate_mask(prob, threshold)
    return {
        "entropy": predictive_entropy(prob, candidates),
        "disagreement": member_variance(members, candidates) if len(members) >= 2 else None,
        "tta_variance": member_variance([prob, *tta], candidates) if tta else None,
    }
