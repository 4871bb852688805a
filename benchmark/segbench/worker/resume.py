"""Every random state a training run depends on, captured and restored exactly.

Why all of them: a job killed at epoch 37 and resumed must end with the same weights as
an uninterrupted run, so the next epoch has to draw the same shuffles, rotations, crops,
augmentations and dropout masks.  That means python's, numpy's and torch's global
generators (CPU and CUDA) plus every generator the batch sampler owns (a
``torch.Generator``, a ``numpy.random.Generator``, MONAI's ``RandomState`` in a cropper).
The sampler's generators are found by looking at its attributes, so a new sampler class
is covered without code here.  Values are plain containers and tensors, so the state
file loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

__all__ = ["capture_rng", "restore_rng"]


def capture_rng(sampler: object | None = None) -> dict[str, Any]:
    """Global RNG states plus those of ``sampler``'s generators (see module docstring)."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": _legacy_state(np.random.get_state()),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "sampler": {},
    }
    for name, value in _generators(sampler):
        if isinstance(value, torch.Generator):
            state["sampler"][name] = value.get_state()
        elif isinstance(value, np.random.Generator):
            state["sampler"][name] = value.bit_generator.state
        else:
            state["sampler"][name] = _legacy_state(value.get_state())
    if sampler is not None and isinstance(getattr(sampler, "crop_fbr", None), list):
        state["crop_fbr"] = list(sampler.crop_fbr)  # type: ignore[attr-defined]
    return state


def restore_rng(state: dict[str, Any], sampler: object | None = None) -> None:
    """Put back what ``capture_rng`` saved (into the same kind of sampler)."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(_legacy_tuple(state["numpy"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    saved = state["sampler"]
    for name, value in _generators(sampler):
        if name not in saved:
            raise KeyError(f"training state has no RNG state for the sampler's {name!r}")
        if isinstance(value, torch.Generator):
            value.set_state(saved[name])
        elif isinstance(value, np.random.Generator):
            value.bit_generator.state = saved[name]
        else:
            value.set_state(_legacy_tuple(saved[name]))
    if "crop_fbr" in state and isinstance(getattr(sampler, "crop_fbr", None), list):
        sampler.crop_fbr[:] = state["crop_fbr"]  # type: ignore[attr-defined]


def _generators(sampler: object | None) -> list[tuple[str, Any]]:
    """(name, generator) for the sampler's attributes and their MONAI ``.R`` states."""
    if sampler is None:
        return []
    found = []
    for name, value in sorted(vars(sampler).items()):
        if isinstance(value, torch.Generator | np.random.Generator | np.random.RandomState):
            found.append((name, value))
        elif isinstance(getattr(value, "R", None), np.random.RandomState):
            found.append((f"{name}.R", value.R))
    return found


def _legacy_state(state: tuple[Any, ...]) -> list[Any]:
    kind, keys, pos, has_gauss, cached = state
    keys_tensor = torch.from_numpy(np.asarray(keys, dtype=np.uint32).astype(np.int64))
    return [kind, keys_tensor, pos, has_gauss, cached]


def _legacy_tuple(state: list[Any]) -> tuple[Any, ...]:
    kind, keys, pos, has_gauss, cached = state
    return (kind, np.asarray(keys.numpy(), dtype=np.uint32), int(pos), int(has_gauss), float(cached))
