"""Suite errors that name the file, line, field path, bad value and what is allowed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SuiteError", "SuiteIssue"]

_MISSING = object()


@dataclass(frozen=True)
class SuiteIssue:
    """One problem in a suite file."""

    file: str
    line: int | None
    path: str
    message: str
    value: Any = _MISSING

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.path}:" if self.path else ""
        got = "" if self.value is _MISSING else f" (got {self.value!r})"
        return f"{where}:{field} {self.message}{got}"


class SuiteError(ValueError):
    """All problems found in one suite file; ``str()`` lists one per line."""

    def __init__(self, issues: list[SuiteIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))
