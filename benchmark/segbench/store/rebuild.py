"""Rebuild a results database from what the folder keeps beside it: suite records and archived shards.

Why a module of its own: a rebuild is recovery, not the store's day-to-day work; it drives the store's
ordinary writes (record a suite, ingest a shard) on a fresh file and swaps it in only when complete.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from segbench.core.records import RecordError, ShardRecord, SuiteRecord
from segbench.shards import ingested_dir, read_shard, read_suite_records
from segbench.store.db import DB_NAME, Store, _add_import_membership, _transaction

__all__ = ["rebuild"]


def rebuild(store: Store) -> tuple[Path | None, int, int]:
    """Recreate the database from the archived shards and suite records; keep the old file aside.

    Call it while holding the results folder's lock.  The new database is built in
    ``segbench.sqlite.rebuilding`` and renamed over the old one only when complete: a rebuild
    killed half-way leaves the old database in place (never a partial one that a ``run`` would
    trust), and the next rebuild deletes the leftover and starts again.

    Returns:
        (where the old database was moved or None, shards ingested, suites restored).
    """
    building = store.path.with_name(f"{DB_NAME}.rebuilding")
    for suffix in ("", "-wal", "-shm", "-journal"):  # a rebuild that was killed: redo it
        Path(f"{building}{suffix}").unlink(missing_ok=True)
    builder = Store(store.results)
    builder.path = building
    n, suites = _replay(builder)
    store.warnings.extend(builder.warnings)
    aside = None
    if store.path.exists():
        aside = store.path.with_name(f"{DB_NAME}.old-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.link(store.path, aside)  # the old file stays in place until the new one replaces it
        except OSError:
            shutil.copy2(store.path, aside)
        for suffix in ("-wal", "-shm"):
            part = Path(f"{store.path}{suffix}")
            if part.exists():
                part.replace(f"{aside}{suffix}")
    os.replace(building, store.path)
    store._checked = False
    return aside, n, suites


def _replay(store: Store) -> tuple[int, int]:
    """Fill ``store`` (a new, empty database) from the suite records and archived shards."""
    suites, problems = read_suite_records(store.results)
    store.warnings.extend(problems)
    for record in suites:
        store._write_suite(record)
    archived, members = [], _SuiteMembers()
    folder = ingested_dir(store.results)
    for path in folder.glob("*.json") if folder.is_dir() else []:
        try:
            shard = read_shard(path)
        except RecordError as exc:
            store.quarantine(path, str(exc))
            continue
        archived.append((shard.finished_at or path.stat().st_mtime, path))
        members.add(shard)
    n, imported = 0, []
    for _, path in sorted(archived):  # attempts replay in the order they finished
        shard = store.ingest(path, archive=False)
        n += shard is not None
        if (
            shard is not None
            and shard.suite
            and shard.job.model_extra
            and "imported" in shard.job.model_extra
        ):
            imported.append(shard)
    n += store.ingest_pending()
    # Stores from before suite records existed: rebuild each suite's membership from its shards.
    for record in members.records(exclude={r.name for r in suites}):
        store._write_suite(record)
        store.warnings.append(
            f"suite {record.name!r} was restored from its shards (its YAML was not recorded); "
            "run its suite file again to restore the definition shown in reports"
        )
        suites.append(record)
    for shard in imported:  # an imported model joins its suite (which exists by now)
        with store.connect() as conn, _transaction(conn):
            _add_import_membership(conn, shard.suite, shard.job.model_label or shard.job.model, shard)
    with store.connect():
        pass  # an empty, valid store even without shards; closing the last connection ends the WAL
    return n, len(suites)


class _SuiteMembers:
    """Which jobs (with labels) and conditions each suite's shards hold."""

    def __init__(self) -> None:
        self.jobs: dict[str, set[tuple[str, str]]] = {}
        self.conditions: dict[str, set[str]] = {}

    def add(self, shard: ShardRecord) -> None:
        if not shard.suite:
            return
        label = shard.job.model_label or shard.job.model
        self.jobs.setdefault(shard.suite, set()).add((shard.job_key, label))
        self.conditions.setdefault(shard.suite, set()).update(c.cond_key for c in shard.conditions)

    def records(self, exclude: set[str]) -> list[SuiteRecord]:
        return [
            SuiteRecord(name=name, yaml="", jobs=sorted(jobs), conditions=sorted(self.conditions[name]))
            for name, jobs in sorted(self.jobs.items())
            if name not in exclude
        ]
