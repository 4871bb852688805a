"""The gated U-Net network (torch/MONAI; imported only when a gated model is built).

Why a separate private module: ``models/gated_unet.py`` registers the factory and must import
without torch (``segbench list`` and ``validate`` never load torch); this module holds the classes.
"""

from __future__ import annotations

import math

import torch
from monai.networks.nets import UNet
from torch import nn

__all__ = ["GatedSkip", "GatedUNet"]


class GatedSkip(nn.Module):
    """MONAI's ``SkipConnection`` with a learnable gate: ``cat([g * x, submodule(x)])``, ``g = sigmoid(w)``.

    Args:
        submodule: the deeper part of the network (down path below this level, bottom, up path).
        width: channels of the skip (the encoder output at this level).
        init: initial gate value in (0, 1); near 1 starts the network as a plain U-Net.
        per_channel: one gate per skip channel instead of one scalar per level.
        speed: the gate is ``sigmoid(speed * w)``. Adam moves every parameter by about ``lr`` per step
            whatever its gradient scale, so a plain logit (speed 1) changes by at most ~0.1 in a short
            CPU run and the gates cannot move; ``speed`` is the gates' learning-rate multiplier.
    """

    def __init__(
        self, submodule: nn.Module, width: int, init: float, per_channel: bool, speed: float
    ) -> None:
        super().__init__()
        self.submodule = submodule
        self.width = width
        self.speed = speed
        start = math.log(init / (1 - init)) / speed
        self.logit = nn.Parameter(torch.full((width if per_channel else 1,), start))

    def gate(self) -> torch.Tensor:
        """Gate values, shape ``(C,)`` or ``(1,)``; ``logit = -inf`` gives exactly 0 (a closed skip)."""
        return torch.sigmoid(self.speed * self.logit)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.gate().reshape(1, -1, *([1] * (x.dim() - 2)))
        return torch.cat([g * x, self.submodule(x)], dim=1)


class GatedUNet(UNet):
    """MONAI ``UNet`` whose every skip is a :class:`GatedSkip`; levels are numbered top (0) down.

    Same parameters as ``UNet`` plus the gate options; with every gate closed (0) its forward equals
    ``noskip_unet``'s with the decoder weights of the skip channels dropped.
    """

    def __init__(  # type: ignore[no-untyped-def]
        self,
        *args,
        gate_init: float = 0.95,
        per_channel: bool = False,
        gate_l1: float = 0.0,
        gate_speed: float = 10.0,
        **kwargs,
    ):
        if not 0.0 < gate_init < 1.0:
            raise ValueError(f"gate_init must lie in (0, 1) (a sigmoid value), got {gate_init}")
        if gate_speed <= 0:
            raise ValueError(f"gate_speed must be > 0, got {gate_speed}")
        if gate_l1 < 0:
            raise ValueError(f"gate_l1 must be >= 0, got {gate_l1}")
        self._gate_init, self._per_channel, self._skip_width = gate_init, per_channel, 0
        self._gate_speed = gate_speed
        super().__init__(*args, **kwargs)
        self.gate_l1 = gate_l1

    def _get_down_layer(self, in_channels: int, out_channels: int, strides: int, is_top: bool) -> nn.Module:
        self._skip_width = out_channels  # MONAI builds a level's down layer right before its connection
        return super()._get_down_layer(in_channels, out_channels, strides, is_top)

    def _get_connection_block(
        self, down_path: nn.Module, up_path: nn.Module, subblock: nn.Module
    ) -> nn.Module:
        skip = GatedSkip(subblock, self._skip_width, self._gate_init, self._per_channel, self._gate_speed)
        return nn.Sequential(down_path, skip, up_path)

    def gate_modules(self) -> list[GatedSkip]:
        """The skips, top level (full resolution) first."""
        return [m for m in self.modules() if isinstance(m, GatedSkip)]

    def gate_values(self) -> list[list[float]]:
        """Per level (top first), the gate values (one, or one per channel)."""
        return [m.gate().detach().cpu().tolist() for m in self.gate_modules()]

    def regularization_loss(self) -> torch.Tensor:
        """``gate_l1 * sum_l mean(g_l)``: L1 pressure towards closed skips (gates are positive)."""
        gates = [m.gate().mean() for m in self.gate_modules()]
        return self.gate_l1 * torch.stack(gates).sum()
