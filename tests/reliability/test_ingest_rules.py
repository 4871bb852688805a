"""Ingest keeps the first success of a job; values outside a metric's range never reach the store or gate.

Issue 23 items 1 and 8: an orphaned worker's late failure flipped a finished job to ``failed`` for
good; a forged shard's Dice 5.0 reached the report; a baseline of Dice 5.0 or ``--delta inf`` let
``check`` pass anything.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from faults import ShardFactory, cli, garbage_shard, seed_store

from segbench.shards import quarantine_dir
from segbench.store import Store, rebuild_database
from segbench.tools.gate import run_gate


def _status(results: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(results / "segbench.sqlite") as conn:
        return conn.execute("SELECT status, attempts FROM jobs").fetchall()


def test_a_failure_that_raced_with_the_success_keeps_the_job_finished(tmp_path: Path) -> None:
    results, shards = tmp_path / "results", ShardFactory()
    store = Store(results)
    # the restart's attempt: started at 150, finished at 300
    store.ingest(shards.write(results, started_at=150.0, finished_at=300.0))
    # the orphan of the killed parent: started at 100 (before), failed at 400 (after the success)
    store.ingest(shards.write(results, status="failed", trained=False, started_at=100.0, finished_at=400.0))
    assert _status(results) == [("trained", 1)]
    assert store.done_conditions() == {"jobA:none"}
    with sqlite3.connect(store.path) as conn:  # the results are kept, the failure stays in the history
        assert conn.execute("SELECT COUNT(*) FROM cases").fetchone() == (2,)
        assert conn.execute("SELECT COUNT(*) FROM failures").fetchone() == (1,)
    # a rebuild replays the same rule (attempts in finishing order)
    fresh = Store(results)
    rebuild_database(fresh)
    assert _status(results) == [("trained", 1)]
    # a genuinely later attempt (started after the success finished) still marks the job failed
    store.ingest(shards.write(results, status="failed", trained=False, started_at=500.0, finished_at=600.0))
    assert _status(results) == [("failed", 2)]


@pytest.mark.parametrize(
    ("column", "value"), [("dice", 5.0), ("dice", -2.0), ("nsd", 1.5), ("hd95", -100.0), ("fp", -1)]
)
def test_a_shard_with_values_out_of_range_is_quarantined(tmp_path: Path, column: str, value: float) -> None:
    results, shards = tmp_path / "results", ShardFactory()
    shard = shards(job_key="forged")
    shard["conditions"][0]["cases"][0][column] = value
    good = shards.write(results, job_key="good")
    garbage_shard(results, "forged-a1.json", json.dumps(shard).encode())  # written by hand, as a forger would
    store = Store(results)
    assert store.ingest_pending() == 1
    assert store.trained_jobs() == {"good"}
    assert len(list(quarantine_dir(results).iterdir())) == 1 and good.name not in store.warnings[0]
    assert f"{column} = {value!r} is outside" in store.warnings[0]


def test_infinite_distance_and_nan_dice_are_valid(tmp_path: Path) -> None:
    results, shards = tmp_path / "results", ShardFactory()
    shard = shards.write(results, dice=(float("nan"), 0.0))
    raw = json.loads(shard.read_text())
    raw["conditions"][0]["cases"][1]["hd95"] = float("inf")
    shard.write_text(json.dumps(raw))
    assert Store(results).ingest_pending() == 1


def _baseline(tmp_path: Path, results: Path) -> Path:
    baseline = tmp_path / "baseline.json"
    run_gate(results, baseline, update=True)
    return baseline


@pytest.mark.parametrize("value", [5.0, -3.0])
def test_a_baseline_value_out_of_range_is_refused(tmp_path: Path, value: float) -> None:
    results = tmp_path / "results"
    seed_store(results)
    baseline = _baseline(tmp_path, results)
    data = json.loads(baseline.read_text())
    entry = data["entries"][0]
    entry["values"][next(iter(entry["values"]))] = value
    baseline.write_text(json.dumps(data))
    out = cli("check", "--baseline", baseline, "--results", results)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "is outside [0, 1]" in out.stderr and str(baseline) in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("delta", ["inf", "nan", "-0.1", "2"])
def test_delta_that_would_disable_the_gate_is_refused(tmp_path: Path, delta: str) -> None:
    results = tmp_path / "results"
    seed_store(results)
    baseline = _baseline(tmp_path, results)
    out = cli("check", "--baseline", baseline, "--results", results, "--delta", delta)
    assert out.returncode == 2 and "--delta must be a Dice difference in [0, 1]" in out.stderr, out.stderr


def test_a_baseline_entry_without_complexity_is_read_as_none(tmp_path: Path) -> None:
    """``complexity`` is optional in an entry: leaving it out gave a bare ``'complexity'`` from check."""
    results = tmp_path / "results"
    seed_store(results)
    baseline = _baseline(tmp_path, results)
    data = json.loads(baseline.read_text())
    for entry in data["entries"]:
        entry.pop("complexity")
    baseline.write_text(json.dumps(data))
    out = cli("check", "--baseline", baseline, "--results", results)
    assert out.returncode in (0, 1) and "Traceback" not in out.stderr, out.stderr
    assert "'complexity'" not in out.stdout + out.stderr
