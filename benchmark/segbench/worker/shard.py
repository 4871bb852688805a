"""Result shards: one JSON file per job attempt, written atomically.

Why: workers never touch SQLite.  A shard is complete or absent (write to a temporary
file, fsync, rename), so a run killed at any instant leaves either nothing or a shard
that the next run ingests; cluster executors only need a shared results folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "pending_shards", "read_shard", "shard_dir", "write_shard"]


def shard_dir(results: Path) -> Path:
    return results / "shards"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_shard(results: Path, shard: dict[str, Any]) -> Path:
    """Atomically write one job attempt's shard; returns its path."""
    name = f"{shard['job_key']}-{shard['attempt_id']}.json"
    path = shard_dir(results) / name
    atomic_write_bytes(path, json.dumps(shard, allow_nan=True).encode())
    return path


def read_shard(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def pending_shards(results: Path) -> list[Path]:
    """Shards written but not yet ingested (oldest first)."""
    folder = shard_dir(results)
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
