"""k-space artefacts of MRI: Gibbs ringing, spike (herringbone) and ghosting.

Why together: each edits the centred Fourier spectrum of the image and returns the real part of
the inverse transform (as MONAI's ``Fourier`` helpers do), so an untouched spectrum gives the
image back exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segbench.perturbations.base import call_monai, perturbation

__all__ = ["ghosting", "gibbs", "spike"]

GIBBS_LEVELS = {1: {"alpha": 0.4}, 2: {"alpha": 0.5}, 3: {"alpha": 0.6}, 4: {"alpha": 0.7}, 5: {"alpha": 0.8}}
SPIKE_LEVELS = {
    1: {"relative_intensity": 0.05},
    2: {"relative_intensity": 0.1},
    3: {"relative_intensity": 0.2},
    4: {"relative_intensity": 0.35},
    5: {"relative_intensity": 0.5},
}
GHOSTING_LEVELS = {
    1: {"num_ghosts": 4, "intensity": 0.2, "restore": 0.02},
    2: {"num_ghosts": 4, "intensity": 0.4, "restore": 0.02},
    3: {"num_ghosts": 4, "intensity": 0.6, "restore": 0.02},
    4: {"num_ghosts": 4, "intensity": 0.8, "restore": 0.02},
    5: {"num_ghosts": 4, "intensity": 1.0, "restore": 0.02},
}

# Spikes are placed this far from the k-space centre (fraction of the axis length): far enough
# to be a visible stripe pattern rather than a low-frequency shading, within the sampled band.
_SPIKE_BAND = (1 / 8, 3 / 8)


def _sample_spike(image: np.ndarray, params: dict[str, Any], rng: np.random.Generator) -> None:
    """Draw the spike location ``loc`` (one centred k-space index per axis)."""
    params["loc"] = [_spike_index(rng, n) for n in image.shape]


def _sample_ghosting(image: np.ndarray, params: dict[str, Any], rng: np.random.Generator) -> None:
    """Draw the phase-encoding ``axis`` (one of the last two) and the first scaled line ``offset``."""
    params["axis"] = int(image.ndim - 1 - rng.integers(2))
    params["offset"] = int(rng.integers(int(params["num_ghosts"])))


@perturbation("gibbs", levels=GIBBS_LEVELS, backend="monai")
def gibbs(image: np.ndarray, label: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Gibbs ringing from truncating k-space to a sphere (low acquisition resolution in MRI).

    MONAI ``GibbsNoise``: frequencies farther than ``(1 - alpha) * max(shape) * sqrt(2) / 2``
    from the centre are zeroed, giving blur plus ringing at edges.  Deterministic.

    Levels (alpha): 0.4, 0.5, 0.6, 0.7, 0.8.
    """
    from monai.transforms import GibbsNoise

    return call_monai(GibbsNoise(alpha=float(params["alpha"])), image)


@perturbation("spike", levels=SPIKE_LEVELS, backend="monai", sample=_sample_spike)
def spike(image: np.ndarray, label: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """One k-space spike: a herringbone / stripe pattern over the whole image.

    MONAI ``KSpaceSpikeNoise`` at a location ``loc`` (centred k-space index, drawn from ``rng``
    between 1/8 and 3/8 of each axis from the centre, random sign).  Its magnitude is
    ``relative_intensity`` times the image's total absolute signal (the DC magnitude of a
    non-negative image), so the stripe amplitude is about ``relative_intensity * mean(|x|)``
    whatever the image size; MONAI takes it as ``k_intensity = log(magnitude)``.

    Levels (relative_intensity): 0.05, 0.1, 0.2, 0.35, 0.5.
    """
    from monai.transforms import KSpaceSpikeNoise

    loc = tuple(int(i) for i in params["loc"])
    if len(loc) != image.ndim or any(not 0 <= i < n for i, n in zip(loc, image.shape, strict=True)):
        raise ValueError(f"spike: loc {list(loc)} does not fit an image of shape {image.shape}")
    total = max(float(np.abs(image.astype(np.float64)).sum()), 1e-12)
    k_intensity = float(np.log(float(params["relative_intensity"]) * total))
    return call_monai(KSpaceSpikeNoise(loc=loc, k_intensity=k_intensity), image)


@perturbation("ghosting", levels=GHOSTING_LEVELS, backend="numpy", sample=_sample_ghosting)
def ghosting(image: np.ndarray, label: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Ghosts along the phase-encoding axis (periodic motion: breathing, pulsation).

    Hand-written (MONAI has no ghosting transform), after TorchIO's ``RandomGhosting``: every
    ``num_ghosts``-th line of the centred spectrum along ``axis`` is scaled by
    ``1 - intensity``, which adds shifted, faint copies of the image; the central ``restore``
    fraction of lines is kept so overall contrast survives.  Drawn from ``rng``: ``axis`` (one
    of the last two, the in-plane axes) and ``offset``, the first scaled line (the phase of the
    periodic motion against the acquisition), in ``[0, num_ghosts)``.

    Levels: 4 ghosts, restore 0.02; intensity 0.2, 0.4, 0.6, 0.8, 1.0.
    """
    axis = int(params["axis"])
    if not 0 <= axis < image.ndim:
        raise ValueError(f"ghosting: axis {axis} does not exist in an image of shape {image.shape}")
    n = image.shape[axis]
    spectrum = np.fft.fftshift(np.fft.fftn(image.astype(np.float64)))
    factor = np.ones(n)
    factor[int(params["offset"]) :: int(params["num_ghosts"])] = 1.0 - float(params["intensity"])
    centre, keep = n // 2, round(float(params["restore"]) * n)
    factor[centre - keep : centre + keep + 1] = 1.0
    shape = [1] * image.ndim
    shape[axis] = n
    spectrum *= factor.reshape(shape)
    return np.fft.ifftn(np.fft.ifftshift(spectrum)).real


def _spike_index(rng: np.random.Generator, n: int) -> int:
    """A centred k-space index in the band ``_SPIKE_BAND`` from the centre, random side."""
    low = max(1, int(n * _SPIKE_BAND[0]))
    high = max(low + 1, int(n * _SPIKE_BAND[1]))
    offset = int(rng.integers(low, high)) * (1 if rng.random() < 0.5 else -1)
    return int(np.clip(n // 2 + offset, 0, n - 1))
