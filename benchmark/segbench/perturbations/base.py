"""Shared machinery of the perturbation entries: validation, level tables, replay, MONAI glue.

Why: every perturbation follows the same contract (see ``segbench.perturbations``), so the
checks that make results comparable and reproducible live here once:

* the severity and dimensionality checks raise a ``ValueError`` that names the allowed values;
* an entry is split into a *sampler* (the registered function, which draws every random choice
  from the job's ``rng`` into a JSON-serialisable ``params`` dict) and a *renderer* (a pure
  function of ``image``, ``label`` and ``params``).  :func:`replay` calls the renderer alone, so
  stored ``params`` rebuild the perturbed image exactly, without the rng;
* MONAI array transforms expect a channel axis and return tensors; :func:`call_monai` hides that.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from segbench.registry import PERTURBATIONS

__all__ = [
    "SEVERITIES",
    "Renderer",
    "apply_perturbation",
    "call_monai",
    "draw_seed",
    "intensity_span",
    "level_table",
    "prepare",
    "render",
    "renderer",
    "replay",
]

SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
"""The severities every built-in perturbation defines (1 = mildest)."""

Renderer = Callable[[np.ndarray, np.ndarray, dict[str, Any]], np.ndarray]
"""``(image float32, label, params) -> perturbed image``; pure, no randomness beyond ``params``."""

# The runner handles the in-domain condition itself; accepting it here keeps callers simple.
_IDENTITY = "none"


@dataclass(frozen=True)
class _Spec:
    levels: dict[int, dict[str, Any]]
    dims: tuple[int, ...]
    render: Renderer


_SPECS: dict[str, _Spec] = {}


def renderer(
    name: str, *, levels: Mapping[int, Mapping[str, Any]], dims: tuple[int, ...] = (2, 3)
) -> Callable[[Renderer], Renderer]:
    """Decorator declaring the pure renderer and level table of perturbation ``name``.

    Why a second decorator beside ``register_perturbation``: the registry keeps JSON-friendly
    metadata for ``segbench list``; the renderer (a callable) must stay out of it but is what
    :func:`replay` needs.

    Args:
        name: the perturbation's registry name.
        levels: severity -> fixed parameters of that level (the same table given to the registry).
        dims: accepted image dimensionalities. Defaults to ``(2, 3)``.
    """

    def decorator(func: Renderer) -> Renderer:
        if name in _SPECS:
            raise ValueError(f"perturbation renderer {name!r} is declared twice")
        _SPECS[name] = _Spec({int(k): dict(v) for k, v in levels.items()}, tuple(dims), func)
        return func

    return decorator


def level_table(name: str) -> dict[int, dict[str, Any]]:
    """A copy of ``name``'s severity -> fixed parameters table.

    Raises:
        ValueError: ``name`` has no built-in level table (unknown or a user ``module:callable``).
    """
    spec = _spec(name)
    return {k: dict(v) for k, v in spec.levels.items()}


def prepare(name: str, image: np.ndarray, label: np.ndarray, severity: int) -> tuple[np.ndarray, dict]:
    """Validate inputs and return a float32 copy of ``image`` and a copy of the level's parameters.

    Why a copy: callers (and MONAI transforms that work in place) must never alter the
    caller's arrays; ``label`` is only read.

    Args:
        name: perturbation name.
        image: ``(H, W)`` or ``(D, H, W)`` array, any real dtype.
        label: same shape as ``image``; never written.
        severity: one of the level table's keys (1..5).

    Returns:
        ``(image_float32_copy, params)`` where ``params`` holds the level's fixed values.

    Raises:
        ValueError: unknown severity, unsupported dimensionality, or shape mismatch.
    """
    spec = _spec(name)
    sev = _check_severity(name, severity, spec.levels)
    image = np.asarray(image)
    label = np.asarray(label)
    if image.ndim not in spec.dims:
        raise ValueError(
            f"{name}: image must be {' or '.join(f'{d}D' for d in spec.dims)} without a channel axis "
            f"((H, W) or (D, H, W)), got shape {image.shape}"
        )
    if label.shape != image.shape:
        raise ValueError(f"{name}: label shape {label.shape} differs from image shape {image.shape}")
    if not np.issubdtype(image.dtype, np.number) or np.issubdtype(image.dtype, np.complexfloating):
        raise ValueError(f"{name}: image must be real-valued, got dtype {image.dtype}")
    return np.array(image, dtype=np.float32, copy=True), dict(spec.levels[sev])


def render(name: str, image: np.ndarray, label: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Run ``name``'s renderer and enforce the output contract (float32, same shape, finite)."""
    out = _SPECS[name].render(image, label, params)
    out = np.ascontiguousarray(out, dtype=np.float32)
    if out.shape != image.shape:  # a bug in an entry, not a user error
        raise RuntimeError(f"{name}: renderer changed the shape {image.shape} -> {out.shape}")
    if not np.all(np.isfinite(out)):
        raise RuntimeError(f"{name}: renderer produced non-finite values with params {params}")
    return out


def apply_perturbation(
    name: str, image: np.ndarray, label: np.ndarray, severity: int, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, Any]]:
    """Perturb ``image`` with the registered perturbation ``name`` at ``severity``.

    The same ``rng`` state gives the same output; the returned ``params`` rebuild it with
    :func:`replay`.  ``"none"`` (severity 0 or ``None``) is the identity, so callers may loop
    over a suite's conditions without special-casing the in-domain one.

    Args:
        name: a registered perturbation (see ``segbench list``) or ``package.module:callable``.
        image: float32 ``(H, W)`` or ``(D, H, W)``.
        label: uint8 0/1 of the same shape; read only (``blur_background`` needs it).
        severity: 1..5.
        rng: the job's generator (``segbench.seeding.derive_rng``).

    Returns:
        ``(perturbed float32 image of the same shape, JSON-serialisable params)``.

    Example:
        >>> img, params = apply_perturbation("speckle", image, label, 2, np.random.default_rng(0))
        >>> np.array_equal(img, replay("speckle", image, label, 2, params))
        True
    """
    if name == _IDENTITY:
        if severity not in (0, None):
            raise ValueError(f"'none' is the clean image; its only severity is 0, got {severity!r}")
        image = np.asarray(image)
        if image.ndim not in (2, 3):
            raise ValueError(f"image must be (H, W) or (D, H, W), got shape {image.shape}")
        return np.array(image, dtype=np.float32, copy=True), {}
    factory = PERTURBATIONS.get(name).factory
    return factory(image, label, severity=severity, rng=rng)


def replay(
    name: str, image: np.ndarray, label: np.ndarray, severity: int, params: Mapping[str, Any]
) -> np.ndarray:
    """Rebuild a perturbed image from the ``params`` an earlier call returned (no rng needed).

    Why the level check: stored ``params`` are only meaningful for the level table they were
    sampled under; if the table changed since, replaying would silently give another image.

    Args:
        name: a built-in perturbation name (or ``"none"``).
        image: the clean image the params were sampled for.
        label: its label (read only).
        severity: the severity the params were sampled at.
        params: the dict returned by :func:`apply_perturbation` (a JSON round trip is fine).

    Returns:
        The perturbed float32 image, identical to the original call's output.

    Raises:
        ValueError: unknown name or severity, or ``params`` that disagree with the level table.
    """
    if name == _IDENTITY:
        return apply_perturbation(name, image, label, severity, np.random.default_rng(0))[0]
    image32, level = prepare(name, image, label, severity)
    mismatched = {k: (params.get(k), v) for k, v in level.items() if params.get(k) != v}
    if mismatched:
        raise ValueError(
            f"{name} severity {severity}: params do not match the level table "
            f"(key: (given, expected)) {mismatched}; they were sampled under another version"
        )
    return render(name, image32, np.asarray(label), dict(params))


def draw_seed(rng: np.random.Generator) -> int:
    """A seed for a noise field, drawn from ``rng`` and stored in ``params``.

    Why: storing a 31-bit seed (not the field) keeps ``params`` small and JSON-friendly while
    still rebuilding the exact field; 31 bits fit numpy's legacy ``RandomState`` that MONAI uses.
    """
    return int(rng.integers(2**31 - 1))


def intensity_span(image: np.ndarray) -> float:
    """``max - min`` of ``image`` (1.0 for a constant image).

    Why: noise strengths are given as fractions of the intensity range, so that a level means
    the same on [0, 1] data (where it equals the absolute value) and on any other scaling; the
    runner min-max scales model inputs anyway.
    """
    span = float(image.max() - image.min()) if image.size else 0.0
    return span if span > 1e-12 else 1.0


def call_monai(transform: Callable[[Any], Any], image: np.ndarray) -> np.ndarray:
    """Apply a MONAI array transform to a channel-less numpy image; return float32 numpy.

    Why: MONAI array transforms expect channel-first input and return (Meta)tensors, while the
    perturbation contract is channel-less numpy.
    """
    out = transform(np.ascontiguousarray(image[None]))
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().numpy()
    return np.asarray(out, dtype=np.float32)[0]


def _spec(name: str) -> _Spec:
    if name not in _SPECS:
        raise ValueError(f"unknown built-in perturbation {name!r}; available: {', '.join(sorted(_SPECS))}")
    return _SPECS[name]


def _check_severity(name: str, severity: Any, levels: Mapping[int, Any]) -> int:
    allowed = ", ".join(map(str, sorted(levels)))
    if isinstance(severity, bool):
        raise ValueError(f"{name}: severity must be an int in {{{allowed}}}, got {severity!r}")
    try:
        sev = operator.index(severity)
    except TypeError:
        raise ValueError(f"{name}: severity must be an int in {{{allowed}}}, got {severity!r}") from None
    if sev not in levels:
        raise ValueError(f"{name}: severity {sev} is not defined; allowed: {allowed}")
    return sev
