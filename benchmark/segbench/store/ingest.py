"""Writing one shard into the store's tables (called by :class:`segbench.store.Store` in a transaction).

Why apart from ``db.py``: connections, errors and queries there; the row mapping here, which is what
changes when the record or the metric table grows (case columns come from :func:`case_columns`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from segbench.core.records import ShardRecord
from segbench.store.schema import CASE_TEXT_COLUMNS, case_columns

__all__ = ["write_shard_rows"]

# "split" (case ids per split) and "dataset_fingerprint": a real dataset's split, exported with the job;
# "gates": gated_unet's learned skip gates per level (the report plots them against complexity).
_TRAIN_INFO_KEYS = (
    "history",
    "crop_fbr",
    "patch_size",
    "n_train",
    "n_val",
    "validation",
    "split",
    "dataset_fingerprint",
    "gates",
)
_TRAIN_COLUMNS = ("n_params", "best_epoch", "best_val_dice", "train_seconds", "peak_memory_mb")


def write_shard_rows(conn: sqlite3.Connection, shard: ShardRecord) -> None:
    """Insert or update one shard's job, conditions, case rows, failure and ``ingested`` marker.

    Runs inside the caller's transaction. A failed attempt marks the job failed even when it was
    trained before (e.g. evaluation crashed or predicted NaN), so the report lists it; the next run
    reuses its checkpoint (the plan looks at the checkpoint file). Conditions and cases are
    replaced, so a re-evaluation wins.

    Except a *stale* failure: one whose attempt started before the stored success finished (a
    worker orphaned by a killed parent that failed after a restart had finished the same job).
    It raced with the success rather than following it, so the first successful result is kept:
    the failure is only added to the ``failures`` history.
    """
    now = time.time()
    if not shard.ok and _stale_failure(conn, shard):
        _record_failure(conn, shard, now)
        return
    job, train = shard.job, shard.train
    provenance = shard.provenance or {}
    status = "trained" if shard.ok else "failed"
    train_info = None
    if train is not None:
        train_info = json.dumps(train.model_dump(include=set(_TRAIN_INFO_KEYS)))
    conn.execute(
        """
        INSERT INTO jobs (job_key, model, dataset, complexity, patch, seed, data_seed, config, status, error,
                          attempts, n_params, best_epoch, best_val_dice, train_seconds, peak_memory_mb,
                          train_info, provenance, device, started_at, finished_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(job_key) DO UPDATE SET
            status = excluded.status,
            error = excluded.error,
            attempts = jobs.attempts + 1,
            n_params = COALESCE(excluded.n_params, jobs.n_params),
            best_epoch = COALESCE(excluded.best_epoch, jobs.best_epoch),
            best_val_dice = COALESCE(excluded.best_val_dice, jobs.best_val_dice),
            train_seconds = COALESCE(excluded.train_seconds, jobs.train_seconds),
            peak_memory_mb = COALESCE(excluded.peak_memory_mb, jobs.peak_memory_mb),
            train_info = COALESCE(excluded.train_info, jobs.train_info),
            provenance = COALESCE(excluded.provenance, jobs.provenance),
            device = COALESCE(excluded.device, jobs.device),
            finished_at = excluded.finished_at
        """,
        (
            shard.job_key,
            job.model,
            job.dataset,
            job.complexity,
            json.dumps(job.patch),
            job.seed,
            job.data_seed,
            job.config_json(),
            status,
            None if shard.ok else (shard.error or "unknown error"),
            *(_clean(getattr(train, k, None)) for k in _TRAIN_COLUMNS),
            train_info,
            json.dumps(provenance) if provenance else None,
            provenance.get("device"),
            shard.started_at,
            shard.finished_at,
        ),
    )
    names = [m.name for m in case_columns()]
    columns = ", ".join(("cond_key", "case_id", *names, *CASE_TEXT_COLUMNS))
    marks = ", ".join("?" * (2 + len(names) + len(CASE_TEXT_COLUMNS)))
    for cond in shard.conditions:
        conn.execute(
            "INSERT OR REPLACE INTO conditions (cond_key, job_key, perturbation, severity, test_complexity, "
            "preset, test_params, eval_seconds, evaluated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                cond.cond_key,
                shard.job_key,
                cond.perturbation,
                cond.severity,
                cond.test_complexity,
                cond.preset,
                cond.test_params,
                cond.eval_seconds,
                now,
            ),
        )
        conn.executemany(
            f"INSERT OR REPLACE INTO cases ({columns}) VALUES ({marks})",
            [
                (
                    cond.cond_key,
                    case.case_id,
                    *(case.value(n) for n in names),
                    case.meta,
                    case.perturbation_params,
                )
                for case in cond.cases
            ],
        )
    if shard.ok:
        conn.execute(
            "INSERT INTO ingested (attempt_id, job_key, at, shard_version) VALUES (?, ?, ?, ?)",
            (shard.attempt_id, shard.job_key, now, shard.version),
        )
    else:
        _record_failure(conn, shard, now)


def _stale_failure(conn: sqlite3.Connection, shard: ShardRecord) -> bool:
    """Whether the job holds a success that finished after this failed attempt started."""
    row = conn.execute("SELECT status, finished_at FROM jobs WHERE job_key = ?", (shard.job_key,)).fetchone()
    if row is None or row[0] != "trained":
        return False
    finished = row[1]
    return shard.started_at is None or finished is None or shard.started_at < finished


def _record_failure(conn: sqlite3.Connection, shard: ShardRecord, now: float) -> None:
    conn.execute(
        "INSERT INTO failures (job_key, attempt_id, error, at) VALUES (?, ?, ?, ?)",
        (shard.job_key, shard.attempt_id, shard.error or "unknown error", now),
    )
    conn.execute(
        "INSERT INTO ingested (attempt_id, job_key, at, shard_version) VALUES (?, ?, ?, ?)",
        (shard.attempt_id, shard.job_key, now, shard.version),
    )


def _clean(value: Any) -> Any:
    """NaN -> NULL (SQLite has no NaN); everything else unchanged."""
    return None if isinstance(value, float) and value != value else value
