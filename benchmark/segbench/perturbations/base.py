"""Shared machinery of the perturbation entries: one decorator, validation, replay, MONAI glue.

Why: every perturbation follows the same contract (see ``segbench.perturbations``), so the
checks that make results comparable and reproducible live here once:

* :func:`perturbation` registers an entry once: its level table, dimensionalities and backend
  go to the registry's metadata (printed by ``segbench list``); the decorated function is the
  *renderer* (a pure function of ``image``, ``label`` and ``params``) and the optional
  ``sample`` draws every random choice from the job's ``rng`` into ``params``.  The registered
  factory (``image, label, *, severity, rng``) is generated from the two, so an entry without
  random draws (blur, gamma, ...) is just a level table and a renderer;
* the severity and dimensionality checks raise a ``ValueError`` that names the allowed values;
* :func:`replay` calls the renderer alone, so stored ``params`` rebuild the perturbed image
  exactly, without the rng;
* MONAI array transforms expect a channel axis and return tensors; :func:`call_monai` hides that.

Heavy libraries (MONAI, scipy, torch) are imported inside the renderers, so registering the
built-ins (every ``segbench`` command does) stays cheap.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from segbench.core import IN_DOMAIN, SEVERITIES
from segbench.registry import PERTURBATIONS, Entry

__all__ = [
    "SEVERITIES",
    "Renderer",
    "Sampler",
    "apply_perturbation",
    "call_monai",
    "draw_seed",
    "intensity_span",
    "level_table",
    "perturbation",
    "prepare",
    "render",
    "replay",
    "sample_noise_seed",
    "shift_direction",
]

Renderer = Callable[[np.ndarray, np.ndarray, dict[str, Any]], np.ndarray]
"""``(image float32, label, params) -> perturbed image``; pure, no randomness beyond ``params``."""

Sampler = Callable[[np.ndarray, dict[str, Any], np.random.Generator], None]
"""``(image float32, params, rng) -> None``: adds the random draws of one call to ``params``."""

# The runner handles the in-domain condition itself; accepting it here keeps callers simple.
_IDENTITY = IN_DOMAIN


def perturbation(
    name: str,
    *,
    levels: Mapping[int, Mapping[str, Any]],
    backend: str,
    dims: tuple[int, ...] = (2, 3),
    sample: Sampler | None = None,
    direction: str = "harder",
) -> Callable[[Renderer], Callable[..., tuple[np.ndarray, dict[str, Any]]]]:
    """Register the decorated renderer as perturbation ``name`` (the one registration).

    Args:
        name: registry name (what a suite writes).
        levels: severity -> fixed parameters of that level.
        backend: ``"monai"``, ``"scipy"`` or hand-written ``"numpy"`` (shown by ``segbench list``).
        dims: accepted image dimensionalities. Defaults to ``(2, 3)``.
        sample: adds the random draws to ``params`` (e.g. :func:`sample_noise_seed`); ``None``
            for a deterministic entry (``stochastic=False``, the rng is not touched).
        direction: ``"harder"`` (the shift damages the task, the usual case) or ``"easier"`` (it
            helps, e.g. blurring only the background). The report's drop pools only harder shifts;
            a suite may override it per entry. Defaults to ``"harder"``.

    Returns:
        A decorator that returns the registered factory
        ``(image, label, *, severity, rng) -> (image, params)``; its docstring is the renderer's.

    Example:
        >>> @perturbation("gamma", levels=GAMMA_LEVELS, backend="monai")
        ... def gamma(image, label, params):
        ...     \"\"\"Gamma contrast change.\"\"\"
        ...     return call_monai(AdjustContrast(gamma=params["gamma"]), image)
    """
    table = {int(k): dict(v) for k, v in levels.items()}
    if direction not in DIRECTIONS:
        raise ValueError(f"direction of {name!r} must be one of {', '.join(DIRECTIONS)}, got {direction!r}")

    def decorator(render_fn: Renderer) -> Callable[..., tuple[np.ndarray, dict[str, Any]]]:
        def factory(
            image: np.ndarray, label: np.ndarray, *, severity: int, rng: np.random.Generator
        ) -> tuple[np.ndarray, dict[str, Any]]:
            image32, params = prepare(name, image, label, severity)
            if sample is not None:
                sample(image32, params, rng)
            return render(name, image32, label, params), params

        # Name, module and docstring of the renderer (``segbench list`` shows its first line); not
        # ``functools.wraps``, whose ``__wrapped__`` would give the factory the renderer's signature.
        factory.__module__, factory.__doc__ = render_fn.__module__, render_fn.__doc__
        factory.__name__ = factory.__qualname__ = render_fn.__name__
        hooks: dict[str, Callable[..., Any]] = {"render": render_fn}
        if sample is not None:
            hooks["sample"] = sample
        PERTURBATIONS.register(
            name,
            levels=table,
            dims=tuple(dims),
            stochastic=sample is not None,
            backend=backend,
            direction=direction,
            hooks=hooks,
        )(factory)
        return factory

    return decorator


#: what a shift does to the task: "harder" shifts enter the drop, "easier" ones do not
DIRECTIONS: tuple[str, ...] = ("harder", "easier")


def shift_direction(name: str) -> str:
    """The catalogue direction of perturbation ``name``: ``"harder"`` or ``"easier"``.

    Why one place: the report's drop pools only shifts that make the task harder, and the measured
    easier/harder display compares with this. Unknown names (a user ``module:callable``, a dataset
    shift) count as ``"harder"``, the assumption a robustness benchmark makes of a shift.
    """
    base = str(name).split("+")[-1]  # "site_B+speckle": a dataset shift with speckle on top
    if base not in PERTURBATIONS:
        return "harder"
    return str(PERTURBATIONS.get(base).meta.get("direction", "harder"))


def sample_noise_seed(image: np.ndarray, params: dict[str, Any], rng: np.random.Generator) -> None:
    """The sampler of every entry whose only random draw is a noise field: one ``noise_seed``."""
    params["noise_seed"] = draw_seed(rng)


def level_table(name: str) -> dict[int, dict[str, Any]]:
    """A copy of ``name``'s severity -> fixed parameters table.

    Raises:
        ValueError: ``name`` has no built-in level table (unknown or a user ``module:callable``).
    """
    return {k: dict(v) for k, v in _levels(_builtin(name)).items()}


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
    entry = _builtin(name)
    levels, dims = _levels(entry), tuple(entry.meta["dims"])
    sev = _check_severity(name, severity, levels)
    image = np.asarray(image)
    label = np.asarray(label)
    if image.ndim not in dims:
        raise ValueError(
            f"{name}: image must be {' or '.join(f'{d}D' for d in dims)} without a channel axis "
            f"((H, W) or (D, H, W)), got shape {image.shape}"
        )
    if label.shape != image.shape:
        raise ValueError(f"{name}: label shape {label.shape} differs from image shape {image.shape}")
    if not np.issubdtype(image.dtype, np.number) or np.issubdtype(image.dtype, np.complexfloating):
        raise ValueError(f"{name}: image must be real-valued, got dtype {image.dtype}")
    return np.array(image, dtype=np.float32, copy=True), dict(levels[sev])


def render(name: str, image: np.ndarray, label: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Run ``name``'s renderer and enforce the output contract (float32, same shape, finite)."""
    out = _builtin(name).hooks["render"](image, label, params)
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
    import torch

    out = transform(np.ascontiguousarray(image[None]))
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().numpy()
    return np.asarray(out, dtype=np.float32)[0]


def _builtin(name: str) -> Entry:
    """The registered entry ``name`` if it has a level table and renderer (built-in style)."""
    if name in PERTURBATIONS:
        entry = PERTURBATIONS.get(name)
        if "render" in entry.hooks and "levels" in entry.meta:
            return entry
    available = [e.name for e in PERTURBATIONS.entries() if "render" in e.hooks]
    raise ValueError(f"unknown built-in perturbation {name!r}; available: {', '.join(available)}")


def _levels(entry: Entry) -> dict[int, dict[str, Any]]:
    return entry.meta["levels"]


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
