"""Fast store tests on hand-built shards: ingest, idempotency, failures, queries, quarantine, rebuild."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from segbench.shards import ingested_dir, pending_shards, quarantine_dir, shard_dir
from segbench.store import Store, StoreError, SuiteConflict, rebuild_database
from segbench.store.schema import SCHEMA_VERSION


def _rows(store: Store, query: str) -> list[tuple]:
    with sqlite3.connect(store.path) as conn:
        return conn.execute(query).fetchall()


def test_ingest_stores_cases_archives_and_is_idempotent(shards, results: Path, fake_jobs) -> None:
    store = Store(results)
    path = shards.write(results, dice=(float("nan"), 0.25))
    store.record_suite("s", "name: s\n", results / "s.yaml", fake_jobs(("jobA", "unet")))
    shard = store.ingest(path)
    assert shard is not None and shard.job_key == "jobA"
    assert not path.exists() and (ingested_dir(results) / path.name).exists()
    cases = store.cases("s")
    assert list(cases["case_id"]) == ["c0", "c1"] and list(cases["model"]) == ["unet", "unet"]
    assert cases["dice"].isna().tolist() == [True, False] and cases["dice"].iloc[1] == 0.25
    assert cases["hd95"].tolist() == [0.0, 1.5] and cases["patch"].tolist() == ["full", "full"]
    # the same attempt ingested again (a crash between commit and archive) changes nothing
    shutil.copy(ingested_dir(results) / path.name, path)
    assert store.ingest(path) is None
    assert _rows(store, "SELECT attempts FROM jobs") == [(1,)]
    assert _rows(store, "SELECT COUNT(*) FROM cases") == [(2,)]
    assert _rows(store, "SELECT shard_version FROM ingested") == [(2,)]


def test_failure_then_success_counts_attempts_and_keeps_the_traceback(shards, results: Path) -> None:
    store = Store(results)
    store.ingest(shards.write(results, status="failed", trained=False))
    assert _rows(store, "SELECT status, attempts, error FROM jobs")[0][:2] == ("failed", 1)
    assert "boom" in _rows(store, "SELECT error FROM failures")[0][0]
    assert store.trained_jobs() == set() and store.done_conditions() == set()
    store.ingest(shards.write(results))
    assert _rows(store, "SELECT status, attempts, error FROM jobs") == [("trained", 2, None)]
    assert store.trained_jobs() == {"jobA"} and store.done_conditions() == {"jobA:none"}


def test_later_failure_is_visible_and_keeps_earlier_results(shards, results: Path) -> None:
    # Issue 14 item 4: a failure after training (evaluation, checkpoint) must show as a failure;
    # the rerun reuses the checkpoint file if it exists, and earlier evaluations stay stored.
    store = Store(results)
    store.ingest(shards.write(results))
    # a later attempt: it started after the stored success finished (a racing one is test_ingest_rules')
    store.ingest(shards.write(results, status="failed", trained=False, started_at=1000.0))
    assert _rows(store, "SELECT status, attempts FROM jobs") == [("failed", 2)]
    assert store.done_conditions() == {"jobA:none"}


def test_two_labels_of_one_job_report_under_both(shards, results: Path, fake_jobs) -> None:
    store = Store(results)
    store.record_suite("s", "x", results / "s.yaml", fake_jobs(("jobA", "unet"), ("jobA", "unet copy")))
    store.ingest(shards.write(results))
    cases = store.cases("s")
    assert sorted(set(cases["model"])) == ["unet", "unet copy"] and len(cases) == 4
    assert store.expected_counts("s") == (1, 1)


def test_queries_on_a_missing_database_are_empty_and_create_nothing(results: Path) -> None:
    store = Store(results)
    assert store.suites() == [] and store.cases().empty and store.jobs().empty
    assert store.trained_jobs() == set() and store.expected_counts("s") == (0, 0)
    assert not results.exists()


def test_garbage_shard_is_quarantined_and_others_ingested(shards, results: Path) -> None:
    good = shards.write(results)
    bad = shard_dir(results) / "zz-garbage.json"
    bad.write_text('{"job_key": ')
    store = Store(results)
    assert store.ingest_pending() == 1 and good.name in {p.name for p in ingested_dir(results).iterdir()}
    assert (quarantine_dir(results) / bad.name).exists() and not bad.exists()
    assert len(store.warnings) == 1 and str(bad) in store.warnings[0] and "quarantine" in store.warnings[0]


def test_peek_pending_reads_without_moving_or_writing(shards, results: Path) -> None:
    Store(results).ingest(shards.write(results, job_key="old"))
    pending = shards.write(results, job_key="new", conditions=("none", "speckle"))
    (shard_dir(results) / "junk.json").write_bytes(b"\x00\x01")
    db_before = Store(results).path.read_bytes()
    store = Store(results)
    trained, done = store.peek_pending()
    assert trained == {"new"} and done == {"new:none", "new:speckle"}
    assert pending.exists() and (shard_dir(results) / "junk.json").exists()
    assert "junk.json" in store.warnings[0] and store.path.read_bytes() == db_before


def test_suite_name_taken_by_another_file_is_refused(results: Path, fake_jobs, tmp_path: Path) -> None:
    store = Store(results)
    jobs = fake_jobs(("jobA", "unet"))
    store.record_suite("s", "name: s\nseeds: [1]\n", tmp_path / "a.yaml", jobs)
    store.record_suite("s", "name: s\nseeds: [1, 2]\n", tmp_path / "a.yaml", jobs)  # editing one's own file
    store.record_suite("s", "name: s\nseeds: [1, 2]\n", tmp_path / "copy.yaml", jobs)  # a verbatim copy
    with pytest.raises(SuiteConflict, match=r"suite name 's' is already used .*copy\.yaml.*--replace"):
        store.record_suite("s", "name: s\nseeds: [3]\n", tmp_path / "b.yaml", jobs)
    store.record_suite("s", "name: s\nseeds: [3]\n", tmp_path / "b.yaml", jobs, replace=True)
    assert store.suite_yaml("s") == "name: s\nseeds: [3]\n"


def test_zero_byte_and_garbled_databases_give_one_line_errors(results: Path, shards) -> None:
    results.mkdir()
    db = results / "segbench.sqlite"
    db.write_bytes(b"")
    shards.write(results)
    for call in (lambda: Store(results).suites(), lambda: Store(results).ingest_pending()):
        with pytest.raises(StoreError, match=r"is empty \(0 bytes\).*segbench store rebuild") as info:
            call()
        assert "\n" not in str(info.value)
    db.write_bytes(b"this is not sqlite at all" * 200)
    for call in (lambda: Store(results).suites(), lambda: Store(results).ingest_pending()):
        with pytest.raises(StoreError, match=r"is corrupt .*segbench store rebuild --results"):
            call()


def test_rebuild_restores_suites_and_results_and_keeps_the_old_file(shards, results: Path, fake_jobs) -> None:
    store = Store(results)
    store.record_suite("s", "name: s\n", results / "s.yaml", fake_jobs(("jobA", "unet"), ("jobB", "noskip")))
    store.ingest(shards.write(results, job_key="jobA", status="failed", trained=False))
    store.ingest(shards.write(results, job_key="jobA"))
    store.ingest(shards.write(results, job_key="jobB", model="noskip", dice=(0.1, 0.2)))
    before = store.cases("s")
    jobs_before = store.jobs("s")[["job_key", "status", "attempts"]].sort_values("job_key")
    store.path.write_bytes(store.path.read_bytes()[:1000])  # truncated
    fresh = Store(results)
    aside, n, suites = rebuild_database(fresh)
    assert aside is not None and aside.exists() and (n, suites) == (3, 1)
    after = fresh.cases("s")
    cols = ["model", "job_key", "case_id", "dice", "hd95", "tp"]
    assert after[cols].equals(before[cols])
    jobs_after = fresh.jobs("s")[["job_key", "status", "attempts"]].sort_values("job_key")
    assert jobs_after.reset_index(drop=True).equals(jobs_before.reset_index(drop=True))
    assert pending_shards(results) == []


def test_database_from_a_newer_segbench_is_refused(results: Path, shards) -> None:
    store = Store(results)
    store.ingest(shards.write(results))
    with sqlite3.connect(store.path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match=r"newer than this segbench"):
        Store(results).ingest(shards.write(results))


def test_a_version_1_shard_left_by_the_old_worker_is_ingested(shards, results: Path) -> None:
    import json

    raw = shards(job_key="old", dice=(float("nan"), 0.5))  # the untyped dict, written as before
    path = shard_dir(results) / f"old-{raw['attempt_id']}.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(raw, allow_nan=True))
    store = Store(results)
    assert store.ingest_pending() == 1 and store.warnings == []
    assert _rows(store, "SELECT shard_version FROM ingested") == [(1,)]
    assert _rows(store, "SELECT case_id, dice FROM cases ORDER BY case_id") == [("c0", None), ("c1", 0.5)]


def test_rebuild_without_suite_records_restores_suites_from_their_shards(shards, results: Path) -> None:
    store = Store(results)
    store.ingest(shards.write(results, job_key="jobA"))
    store.ingest(shards.write(results, job_key="jobB", model="noskip"))
    store.path.unlink()  # a store from before suite records: only the archived shards remain
    fresh = Store(results)
    _, n, suites = rebuild_database(fresh)
    assert (n, suites) == (2, 1) and "restored from its shards" in fresh.warnings[0]
    cases = fresh.cases("s")
    assert sorted(set(cases["model"])) == ["noskip", "unet"] and len(cases) == 4
    assert fresh.suite_yaml("s") == ""


def test_imported_model_survives_a_rerun_and_a_rebuild(shards, results: Path, fake_jobs) -> None:
    store = Store(results)
    store.record_suite("s", "name: s\n", results / "s.yaml", fake_jobs(("jobA", "unet")))
    store.ingest(shards.write(results, job_key="jobA"))
    raw = shards(job_key="ext", model="imported")
    raw["job"].update(model_label="nnunet", train=None, imported={"format": "nnunet"})
    store.ingest_imported("s", "name: s\n", "nnunet", [raw])
    store.record_suite("s", "name: s\n", results / "s.yaml", fake_jobs(("jobA", "unet")))  # a rerun
    assert sorted(set(store.cases("s")["model"])) == ["nnunet", "unet"]
    store.path.unlink()
    fresh = Store(results)
    rebuild_database(fresh)
    assert sorted(set(fresh.cases("s")["model"])) == ["nnunet", "unet"]
    assert fresh.model_names("s") == {"unet": "unet", "nnunet": "imported"}


def test_an_evaluation_failure_in_one_suite_does_not_fail_a_finished_suite_sharing_the_job(
    shards, results: Path, fake_jobs
) -> None:
    store = Store(results)
    store.record_suite("one", "x", results / "one.yaml", fake_jobs(("jobA", "unet")))
    store.ingest(shards.write(results))  # suite one: trained and evaluated ("jobA:none")
    two = fake_jobs(("jobA", "unet"), conditions=("none", "speckle"))
    store.record_suite("two", "y", results / "two.yaml", two)
    # suite two's attempt reuses the checkpoint, then fails evaluating "speckle"
    store.ingest(shards.write(results, status="failed", started_at=1000.0))
    assert store.jobs("one")["status"].tolist() == ["trained"]  # complete: nothing of it failed
    assert store.jobs("two")["status"].tolist() == ["failed"]  # its speckle condition is missing
    store.ingest(shards.write(results, status="failed", trained=False, started_at=2000.0))
    assert store.jobs("two")["status"].tolist() == ["failed"]
