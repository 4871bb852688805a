"""A damaged store or shard folder gives one clear line, never a traceback, a false pass or a silent reset.

Stores are hand-built (no training); ``report`` and ``run --dry-run`` are driven through the CLI.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from faults import cli, corrupt_pages, garbage_shard, garble, seed_store, tiny_suite_text, truncate

from segbench.cli import main
from segbench.shards import ingested_dir, quarantine_dir, shard_dir
from segbench.store import Store

TINY = tiny_suite_text()


def _invoke(*args: str | Path):
    return CliRunner().invoke(main, [str(a) for a in args])


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, except SQLite's own (empty) WAL index files that a reader may add."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(("-shm", "-wal"))
    }


def _one_line_error(out, *needles: str) -> str:
    assert out.exit_code == 2, out.output
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    lines = out.output.strip().splitlines()
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda db: db.write_bytes(b""), "is empty (0 bytes)"),
        (lambda db: truncate(db, 1500), "is corrupt"),
        (lambda db: garble(db, 0, 100), "is corrupt"),
        (corrupt_pages, "is corrupt"),
    ],
    ids=["zero-bytes", "truncated", "garbled-header", "page-corruption"],
)
def test_damaged_database_report_and_run_fail_in_one_line_suggesting_rebuild(
    tmp_path: Path, damage, needle: str, write_suite
) -> None:
    results = tmp_path / "results"
    seed_store(results)
    damage(results / "segbench.sqlite")
    _one_line_error(
        _invoke("report", "--results", results, "--out", tmp_path / "out"), needle, "store rebuild"
    )
    suite = write_suite(TINY, "ci")
    _one_line_error(_invoke("run", suite, "--results", results, "--dry-run"), needle, "store rebuild")
    with pytest.raises(Exception, match="store rebuild"):  # the write path checks too (quick_check)
        Store(results).record_suite("ci", TINY, suite, [])


def test_rebuild_recovers_a_truncated_database_and_keeps_the_old_one(tmp_path: Path) -> None:
    results = tmp_path / "results"
    before = seed_store(results).cases("ci")
    truncate(results / "segbench.sqlite", 1500)
    out = _invoke("store", "rebuild", "--results", results)
    assert out.exit_code == 0, out.output
    assert "from 2 shards and 1 suite records" in out.output and "segbench.sqlite.old-" in out.output
    after = Store(results).cases("ci")
    assert after[["model", "case_id", "dice"]].equals(before[["model", "case_id", "dice"]])
    kept = [p for p in results.glob("segbench.sqlite.old-*") if not p.name.endswith(("-wal", "-shm"))]
    assert len(kept) == 1 and kept[0].stat().st_size == 1500


def test_report_and_dry_run_are_read_only(tmp_path: Path, write_suite) -> None:
    results = tmp_path / "results"
    suite = write_suite(TINY, "ci")
    seed_store(results, yaml_text=TINY, suite_path=suite)
    garbage_shard(results)
    before = _snapshot(results)
    out = _invoke("report", "--results", results, "--out", tmp_path / "out")
    assert out.exit_code == 0, out.output
    dry = _invoke("run", suite, "--results", results, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "deadbeef-00000000.json" in dry.output and "quarantine" in dry.output  # warned, not moved
    assert _snapshot(results) == before
    # the same name from another file with other content is refused before anything runs
    other = write_suite(TINY.replace("seeds: [1]", "seeds: [2]"), "other")
    _one_line_error(_invoke("run", other, "--results", results, "--dry-run"), "already used", "--replace")
    assert _invoke("run", other, "--results", results, "--dry-run", "--replace").exit_code == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_report_works_on_a_read_only_results_folder(tmp_path: Path) -> None:
    results = tmp_path / "results"
    seed_store(results)
    with sqlite3.connect(results / "segbench.sqlite") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for path in (results / "segbench.sqlite", results):
        path.chmod(0o555)
    try:
        out = _invoke("report", "--results", results, "--out", tmp_path / "out")
        assert out.exit_code == 0, out.output
    finally:
        results.chmod(0o755)


def test_missing_database_reads_as_empty_and_creates_nothing(tmp_path: Path) -> None:
    results = tmp_path / "results"
    out = _invoke("report", "--results", results, "--out", tmp_path / "out")
    _one_line_error(out, "no results in")
    assert not results.exists()


def test_rebuild_of_a_folder_that_is_not_a_results_folder_creates_nothing(tmp_path: Path) -> None:
    results = tmp_path / "typo"
    _one_line_error(_invoke("store", "rebuild", "--results", results), str(results), "nothing to rebuild")
    assert not results.exists()


def test_export_into_a_file_is_one_line(tmp_path: Path, write_suite) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the export folder goes")
    suite = write_suite(TINY, "faults")
    _one_line_error(_invoke("export", suite, "--out", blocker / "x", "--format", "png"), "in the way")


def test_report_output_conflict_is_one_line(tmp_path: Path) -> None:
    results, out_dir = tmp_path / "results", tmp_path / "out"
    seed_store(results)
    out_dir.mkdir()
    (out_dir / "ci").write_text("a file where the suite's folder goes")
    _one_line_error(
        _invoke("report", "--results", results, "--out", out_dir), str(out_dir / "ci"), "in the way"
    )


def test_garbage_shard_is_quarantined_by_the_next_writer(tmp_path: Path) -> None:
    results = tmp_path / "results"
    store = seed_store(results)
    bad = garbage_shard(results, content=b"\x00" * 64)
    assert store.ingest_pending() == 0
    assert (quarantine_dir(results) / bad.name).exists() and not bad.exists()
    assert str(bad) in store.warnings[0] and "not UTF-8" not in store.warnings[0]
    assert len(list(ingested_dir(results).iterdir())) == 2 and list(shard_dir(results).glob("*.json")) == []


@pytest.mark.slow
def test_damaged_database_from_the_real_commands(tmp_path: Path) -> None:
    results = tmp_path / "results"
    seed_store(results)
    garble(results / "segbench.sqlite", 0, 100)
    report = cli("report", "--results", results, "--out", tmp_path / "out")
    assert report.returncode == 2 and "Traceback" not in report.stderr and "store rebuild" in report.stderr
    rebuilt = cli("store", "rebuild", "--results", results)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert cli("report", "--results", results, "--out", tmp_path / "out").returncode == 0


def test_unwritable_folder_is_read_immutable_without_creating_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root ignores permissions, so the read-only folder is simulated where the store asks about it.
    results = tmp_path / "results"
    seed_store(results)
    for extra in results.glob("segbench.sqlite-*"):
        extra.unlink()
    monkeypatch.setattr("segbench.store.db.os.access", lambda path, mode: False)
    cases = Store(results).cases("ci")
    assert len(cases) == 8 and sorted(p.name for p in results.iterdir()) == ["segbench.sqlite", "shards"]


def test_full_disk_while_ingesting_is_one_line_and_keeps_the_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faults import ShardFactory

    from segbench.store import StoreError

    results = tmp_path / "results"
    seed_store(results)
    real_connect = sqlite3.connect

    class FullDisk(sqlite3.Connection):
        """Raises what SQLite raises with SQLITE_FULL when the case rows are written."""

        def executemany(self, sql, rows):
            if "INTO cases" in sql:
                raise sqlite3.OperationalError("database or disk is full")
            return super().executemany(sql, rows)

    def full_disk(*args, **kwargs):
        return real_connect(*args, factory=FullDisk, **kwargs)

    monkeypatch.setattr("segbench.store.db.sqlite3.connect", full_disk)
    big = ShardFactory().write(results, job_key="big", dice=(0.5, 0.6))
    with pytest.raises(StoreError, match=r"the disk is full .*free space and rerun") as info:
        Store(results).ingest(big)
    assert "\n" not in str(info.value) and big.exists()  # not archived
    assert "big" not in Store(results).trained_jobs()  # the transaction rolled back: nothing half-written
    monkeypatch.undo()
    assert Store(results).ingest_pending() == 1


def test_unwritable_shard_folder_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faults import ShardFactory

    from segbench.store import StoreError

    results = tmp_path / "results"
    shard = ShardFactory().write(results)

    def refuse(self, target):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "replace", refuse)
    with pytest.raises(StoreError, match=r"cannot archive shard .*Permission denied; check that the folder"):
        Store(results).ingest(shard)


def test_report_out_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    results, out_file = tmp_path / "results", tmp_path / "out.html"
    seed_store(results)
    out_file.write_text("not a folder")
    _one_line_error(_invoke("report", "--results", results, "--out", out_file), "it is a file", "--out")
