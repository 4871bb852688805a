"""Texture sources for the synthetic 2D data: scikit-image's bundled images, procedural ones,
and a user folder.

Why: the skip-connection study blended external texture photographs that we cannot ship or
download, so the built-ins are the texture photographs bundled *inside* scikit-image's wheel
(read straight from its package folder, never through its download fetcher) plus two
procedural textures, and a user may point ``texture_dir`` at a folder of their own images.

Every texture is used through :func:`texture_crop`, which returns a ``(size, size)`` float32
crop in ``[0, 1]`` taken with the given ``rng``.  File textures are cropped at their native
resolution (a random ``size`` x ``size`` window) so a texture keeps its grain whatever the
image size; only a texture smaller than ``size`` is cropped whole and resized up.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["BUILTIN_TEXTURES", "IMAGE_SUFFIXES", "list_textures", "texture_crop", "validate_texture"]

# Built-in photographs shipped inside scikit-image (file name in ``skimage/data``); chosen
# because they are stationary textures, unlike camera/astronaut/coins which are scenes.
_SKIMAGE_FILES: dict[str, str] = {
    "brick": "brick.png",
    "grass": "grass.png",
    "gravel": "gravel.png",
    "moon": "moon.png",
}

# File suffixes read from ``texture_dir`` (lower-case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

# Smallest side a texture image may have: below this a crop is mostly interpolation.
_MIN_TEXTURE_SIDE = 16


def _noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth Gaussian noise (white noise blurred with sigma 2 px): an isotropic blob texture."""
    from scipy import ndimage  # lazy: importing the registry must stay cheap

    field = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma=2.0, mode="wrap")
    return _min_max(field)


def _stripes(rng: np.random.Generator, size: int) -> np.ndarray:
    """Sinusoidal stripes of period 12 px at a random orientation and phase (an oriented texture)."""
    theta, phase = rng.uniform(0.0, np.pi), rng.uniform(0.0, 2.0 * np.pi)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    return 0.5 + 0.5 * np.sin(2.0 * np.pi * (cols * np.cos(theta) + rows * np.sin(theta)) / 12.0 + phase)


_PROCEDURAL: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "noise": _noise,
    "stripes": _stripes,
}

BUILTIN_TEXTURES: tuple[str, ...] = tuple(sorted([*_SKIMAGE_FILES, *_PROCEDURAL]))


def list_textures(texture_dir: str | Path | None = None) -> list[str]:
    """Sorted names of the built-in textures plus those found in ``texture_dir``.

    Args:
        texture_dir: optional folder of image files (``.png``, ``.jpg``, ``.tif``, ``.bmp``);
            each file is a texture named by its stem.  Defaults to ``None``.

    Raises:
        ValueError: ``texture_dir`` is not a folder, two files share a stem, or a file's stem
            shadows a built-in texture name (ambiguous, so refused rather than guessed).
    """
    return sorted([*BUILTIN_TEXTURES, *_user_textures(texture_dir)])


def validate_texture(name: str, texture_dir: str | Path | None = None, *, param: str = "texture") -> None:
    """Raise ``ValueError`` naming ``param`` unless ``name`` is an available texture.

    Why separate from :func:`texture_crop`: datasets validate every texture parameter before
    drawing anything, so a typo fails at once and lists what is available.
    """
    available = list_textures(texture_dir)
    if name not in available:
        where = f" (built-in, plus files in texture_dir={str(texture_dir)!r})" if texture_dir else ""
        raise ValueError(f"{param}={name!r} is not a known texture; available{where}: {', '.join(available)}")


def texture_crop(
    name: str, rng: np.random.Generator, size: int, texture_dir: str | Path | None = None
) -> np.ndarray:
    """A ``(size, size)`` float32 crop of texture ``name`` with values in ``[0, 1]``.

    File textures are grayscale, scaled to ``[0, 1]`` by their own minimum and maximum (so
    crops keep the texture's natural brightness variation), and cropped at a random offset
    drawn from ``rng``.  Procedural textures are generated from ``rng`` directly.

    Args:
        name: a name from :func:`list_textures`.
        rng: source of the crop offset (or of the procedural pattern).
        size: side of the crop in pixels.
        texture_dir: folder of user textures, as in :func:`list_textures`.

    Returns:
        float32 array ``(size, size)``.
    """
    import skimage.data  # lazy: importing the registry must stay cheap
    from skimage.transform import resize

    if name in _PROCEDURAL:
        return _PROCEDURAL[name](rng, size).astype(np.float32)
    user = _user_textures(texture_dir)
    if name in user:
        texture = _load_image(str(user[name]))
    elif name in _SKIMAGE_FILES:
        texture = _load_image(str(Path(skimage.data.__file__).parent / _SKIMAGE_FILES[name]))
    else:
        validate_texture(name, texture_dir)
        raise AssertionError("unreachable")  # validate_texture raised
    height, width = texture.shape
    side = min(size, height, width)
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    crop = texture[top : top + side, left : left + side]
    if side != size:
        crop = resize(crop, (size, size), order=1, mode="reflect", anti_aliasing=False)
    return np.clip(crop, 0.0, 1.0).astype(np.float32)


def _user_textures(texture_dir: str | Path | None) -> dict[str, Path]:
    if texture_dir is None:
        return {}
    folder = Path(texture_dir).expanduser()
    if not folder.is_dir():
        raise ValueError(f"texture_dir={str(texture_dir)!r} is not an existing folder")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if path.stem in found:
            raise ValueError(
                f"texture_dir={str(texture_dir)!r}: {found[path.stem].name} and {path.name} "
                f"both define texture {path.stem!r}; rename one"
            )
        if path.stem in BUILTIN_TEXTURES:
            raise ValueError(
                f"texture_dir={str(texture_dir)!r}: {path.name} shadows the built-in texture "
                f"{path.stem!r}; rename the file (built-ins: {', '.join(BUILTIN_TEXTURES)})"
            )
        found[path.stem] = path
    return found


@functools.lru_cache(maxsize=32)
def _load_image(path: str) -> np.ndarray:
    # Cached: a dataset crops the same few textures hundreds of times.  Read-only so a caller
    # cannot corrupt the cache.
    from skimage import io
    from skimage.color import rgb2gray

    try:
        raw = io.imread(path)
    except Exception as exc:  # skimage raises many types for unreadable files
        raise ValueError(f"texture file {path!r} cannot be read as an image ({exc})") from exc
    image = np.asarray(raw, dtype=np.float64)
    if image.ndim == 3:
        if image.shape[-1] == 4:  # RGBA: drop alpha
            image = image[..., :3]
        image = rgb2gray(image) if image.shape[-1] == 3 else image[..., 0]
    if image.ndim != 2 or min(image.shape) < _MIN_TEXTURE_SIDE:
        raise ValueError(
            f"texture file {path!r} must be a 2D image at least {_MIN_TEXTURE_SIDE} px a side, "
            f"got shape {np.shape(raw)}"
        )
    if float(image.max()) <= float(image.min()):
        raise ValueError(f"texture file {path!r} is constant; a texture needs intensity variation")
    image = _min_max(image)
    image.setflags(write=False)
    return image


def _min_max(image: np.ndarray) -> np.ndarray:
    lo, hi = float(image.min()), float(image.max())
    return (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
