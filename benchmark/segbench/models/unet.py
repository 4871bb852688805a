"""Standard U-Net (MONAI) with the skip-connection study's hyper-parameters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segbench.registry import register_model

if TYPE_CHECKING:
    from torch import nn

__all__ = ["build"]


@register_model("unet")
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
    """MONAI U-Net; defaults follow the skip study (BatchNorm, ReLU, no residual units).

    Args:
        channels: feature maps per level, top first. Defaults to (16, 32, 64, 128, 256).
        strides: down-sampling stride per level. Defaults to (2, 2, 2, 2).
        num_res_units: residual units per block (the 3D study uses 2). Defaults to 0.
        norm: normalisation layer name. Defaults to "batch" (AttentionUnet hard-codes it; kept
            equal across models for fairness).
    """
    from monai.networks.nets import UNet  # lazy: registering the entry must not import torch

    return UNet(
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
