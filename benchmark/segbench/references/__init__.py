"""Published numbers of the studies segbench reproduces, loaded by name (``reference: <name>`` in a suite).

Each study is one versioned YAML file in this folder (``<name>.yaml``), validated by
:class:`segbench.references.schema.Reference`. Light on purpose (pydantic and PyYAML only): suite
validation loads it to check a suite's ``reference:`` name.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml
from pydantic import ValidationError

from segbench.references.schema import (
    FORMAT,
    DatasetMatch,
    Finding,
    FindingTest,
    Reference,
    ReferenceTable,
)

__all__ = [
    "FORMAT",
    "DatasetMatch",
    "Finding",
    "FindingTest",
    "Reference",
    "ReferenceError",
    "ReferenceTable",
    "load_reference",
    "parse_reference",
    "reference_names",
]


class ReferenceError(ValueError):
    """A reference that does not exist or does not validate (one line naming the file and field)."""


def reference_names() -> list[str]:
    """The names of the shipped references (file stems), sorted."""
    folder = resources.files(__name__)
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


@cache
def load_reference(name: str) -> Reference:
    """The shipped reference ``name``, validated.

    Raises:
        ReferenceError: unknown name (lists the known ones) or a file that does not validate.
    """
    known = reference_names()
    if name not in known:
        raise ReferenceError(f"unknown reference {name!r}; known references: {', '.join(known)}")
    text = resources.files(__name__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    ref = parse_reference(text, f"{name}.yaml")
    if ref.name != name:
        raise ReferenceError(f"{name}.yaml: field 'name' is {ref.name!r}, expected the file stem {name!r}")
    return ref


def parse_reference(text: str, source: str = "<reference>") -> Reference:
    """Validate reference YAML text (safe loader); errors name ``source``, the field path and the problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ReferenceError(f"{source}: not valid YAML: {exc}") from None
    try:
        return Reference.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ReferenceError(f"{source}: {where}: {first['msg']}{more}") from None
