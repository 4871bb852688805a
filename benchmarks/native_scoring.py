"""``score_at: native`` against a hand-written MONAI script that scores at native resolution.

Two sites written by ``segbench.datasets.examples`` at two resolutions (site A ``--size-a``
px, site B ``--size-b`` px, another texture pair), both resized to ``--size`` for the model.
segbench trains a small U-Net on A and scores A's test split and all of B with
``score_at: native``.  The script below then does the same by hand with plain MONAI/torch:

1. **Same checkpoint, hand-written scoring**: segbench's saved weights, the images read with
   PIL, min-max scaled, resized with MONAI ``Resize`` (bilinear, antialiased), logits
   interpolated back to each file's grid with ``F.interpolate``, thresholded at 0, Dice by
   ``monai.metrics.DiceMetric`` against the original mask.  Must agree to ~1e-6 (it checks
   the scoring, not the training).
2. **Independent training**: the same network, loss (``DiceLoss(sigmoid=True)``), Adam, batch
   size, epochs, RandRotate90 and best-validation checkpoint on segbench's stored split, then
   the same native scoring, for each of ``--seeds`` seeds on both sides.  The two differ by
   training noise only: printed per site as the difference of the seed means and its z
   (difference / standard error from the seed-to-seed spread of both), plus the ratio of
   segbench's training-loop time (stored per job) to the hand loop's.

    python benchmarks/native_scoring.py [--n-a 16] [--n-b 8] [--size-a 64] [--size-b 96]
                                        [--size 32] [--epochs 20] [--seeds 3]

Runs with one torch thread; a few minutes on a loaded 2-core machine with the defaults.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

CHANNELS = (8, 16, 32)
STRIDES = (2, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-a", type=int, default=16)
    parser.add_argument("--n-b", type=int, default=8)
    parser.add_argument("--size-a", type=int, default=64)
    parser.add_argument("--size-b", type=int, default=96)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    seeds = list(range(1, args.seeds + 1))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sites = write_sites(folder, args)
        started = time.perf_counter()
        store = run_segbench(folder, sites, args, seeds)
        segbench_seconds = time.perf_counter() - started
        jobs = store.jobs("native").sort_values("job_key")
        split = json.loads(jobs["train_info"].iloc[0])["split"]
        tests = {
            "siteA": test_pairs(sites["siteA"], split["test"]),
            "siteB": test_pairs(sites["siteB"], None),
        }
        theirs = store_dice(store)  # site -> job key -> case -> Dice
        same_gap = 0.0  # 1. segbench's checkpoints scored by hand
        for key in jobs["job_key"]:
            model = build_unet()
            state = torch.load(folder / "results" / "checkpoints" / f"{key}.pt", weights_only=True)
            model.load_state_dict(state["state_dict"])
            for site, pairs in tests.items():
                by_hand = native_dice(model, pairs, args.size)
                same_gap = max(same_gap, max(abs(by_hand[c] - theirs[site][key][c]) for c in by_hand))
        hand: dict[str, list[float]] = {"siteA": [], "siteB": []}  # 2. independent training
        hand_seconds = 0.0
        for seed in seeds:
            started = time.perf_counter()
            model = train_by_hand(sites["siteA"], split, args, seed)
            hand_seconds += time.perf_counter() - started
            for site, pairs in tests.items():
                hand[site].append(float(np.mean(list(native_dice(model, pairs, args.size).values()))))
        train_seconds = float(jobs["train_seconds"].sum())

    sizes = f"sites A {args.size_a}px, B {args.size_b}px -> {args.size}px, {len(seeds)} seeds"
    print(f"torch threads: {torch.get_num_threads()}; {sizes}")
    print(f"same checkpoints scored by hand (MONAI DiceMetric, native grid): max |diff| {same_gap:.1e}")
    print("site    n   segbench mean (seed SD)   hand mean (seed SD)   diff    z")
    for site in ("siteA", "siteB"):
        ours = np.array([np.mean(list(per_case.values())) for per_case in theirs[site].values()])
        other = np.array(hand[site])
        diff = other.mean() - ours.mean()
        se = (
            np.sqrt(ours.var(ddof=1) / len(ours) + other.var(ddof=1) / len(other))
            if len(seeds) > 1
            else np.nan
        )
        n = len(tests[site])
        print(
            f"{site:6s} {n:3d}   {ours.mean():.4f} ({ours.std(ddof=1) if len(ours) > 1 else np.nan:.4f})"
            f"          {other.mean():.4f} ({other.std(ddof=1) if len(other) > 1 else np.nan:.4f})"
            f"       {diff:+.4f}  {diff / se:+.2f}"
        )
    print(
        f"time: segbench training loops {train_seconds:.1f} s vs hand loops {hand_seconds:.1f} s "
        f"(ratio {train_seconds / hand_seconds:.2f}); whole segbench run {segbench_seconds:.1f} s "
        "(process start, data, training, validation, evaluation, store)"
    )


def write_sites(folder: Path, args: argparse.Namespace) -> dict[str, Path]:
    from segbench.datasets.examples import write_datalist_site

    return {
        "siteA": write_datalist_site(folder, "siteA", n=args.n_a, size=args.size_a, seed=1),
        "siteB": write_datalist_site(
            folder, "siteB", n=args.n_b, size=args.size_b, seed=2, textures=("noise", "grass")
        ),
    }


def run_segbench(folder: Path, sites: dict[str, Path], args: argparse.Namespace, seeds: list[int]):  # type: ignore[no-untyped-def]
    from segbench import api
    from segbench.store import Store

    suite = folder / "native.yaml"
    suite.write_text(
        f"""\
name: native
seeds: {seeds}
train: {{epochs: {args.epochs}, batch_size: 4, lr: 0.01, val_every: 2}}
models: [{{name: unet, params: {{channels: {list(CHANNELS)}, strides: {list(STRIDES)}}}}}]
datasets:
  - {{name: datalist, params: {{path: {sites["siteA"]}, size: {args.size}, score_at: native}}}}
dataset_shifts:
  - {{label: siteB, dataset: {{name: datalist, params: {{path: {sites["siteB"]}}}}}}}
"""
    )
    summary = api.run_suite(suite, folder / "results", quiet=True)
    assert summary.ok, summary.failed
    return Store(folder / "results")


def store_dice(store) -> dict[str, dict[str, dict[str, float]]]:  # type: ignore[no-untyped-def]
    cases = store.cases("native")
    out: dict[str, dict[str, dict[str, float]]] = {}
    for condition, site in (("none", "siteA"), ("siteB", "siteB")):
        rows = cases[cases["perturbation"] == condition]
        out[site] = {
            key: dict(zip(part["case_id"], part["dice"].astype(float), strict=True))
            for key, part in rows.groupby("job_key")
        }
    return out


def test_pairs(datalist: Path, ids: list[str] | None) -> list[tuple[str, Path, Path]]:
    entries = json.loads(datalist.read_text())["training"]
    pairs = [
        (Path(e["image"]).stem, datalist.parent / e["image"], datalist.parent / e["label"]) for e in entries
    ]
    return [p for p in pairs if ids is None or p[0] in ids]


def read_pair(image_path: Path, label_path: Path, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image resized for the model (1, size, size), the same at native size, native 0/1 label)."""
    from monai.transforms import Resize
    from PIL import Image

    image = np.asarray(Image.open(image_path).convert("L"), dtype=np.float32)
    label = (np.asarray(Image.open(label_path).convert("L")) > 0).astype(np.uint8)
    resized = np.asarray(Resize((size, size), mode="bilinear", anti_aliasing=True)(image[None]))
    resized = (resized - resized.min()) / max(float(resized.max() - resized.min()), 1e-8)
    return resized.astype(np.float32), image, label


def native_dice(model, pairs: list[tuple[str, Path, Path]], size: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    import torch
    import torch.nn.functional as F
    from monai.metrics import DiceMetric

    metric = DiceMetric(include_background=True, reduction="none", ignore_empty=True)
    model.eval()
    out = {}
    with torch.no_grad():
        for case_id, image_path, label_path in pairs:
            resized, _, label = read_pair(image_path, label_path, size)
            logits = model(torch.from_numpy(resized)[None])
            native = F.interpolate(logits, size=label.shape, mode="bilinear", align_corners=False)
            pred = (native > 0).float()
            ref = torch.from_numpy(label)[None, None].float()
            out[case_id] = float(metric(pred, ref)[0, 0])
    return out


def build_unet():  # type: ignore[no-untyped-def]
    from monai.networks.nets import UNet

    return UNet(2, 1, 1, channels=CHANNELS, strides=STRIDES, num_res_units=0, norm="batch", act="relu")


def train_by_hand(datalist: Path, split: dict[str, list[str]], args: argparse.Namespace, seed: int):  # type: ignore[no-untyped-def]
    import copy

    import torch
    from monai.losses import DiceLoss
    from monai.transforms import Resize

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    pairs = {case_id: (img, lab) for case_id, img, lab in test_pairs(datalist, None)}

    def load(ids: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = [], []
        for case_id in ids:
            resized, _, label = read_pair(*pairs[case_id], args.size)
            small = Resize((args.size, args.size), mode="nearest")(label[None].astype(np.float32))
            images.append(resized)
            labels.append(np.asarray(small))
        return torch.from_numpy(np.stack(images)), torch.from_numpy(np.stack(labels)).float()

    x_train, y_train = load(split["train"])
    x_val, y_val = load(split["val"])
    model = build_unet()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = DiceLoss(sigmoid=True)
    best, best_state = -1.0, copy.deepcopy(model.state_dict())
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), 4):
            idx = order[start : start + 4]
            xb, yb = x_train[idx], y_train[idx]
            if rng.random() < 0.5:  # RandRotate90 on the batch
                k = int(rng.integers(1, 4))
                xb, yb = torch.rot90(xb, k, (2, 3)), torch.rot90(yb, k, (2, 3))
            optimiser.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimiser.step()
        if epoch % 2 == 0:
            model.eval()
            with torch.no_grad():
                pred = (model(x_val) > 0).float()
            inter = (pred * y_val).sum((1, 2, 3))
            dice = float((2 * inter / (pred.sum((1, 2, 3)) + y_val.sum((1, 2, 3))).clamp_min(1e-8)).mean())
            if dice > best:
                best, best_state = dice, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return model


if __name__ == "__main__":
    main()
