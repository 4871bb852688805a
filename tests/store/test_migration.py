"""Versioned schema: a database made by the previous schema (``schema_v1.sql``) migrates and keeps its rows;
a metric added to the metric table becomes a column on the next write-open and an export column."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from segbench.core import metrics as metric_table
from segbench.core.metrics import MetricSpec
from segbench.shards import write_shard
from segbench.store import Store
from segbench.store.schema import SCHEMA_VERSION

LEGACY_DDL = Path(__file__).with_name("schema_v1.sql")


def make_legacy_db(results: Path) -> Path:
    """A store as the pre-versioned code wrote it: its DDL verbatim, one suite with one evaluated case."""
    results.mkdir(parents=True, exist_ok=True)
    db = results / "segbench.sqlite"
    with sqlite3.connect(db) as conn:
        conn.executescript(LEGACY_DDL.read_text())
        conn.execute("INSERT INTO suites VALUES ('old', 'old.yaml', 'name: old', 1.0)")
        conn.execute("INSERT INTO suite_jobs VALUES ('old', 'jobOld', 'unet')")
        conn.execute("INSERT INTO suite_conditions VALUES ('old', 'jobOld:none')")
        conn.execute(
            "INSERT INTO jobs (job_key, model, dataset, complexity, patch, seed, data_seed, config, status, "
            "attempts, train_info) VALUES ('jobOld', 'unet', 'textures2d', 0.2, '\"full\"', 1, 0, '{}', "
            "'trained', 1, '{\"patch_size\": null}')"
        )
        conn.execute(
            "INSERT INTO conditions VALUES ('jobOld:none', 'jobOld', 'none', 0, NULL, NULL, NULL, 0.1, 2.0)"
        )
        conn.execute(
            "INSERT INTO cases (cond_key, case_id, dice, hd95, nsd, tp, fp, fn, n_ref, n_pred) "
            "VALUES ('jobOld:none', 'c0', 0.75, 2.0, 0.9, 3, 1, 1, 4, 4)"
        )
        conn.execute("INSERT INTO ingested VALUES ('att0', 'jobOld', 2.0)")
    return db


def test_legacy_database_reads_without_migrating(results: Path) -> None:
    db = make_legacy_db(results)
    before = db.read_bytes()
    cases = Store(results).cases("old")
    assert cases["dice"].tolist() == [0.75] and cases["model"].tolist() == ["unet"]
    assert db.read_bytes() == before  # a read never migrates


def test_legacy_database_migrates_on_write_and_keeps_rows(results: Path, shards) -> None:
    db = make_legacy_db(results)
    store = Store(results)
    store.ingest(write_shard(results, shards(job_key="jobNew")))
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT attempt_id, shard_version FROM ingested ORDER BY at").fetchall()[0] == (
            "att0",
            None,
        )
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"conditions_by_job", "failures_by_job"} <= indexes
    old = store.cases("old")
    assert old[["case_id", "dice", "tp"]].to_dict("records") == [{"case_id": "c0", "dice": 0.75, "tp": 3}]
    assert store.trained_jobs() == {"jobOld", "jobNew"}
    # migrating again is a no-op
    Store(results).ingest(write_shard(results, shards(job_key="jobNew2")))
    assert len(Store(results).done_conditions()) == 3


def test_a_new_metric_is_one_table_entry(
    results: Path, shards, monkeypatch: pytest.MonkeyPatch, fake_jobs
) -> None:
    store = Store(results)
    store.record_suite("s", "x", results / "s.yaml", fake_jobs(("jobA", "unet")))
    store.ingest(write_shard(results, shards(job_key="jobA")))
    extra = MetricSpec("assd", "real", "lower", "mm", "ASSD", score=True)
    monkeypatch.setattr(metric_table, "METRICS", (*metric_table.METRICS, extra))
    raw = shards(job_key="jobB")
    for case in raw["conditions"][0]["cases"]:
        case["assd"] = 0.5
    store = Store(results)
    store.record_suite("s", "x", results / "s.yaml", fake_jobs(("jobA", "unet"), ("jobB", "unet2")))
    store.ingest(write_shard(results, raw))
    cases = store.cases("s").set_index(["job_key", "case_id"])
    assert cases.loc[("jobB", "c1"), "assd"] == 0.5
    assert pd.isna(cases.loc[("jobA", "c1"), "assd"])  # the old rows are kept, the new column is NULL

    from segbench.report.exports import case_columns

    assert "assd" in case_columns()
