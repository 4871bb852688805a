"""The SQLite results store: ingest shards, record suites, query per-case tables.

Why SQLite: one file, transactional, stdlib.  Only the parent process writes, one transaction per
shard, and ingestion is idempotent (``ingested`` table), so a crash at any point loses nothing and
duplicates nothing.

Reading and writing are separate on purpose:

* **reads** (``report``, ``run --dry-run``, ``check``, the plan) open ``mode=ro``: no WAL switch, no DDL,
  no migration, so they work on a read-only results folder and never change the database (SQLite may
  add its empty ``-wal``/``-shm`` index files beside a WAL database); a missing database reads as empty;
* **writes** (ingest, record a suite, rebuild) switch to WAL and migrate the schema
  (:mod:`segbench.store.schema`);
* the first connection of each :class:`Store`, read or write, runs ``PRAGMA quick_check`` (milliseconds
  for a typical store), so page corruption is an error, not a wrong table.

Every SQLite failure becomes a one-line :class:`StoreError` naming the file: corrupt or truncated
(suggests ``segbench store rebuild``), disk full, read-only.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segbench.core.records import RecordError, ShardRecord, SuiteRecord
from segbench.shards import (
    atomic_write_bytes,
    ingested_dir,
    pending_shards,
    quarantine,
    read_shard,
    write_suite_record,
)
from segbench.store.ingest import write_shard_rows
from segbench.store.schema import SchemaTooNew, migrate

if TYPE_CHECKING:
    import pandas as pd

    from segbench.store.read import StoredSuite

__all__ = ["DB_NAME", "Store", "StoreError", "SuiteConflict"]

DB_NAME = "segbench.sqlite"


class StoreError(RuntimeError):
    """The database cannot be used (corrupt, full, read-only, newer); a one-line message naming it."""


class SuiteConflict(StoreError):
    """Another suite file already uses this suite name in the store."""


class Store:
    """A results folder: ``segbench.sqlite`` plus shards and checkpoints beside it.

    Args:
        results: the results folder.

    Attributes:
        warnings: one line per shard quarantined (or that would be) by this instance.
    """

    def __init__(self, results: str | Path) -> None:
        self.results = Path(results)
        self.path = self.results / DB_NAME
        self.warnings: list[str] = []
        self._checked = False

    # -- connections -------------------------------------------------------------------------
    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A write connection (autocommit; use :meth:`_transaction`), schema checked and migrated."""
        try:
            self.results.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the results folder {self.results}: {exc.strerror}") from None
        self._refuse_empty_file()
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            if not self._checked:
                self._quick_check(conn)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn)
            self._checked = True
            yield conn
        except sqlite3.Error as exc:
            raise self._error(exc, writing=True) from None
        except SchemaTooNew as exc:
            raise StoreError(f"{self.path}: {exc}") from None
        finally:
            if conn is not None:
                conn.close()

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection | None]:
        """A read-only connection, or None when there is no database yet.

        Opened with ``mode=ro`` (nothing is created or changed); when the folder itself is not
        writable SQLite cannot use the WAL index, so the file is opened ``immutable`` instead (no
        writer can exist then).
        """
        if not self.path.exists():
            yield None
            return
        self._refuse_empty_file()
        conn: sqlite3.Connection | None = None
        try:
            immutable = not os.access(self.results, os.W_OK)
            conn = _open_ro(self.path, immutable)
            try:
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError as exc:
                # a WAL database in a folder where its index files cannot be created; anything else
                # (busy, corrupt) is a real error, and immutable reads would hide a writer's commits
                if immutable or "unable to open" not in str(exc):
                    raise
                conn.close()
                conn = _open_ro(self.path, True)
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            if not self._checked:  # page corruption must not reach a report as wrong numbers
                self._quick_check(conn)
                self._checked = True
            yield conn
        except sqlite3.Error as exc:
            raise self._error(exc, writing=False) from None
        finally:
            if conn is not None:
                conn.close()

    # -- writing -------------------------------------------------------------------------------
    def suite_conflict(self, name: str, yaml_text: str, path: str | Path) -> str | None:
        """Why recording suite ``name`` from ``path`` would orphan another file's results, or None.

        A conflict is a stored suite of that name from a *different* file with *different* YAML.
        Editing one's own suite file (same path) and running a verbatim copy (same YAML) are fine.
        """
        with self.reading() as conn:
            if conn is None or not _has_table(conn, "suites"):
                return None
            row = conn.execute("SELECT path, yaml FROM suites WHERE name = ?", (name,)).fetchone()
        if row is None or row[1] == yaml_text or _same_file(row[0], path):
            return None
        return (
            f"suite name {name!r} is already used in {self.results} by {row[0]}, whose content differs "
            f"from {path}; give this suite another 'name:' or rerun with --replace to make {path} "
            f"the suite {name!r} (results of the old file's jobs stay stored but leave its report)"
        )

    def record_suite(
        self, name: str, yaml_text: str, path: str | Path, jobs: Iterable[Any], replace: bool = False
    ) -> None:
        """Remember a suite's definition and which jobs/conditions it contains.

        Raises:
            SuiteConflict: another file already uses ``name`` (see :meth:`suite_conflict`) and
                ``replace`` is False.
        """
        if not replace and (problem := self.suite_conflict(name, yaml_text, path)):
            raise SuiteConflict(problem)
        jobs = list(jobs)
        record = SuiteRecord(
            name=name,
            path=str(Path(path).resolve()),
            yaml=yaml_text,
            jobs=sorted({(job.key, job.model.display) for job in jobs}),
            conditions=sorted({job.condition_key(c) for job in jobs for c in job.conditions}),
            updated_at=time.time(),
        )
        self._write_suite(record)
        try:
            write_suite_record(self.results, record)
        except OSError as exc:
            raise StoreError(_os_message("cannot write the suite record", exc)) from None

    def _write_suite(self, record: SuiteRecord) -> None:
        with self.connect() as conn, _transaction(conn):
            conn.execute(
                "INSERT INTO suites(name, path, yaml, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET path=excluded.path, yaml=excluded.yaml, "
                "updated_at=excluded.updated_at",
                (record.name, record.path, record.yaml, record.updated_at or time.time()),
            )
            # Imported models (segbench import) are not in the suite file: keep their membership.
            conn.execute(
                f"DELETE FROM suite_jobs WHERE suite = ? AND job_key NOT IN ({_IMPORTED_JOBS})",
                (record.name,),
            )
            conn.execute(
                "DELETE FROM suite_conditions WHERE suite = ? AND cond_key NOT IN "
                f"(SELECT cond_key FROM conditions WHERE job_key IN ({_IMPORTED_JOBS}))",
                (record.name,),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO suite_jobs VALUES (?, ?, ?)",
                [(record.name, key, label) for key, label in record.jobs],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO suite_conditions VALUES (?, ?)",
                [(record.name, key) for key in record.conditions],
            )

    def ingest(self, shard_path: Path, archive: bool = True) -> ShardRecord | None:
        """Commit one shard in a single transaction and archive it (``shards/ingested/``).

        Returns:
            The shard, or None when it had already been ingested.

        Raises:
            RecordError: the file is not a readable shard (callers quarantine it).
            StoreError: the database or the shard folder cannot be written.
        """
        shard = read_shard(shard_path)
        with self.connect() as conn, _transaction(conn):
            seen = conn.execute("SELECT 1 FROM ingested WHERE attempt_id = ?", (shard.attempt_id,)).fetchone()
            if not seen:
                write_shard_rows(conn, shard)
        if archive:
            target = ingested_dir(self.results) / shard_path.name
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                shard_path.replace(target)
            except FileNotFoundError:
                pass  # already archived (e.g. by a rebuild); the database holds it either way
            except OSError as exc:
                raise StoreError(_os_message(f"cannot archive shard {shard_path}", exc)) from None
        return None if seen else shard

    def ingest_pending(self) -> int:
        """Ingest shards left by an interrupted run; unreadable ones are quarantined with a warning.

        Returns:
            How many shards were new.
        """
        new = 0
        for path in pending_shards(self.results):
            try:
                new += self.ingest(path) is not None
            except RecordError as exc:
                self.quarantine(path, str(exc))
        return new

    def quarantine(self, path: Path, reason: str) -> None:
        """Move an unreadable shard aside and add a warning naming both places."""
        try:
            moved = quarantine(self.results, path)
        except OSError as exc:
            self.warnings.append(f"{reason}; could not quarantine it ({exc.strerror}): remove it by hand")
            return
        self.warnings.append(f"{reason}; moved to {moved}")

    def ingest_imported(self, suite: str, suite_yaml: str, label: str, shards: list[dict[str, Any]]) -> None:
        """Store an external model's rows (``segbench import``) as members of ``suite``, in one
        transaction: rows of an earlier import under ``label`` are replaced, nothing is half-stored.

        Each shard is validated as a :class:`ShardRecord` and archived in ``shards/ingested/`` *before*
        the rows are committed (so ``segbench store rebuild`` restores imported models too): a failed
        archive stores nothing, and a crash between the two leaves a replayable record, never rows
        that a rebuild would drop.

        Raises:
            RecordError: a shard does not validate (nothing is stored).
            StoreError: the archive cannot be written (nothing is stored).
        """
        records = [
            ShardRecord.from_dict(raw, f"imported shard {i} of {label!r}") for i, raw in enumerate(shards)
        ]
        archived: list[Path] = []
        try:
            for record in records:
                target = ingested_dir(self.results) / record.filename
                atomic_write_bytes(target, record.to_json().encode())
                archived.append(target)
            with self.connect() as conn, _transaction(conn):
                conn.execute(
                    "INSERT OR IGNORE INTO suites(name, path, yaml, updated_at) VALUES (?, ?, ?, ?)",
                    (suite, None, suite_yaml, time.time()),
                )
                _forget_import(conn, suite, label)
                for record in records:
                    write_shard_rows(conn, record)
                    _add_import_membership(conn, suite, label, record)
        except BaseException as exc:
            for path in archived:  # nothing committed: no record may replay it later
                path.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise StoreError(
                    _os_message("cannot archive the imported rows; nothing was stored", exc)
                ) from None
            raise

    def model_names(self, suite: str) -> dict[str, str]:
        """Model label -> model name (``imported`` for imported models) of a stored suite."""
        with self.reading() as conn:
            if conn is None or not _has_table(conn, "suite_jobs"):
                return {}
            rows = conn.execute(
                "SELECT sj.model_label, j.model FROM suite_jobs sj JOIN jobs j USING (job_key) "
                "WHERE sj.suite = ?",
                (suite,),
            ).fetchall()
        return dict(rows)

    # -- reading -------------------------------------------------------------------------------
    def peek_pending(self) -> tuple[set[str], set[str]]:
        """(trained job keys, evaluated condition keys) in shards not yet ingested, read without moving.

        Why: ``run --dry-run`` is read-only yet must plan as the next run will, after it ingests them.
        Unreadable shards add a warning (the next ``run`` quarantines them).
        """
        trained, done = set(), set()
        for path in pending_shards(self.results):
            try:
                shard = read_shard(path)
            except RecordError as exc:
                self.warnings.append(f"{exc}; the next run moves it to shards/quarantine/")
                continue
            if shard.train is not None:
                trained.add(shard.job_key)
            done.update(c.cond_key for c in shard.conditions)
        return trained, done

    def done_conditions(self) -> set[str]:
        return self._column_set("SELECT cond_key FROM conditions", "conditions")

    def trained_jobs(self) -> set[str]:
        return self._column_set("SELECT job_key FROM jobs WHERE status = 'trained'", "jobs")

    def suites(self) -> list[str]:
        with self.reading() as conn:
            if conn is None or not _has_table(conn, "suites"):
                return []
            return [row[0] for row in conn.execute("SELECT name FROM suites ORDER BY name")]

    def suite_yaml(self, name: str) -> str | None:
        with self.reading() as conn:
            if conn is None or not _has_table(conn, "suites"):
                return None
            row = conn.execute("SELECT yaml FROM suites WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def read_suite(self, name: str) -> StoredSuite:
        """What the report reads of suite ``name``: its YAML and the jobs' JSON parsed once (:mod:`.read`)."""
        from segbench.store.read import StoredSuite, SuiteDefinition, typed_jobs

        expected, done = self.expected_counts(name)
        definition = SuiteDefinition.parse(self.suite_yaml(name) or "", name)
        return StoredSuite(definition, self.cases(name), typed_jobs(self.jobs(name)), expected, done)

    def cases(self, suite: str | None = None) -> pd.DataFrame:
        """The long per-case table (one row per model x condition x case) of a suite."""
        import pandas as pd  # lazy: `segbench run` on a finished suite needs no pandas

        query = """
            SELECT sj.suite, sj.model_label AS model, j.model AS model_name, j.dataset,
                   COALESCE(json_extract(j.config, '$.dataset_label'), j.dataset) AS dataset_label,
                   j.complexity,
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
        with self.reading() as conn:
            if conn is None or not _has_table(conn, "cases"):
                return pd.DataFrame()
            table = _read_sql(self, conn, query, params)
        table.insert(5, "patch", table.pop("patch_size").map(_patch_label))
        return table

    def jobs(self, suite: str | None = None) -> pd.DataFrame:
        """One row per train job (status, provenance, timings) of a suite.

        ``status`` is the suite's view: a job another suite shares, trained, whose latest attempt failed
        in *evaluation* reads ``trained`` in a suite that has every one of its conditions evaluated (the
        failure belongs to the suite whose conditions are missing, not to a finished one).
        """
        import pandas as pd  # lazy: `segbench run` on a finished suite needs no pandas

        query = (
            "SELECT sj.suite, sj.model_label, j.*, "
            "COALESCE(json_extract(j.config, '$.dataset_label'), j.dataset) AS dataset_label, "
            "CASE WHEN j.status = 'failed' AND j.n_params IS NOT NULL AND NOT EXISTS ("
            "  SELECT 1 FROM suite_conditions sc LEFT JOIN conditions c ON c.cond_key = sc.cond_key "
            "  WHERE sc.suite = sj.suite AND c.cond_key IS NULL"
            ") THEN 'trained' ELSE j.status END AS suite_status "
            "FROM suite_jobs sj JOIN jobs j USING (job_key)"
        )
        params: tuple[Any, ...] = ()
        if suite is not None:
            query += " WHERE sj.suite = ?"
            params = (suite,)
        with self.reading() as conn:
            if conn is None or not _has_table(conn, "jobs"):
                return pd.DataFrame()
            table = _read_sql(self, conn, query, params)
        table["status"] = table.pop("suite_status")
        return table.rename(columns={"model": "model_name", "model_label": "model"})

    def expected_counts(self, suite: str) -> tuple[int, int]:
        """(conditions the suite defines, conditions evaluated) — to flag partial suites."""
        with self.reading() as conn:
            if conn is None or not _has_table(conn, "suite_conditions"):
                return 0, 0
            expected = conn.execute(
                "SELECT COUNT(*) FROM suite_conditions WHERE suite = ?", (suite,)
            ).fetchone()[0]
            done = conn.execute(
                "SELECT COUNT(*) FROM suite_conditions sc JOIN conditions c USING (cond_key) "
                "WHERE sc.suite = ?",
                (suite,),
            ).fetchone()[0]
        return expected, done

    # -- helpers -------------------------------------------------------------------------------
    def _column_set(self, query: str, table: str) -> set[str]:
        with self.reading() as conn:
            if conn is None or not _has_table(conn, table):
                return set()
            return {row[0] for row in conn.execute(query)}

    def _refuse_empty_file(self) -> None:
        if self.path.is_dir() or (self.path.exists() and not self.path.is_file()):
            raise StoreError(
                f"{self.path} is not a file (a folder or a special file where the results database "
                "should be); move it aside, then 'segbench store rebuild' recreates the database"
            )
        # SQLite treats a 0-byte file as a new database: that would silently drop every result
        if self.path.exists() and self.path.stat().st_size == 0:
            raise StoreError(
                f"{self.path} is empty (0 bytes): the results database was truncated; recreate it from "
                f"the archived shards with 'segbench store rebuild --results {self.results}'"
            )

    def _quick_check(self, conn: sqlite3.Connection) -> None:
        rows = conn.execute("PRAGMA quick_check").fetchall()
        if rows != [("ok",)]:
            problems = [line for row in rows for line in str(row[0]).splitlines() if line.strip()]
            first = problems[0] if problems else "quick_check failed"
            detail = (first[:100] + "...") if len(first) > 100 else first
            if len(problems) > 1:
                detail += f"; {len(problems) - 1} more problems"
            raise StoreError(self._corrupt(f"quick_check: {detail}"))

    def _corrupt(self, detail: str) -> str:
        return (
            f"{self.path} is corrupt ({detail}); recreate it from the archived shards with "
            f"'segbench store rebuild --results {self.results}' (the damaged file is kept aside)"
        )

    def _error(self, exc: sqlite3.Error, writing: bool) -> StoreError:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        lowered = text.lower()
        if "full" in lowered:
            return StoreError(f"cannot write {self.path}: the disk is full ({text}); free space and rerun")
        if "readonly" in lowered or "read-only" in lowered:
            return StoreError(
                f"cannot write {self.path}: it is read-only ({text}); make {self.results} writable "
                "(read-only commands such as 'segbench report' still work)"
            )
        if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
            return StoreError(self._corrupt(text))
        if "locked" in lowered or "busy" in lowered:
            return StoreError(f"{self.path} is locked by another process ({text}); retry when it is done")
        verb = "write" if writing else "read"
        return StoreError(f"cannot {verb} {self.path}: {text}")


_IMPORTED_JOBS = "SELECT job_key FROM jobs WHERE json_extract(config, '$.imported') IS NOT NULL"


def _forget_import(conn: sqlite3.Connection, suite: str, label: str) -> None:
    """Drop an earlier import under ``label`` from ``suite`` (its rows stay, unreferenced)."""
    earlier = (
        "SELECT job_key FROM suite_jobs WHERE suite = ? AND model_label = ? "
        f"AND job_key IN ({_IMPORTED_JOBS})"
    )
    conn.execute(
        "DELETE FROM suite_conditions WHERE suite = ? AND cond_key IN "
        f"(SELECT cond_key FROM conditions WHERE job_key IN ({earlier}))",
        (suite, suite, label),
    )
    conn.execute(f"DELETE FROM suite_jobs WHERE suite = ? AND job_key IN ({earlier})", (suite, suite, label))


def _add_import_membership(conn: sqlite3.Connection, suite: str, label: str, shard: ShardRecord) -> None:
    conn.execute("INSERT OR IGNORE INTO suite_jobs VALUES (?, ?, ?)", (suite, shard.job_key, label))
    conn.executemany(
        "INSERT OR IGNORE INTO suite_conditions VALUES (?, ?)",
        [(suite, c.cond_key) for c in shard.conditions],
    )


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:  # SQLite already rolled back after e.g. a full disk: keep that error
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _open_ro(path: Path, immutable: bool) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    return sqlite3.connect(uri, uri=True, timeout=60)


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    query = "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?"
    return conn.execute(query, (name,)).fetchone() is not None


def _read_sql(store: Store, conn: sqlite3.Connection, query: str, params: tuple[Any, ...]) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_sql_query(query, conn, params=params)
    except pd.errors.DatabaseError as exc:  # pandas wraps sqlite3 errors
        cause = exc.__cause__ if isinstance(exc.__cause__, sqlite3.Error) else sqlite3.DatabaseError(str(exc))
        raise store._error(cause, writing=False) from None


def _patch_label(size_json: str | None) -> str:
    """``"full"`` for whole-image training, else the patch size as ``"64x64x64"``."""
    # pandas reads SQL NULL as NaN when the column also holds text (full + patch jobs in one suite).
    return "full" if not isinstance(size_json, str) else "x".join(str(s) for s in json.loads(size_json))


def _same_file(stored: str | None, path: str | Path) -> bool:
    if not stored:
        return False
    try:
        return Path(stored).resolve() == Path(path).resolve()
    except OSError:
        return False


def _os_message(what: str, exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    hint = "free space and rerun" if exc.errno == 28 else "check that the folder is writable"
    return f"{what}: {reason}; {hint}"
