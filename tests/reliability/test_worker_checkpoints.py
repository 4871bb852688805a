"""Checkpoints: corrupt ones are quarantined and retrained, missing ones retrain (issue 14: 5),
per-job peak memory (14: 11), and epoch-level resume after SIGKILL (issue 10: 4)."""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from tests_tiny_text import tiny_with_models

from segbench import api
from segbench.cases import Case
from segbench.progress import LogReporter
from segbench.store import Store
from segbench.worker.checkpoint import CheckpointError, load_payload, state_path
from segbench.worker.data import FullImageBatches, PatchBatches
from segbench.worker.memory import PeakMemory
from segbench.worker.resume import capture_rng, restore_rng


def _draws(batches: Any) -> list[np.ndarray]:
    return [x.numpy().copy() for x, _ in batches] + [np.array(random.random()), np.random.rand(3)]


@pytest.mark.parametrize("kind", ["full", "patch"])
def test_rng_capture_restores_every_stream_of_a_sampler(kind: str) -> None:
    rng = np.random.default_rng(0)
    cases = [
        Case(
            f"c{i}",
            rng.random((12, 12, 12)).astype(np.float32),
            (rng.random((12, 12, 12)) > 0.7).astype(np.uint8),
            (1.0, 1.0, 1.0),
        )
        for i in range(3)
    ]
    if kind == "full":
        batches: Any = FullImageBatches(
            [Case(c.case_id, c.image[0], c.label[0], (1.0, 1.0)) for c in cases],
            2,
            seed=5,
            rotate90=0.5,
            augmenter=lambda image, label, r: image + r.random(),
        )
    else:
        batches = PatchBatches(
            cases, (8, 8, 8), 2, seed=5, augmenter=lambda image, label, r: image * r.random()
        )
    list(batches)  # advance every stream once
    state = capture_rng(batches)
    torch.save(state, buffer := io.BytesIO())
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)  # the state file loads without pickle
    first = _draws(batches)
    restore_rng(state, batches)
    second = _draws(batches)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_peak_memory_is_per_job_not_process_lifetime() -> None:
    cpu = torch.device("cpu")
    with PeakMemory(cpu, interval=0.005) as big:
        block = np.ones(300 * 2**20 // 8)  # 300 MB, touched
        time.sleep(0.05)
        del block
    with PeakMemory(cpu, interval=0.005) as small:
        time.sleep(0.05)
    assert big.peak_mb - small.peak_mb > 200, (big.peak_mb, small.peak_mb)


def test_unloadable_checkpoint_is_quarantined_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "abc.pt"
    path.write_bytes(b"\x80\x04 not a torch file")
    with pytest.raises(CheckpointError, match=r"abc\.pt does not load") as info:
        load_payload(path)
    assert not path.exists()
    (moved,) = tmp_path.glob("abc.pt.corrupt-*")
    assert str(moved) in str(info.value)


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncate", "wrong_architecture", "pickle"])
def test_corrupt_checkpoint_is_quarantined_and_the_job_retrains(
    write_suite, tmp_path: Path, damage: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """The job runs in a forked child (local executor), so its warning is read from the stderr fd."""
    text = tiny_with_models(["unet"], "ckpt").replace("epochs: 10", "epochs: 2")
    suite = write_suite(text, "ckpt")
    results = tmp_path / "results"
    assert api.run_suite(suite, results, quiet=True).ok
    (ckpt,) = (results / "checkpoints").glob("*.pt")
    if damage == "truncate":
        ckpt.write_bytes(ckpt.read_bytes()[:100])
    elif damage == "wrong_architecture":
        torch.save({"state_dict": {"w": torch.zeros(3)}, "train": {}}, ckpt)
    else:
        torch.save({"state_dict": {}, "train": {"x": Path("/tmp")}}, ckpt)  # a pickled object: refused
    suite.write_text(text.replace("severity: 2}", "severity: 2}, easier"))  # one more condition to evaluate
    capfd.readouterr()
    summary = api.run_suite(suite, results, quiet=True)
    assert re.search(r"does not load|moved aside", capfd.readouterr().err)
    assert summary.ok and summary.ran == 1
    assert len(list((results / "checkpoints").glob("*.pt.corrupt-*"))) == 1
    loaded = torch.load(ckpt, weights_only=True)  # a fresh, loadable checkpoint
    assert loaded["train"]["n_params"] > 0
    assert set(Store(results).cases("ckpt")["perturbation"]) == {"none", "gaussian_noise", "blur_background"}


@pytest.mark.slow
def test_missing_checkpoint_retrains_and_dry_run_says_so(write_suite, tmp_path: Path) -> None:
    text = tiny_with_models(["unet"], "gone").replace("epochs: 10", "epochs: 2")
    suite = write_suite(text, "gone")
    results = tmp_path / "results"
    assert api.run_suite(suite, results, quiet=True).ok
    (ckpt,) = (results / "checkpoints").glob("*.pt")
    ckpt.unlink()
    suite.write_text(text.replace("severity: 2}", "severity: 2}, easier"))
    lines = "\n".join(api.plan_suite(suite, results).lines())
    assert "checkpoint is missing: retrains" in lines and "trained;" not in lines
    assert api.run_suite(suite, results, quiet=True).ok and ckpt.exists()


class _Epochs(LogReporter):
    def __init__(self) -> None:
        super().__init__(stream=open(os.devnull, "w"))  # noqa: SIM115
        self.seen: list[int] = []

    def epoch(self, epoch, total, loss, val_dice, job=None) -> None:  # type: ignore[override]
        self.seen.append(epoch)


@pytest.mark.slow
def test_sigkill_mid_training_resumes_from_the_last_epoch_with_identical_dice(
    write_suite, tmp_path: Path
) -> None:
    epochs = 8
    text = tiny_with_models(["unet"], "resume").replace("epochs: 10", f"epochs: {epochs}")
    text = text.replace("lr: 0.01,", "lr: 0.01, checkpoint_every: 1,")
    # Epochs long enough (~0.2 s) that polling every 50 ms sees each one: with 40 images a job could
    # pass the kill point and finish (deleting its state file) between two polls.
    text = text.replace("n_images: 40", "n_images: 160")
    suite = write_suite(text, "resume")
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    assert api.run_suite(suite, reference, quiet=True).ok

    kill_after = random.Random().randint(1, epochs - 2)
    (job_key,) = Store(reference).jobs("resume")["job_key"]
    state = state_path(resumed, job_key)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "segbench.cli", "run", str(suite), "--results", str(resumed), "--quiet"]
    proc = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL, start_new_session=True)
    saved_epoch, deadline = 0, time.time() + 300
    while time.time() < deadline and proc.poll() is None and saved_epoch < kill_after:
        if state.exists():
            # The file may be replaced between exists() and open().
            with contextlib.suppress(OSError, RuntimeError, EOFError):
                saved_epoch = torch.load(state, weights_only=True)["epoch"]
        time.sleep(0.05)
    assert proc.poll() is None, f"training ended before epoch {kill_after}; make it longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    saved_epoch = torch.load(state, weights_only=True)["epoch"]
    assert kill_after <= saved_epoch < epochs

    print(f"SIGKILL after epoch {saved_epoch}/{epochs}; resumed at {saved_epoch + 1}")
    recorder = _Epochs()
    assert api.run_suite(suite, resumed, reporter=recorder).ok
    assert recorder.seen == list(range(saved_epoch + 1, epochs + 1)), (kill_after, saved_epoch)
    a = Store(reference).cases("resume").sort_values(["perturbation", "case_id"]).reset_index(drop=True)
    b = Store(resumed).cases("resume").sort_values(["perturbation", "case_id"]).reset_index(drop=True)
    assert len(a) == 2 * 32  # 2 conditions x 20 % of 160 images
    pd.testing.assert_series_equal(a["dice"], b["dice"])
    pd.testing.assert_series_equal(a["hd95"], b["hd95"])
    jobs_a, jobs_b = Store(reference).jobs("resume"), Store(resumed).jobs("resume")
    assert jobs_a["best_epoch"].tolist() == jobs_b["best_epoch"].tolist()
    assert jobs_a["best_val_dice"].tolist() == jobs_b["best_val_dice"].tolist()
    # A finished job keeps only its best checkpoint.
    assert sorted(p.name for p in (resumed / "checkpoints").iterdir()) == [f"{job_key}.pt"]
