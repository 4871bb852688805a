"""Suite errors that name the file, line, field path, bad value and what is allowed.

Why every value shown goes through :func:`show`: a suite value can be a 900 KB description or
a structure built from YAML aliases; ``repr()`` of it must never be formatted whole (an alias
bomb once raised ``MemoryError`` inside an error message).  ``show`` is bounded in time and
length (``reprlib`` stops descending after a few items and levels) and each issue renders on
exactly one line.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_SHOWN", "SuiteError", "SuiteIssue", "show"]

_MISSING = object()

#: Longest rendering of a user value inside a message (characters).
MAX_SHOWN = 80
#: Issues listed in ``str(SuiteError)``; the rest are counted ("... and 12 more").
_MAX_LISTED = 50

_repr = reprlib.Repr()
_repr.maxlevel = 3
_repr.maxstring = MAX_SHOWN
_repr.maxother = MAX_SHOWN
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 8
_repr.maxlong = 40


def show(value: Any, limit: int = MAX_SHOWN) -> str:
    """A one-line ``repr`` of ``value`` cut to ``limit`` characters (bounded work, never raises)."""
    try:
        text = _repr.repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _one_line(text: str, limit: int = 2000) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class SuiteIssue:
    """One problem in a suite file, rendered ``file:line: field.path: message (got value)``."""

    file: str
    line: int | None
    path: str
    message: str
    value: Any = _MISSING

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.path}:" if self.path else ""
        got = "" if self.value is _MISSING else f" (got {show(self.value)})"
        return f"{where}:{field} {_one_line(self.message)}{got}"


class SuiteError(ValueError):
    """All problems found in one suite file; ``str()`` lists one per line (at most 50, then a count)."""

    def __init__(self, issues: list[SuiteIssue]) -> None:
        self.issues = issues
        lines = [str(i) for i in issues[:_MAX_LISTED]]
        if len(issues) > _MAX_LISTED:
            lines.append(f"... and {len(issues) - _MAX_LISTED} more problems in {issues[0].file}")
        super().__init__("\n".join(lines))
