"""A model that pauses in training until a test has done something to its process.

Why: a test that preempts a job "after epoch 2" by polling the state file and then sending a
signal raced the job on a loaded machine (it had finished training before the signal came).
This U-Net instead stops at a known training step and waits, so the test acts on a state,
not on time.  Suites name it ``pausing_models:unet_pausing_at``.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from monai.networks.nets import UNet
from torch import nn

__all__ = ["unet_pausing_at"]


class _PausingUNet(UNet):  # type: ignore[misc]
    def __init__(self, marker: Path, step: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.marker, self.step, self.seen = marker, step, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.seen += 1
            if self.seen == self.step and not self.marker.exists():
                self.marker.touch()  # "paused here"; a requeued run finds it and goes on
                while True:  # until a signal ends the process (or its handler raises)
                    time.sleep(0.05)
        return super().forward(x)


def unet_pausing_at(
    marker: str,
    step: int,
    spatial_dims: int = 2,
    in_channels: int = 1,
    out_channels: int = 1,
    channels: tuple[int, ...] = (4, 8, 16),
    strides: tuple[int, ...] = (2, 2),
) -> nn.Module:
    """A MONAI U-Net that, unless the file ``marker`` exists, creates it at training forward
    pass number ``step`` and then waits there forever."""
    return _PausingUNet(
        Path(marker),
        step,
        spatial_dims=spatial_dims,
        in_channels=in_channels,
        out_channels=out_channels,
        channels=tuple(channels),
        strides=tuple(strides),
    )
