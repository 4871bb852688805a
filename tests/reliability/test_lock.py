"""One writer per results folder: the lock refuses, names the holder, waits, takes over stale locks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from faults import cli

from segbench.store import LockHeld, ResultsLock


def test_second_holder_is_refused_with_the_holders_pid_and_host(tmp_path: Path) -> None:
    with ResultsLock(tmp_path):
        holder = json.loads((tmp_path / ".lock").read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        with pytest.raises(LockHeld, match=rf"in use by pid {os.getpid()} on host .* --wait"):
            ResultsLock(tmp_path).acquire()
    with ResultsLock(tmp_path):  # released on exit
        pass


def test_wait_blocks_until_the_holder_releases(tmp_path: Path) -> None:
    first = ResultsLock(tmp_path)
    first.acquire()
    told: list[str] = []
    threading.Timer(0.5, first.release).start()
    start = time.monotonic()
    with ResultsLock(tmp_path, wait=True, on_wait=told.append):
        waited = time.monotonic() - start
    assert waited >= 0.4 and told and f"pid {os.getpid()}" in told[0]


def test_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    # A lock file naming a dead pid whose lock is still held by an orphaned child (it inherited the open
    # file): flock alone would block forever.
    script = f"""
import fcntl, json, os, socket, sys, time
fd = os.open({str(tmp_path / ".lock")!r}, os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, json.dumps({{"pid": os.getpid(), "host": socket.gethostname(), "started": 0}}).encode())
child = os.fork()
if child == 0:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)  # release the pipes so that the parent's caller sees EOF
    time.sleep(60)  # the orphan keeps the flock
    os._exit(0)
print(os.getpid(), child, flush=True)
"""
    parent = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    dead_pid, orphan = map(int, parent.stdout.split())
    with pytest.raises(ProcessLookupError):
        os.kill(dead_pid, 0)
    try:
        with ResultsLock(tmp_path):
            assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    finally:
        os.kill(orphan, signal.SIGKILL)


def test_lock_file_left_by_a_killed_run_does_not_block(tmp_path: Path) -> None:
    (tmp_path / ".lock").write_text(json.dumps({"pid": 999_999, "host": socket.gethostname(), "started": 0}))
    with ResultsLock(tmp_path):
        pass


@pytest.mark.slow
def test_second_run_exits_2_naming_the_holder(tmp_path: Path, write_suite) -> None:
    suite = write_suite("name: x\nmodels: [unet]\ndatasets: [textures2d]\n", "x")
    with ResultsLock(tmp_path / "results"):
        proc = cli("run", suite, "--results", tmp_path / "results", "--quiet")
    assert proc.returncode == 2, proc.stderr
    assert f"in use by pid {os.getpid()}" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
