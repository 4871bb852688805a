"""Say why a job's process ended without a result, in words (local and pool executors share it)."""

from __future__ import annotations

import signal

__all__ = ["describe_exit"]

_CAUSES = {
    signal.SIGSEGV: "a segmentation fault in native code",
    signal.SIGABRT: "abort() (a failed assertion in native code)",
    signal.SIGBUS: "a bus error in native code",
    signal.SIGFPE: "a floating-point exception in native code",
    signal.SIGILL: "an illegal instruction (a library built for another CPU?)",
    signal.SIGKILL: "SIGKILL: the system's out-of-memory killer or a 'kill -9'",
    signal.SIGTERM: "SIGTERM from outside",
}


def describe_exit(returncode: int) -> str:
    """``Popen.returncode`` style (negative = signal) to one phrase naming the signal or exit code."""
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"was killed by signal {-returncode}"
        cause = _CAUSES.get(sig)
        return f"was killed by {sig.name} (signal {sig.value}{': ' + cause if cause else ''})"
    return (
        f"exited with code {returncode} without writing its result "
        "(os._exit or a hard exit in the model or a library?)"
    )
