"""Result shards on disk: one JSON file per job attempt, written atomically; a neutral module.

Why here (not in ``worker/`` or ``store/``): the worker writes shards and the store reads them; both
import this module, neither imports the other.  ``segbench.worker.shard`` re-exports it.

Why atomic: a shard is complete or absent (temporary file, fsync, rename), so a run killed at any
instant leaves either nothing or a shard that the next run ingests.  A file that is nevertheless
unreadable (a foreign file, a disk error, a hand edit) is *quarantined*: moved to
``shards/quarantine/`` with a warning naming it, so one bad file never blocks a run.

Layout under a results folder::

    shards/<job_key>-<attempt>.json    written, not yet ingested
    shards/ingested/                   archived after ingestion (what ``segbench store rebuild`` replays)
    shards/quarantine/                 unreadable shards, moved aside
    shards/suites/<name>.json          each suite's latest definition (for rebuild)
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from segbench.core.records import RecordError, ShardRecord, SuiteRecord

__all__ = [
    "TMP_SUFFIX",
    "atomic_write_bytes",
    "clean_stale_tmp",
    "ingested_dir",
    "pending_shards",
    "quarantine",
    "quarantine_dir",
    "read_shard",
    "read_suite_records",
    "shard_dir",
    "write_shard",
    "write_suite_record",
]

TMP_SUFFIX = ".tmp"


def shard_dir(results: Path) -> Path:
    return Path(results) / "shards"


def ingested_dir(results: Path) -> Path:
    return shard_dir(results) / "ingested"


def quarantine_dir(results: Path) -> Path:
    return shard_dir(results) / "quarantine"


def _suites_dir(results: Path) -> Path:
    return shard_dir(results) / "suites"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_shard(results: Path, shard: ShardRecord | dict[str, Any]) -> Path:
    """Atomically write one job attempt's shard; returns its path.

    A dict (the worker's pre-record form) is validated into a :class:`ShardRecord` first, so a shard
    on disk always reads back.
    """
    record = shard if isinstance(shard, ShardRecord) else ShardRecord.from_dict(shard, "<new shard>")
    path = shard_dir(results) / record.filename
    atomic_write_bytes(path, record.to_json().encode())
    return path


def read_shard(path: Path) -> ShardRecord:
    """Read and validate one shard.

    Raises:
        RecordError: the file is unreadable, not JSON or not a shard (message names the file).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RecordError(f"{path}: cannot read shard ({exc.strerror or exc})") from None
    return ShardRecord.from_json(data, path)


def pending_shards(results: Path) -> list[Path]:
    """Shards written but not yet ingested (oldest first)."""
    folder = shard_dir(results)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("*.json"):
        try:
            found.append((path.stat().st_mtime, path))
        except FileNotFoundError:  # ingested by another process meanwhile
            continue
    return [p for _, p in sorted(found)]


def quarantine(results: Path, path: Path) -> Path:
    """Move an unreadable shard to ``shards/quarantine/`` (kept for inspection); returns its new path."""
    target = quarantine_dir(results) / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target = target.with_name(f"{path.stem}.{int(time.time())}{path.suffix}")
    path.replace(target)
    return target


def write_suite_record(results: Path, record: SuiteRecord) -> Path:
    """Keep a suite's latest definition beside the shards (``shards/suites/<name>.json``)."""
    path = _suites_dir(results) / f"{_safe(record.name)}.json"
    atomic_write_bytes(path, record.to_json().encode())
    return path


def read_suite_records(results: Path) -> tuple[list[SuiteRecord], list[str]]:
    """Every readable suite record, and one warning per unreadable one."""
    folder = _suites_dir(results)
    records, problems = [], []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            records.append(SuiteRecord.from_json(path.read_bytes(), path))
        except (OSError, RecordError) as exc:
            problems.append(str(exc))
    return records, problems


def clean_stale_tmp(results: Path, before: float) -> list[Path]:
    """Delete temporary files of killed atomic writes (``.<name>.*.tmp``) older than ``before``.

    Only call it while holding the results folder's lock: then no other writer is mid-write.
    """
    removed = []
    results = Path(results)
    for folder in (results, shard_dir(results), results / "checkpoints", _suites_dir(results)):
        if not folder.is_dir():
            continue
        for path in folder.glob(f".*{TMP_SUFFIX}"):
            try:
                if path.is_file() and path.stat().st_mtime < before:
                    path.unlink()
                    removed.append(path)
            except OSError:
                continue
    return removed


def _safe(name: str) -> str:
    """A file name for a suite name (suite names may hold any character)."""
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".") or "suite"
    if keep != name:
        import hashlib

        keep += "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return keep
