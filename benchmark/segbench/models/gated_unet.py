"""U-Net with a learnable gate on every skip connection (``g_l = sigmoid(w_l)``).

Why: the skip study finds skips help on easy tasks and can hurt on hard ones or under shift;
a gated U-Net lets training decide how much of each skip to use, and the learned gates (stored
per job, drawn against complexity in the report) show what it decided at each level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from segbench.registry import register_model

if TYPE_CHECKING:
    from torch import nn

__all__ = ["build", "gate_values"]


@register_model("gated_unet")
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
    gate_init: float = 0.95,
    gate_l1: float = 0.0,
    per_channel: bool = False,
    gate_speed: float = 10.0,
) -> nn.Module:
    """U-Net whose skips are scaled by learnable gates sigmoid(w) (initialised open).

    Args:
        channels: feature maps per level, top first. Defaults to (16, 32, 64, 128, 256).
        strides: down-sampling stride per level. Defaults to (2, 2, 2, 2).
        gate_init: initial gate value in (0, 1). Defaults to 0.95 (open: starts as a U-Net).
        gate_l1: weight of the L1 penalty on the gates added to the loss (pushes skips closed).
            Defaults to 0.0.
        per_channel: one gate per skip channel instead of one per level. Defaults to False.
        gate_speed: learning-rate multiplier of the gates (gate = sigmoid(gate_speed * w)); with Adam a
            plain logit moves too little in a short run to open or close a skip. Defaults to 10.0.
    """
    from segbench.models._gated_net import GatedUNet

    return GatedUNet(
        spatial_dims=spatial_dims,
        in_channels=in_channels,
        out_channels=out_channels,
        channels=tuple(channels),
        strides=tuple(strides),
        num_res_units=num_res_units,
        norm=norm,
        act=act,
        dropout=dropout,
        gate_init=gate_init,
        gate_l1=gate_l1,
        per_channel=per_channel,
        gate_speed=gate_speed,
    )


def gate_values(model: object) -> list[list[float]] | None:
    """Learned gates per level (top first) of a gated model, or None for any other model."""
    values = getattr(model, "gate_values", None)
    return values() if callable(values) else None
