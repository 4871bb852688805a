"""A real Ctrl-C still stops the run (user code's SystemExit does not), and leaves no workers behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faults import popen_as_from_a_terminal
from tests_tiny_text import tiny_with_models

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.mark.parametrize("executor", ["local", "pool"])
def test_ctrl_c_stops_the_run_with_130_and_kills_its_workers(
    write_suite, tmp_path: Path, executor: str
) -> None:
    text = tiny_with_models(["unet", "noskip_unet"], "sigint").replace("epochs: 10", "epochs: 200")
    suite = write_suite(text, "sigint")
    results = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "segbench.cli", "run", str(suite), "--results", str(results)]
    command += ["--quiet", "--executor", executor] + (["--workers", "2"] if executor == "pool" else [])
    proc = popen_as_from_a_terminal(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Wait until the first job has started (its log line), then press Ctrl-C mid-training.
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("[1/"):
            break
    time.sleep(3)
    workers = _children(proc.pid)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    time.sleep(0.5)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)]
    assert not alive, f"worker processes left running: {alive}"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def test_a_run_started_with_ctrl_c_ignored_keeps_ignoring_it() -> None:
    """As POSIX shells start a script's background job: the local executor must not re-arm Ctrl-C."""
    import threading

    from segbench.execute.local import _ctrl_c_flag

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with _ctrl_c_flag(threading.Event()):
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with _ctrl_c_flag(threading.Event()):  # a terminal's run: Ctrl-C is recorded
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
