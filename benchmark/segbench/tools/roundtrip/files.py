"""Image and mask files of the round trip: NIfTI (geometry in the affine), 16-bit PNG, NumPy.

Why these three: nnU-Net and MONAI bundles read and write NIfTI; 2D tools (and nnU-Net's 2D
datasets) use PNG; ``.npy`` is the lossless fallback for scripts.  Arrays keep segbench's axis
order (``(H, W)`` or ``(D, H, W)``) in every format, so what is written is what is read back.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "FORMATS",
    "PREDICTION_ENDINGS",
    "affine_for",
    "ending_of",
    "read_array",
    "read_spacing",
    "write_image",
    "write_label",
]

FORMATS: dict[str, str] = {"nnunet": ".nii.gz", "nnunet-png": ".png", "nifti": ".nii.gz", "png": ".png"}
"""Export format -> file ending of images and labels (``nnunet*`` formats add ``_0000`` to image names:
nnU-Net's channel suffix; ``nnunet-png`` is for nnU-Net models trained on 2D PNG datasets)."""

PREDICTION_ENDINGS: tuple[str, ...] = (".nii.gz", ".nii", ".png", ".npy")
"""Endings ``segbench import`` accepts for predicted masks (any format, whatever was exported)."""

_PNG_MAX = 65535


def ending_of(path: Path) -> str:
    """The file ending, ``.nii.gz`` counted as one."""
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def affine_for(spacing: Sequence[float]) -> np.ndarray:
    """A 4x4 NIfTI affine with the voxel size on the diagonal (2D images get 1 mm on the third axis)."""
    diag = [float(s) for s in spacing] + [1.0] * (3 - len(spacing))
    return np.diag([*diag[:3], 1.0])


def write_image(path: Path, image: np.ndarray, spacing: Sequence[float]) -> list[float] | None:
    """Write a float image; returns ``[min, max]`` when the file holds it rescaled (PNG), else None.

    PNG stores the per-image min-max scaled intensities in 16 bits: segbench's models see min-max
    scaled inputs anyway, so only the 1/65535 quantisation differs from the float image.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if ending_of(path) == ".png":
        from PIL import Image

        if image.ndim != 2:
            raise ValueError(f"PNG holds 2D images only, got shape {image.shape}; export 3D data as nifti")
        low, high = float(image.min()), float(image.max())
        scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
        Image.fromarray(np.round(scaled * _PNG_MAX).astype(np.uint16)).save(path)
        return [low, high]
    _write_nifti(path, image.astype(np.float32), spacing)
    return None


def write_label(path: Path, label: np.ndarray, spacing: Sequence[float]) -> None:
    """Write a 0/1 mask as uint8 (lossless in every format)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = (np.asarray(label) > 0).astype(np.uint8)
    if ending_of(path) == ".png":
        from PIL import Image

        Image.fromarray(mask).save(path)
    else:
        _write_nifti(path, mask, spacing)


def read_array(path: Path) -> np.ndarray:
    """The array stored in ``path`` (NIfTI, PNG or ``.npy``), in segbench's axis order."""
    ending = ending_of(path)
    if ending == ".npy":
        return np.load(path, allow_pickle=False)
    if ending == ".png":
        from PIL import Image

        with Image.open(path) as img:
            return np.array(img)
    import nibabel as nib

    return np.asanyarray(nib.load(str(path)).dataobj)


def read_spacing(path: Path) -> tuple[float, ...] | None:
    """The voxel size a NIfTI file's header records; None for formats without geometry."""
    if ending_of(path) not in (".nii", ".nii.gz"):
        return None
    import nibabel as nib

    return tuple(float(z) for z in nib.load(str(path)).header.get_zooms())


def _write_nifti(path: Path, array: np.ndarray, spacing: Sequence[float]) -> None:
    import nibabel as nib

    image = nib.Nifti1Image(np.ascontiguousarray(array), affine_for(spacing))
    image.header.set_zooms(tuple(float(s) for s in spacing))
    nib.save(image, str(path))
