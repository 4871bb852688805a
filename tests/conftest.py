"""Shared fixtures: tiny suites that train in seconds on CPU, and a suite-file writer."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest


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
