"""Test-time perturbations (image corruptions) with five severities each.

Importing this package registers every built-in entry with ``segbench.registry.PERTURBATIONS``.

An entry is registered once, by decorating its pure renderer (``segbench.perturbations.base``)::

    @perturbation("speckle", levels={1: {...}, ..., 5: {...}}, backend="numpy", sample=sample_noise_seed)
    def speckle(image, label, params) -> np.ndarray: ...

which registers the factory the runner calls (a user's ``module:callable`` has the same form)::

    factory(image, label, *, severity, rng) -> tuple[np.ndarray, dict]

* ``image`` float32 ``(H, W)`` or ``(D, H, W)``; ``label`` uint8 0/1, read only, never returned.
* returns the perturbed float32 image (same shape, finite) and JSON-serialisable ``params``:
  the level's fixed values plus every random draw, so :func:`replay` rebuilds the image.
* same ``rng`` state -> identical output; severity 1..5 with damage (PSNR drop) rising
  strictly; a bad severity or dimensionality raises ``ValueError`` naming the allowed values.

Registry metadata per entry: ``levels`` (severity -> parameters), ``dims``, ``stochastic``
(whether ``rng`` is used, i.e. the entry has a ``sample``) and ``backend`` (``"monai"``,
``"scipy"`` or hand-written ``"numpy"``); the renderer and sampler are the entry's ``hooks``.
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
