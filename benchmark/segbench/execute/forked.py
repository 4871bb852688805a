"""Run one job in a forked child, so that a model that kills its process fails only its job.

Why: a model calling ``os._exit``, segfaulting in native code or calling ``abort()`` took the whole
``segbench run`` with it under the local executor (exit 0 or 139, nothing recorded, every rerun the
same).  In a child, the parent sees the exit status and stores a failed shard naming the signal or the
exit code, and the suite goes on.

Why fork, not a fresh interpreter: the child inherits the parent's imports (torch, MONAI), so a job
costs one ``fork`` (milliseconds) instead of an interpreter start plus the torch import (seconds),
and tests that patch worker functions in-process still see their patches.  Fork is safe here
because the parent never runs torch operations or initialises CUDA itself (only children do); a run
that names a CUDA device (checked in the parent, which initialises the driver) uses the one-worker
pool instead (see :class:`segbench.execute.local.LocalExecutor`).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segbench.execute.death import describe_exit

if TYPE_CHECKING:
    from segbench.plan.task import Task
    from segbench.progress import Reporter

__all__ = ["fork_available", "preload_for_children", "run_forked"]

_PR_SET_PDEATHSIG = 1


def fork_available() -> bool:
    """Linux only: macOS forks are unsafe once system frameworks are loaded; Windows has none."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def preload_for_children() -> None:
    """Import in the parent what every job would otherwise import in its own child.

    Why: torch imports ``torch._dynamo`` lazily, when the first optimizer is built (about 1.2 s of
    imports on the 2-core machine); a child's imports die with it, so every forked job paid them
    again (``suites/ci.yaml`` 10.8 s -> 18.3 s, the quick suite 51 s -> 101 s).  Importing runs no
    torch operation and starts no thread, so the fork stays safe.
    """
    with contextlib.suppress(Exception):  # an optional speed-up: a torch without it just pays per job
        import torch._dynamo  # noqa: F401


def run_forked(task: Task, results: Path, device: str | None, reporter: Reporter) -> Path:
    """Run ``task`` in a forked child; returns its shard, or a failed shard if the child died.

    Ctrl-C (the child gets it too) and SIGTERM stop the child and re-raise here, writing nothing:
    the job is retried by the next run, as an in-process job would be.
    """
    from segbench.worker.job import write_failed_shard

    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    _flush()
    # Frozen, the parent's objects are never scanned by the child's collector (torch and its lazy
    # imports are millions of them): a child's full collection cost more than the job's training on
    # the ci suite, and touching every object copied its memory page.
    gc.freeze()
    try:
        pid = os.fork()
    except BaseException:
        gc.unfreeze()
        raise
    if pid == 0:  # pragma: no cover - the child; its outcome is checked through the parent
        os.close(read_fd)
        _child(task, results, device, write_fd, parent)
    gc.unfreeze()
    os.close(write_fd)
    shard: Path | None = None
    status: int | None = None
    try:
        with os.fdopen(read_fd, "rb") as events:
            for line in events:
                shard = _dispatch(json.loads(line), task, reporter) or shard
        status = _wait(pid)
    finally:
        if status is None:  # interrupted: stop the child before the interrupt goes on
            _stop(pid)
    if shard is not None and shard.exists():
        return shard
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
    reason = f"JobProcessDied: the job's process {describe_exit(code)}; nothing else was recorded"
    return write_failed_shard(task.job, results, reason)


def _child(task: Task, results: Path, device: str | None, fd: int, parent: int) -> None:
    """The forked child: run the job, report progress and the shard on ``fd``, never return."""
    code = 0
    try:
        _die_with(parent)

        def send(event: dict[str, Any]) -> None:
            os.write(fd, (json.dumps(event) + "\n").encode())

        from segbench.worker.run import run_task

        shard = run_task(
            task,
            results,
            device,
            on_epoch=lambda e, t, loss, val: send({"event": "epoch", "args": [e, t, loss, val]}),
            on_status=lambda stage: send({"event": "status", "stage": stage}),
        )
        send({"event": "done", "shard": str(shard)})
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        _flush()
        os._exit(code)


def _die_with(parent: int) -> None:
    """Ask Linux to SIGKILL this child when the parent dies (no orphan keeps training)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _dispatch(event: dict[str, Any], task: Task, reporter: Reporter) -> Path | None:
    kind = event.get("event")
    if kind == "epoch":
        reporter.epoch(*event["args"])
    elif kind == "status":
        reporter.status(event["stage"])
    elif kind == "done":
        return Path(event["shard"])
    return None


def _wait(pid: int) -> int:
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue


def _stop(pid: int, grace_s: float = 10.0) -> None:
    """SIGTERM the child (it stops like Ctrl-C), SIGKILL it after ``grace_s``; always reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
