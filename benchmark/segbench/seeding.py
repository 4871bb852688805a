"""Deterministic randomness: every random draw comes from a Generator derived here.

Why: a job's data, perturbations and bootstrap must be identical across reruns and
machines, and independent between jobs, so each stream is derived from the suite seed
plus a stable key (never from global ``np.random`` state).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

__all__ = [
    "derive_rng",
    "derive_seed",
    "job_randomness",
    "job_threads",
    "perturbation_rng",
    "seed_everything",
]


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

    Process-wide and not restored: a job uses :func:`job_randomness`, which calls this and
    puts every flag back afterwards.

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


@contextmanager
def job_randomness(seed: int, deterministic: bool = True, device_type: str = "cpu") -> Iterator[None]:
    """Seed python, numpy and torch for one job and switch on deterministic mode for it only.

    Why scoped: :func:`seed_everything` changes process-wide state (global RNGs, torch's
    deterministic-algorithms flag, cuDNN flags) and never restores it, so a job run after a
    deterministic one (or a test, or a notebook calling the API) silently inherited slow
    deterministic kernels.  On exit every flag and RNG state is put back as it was, also when
    the job raises.

    Args:
        seed: the job's training seed.
        deterministic: request deterministic algorithms (applied on CUDA only, see
            :func:`seed_everything`). Defaults to True.
        device_type: ``"cpu"`` or ``"cuda"``. Defaults to "cpu".

    Example:
        >>> with job_randomness(1, device_type="cuda"):
        ...     train()          # deterministic kernels
        >>> torch.are_deterministic_algorithms_enabled()   # back to what it was
        False
    """
    import torch

    saved_flags = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
    )
    saved_env = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    saved_rng = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    saved_cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        seed_everything(seed, deterministic=deterministic, device_type=device_type)
        yield
    finally:
        enabled, warn_only, benchmark, cudnn_deterministic = saved_flags
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        torch.backends.cudnn.benchmark = benchmark
        torch.backends.cudnn.deterministic = cudnn_deterministic
        if saved_env is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        else:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = saved_env
        random.setstate(saved_rng[0])
        np.random.set_state(saved_rng[1])
        torch.set_rng_state(saved_rng[2])
        if saved_cuda_rng is not None:
            torch.cuda.set_rng_state_all(saved_cuda_rng)


@contextmanager
def job_threads(threads: int) -> Iterator[None]:
    """Run one job with ``threads`` torch CPU threads, then put the previous count back.

    Why per job, not per process: CPU float results depend on the intra-op thread count (oneDNN
    and OpenMP split reductions by thread), so a job's numbers must not depend on which executor
    ran it or on how many cores the machine has.  Measured on a 2-core machine (quick suite, same
    seeds): torch's default of one thread per core changed 63 of 126 leaderboard cells against
    one thread, and with one busy neighbour process its spinning threads made the run 5x slower.
    Inter-op threads (parallel graph branches; no effect on the numbers) can only be set before
    torch first uses them, so they are set once per process, best effort.

    Args:
        threads: intra-op threads for the job (``train.threads``, default 1).
    """
    import torch

    global _INTEROP_SET
    if not _INTEROP_SET:
        _INTEROP_SET = True
        # already used in this process (e.g. a notebook): keep torch's choice
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(threads)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_INTEROP_SET = False
