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
    # Encoder identical: the down-path convolutions have the same shapes.
    enc = lambda m: [p.shape for n, p in m.named_parameters() if "conv" in n and p.dim() == 4]  # noqa: E731
    assert count_parameters(noskip) < count_parameters(unet)
    assert enc(noskip)[0] == enc(unet)[0]


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
