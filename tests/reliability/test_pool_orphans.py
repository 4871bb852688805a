"""Killing the pool parent never poisons a finished job (issue 23, item 1).

Before: workers lived in their own session, outlived a SIGKILL of the parent, kept training into
the folder a restarted run was using, and at their next event (EPIPE) stored a *failed* shard for a
job the new run had finished; ingested after the real result, the job ended ``failed`` for good.
Now a worker dies with its parent (``PR_SET_PDEATHSIG``) and an orphan writes nothing.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests_tiny_text import tiny_with_models

from segbench.store import Store


def _ingested(results: Path) -> int:
    try:
        with sqlite3.connect(results / "segbench.sqlite", timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM ingested").fetchone()[0])
    except sqlite3.Error:
        return 0


def _workers_of(parent: int) -> list[int]:
    """Pool worker processes whose parent is ``parent``."""
    return [pid for pid in _processes() if _stat(pid)[1] == parent and b"segbench.worker" in _cmdline(pid)]


def _alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (a killed orphan may linger as a zombie: that is dead)."""
    return [pid for pid in pids if _stat(pid)[0] not in ("Z", "X", "")]


def _processes() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _stat(pid: int) -> tuple[str, int]:
    """(state, parent pid); ("", 0) for a process that is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return "", 0
    return fields[0], int(fields[1])


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _wait_for(condition, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _start_and_kill(command: list[str], env: dict[str, str], results: Path, attempt: int) -> bool:
    """Start a run and SIGKILL its parent process only, as the OOM killer would; False if it ended first."""
    before = _ingested(results)
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill at different moments: once workers are up, and just after a job was committed.
    if attempt % 2:
        _wait_for(lambda: _ingested(results) > before or proc.poll() is not None, 120)
    else:
        _wait_for(lambda: bool(_workers_of(proc.pid)) or proc.poll() is not None, 120)
        time.sleep(1.0)
    workers = _workers_of(proc.pid)
    if proc.poll() is not None:
        return False  # the suite finished: nothing left to kill
    assert workers, "no pool worker found"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # Its workers go with it, at once: the immediate restart would otherwise race them.
    assert _wait_for(lambda: not _alive(workers), 10), f"orphaned workers {_alive(workers)} still run"
    return True


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the workers")
def test_sigkill_of_pool_parent_and_immediate_restart_never_marks_a_finished_job_failed(
    write_suite, tmp_path: Path
) -> None:
    text = tiny_with_models(["unet", "noskip_unet"], "orphans").replace("epochs: 10", "epochs: 4")
    suite = write_suite(text.replace("seeds: [1]", f"seeds: {list(range(1, 13))}"), "orphans")
    results = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "segbench.cli", "run", str(suite), "--results", str(results)]
    command += ["--executor", "pool", "--workers", "2", "--device", "cpu", "--quiet"]
    kills = sum(_start_and_kill(command, env, results, attempt) for attempt in range(10))
    assert kills >= 6, "the suite finished too early to test restarts; make it longer"

    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert finished.returncode == 0, finished.stderr
    jobs = Store(results).jobs("orphans")
    assert len(jobs) == 24 and (jobs["status"] == "trained").all(), jobs[["status", "error"]]
    # Not a single failed shard was ever written (an orphan writes nothing).
    shards = list((results / "shards").rglob("*.json"))
    statuses = [json.loads(p.read_text()).get("status") for p in shards if p.parent.name != "suites"]
    assert statuses and "failed" not in statuses
    failures = subprocess.run(
        [sys.executable, "-m", "segbench.cli", "failures", "--results", str(results)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert failures.returncode == 0, failures.stdout + failures.stderr
