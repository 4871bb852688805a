"""Synthetic 2D texture-blend dataset of the skip-connection vs task-complexity study.

Each image is a random Bézier blob (the label) on a textured background; the foreground
texture is blended with the background texture by ``alpha`` (the suite's ``complexity``),
so a higher alpha makes the object harder to tell from its surroundings.

Why every draw uses per-case streams: the runner pairs cases across complexity levels and
evaluates a model trained at one alpha on a test set built at another, so masks, crop offsets
and procedural patterns must not depend on ``alpha`` — only the blend does.  Each case gets
its own generators (mask / foreground crop / background crop) derived from one integer drawn
from ``rng``; hence changing the test textures (texture shift) leaves train and val untouched
and leaves the test masks unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from segbench.cases import Case, DatasetSplits
from segbench.datasets.blobs import bezier_blob_mask
from segbench.datasets.memory import memory_problem
from segbench.datasets.split import check_split
from segbench.datasets.textures import texture_crop, validate_texture
from segbench.metrics.complexity import foreground_ratio, lbp_jsd, lbp_kl
from segbench.registry import register_dataset

__all__ = ["DIRECTIONS", "blend", "build", "split_counts"]

DIRECTIONS = ("foreground", "background")

# Stream ids of a case's generators; fixed so a case is reproducible on its own.
_MASK, _FG, _BG = 0, 1, 2
_SPLITS = ("train", "val", "test")


@register_dataset(
    "textures2d", dims=2, generated=True, complexity_range=(0.0, 1.0), check=lambda params: _check(params)
)
def build(
    rng: np.random.Generator,
    complexity: float | None = None,
    *,
    size: int = 256,
    n_images: int = 100,
    fg_texture: str = "grass",
    bg_texture: str = "gravel",
    direction: Literal["foreground", "background"] = "foreground",
    texture_dir: str | None = None,
    split: tuple[float, float, float] = (0.7, 0.1, 0.2),
    test_fg_texture: str | None = None,
    test_bg_texture: str | None = None,
) -> DatasetSplits:
    """Bézier blobs on blended textures (skip-connection study, 2D); ``complexity`` = alpha.

    Foreground direction (the study's default): inside the mask
    ``fg * (1 - alpha) + bg * alpha``, outside ``bg``.  Background direction: the blend is
    applied outside the mask, so outside ``bg * (1 - alpha) + fg * alpha`` and inside ``fg``.
    This is the faithful mirror of the foreground direction: in both, alpha 0 shows two pure
    textures and alpha 1 makes the two regions identical, so higher alpha = harder.

    Args:
        rng: injected by the runner; the only source of randomness.
        complexity: blend weight alpha in ``[0, 1]``; ``None`` = 0.5.
        size: image side in pixels (>= 16).  Defaults to 256 (the study).
        n_images: images per complexity level, split by ``split``.  Defaults to 100.
        fg_texture: texture inside the blob (see ``segbench.datasets.textures.list_textures``).
            Defaults to ``"grass"``.
        bg_texture: texture of the background.  Defaults to ``"gravel"``.
        direction: ``"foreground"`` or ``"background"`` (where the blend is applied).
            Defaults to ``"foreground"``.
        texture_dir: optional folder of extra texture images (grayscale-converted; name =
            file stem).  Defaults to ``None``.
        split: train/val/test fractions summing to 1; each split gets at least one image.
            Defaults to ``(0.7, 0.1, 0.2)`` (70/10/20 of 100, as the study).
        test_fg_texture: foreground texture of the test split only, for a texture-shift
            evaluation.  ``None`` = ``fg_texture``.
        test_bg_texture: background texture of the test split only.  ``None`` = ``bg_texture``.

    Returns:
        Splits of ``Case``: image float32 ``(size, size)`` in ``[0, 1]``, label uint8 0/1,
        spacing ``(1.0, 1.0)``, meta ``alpha``, ``complexity_kl`` (LBP-KL of the final image, test split only,
        see ``segbench.metrics.complexity.lbp_kl``), ``complexity_jsd`` (bounded LBP Jensen-Shannon
        divergence at native resolution, test split only, ``lbp_jsd``), ``fbr``, ``fg_texture``,
        ``bg_texture``, ``direction``.  Case ids ``"train-000"``, ``"val-000"``, ``"test-000"``, ...

    Example:
        >>> splits = build(np.random.default_rng(1), 0.3, size=64, n_images=10)
        >>> [len(s) for s in (splits.train, splits.val, splits.test)]
        [7, 1, 2]
    """
    alpha = 0.5 if complexity is None else _check_alpha(complexity)
    _check_int("size", size, minimum=16)
    _check_int("n_images", n_images, minimum=3)
    if direction not in DIRECTIONS:
        raise ValueError(f"direction={direction!r} is not allowed; use one of {', '.join(DIRECTIONS)}")
    counts = split_counts(n_images, split)
    textures = {
        "train": (fg_texture, bg_texture),
        "val": (fg_texture, bg_texture),
        "test": (test_fg_texture or fg_texture, test_bg_texture or bg_texture),
    }
    for param, name in (
        ("fg_texture", fg_texture),
        ("bg_texture", bg_texture),
        ("test_fg_texture", test_fg_texture),
        ("test_bg_texture", test_bg_texture),
    ):
        if name is not None:
            validate_texture(name, texture_dir, param=param)

    base_seed = int(rng.integers(0, 2**63 - 1))
    out: dict[str, list[Case]] = {}
    index = 0
    for split_name, count in zip(_SPLITS, counts, strict=True):
        fg_name, bg_name = textures[split_name]
        cases = []
        for i in range(count):
            streams = [np.random.default_rng([base_seed, index, s]) for s in (_MASK, _FG, _BG)]
            index += 1
            label = bezier_blob_mask(streams[_MASK], size)
            fg = texture_crop(fg_name, streams[_FG], size, texture_dir)
            bg = texture_crop(bg_name, streams[_BG], size, texture_dir)
            image = blend(fg, bg, label, alpha, direction)
            meta: dict[str, float | str] = {
                "alpha": alpha,
                # Measured where it is reported (test cases): LBP at 256x256 is most of the
                # dataset's build time, and train/val values are never stored.
                "complexity_kl": lbp_kl(image, label) if split_name == "test" else float("nan"),
                "complexity_jsd": lbp_jsd(image, label) if split_name == "test" else float("nan"),
                "fbr": foreground_ratio(label),
                "fg_texture": fg_name,
                "bg_texture": bg_name,
                "direction": direction,
            }
            cases.append(Case(f"{split_name}-{i:03d}", image, label, (1.0, 1.0), meta))
        out[split_name] = cases
    return DatasetSplits(out["train"], out["val"], out["test"])


def blend(fg: np.ndarray, bg: np.ndarray, mask: np.ndarray, alpha: float, direction: str) -> np.ndarray:
    """Compose a foreground and background texture over ``mask`` with blend weight ``alpha``.

    Args:
        fg: foreground texture ``(H, W)`` in ``[0, 1]``.
        bg: background texture ``(H, W)`` in ``[0, 1]``.
        mask: binary ``(H, W)``; non-zero = object.
        alpha: blend weight in ``[0, 1]``; 0 = pure textures, 1 = regions identical.
        direction: ``"foreground"`` (blend inside the mask, ``bg`` outside) or
            ``"background"`` (blend outside the mask, ``fg`` inside).

    Returns:
        float32 image ``(H, W)`` in ``[0, 1]``.
    """
    inside = np.asarray(mask) != 0
    if direction == "foreground":
        image = np.where(inside, fg * (1.0 - alpha) + bg * alpha, bg)
    elif direction == "background":
        image = np.where(inside, fg, bg * (1.0 - alpha) + fg * alpha)
    else:
        raise ValueError(f"direction={direction!r} is not allowed; use one of {', '.join(DIRECTIONS)}")
    return image.astype(np.float32)


def split_counts(n: int, split: Sequence[float]) -> tuple[int, int, int]:
    """Train/val/test counts for ``n`` items from fractions (rounded; test takes the rest).

    Raises:
        ValueError: ``split`` is not three non-negative fractions summing to 1, or a split
            would be empty (the runner needs train, val for checkpoint selection, and test).
    """
    fractions = check_split(split)
    n_train, n_val = round(n * fractions[0]), round(n * fractions[1])
    n_test = n - n_train - n_val
    if min(n_train, n_val, n_test) < 1:
        raise ValueError(
            f"split={split!r} with n_images={n} gives {n_train}/{n_val}/{n_test} train/val/test "
            "images; every split needs at least one (raise n_images or change split)"
        )
    return n_train, n_val, n_test


def _check(params: dict[str, Any]) -> list[str]:
    """Problems ``segbench validate`` reports before anything runs: values, split, textures exist.

    ``params`` holds every parameter (defaults filled in); a problem starts with its parameter.
    """
    problems = []
    if params["direction"] not in DIRECTIONS:
        problems.append(f"direction: not allowed; use one of {', '.join(DIRECTIONS)}")
    rules: list[tuple[str, Callable[[], object]]] = [
        ("size", lambda: _check_int("size", params["size"], minimum=16)),
        ("n_images", lambda: _check_int("n_images", params["n_images"], minimum=3)),
        ("split", lambda: split_counts(params["n_images"], params["split"])),
    ]
    texture_dir = params["texture_dir"]
    if texture_dir is not None and not Path(texture_dir).expanduser().is_dir():
        problems.append("texture_dir: is not an existing folder")
    else:
        for param in ("fg_texture", "bg_texture", "test_fg_texture", "test_bg_texture"):
            if params[param] is not None:
                rules.append((param, lambda p=param: validate_texture(params[p], texture_dir, param=p)))
    for param, rule in rules:
        try:
            rule()
        except ValueError as exc:
            problems.append(f"{param}: {exc}")
    if not problems:
        n, size = params["n_images"], params["size"]
        what = f"{n} images of {size}x{size}"
        too_big = memory_problem(n, (size, size), what, "lower size or n_images")
        problems += [too_big] if too_big else []
    return problems


def _check_alpha(complexity: float) -> float:
    try:
        alpha = float(complexity)
    except (TypeError, ValueError):
        raise ValueError(f"complexity={complexity!r} must be a number (alpha) in [0, 1]") from None
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"complexity={complexity!r} is outside the allowed alpha range [0, 1]")
    return alpha


def _check_int(param: str, value: int, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{param}={value!r} must be an integer >= {minimum}")
