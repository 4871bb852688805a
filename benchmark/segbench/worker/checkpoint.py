"""Checkpoint files: the best model of a finished job, and a running job's training state.

Two files per job under ``results/checkpoints/``:
- ``<key>.pt``: the best-validation weights (``{"state_dict", "train"}``), written once
  training ends; evaluation reuses it.  Finished jobs keep only this file.
- ``<key>.state.pt``: everything needed to continue training exactly where it stopped
  (model, optimiser, scheduler, grad scaler, every RNG state, best-so-far, epoch),
  rewritten atomically every ``train.checkpoint_every`` epochs and deleted at the end.

A file that does not load (truncated, another architecture, a refused pickle) is renamed
aside (``.corrupt-<time>``) so the job retrains instead of failing on it forever.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from segbench.shards import atomic_write_bytes

__all__ = [
    "CheckpointError",
    "checkpoint_path",
    "has_checkpoint",
    "load_payload",
    "quarantine",
    "save_payload",
    "state_path",
]


class CheckpointError(RuntimeError):
    """A checkpoint could not be used; it has been quarantined (path in the message)."""


def checkpoint_path(results: Path, job_key: str) -> Path:
    """The best-model checkpoint of a job."""
    return results / "checkpoints" / f"{job_key}.pt"


def state_path(results: Path, job_key: str) -> Path:
    """The resumable training state of a job that has not finished training."""
    return results / "checkpoints" / f"{job_key}.state.pt"


def has_checkpoint(results: Path, job_key: str) -> bool:
    """Whether a (non-empty) best-model checkpoint exists; no torch import (dry-run)."""
    path = checkpoint_path(results, job_key)
    return path.is_file() and path.stat().st_size > 0


def save_payload(path: Path, payload: dict[str, Any]) -> None:
    """``torch.save`` to ``path`` atomically (readers see the old or the whole new file)."""
    import torch

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_payload(path: Path) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (tensors and plain containers only).

    Raises:
        CheckpointError: the file does not load; it has been quarantined.
    """
    import torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(payload, dict):
            raise TypeError(f"expected a dict, found {type(payload).__name__}")
    except Exception as exc:
        raise CheckpointError(_quarantine_message(path, exc)) from exc
    return payload


def quarantine(path: Path) -> Path:
    """Rename ``path`` aside so it is never loaded again; returns the new path."""
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    path.replace(target)
    return target


def _quarantine_message(path: Path, exc: BaseException) -> str:
    moved = quarantine(path)
    return f"checkpoint {path} does not load ({type(exc).__name__}: {exc}); moved aside to {moved}"


def quarantine_unusable(path: Path, exc: BaseException) -> str:
    """Quarantine a checkpoint that loaded but does not fit the model; returns the message."""
    return _quarantine_message(path, exc)
