"""Runner overhead: one segbench job against a hand-written MONAI loop doing the same work.

Both sides build the same textures2d data, train the same MONAI U-Net with DiceLoss/Adam,
RandRotate90, validation every 2 epochs with a best-state copy, then predict the test set and
compute Dice/HD95/NSD per case.  The runner additionally plans, seeds, writes a checkpoint and
a shard, and commits it to SQLite.  Runs alternate which side goes first and are summarised by
their median, to damp the noise of a shared 2-core machine (single runs vary by +-15%).

    python benchmarks/overhead.py [--repeats 8] [--epochs 40]

Prints the wall-time ratio runner / hand-written (target <= 1.03), the share of the runner's
time spent making the data, and the runner's own bookkeeping time per job (noise-free).
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from monai.losses import DiceLoss
from monai.networks.nets import UNet

from segbench.metrics.distance import hd95, nsd
from segbench.metrics.overlap import dice
from segbench.plan import expand
from segbench.registry import DATASETS
from segbench.seeding import derive_rng
from segbench.store import Store
from segbench.suite.load import parse_suite
from segbench.worker.job import _cached_dataset, run_job

SUITE = """\
name: overhead
seeds: [1]
train: {{epochs: {epochs}, batch_size: 8, lr: 0.003, val_every: 2}}
models: [{{name: unet, params: {{channels: [8, 16, 32, 64], strides: [2, 2, 2]}}}}]
datasets: [{{name: textures2d, params: {{size: 64, n_images: 60}}}}]
complexity: [0.3]
perturbations: [none]
"""


def minmax(x: np.ndarray) -> np.ndarray:
    return (x - x.min()) / max(float(x.max() - x.min()), 1e-12)


def hand_written(epochs: int, seed: int = 1) -> float:
    """A plain MONAI training script for the same configuration; returns seconds."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    spec_rng = derive_rng(0, "dataset", "hand")
    data = DATASETS.get("textures2d").factory(rng=spec_rng, complexity=0.3, size=64, n_images=60)
    stack = lambda cases: torch.from_numpy(np.stack([minmax(c.image) for c in cases])[:, None])  # noqa: E731
    x_train = stack(data.train)
    y_train = torch.from_numpy(np.stack([c.label for c in data.train])[:, None].astype(np.float32))
    model = UNet(2, 1, 1, channels=(8, 16, 32, 64), strides=(2, 2, 2), norm="batch", act="relu")
    loss_fn, opt = DiceLoss(sigmoid=True), torch.optim.Adam(model.parameters(), lr=0.003)
    gen = torch.Generator().manual_seed(seed)
    best, best_state = -1.0, None
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        for i in range(0, len(order), 8):
            idx = order[i : i + 8]
            x, y = x_train[idx].clone(), y_train[idx].clone()
            flip = torch.rand(len(x), generator=gen) < 0.5
            turns = torch.randint(1, 4, (len(x),), generator=gen)
            for j in torch.nonzero(flip).flatten().tolist():
                x[j] = torch.rot90(x[j], int(turns[j]), dims=(-2, -1))
                y[j] = torch.rot90(y[j], int(turns[j]), dims=(-2, -1))
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        if epoch % 2 == 0 or epoch == epochs:
            model.eval()
            with torch.no_grad():
                pred = (model(stack(data.val)) > 0).numpy()[:, 0]
            score = float(np.nanmean([dice(p, c.label) for p, c in zip(pred, data.val, strict=True)]))
            if score > best:
                best, best_state = score, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        pred = (model(stack(data.test)) > 0).numpy()[:, 0]
    for p, c in zip(pred, data.test, strict=True):
        dice(p, c.label), hd95(p, c.label, c.spacing), nsd(p, c.label, c.spacing)
    return time.perf_counter() - start


def runner(epochs: int) -> tuple[float, float, float]:
    """One job through segbench (plan, worker, shard, SQLite).

    Returns (seconds, data seconds, bookkeeping seconds): bookkeeping is everything outside
    data making, training and evaluation (planning, seeding, provenance, checkpoint, shard,
    SQLite), i.e. what the hand-written loop does not do.
    """
    _cached_dataset.cache_clear()
    stamps: dict[str, float] = {}
    start = time.perf_counter()
    (job,) = expand(parse_suite(SUITE.format(epochs=epochs)))
    with tempfile.TemporaryDirectory() as tmp:
        stamp = lambda stage: stamps.setdefault(stage, time.perf_counter())  # noqa: E731
        shard_path = run_job(job, job.conditions, Path(tmp), "cpu", on_status=stamp)
        shard = json.loads(shard_path.read_text())
        Store(tmp).ingest(shard_path)
    total = time.perf_counter() - start
    data = stamps["train"] - stamps["data"]
    work = data + shard["train"]["train_seconds"] + sum(c["eval_seconds"] for c in shard["conditions"])
    return total, data, total - work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    hand_written(1), runner(1)  # warm-up: imports, allocator, first-call kernels
    hand, run, data, books = [], [], [], []
    for repeat in range(args.repeats):
        # Alternate which goes first: the second of a pair tends to run on a warmer, busier core.
        if repeat % 2 == 0:
            hand.append(hand_written(args.epochs))
        seconds, data_seconds, bookkeeping = runner(args.epochs)
        if repeat % 2 == 1:
            hand.append(hand_written(args.epochs))
        run.append(seconds)
        data.append(data_seconds / seconds)
        books.append(bookkeeping)
    med_hand, med_run = float(np.median(hand)), float(np.median(run))
    print(f"hand-written MONAI loop: median {med_hand:.2f} s (runs: {', '.join(f'{t:.2f}' for t in hand)})")
    print(f"segbench runner:         median {med_run:.2f} s (runs: {', '.join(f'{t:.2f}' for t in run)})")
    print(
        f"wall-time ratio runner / hand-written: {med_run / med_hand:.3f} median, "
        f"{min(run) / min(hand):.3f} best-of (target <= 1.03)"
    )
    print(f"share of runner time making/loading data: {np.median(data):.1%}")
    print(
        f"runner bookkeeping outside data/train/evaluate: {np.median(books) * 1000:.0f} ms per job "
        f"({np.median(books) / med_run:.1%} of it; a noise-free view of the overhead)"
    )


if __name__ == "__main__":
    main()
