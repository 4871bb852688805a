"""One writer per results folder: an advisory lock file ``<results>/.lock`` (``fcntl.flock``).

Why: two runs on one folder used to train every job twice, and a second process ingested (moved) the
first one's pending shard, which then died with ``FileNotFoundError``.  ``segbench run`` and
``segbench store rebuild`` hold this lock for their whole duration; read-only commands (``report``,
``run --dry-run``, ``check``) never take it.

Why ``flock``: the kernel releases it when the holder dies, so a killed run never leaves a lock that
blocks the next one.  The file also records the holder (pid, host, start time) so that a refused run
can say who holds it.  One case survives the holder's death: a forked child that inherited the open
file keeps the lock.  When the recorded pid is dead on this host, the lock is *stale*: the file is
replaced by a fresh one (a new inode, which the orphan's lock does not cover) and taken over.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["LOCK_NAME", "LockHeld", "ResultsLock"]

LOCK_NAME = ".lock"


class LockHeld(RuntimeError):
    """Another process holds the results folder's lock; the message names it."""


@dataclass
class ResultsLock:
    """Context manager holding ``<results>/.lock`` exclusively.

    Args:
        results: the results folder (created if missing).
        wait: block until the holder releases the lock instead of raising :class:`LockHeld`.
        on_wait: called once with the holder's description before blocking (e.g. to print it).
    """

    results: Path
    wait: bool = False
    on_wait: Callable[[str], None] | None = None
    _fd: int | None = None

    @property
    def path(self) -> Path:
        return Path(self.results) / LOCK_NAME

    def acquire(self) -> None:
        Path(self.results).mkdir(parents=True, exist_ok=True)
        for _ in range(5):  # retries only when the file was replaced under us
            try:  # O_NOFOLLOW: a planted .lock link must not make us truncate its target
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
                raise LockHeld(
                    f"refusing to use the lock file {self.path}: it is a symbolic link (to "
                    f"{os.readlink(self.path)}); remove the link"
                ) from None
            try:
                if not self._lock(fd):
                    continue
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            self._write_holder(fd)
            return
        raise LockHeld(f"could not take the lock {self.path}: it keeps being replaced by another process")

    def _lock(self, fd: int) -> bool:
        """Lock ``fd``; False when the file at :attr:`path` is no longer this inode (retry)."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            holder = _read_holder(fd)
            if _is_stale(holder):
                os.close(fd)
                self.path.unlink(missing_ok=True)  # orphaned lock of a dead run: start a fresh file
                return False
            if not self.wait:  # the caller closes fd
                raise LockHeld(
                    f"results folder {self.results} is in use by {_describe(holder)} (lock file "
                    f"{self.path}); wait for it to finish, or rerun with --wait"
                ) from None
            if self.on_wait is not None:
                self.on_wait(_describe(holder))
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
        return same

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)  # a clean exit leaves no holder behind (the file may stay)
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    def __enter__(self) -> ResultsLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def _write_holder(self, fd: int) -> None:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        os.fsync(fd)


def _read_holder(fd: int) -> dict[str, object]:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _is_stale(holder: dict[str, object]) -> bool:
    """True when the recorded holder is a process of this host that no longer exists."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by someone else
        return False
    return False


def _describe(holder: dict[str, object]) -> str:
    if not holder:
        return "another process (holder unknown)"
    started = holder.get("started")
    when = (
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
        if isinstance(started, int | float)
        else "an unknown time"
    )
    return f"pid {holder.get('pid')} on host {holder.get('host')} since {when}"
