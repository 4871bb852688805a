"""UNETR (MONAI) for the 3D context study; ``img_size`` is the training patch size."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from segbench.registry import register_model

if TYPE_CHECKING:
    from torch import nn

__all__ = ["build"]


@register_model("unetr")
def build(
    img_size: Sequence[int],
    spatial_dims: int = 3,
    in_channels: int = 1,
    out_channels: int = 2,
    feature_size: int = 16,
    hidden_size: int = 768,
    mlp_dim: int = 3072,
    num_heads: int = 12,
    norm_name: str = "instance",
    dropout_rate: float = 0.0,
) -> nn.Module:
    """MONAI UNETR with the 3D study's defaults (feature 16, hidden 768, MLP 3072, 12 heads).

    Args:
        img_size: input patch size, filled in from the suite's patch budget (must be
            divisible by the ViT patch size 16).
        hidden_size: transformer width; must be divisible by ``num_heads``. Defaults to 768.
    """
    from monai.networks.nets import UNETR  # lazy: registering the entry must not import torch

    return UNETR(
        in_channels=in_channels,
        out_channels=out_channels,
        img_size=tuple(img_size),
        feature_size=feature_size,
        hidden_size=hidden_size,
        mlp_dim=mlp_dim,
        num_heads=num_heads,
        norm_name=norm_name,
        dropout_rate=dropout_rate,
        spatial_dims=spatial_dims,
    )
