"""Behaviour specific to single entries (what each one promises beyond the common contract)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from perturbation_cases import textured_case
from skimage.util import random_noise

from segbench.perturbations import apply_perturbation, replay
from segbench.registry import PERTURBATIONS


def _run(name: str, image: np.ndarray, label: np.ndarray, severity: int, seed: int = 0):
    return apply_perturbation(name, image, label, severity, np.random.default_rng(seed))


def test_speckle_matches_skimage_random_noise_on_unit_range() -> None:
    image, label = textured_case((32, 32))
    out, params = _run("speckle", image, label, 2)
    expected = random_noise(image, mode="speckle", var=0.1, rng=params["noise_seed"], clip=True)
    np.testing.assert_allclose(out, expected.astype(np.float32), atol=1e-7)


def test_speckle_does_not_truncate_images_outside_unit_range() -> None:
    image, label = textured_case((32, 32))
    out, _ = _run("speckle", image * 1000.0, label, 1)
    assert out.max() > 1.0


@pytest.mark.parametrize("shape", [(48, 48), (12, 24, 24)])
@pytest.mark.parametrize("severity", [2, 4])
def test_blur_background_keeps_foreground_and_smooths_background(shape, severity: int) -> None:
    image, label = textured_case(shape)
    out, _ = _run("blur_background", image, label, severity)
    fg = label == 1
    np.testing.assert_array_equal(out[fg], image[fg])
    # Texture (local variation between background neighbours) falls.
    pairs = ~fg[..., 1:] & ~fg[..., :-1]
    assert np.std(np.diff(out, axis=-1)[pairs]) < 0.5 * np.std(np.diff(image, axis=-1)[pairs])


def test_blur_has_no_dark_border() -> None:
    image = np.full((32, 32), 0.5, np.float32)
    out, _ = _run("gaussian_blur", image, np.zeros((32, 32), np.uint8), 5)
    np.testing.assert_allclose(out, 0.5, atol=1e-5)


def test_noise_strength_is_relative_to_the_intensity_range() -> None:
    image, label = textured_case((32, 32))
    small, _ = _run("gaussian_noise", image, label, 3, seed=4)
    large, _ = _run("gaussian_noise", image * 100.0 + 7.0, label, 3, seed=4)
    np.testing.assert_allclose((large - 7.0) / 100.0, small, atol=1e-4)


def test_poisson_leaves_the_minimum_noise_free() -> None:
    image, label = textured_case((32, 32))
    image[:4] = image.min()
    out, _ = _run("poisson", image, label, 5)
    np.testing.assert_allclose(out[:4], image.min())


def test_gamma_keeps_range() -> None:
    image, label = textured_case((32, 32))
    out, _ = _run("gamma", image, label, 5)
    assert out.min() == pytest.approx(image.min(), abs=1e-6)
    assert out.max() == pytest.approx(image.max(), abs=1e-6)


def test_histogram_shift_is_monotone_mapping() -> None:
    image, label = textured_case((32, 32))
    out, _ = _run("histogram_shift", image, label, 5, seed=3)
    order = np.argsort(image, axis=None)
    assert np.all(np.diff(out.ravel()[order]) >= -1e-6)


def test_spike_location_is_in_the_band_and_stored() -> None:
    image, label = textured_case((64, 64))
    for seed in range(10):
        _, params = _run("spike", image, label, 3, seed)
        offsets = [abs(i - 32) for i in params["loc"]]
        assert all(8 <= o < 24 for o in offsets)


def test_motion_reference_window_contains_kspace_centre_and_nests() -> None:
    image, label = textured_case((32, 32))
    windows = [_run("motion", image, label, s, seed=5)[1]["times"] for s in range(1, 6)]
    for (start, end), (inner_start, inner_end) in itertools.pairwise(windows):
        assert start < inner_start <= 0.5 <= inner_end < end


def test_ghosting_zero_offset_axis_reproduces_params() -> None:
    image, label = textured_case((32, 32))
    out, params = _run("ghosting", image, label, 5, seed=2)
    assert params["axis"] in (0, 1) and 0 <= params["offset"] < params["num_ghosts"]
    np.testing.assert_array_equal(replay("ghosting", image, label, 5, params), out)


def test_replay_rejects_params_from_another_level() -> None:
    image, label = textured_case((32, 32))
    _, params = _run("speckle", image, label, 2)
    with pytest.raises(ValueError, match="do not match the level table"):
        replay("speckle", image, label, 3, params)


def test_replay_rejects_params_for_another_shape() -> None:
    image, label = textured_case((32, 32))
    _, params = _run("spike", image, label, 2)
    small, small_label = textured_case((8, 8))
    with pytest.raises(ValueError, match="does not fit"):
        replay("spike", small, small_label, 2, params)


def test_none_is_the_identity() -> None:
    image, label = textured_case((16, 16))
    out, params = apply_perturbation("none", image, label, 0, np.random.default_rng(0))
    np.testing.assert_array_equal(out, image)
    assert params == {} and out is not image
    np.testing.assert_array_equal(replay("none", image, label, 0, {}), image)
    with pytest.raises(ValueError, match="severity"):
        apply_perturbation("none", image, label, 3, np.random.default_rng(0))


def test_unknown_name_raises() -> None:
    image, label = textured_case((16, 16))
    with pytest.raises(LookupError, match="registered"):
        apply_perturbation("speckel", image, label, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="available"):
        replay("speckel", image, label, 1, {})


def test_integer_and_float64_inputs_are_accepted() -> None:
    image, label = textured_case((16, 16))
    for name in PERTURBATIONS.names():
        out64, _ = _run(name, image.astype(np.float64), label, 1)
        out32, _ = _run(name, image, label, 1)
        assert out64.dtype == np.float32
        np.testing.assert_array_equal(out64, out32)
