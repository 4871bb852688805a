"""Low resolution: downsample, then upsample back to the original grid.

Why: a coarser acquisition (thick slices, low matrix) or a resampling step loses detail that the
model saw in training; the image keeps its shape, so the network and the label are unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segbench.perturbations.base import call_monai, perturbation
from segbench.perturbations.blur import smooth

__all__ = ["lowres"]

LOWRES_LEVELS = {
    1: {"factor": 1.5},
    2: {"factor": 2.0},
    3: {"factor": 3.0},
    4: {"factor": 4.0},
    5: {"factor": 6.0},
}


@perturbation("lowres", levels=LOWRES_LEVELS, backend="monai")
def lowres(image: np.ndarray, label: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Resample every axis down by ``factor``, then back up (partial volume + interpolation blur).

    MONAI ``RandSimulateLowResolution`` with a fixed zoom ``1 / factor`` (``zoom_range`` of
    zero width, ``prob=1``), downsampling with ``"area"`` (a large voxel averages what it covers,
    as a coarse acquisition does) and upsampling with (bi/tri)linear interpolation.  Before
    that, a MONAI ``GaussianSmooth`` of sigma ``sqrt(factor**2 - 1) / 2`` voxels widens the
    point-spread function to about ``factor`` voxels (anti-aliasing).  Why: without it
    (MONAI's default ``"nearest"`` downsampling, or ``"area"`` alone) the damage depends on how
    the coarse grid happens to align with the image size and is not monotone in ``factor``
    (e.g. 1.75 worse than 2 on a 64-pixel image).  Deterministic: ``rng`` is not used.

    Levels (factor): 1.5, 2, 3, 4, 6.
    """
    from monai.transforms import RandSimulateLowResolution

    factor = float(params["factor"])
    zoom = 1.0 / factor
    transform = RandSimulateLowResolution(
        prob=1.0,
        downsample_mode="area",
        upsample_mode="bilinear" if image.ndim == 2 else "trilinear",
        zoom_range=(zoom, zoom),
    )
    # The zoom range has zero width; the seed only fixes MONAI's (unused) draws.
    transform.set_random_state(seed=0)
    return call_monai(transform, smooth(image, (factor**2 - 1.0) ** 0.5 / 2.0))
