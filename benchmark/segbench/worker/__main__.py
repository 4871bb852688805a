"""``python -m segbench.worker TASK.json``: run one task file, print its shard path.

Any scheduler can drive segbench this way: write task files (``Task.to_json``), run this
command on a machine that sees the results folder, and let ``segbench run`` ingest the
shards.  Exit status 0 means a shard was written, whether the job succeeded or failed
(failures are data, stored with their traceback); 2 means the task file is unusable.

``--serve`` is the pool executor's mode: tasks arrive one JSON line at a time on stdin,
progress and results leave as JSON lines on the file descriptor ``--events-fd``.
With ``--parent-pid`` the worker dies with that process (a parent-death signal on Linux;
elsewhere, at its next event): an orphan must never write a shard, because a restarted
run may already be training the same job into the same folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m segbench.worker", description=__doc__.splitlines()[0])
    parser.add_argument("task", nargs="?", type=Path, help="task JSON file (Task.to_json)")
    parser.add_argument("--serve", action="store_true", help="read task lines from stdin (pool worker)")
    parser.add_argument("--events-fd", type=int, default=None, help="where --serve writes its events")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads for this worker")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit at once when this process dies")
    args = parser.parse_args(argv)
    if args.parent_pid is not None:
        die_with_parent(args.parent_pid)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.serve:
        if args.events_fd is None:
            parser.error("--serve needs --events-fd")
        return _serve(args.events_fd)
    if args.task is None:
        parser.error("give a TASK.json file (or --serve)")
    try:
        text = args.task.read_text()
    except OSError as exc:
        print(f"cannot read task file {args.task}: {exc}", file=sys.stderr)
        return 2
    print(run_task_json(text))
    return 0


def run_task_json(text: str, events_fd: int | None = None) -> Path:
    """Run one task given as ``Task.to_json`` text; returns the shard path."""
    from segbench.plan.task import Task
    from segbench.worker.run import run_task

    task, results, device = Task.from_json(text)

    def emit(event: dict[str, Any]) -> None:
        if events_fd is not None:
            _send(events_fd, event)

    def on_epoch(epoch: int, total: int, loss: float, val_dice: float | None) -> None:
        emit({"event": "epoch", "epoch": epoch, "total": total, "loss": loss, "val_dice": val_dice})

    def on_status(stage: str) -> None:
        emit({"event": "status", "stage": stage})

    return run_task(task, results, device, on_epoch=on_epoch, on_status=on_status)


def _serve(events_fd: int) -> int:
    # The parent owns Ctrl-C: it kills busy workers and closes idle ones' stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import segbench.worker.job  # noqa: F401  (import torch & co. before the first task's clock starts)

    for line in sys.stdin:
        if not line.strip():
            continue
        _send(events_fd, {"event": "started"})
        shard = run_task_json(line, events_fd)
        _send(events_fd, {"event": "done", "shard": str(shard)})
    return 0


_PARENT: int | None = None


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when ``parent_pid`` (its parent) dies.

    Why: a SIGKILLed or OOM-killed pool parent cannot stop its workers, and an orphan that
    goes on training writes into a folder a restarted run is already using; at its next
    progress event it used to store a *failed* shard for a job that the new run finished.
    Linux's ``PR_SET_PDEATHSIG`` (through ctypes, no dependency) covers every way the parent
    can die; elsewhere ``_send`` notices the closed events pipe or the new parent and exits.
    """
    global _PARENT
    _PARENT = parent_pid
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        # no prctl in this libc: _send's checks still apply
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(0)


def _send(events_fd: int, event: dict[str, Any]) -> None:
    """Write one event line; a worker whose parent is gone exits here, writing nothing more."""
    if _PARENT is not None and os.getppid() != _PARENT:
        os._exit(0)
    try:
        os.write(events_fd, (json.dumps(event) + "\n").encode())
    except OSError:  # EPIPE: nobody reads our events any more, so nobody will ingest our shard
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
