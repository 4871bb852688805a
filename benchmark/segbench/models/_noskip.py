"""The No-Skip U-Net class (imported by ``noskip_unet.build`` only when a model is built).

Why a private module: the class subclasses MONAI's ``UNet``, so defining it imports torch and
MONAI (seconds); the registry imports ``segbench.models.noskip_unet`` for every ``segbench``
command, including ``list`` and ``validate`` that build nothing.
"""

from __future__ import annotations

from monai.networks.nets import UNet
from torch import nn

__all__ = ["NoSkipUNet"]


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
