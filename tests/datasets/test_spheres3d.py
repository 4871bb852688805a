"""spheres3d: radii in range, FBR shift between train and test, seeding, validation."""

from __future__ import annotations

import numpy as np
import pytest

from segbench.datasets.spheres3d import build
from segbench.registry import DATASETS

CPU = {"size": 32, "n_train": 6, "n_val": 2, "n_test": 12, "train_radius": (6, 9), "test_radius": (2, 14)}


def _build(seed: int = 0, **kw: object):
    return build(np.random.default_rng(seed), None, **{**CPU, **kw})


def test_registered() -> None:
    entry = DATASETS.get("spheres3d")
    assert entry.factory is build
    assert set(entry.parameters()) == {"size", "n_train", "n_val", "n_test", "train_radius", "test_radius"}


def test_cases_shapes_meta_and_intensities() -> None:
    splits = _build()
    assert [len(splits.train), len(splits.val), len(splits.test)] == [6, 2, 12]
    assert splits.spatial_dims == 3 and splits.val[1].case_id == "val-001"
    for case in [*splits.train, *splits.val, *splits.test]:
        assert case.image.shape == (32, 32, 32) and case.image.dtype == np.float32
        assert case.label.dtype == np.uint8 and case.label.any()
        assert case.spacing == (1.0, 1.0, 1.0)
        assert np.all(case.image[case.label == 1] == 1.0)
        bg = case.image[case.label == 0]
        assert bg.min() >= 0.0 and bg.max() < 0.8
        assert case.meta["fbr"] == pytest.approx(case.label.mean())
        # Fully inside: nothing on the volume faces.
        for axis in range(3):
            assert not np.take(case.label, 0, axis).any() and not np.take(case.label, -1, axis).any()


def test_radii_inside_ranges_and_fbr_shift() -> None:
    splits = _build(n_test=30)
    train_r = [c.meta["radius"] for c in [*splits.train, *splits.val]]
    test_r = [c.meta["radius"] for c in splits.test]
    assert all(6 <= r < 9 for r in train_r) and all(2 <= r < 14 for r in test_r)
    train_fbr = [c.meta["fbr"] for c in splits.train]
    test_fbr = [c.meta["fbr"] for c in splits.test]
    assert min(test_fbr) < min(train_fbr) and max(test_fbr) > max(train_fbr)


def test_seeded_and_complexity_ignored() -> None:
    a = _build(1)
    b = build(np.random.default_rng(1), 0.9, **CPU)
    c = _build(2)
    for x, y in zip(a.test, b.test, strict=True):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.label, y.label)
    assert not np.array_equal(a.train[0].label, c.train[0].label)


def test_changing_n_test_keeps_training_volumes() -> None:
    a, b = _build(3), _build(3, n_test=4)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a.train, b.train, strict=True))


def test_study_defaults_build_one_volume() -> None:
    splits = build(np.random.default_rng(0), n_train=1, n_val=1, n_test=1)
    assert splits.train[0].image.shape == (96, 96, 96)
    assert 25 <= splits.train[0].meta["radius"] < 35 and 5 <= splits.test[0].meta["radius"] < 48


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"train_radius": (6, 17)}, r"train_radius=\(6, 17\).*size/2 = 16"),
        ({"test_radius": (0.5, 4)}, "test_radius"),
        ({"test_radius": (9, 4)}, "low <= high"),
        ({"train_radius": (6,)}, "two numbers"),
        ({"size": 4}, "size=4"),
        ({"n_test": 0}, "n_test=0"),
    ],
)
def test_validation_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _build(**kwargs)
