"""What a segbench model must return: logits ``(N, out_channels, *spatial of the input)``.

Why check it: a user model that returns a tuple (deep supervision), a dict, a downsampled map or
the wrong channel count failed deep inside the loss or MONAI's sliding window with a message about
``sigmoid()`` or "ground truth has different shape", which does not say what the model must do.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["ModelOutputError", "checked_logits", "out_channels_for"]


class ModelOutputError(TypeError):
    """A model's forward pass returned something other than logits for its input."""


def out_channels_for(activation: str) -> int:
    """1 logit channel for a sigmoid (foreground) head, 2 for a softmax (background, foreground)."""
    return 1 if activation == "sigmoid" else 2


def checked_logits(output: Any, batch: torch.Tensor, out_channels: int) -> torch.Tensor:
    """``output`` when it is a tensor of shape ``(N, out_channels, *batch.shape[2:])``.

    Raises:
        ModelOutputError: naming what came back and what was expected.
    """
    expected = (batch.shape[0], out_channels, *batch.shape[2:])
    if not isinstance(output, torch.Tensor):
        raise ModelOutputError(
            f"the model returned a {type(output).__name__}, not a tensor: a segbench model's forward "
            f"returns logits of shape {expected} for an input of shape {tuple(batch.shape)} (with deep "
            "supervision, return only the full-resolution output)"
        )
    if tuple(output.shape) != expected:
        raise ModelOutputError(
            f"the model returned shape {tuple(output.shape)} for an input of shape {tuple(batch.shape)}; "
            f"expected logits of shape {expected}: {out_channels} channel(s) and the input's spatial size"
        )
    return output
