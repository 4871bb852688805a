"""Check ``--device`` once, up front, instead of letting every job fail on it.

Why here and light: ``segbench run --device cdua`` (a typo) or ``--device cuda`` on a machine
without CUDA used to be stored as N failed jobs.  The spelling is checked without importing
torch; torch is imported only when the user asked for an accelerator, to ask whether it exists.
"""

from __future__ import annotations

import difflib
import re

__all__ = ["DeviceError", "check_device"]

_CUDA = re.compile(r"cuda(?::(\d+))?")
_KNOWN = ("cpu", "cuda", "cuda:0", "mps")


class DeviceError(ValueError):
    """The requested device is misspelt or not available; the message says what is."""


def check_device(device: str | None) -> None:
    """Raise ``DeviceError`` unless ``device`` is ``None`` (auto), ``cpu``, ``mps`` or available ``cuda[:N]``.

    Args:
        device: the ``--device`` value as typed.

    Raises:
        DeviceError: one line naming the value and what this machine offers.
    """
    if device is None or device == "cpu":
        return
    match = _CUDA.fullmatch(device)
    if device != "mps" and match is None:
        close = difflib.get_close_matches(device.lower(), _KNOWN, n=1, cutoff=0.5) if len(device) < 40 else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DeviceError(f"--device {device[:40]!r} is not a device{hint}; use cpu, cuda, cuda:N or mps")
    import torch  # only now: the user asked for an accelerator

    if device == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceError("--device 'mps': Apple MPS is not available on this machine; use --device cpu")
        return
    if not torch.cuda.is_available():
        build = "" if torch.version.cuda else f" (torch {torch.__version__} is built without CUDA)"
        raise DeviceError(
            f"--device {device!r}: no CUDA device is available on this machine{build}; "
            "use --device cpu, or leave --device out to pick the best device"
        )
    index = int(match.group(1) or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise DeviceError(
            f"--device {device!r}: this machine has {count} CUDA device(s), cuda:0..cuda:{count - 1}"
        )
