"""GPU-only checks (``-m gpu``): packing several jobs on one GPU, CUDA peak memory, resume.

Skipped with a reason on machines without CUDA; run them when a GPU is available:
``pytest -m gpu tests/runner/test_gpu.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from segbench import api
from segbench.store import Store

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.slow,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none visible)"),
]

_KEY = ["model", "perturbation", "severity", "seed", "case_id"]


def _dice(results: Path) -> np.ndarray:
    return Store(results).cases("tiny").sort_values(_KEY)["dice"].to_numpy()


def test_packed_jobs_on_one_gpu_match_sequential_gpu_run(tiny_suite: Path, tmp_path: Path) -> None:
    sequential, packed = tmp_path / "seq", tmp_path / "packed"
    assert api.run_suite(tiny_suite, sequential, device="cuda", quiet=True).ok
    summary = api.run_suite(
        tiny_suite, packed, device="cuda", quiet=True, executor="pool", executor_settings={"jobs_per_gpu": 2}
    )
    assert summary.ok and summary.ran == 2
    # Deterministic CUDA kernels (train.deterministic) give the same numbers in any process.
    np.testing.assert_allclose(_dice(sequential), _dice(packed), atol=1e-6)
    jobs = Store(packed).jobs("tiny")
    assert (jobs["device"].str.startswith("cuda")).all()
    total = torch.cuda.get_device_properties(0).total_memory / 2**20
    assert ((jobs["peak_memory_mb"] > 0) & (jobs["peak_memory_mb"] < total)).all()


def test_gpu_training_state_resumes_to_the_same_dice(tiny_suite: Path, tmp_path: Path) -> None:
    text = tiny_suite.read_text().replace("lr: 0.01,", "lr: 0.01, checkpoint_every: 2,")
    tiny_suite.write_text(text)
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    assert api.run_suite(tiny_suite, reference, device="cuda", quiet=True).ok
    # Stop after epoch 4 by making the reporter raise, then resume.
    from segbench.progress import LogReporter

    class StopAt(LogReporter):
        def epoch(self, epoch, total, loss, val_dice, job=None) -> None:  # type: ignore[override]
            if epoch == 5:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.run_suite(tiny_suite, resumed, device="cuda", reporter=StopAt())
    assert list((resumed / "checkpoints").glob("*.state.pt"))
    assert api.run_suite(tiny_suite, resumed, device="cuda", quiet=True).ok
    np.testing.assert_allclose(_dice(reference), _dice(resumed), atol=1e-6)
