"""Safe YAML -> validated ``Suite``, with errors mapped back to file lines.

Why compose the YAML node tree as well as loading it: pydantic reports a location path
(``models.1.params.chanels``); walking the same path through the nodes gives the line a
user must edit.
"""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from segbench.suite.errors import _MISSING, SuiteError, SuiteIssue
from segbench.suite.schema import Suite

__all__ = ["Locator", "load_suite", "parse_suite"]


class Locator:
    """Maps a field path to the 1-based line of its YAML node."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def line(self, loc: tuple[Any, ...]) -> int | None:
        node = self.root
        if node is None:
            return None
        for part in loc:
            child = _child(node, part)
            if child is not None:
                node = child
        return node.start_mark.line + 1

    def key_line(self, loc: tuple[Any, ...]) -> int | None:
        """Line of a mapping *key* (for unknown keys), falling back to ``line``."""
        parent = self.root
        for part in loc[:-1]:
            child = _child(parent, part) if parent is not None else None
            if child is not None:
                parent = child
        if isinstance(parent, yaml.MappingNode):
            for key, _ in parent.value:
                if key.value == loc[-1]:
                    return key.start_mark.line + 1
        return self.line(loc)


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if key.value == part:
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]
    return None


def load_suite(path: str | Path) -> Suite:
    """Read, validate and check a suite file against the registries.

    Raises:
        SuiteError: every problem found, each with file, line, field path and value.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SuiteError(
            [SuiteIssue(str(path), None, "", f"cannot read suite file: {exc.strerror}")]
        ) from None
    return parse_suite(text, str(path))


def parse_suite(text: str, filename: str = "<suite>") -> Suite:
    """Validate suite YAML text; ``filename`` only labels the errors."""
    from segbench.suite.validate import check_suite

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError([SuiteIssue(filename, line, "", f"invalid YAML: {problem}")]) from None
    locator = Locator(root)
    if not isinstance(data, dict):
        got = type(data).__name__ if data is not None else "an empty file"
        raise SuiteError([SuiteIssue(filename, 1, "", f"a suite must be a mapping of keys, got {got}")])
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        raise SuiteError(_pydantic_issues(exc, locator, filename)) from None
    issues = check_suite(suite, locator, filename)
    if issues:
        raise SuiteError(issues)
    return suite


def _pydantic_issues(exc: ValidationError, locator: Locator, filename: str) -> list[SuiteIssue]:
    issues: list[SuiteIssue] = []
    errors = exc.errors(include_url=False)
    # A union (e.g. patch_budget: "full" | {...}) reports one error per branch; keep the
    # branch that matched the value's shape (the mapping branch for a mapping).
    structured = {_data_loc(e["loc"]) for e in errors if any(_is_branch_tag(p) for p in e["loc"])}
    for err in errors:
        loc = _data_loc(err["loc"])
        if err["type"] == "literal_error" and loc in structured:
            continue
        path = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1])
            hint = _suggest(str(loc[-1]), allowed)
            message = f"unknown key {loc[-1]!r}{hint}; allowed: {', '.join(allowed)}"
            issues.append(SuiteIssue(filename, locator.key_line(loc), path, message))
        elif err["type"] == "missing":
            parent = ".".join(str(p) for p in loc[:-1]) or "top level"
            issues.append(
                SuiteIssue(filename, locator.line(loc[:-1]), path, f"required key missing in {parent}")
            )
        else:
            message = err["msg"].removeprefix("Value error, ")
            issues.append(SuiteIssue(filename, locator.line(loc), path, message, err.get("input", _MISSING)))
    return _dedupe(issues)


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
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
