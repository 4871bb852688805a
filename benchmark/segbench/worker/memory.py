"""Peak memory of one job: CUDA's allocator peak, or a sampled peak RSS on CPU.

Why sample: ``ru_maxrss`` is the peak over the whole process lifetime, so in a process
that runs several jobs every job after the largest one reports the largest one's peak
(3,558 MB stored for a U-Net that peaks at 492 MB alone).  A daemon thread reads the
resident set size every ``interval`` seconds between ``start`` and ``stop``.
"""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path
from typing import Any

__all__ = ["PeakMemory", "current_rss_mb"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_STATM = Path("/proc/self/statm")


def current_rss_mb() -> float:
    """Resident set size of this process now (MB); falls back to the lifetime peak off Linux."""
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE / 2**20
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PeakMemory:
    """Context manager measuring a job's peak memory on ``device`` (MB, in ``peak_mb``).

    Args:
        device: a ``torch.device``; CUDA uses ``max_memory_allocated``, CPU samples RSS.
        interval: seconds between RSS samples. Defaults to 0.02.
    """

    def __init__(self, device: Any, interval: float = 0.02) -> None:
        self.device = device
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats(self.device)
            return self
        self.peak_mb = current_rss_mb()
        self._thread = threading.Thread(target=self._sample, name="segbench-rss", daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mb = max(self.peak_mb, current_rss_mb())

    def __exit__(self, *exc: object) -> None:
        self.read()
        if self._thread is not None:
            self._stop.set()
            self._thread.join()

    def read(self) -> float:
        """The peak so far (MB)."""
        if self.device.type == "cuda":
            import torch

            self.peak_mb = torch.cuda.max_memory_allocated(self.device) / 2**20
        else:
            self.peak_mb = max(self.peak_mb, current_rss_mb())
        return self.peak_mb
