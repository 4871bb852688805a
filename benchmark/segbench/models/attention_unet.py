"""Attention U-Net (MONAI ``AttentionUnet``) with the study's channels and strides."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segbench.registry import register_model

if TYPE_CHECKING:
    from torch import nn

__all__ = ["build"]


@register_model("attention_unet")
def build(
    spatial_dims: int = 2,
    in_channels: int = 1,
    out_channels: int = 1,
    channels: tuple[int, ...] = (16, 32, 64, 128, 256),
    strides: tuple[int, ...] = (2, 2, 2, 2),
    kernel_size: int = 3,
    up_kernel_size: int = 3,
    dropout: float = 0.0,
) -> nn.Module:
    """MONAI Attention U-Net (BatchNorm and ReLU are hard-coded by MONAI).

    Args:
        channels: feature maps per level, top first. Defaults to (16, 32, 64, 128, 256).
        strides: down-sampling stride per level. Defaults to (2, 2, 2, 2).
    """
    from monai.networks.nets import AttentionUnet  # lazy: registering the entry must not import torch

    return AttentionUnet(
        spatial_dims=spatial_dims,
        in_channels=in_channels,
        out_channels=out_channels,
        channels=tuple(channels),
        strides=tuple(strides),
        kernel_size=kernel_size,
        up_kernel_size=up_kernel_size,
        dropout=dropout,
    )
