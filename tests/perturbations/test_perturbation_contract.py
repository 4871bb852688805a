"""The runner's contract, checked for every registered perturbation in 2D and 3D."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from perturbation_cases import psnr

from segbench.perturbations import SEVERITIES, apply_perturbation, level_table, replay
from segbench.registry import PERTURBATIONS

NAMES = PERTURBATIONS.names()
CATALOGUE = {
    "gaussian_noise", "speckle", "poisson", "rician", "gaussian_blur", "blur_background", "gamma",
    "histogram_shift", "bias_field", "gibbs", "spike", "ghosting", "motion", "lowres",
}  # fmt: skip


def _run(name: str, image: np.ndarray, label: np.ndarray, severity: int, seed: int = 0):
    return apply_perturbation(name, image, label, severity, np.random.default_rng(seed))


def test_catalogue_is_registered() -> None:
    assert set(NAMES) >= CATALOGUE


@pytest.mark.parametrize("name", NAMES)
def test_registry_metadata(name: str) -> None:
    meta = PERTURBATIONS.get(name).meta
    assert sorted(meta["levels"]) == list(SEVERITIES)
    assert meta["levels"] == level_table(name)
    assert tuple(meta["dims"]) == (2, 3)
    assert isinstance(meta["stochastic"], bool)
    assert meta["backend"] in {"monai", "scipy", "numpy"}
    assert PERTURBATIONS.get(name).summary  # a docstring line for `segbench list`
    json.dumps(meta)  # `segbench list` may print it as JSON


@pytest.mark.parametrize("name", NAMES)
def test_output_contract_and_label_untouched(name: str, case) -> None:
    image, label = case
    image_copy, label_copy = image.copy(), label.copy()
    label.setflags(write=False)  # a write would raise
    image.setflags(write=False)
    for severity in (1, 5):
        out, params = _run(name, image, label, severity)
        assert out.shape == image.shape
        assert out.dtype == np.float32
        assert np.all(np.isfinite(out))
        assert out is not image and not np.shares_memory(out, image)
        assert json.loads(json.dumps(params)) == params
        assert set(level_table(name)[severity].items()) <= set(
            (k, v) for k, v in params.items() if not isinstance(v, list)
        )
    np.testing.assert_array_equal(label, label_copy)
    np.testing.assert_array_equal(image, image_copy)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_output_other_seed_differs(name: str, case) -> None:
    image, label = case
    first, params = _run(name, image, label, 3, seed=7)
    again, params_again = _run(name, image, label, 3, seed=7)
    np.testing.assert_array_equal(first, again)
    assert params == params_again
    others = [_run(name, image, label, 3, seed=seed)[0] for seed in (8, 9, 10)]
    if PERTURBATIONS.get(name).meta["stochastic"]:
        # Entries with few random choices (ghosting: axis and offset) may repeat for one seed.
        assert any(not np.array_equal(first, other) for other in others)
    else:  # deterministic entries ignore the rng
        for other in others:
            np.testing.assert_array_equal(first, other)
    assert not np.array_equal(first, image)


@pytest.mark.parametrize("name", NAMES)
def test_replay_from_json_params_is_exact(name: str, case) -> None:
    image, label = case
    for severity in (2, 5):
        out, params = _run(name, image, label, severity, seed=11)
        stored = json.loads(json.dumps(params))
        np.testing.assert_array_equal(replay(name, image, label, severity, stored), out)


@pytest.mark.parametrize("name", NAMES)
def test_damage_rises_strictly_with_severity(name: str, case) -> None:
    image, label = case
    seeds = range(3) if PERTURBATIONS.get(name).meta["stochastic"] else range(1)
    scores = [
        np.mean([psnr(_run(name, image, label, severity, seed)[0], image) for seed in seeds])
        for severity in SEVERITIES
    ]
    assert all(a > b for a, b in itertools.pairwise(scores)), np.round(scores, 2)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("severity", [0, 6, -1, 2.5, "3", None, True])
def test_invalid_severity_names_allowed_values(name: str, severity) -> None:
    image, label = np.zeros((8, 8), np.float32), np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match="1, 2, 3, 4, 5"):
        _run(name, image, label, severity)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(16,), (1, 8, 8, 8)])
def test_wrong_dimensionality_raises(name: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="D"):
        _run(name, np.zeros(shape, np.float32), np.zeros(shape, np.uint8), 1)


@pytest.mark.parametrize("name", NAMES)
def test_label_shape_mismatch_raises(name: str) -> None:
    with pytest.raises(ValueError, match="label shape"):
        _run(name, np.zeros((8, 8), np.float32), np.zeros((8, 9), np.uint8), 1)
