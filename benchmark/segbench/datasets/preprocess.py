"""The shared preprocessing of every real dataset: size, channels, intensity, label threshold.

The same parameter names mean the same thing for ``datalist``, ``nnunet``, ``busi``, ``glas``
and ``msd2d``:

- ``size``: resize to ``size`` x ``size`` (2D) or ``size``^3 (3D) -- image antialiased and
  (bi/tri)linear, label nearest -- or ``None`` to keep each image's native size (the runner
  then pads each batch; see ``segbench.worker.data``).  Spacing is scaled with the resize.
- ``channels``: ``"gray"`` (luminance of colour images), ``"green"`` (the green channel --
  the usual choice for fundus photographs), ``"rgb"`` (three channels; gray images are
  repeated).  The model's ``in_channels`` is injected from the result, as ``spatial_dims`` is.
  3D volumes are single-channel per file; modalities are listed as separate files.
- ``intensity``: ``"minmax"`` per image over all channels (the study's default),
  ``"zscore"`` per channel, or ``[a_min, a_max]``: a window clipped and mapped to [0, 1].
  The runner re-applies the same per-image scaling after a test-time perturbation (for a
  window nothing is re-applied, so a brightness shift stays visible to the model).
- ``label_threshold``: ``None`` = values > 0 are foreground (binary masks saved as 0/1 or
  0/255 both work); a number = values above it (lossy JPEG masks).
- ``label_resize``: ``"nearest"`` (default) or ``"area"``: the binary mask (after
  ``label_threshold``: thresholding comes first, resizing second) is area-averaged and
  thresholded at 0.5.  Nearest sampling of a x3-x5 shrink breaks 1-3 px structures (vessels)
  apart; the area average keeps a pixel that is at least half foreground.
- ``image_resize``: ``"bilinear"`` (default; antialiased when shrinking, trilinear in 3D) or
  ``"area"`` (the mean of the source pixels each target pixel covers).
- ``score_at``: ``"native"`` (default) or ``"model"``: where predictions are scored (see
  ``segbench.worker.native``).  With ``native`` and a ``size``, each case keeps its original
  label and spacing (``Case.native``), against which the runner scores.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from segbench.cases import Case, NativeGrid
from segbench.datasets.errors import DataError
from segbench.datasets.listing import LabelRule, Pair
from segbench.datasets.readers import EXTENSIONS_2D, decode, extension, nrrd_spacing

__all__ = [
    "CHANNELS",
    "IMAGE_RESIZE",
    "LABEL_RESIZE",
    "PREPROCESSING",
    "RESAMPLING",
    "SCORE_AT",
    "Preprocess",
    "binarize",
    "parse_preprocess",
    "parse_resampling",
    "preprocess_pair",
]

CHANNELS = ("gray", "green", "rgb")
PREPROCESSING = ("size", "channels", "intensity", "label_threshold", "split", "group")
#: Resampling params with their defaults (the first value): a shift dataset inherits them from
#: the training dataset, and a job key leaves them out at their default (``segbench.plan``).
LABEL_RESIZE = ("nearest", "area")
IMAGE_RESIZE = ("bilinear", "area")
SCORE_AT = ("native", "model")
RESAMPLING = {"label_resize": LABEL_RESIZE, "image_resize": IMAGE_RESIZE, "score_at": SCORE_AT}
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class Preprocess:
    """Validated preprocessing parameters (what the cache key and the job key hash)."""

    size: int | None = None
    channels: str = "gray"
    intensity: str | tuple[float, float] = "minmax"
    label_threshold: float | None = None
    label_resize: str = "nearest"
    image_resize: str = "bilinear"
    native: bool = False  # keep each case's original label and spacing (score_at: native)

    @property
    def scaling(self) -> str:
        """The per-image scaling the runner re-applies after a perturbation."""
        return self.intensity if isinstance(self.intensity, str) else "none"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["intensity"] = list(self.intensity) if isinstance(self.intensity, tuple) else self.intensity
        # Left out at their defaults, so caches written before these fields existed stay valid.
        for name, default in (("label_resize", "nearest"), ("image_resize", "bilinear"), ("native", False)):
            if out[name] == default:
                del out[name]
        return out


def parse_preprocess(
    size: Any = None, channels: Any = "gray", intensity: Any = "minmax", label_threshold: Any = None
) -> Preprocess:
    """Check the shared parameters' values; raises ``ValueError`` naming the field and what is allowed."""
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 8):
        raise ValueError(f"size={size!r} must be an integer >= 8 or null (keep each image's native size)")
    if channels not in CHANNELS:
        raise ValueError(f"channels={channels!r} is not allowed; use one of {', '.join(CHANNELS)}")
    if isinstance(intensity, list | tuple):
        try:
            a_min, a_max = (float(v) for v in intensity)
        except (TypeError, ValueError):
            raise ValueError(f"intensity={intensity!r}: a window is two numbers [a_min, a_max]") from None
        if not a_min < a_max:
            raise ValueError(f"intensity={intensity!r}: a window needs a_min < a_max")
        intensity = (a_min, a_max)
    elif intensity not in ("minmax", "zscore"):
        raise ValueError(
            f"intensity={intensity!r} is not allowed; use minmax, zscore or a window [a_min, a_max]"
        )
    if label_threshold is not None:
        if isinstance(label_threshold, bool) or not isinstance(label_threshold, int | float):
            raise ValueError(f"label_threshold={label_threshold!r} must be a number or null")
        if not math.isfinite(float(label_threshold)):
            raise ValueError(f"label_threshold={label_threshold!r} must be finite")
        label_threshold = float(label_threshold)
    return Preprocess(size, channels, intensity, label_threshold)


def parse_resampling(
    prep: Preprocess, label_resize: Any = "nearest", image_resize: Any = "bilinear", score_at: Any = "native"
) -> Preprocess:
    """``prep`` with the resampling params checked and set; ``ValueError`` names the field."""
    for field_name, value in (
        ("label_resize", label_resize),
        ("image_resize", image_resize),
        ("score_at", score_at),
    ):
        allowed = RESAMPLING[field_name]
        if value not in allowed:
            raise ValueError(f"{field_name}={value!r} is not allowed; use one of {', '.join(allowed)}")
    native = score_at == "native" and prep.size is not None  # without a resize the grid is native
    return replace(prep, label_resize=label_resize, image_resize=image_resize, native=native)


def binarize(raw: np.ndarray, rule: LabelRule, threshold: float | None, path: Path) -> np.ndarray:
    """A label file's values -> uint8 0/1 foreground, checking them against ``rule``.

    Raises:
        DataError: the label holds values the rule does not allow (e.g. 37 grey levels in a
            "binary" mask saved as JPEG), naming the file and the fix.
    """
    if threshold is not None:
        return (raw > threshold).astype(np.uint8)
    values = np.unique(raw)
    if rule.binary and len(values) > 2:
        shown = ", ".join(f"{v:g}" for v in values[:6]) + (", ..." if len(values) > 6 else "")
        raise DataError(f"{path}: label has {len(values)} distinct values ({shown}); {rule.hint}")
    if rule.allowed is not None:
        extra = sorted(set(values.tolist()) - set(rule.allowed))
        if extra:
            raise DataError(
                f"{path}: label values {extra[:6]} are not among the declared labels "
                f"{list(rule.allowed)}; {rule.hint}"
            )
    if rule.foreground is None:
        return (raw > 0).astype(np.uint8)
    return np.isin(raw, rule.foreground).astype(np.uint8)


def preprocess_pair(pair: Pair, prep: Preprocess, rule: LabelRule, dims: int) -> Case:
    """Decode, select channels, resize and scale one case (the runner-side path, uses MONAI).

    Returns:
        ``Case``: image float32 ``(*spatial)`` for one channel or ``(C, *spatial)``; label
        uint8 0/1 ``(*spatial)``; spacing per spatial axis; meta ``source``, ``fbr``.
    """
    channels: list[np.ndarray] = []
    for path in pair.images:
        channels.extend(_select_channels(decode(path), prep.channels, dims, path))
    image = np.stack(channels).astype(np.float32)
    label = np.zeros(image.shape[1:], dtype=np.uint8)
    for path in pair.labels:
        raw = decode(path, gray=True)
        if raw.shape != label.shape:
            raise DataError(
                f"{path}: label size {raw.shape} differs from its image's {label.shape} "
                f"({pair.images[0].name}); re-export one of them"
            )
        label |= binarize(raw, rule, prep.label_threshold, path)
    spacing = _spacing(pair.images[0], dims)
    native = NativeGrid(label.copy(), spacing) if prep.native else None
    if prep.size is not None:
        target = (prep.size,) * dims
        spacing = tuple(s * n / t for s, n, t in zip(spacing, label.shape, target, strict=True))
        image, label = _resize(
            image, label, target, label_mode=prep.label_resize, image_mode=prep.image_resize
        )
    image = _scale(image, prep.intensity)
    if image.shape[0] == 1:
        image = image[0]
    fbr = float(label.mean()) if label.size else 0.0
    # HD95/NSD units: 2D files carry no spacing (pixels of the file); volumes are read in mm.
    unit = "px" if extension(pair.images[0]) in EXTENSIONS_2D else "mm"
    meta: dict[str, float | str] = {"source": pair.images[0].name, "fbr": fbr, "distance_unit": unit}
    if dims == 2 and 0 < label.sum() < label.size:
        # The task-complexity measure of the study (LBP-KL, ~25 ms a case, cached with the arrays), so
        # real 2D results sit on the same axis as synthetic ones (``segbench advise`` reads it).
        from segbench.metrics.complexity import lbp_kl

        meta["complexity_kl"] = lbp_kl(image if image.ndim == 2 else image.mean(axis=0), label)
    image, label = np.ascontiguousarray(image), np.ascontiguousarray(label)
    return Case(pair.case_id, image, label, spacing, meta, native=native)


def _select_channels(array: np.ndarray, channels: str, dims: int, path: Path) -> list[np.ndarray]:
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == dims:  # single channel
        return [array] * 3 if channels == "rgb" else [array]
    if dims == 2 and array.ndim == 3 and array.shape[-1] in (3, 4):
        rgb = array[..., :3]
        if channels == "gray":
            return [rgb @ _LUMA]
        if channels == "green":
            return [rgb[..., 1]]
        return [rgb[..., k] for k in range(3)]
    raise DataError(
        f"{path}: image of shape {array.shape} is not a {dims}D image with channels={channels!r}; "
        "list each modality as its own file"
    )


def _spacing(path: Path, dims: int) -> tuple[float, ...]:
    if extension(path) in EXTENSIONS_2D:
        return (1.0,) * dims
    if extension(path) == ".nrrd":
        return nrrd_spacing(path, dims) or (1.0,) * dims
    try:
        import nibabel as nib

        zooms = nib.load(str(path)).header.get_zooms()
        return tuple(float(z) for z in zooms[:dims])
    except Exception:  # ITK formats: spacing not read without ITK; pixel units
        return (1.0,) * dims


def _resize(
    image: np.ndarray,
    label: np.ndarray,
    target: tuple[int, ...],
    *,
    label_mode: str = "nearest",
    image_mode: str = "bilinear",
) -> tuple[np.ndarray, np.ndarray]:
    """Image ``(C, *spatial)`` and binary label ``(*spatial)`` resized to ``target``.

    ``image_mode`` ``bilinear`` is antialiased where it shrinks (MONAI applies the Gaussian
    only when downsampling); ``area`` averages the covered pixels.  ``label_mode`` ``nearest``
    samples the mask; ``area`` averages it and thresholds at 0.5 (ties count as foreground).
    """
    if tuple(label.shape) == target:
        return image, label
    from monai.transforms import Resize

    if image_mode == "area":
        resized = Resize(target, mode="area")(image)
    else:
        mode = "bilinear" if len(target) == 2 else "trilinear"
        resized = Resize(target, mode=mode, anti_aliasing=True)(image)
    if label_mode == "area":
        share = np.asarray(Resize(target, mode="area")(label[None].astype(np.float32)))[0]
        mask = (share >= 0.5).astype(np.uint8)
    else:  # nearest keeps the mask binary (antialiasing would blur the boundary)
        mask = np.asarray(Resize(target, mode="nearest")(label[None].astype(np.float32)))[0].astype(np.uint8)
    return np.asarray(resized, dtype=np.float32), mask


def _scale(image: np.ndarray, intensity: str | tuple[float, float]) -> np.ndarray:
    if isinstance(intensity, tuple):
        a_min, a_max = intensity
        return np.clip((image - a_min) / (a_max - a_min), 0.0, 1.0).astype(np.float32)
    if intensity == "zscore":
        axes = tuple(range(1, image.ndim))
        mean = image.mean(axis=axes, keepdims=True)
        std = image.std(axis=axes, keepdims=True)
        return np.where(std > 0, (image - mean) / np.where(std > 0, std, 1.0), 0.0).astype(np.float32)
    low, high = float(image.min()), float(image.max())
    return ((image - low) / (high - low) if high > low else np.zeros_like(image)).astype(np.float32)
