"""The SQLite results store: ingest shards, record suites, query per-case tables.

Why SQLite: one file, transactional, stdlib.  Only the parent process writes, one
transaction per shard, and ingestion is idempotent (``ingested`` table), so a crash at
any point loses nothing and duplicates nothing.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segbench.worker.shard import pending_shards, read_shard, shard_dir

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DB_NAME", "Store"]

DB_NAME = "segbench.sqlite"

_CASE_COLUMNS = (
    "case_id",
    "dice",
    "hd95",
    "nsd",
    "tp",
    "fp",
    "fn",
    "n_ref",
    "n_pred",
    "complexity_kl",
    "fbr",
    "entropy",
    "disagreement",
    "tta_variance",
    "meta",
    "perturbation_params",
)


class Store:
    """A results folder: ``segbench.sqlite`` plus shards and checkpoints beside it."""

    def __init__(self, results: str | Path) -> None:
        self.results = Path(results)
        self.path = self.results / DB_NAME

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        self.results.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=60)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.executescript(resources.files("segbench.store").joinpath("schema.sql").read_text())
            _add_missing_case_columns(conn)
            yield conn
        finally:
            conn.close()

    # -- writing -----------------------------------------------------------------
    def record_suite(self, name: str, yaml_text: str, path: str, jobs: Iterable[Any]) -> None:
        """Remember a suite's definition and which jobs/conditions it contains."""
        with self.connect() as conn, conn:
            conn.execute(
                "INSERT INTO suites(name, path, yaml, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET path=excluded.path, yaml=excluded.yaml, "
                "updated_at=excluded.updated_at",
                (name, path, yaml_text, time.time()),
            )
            # Imported models (segbench import) are not in the suite file: keep their membership.
            conn.execute(
                f"DELETE FROM suite_jobs WHERE suite = ? AND job_key NOT IN ({_IMPORTED_JOBS})", (name,)
            )
            conn.execute(
                "DELETE FROM suite_conditions WHERE suite = ? AND cond_key NOT IN "
                f"(SELECT cond_key FROM conditions WHERE job_key IN ({_IMPORTED_JOBS}))",
                (name,),
            )
            for job in jobs:
                conn.execute(
                    "INSERT OR IGNORE INTO suite_jobs VALUES (?, ?, ?)", (name, job.key, job.model.display)
                )
                conn.executemany(
                    "INSERT OR IGNORE INTO suite_conditions VALUES (?, ?)",
                    [(name, job.condition_key(c)) for c in job.conditions],
                )

    def ingest(self, shard_path: Path) -> dict[str, Any] | None:
        """Commit one shard in a single transaction and archive it; returns the shard,
        or None when it had already been ingested."""
        shard = read_shard(shard_path)
        with self.connect() as conn, conn:
            seen = conn.execute(
                "SELECT 1 FROM ingested WHERE attempt_id = ?", (shard["attempt_id"],)
            ).fetchone()
            if not seen:
                _write_shard(conn, shard)
        archive = shard_dir(self.results) / "ingested" / shard_path.name
        archive.parent.mkdir(parents=True, exist_ok=True)
        shard_path.replace(archive)
        return None if seen else shard

    def ingest_pending(self) -> int:
        """Ingest shards left by an interrupted run; returns how many were new."""
        return sum(self.ingest(path) is not None for path in pending_shards(self.results))

    def ingest_imported(self, suite: str, suite_yaml: str, label: str, shards: list[dict[str, Any]]) -> None:
        """Store an external model's rows (``segbench import``) as members of ``suite``, in one
        transaction: rows of an earlier import under ``label`` are replaced, nothing is half-stored."""
        with self.connect() as conn, conn:
            conn.execute(
                "INSERT OR IGNORE INTO suites(name, path, yaml, updated_at) VALUES (?, ?, ?, ?)",
                (suite, None, suite_yaml, time.time()),
            )
            earlier = (
                "SELECT job_key FROM suite_jobs WHERE suite = ? AND model_label = ? "
                f"AND job_key IN ({_IMPORTED_JOBS})"
            )
            conn.execute(
                "DELETE FROM suite_conditions WHERE suite = ? AND cond_key IN "
                f"(SELECT cond_key FROM conditions WHERE job_key IN ({earlier}))",
                (suite, suite, label),
            )
            conn.execute(
                f"DELETE FROM suite_jobs WHERE suite = ? AND job_key IN ({earlier})", (suite, suite, label)
            )
            for shard in shards:
                _write_shard(conn, shard)
                conn.execute(
                    "INSERT OR IGNORE INTO suite_jobs VALUES (?, ?, ?)", (suite, shard["job_key"], label)
                )
                conn.executemany(
                    "INSERT OR IGNORE INTO suite_conditions VALUES (?, ?)",
                    [(suite, c["cond_key"]) for c in shard["conditions"]],
                )

    def model_names(self, suite: str) -> dict[str, str]:
        """Model label -> model name (``imported`` for imported models) of a stored suite."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT sj.model_label, j.model FROM suite_jobs sj JOIN jobs j USING (job_key) "
                "WHERE sj.suite = ?",
                (suite,),
            ).fetchall()
        return dict(rows)

    # -- reading -----------------------------------------------------------------
    def done_conditions(self) -> set[str]:
        if not self.path.exists():
            return set()
        with self.connect() as conn:
            return {row[0] for row in conn.execute("SELECT cond_key FROM conditions")}

    def trained_jobs(self) -> set[str]:
        if not self.path.exists():
            return set()
        with self.connect() as conn:
            return {row[0] for row in conn.execute("SELECT job_key FROM jobs WHERE status = 'trained'")}

    def suites(self) -> list[str]:
        if not self.path.exists():
            return []
        with self.connect() as conn:
            return [row[0] for row in conn.execute("SELECT name FROM suites ORDER BY name")]

    def suite_yaml(self, name: str) -> str | None:
        with self.connect() as conn:
            row = conn.execute("SELECT yaml FROM suites WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def cases(self, suite: str | None = None) -> pd.DataFrame:
        """The long per-case table (one row per model x condition x case) of a suite."""
        import pandas as pd  # lazy: `segbench run` on a finished suite needs no pandas

        query = """
            SELECT sj.suite, sj.model_label AS model, j.model AS model_name, j.dataset, j.complexity,
                   json_extract(j.train_info, '$.patch_size') AS patch_size, j.seed,
                   c.perturbation, c.severity, c.preset, c.test_complexity, k.*, j.job_key
            FROM suite_jobs sj
            JOIN jobs j ON j.job_key = sj.job_key
            JOIN conditions c ON c.job_key = j.job_key
            JOIN suite_conditions sc ON sc.suite = sj.suite AND sc.cond_key = c.cond_key
            JOIN cases k ON k.cond_key = c.cond_key
        """
        params: tuple[Any, ...] = ()
        if suite is not None:
            query += " WHERE sj.suite = ?"
            params = (suite,)
        query += " ORDER BY sj.suite, model, j.dataset, j.complexity, "
        query += "c.perturbation, c.severity, j.seed, k.case_id"
        if not self.path.exists():
            return pd.DataFrame()
        with self.connect() as conn:
            table = pd.read_sql_query(query, conn, params=params)
        table.insert(5, "patch", table.pop("patch_size").map(_patch_label))
        return table

    def jobs(self, suite: str | None = None) -> pd.DataFrame:
        """One row per train job (status, provenance, timings) of a suite."""
        import pandas as pd  # lazy: `segbench run` on a finished suite needs no pandas

        query = "SELECT sj.suite, sj.model_label, j.* FROM suite_jobs sj JOIN jobs j USING (job_key)"
        params: tuple[Any, ...] = ()
        if suite is not None:
            query += " WHERE sj.suite = ?"
            params = (suite,)
        if not self.path.exists():
            return pd.DataFrame()
        with self.connect() as conn:
            table = pd.read_sql_query(query, conn, params=params)
        return table.rename(columns={"model": "model_name", "model_label": "model"})

    def expected_counts(self, suite: str) -> tuple[int, int]:
        """(conditions the suite defines, conditions evaluated) — to flag partial suites."""
        with self.connect() as conn:
            expected = conn.execute(
                "SELECT COUNT(*) FROM suite_conditions WHERE suite = ?", (suite,)
            ).fetchone()[0]
            done = conn.execute(
                "SELECT COUNT(*) FROM suite_conditions sc JOIN conditions c USING (cond_key) "
                "WHERE sc.suite = ?",
                (suite,),
            ).fetchone()[0]
        return expected, done


_IMPORTED_JOBS = "SELECT job_key FROM jobs WHERE json_extract(config, '$.imported') IS NOT NULL"


def _write_shard(conn: sqlite3.Connection, shard: dict[str, Any]) -> None:
    job, train, now = shard["job"], shard.get("train"), time.time()
    provenance = shard.get("provenance") or {}
    failed = shard["status"] != "done"
    existing = conn.execute("SELECT status FROM jobs WHERE job_key = ?", (shard["job_key"],)).fetchone()
    status = "trained" if train is not None or (existing and existing[0] == "trained") else "failed"
    train_info = None
    if train is not None:
        train_info = json.dumps(
            {
                k: v
                for k, v in train.items()
                if k in ("history", "crop_fbr", "patch_size", "n_train", "n_val", "gates")
            }
        )
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
            shard["job_key"],
            job["model"],
            job["dataset"],
            job["complexity"],
            json.dumps(job["patch"]),
            job["seed"],
            job["data_seed"],
            json.dumps(job, sort_keys=True),
            status,
            shard.get("error") if failed else None,
            *(
                _get(train, k)
                for k in ("n_params", "best_epoch", "best_val_dice", "train_seconds", "peak_memory_mb")
            ),
            train_info,
            json.dumps(provenance) if provenance else None,
            provenance.get("device"),
            shard.get("started_at"),
            shard.get("finished_at"),
        ),
    )
    for cond in shard["conditions"]:
        conn.execute(
            "INSERT OR REPLACE INTO conditions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                cond["cond_key"],
                shard["job_key"],
                cond["perturbation"],
                cond["severity"],
                cond["test_complexity"],
                cond["preset"],
                cond.get("test_params"),
                cond["eval_seconds"],
                now,
            ),
        )
        conn.executemany(
            f"INSERT OR REPLACE INTO cases (cond_key, {', '.join(_CASE_COLUMNS)}) "
            f"VALUES (?, {', '.join('?' * len(_CASE_COLUMNS))})",
            [(cond["cond_key"], *(_clean(row.get(c)) for c in _CASE_COLUMNS)) for row in cond["cases"]],
        )
    if failed:
        conn.execute(
            "INSERT INTO failures (job_key, attempt_id, error, at) VALUES (?, ?, ?, ?)",
            (shard["job_key"], shard["attempt_id"], shard.get("error") or "unknown error", now),
        )
    conn.execute("INSERT INTO ingested VALUES (?, ?, ?)", (shard["attempt_id"], shard["job_key"], now))


def _add_missing_case_columns(conn: sqlite3.Connection) -> None:
    """Add per-case columns newer than the database (``CREATE TABLE IF NOT EXISTS`` never does)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(cases)")}
    for name in ("entropy", "disagreement", "tta_variance"):
        if name not in have:
            conn.execute(f"ALTER TABLE cases ADD COLUMN {name} REAL")


def _patch_label(size_json: str | None) -> str:
    """``"full"`` for whole-image training, else the patch size as ``"64x64x64"``."""
    return "full" if not size_json else "x".join(str(s) for s in json.loads(size_json))


def _get(mapping: dict[str, Any] | None, key: str) -> Any:
    return None if mapping is None else _clean(mapping.get(key))


def _clean(value: Any) -> Any:
    """NaN -> NULL (SQLite has no NaN); everything else unchanged."""
    return None if isinstance(value, float) and math.isnan(value) else value
