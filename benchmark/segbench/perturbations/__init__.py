"""Test-time perturbations (image corruptions) with five severities each.

Importing this package registers every built-in entry with ``segbench.registry.PERTURBATIONS``.

Contract of an entry (what the runner relies on)::

    @register_perturbation("speckle", levels={1: {...}, ..., 5: {...}}, dims=(2, 3), stochastic=True)
    def speckle(image, label, *, severity, rng) -> tuple[np.ndarray, dict]: ...

* ``image`` float32 ``(H, W)`` or ``(D, H, W)``; ``label`` uint8 0/1, read only, never returned.
* returns the perturbed float32 image (same shape, finite) and JSON-serialisable ``params``:
  the level's fixed values plus every random draw, so :func:`replay` rebuilds the image.
* same ``rng`` state -> identical output; severity 1..5 with damage (PSNR drop) rising
  strictly; a bad severity or dimensionality raises ``ValueError`` naming the allowed values.

Registry metadata per entry: ``levels`` (severity -> parameters), ``dims``, ``stochastic``
(whether ``rng`` is used) and ``backend`` (``"monai"``, ``"scipy"`` or hand-written ``"numpy"``).
"""

from __future__ import annotations

from segbench.perturbations import blur, intensity, kspace, lowres, motion, noise
from segbench.perturbations.base import SEVERITIES, apply_perturbation, level_table, replay
from segbench.perturbations.presets import PRESET_PARAMETERS, PRESETS, resolve

__all__ = [
    "PRESETS",
    "PRESET_PARAMETERS",
    "SEVERITIES",
    "apply_perturbation",
    "blur",
    "intensity",
    "kspace",
    "level_table",
    "lowres",
    "motion",
    "noise",
    "replay",
    "resolve",
]
