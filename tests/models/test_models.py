"""Every registered model: output shapes in 2D and 3D; No-Skip U-Net really has no skips."""

from __future__ import annotations

from unittest import mock

import pytest
import torch

from segbench.models.build import build_model, count_parameters
from segbench.registry import MODELS

TINY = {"channels": [4, 8, 16], "strides": [2, 2]}
TINY_UNETR = {"feature_size": 4, "hidden_size": 32, "mlp_dim": 64, "num_heads": 2}


def _params(name: str) -> dict:
    return TINY_UNETR if name == "unetr" else TINY


@pytest.mark.parametrize("name", MODELS.names())
@pytest.mark.parametrize("dims", [2, 3])
def test_output_shape(name: str, dims: int) -> None:
    size = (32,) * dims
    model = build_model(name, _params(name), spatial_dims=dims, out_channels=2, img_size=size)
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 1, *size))
    assert out.shape == (2, 2, *size)
    assert count_parameters(model) > 0


def _count_concatenations(model: torch.nn.Module, x: torch.Tensor) -> int:
    calls = 0
    real_cat = torch.cat

    def counting_cat(*args, **kwargs):
        nonlocal calls
        calls += 1
        return real_cat(*args, **kwargs)

    with mock.patch("torch.cat", counting_cat), torch.no_grad():
        model(x)
    return calls


def test_noskip_has_no_concatenation_and_same_encoder() -> None:
    x = torch.zeros(1, 1, 32, 32)
    unet = build_model("unet", TINY, spatial_dims=2)
    noskip = build_model("noskip_unet", TINY, spatial_dims=2)
    assert _count_concatenations(unet.eval(), x) == 2  # one skip per level
    assert _count_concatenations(noskip.eval(), x) == 0
    assert not any(type(m).__name__ == "SkipConnection" for m in noskip.modules())
    assert count_parameters(noskip) < count_parameters(unet)


def _encoder(net: torch.nn.Module) -> list[torch.nn.Module]:
    """The down layer of every level, top first, then the bottom layer.

    MONAI builds each level as a plain ``nn.Sequential(down, inner, up)``, where ``inner`` is a
    ``SkipConnection`` around the next level in ``UNet`` and the next level itself in the
    No-Skip U-Net; the bottom layer is a ``Convolution`` (a *subclass* of ``nn.Sequential``).
    """
    layers, block = [], net.model
    while type(block) is torch.nn.Sequential:
        down, inner, _up = block
        layers.append(down)
        block = getattr(inner, "submodule", inner)
    layers.append(block)
    return layers


@pytest.mark.parametrize("num_res_units", [0, 2])
def test_noskip_encoder_equals_unet_encoder_layer_by_layer(num_res_units: int) -> None:
    params = {**TINY, "channels": [4, 8, 16, 32], "strides": [2, 2, 2], "num_res_units": num_res_units}
    unet = build_model("unet", params, spatial_dims=2).eval()
    noskip = build_model("noskip_unet", params, spatial_dims=2).eval()
    enc_u, enc_n = _encoder(unet), _encoder(noskip)
    assert len(enc_u) == len(enc_n) == 4  # three down layers + bottom
    x = torch.randn(1, 1, 32, 32)
    for level, (a, b) in enumerate(zip(enc_u, enc_n, strict=True)):
        assert [type(m).__name__ for m in a.modules()] == [type(m).__name__ for m in b.modules()], level
        shapes = lambda m: {k: tuple(v.shape) for k, v in m.state_dict().items()}  # noqa: E731
        assert shapes(a) == shapes(b), f"encoder level {level} differs"
        b.load_state_dict(a.state_dict())  # same weights -> same function
        with torch.no_grad():
            out_a, out_b = a(x), b(x)
        torch.testing.assert_close(out_a, out_b)
        x = out_a
    # And the decoder really is narrowed: each up layer takes fewer input channels without skips.
    ups = lambda net: [blk[2] for blk in _levels(net)]  # noqa: E731
    for up_u, up_n in zip(ups(unet), ups(noskip), strict=True):
        first = lambda m: next(p for p in m.parameters() if p.dim() == 4)  # noqa: E731
        assert first(up_n).shape[0] < first(up_u).shape[0]  # ConvTranspose weight: (in, out, k, k)


def _levels(net: torch.nn.Module) -> list[torch.nn.Sequential]:
    levels, block = [], net.model
    while type(block) is torch.nn.Sequential:
        levels.append(block)
        block = getattr(block[1], "submodule", block[1])
    return levels


def test_user_callable(tmp_path, monkeypatch) -> None:
    (tmp_path / "mynets.py").write_text(
        "import torch\n"
        "def build(spatial_dims, out_channels, width: int = 3):\n"
        "    conv = torch.nn.Conv2d if spatial_dims == 2 else torch.nn.Conv3d\n"
        "    return conv(1, out_channels, width, padding=width // 2)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    model = build_model("mynets:build", {"width": 5}, spatial_dims=2, out_channels=1, img_size=(16, 16))
    assert model(torch.zeros(1, 1, 16, 16)).shape == (1, 1, 16, 16)


def test_duplicate_registration_raises() -> None:
    from segbench.registry import RegistryError

    with pytest.raises(RegistryError, match="registered twice"):
        MODELS.register("unet")(lambda: None)


@pytest.mark.gpu
@pytest.mark.parametrize("name", MODELS.names())
def test_cuda_forward_matches_cpu(name: str) -> None:
    size = (32, 32, 32)
    torch.manual_seed(0)
    model = build_model(name, _params(name), spatial_dims=3, out_channels=2, img_size=size).eval()
    x = torch.randn(1, 1, *size)
    with torch.no_grad():
        cpu = model(x)
        gpu = model.cuda()(x.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-3, atol=1e-3)


def test_fixed_size_model_on_images_of_different_sizes_names_the_fix() -> None:
    """UNETR on native-size images (``size: null``, patch 'full') used to get the first image's
    size and fail on the second; now the job fails at build time saying what to set."""
    import numpy as np

    from segbench.cases import Case, DatasetSplits

    def case(i: int, side: int) -> Case:
        return Case(f"c{i}", np.zeros((side, side), np.float32), np.zeros((side, side), np.uint8), ())

    mixed = DatasetSplits([case(0, 32), case(1, 48)], [case(2, 32)], [case(3, 32)])
    same = DatasetSplits([case(0, 32), case(1, 32)], [case(2, 32)], [case(3, 32)])
    assert mixed.common_size is None and same.common_size == (32, 32)
    with pytest.raises(ValueError, match=r"'unetr' needs a fixed input size .*size:.*patch_budget"):
        build_model("unetr", {}, spatial_dims=2, img_size=mixed.common_size)
    tiny = {"hidden_size": 32, "mlp_dim": 32, "num_heads": 2, "feature_size": 8}
    model = build_model("unetr", tiny, spatial_dims=2, img_size=same.common_size)
    assert model(torch.zeros(1, 1, 32, 32)).shape == (1, 1, 32, 32)
    assert build_model("unet", {}, spatial_dims=2, img_size=None) is not None  # no img_size: unaffected
