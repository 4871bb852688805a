"""Rigid patient motion during a Cartesian MRI acquisition.

Hand-written: MONAI has no motion transform.  The model is TorchIO's ``RandomMotion`` idea
reduced to translations: k-space lines along the phase-encoding ``axis`` are acquired one after
another (most negative frequency first), and each line carries the phase ramp of the position
the patient held when it was acquired (Fourier shift theorem).  Rotations are left out: they need
resampling, and translations already give the typical blurring and ghosting.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segbench.perturbations.base import perturbation

__all__ = ["motion"]

MOTION_LEVELS = {
    1: {"still_fraction": 0.8, "shift": 3.0},
    2: {"still_fraction": 0.6, "shift": 3.0},
    3: {"still_fraction": 0.4, "shift": 3.0},
    4: {"still_fraction": 0.25, "shift": 3.0},
    5: {"still_fraction": 0.15, "shift": 3.0},
}


def _sample_motion(image: np.ndarray, params: dict[str, Any], rng: np.random.Generator) -> None:
    """Draw the axis, the still window around the k-space centre and the two displacements."""
    axis = int(image.ndim - 1 - rng.integers(2))
    # Share of the still window before the centre; kept away from 0 and 1 so that the window
    # shrinks on both sides (a window edge at the centre would corrupt the lowest frequencies).
    before = float(rng.uniform(0.25, 0.75))
    directions = rng.standard_normal((2, image.ndim))
    directions /= np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-12)
    window = float(params["still_fraction"])
    params["axis"] = axis
    params["times"] = [0.5 - window * before, 0.5 + window * (1.0 - before)]
    params["shifts"] = [[float(v) * float(params["shift"]) for v in row] for row in directions]


@perturbation("motion", levels=MOTION_LEVELS, backend="numpy", sample=_sample_motion)
def motion(image: np.ndarray, label: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """k-space motion artefact: the patient lies still only for part of the scan.

    The patient holds the reference position for ``still_fraction`` of the acquisition, a
    window that contains the k-space centre (so the image is not simply displaced away from its
    label, which would measure registration, not robustness), and is displaced by ``shift``
    voxels before and after it, in two random directions.  Severity shortens the still window,
    so more (and lower, more energetic) frequencies are corrupted.

    Drawn from ``rng`` and stored in ``params``: the phase-encoding ``axis`` (one of the last
    two), where the window sits around the centre (``times``: start and end as fractions of the
    scan) and the two displacements (``shifts``, voxels per axis).  The draws do not depend on
    the severity: one seed corrupts a growing superset of k-space lines the same way, so the
    damage rises strictly with severity for every seed.

    Levels (still_fraction, shift 3 voxels): 0.8, 0.6, 0.4, 0.25, 0.15.
    """
    axis = int(params["axis"])
    start, end = (float(t) for t in params["times"])
    shifts = np.asarray(params["shifts"], dtype=np.float64)
    if not 0 <= axis < image.ndim or shifts.shape != (2, image.ndim):
        raise ValueError(
            f"motion: params (axis {axis}, shifts of shape {shifts.shape}) do not fit an image of "
            f"shape {image.shape}"
        )
    n = image.shape[axis]
    # Acquisition time of each (unshifted-FFT-order) line: linear order, most negative first.
    time = ((np.arange(n) + n // 2) % n + 0.5) / n
    spectrum = np.fft.fftn(image.astype(np.float64))
    freqs = [np.fft.fftfreq(size) for size in image.shape]
    for moved, shift in ((time < start, shifts[0]), (time > end, shifts[1])):
        if not moved.any():
            continue
        ramp = np.zeros([1] * image.ndim)
        for a, (f, t) in enumerate(zip(freqs, shift, strict=True)):
            ramp = ramp + f.reshape([-1 if i == a else 1 for i in range(image.ndim)]) * t
        lines = [slice(None)] * image.ndim
        lines[axis] = moved
        phase = np.broadcast_to(np.exp(-2j * np.pi * ramp), image.shape)
        spectrum[tuple(lines)] *= phase[tuple(lines)]
    return np.fft.ifftn(spectrum).real
