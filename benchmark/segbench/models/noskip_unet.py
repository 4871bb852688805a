"""U-Net with every skip connection removed (the skip study's No-Skip U-Net).

The class itself lives in :mod:`segbench.models._noskip` and is imported when a model is
built, so registering this entry costs no torch/MONAI import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from segbench.registry import register_model

if TYPE_CHECKING:
    from torch import nn

__all__ = ["NoSkipUNet", "build"]  # noqa: F822 (NoSkipUNet: lazy, see __getattr__)


def __getattr__(name: str) -> Any:
    # ``from segbench.models.noskip_unet import NoSkipUNet`` keeps working, importing MONAI then.
    if name == "NoSkipUNet":
        from segbench.models._noskip import NoSkipUNet

        return NoSkipUNet
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@register_model("noskip_unet")
def build(
    spatial_dims: int = 2,
    in_channels: int = 1,
    out_channels: int = 1,
    channels: tuple[int, ...] = (16, 32, 64, 128, 256),
    strides: tuple[int, ...] = (2, 2, 2, 2),
    num_res_units: int = 0,
    norm: str = "batch",
    act: str = "relu",
    dropout: float = 0.0,
) -> nn.Module:
    """U-Net with all skips removed and the decoder narrowed; same encoder as ``unet``.

    Args:
        channels: feature maps per level, top first. Defaults to (16, 32, 64, 128, 256).
        strides: down-sampling stride per level. Defaults to (2, 2, 2, 2).
        num_res_units: residual units per block. Defaults to 0.
    """
    from segbench.models._noskip import NoSkipUNet

    return NoSkipUNet(
        spatial_dims=spatial_dims,
        in_channels=in_channels,
        out_channels=out_channels,
        channels=tuple(channels),
        strides=tuple(strides),
        num_res_units=num_res_units,
        norm=norm,
        act=act,
        dropout=dropout,
    )
