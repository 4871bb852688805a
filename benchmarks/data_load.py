"""Real-data loading: decoding files into cases the first time vs from ``results/cache/``.

Writes ``--png`` PNG images of ``--png-size``^2 and ``--nifti`` NIfTI volumes of
``--nifti-size``^3 (with masks) listed in MONAI datalists, then times ``datalist`` building
its cases three ways: cold (decode + preprocess + write the cache), warm (cache hit), and the
pre-run check alone (what ``segbench validate`` pays).  Finally runs one real job (from the
warm cache) and reports the share of its wall time spent making the data (target <= 5 %).

    python benchmarks/data_load.py [--png 100] [--png-size 512] [--nifti 20] [--nifti-size 128]
                                   [--epochs 5]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def write_png(folder: Path, n: int, size: int) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    (folder / "png").mkdir(parents=True)
    training = []
    yy, xx = np.mgrid[:size, :size]
    for k in range(n):
        cy, cx, r = rng.uniform(0.3, 0.7) * size, rng.uniform(0.3, 0.7) * size, size * rng.uniform(0.1, 0.2)
        mask = ((yy - cy) ** 2 + (xx - cx) ** 2 < r**2).astype(np.uint8)
        image = np.clip(rng.normal(90, 30, (size, size)) + 80 * mask, 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / "png" / f"img_{k:03d}.png")
        Image.fromarray(mask * 255).save(folder / "png" / f"img_{k:03d}_mask.png")
        training.append({"image": f"png/img_{k:03d}.png", "label": f"png/img_{k:03d}_mask.png"})
    path = folder / "png.json"
    path.write_text(json.dumps({"training": training}))
    return path


def write_nifti(folder: Path, n: int, size: int) -> Path:
    import nibabel as nib

    rng = np.random.default_rng(0)
    (folder / "nii").mkdir(parents=True)
    training = []
    zz, yy, xx = np.mgrid[:size, :size, :size]
    for k in range(n):
        c = rng.uniform(0.35, 0.65, 3) * size
        mask = ((zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 < (size * 0.15) ** 2).astype(np.uint8)
        image = (rng.normal(0, 1, (size,) * 3) + 2 * mask).astype(np.float32)
        nib.save(nib.Nifti1Image(image, np.eye(4)), str(folder / "nii" / f"vol_{k:02d}.nii.gz"))
        nib.save(nib.Nifti1Image(mask, np.eye(4)), str(folder / "nii" / f"vol_{k:02d}_seg.nii.gz"))
        training.append({"image": f"nii/vol_{k:02d}.nii.gz", "label": f"nii/vol_{k:02d}_seg.nii.gz"})
    path = folder / "nii.json"
    path.write_text(json.dumps({"training": training}))
    return path


def time_loading(path: Path, cache: Path, **params: object) -> dict[str, float]:
    from segbench.datasets import datalist
    from segbench.datasets.cache import set_cache_dir
    from segbench.registry import DATASETS

    set_cache_dir(cache)
    start = time.perf_counter()
    assert not DATASETS.get("datalist").meta["check"]({"path": str(path), **params})
    check = time.perf_counter() - start
    start = time.perf_counter()
    datalist.build(np.random.default_rng(0), path=str(path), **params)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    splits = datalist.build(np.random.default_rng(0), path=str(path), **params)
    warm = time.perf_counter() - start
    n = len(splits.train) + len(splits.val) + len(splits.test)
    return {"cases": n, "check_s": check, "cold_s": cold, "warm_s": warm}


def job_share(path: Path, results: Path, epochs: int) -> dict[str, float]:
    """One job on the PNG set (resized to 64, cache warm): data time / job wall time."""
    from segbench.plan import expand
    from segbench.suite.load import parse_suite
    from segbench.worker import job as job_module

    text = f"""\
name: data_share
seeds: [1]
train: {{epochs: {epochs}, batch_size: 8, lr: 0.003, val_every: 2}}
models: [{{name: unet, params: {{channels: [8, 16, 32, 64], strides: [2, 2, 2]}}}}]
datasets: [{{name: datalist, params: {{path: {path}, size: 64}}}}]
"""
    (job,) = expand(parse_suite(text, "data_share.yaml"))
    job_module.load_dataset(job.dataset, None, job.data_seed)  # fill the disk cache (not timed)
    job_module._cached_dataset.cache_clear()
    phases: dict[str, float] = {}
    last = {"name": "start", "t": time.perf_counter()}

    def on_status(name: str) -> None:
        now = time.perf_counter()
        phases[last["name"]] = phases.get(last["name"], 0.0) + now - last["t"]
        last.update(name=name, t=now)

    start = time.perf_counter()
    job_module.run_job(job, job.conditions, results, device="cpu", on_status=on_status)
    total = time.perf_counter() - start
    on_status("end")
    return {"job_s": total, "data_s": phases.get("data", 0.0), "share": phases.get("data", 0.0) / total}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--png", type=int, default=100)
    parser.add_argument("--png-size", type=int, default=512)
    parser.add_argument("--nifti", type=int, default=20)
    parser.add_argument("--nifti-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    import monai  # noqa: F401  (import time is reported apart, not charged to loading)

    print(f"import monai/torch: {time.perf_counter() - start:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        png = write_png(root, args.png, args.png_size)
        nii = write_nifti(root, args.nifti, args.nifti_size)
        for label, path in (
            (f"{args.png} PNG {args.png_size}^2", png),
            (f"{args.nifti} NIfTI {args.nifti_size}^3", nii),
        ):
            t = time_loading(path, root / "results" / "cache")
            print(
                f"{label}: check {t['check_s']:.2f} s, first load {t['cold_s']:.2f} s, "
                f"from cache {t['warm_s']:.2f} s ({t['cold_s'] / max(t['warm_s'], 1e-9):.0f}x)"
            )
        share = job_share(png, root / "results", args.epochs)
        print(
            f"job ({args.png} PNG -> 64^2, {args.epochs} epochs): {share['job_s']:.1f} s, data "
            f"{share['data_s']:.2f} s = {100 * share['share']:.1f} % (target <= 5 %)"
        )


if __name__ == "__main__":
    main()
