"""Shared fixtures: tiny suites that train in seconds on CPU, and a suite-file writer."""

from __future__ import annotations

import fcntl
import os
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

CI_SUITE = Path(__file__).resolve().parents[1] / "suites" / "ci.yaml"


@pytest.fixture(scope="session")
def ci_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder holding a complete run of ``suites/ci.yaml``, made once per session.

    ``make test`` runs the gate first and passes its results folder in ``SEGBENCH_CI_RESULTS``: it
    is copied here (tests never touch the gate's folder) and only what it lacks trains, so the ci
    suite trains once per ``make test``.  Unset, it trains once for all pytest-xdist workers (under
    a lock in their shared temporary folder) and each worker copies that run.
    """
    results = tmp_path_factory.getbasetemp() / "ci-results"
    given = os.environ.get("SEGBENCH_CI_RESULTS")
    if not given and os.environ.get("PYTEST_XDIST_WORKER"):
        given = str(_trained_once(tmp_path_factory.getbasetemp().parent / "ci-shared"))
    if given and Path(given, "segbench.sqlite").is_file() and not results.exists():
        shutil.copytree(given, results, ignore=shutil.ignore_patterns("*.lock"))
    return _completed_ci(results)  # resumes: nothing to do when complete


def _completed_ci(results: Path) -> Path:
    """``results`` holding a complete run of ``suites/ci.yaml`` (only what it lacks trains)."""
    from segbench import api

    summary = api.run_suite(CI_SUITE, results, quiet=True)
    assert summary.ok, summary.failed
    return results


def _trained_once(shared: Path) -> Path:
    """``suites/ci.yaml`` trained into ``shared`` by the first worker that gets here; the rest wait."""
    shared.mkdir(exist_ok=True)
    with open(shared / "train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _completed_ci(shared / "results")  # the later workers: nothing to do


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``@pytest.mark.gpu`` tests, saying why, when torch sees no CUDA device.

    torch is imported only when a collected test carries the marker, so CPU-only runs of the
    light tests stay fast.
    """
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    reason = f"needs CUDA; torch {torch.__version__} sees no GPU (CUDA build: {torch.version.cuda or 'none'})"
    for item in gpu_items:
        item.add_marker(pytest.mark.skip(reason=reason))


TINY_SUITE = """\
name: tiny
seeds: [1]
train: {epochs: 10, batch_size: 4, lr: 0.01, val_every: 1}
models:
  - {name: unet, params: {channels: [4, 8, 16], strides: [2, 2]}}
  - {name: noskip_unet, params: {channels: [4, 8, 16], strides: [2, 2]}}
datasets:
  - name: textures2d
    params: {size: 32, n_images: 40, fg_texture: noise, bg_texture: stripes}
complexity: [0.2]
perturbations:
  - none
  - {name: gaussian_noise, severity: 2}
"""


@pytest.fixture
def write_suite(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write suite YAML text (dedented) to ``tmp_path/<name>.yaml``."""

    def write(text: str, name: str = "suite") -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def tiny_suite(write_suite: Callable[[str, str], Path]) -> Path:
    return write_suite(TINY_SUITE, "tiny")
