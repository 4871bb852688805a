"""The 3D context study path: patch sampling, crop FBR, sliding windows, UNETR, report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from segbench import api
from segbench.registry import DATASETS
from segbench.report.build import build_reports
from segbench.store import Store
from segbench.worker.data import PatchBatches
from segbench.worker.infer import Predictor

SUITE_3D = """\
name: tiny3d
seeds: [1]
train: {epochs: 2, batch_size: 4, lr: 0.003, activation: softmax, rotate90: 0.0, val_every: 1}
models:
  - {name: unet, params: {channels: [4, 8, 16], strides: [2, 2], num_res_units: 1}}
  - {name: attention_unet, params: {channels: [4, 8, 16], strides: [2, 2]}}
  - {name: unetr, params: {feature_size: 4, hidden_size: 32, mlp_dim: 64, num_heads: 2}}
datasets:
  - name: spheres3d
    params: {size: 32, n_train: 4, n_val: 2, n_test: 6, train_radius: [5, 8], test_radius: [2, 13]}
patch_budget:
  - {size: [16, 16, 16], samples: 2}
  - {voxels: 32768, samples: 2}
perturbations: [none]
"""


def _spheres(n_train: int = 6) -> list:
    build = DATASETS.get("spheres3d").factory
    return build(
        np.random.default_rng(0),
        size=32,
        n_train=n_train,
        n_val=1,
        n_test=1,
        train_radius=(5, 8),
        test_radius=(2, 13),
    ).train


def test_crop_fbr_falls_as_patch_grows() -> None:
    cases = _spheres()
    means = []
    for size in (8, 16, 32):
        batches = PatchBatches(cases, (size,) * 3, batch_size=4, seed=0, samples=4)
        for x, y in batches:
            assert x.shape[1:] == (1, size, size, size) and y.shape == x.shape
        assert len(batches.crop_fbr) == len(cases) * 4
        means.append(float(np.mean(batches.crop_fbr)))
    assert means[0] > means[1] > means[2], means
    whole = np.mean([c.label.mean() for c in cases])
    assert means[2] == pytest.approx(whole, rel=1e-6)  # a 32^3 patch of a 32^3 volume is the volume


class _Constant(torch.nn.Module):
    """Predicts foreground everywhere; counts the windows it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.shapes: set[tuple[int, ...]] = set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.shapes.add(tuple(x.shape[2:]))
        return torch.stack([torch.zeros_like(x[:, 0]), torch.ones_like(x[:, 0])], dim=1)


def test_sliding_window_covers_the_whole_volume() -> None:
    model = _Constant()
    predictor = Predictor(torch.device("cpu"), "softmax", roi_size=(16, 16, 16), overlap=0.25, batch_size=2)
    volume = np.random.default_rng(0).random((40, 36, 20)).astype(np.float32)
    (mask,) = predictor.predict(model, [volume])
    assert mask.shape == volume.shape
    assert mask.all()  # every voxel was covered by some window
    assert model.shapes == {(16, 16, 16)}


@pytest.mark.slow
def test_tiny_3d_suite_trains_every_model_and_reports(tmp_path: Path) -> None:
    suite = tmp_path / "tiny3d.yaml"
    suite.write_text(SUITE_3D)
    results = tmp_path / "results"
    summary = api.run_suite(suite, results, quiet=True)
    assert summary.ok, summary.failed
    store = Store(results)
    jobs = store.jobs("tiny3d")
    assert len(jobs) == 6 and (jobs["status"] == "trained").all()
    assert (jobs["peak_memory_mb"] > 0).all()
    for row in jobs.itertuples():
        info = json.loads(row.train_info)
        assert info["patch_size"] in ([16, 16, 16], [32, 32, 32])  # voxels 32768 -> 32^3
        assert len(info["crop_fbr"]) == 2 * 4 * 2  # volumes x samples x epochs
    cases = store.cases("tiny3d")
    assert set(cases["patch"]) == {"16x16x16", "32x32x32"}
    assert cases["fbr"].between(0, 1).all() and cases["dice"].notna().all()
    (built,) = build_reports(results, tmp_path / "reports")
    page = built.index.read_text()
    assert 'id="analysis3d"' in page and 'id="patch-0"' in page and 'id="fbr-0"' in page
