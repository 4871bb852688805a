"""Intensity perturbations: gamma contrast, non-linear histogram shift, MRI bias field.

Why together: each remaps intensities without moving anything in space, which tests whether a
model relies on absolute intensity (the runner's min-max scaling undoes only linear changes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segbench.perturbations.base import call_monai, perturbation, sample_noise_seed

__all__ = ["bias_field", "gamma", "histogram_shift"]

GAMMA_LEVELS = {
    1: {"gamma": 1.25},
    2: {"gamma": 1.5},
    3: {"gamma": 2.0},
    4: {"gamma": 2.5},
    5: {"gamma": 3.0},
}
HISTOGRAM_SHIFT_LEVELS = {
    1: {"num_control_points": 5, "strength": 0.2},
    2: {"num_control_points": 5, "strength": 0.4},
    3: {"num_control_points": 5, "strength": 0.6},
    4: {"num_control_points": 5, "strength": 0.8},
    5: {"num_control_points": 5, "strength": 1.0},
}
BIAS_FIELD_LEVELS = {
    1: {"degree": 3, "coeff_max": 0.05},
    2: {"degree": 3, "coeff_max": 0.1},
    3: {"degree": 3, "coeff_max": 0.15},
    4: {"degree": 3, "coeff_max": 0.2},
    5: {"degree": 3, "coeff_max": 0.3},
}


@perturbation("gamma", levels=GAMMA_LEVELS, backend="monai")
def gamma(image: np.ndarray, label: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Gamma contrast change ``x' = ((x - min) / range) ** gamma * range + min``.

    MONAI ``AdjustContrast``; min and max are kept, mid-tones darken (gamma > 1), as with another
    window or display curve.  Deterministic: ``rng`` is not used.

    Levels (gamma): 1.25, 1.5, 2, 2.5, 3.
    """
    from monai.transforms import AdjustContrast

    return call_monai(AdjustContrast(gamma=float(params["gamma"])), image)


@perturbation("histogram_shift", levels=HISTOGRAM_SHIFT_LEVELS, backend="monai", sample=sample_noise_seed)
def histogram_shift(image: np.ndarray, label: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Random monotone piecewise-linear intensity remapping (scanner / protocol differences).

    MONAI ``RandHistogramShift`` draws the control points (seeded from ``params``); the shift
    of each control point from the identity is then scaled by ``strength`` before MONAI applies
    the mapping.  Why the scaling instead of MONAI's "fewer control points = stronger": with the
    same seed every severity bends the same curve further, so damage rises strictly with
    severity for every seed.  The mapping stays monotone and keeps min and max.

    Levels: 5 control points; strength 0.2, 0.4, 0.6, 0.8, 1.0 (1.0 = MONAI's own draw).
    """
    from monai.transforms import RandHistogramShift

    transform = RandHistogramShift(num_control_points=int(params["num_control_points"]), prob=1.0)
    transform.set_random_state(seed=int(params["noise_seed"]))
    transform.randomize()
    reference = np.asarray(transform.reference_control_points, dtype=np.float64)
    drawn = np.asarray(transform.floating_control_points, dtype=np.float64)
    transform.floating_control_points = reference + float(params["strength"]) * (drawn - reference)
    return call_monai(lambda img: transform(img, randomize=False), image)


@perturbation("bias_field", levels=BIAS_FIELD_LEVELS, backend="monai", sample=sample_noise_seed)
def bias_field(image: np.ndarray, label: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Smooth multiplicative MRI bias field ``x * exp(sum_i c_i P_i)`` (coil inhomogeneity).

    MONAI ``RandBiasField`` (Legendre polynomials of ``degree``; coefficients uniform in
    ``[-coeff_max, coeff_max]``, seeded from ``params``).  Symmetric coefficients (MONAI's
    default range is ``(0, 0.1)``) give both brighter and darker regions instead of a mostly
    global brightening, which min-max scaling would undo.  The same seed scales the same field.

    Levels (coeff_max, degree 3): 0.05, 0.1, 0.15, 0.2, 0.3.
    """
    from monai.transforms import RandBiasField

    c = float(params["coeff_max"])
    transform = RandBiasField(degree=int(params["degree"]), coeff_range=(-c, c), prob=1.0)
    transform.set_random_state(seed=int(params["noise_seed"]))
    return call_monai(transform, image)
