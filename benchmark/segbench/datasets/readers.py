"""Image files: which formats are read, their header shape (cheap), and full decoding.

Why two paths: ``segbench validate`` must check thousands of files in a second or two
without importing torch, so the checks read headers with PIL / nibabel directly; the
runner decodes through MONAI ``LoadImage`` (PIL and nibabel readers), as a MONAI user's
pipeline would.  NRRD is read with pynrrd directly, not MONAI's ``NrrdReader``: that reader
raises ``KeyError: 'space directions'`` on the many NRRD files without spatial fields.  MHA/MHD
need ITK (``pip install itk``, ~300 MB, not a dependency): without it such files fail with a
one-line message saying so, before anything runs.
"""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path
from typing import Any

import numpy as np

from segbench.datasets.errors import DataError

__all__ = [
    "EXTENSIONS_2D",
    "EXTENSIONS_3D",
    "IMAGE_EXTENSIONS",
    "decode",
    "header_shape",
    "is_image",
    "nrrd_header",
    "nrrd_spacing",
    "read_label_array",
    "stem",
]

EXTENSIONS_2D = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif")
EXTENSIONS_3D = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")
IMAGE_EXTENSIONS = EXTENSIONS_2D + EXTENSIONS_3D
_NIFTI = (".nii.gz", ".nii")
_NRRD = (".nrrd",)
_ITK = (".mha", ".mhd")
# PIL modes whose pixel values are not intensities (palette) or carry alpha: converted first.
# A 1-bit image ("1") is one grey channel (read as 0/255), not colour: a 1-bit mask used to be
# described as (H, W, 3) in size messages.
_TO_RGB = {"P", "PA", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "LA"}


def extension(path: Path | str) -> str:
    """The (possibly double) image extension, lower case: ``".nii.gz"``, ``".png"``, ``""``."""
    name = Path(path).name.lower()
    for ext in IMAGE_EXTENSIONS:
        if name.endswith(ext):
            return ext
    return Path(name).suffix


def is_image(path: Path | str) -> bool:
    """Whether the file name has an image extension this module reads."""
    return extension(path) in IMAGE_EXTENSIONS


def stem(path: Path | str) -> str:
    """The file name without its image extension (``"case_01.nii.gz"`` -> ``"case_01"``)."""
    name = Path(path).name
    ext = extension(name)
    return name[: -len(ext)] if ext and name.lower().endswith(ext) else Path(name).stem


def header_shape(path: Path) -> tuple[int, ...]:
    """The array shape of an image file from its header (no pixel decoding).

    2D formats give ``(H, W)`` or ``(H, W, C)``; NIfTI gives nibabel's ``(X, Y[, Z])`` with
    trailing singleton axes dropped (nnU-Net stores 2D slices as ``(X, Y, 1)``).

    Raises:
        DataError: a zero-byte or unreadable file, or an ITK format without ITK installed.
    """
    _check_nonempty(path)
    ext = extension(path)
    if ext in EXTENSIONS_2D:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                width, height = img.size
                bands = len(img.convert("RGB").getbands()) if img.mode in _TO_RGB else len(img.getbands())
            # The header alone lets a truncated file through (it failed only when training decoded
            # it); verify() reads every chunk's CRC up to the end (PNG) without decoding pixels.
            with Image.open(path) as img:
                img.verify()
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error) as exc:
            raise DataError(f"{path}: cannot be read as an image ({exc}); re-export or remove it") from None
        return (height, width) if bands == 1 else (height, width, bands)
    if ext in _NIFTI:
        import nibabel as nib

        try:
            shape = tuple(int(s) for s in nib.load(str(path)).shape)
        except Exception as exc:  # nibabel raises several types for broken files
            raise DataError(f"{path}: cannot be read as NIfTI ({exc}); re-export it or remove it") from None
        return _drop_trailing_ones(shape)
    if ext in _NRRD:
        return _drop_trailing_ones(tuple(int(s) for s in nrrd_header(path)["sizes"]))
    if ext in _ITK:
        _require_itk(path)
        return tuple(int(s) for s in np.asarray(decode(path)).shape)
    raise DataError(f"{path}: unsupported file type {ext!r}; use one of {', '.join(IMAGE_EXTENSIONS)}")


def nrrd_header(path: Path) -> dict[str, Any]:
    """An NRRD file's header (pynrrd), or a one-line DataError naming the file."""
    import nrrd

    try:
        header = dict(nrrd.read_header(str(path)))
        missing = [field for field in ("type", "dimension", "sizes") if field not in header]
        if missing:
            raise ValueError(f"header lacks the required field(s) {', '.join(missing)}")
    except Exception as exc:  # pynrrd raises NRRDError, ValueError, OSError for broken headers
        raise DataError(f"{path}: cannot be read as NRRD ({exc}); re-export it or remove it") from None
    return header


def nrrd_spacing(path: Path, dims: int) -> tuple[float, ...] | None:
    """Voxel size per axis from ``space directions`` (column norms) or ``spacings``; None if absent."""
    header = nrrd_header(path)
    directions = header.get("space directions")
    if directions is not None:
        rows = [np.asarray(d, dtype=float) for d in directions]
        norms = [float(np.linalg.norm(r)) for r in rows if np.all(np.isfinite(r))]  # NaN row: a channel axis
        if len(norms) >= dims:
            return tuple(norms[:dims])
    spacings = header.get("spacings")
    if spacings is not None and len(spacings) >= dims and np.all(np.isfinite(spacings[:dims])):
        return tuple(float(s) for s in spacings[:dims])
    return None


def decode(path: Path, *, gray: bool = False) -> np.ndarray:
    """Decode an image file through MONAI ``LoadImage`` into a numpy array.

    Args:
        path: the file.
        gray: convert 2D colour / palette images to one luminance channel (labels).

    Returns:
        2D formats: ``(H, W)`` or ``(H, W, C)`` (palette and alpha images converted to RGB,
        or to luminance when ``gray``); NIfTI: ``(X, Y[, Z])`` as nibabel orders it.
    """
    _check_nonempty(path)
    ext = extension(path)
    if ext in _NRRD:
        return _decode_nrrd(path)
    try:
        loader = _loader(ext, gray)
        array = np.asarray(loader(str(path)))
    except DataError:
        raise
    except Exception as exc:  # MONAI wraps reader errors in several types
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: cannot be decoded ({message}); re-export it or remove it") from None
    return array.reshape(_drop_trailing_ones(array.shape))


def read_label_array(path: Path) -> np.ndarray:
    """A label file's values without MONAI (used by the light pre-run checks).

    Returns the same array as ``decode(path, gray=True)`` for 2D formats and NIfTI.
    """
    _check_nonempty(path)
    ext = extension(path)
    if ext in EXTENSIONS_2D:
        from PIL import Image

        try:
            with Image.open(path) as img:
                return np.asarray(_to_gray(img))
        except OSError as exc:
            raise DataError(f"{path}: cannot be read as an image ({exc}); re-export or remove it") from None
    if ext in _NIFTI:
        import nibabel as nib

        try:
            data = np.asarray(nib.load(str(path)).dataobj)
        except Exception as exc:
            raise DataError(f"{path}: cannot be read as NIfTI ({exc}); re-export it or remove it") from None
        return data.reshape(_drop_trailing_ones(data.shape))
    return decode(path, gray=True)


def _loader(ext: str, gray: bool) -> Any:
    # Imported here: MONAI pulls torch, which the pre-run checks must not import.
    from monai.data import NibabelReader, PILReader
    from monai.transforms import LoadImage

    if ext in EXTENSIONS_2D:
        # reverse_indexing=False keeps numpy's (H, W) order (MONAI's default transposes to (W, H)).
        reader = PILReader(reverse_indexing=False, converter=_to_gray if gray else _to_rgb_if_needed)
        return LoadImage(reader=reader, image_only=True)
    if ext in _NIFTI:
        return LoadImage(reader=NibabelReader(), image_only=True)
    if ext in _ITK:
        _require_itk(Path("file" + ext))
        return LoadImage(reader="ITKReader", image_only=True)
    raise DataError(f"unsupported file type {ext!r}; use one of {', '.join(IMAGE_EXTENSIONS)}")


def _decode_nrrd(path: Path) -> np.ndarray:
    """Voxels in (X, Y, Z) order, as nibabel gives NIfTI (pynrrd's Fortran index order)."""
    import nrrd

    try:
        array, _ = nrrd.read(str(path), index_order="F")
    except Exception as exc:
        raise DataError(f"{path}: cannot be decoded as NRRD ({exc}); re-export it or remove it") from None
    array = np.asarray(array)
    return array.reshape(_drop_trailing_ones(array.shape))


def _to_rgb_if_needed(img: Any) -> Any:
    if img.mode == "1":
        return img.convert("L")
    return img.convert("RGB") if img.mode in _TO_RGB else img


def _to_gray(img: Any) -> Any:
    if img.mode in ("L", "I", "I;16", "I;16B", "F"):
        return img
    return img.convert("L")


def _check_nonempty(path: Path) -> None:
    try:
        size = Path(path).stat().st_size
    except OSError:
        raise DataError(f"{path}: file does not exist") from None
    if size == 0:
        raise DataError(f"{path}: file is empty (0 bytes); re-copy it or remove it from the dataset")


def _require_itk(path: Path) -> None:
    if importlib.util.find_spec("itk") is None:
        raise DataError(
            f"{path}: reading {extension(path)} files needs ITK, which is not installed "
            "(pip install itk), or convert the files to .nii.gz"
        )


def _drop_trailing_ones(shape: tuple[int, ...]) -> tuple[int, ...]:
    shape = tuple(shape)
    while len(shape) > 2 and shape[-1] == 1:
        shape = shape[:-1]
    return shape
