"""``segbench preview``: the suite's own perturbations by default, and the labelled mosaic's layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segbench.registry import PERTURBATIONS
from segbench.tools.gallery_labels import save_labelled_gallery
from segbench.tools.preview_caption import suite_gallery_names


def test_default_rows_are_the_suites_perturbations_in_suite_order() -> None:
    text = "name: t\nperturbations: [none, easier, {name: speckle, severity: [1, 3]}, hardest]\n"
    assert suite_gallery_names(text) == ["blur_background", "speckle"]  # presets resolved, once each
    assert suite_gallery_names(text, show_all=True) == PERTURBATIONS.names()
    only_shift = "name: t\nperturbations: [none, {name: other_site}]\n"  # a dataset shift, no transform
    assert suite_gallery_names(only_shift) == PERTURBATIONS.names()


def test_labelled_gallery_layout(tmp_path: Path) -> None:
    from PIL import Image

    image = np.linspace(0, 1, 16 * 16, dtype=np.float32).reshape(16, 16)
    label = np.zeros((16, 16), np.uint8)
    label[4:12, 4:12] = 1
    path = save_labelled_gallery(tmp_path / "g.png", image, label, ["speckle", "gaussian_blur"], zoom=2)
    with Image.open(path) as im:
        # 130 px of row names + 6 columns of (32 px tile + 4 px gap); 16 px header + 2 rows of
        # (32 px tile + 4 px gap + 12 px parameter caption)
        assert im.size == (130 + 6 * 36, 16 + 2 * 48)
        pixels = np.asarray(im)
    assert pixels[:, :130].min() < 128  # row names drawn (dark text on white)
    assert pixels[16 + 32 : 16 + 32 + 12, 130 + 36 :].min() < 128  # severity-1.. parameter captions


def test_preview_of_rgb_and_multimodal_data(tmp_path: Path) -> None:
    """Real RGB images load channel-first; preview failed on them ('gallery needs an (H, W) ...')."""
    from PIL import Image

    from segbench.datasets.examples import write_fundus_site
    from segbench.tools.gallery import gallery_grid
    from segbench.tools.preview import preview_suite

    site = write_fundus_site(tmp_path, "drive", [21, 22, 23, 24, 25, 26], shape=(40, 40))
    suite = tmp_path / "rgb.yaml"
    suite.write_text(
        "name: rgb\nmodels: [unet]\nseeds: [1]\n"
        f"datasets: [{{name: datalist, params: {{path: {site}, channels: rgb, size: 32}}}}]\n"
        "perturbations: [{name: gaussian_noise, severity: [1, 3]}]\n"
    )
    result = preview_suite(suite, tmp_path / "out")
    with Image.open(result.png) as im:
        pixels = np.asarray(im.convert("RGB")).astype(int)
    spread = np.abs(pixels[..., 0] - pixels[..., 2])
    assert spread.max() > 60  # colour tiles, not grey ones (the fundus is orange, the gutters white)

    # Two modalities of a volume: perturbed per channel as the runner does, shown by the first.
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (2, 6, 16, 16)).astype(np.float32)
    label = np.zeros((6, 16, 16), np.uint8)
    label[:, 4:12, 4:12] = 1
    mosaic, rows, columns = gallery_grid(image, label, ["gaussian_noise"], severities=(1, 5))
    assert mosaic.shape == (16, 3 * 18 - 2, 3) and rows == ["gaussian_noise"] and columns == [0, 1, 5]
    with np.testing.assert_raises_regex(ValueError, r"label of its spatial shape"):
        gallery_grid(image, label[:, :8])
