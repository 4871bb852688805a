"""Noise perturbations: additive Gaussian, multiplicative speckle, Poisson (low dose), Rician (MRI).

Why one file: the four differ only in the noise model; all draw one seed from the job's rng
and rebuild the noise field from it, so ``params`` alone replay the image.

Common random numbers: the seed is drawn the same way at every severity, so for one rng state
the *same* standard-normal field is scaled by the level's strength.  Severity curves of a model
are then smooth (no resampling noise between levels) and damage grows with severity for every
seed, not only on average.  (Poisson counts cannot be rescaled that way; there the levels are far
enough apart that the damage still rises for every seed in practice.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segbench.perturbations.base import call_monai, intensity_span, perturbation, sample_noise_seed

__all__ = ["gaussian_noise", "poisson", "rician", "speckle"]

GAUSSIAN_LEVELS = {
    1: {"sigma": 0.02},
    2: {"sigma": 0.05},
    3: {"sigma": 0.1},
    4: {"sigma": 0.15},
    5: {"sigma": 0.2},
}
# harder = variance 0.1 (severity 2), hardest = variance 0.3 (severity 4): the study's shifts.
SPECKLE_LEVELS = {
    1: {"variance": 0.05},
    2: {"variance": 0.1},
    3: {"variance": 0.2},
    4: {"variance": 0.3},
    5: {"variance": 0.5},
}
POISSON_LEVELS = {
    1: {"peak": 1000.0},
    2: {"peak": 300.0},
    3: {"peak": 100.0},
    4: {"peak": 30.0},
    5: {"peak": 10.0},
}
RICIAN_LEVELS = {
    1: {"sigma": 0.02},
    2: {"sigma": 0.05},
    3: {"sigma": 0.1},
    4: {"sigma": 0.15},
    5: {"sigma": 0.2},
}


@perturbation("gaussian_noise", levels=GAUSSIAN_LEVELS, backend="monai", sample=sample_noise_seed)
def gaussian_noise(image: np.ndarray, label: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Additive zero-mean Gaussian noise (electronic / thermal noise).

    MONAI ``RandGaussianNoise`` (``prob=1``, ``sample_std=False``) seeded from ``params``.
    ``sigma`` is a fraction of the image's intensity range (= absolute std on [0, 1] data).
    No clipping, as in MONAI: the runner min-max scales model inputs afterwards.

    Levels (sigma): 0.02, 0.05, 0.1, 0.15, 0.2.
    """
    from monai.transforms import RandGaussianNoise

    std = float(params["sigma"]) * intensity_span(image)
    transform = RandGaussianNoise(prob=1.0, mean=0.0, std=std, sample_std=False)
    transform.set_random_state(seed=int(params["noise_seed"]))
    return call_monai(transform, image)


@perturbation("speckle", levels=SPECKLE_LEVELS, backend="numpy", sample=sample_noise_seed)
def speckle(image: np.ndarray, label: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Multiplicative speckle noise (ultrasound): ``x + x * n``, ``n ~ N(0, variance)``.

    Hand-written (MONAI has no speckle transform) to follow ``skimage.util.random_noise(mode=
    "speckle", clip=True)``, the usual implementation behind the skip-connection study's
    "harder"/"hardest" shifts: on images in [0, 1] the result equals skimage's for the same
    seed.  Clipping is to ``[min(0, x.min()), max(1, x.max())]`` so images outside [0, 1] are not
    truncated (skimage would clip them to [0, 1]).

    Levels (variance): 0.05, 0.1 (preset ``harder``), 0.2, 0.3 (preset ``hardest``), 0.5.
    """
    # float64 and the same draw as skimage.util.random_noise so both agree bit for bit on [0, 1].
    noise_rng = np.random.default_rng(int(params["noise_seed"]))
    x = image.astype(np.float64)
    noise = noise_rng.normal(0.0, float(params["variance"]) ** 0.5, x.shape)
    out = x + x * noise
    return np.clip(out, min(0.0, float(x.min())), max(1.0, float(x.max())))


@perturbation("poisson", levels=POISSON_LEVELS, backend="numpy", sample=sample_noise_seed)
def poisson(image: np.ndarray, label: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Photon-counting (quantum) noise of a low-dose acquisition.

    Hand-written (MONAI has no Poisson noise): intensities are mapped linearly to expected
    photon counts ``(x - min) / (max - min) * peak``, Poisson-sampled, and mapped back.  Fewer
    photons = noisier; the noise is signal-dependent (none where the image is at its minimum).

    Levels (peak, photons at the brightest voxel): 1000, 300, 100, 30, 10.
    """
    noise_rng = np.random.default_rng(int(params["noise_seed"]))
    peak = float(params["peak"])
    low, span = float(image.min()), intensity_span(image)
    expected = (image.astype(np.float64) - low) / span * peak
    counts = noise_rng.poisson(np.clip(expected, 0.0, None))
    return counts / peak * span + low


@perturbation("rician", levels=RICIAN_LEVELS, backend="monai", sample=sample_noise_seed)
def rician(image: np.ndarray, label: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Rician noise of MRI magnitude images: ``sqrt((x + n1)^2 + n2^2)``, ``n1, n2 ~ N(0, sigma)``.

    MONAI ``RandRicianNoise`` (``prob=1``, ``sample_std=False``, ``relative=False``) seeded from
    ``params``; ``sigma`` is a fraction of the intensity range.  Besides noise it lifts dark
    regions (the magnitude of pure noise is positive), a known MRI bias.

    Levels (sigma): 0.02, 0.05, 0.1, 0.15, 0.2.
    """
    from monai.transforms import RandRicianNoise

    std = float(params["sigma"]) * intensity_span(image)
    transform = RandRicianNoise(
        prob=1.0, mean=0.0, std=std, relative=False, sample_std=False, channel_wise=False
    )
    transform.set_random_state(seed=int(params["noise_seed"]))
    return call_monai(transform, image)
