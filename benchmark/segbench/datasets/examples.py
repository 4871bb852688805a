"""Write small example datasets in the real layouts (datalist JSON, nnU-Net raw folder, fundus).

Why in the package: tests, ``benchmarks/data_load.py`` and ``suites/real_example.yaml`` (via
``write_example``) need real files in the real layouts, and nothing may be downloaded.
Images come from the ``textures2d`` generator (a textured blob on a textured background), so
a model can learn them; site B uses another texture pair (a real domain shift).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["write_datalist_site", "write_example", "write_fundus_site", "write_nnunet_copy"]


def write_datalist_site(
    folder: Path,
    name: str,
    n: int = 12,
    size: int = 32,
    seed: int = 0,
    textures: tuple[str, str] = ("noise", "stripes"),
    ext: str = ".png",
) -> Path:
    """``n`` textured-blob images + 0/255 masks as files, listed in ``<folder>/<name>.json``.

    Args:
        folder: output folder (created).
        name: site name: files go to ``<folder>/<name>/{images,masks}``.
        n: number of images.  size: image side.  seed: generator seed.
        textures: (foreground, background) texture names of ``textures2d``.
        ext: image extension (``.png``, ``.tif``, ``.gif``, ``.bmp``, ``.nii.gz``); masks are PNG
            (NIfTI for ``.nii.gz``).

    Returns:
        The datalist JSON path (only a ``training`` list: the split is made by the loader).
    """
    from segbench.datasets.textures2d import build

    rng = np.random.default_rng(seed)
    cases = build(rng, 0.2, size=size, n_images=max(n, 10), fg_texture=textures[0], bg_texture=textures[1])
    everything = [*cases.train, *cases.val, *cases.test][:n]
    (folder / name / "images").mkdir(parents=True, exist_ok=True)
    (folder / name / "masks").mkdir(parents=True, exist_ok=True)
    training = []
    for k, case in enumerate(everything):
        stem = f"{name}_{k:03d}"
        mask_ext = ".nii.gz" if ext == ".nii.gz" else ".png"
        image_path = folder / name / "images" / f"{stem}{ext}"
        mask_path = folder / name / "masks" / f"{stem}_mask{mask_ext}"
        _save(image_path, np.round(case.image * 255).astype(np.uint8))
        _save(mask_path, case.label.astype(np.uint8) * 255)
        training.append(
            {"image": f"{name}/images/{image_path.name}", "label": f"{name}/masks/{mask_path.name}"}
        )
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"name": name, "training": training}, indent=1))
    return path


def write_fundus_site(
    folder: Path, name: str, ids: list[int], shape: tuple[int, int] = (584, 565), seed: int = 0
) -> Path:
    """A DRIVE-like fundus site: RGB TIFF photographs and GIF vessel masks, listed in a datalist.

    Files: ``<name>/images/<id>_training.tif`` (H x W x 3 uint8) and
    ``<name>/1st_manual/<id>_manual1.gif`` (0/255), as the DRIVE collection names them.
    """
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    (folder / name / "images").mkdir(parents=True, exist_ok=True)
    (folder / name / "1st_manual").mkdir(parents=True, exist_ok=True)
    height, width = shape
    yy, xx = np.mgrid[:height, :width]
    fov = (yy - height / 2) ** 2 + (xx - width / 2) ** 2 < (min(shape) * 0.47) ** 2
    training = []
    for case in ids:
        mask_img = Image.new("L", (width, height), 0)
        draw = ImageDraw.Draw(mask_img)
        for _ in range(8):  # vessel-like strokes from the optic disc outwards
            x0, y0 = width * 0.3, height * 0.5
            x1, y1 = rng.uniform(0, width), rng.uniform(0, height)
            draw.line([(x0, y0), (x1, y1)], fill=255, width=int(rng.integers(6, 14)))
        mask = (np.asarray(mask_img) > 0) & fov
        shade = 0.75 + 0.1 * rng.standard_normal((height, width))
        red = np.where(fov, shade - 0.35 * mask, 0.0)
        green = np.where(fov, 0.45 * shade - 0.3 * mask, 0.0)
        blue = np.where(fov, 0.15 + 0.02 * rng.standard_normal((height, width)), 0.0)
        rgb = np.clip(np.stack([red, green, blue], axis=-1) * 255, 0, 255).astype(np.uint8)
        image_path = folder / name / "images" / f"{case:02d}_training.tif"
        mask_path = folder / name / "1st_manual" / f"{case:02d}_manual1.gif"
        Image.fromarray(rgb).save(image_path)
        Image.fromarray(mask.astype(np.uint8) * 255).save(mask_path)
        training.append(
            {"image": f"{name}/images/{image_path.name}", "label": f"{name}/1st_manual/{mask_path.name}"}
        )
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"name": name, "training": training}, indent=1))
    return path


def write_nnunet_copy(datalist: Path, out: Path) -> Path:
    """The cases of a 2D datalist as an nnU-Net v2 raw PNG folder (same case ids).

    Images are saved as ``imagesTr/<case>_0000.png`` (RGB when the source is colour, named
    R, G, B in ``channel_names`` as nnU-Net's natural-image convention), labels as 0/1 PNG.
    """
    from PIL import Image

    from segbench.datasets.readers import stem

    entries = json.loads(datalist.read_text())["training"]
    (out / "imagesTr").mkdir(parents=True, exist_ok=True)
    (out / "labelsTr").mkdir(parents=True, exist_ok=True)
    colour = False
    for entry in entries:
        image_path = datalist.parent / entry["image"]
        case = stem(image_path)
        with Image.open(image_path) as img:
            colour = colour or img.mode not in ("L", "I", "I;16", "F")
            img.save(out / "imagesTr" / f"{case}_0000.png")
        with Image.open(datalist.parent / entry["label"]) as lab:
            binary = (np.asarray(lab.convert("L")) > 0).astype(np.uint8)
        Image.fromarray(binary).save(out / "labelsTr" / f"{case}.png")
    channels = {"0": "R", "1": "G", "2": "B"} if colour else {"0": "gray"}
    meta = {
        "channel_names": channels,
        "labels": {"background": 0, "object": 1},
        "numTraining": len(entries),
        "file_ending": ".png",
    }
    (out / "dataset.json").write_text(json.dumps(meta, indent=1))
    return out


def write_example(folder: Path, n: int = 12, size: int = 32) -> dict[str, Path]:
    """The files ``suites/real_example.yaml`` reads under ``$SEGBENCH_DATA/example``.

    Returns:
        ``{"siteA": json, "siteB": json, "nnunet": folder}``.
    """
    folder = Path(folder)
    site_a = write_datalist_site(folder, "siteA", n=n, size=size, seed=1, textures=("noise", "stripes"))
    site_b = write_datalist_site(
        folder, "siteB", n=max(4, n // 2), size=size, seed=2, textures=("noise", "grass")
    )
    nnunet = write_nnunet_copy(site_a, folder / "Dataset001_SiteA")
    return {"siteA": site_a, "siteB": site_b, "nnunet": nnunet}


def _save(path: Path, array: np.ndarray) -> None:
    if path.name.endswith(".nii.gz"):
        import nibabel as nib

        nib.save(nib.Nifti1Image(array, np.eye(4)), str(path))
        return
    from PIL import Image

    Image.fromarray(array).save(path)
