"""Whether a synthetic dataset fits in memory, checked by ``segbench validate`` before any run.

Why: ``size: 100000`` validated fine and then asked for tens of GB per image; the kernel's
out-of-memory killer ends the whole run with SIGKILL, which nothing can record as a failure.
"""

from __future__ import annotations

import math
import os

__all__ = ["memory_problem", "physical_memory_bytes"]

BYTES_PER_VOXEL = 4 + 1  # float32 image + uint8 mask
SHARE = 0.5  # of physical memory a dataset may take; training needs the rest


def physical_memory_bytes() -> int | None:
    """Installed RAM, or None where the OS does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def memory_problem(n_cases: int, shape: tuple[int, ...], what: str, fix: str) -> str | None:
    """A one-line problem when ``n_cases`` arrays of ``shape`` need over half the machine's RAM."""
    total = physical_memory_bytes()
    need = n_cases * math.prod(shape) * BYTES_PER_VOXEL
    if total is None or need <= SHARE * total:
        return None
    return (
        f"{what} need about {need / 1e9:,.1f} GB in memory (float32 images and masks), more than half "
        f"of this machine's {total / 1e9:,.1f} GB; {fix}"
    )
