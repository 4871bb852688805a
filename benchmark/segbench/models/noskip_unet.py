"""U-Net with every skip connection removed (the skip study's No-Skip U-Net)."""

from __future__ import annotations

from monai.networks.nets import UNet
from torch import nn

from segbench.registry import register_model

__all__ = ["NoSkipUNet", "build"]


class NoSkipUNet(UNet):
    """MONAI ``UNet`` whose levels are ``down -> subblock -> up`` with no concatenation.

    The encoder is identical to ``UNet``'s; each decoder block's input is narrowed from
    ``skip + below`` channels to ``below`` channels.  MONAI builds a level by calling
    ``_get_down_layer`` (after recursing into the sub-block) and then ``_get_up_layer``,
    so the last down layer's width is exactly the skip width to subtract.
    """

    _skip_width: int = 0

    def _get_down_layer(self, in_channels: int, out_channels: int, strides: int, is_top: bool) -> nn.Module:
        self._skip_width = out_channels
        return super()._get_down_layer(in_channels, out_channels, strides, is_top)

    def _get_up_layer(self, in_channels: int, out_channels: int, strides: int, is_top: bool) -> nn.Module:
        return super()._get_up_layer(in_channels - self._skip_width, out_channels, strides, is_top)

    def _get_connection_block(
        self, down_path: nn.Module, up_path: nn.Module, subblock: nn.Module
    ) -> nn.Module:
        return nn.Sequential(down_path, subblock, up_path)


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
