"""Suite file -> validated ``Suite``, with every problem of the file mapped to its line, in one pass.

The steps, each reporting *all* it finds before the next would be misled:

1. ``suite.yaml_safe`` reads at most 1 MiB, checks the text (UTF-8, no NUL or control
   characters), composes the YAML once under depth/alias budgets and builds plain data, the
   line of every field path, and the non-fatal problems (duplicate or non-string keys, refused
   tags, unset ``${NAME}`` variables).  Only a file with no usable document stops here.
2. The pydantic schema (``suite.schema``) checks the shape: unknown keys (with "did you
   mean"), missing keys, types, literals, ranges.
3. ``suite.validate`` checks the same raw data against the registries (names, params by
   value, each entry's own ``check``) and the cross-field rules, *whether or not* step 2
   passed, so fixing one error never reveals a second wave.

Issues at a path already reported by step 1 are dropped, the rest deduplicated and sorted by
line.  ``MemoryError``/``RecursionError`` never escape: they become a one-line error too.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from segbench.suite.errors import _MISSING, SuiteError, SuiteIssue, show
from segbench.suite.schema import Suite
from segbench.suite.yaml_safe import Document, decode, load_document, read_bytes

__all__ = ["Locator", "load_suite", "parse_suite"]

# Schema errors turned into messages (each may compute a "did you mean"); more are counted.
_MAX_SCHEMA_ERRORS = 200


class Locator:
    """Maps a field path to the 1-based line of its value (or its key) in the suite file.

    A path the file does not spell out (a shorthand ``- unet`` read as ``{name: unet}``, a
    default) maps to the line of its nearest written ancestor.
    """

    def __init__(self, document: Document) -> None:
        self._lines = document.lines
        self._key_lines = document.key_lines

    def line(self, loc: tuple[Any, ...]) -> int | None:
        for end in range(len(loc), -1, -1):
            line = self._lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None

    def key_line(self, loc: tuple[Any, ...]) -> int | None:
        """Line of a mapping *key* (for unknown keys), falling back to ``line``."""
        return self._key_lines.get(tuple(loc)) or self.line(loc)


def load_suite(path: str | Path, environ: Mapping[str, str] | None = None) -> Suite:
    """Read, validate and check a suite file against the registries.

    Args:
        path: the suite YAML file.
        environ: variables for ``${NAME}`` in string values; defaults to ``os.environ``.

    Raises:
        SuiteError: every problem found, each with file, line, field path and value.
    """
    from segbench.userref import add_user_folder

    path = Path(path)
    add_user_folder(path.parent)  # a suite's own modules may sit beside it ...
    add_user_folder(Path.cwd())  # ... or in the working directory, as with `python -c`
    try:
        return parse_suite(decode(read_bytes(path), str(path)), str(path), environ)
    except (MemoryError, RecursionError) as exc:
        raise _one(
            str(path), f"suite file could not be checked ({type(exc).__name__}): too large or too deep"
        ) from None


def parse_suite(
    text: str | bytes, filename: str = "<suite>", environ: Mapping[str, str] | None = None
) -> Suite:
    """Validate suite YAML text; ``filename`` only labels the errors.

    Raises:
        SuiteError: every problem found, sorted by line.
    """
    from segbench.suite.validate import check_suite

    try:
        if isinstance(text, bytes):
            text = decode(text, filename)
        document = load_document(text, filename, environ)
        data = document.data
        if not isinstance(data, dict):
            got = "an empty file" if data is None else f"a {type(data).__name__}"
            raise _one(
                filename, f"a suite must be a mapping of keys (name:, models:, ...), got {got}", line=1
            )
        locator = Locator(document)
        suite, issues = _validate_schema(data, locator, filename)
        issues += check_suite(data, locator, filename, suite)
    except (MemoryError, RecursionError) as exc:
        raise _one(
            filename, f"suite could not be checked ({type(exc).__name__}): too large or too deep"
        ) from None
    issues = document.issues + [i for i in issues if not _under(i.path, document.bad_paths)]
    issues = sorted(_dedupe(issues), key=lambda i: i.line or 0)
    if issues or suite is None:
        raise SuiteError(issues or [SuiteIssue(filename, None, "", "suite is not valid")])
    return suite


def _validate_schema(
    data: dict[str, Any], locator: Locator, filename: str
) -> tuple[Suite | None, list[SuiteIssue]]:
    try:
        return Suite.model_validate(data), []
    except ValidationError as exc:
        return None, _pydantic_issues(exc, locator, filename)


def _pydantic_issues(exc: ValidationError, locator: Locator, filename: str) -> list[SuiteIssue]:
    issues: list[SuiteIssue] = []
    errors = exc.errors(include_url=False)
    # A union (e.g. patch_budget: "full" | {...}) reports one error per branch; keep the
    # branch that matched the value's shape (the mapping branch for a mapping).
    structured = {_data_loc(e["loc"]) for e in errors if any(_is_branch_tag(p) for p in e["loc"])}
    for err in errors[:_MAX_SCHEMA_ERRORS]:
        loc = _data_loc(err["loc"])
        if not loc and err["type"] == "value_error":
            continue  # Suite-level rules (distinct seeds/labels): suite.validate reports them at their line
        if err["type"] == "literal_error" and loc in structured:
            continue
        path = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1])
            hint = _suggest(str(loc[-1]), allowed)
            message = f"unknown key {show(loc[-1])}{hint}; allowed: {', '.join(allowed)}"
            issues.append(SuiteIssue(filename, locator.key_line(loc), path, message))
        elif err["type"] == "missing":
            parent = ".".join(str(p) for p in loc[:-1]) or "top level"
            issues.append(
                SuiteIssue(filename, locator.line(loc[:-1]), path, f"required key missing in {parent}")
            )
        else:
            message = err["msg"].removeprefix("Value error, ")
            issues.append(SuiteIssue(filename, locator.line(loc), path, message, err.get("input", _MISSING)))
    if len(errors) > _MAX_SCHEMA_ERRORS:
        more = len(errors) - _MAX_SCHEMA_ERRORS
        issues.append(
            SuiteIssue(filename, None, "", f"{more} more schema errors not shown; fix the above first")
        )
    return issues


def _under(path: str, bad: set[tuple[Any, ...]]) -> bool:
    """Whether ``path`` is at or below a path whose value was already reported."""
    for loc in bad:
        prefix = ".".join(map(str, loc))
        if path == prefix or path.startswith(prefix + "."):
            return True
    return False


def _one(filename: str, message: str, line: int | None = None) -> SuiteError:
    return SuiteError([SuiteIssue(filename, line, "", message)])


def _is_branch_tag(part: Any) -> bool:
    return isinstance(part, str) and (part[:1].isupper() or "[" in part)


def _data_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-branch tags (``PatchBudget``, ``literal['full']``) from a path."""
    return tuple(p for p in loc if not _is_branch_tag(p))


def _dedupe(issues: list[SuiteIssue]) -> list[SuiteIssue]:
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for issue in issues:
        key = (issue.line, issue.path, issue.message)
        if key not in seen:
            seen.add(key)
            unique.append(issue)
    return unique


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the pydantic model found at ``loc`` (for did-you-mean hints)."""
    model: type[BaseModel] | None = Suite
    for part in loc:
        if model is None:
            return []
        if isinstance(part, str):
            field = model.model_fields.get(part)
            model = _model_in(field.annotation) if field else None
    return sorted(model.model_fields) if model else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType) or origin is not None:
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found:
                return found
    return None


def _suggest(word: str, choices: list[str]) -> str:
    if len(word) > 100:
        return ""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
