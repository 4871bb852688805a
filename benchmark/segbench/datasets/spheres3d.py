"""Synthetic 3D spheres of the context vs foreground-ratio study.

One bright sphere (intensity 1.0) in uniform noise ``[0, 0.8)``.  Training radii come from a
narrow range and test radii from a wider one, so the test set contains foreground ratios
(FBR) never seen in training: a built-in FBR shift whose effect the study measures against
the patch size (context) a model was trained with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from segbench.cases import Case, DatasetSplits
from segbench.datasets.memory import memory_problem
from segbench.metrics.complexity import foreground_ratio
from segbench.registry import register_dataset

__all__ = ["build", "sphere_case"]

# Intensities of the study: noise in [0, 0.8), sphere exactly 1.0 (brighter than any noise).
_NOISE_MAX = 0.8
_SPHERE_VALUE = 1.0
# Below ~sqrt(3)/2 a sphere may contain no voxel centre at all.
_MIN_RADIUS = 1.0


@register_dataset("spheres3d", dims=3, generated=True, check=lambda params: _check(params))
def build(
    rng: np.random.Generator,
    complexity: float | None = None,
    *,
    size: int = 96,
    n_train: int = 40,
    n_val: int = 10,
    n_test: int = 40,
    train_radius: tuple[float, float] = (25.0, 35.0),
    test_radius: tuple[float, float] = (5.0, 48.0),
) -> DatasetSplits:
    """Noise volumes with one sphere; test radii span a wider range than training (FBR shift).

    Radii are drawn uniformly from ``[low, high)``; train and val use ``train_radius``, test
    uses ``test_radius``.  Each sphere's centre is uniform over the positions that keep it
    fully inside the volume (the centre is the volume centre when the sphere is too big for
    that).  Radii are taken as given, not scaled with ``size``: a CPU suite passes e.g.
    ``size=32, train_radius=(6, 9), test_radius=(2, 14)``.

    Args:
        rng: injected by the runner; the only source of randomness.
        complexity: accepted for the runner's uniform call and ignored: this dataset's
            difficulty knob is the radius range (the FBR), not a scalar.
        size: side of the cubic volume in voxels (>= 8).  Defaults to 96 (the study).
        n_train: training volumes.  Defaults to 40.
        n_val: validation volumes.  Defaults to 10.
        n_test: test volumes.  Defaults to 40.
        train_radius: ``(low, high)`` radius range in voxels of train and val spheres;
            needs ``1 <= low <= high <= size / 2``.  Defaults to ``(25, 35)`` (the study).
        test_radius: ``(low, high)`` radius range of test spheres, same rule.  Defaults to
            ``(5, 48)`` (the study).

    Returns:
        Splits of ``Case``: image float32 ``(size, size, size)``, label uint8 0/1, spacing
        ``(1.0, 1.0, 1.0)``, meta ``radius`` (voxels) and ``fbr`` (foreground / all voxels).
        Case ids ``"train-000"``, ``"val-000"``, ``"test-000"``, ...
    """
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 8:
        raise ValueError(f"size={size!r} must be an integer >= 8")
    for param, value, minimum in (("n_train", n_train, 1), ("n_val", n_val, 1), ("n_test", n_test, 1)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
            raise ValueError(f"{param}={value!r} must be an integer >= {minimum}")
    train_range = _check_radius("train_radius", train_radius, size)
    test_range = _check_radius("test_radius", test_radius, size)

    # One seed per split so changing e.g. n_test leaves the training volumes unchanged.
    split_seeds = rng.integers(0, 2**63 - 1, size=3)
    plan = (("train", n_train, train_range), ("val", n_val, train_range), ("test", n_test, test_range))
    out: dict[str, list[Case]] = {}
    for (name, count, radii), seed in zip(plan, split_seeds, strict=True):
        split_rng = np.random.default_rng(int(seed))
        out[name] = [sphere_case(f"{name}-{i:03d}", split_rng, size, radii) for i in range(count)]
    return DatasetSplits(out["train"], out["val"], out["test"])


def sphere_case(case_id: str, rng: np.random.Generator, size: int, radius_range: tuple[float, float]) -> Case:
    """One noise volume with a sphere whose radius is uniform in ``radius_range``.

    Args:
        case_id: id of the returned case.
        rng: source of the radius, centre and noise (in that order).
        size: side of the cubic volume.
        radius_range: ``(low, high)`` in voxels, already validated.

    Returns:
        The ``Case`` with meta ``radius`` and ``fbr``.
    """
    low, high = radius_range
    radius = float(rng.uniform(low, high)) if high > low else float(low)
    lo, hi = radius, size - 1 - radius
    # Fully inside when lo <= hi; otherwise (radius within half a voxel of size/2) centre it.
    centre = rng.uniform(lo, hi, size=3) if lo <= hi else np.full(3, (size - 1) / 2.0)
    image = rng.random((size, size, size), dtype=np.float32) * np.float32(_NOISE_MAX)
    axes = [(np.arange(size, dtype=np.float64) - c) ** 2 for c in centre]
    dist2 = axes[0][:, None, None] + axes[1][None, :, None] + axes[2][None, None, :]
    label = (dist2 <= radius**2).astype(np.uint8)
    image[label == 1] = _SPHERE_VALUE
    meta: dict[str, float | str] = {"radius": radius, "fbr": foreground_ratio(label)}
    return Case(case_id, image, label, (1.0, 1.0, 1.0), meta)


def _check(params: dict[str, Any]) -> list[str]:
    """Problems ``segbench validate`` reports before anything runs: counts, radii fit the size."""
    size = params["size"]
    problems = [f"{p}: must be an integer >= 1" for p in ("n_train", "n_val", "n_test") if params[p] < 1]
    if size < 8:
        return [*problems, "size: must be an integer >= 8"]
    for param in ("train_radius", "test_radius"):
        try:
            _check_radius(param, params[param], size)
        except ValueError as exc:
            problems.append(f"{param}: {exc}")
    n = params["n_train"] + params["n_val"] + params["n_test"]
    too_big = memory_problem(n, (size,) * 3, f"{n} volumes of {size}^3", "lower size or the case counts")
    return [*problems, too_big] if too_big else problems


def _check_radius(param: str, value: Sequence[float], size: int) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{param}={value!r} must be two numbers (low, high) in voxels") from None
    if not _MIN_RADIUS <= low <= high <= size / 2:
        raise ValueError(
            f"{param}={value!r} is not allowed for size={size}: need "
            f"{_MIN_RADIUS:g} <= low <= high <= size/2 = {size / 2:g} so the sphere is non-empty "
            "and fits in the volume"
        )
    return low, high
