"""Fault-injection models for the reliability tests (suites name them ``faulty_models:NAME``).

Each is a tiny conv net that trains normally except for the fault it injects, so a test
shows that one misbehaving model is recorded as a failure while the suite goes on.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import torch
from torch import nn

__all__ = [
    "aborts",
    "base_exception",
    "crashes",
    "downsamples",
    "exits",
    "hangs",
    "nan_at_test",
    "no_parameters",
    "os_exits",
    "raises",
    "returns_tuple",
    "segfaults",
]


class QuietAbort(BaseException):
    """A ``BaseException`` that is neither ``SystemExit`` nor ``KeyboardInterrupt``."""


class _Tiny(nn.Module):
    def __init__(self, fault: str, threshold: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)
        self.fault = fault
        self.threshold = threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fault == "raises":
            raise RuntimeError("faulty model: forward always raises")
        if self.fault == "exits":
            sys.exit(3)  # e.g. an argparse call deep inside user code
        if self.fault == "base_exception":
            raise QuietAbort("faulty model: a bare BaseException")
        if self.fault == "crashes":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.fault == "os_exits":
            os._exit(0)  # no exception, no cleanup: the process is just gone
        if self.fault == "segfaults":
            import ctypes

            ctypes.string_at(0)  # reads address 0: SIGSEGV in native code
        if self.fault == "aborts":
            os.abort()
        if self.fault == "hangs":
            time.sleep(3600)
        out = self.conv(x)
        if self.fault == "returns_tuple":
            return out, out  # deep supervision
        if self.fault == "downsamples":
            return out[..., ::2, ::2]
        if self.fault == "nan_at_test" and not self.training and x.shape[0] > self.threshold:
            # Validation batches are small (<= threshold), test batches larger: NaN only at test time.
            return out * float("nan")
        return out


def raises(spatial_dims: int = 2, out_channels: int = 1) -> nn.Module:
    """Raises ``RuntimeError`` in every forward pass."""
    return _Tiny("raises")


def exits(spatial_dims: int = 2, out_channels: int = 1) -> nn.Module:
    """Calls ``sys.exit(3)`` in the forward pass."""
    return _Tiny("exits")


def base_exception(spatial_dims: int = 2, out_channels: int = 1) -> nn.Module:
    """Raises a ``BaseException`` subclass in the forward pass."""
    return _Tiny("base_exception")


def hangs(spatial_dims: int = 2, out_channels: int = 1) -> nn.Module:
    """Sleeps for an hour in the forward pass (a hung job)."""
    return _Tiny("hangs")


def nan_at_test(spatial_dims: int = 2, out_channels: int = 1, threshold: int = 4) -> nn.Module:
    """Trains and validates normally; returns NaN logits for test batches larger than ``threshold``."""
    return _Tiny("nan_at_test", threshold)


def crashes(spatial_dims: int = 2, out_channels: int = 1) -> nn.Module:
    """Kills its own process with SIGKILL in the forward pass (a hard crash: no shard)."""
    return _Tiny("crashes")


def returns_tuple(spatial_dims: int = 2, out_channels: int = 1) -> nn.Module:
    """Returns ``(logits, logits)``, as a deep-supervision net does."""
    return _Tiny("returns_tuple")


def downsamples(spatial_dims: int = 2, out_channels: int = 1) -> nn.Module:
    """Returns logits at half the input's resolution."""
    return _Tiny("downsamples")


def no_parameters(spatial_dims: int = 2, out_channels: int = 1) -> nn.Module:
    """A net with nothing to train (frozen)."""
    model = _Tiny("none")
    model.requires_grad_(False)
    return model


def os_exits(spatial_dims: int = 2, out_channels: int = 1) -> nn.Module:
    """Calls ``os._exit(0)`` in the forward pass."""
    return _Tiny("os_exits")


def segfaults(spatial_dims: int = 2, out_channels: int = 1) -> nn.Module:
    """Segfaults (reads address 0 through ctypes) in the forward pass."""
    return _Tiny("segfaults")


def aborts(spatial_dims: int = 2, out_channels: int = 1) -> nn.Module:
    """Calls ``os.abort()`` (SIGABRT) in the forward pass."""
    return _Tiny("aborts")
