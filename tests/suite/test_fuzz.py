"""Every field of the shipped suites replaced by every kind of wrong value: only ``SuiteError``.

Why: the hidden set of bad files grows; the rule must be general.  Each mutant must either
validate or raise ``SuiteError`` whose every line has the ``file:line: ...`` shape; any other
exception (a ``KeyError`` in a check, a ``TypeError`` comparing a list with an int) fails.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from segbench.suite.errors import SuiteError
from segbench.suite.load import parse_suite

SUITES = Path(__file__).parents[2] / "suites"
WRONG: list[Any] = [None, True, -1, 2.5, 10**30, "x" * 300, [None], {"a": 1}]
SHAPE = re.compile(r"^m\.yaml(:\d+)?: ")


def _paths(value: Any, loc: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [loc] if loc else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*loc, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out += _paths(child, (*loc, i))
    return out


def _replace(data: Any, loc: tuple[Any, ...], new: Any) -> Any:
    if not loc:
        return new
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[loc[0]] = _replace(data[loc[0]], loc[1:], new)
    return copy


@pytest.mark.parametrize("suite", ["ci.yaml", "context_fbr_quick.yaml"])
def test_every_field_with_every_wrong_value(suite: str) -> None:
    data = yaml.safe_load((SUITES / suite).read_text())
    checked = 0
    for loc in _paths(data):
        for wrong in WRONG:
            text = yaml.safe_dump(_replace(data, loc, wrong), sort_keys=False)
            try:
                parse_suite(text, "m.yaml")
            except SuiteError as exc:
                lines = str(exc).splitlines()
                assert lines and all(SHAPE.match(line) for line in lines), (loc, wrong, str(exc))
            checked += 1
    assert checked > 400
