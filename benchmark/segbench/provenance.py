"""Where a result came from: versions, commit, device, host (stored with every job)."""

from __future__ import annotations

import importlib.metadata
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["collect_provenance", "cpu_name", "git_commit"]

_PACKAGES = ("segbench", "torch", "monai", "numpy", "scipy", "scikit-image", "pydantic")


def git_commit(path: Path | None = None) -> str | None:
    """The checkout's commit (with ``-dirty`` when modified), or None outside git."""
    cwd = path or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def collect_provenance(device: str) -> dict[str, Any]:
    """A JSON-able record of the software and hardware a job ran on."""
    import torch

    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "packages": versions,
        "git_commit": git_commit(),
        "device": device,
        "torch_threads": torch.get_num_threads(),  # set per job (train.threads): CPU floats depend on it
        "cpu": cpu_name(),
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
        info["cuda"] = torch.version.cuda
    return info


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo`` on Linux), else the platform's processor or machine name.

    Recorded because CPU float results may differ between instruction sets (AVX2 vs AVX-512
    kernels), which is one reason a gate baseline may not reproduce on another machine.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"
