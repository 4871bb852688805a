"""Exit codes as documented (0, 1, 2, 130 Ctrl-C, 143 SIGTERM) and no traceback (issue 23 item 7).

Before: Ctrl-C outside ``run`` printed ``Aborted!`` and exited 1 (for ``check``, the regression code)
and SIGTERM was silent; ``failures``/``compare``/``merge`` on a corrupt store and ``compare --html``
to an unwritable path printed tracebacks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faults import cli, garble, popen_as_from_a_terminal, seed_store, tiny_suite_text

from segbench.store import ResultsLock

TINY = tiny_suite_text()


def _holds(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (it then waits on the lock, inside the command)."""
    folder = Path(f"/proc/{pid}/fd")
    try:
        return any(os.path.realpath(fd) == str(path.resolve()) for fd in folder.iterdir())
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize(
    ("sig", "code", "word"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
@pytest.mark.parametrize("command", ["run", "rebuild"])
def test_ctrl_c_and_sigterm_exit_130_and_143_after_cleanup(
    tmp_path: Path, command: str, sig: signal.Signals, code: int, word: str
) -> None:
    results = tmp_path / "results"
    seed_store(results)
    suite = tmp_path / "ci.yaml"
    suite.write_text(TINY)
    args = ["run", str(suite), "--quiet"] if command == "run" else ["store", "rebuild"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with ResultsLock(results):  # the command blocks on --wait until the signal comes
        proc = popen_as_from_a_terminal(
            [sys.executable, "-m", "segbench.cli", *args, "--results", str(results), "--wait"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while not _holds(proc.pid, results / ".lock") and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, out + err
    assert word in err and "Traceback" not in err and "Aborted!" not in err


def test_commands_on_a_corrupt_store_give_one_line_and_exit_2(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    seed_store(a)
    seed_store(b)
    garble(a / "segbench.sqlite")
    for args in (
        ["failures", "--results", a],
        ["compare", a, b],
        ["merge", a, b, "--out", tmp_path / "c"],
    ):
        out = cli(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert str(a) in out.stderr


def test_compare_html_to_an_unwritable_place_is_one_line(tmp_path: Path) -> None:
    a = tmp_path / "a"
    seed_store(a)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = cli("compare", a, a, "--html", blocker / "page.html")
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert str(blocker) in out.stderr


def test_slurm_executor_without_slurm_is_one_line(tmp_path: Path) -> None:
    suite = tmp_path / "ci.yaml"
    suite.write_text(TINY)
    env_path = os.environ.get("PATH", "")
    os.environ["PATH"] = str(tmp_path)  # no sbatch anywhere
    try:
        out = cli("run", suite, "--results", tmp_path / "r", "--executor", "slurm", "--quiet")
    finally:
        os.environ["PATH"] = env_path
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "Slurm is not available here (no sbatch on PATH)" in out.stderr


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_baseline_or_manifest_that_is_not_a_file_is_refused_without_blocking(
    tmp_path: Path, kind: str
) -> None:
    results = tmp_path / "results"
    seed_store(results)
    odd = tmp_path / "odd.json"
    if kind == "fifo":
        os.mkfifo(odd)
    else:
        odd.mkdir()
    check = cli("check", "--baseline", odd, "--results", results, timeout=60)
    assert check.returncode == 2 and str(odd) in check.stderr, check.stderr
    (tmp_path / "preds").mkdir()
    imported = cli(
        "import", tmp_path / "preds", "--manifest", odd, "--label", "x", "--results", results, timeout=60
    )
    assert imported.returncode == 2, imported.stderr
    assert ("not a regular file" if kind == "fifo" else "not found") in imported.stderr
