"""The store's schema, built from the metric table, and its versioned migrations.

Why generated: the ``cases`` table has one column per entry of :data:`segbench.core.METRICS` and
:data:`segbench.core.CASE_META_FIELDS`, so adding a metric is one entry there; on the next write-open
the store adds the column (``ALTER TABLE ... ADD COLUMN``), keeping every row.

Why versioned: ``CREATE TABLE IF NOT EXISTS`` never changes an existing table.  ``PRAGMA user_version``
holds the schema version; :data:`MIGRATIONS` are applied in order, each in the same transaction as the
version bump, so a crash mid-migration leaves the old version intact.  A database made before versions
existed (version 0, tables from the old ``schema.sql``) goes through migration 1 unchanged (its
statements are all ``IF NOT EXISTS``) and then the later ones.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from segbench.core import metrics as _metric_table
from segbench.core.metrics import MetricSpec

__all__ = ["CASE_TEXT_COLUMNS", "MIGRATIONS", "SCHEMA_VERSION", "case_columns", "migrate", "schema_version"]

CASE_TEXT_COLUMNS: tuple[str, ...] = ("meta", "perturbation_params")
"""JSON text columns of ``cases`` after the metric columns."""

_SQL_TYPES = {"real": "REAL", "integer": "INTEGER"}


def case_columns() -> list[MetricSpec]:
    """The metric and case-meta columns of ``cases``, in table order (read at call time)."""
    specs = [*_metric_table.METRICS, *_metric_table.CASE_META_FIELDS]
    bad = [m.name for m in specs if not m.name.isidentifier() or m.dtype not in _SQL_TYPES]
    if bad:  # names go into DDL: refuse anything that is not a plain identifier
        raise ValueError(f"metric table entries {bad} need an identifier name and dtype real/integer")
    return specs


def _base_ddl() -> list[str]:
    metric_cols = ",\n    ".join(f"{m.name} {_SQL_TYPES[m.dtype]}" for m in case_columns())
    return [
        """CREATE TABLE IF NOT EXISTS suites (
    name        TEXT PRIMARY KEY,
    path        TEXT,
    yaml        TEXT NOT NULL,
    updated_at  REAL NOT NULL
)""",
        # which jobs/conditions the latest definition of a suite contains (a job may serve several suites)
        """CREATE TABLE IF NOT EXISTS suite_jobs (
    suite        TEXT NOT NULL REFERENCES suites(name) ON DELETE CASCADE,
    job_key      TEXT NOT NULL,
    model_label  TEXT NOT NULL,
    PRIMARY KEY (suite, job_key, model_label)
)""",
        """CREATE TABLE IF NOT EXISTS suite_conditions (
    suite     TEXT NOT NULL REFERENCES suites(name) ON DELETE CASCADE,
    cond_key  TEXT NOT NULL,
    PRIMARY KEY (suite, cond_key)
)""",
        """CREATE TABLE IF NOT EXISTS jobs (
    job_key         TEXT PRIMARY KEY,
    model           TEXT NOT NULL,
    dataset         TEXT NOT NULL,
    complexity      REAL,
    patch           TEXT NOT NULL,
    seed            INTEGER NOT NULL,
    data_seed       INTEGER NOT NULL,
    config          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('trained', 'failed')),
    error           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    n_params        INTEGER,
    best_epoch      INTEGER,
    best_val_dice   REAL,
    train_seconds   REAL,
    peak_memory_mb  REAL,
    train_info      TEXT,
    provenance      TEXT,
    device          TEXT,
    started_at      REAL,
    finished_at     REAL
)""",
        """CREATE TABLE IF NOT EXISTS conditions (
    cond_key         TEXT PRIMARY KEY,
    job_key          TEXT NOT NULL REFERENCES jobs(job_key),
    perturbation     TEXT NOT NULL,
    severity         INTEGER NOT NULL,
    test_complexity  REAL,
    preset           TEXT,
    test_params      TEXT,
    eval_seconds     REAL,
    evaluated_at     REAL NOT NULL
)""",
        f"""CREATE TABLE IF NOT EXISTS cases (
    cond_key             TEXT NOT NULL REFERENCES conditions(cond_key),
    case_id              TEXT NOT NULL,
    {metric_cols},
    meta                 TEXT,
    perturbation_params  TEXT,
    PRIMARY KEY (cond_key, case_id)
)""",
        """CREATE TABLE IF NOT EXISTS failures (
    id          INTEGER PRIMARY KEY,
    job_key     TEXT NOT NULL,
    attempt_id  TEXT NOT NULL,
    error       TEXT NOT NULL,
    at          REAL NOT NULL
)""",
        # makes ingestion idempotent: a shard re-read after a crash is skipped
        """CREATE TABLE IF NOT EXISTS ingested (
    attempt_id  TEXT PRIMARY KEY,
    job_key     TEXT NOT NULL,
    at          REAL NOT NULL
)""",
    ]


def _v1_base(conn: sqlite3.Connection) -> None:
    for statement in _base_ddl():
        conn.execute(statement)


def _v2_indexes_and_shard_version(conn: sqlite3.Connection) -> None:
    # conditions are looked up by job (cases query, trained-job checks); failures by job (report)
    conn.execute("CREATE INDEX IF NOT EXISTS conditions_by_job ON conditions(job_key)")
    conn.execute("CREATE INDEX IF NOT EXISTS failures_by_job ON failures(job_key)")
    # which shard layout each attempt came from (1 = untyped dict), for rebuilds and audits
    if "shard_version" not in _columns(conn, "ingested"):
        conn.execute("ALTER TABLE ingested ADD COLUMN shard_version INTEGER")


MIGRATIONS: tuple[tuple[int, Callable[[sqlite3.Connection], None]], ...] = (
    (1, _v1_base),
    (2, _v2_indexes_and_shard_version),
)
"""(version, step) in order; a step brings the schema from the previous version to ``version``."""

SCHEMA_VERSION = MIGRATIONS[-1][0]


class SchemaTooNew(RuntimeError):
    """The database was written by a newer segbench."""


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Bring ``conn``'s database to :data:`SCHEMA_VERSION` and add missing metric columns.

    Runs in one ``BEGIN IMMEDIATE`` transaction (the connection must be in autocommit mode,
    ``isolation_level=None``).

    Returns:
        What changed (``"v2"``, ``"cases.newmetric"``, ...); empty when nothing did.

    Raises:
        SchemaTooNew: the database's version is above :data:`SCHEMA_VERSION`.
    """
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"schema version {version} is newer than this segbench's {SCHEMA_VERSION}; upgrade segbench"
        )
    missing = [m for m in case_columns() if m.name not in _columns(conn, "cases")]
    if version == SCHEMA_VERSION and not missing:
        return []
    changed = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for target, step in MIGRATIONS:
            if version < target:
                step(conn)
                changed.append(f"v{target}")
        present = _columns(conn, "cases")
        for spec in case_columns():
            if spec.name not in present:
                conn.execute(f"ALTER TABLE cases ADD COLUMN {spec.name} {_SQL_TYPES[spec.dtype]}")
                changed.append(f"cases.{spec.name}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return changed


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
