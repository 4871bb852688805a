"""The one bounded YAML loader for suite files: bytes in, plain data + line map out.

Suite files come from users, CI and other people's repositories, so loading one must end
quickly with one line per problem whatever the bytes are.  The rules (also in the README):

- **Size**: at most 1 MiB (``MAX_BYTES``); only that much is ever read.  A folder or a FIFO is
  refused before reading.
- **Text**: UTF-8 (a UTF-8 BOM is allowed); a NUL byte, a byte sequence that is not UTF-8
  (latin-1, binary junk), a UTF-16/32 file or a control character (also one written as an
  escape, ``"\x00"``) is an error naming the line.
- **One document**, a safe subset of YAML: strings, numbers, booleans, null, lists and
  mappings.  Explicit tags other than those (``!!python/...``, ``!!binary``, ``!!set``, custom
  ``!tags``) are refused; dates stay strings (``2024-01-01`` is not turned into a date).
- **Anchors and aliases are allowed, bounded**: with every alias expanded the document may hold
  at most 5,000 values (``MAX_VALUES``: scalars, lists and mappings, keys included) and nest at
  most 50 levels (``MAX_DEPTH``); an alias inside the value it names (a recursive structure) is
  refused.  Both limits are checked *while* composing, so an alias bomb (``&a9 [*a8, *a8, ...]``)
  stops at the alias that crosses the budget, in microseconds, and nothing is ever expanded
  past it.  The merge key ``<<: *defaults`` works.
- **Mapping keys** are strings and appear once per mapping: a duplicate key (PyYAML would keep
  the last silently) or a key YAML reads as a number/boolean/null (``1:``, ``yes:``, ``~:``) is
  an error; quote it.
- **Environment variables**: ``${NAME}`` inside any string value is replaced by the variable
  (e.g. ``root: ${SEGBENCH_DATA}/msd``); an unset variable, ``${}`` or an unclosed ``${`` is an
  error naming the field and the variable.  ``$${`` writes a literal ``${``.  Keys are never
  expanded.
- **Messages are bounded**: every value quoted in an error is cut to 80 characters, at most 50
  problems are listed (then a count), and checking stops after 200 problems of one stage.

Why one pass: the text is parsed once (libyaml's event parser when available, else PyYAML's)
into a node tree by a composer that enforces the limits above; the Python values are then
built from those nodes by a small constructor that also records the line of every field path,
collects duplicate keys, non-string keys, refused tags and unset variables instead of stopping
at the first, and marks those paths so later stages do not report them twice.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.resolver import Resolver

from segbench.suite.errors import SuiteError, SuiteIssue, show

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "Document",
    "decode",
    "load_document",
    "read_bytes",
    "yaml_data",
]

MAX_BYTES = 1 << 20
MAX_DEPTH = 50
MAX_VALUES = 5_000

Loc = tuple[Any, ...]

_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = (_TAG + t for t in ("str", "null", "bool", "int", "float"))
_TIMESTAMP, _SEQ, _MAP, _MERGE = (_TAG + t for t in ("timestamp", "seq", "map", "merge"))
_ALLOWED_TAGS = "strings, numbers, booleans, null, lists and mappings"

# The characters YAML 1.1 allows in a stream (PyYAML's reader rule), as one regex.
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Control characters a double-quoted escape can still put into a value (tab/newline/CR are text).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_VAR_REF = re.compile(r"\$(\$?)\{([^}\n]*)(\}?)")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Document:
    """A loaded suite: plain ``data``, where each field is, and the problems found on the way.

    Attributes:
        data: the document as dicts/lists/scalars (``None`` for an empty file).
        lines: 1-based line of the value at each field path (``("models", 0, "name")``).
        key_lines: 1-based line of the *key* of each mapping entry, by the entry's path.
        issues: non-fatal problems (duplicate keys, non-string keys, refused tags, unset
            variables); the data was still built so that later checks can run.
        bad_paths: paths whose value is already reported as wrong; later stages skip issues at
            or below them, so one mistake is reported once.
    """

    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    key_lines: dict[Loc, int] = field(default_factory=dict)
    issues: list[SuiteIssue] = field(default_factory=list)
    bad_paths: set[Loc] = field(default_factory=set)


def read_bytes(path: Path) -> bytes:
    """Read at most ``MAX_BYTES`` (+1, to detect more) of a suite file.

    Raises:
        SuiteError: the file cannot be read or is larger than ``MAX_BYTES``.
    """
    if path.exists() and not path.is_file():  # a folder, or a FIFO that would block the read
        raise _fatal(str(path), None, "cannot read suite file: not a regular file")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise _fatal(str(path), None, f"cannot read suite file: {reason}") from None
    if len(raw) > MAX_BYTES:
        raise _fatal(
            str(path),
            None,
            f"suite file is larger than {MAX_BYTES // 1024} KiB; a suite is a short text file",
        )
    return raw


def decode(raw: bytes, filename: str) -> str:
    """UTF-8 text of ``raw``; a NUL byte, another encoding or binary data is one clear error."""
    for bom, name in (
        (codecs.BOM_UTF32_LE, "UTF-32"),
        (codecs.BOM_UTF32_BE, "UTF-32"),
        (codecs.BOM_UTF16_LE, "UTF-16"),
        (codecs.BOM_UTF16_BE, "UTF-16"),
    ):
        if raw.startswith(bom):
            raise _fatal(filename, 1, f"file is {name} text; save it as UTF-8")
    raw = raw.removeprefix(codecs.BOM_UTF8)
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, column = _position(raw, nul)
        raise _fatal(
            filename, line, f"NUL byte at column {column}: this is a binary file, not a UTF-8 suite file"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position(raw, exc.start)
        raise _fatal(
            filename,
            line,
            f"not UTF-8 text: byte 0x{raw[exc.start]:02X} at column {column} "
            "(latin-1/cp1252 or binary data?); save the file as UTF-8",
        ) from None
    return text


def load_document(text: str, filename: str, environ: Mapping[str, str] | None = None) -> Document:
    """Compose ``text`` once under the limits above and build its data.

    Args:
        text: the suite file's text.
        filename: labels every issue.
        environ: variables for ``${NAME}``; defaults to ``os.environ``.

    Raises:
        SuiteError: a problem that leaves no document to check (syntax, size, depth, alias
            budget, control characters); one issue naming the line.
    """
    bad = _NON_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise _fatal(
            filename, line, f"control character U+{ord(bad.group()):04X} at column {column} is not allowed"
        )
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise _fatal(filename, None, f"suite text is larger than {MAX_BYTES // 1024} KiB")
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        raise _fatal(filename, *_yaml_problem(exc, text)) from None
    except (RecursionError, MemoryError):
        raise _fatal(filename, None, "invalid YAML: too deeply nested or too large to read") from None
    finally:
        loader.dispose()
    builder = _Builder(filename, os.environ if environ is None else environ, loader)
    if root is None:
        return Document(None)
    data = builder.build(root, ())
    return Document(data, builder.lines, builder.key_lines, builder.issues, builder.bad_paths)


def yaml_data(text: str, label: str) -> Any:
    """The data of YAML text that is not a suite file being validated, under the same limits.

    For a suite stored in the results or carried in an export manifest, and CLI options such as
    ``--params``: ``yaml.safe_load`` on them would expand an alias bomb without bound.

    Raises:
        SuiteError: invalid YAML or a limit exceeded (one issue, labelled ``label``).
    """
    document = load_document(text, label)
    if document.issues:  # a duplicate key or a refused tag must not be dropped silently
        raise SuiteError(document.issues)
    return document.data


# --------------------------------------------------------------------------- composing


class _LimitError(ComposerError):
    """A suite-loader limit (depth, size, recursive alias); its text is shown as is."""

    def __init__(self, problem: str, mark: yaml.Mark) -> None:
        super().__init__(None, None, problem, mark)


class _BoundedComposer(Composer):
    """PyYAML's composer with a depth limit, an expanded-size budget and no recursive aliases."""

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._values = 0
        self._heights = [0]
        self._open: set[str] = set()
        self._stats: dict[str, tuple[int, int]] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            anchor = event.anchor
            if anchor in self._open:
                raise _LimitError(
                    f"alias *{anchor} is used inside the value it names (a recursive structure)",
                    event.start_mark,
                )
            if anchor in self._stats:
                size, height = self._stats[anchor]
                self._count(size, event.start_mark, f" (alias *{anchor} expands to {size} values)")
                if self._depth + height > MAX_DEPTH:
                    raise _LimitError(
                        f"alias *{anchor} nests the document deeper than {MAX_DEPTH} levels",
                        event.start_mark,
                    )
                self._heights[-1] = max(self._heights[-1], height)
            return super().compose_node(parent, index)  # an undefined alias is PyYAML's error
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _LimitError(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        self._count(1, event.start_mark, "")
        start, anchor = self._values, event.anchor
        if anchor is not None:
            self._open.add(anchor)
        self._heights.append(0)
        node = super().compose_node(parent, index)
        height = self._heights.pop() + 1
        self._heights[-1] = max(self._heights[-1], height)
        self._depth -= 1
        if anchor is not None:
            self._open.discard(anchor)
            self._stats[anchor] = (self._values - start + 1, height)
        return node

    def _count(self, n: int, mark: yaml.Mark, why: str) -> None:
        self._values += n
        if self._values > MAX_VALUES:
            raise _LimitError(
                f"the document holds more than {MAX_VALUES:,} values{why}; a suite is small "
                "(split it, or check for an alias that expands without bound)",
                mark,
            )


if getattr(yaml, "__with_libyaml__", False):
    from yaml.cyaml import CParser as _Parser

    class _Loader(_BoundedComposer, _Parser, SafeConstructor, Resolver):  # type: ignore[misc]
        """libyaml's event parser (fast) + the bounded composer (ours) + PyYAML's scalar rules."""

        def __init__(self, text: str) -> None:
            _Parser.__init__(self, text)
            _BoundedComposer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

        def dispose(self) -> None:
            _Parser.dispose(self)

else:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Loader(Reader, Scanner, Parser, _BoundedComposer, SafeConstructor, Resolver):  # type: ignore[no-redef]
        """PyYAML's pure-Python reader/scanner/parser + the bounded composer."""

        def __init__(self, text: str) -> None:
            Reader.__init__(self, text)
            Scanner.__init__(self)
            Parser.__init__(self)
            _BoundedComposer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)


def _yaml_problem(exc: yaml.YAMLError, text: str) -> tuple[int | None, str]:
    """(line, one-line message) of a PyYAML/libyaml error."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(exc, _LimitError):
        return line, str(exc.problem)
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem is None:  # e.g. a ReaderError, which carries a character position instead
        position = getattr(exc, "position", None)
        if isinstance(position, int):
            line = text.count("\n", 0, position) + 1
        problem, context = str(exc), None
    if "maximum nesting depth" in str(problem):  # libyaml's own limit (1000) is reached first
        return line, f"nested deeper than {MAX_DEPTH} levels"
    if context and "duplicate anchor" in context:
        first = exc.context_mark.line + 1 if exc.context_mark else "?"
        return line, f"invalid YAML: {context.split(';')[0]} (first at line {first}); rename one"
    if context and "single document" in context:
        return line, "a suite file holds one YAML document; remove this second document ('---')"
    message = f"invalid YAML: {problem}"
    if context:
        context_mark = getattr(exc, "context_mark", None)
        where = ""
        if context_mark is not None and mark is not None and context_mark.line != mark.line:
            where = f" at line {context_mark.line + 1}"
        message += f" ({context}{where})"
    return line, message


# --------------------------------------------------------------------------- building


class _Builder:
    """Plain values from the (already bounded) node tree, with line map and collected issues."""

    def __init__(self, filename: str, environ: Mapping[str, str], scalars: SafeConstructor) -> None:
        self.filename = filename
        self.environ = environ
        self.scalars = scalars
        self.lines: dict[Loc, int] = {}
        self.key_lines: dict[Loc, int] = {}
        self.issues: list[SuiteIssue] = []
        self.bad_paths: set[Loc] = set()

    def issue(self, loc: Loc, node: yaml.Node, message: str, **kw: Any) -> None:
        self.issues.append(
            SuiteIssue(self.filename, node.start_mark.line + 1, ".".join(map(str, loc)), message, **kw)
        )
        self.bad_paths.add(loc)

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
            return self._mapping(node, loc)
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
            return [self.build(child, (*loc, i)) for i, child in enumerate(node.value)]
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, loc)
        self.issue(loc, node, f"YAML tag {_short(node.tag)} is not allowed; a suite holds {_ALLOWED_TAGS}")
        return None

    def _scalar(self, node: yaml.ScalarNode, loc: Loc) -> Any:
        tag = node.tag
        if tag in (_STR, _TIMESTAMP):  # dates stay the text the user wrote
            control = _CONTROL.search(node.value)
            if control:  # written as an escape ("\x00", "\a"): a value must be printable text too
                self.issue(loc, node, f"control character U+{ord(control.group()):04X} in a string value")
                return node.value
            return self._expand(node, loc)
        try:
            if tag == _INT:
                return self.scalars.construct_yaml_int(node)
            if tag == _FLOAT:
                return self.scalars.construct_yaml_float(node)
            if tag == _BOOL:
                return self.scalars.construct_yaml_bool(node)
            if tag == _NULL:
                return None
        except ValueError as exc:  # e.g. an integer over Python's 4300-digit conversion limit
            digits = sum(c.isdigit() for c in node.value)
            self.issue(loc, node, f"cannot read this number ({digits} digits; {str(exc).split(':')[0]})")
            return node.value
        self.issue(loc, node, f"YAML tag {_short(tag)} is not allowed; a suite holds {_ALLOWED_TAGS}")
        return node.value

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            key = self._key(key_node, loc)
            if key is None:
                continue
            line = key_node.start_mark.line + 1
            if key in first_line:
                self.issue(
                    (*loc, key),
                    key_node,
                    f"duplicate key {show(key)} (first at line {first_line[key]}); keep one",
                )
            else:
                first_line[key] = line
                self.key_lines[(*loc, key)] = line
            out[key] = self.build(value_node, (*loc, key))
        if not merges:
            return out
        merged: dict[str, Any] = {}
        for value_node in merges:  # built after the explicit keys, whose lines win in the line map
            self._merge(value_node, loc, merged)
        return {**merged, **out}

    def _key(self, key_node: yaml.Node, loc: Loc) -> str | None:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _STR:
            return key_node.value
        if isinstance(key_node, yaml.ScalarNode):
            kind = key_node.tag.rsplit(":", 1)[-1]
            self.issue(
                (*loc, key_node.value),
                key_node,
                f"mapping key {key_node.value!r} is read by YAML as {kind}, not a string; quote it",
            )
        else:
            kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
            self.issue(loc, key_node, f"a mapping key must be a string, not a {kind}")
        return None

    def _merge(self, value_node: yaml.Node, loc: Loc, merged: dict[str, Any]) -> None:
        """``<<: *base`` or ``<<: [*a, *b]``: earlier sources win, explicit keys win over all."""
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                self.issue(loc, source, "the merge key '<<' takes a mapping or a list of mappings")
                continue
            value = self.build(source, loc)
            if isinstance(value, dict):
                merged.update(value)

    def _expand(self, node: yaml.ScalarNode, loc: Loc) -> str:
        text = node.value
        if "$" not in text:
            return text
        out: list[str] = []
        pos = 0
        for match in _VAR_REF.finditer(text):
            out.append(text[pos : match.start()])
            pos = match.end()
            escaped, name, closed = match.groups()
            if escaped:
                out.append(match.group()[1:])
            elif not closed:
                self.issue(loc, node, "unclosed '${' (write ${NAME}, or $${ for a literal ${)", value=text)
                out.append(match.group())
            elif not _VAR_NAME.fullmatch(name):
                self.issue(
                    loc,
                    node,
                    f"'${{{name[:40]}}}' is not an environment variable reference "
                    "(use ${NAME} with letters, digits and _; $${ for a literal ${)",
                )
                out.append(match.group())
            elif name not in self.environ:
                self.issue(
                    loc,
                    node,
                    f"environment variable {name} is not set (used as ${{{name}}}); "
                    f"export {name}=... before running, or write $${{ for a literal ${{",
                )
                out.append(match.group())
            elif _CONTROL.search(self.environ[name]) or any(c in self.environ[name] for c in "\n\r\t"):
                # it would reach labels, file names and the terminal (escape sequences) unchecked
                self.issue(
                    loc,
                    node,
                    f"environment variable {name} holds a control character (used as ${{{name}}}); "
                    "set it to a plain value",
                )
                out.append(match.group())
            else:
                out.append(self.environ[name])
        out.append(text[pos:])
        return "".join(out)


# --------------------------------------------------------------------------- helpers


def _fatal(filename: str, line: int | None, message: str) -> SuiteError:
    return SuiteError([SuiteIssue(filename, line, "", message)])


def _short(tag: str) -> str:
    return show("!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag, 60)


def _position(raw: bytes, offset: int) -> tuple[int, int]:
    """1-based (line, column) of byte ``offset``."""
    line_start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, offset - line_start + 1
