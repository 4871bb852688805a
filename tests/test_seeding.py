"""Deterministic mode and seeding are scoped to one job and restored afterwards."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from segbench.seeding import derive_seed, job_randomness


def _state() -> tuple:
    return (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
        os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    )


@pytest.fixture
def clean_flags():
    saved = _state()
    saved_env = os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    torch.use_deterministic_algorithms(False)
    yield
    torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[2], saved[3]
    if saved_env is not None:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = saved_env


def test_cuda_job_switches_deterministic_mode_on_and_back_off(clean_flags) -> None:
    before = _state()
    assert before[0] is False
    with job_randomness(1, deterministic=True, device_type="cuda"):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert _state() == before


def test_flags_and_rng_restored_when_the_job_raises(clean_flags) -> None:
    before = _state()
    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    expected = (random.random(), np.random.random(), torch.rand(1).item())
    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    with pytest.raises(RuntimeError), job_randomness(3, device_type="cuda"):
        random.random(), np.random.random(), torch.rand(1)  # consume the job's streams
        raise RuntimeError("job failed")
    assert _state() == before
    # The caller's global streams continue as if the job had never run.
    assert (random.random(), np.random.random(), torch.rand(1).item()) == expected


def test_same_seed_same_draws_inside_the_job() -> None:
    draws = []
    for _ in range(2):
        with job_randomness(7):
            draws.append((random.random(), np.random.random(), torch.rand(3).tolist()))
    assert draws[0] == draws[1]


def test_cpu_job_leaves_deterministic_mode_off(clean_flags) -> None:
    with job_randomness(1, deterministic=True, device_type="cpu"):
        # CPU kernels are deterministic for a fixed thread count; the flag would only slow them.
        assert not torch.are_deterministic_algorithms_enabled()


def test_derive_seed_is_stable() -> None:
    # Fixed value (first 8 bytes of sha256("1\x1fdataset\x1fabc"), little-endian, >> 1): a change
    # here silently changes every dataset and perturbation draw of every stored result.
    assert derive_seed(1, "dataset", "abc") == 3681348909824358875
    assert derive_seed(1, "a") != derive_seed(2, "a") and derive_seed(1, "a") != derive_seed(1, "b")
