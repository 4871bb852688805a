"""Deterministic randomness: every random draw comes from a Generator derived here.

Why: a job's data, perturbations and bootstrap must be identical across reruns and
machines, and independent between jobs, so each stream is derived from the suite seed
plus a stable key (never from global ``np.random`` state).
"""

from __future__ import annotations

import hashlib
import os
import random

import numpy as np

__all__ = ["derive_rng", "derive_seed", "perturbation_rng", "seed_everything"]


def derive_seed(seed: int, *keys: object) -> int:
    """A 63-bit seed from ``seed`` and any printable keys (stable across processes)."""
    text = "\x1f".join([str(seed), *map(str, keys)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def derive_rng(seed: int, *keys: object) -> np.random.Generator:
    """A numpy Generator for the stream named by ``keys`` under ``seed``."""
    return np.random.default_rng(derive_seed(seed, *keys))


def perturbation_rng(
    data_seed: int,
    dataset_identity: str,
    test_complexity: float | None,
    perturbation: str,
    severity: int,
    case_id: str,
) -> np.random.Generator:
    """The generator of one test case's perturbation under one eval condition.

    Why one function: every model (trained, pretrained, and external ones fed by
    ``segbench export``) must see the same perturbed image, so that their per-case results pair;
    it depends on the test set and the condition only, never on the model or training seed.
    """
    keys = (dataset_identity, test_complexity, perturbation, severity, case_id)
    return derive_rng(data_seed, "perturb", *keys)


def seed_everything(seed: int, deterministic: bool = True, device_type: str = "cpu") -> None:
    """Seed python, numpy and torch; on CUDA also switch to deterministic algorithms.

    Why only on CUDA: torch's CPU kernels are already deterministic for a fixed thread
    count (the test suite checks two runs give identical Dice), while
    ``torch.use_deterministic_algorithms(True)`` sends some CPU backward passes to slow
    reference paths (UNETR training measured 40x slower on 2 cores).
    """
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic and device_type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
