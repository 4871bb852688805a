"""textures2d: seeding, pairing across alpha, blend formula, directions, shifts, validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage import io

from segbench.cases import DatasetSplits
from segbench.datasets.textures2d import blend, build, split_counts
from segbench.registry import DATASETS

SMALL = {"size": 32, "n_images": 10}


def _cases(splits: DatasetSplits) -> list:
    return [*splits.train, *splits.val, *splits.test]


def _build(seed: int = 0, alpha: float | None = 0.5, **kw: object) -> DatasetSplits:
    return build(np.random.default_rng(seed), alpha, **{**SMALL, **kw})


def test_registered_with_suite_params() -> None:
    entry = DATASETS.get("textures2d")
    assert entry.factory is build
    assert set(entry.parameters()) == {
        "size", "n_images", "fg_texture", "bg_texture", "direction", "texture_dir", "split",
        "test_fg_texture", "test_bg_texture",
    }  # fmt: skip


def test_shapes_ids_meta_and_split() -> None:
    splits = _build()
    assert [len(splits.train), len(splits.val), len(splits.test)] == [7, 1, 2]
    assert [c.case_id for c in splits.test] == ["test-000", "test-001"]
    assert splits.spatial_dims == 2
    for case in _cases(splits):
        assert case.image.shape == (32, 32) and case.image.dtype == np.float32
        assert case.label.dtype == np.uint8 and set(np.unique(case.label)) == {0, 1}
        assert case.image.min() >= 0.0 and case.image.max() <= 1.0
        assert case.spacing == (1.0, 1.0)
        assert case.meta["alpha"] == 0.5
        # The LBP-KL measure is computed where it is reported: the test split only.
        assert np.isfinite(case.meta["complexity_kl"]) == case.case_id.startswith("test")
        assert 0.0 < case.meta["fbr"] < 1.0
        assert case.meta["fg_texture"] == "grass" and case.meta["bg_texture"] == "gravel"


def test_default_complexity_is_half() -> None:
    assert _build(alpha=None).train[0].meta["alpha"] == 0.5


def test_same_seed_is_bit_identical() -> None:
    a, b = _cases(_build(3)), _cases(_build(3))
    for x, y in zip(a, b, strict=True):
        assert x.case_id == y.case_id and x.meta.keys() == y.meta.keys()
        assert all(
            np.array_equal(x.meta[k], y.meta[k], equal_nan=isinstance(x.meta[k], float)) for k in x.meta
        )
        assert np.array_equal(x.image, y.image) and np.array_equal(x.label, y.label)


def test_different_seed_gives_different_masks() -> None:
    a, b = _build(1).train, _build(2).train
    assert not any(np.array_equal(x.label, y.label) for x, y in zip(a, b, strict=True))


def test_masks_differ_between_cases() -> None:
    labels = [c.label for c in _cases(_build())]
    assert len({lab.tobytes() for lab in labels}) == len(labels)


def test_paired_across_complexity() -> None:
    lo, hi = _cases(_build(alpha=0.1)), _cases(_build(alpha=0.9))
    for x, y in zip(lo, hi, strict=True):
        assert x.case_id == y.case_id
        assert np.array_equal(x.label, y.label)
        outside = x.label == 0
        assert np.array_equal(x.image[outside], y.image[outside])  # background untouched
        assert not np.array_equal(x.image, y.image)


@pytest.mark.parametrize("direction", ["foreground", "background"])
def test_blend_formula_against_pure_textures(direction: str) -> None:
    # alpha 0 shows the pure textures, alpha 1 the other texture in the blended region, so any
    # alpha must be their convex combination there and unchanged elsewhere.
    pure, other, mid = (_cases(_build(alpha=a, direction=direction)) for a in (0.0, 1.0, 0.3))
    for p, o, m in zip(pure, other, mid, strict=True):
        blended = (p.label == 1) if direction == "foreground" else (p.label == 0)
        expected = 0.7 * p.image[blended] + 0.3 * o.image[blended]
        np.testing.assert_allclose(m.image[blended], expected, atol=1e-6)
        assert np.array_equal(m.image[~blended], p.image[~blended])
        # At alpha 1 the blended region shows the same texture as the rest of the image.
        assert m.meta["alpha"] == 0.3


def test_blend_single_pixels() -> None:
    fg, bg = np.array([[0.2, 0.2]]), np.array([[0.6, 0.6]])
    mask = np.array([[1, 0]])
    np.testing.assert_allclose(blend(fg, bg, mask, 0.25, "foreground"), [[0.2 * 0.75 + 0.6 * 0.25, 0.6]])
    np.testing.assert_allclose(blend(fg, bg, mask, 0.25, "background"), [[0.2, 0.6 * 0.75 + 0.2 * 0.25]])
    with pytest.raises(ValueError, match="direction='up'"):
        blend(fg, bg, mask, 0.5, "up")


def test_directions_differ() -> None:
    f, b = _build(direction="foreground").train[0], _build(direction="background").train[0]
    assert np.array_equal(f.label, b.label)
    assert np.array_equal(f.image[f.label == 0], _build(alpha=0.0).train[0].image[f.label == 0])
    assert np.array_equal(b.image[b.label == 1], _build(alpha=0.0).train[0].image[b.label == 1])


def test_texture_shift_changes_only_test() -> None:
    base = _build(seed=4)
    shifted = _build(seed=4, test_fg_texture="brick", test_bg_texture="noise")
    for x, y in zip([*base.train, *base.val], [*shifted.train, *shifted.val], strict=True):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.label, y.label)
    for x, y in zip(base.test, shifted.test, strict=True):
        assert np.array_equal(x.label, y.label) and not np.array_equal(x.image, y.image)
        assert (y.meta["fg_texture"], y.meta["bg_texture"]) == ("brick", "noise")


def test_user_texture_dir(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    io.imsave(
        tmp_path / "dots.png", (rng.random((64, 64)) > 0.9).astype(np.uint8) * 255, check_contrast=False
    )
    rows = np.arange(64)[:, None] * np.ones((1, 64))
    io.imsave(tmp_path / "ramp.png", (rows * 4).astype(np.uint8), check_contrast=False)
    splits = _build(fg_texture="dots", bg_texture="ramp", texture_dir=str(tmp_path))
    assert splits.train[0].meta["fg_texture"] == "dots"
    with pytest.raises(ValueError, match=r"bg_texture='gras'.*dots.*ramp"):
        _build(bg_texture="gras", texture_dir=str(tmp_path))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 1.5}, r"complexity=1.5 .*\[0, 1\]"),
        ({"alpha": -0.1}, r"complexity=-0.1"),
        ({"direction": "inside"}, "direction='inside'.*foreground, background"),
        ({"fg_texture": "marble"}, "fg_texture='marble'.*available.*gravel"),
        ({"test_bg_texture": "marble"}, "test_bg_texture='marble'"),
        ({"size": 8}, "size=8"),
        ({"n_images": 2}, "n_images=2"),
        ({"split": (0.5, 0.5)}, r"split=\(0.5, 0.5\)"),
        ({"split": (0.7, 0.2, 0.2)}, "must sum to 1"),
        ({"split": (0.9, 0.0, 0.1)}, "every split needs at least one"),
        ({"texture_dir": "/nonexistent/textures"}, "texture_dir='/nonexistent/textures'"),
    ],
)
def test_validation_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _build(**kwargs)


def test_split_counts() -> None:
    assert split_counts(100, (0.7, 0.1, 0.2)) == (70, 10, 20)
    assert split_counts(10, [0.7, 0.1, 0.2]) == (7, 1, 2)
