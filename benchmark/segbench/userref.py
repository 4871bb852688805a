"""A suite's own ``package.module:callable``, looked up without running any of its code.

Why: a suite file is data that names code.  ``validate``, ``run --dry-run``, ``preview``,
``report`` and ``check`` must be safe on a suite from anywhere, so they may only *find* the
module (its file, via :class:`importlib.machinery.PathFinder`, which, unlike
``importlib.util.find_spec("a.b")``, does not import the parent package ``a``) and read the
callable's signature from its source with :mod:`ast`.  Only ``segbench run`` with work to do
calls the factory, which imports the module then (that is its job).

Trust is an allowlist: a suite may name registered entries and callables defined in the user's
own modules, i.e. files outside the standard library and outside installed packages (a package
installed in editable mode lives in the user's folder and counts as their own).  Refused by name,
before anything is looked up: the standard library and builtins (``os:system``, ``subprocess:run``,
``builtins:exec`` ...) and segbench's own internals other than registered factories; refused by
where the module's file lies: any installed third-party package (``numpy.testing:runstring`` and
``pandas:eval`` run Python text from the suite's params; ``torch.hub:load`` downloads and runs code).
A denylist of such callables could never be complete.  The fix is one file the user writes and
therefore vouches for: ``def build(**kw): return ThirdPartyNet(**kw)`` beside the suite.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import importlib.util
import inspect
import io
import site
import sys
import sysconfig
from collections.abc import Callable
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from typing import Any

__all__ = [
    "REFUSED_PACKAGES",
    "UserFactory",
    "UserRefError",
    "add_user_folder",
    "find_module",
    "resolve_reference",
]

REFUSED_PACKAGES: frozenset[str] = frozenset(sys.stdlib_module_names) | {
    "builtins",
    "os",
    "subprocess",
    "__main__",
    "__future__",
}
"""Top-level packages whose callables a suite may never name (standard library and builtins)."""

_USER_FOLDERS: list[str] = []
"""Folders searched for a suite's own top-level module after ``sys.path`` (see :func:`add_user_folder`)."""

_UNKNOWN_SIGNATURE = inspect.Signature(
    [
        inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
        inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD),
    ]
)


class UserRefError(LookupError):
    """A ``module:callable`` reference that is malformed, refused, not found or fails to import.

    A ``LookupError`` like ``segbench.registry.RegistryError`` (which the registry raises
    instead), so a worker records it as a failed job and the CLI prints it as a usage error.
    """


class SourceDefault:
    """A parameter default that is not a literal (``act=nn.ReLU``), kept as its source text.

    Why not evaluate it: that would mean importing the module.  Its text is stable, so a job
    key that includes it does not change between ``--dry-run`` and ``run``.
    """

    def __init__(self, source: str) -> None:
        self.source = source

    def __repr__(self) -> str:
        return self.source

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SourceDefault) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)


class UserFactory:
    """A user's callable, imported on first call (or :meth:`load`); signature from its source.

    ``inspect.signature`` and ``inspect.getdoc`` work on it without importing anything, so
    parameter checks and ``segbench list`` treat it like a built-in factory.
    """

    def __init__(
        self,
        reference: str,
        kind: str,
        module: str,
        attr: str,
        origin: str | None,
        signature: inspect.Signature,
        doc: str | None,
    ) -> None:
        self.reference = reference
        self.kind = kind
        self.module = module
        self.attr = attr
        self.origin = origin
        self.__signature__ = signature
        self.__doc__ = doc
        self.__name__ = attr
        self._loaded: Callable[..., Any] | None = None

    def load(self) -> Callable[..., Any]:
        """Import the module and return the callable (cached).

        Raises:
            UserRefError: the import raised anything, ``SystemExit`` included, or the module
                has no such callable (the registry re-raises it as ``RegistryError``).
        """
        if self._loaded is None:
            printed = io.StringIO()
            try:  # argparse at import prints its usage text before exiting: keep it out of the terminal
                with contextlib.redirect_stderr(printed), contextlib.redirect_stdout(printed):
                    module = importlib.import_module(self.module)
            except (Exception, SystemExit) as exc:
                said = printed.getvalue().strip().splitlines()[-1:] or [""]
                what = (
                    f"SystemExit({exc.code!r}) (sys.exit or argparse at import?"
                    f"{' it printed: ' + said[0][:120] if said[0] else ''})"
                    if isinstance(exc, SystemExit)
                    else f"{type(exc).__name__}: {exc}"
                )
                raise UserRefError(
                    f"{self.kind} {self.reference!r}: importing module {self.module!r} failed with "
                    f"{what}; make the module importable without side effects"
                ) from None
            if printed.getvalue():  # what a module prints on a successful import is the user's business
                sys.stderr.write(printed.getvalue())
            factory = getattr(module, self.attr, None)
            if not callable(factory):
                raise UserRefError(
                    f"{self.kind} {self.reference!r}: module {self.module!r} has no callable {self.attr!r}"
                )
            self._loaded = factory
        return self._loaded

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.load()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"UserFactory({self.reference!r})"


def resolve_reference(
    reference: str,
    kind: str,
    internal: Callable[[str, str], Callable[..., Any] | None] | None = None,
) -> Callable[..., Any]:
    """Check ``module:callable`` and return a :class:`UserFactory` for it (nothing imported).

    Args:
        reference: ``package.module:callable`` as written in the suite.
        kind: ``"model"``, ``"dataset"`` or ``"perturbation"`` (for messages).
        internal: lookup of a registered factory defined in segbench itself
            (``segbench.models.unet:build``), which is returned as is.

    Raises:
        UserRefError: malformed, refused (standard library, builtins, segbench internals),
            module not found, or a module that certainly defines no such name.
    """
    module, sep, attr = reference.partition(":")
    parts = module.split(".")
    if not sep or not attr.isidentifier() or not all(p.isidentifier() for p in parts):
        raise UserRefError(
            f"{kind} {reference!r}: a user {kind} is written 'package.module:callable' "
            f"(identifiers only, e.g. 'my_nets.unets:build')"
        )
    top = parts[0]
    if top in REFUSED_PACKAGES:
        raise UserRefError(
            f"{kind} {reference!r} is refused: {top!r} is part of Python's standard library / builtins, "
            f"whose callables are not {kind} factories; name a registered {kind} or your own "
            f"'package.module:callable'"
        )
    if top == "segbench":
        factory = internal(module, attr) if internal else None
        if factory is None:
            raise UserRefError(
                f"{kind} {reference!r} is refused: it is a segbench internal, not a registered "
                f"{kind} factory; use the registered name (see 'segbench list')"
            )
        return factory
    spec = find_module(module)
    if spec is None:
        raise UserRefError(
            f"{kind} {reference!r}: cannot import module {module!r}: not found on the Python path, "
            f"beside the suite file or in the working directory (install it, put it beside the suite, "
            f"or set PYTHONPATH)"
        )
    origin = spec.origin if spec.origin and spec.has_location else None
    installed = _installed_location(spec)
    if installed is not None:
        raise UserRefError(
            f"{kind} {reference!r} is refused: {module!r} belongs to an installed package ({installed}), "
            f"and a suite may name only registered {kind}s and callables in your own modules; to use "
            f"it, wrap it in a two-line module beside the suite (my_{kind}s.py: "
            f"'from {module} import {attr}' and 'def build(**params): return {attr}(**params)') "
            f"and name 'my_{kind}s:build'"
        )
    signature, doc = _unknown(), None
    if origin and origin.endswith(".py"):
        found = _parsed_signature(origin, _mtime(origin), attr)
        if found is False:
            raise UserRefError(f"{kind} {reference!r}: module {module!r} ({origin}) defines no {attr!r}")
        if found is not None:
            signature, doc = found
    elif spec.submodule_search_locations is not None and origin is None:
        raise UserRefError(f"{kind} {reference!r}: {module!r} is a namespace package, not a module")
    return UserFactory(reference, kind, module, attr, origin, signature, doc)


def add_user_folder(folder: str | Path) -> None:
    """Also look for a suite's own modules in ``folder`` (the suite file's folder, the working directory).

    Why: the ``segbench`` console script, unlike ``python -c``, does not put the working directory
    on ``sys.path``, so ``my_models.py`` beside the suite was "not found".  A folder is only searched
    for a top-level name that ``sys.path`` does not have, and is then *appended* to ``sys.path`` (so
    workers inherit it): it can never shadow an installed package.  Nothing is imported here.
    """
    resolved = str(Path(folder).resolve())
    if resolved not in _USER_FOLDERS:
        _USER_FOLDERS.append(resolved)


def _find_top_level(name: str) -> ModuleSpec | None:
    spec = importlib.util.find_spec(name)
    if spec is not None:
        return spec
    for folder in _USER_FOLDERS:
        spec = PathFinder.find_spec(name, [folder])
        if spec is not None:
            if folder not in sys.path:
                sys.path.append(folder)
                importlib.invalidate_caches()
            return spec
    return None


def find_module(name: str) -> ModuleSpec | None:
    """Locate module ``name`` (dotted) without importing it or its parent packages.

    Why not ``importlib.util.find_spec(name)``: for ``a.b`` it imports package ``a`` first,
    which runs ``a/__init__.py``.  Here only the top-level name goes through the import system's
    finders (``importlib.util.find_spec("a")`` locates, it does not execute; this also finds
    packages installed in editable mode by a meta-path finder), and each further level is
    looked up with :class:`PathFinder` in the parent's ``submodule_search_locations``: file
    system reads only.
    """
    parts = name.split(".")
    spec = None
    search: list[str] | None = None
    for depth in range(len(parts)):
        try:
            if depth == 0:
                spec = _find_top_level(parts[0])
            else:
                spec = PathFinder.find_spec(".".join(parts[: depth + 1]), search)
        except (ImportError, ValueError):
            return None
        if spec is None:
            return None
        search = list(spec.submodule_search_locations or [])
        if depth < len(parts) - 1 and not search:
            return None  # a plain module has no submodules
    return spec


@functools.cache
def _installed_roots() -> tuple[Path, ...]:
    """Folders holding the standard library and installed packages (site-packages, dist-packages)."""
    roots = {sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    roots.add(site.getusersitepackages() if hasattr(site, "getusersitepackages") else None)
    roots.update(p for p in sys.path if Path(p).name in ("site-packages", "dist-packages"))
    return tuple(Path(r).resolve() for r in roots if r)


def _installed_location(spec: ModuleSpec) -> str | None:
    """The installed-packages folder that holds ``spec``'s file(s), or None for the user's own module."""
    places = [spec.origin] if spec.origin and spec.has_location else []
    places += list(spec.submodule_search_locations or [])
    for place in places:
        path = Path(place).resolve()
        for root in _installed_roots():
            if path.is_relative_to(root):
                return str(root)
    return None


def _mtime(path: str) -> int:
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return -1


@functools.lru_cache(maxsize=256)
def _parsed_signature(
    origin: str, mtime_ns: int, attr: str
) -> tuple[inspect.Signature, str | None] | bool | None:
    # Cached by file and modification time: the plan looks a reference up once per job, and a
    # long-lived process (a notebook, the test suite) still sees an edited file.
    return _static_signature(Path(origin), attr)


def _unknown() -> inspect.Signature:
    return _UNKNOWN_SIGNATURE


def _static_signature(path: Path, attr: str) -> tuple[inspect.Signature, str | None] | bool | None:
    """``attr``'s signature and docstring read from ``path``'s source.

    Returns:
        ``(signature, doc)`` for a top-level ``def`` (or a class with ``__init__``); ``None``
        when the name is bound some other way (assignment, import, ``__getattr__``: the
        signature is unknown, so parameters are not checked); ``False`` when the module
        certainly does not define it.
    """
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    bound = False
    for node in _top_level(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == attr:
            return _signature_of(node.args, drop_first=False), ast.get_docstring(node)
        if isinstance(node, ast.ClassDef) and node.name == attr:
            init = next(
                (n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None
            )
            if init is None:
                return None
            return _signature_of(init.args, drop_first=True), ast.get_docstring(node)
        if attr in _names_bound(node) or _binds_anything(node):
            bound = True
    return None if bound else False


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements at module level, looking into ``if``/``try``/``with`` blocks."""
    out: list[ast.stmt] = []
    for node in body:
        out.append(node)
        for block in ("body", "orelse", "finalbody"):
            if isinstance(node, ast.If | ast.Try | ast.With) and hasattr(node, block):
                out.extend(_top_level(getattr(node, block)))
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                out.extend(_top_level(handler.body))
    return out


def _names_bound(node: ast.stmt) -> set[str]:
    names: set[str] = set()
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        names.add(node.name)
    elif isinstance(node, ast.Import | ast.ImportFrom):
        names.update((a.asname or a.name).split(".")[0] for a in node.names)
    elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _binds_anything(node: ast.stmt) -> bool:
    """A star import, a module ``__getattr__`` or ``globals()`` use: any name may exist."""
    if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
        return True
    if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
        return True
    return any(isinstance(n, ast.Name) and n.id in ("globals", "setattr") for n in ast.walk(node))


def _signature_of(args: ast.arguments, drop_first: bool) -> inspect.Signature:
    P = inspect.Parameter
    positional = [*args.posonlyargs, *args.args]
    defaults: list[Any] = [P.empty] * (len(positional) - len(args.defaults)) + [
        _default(d) for d in args.defaults
    ]
    params = []
    for i, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = P.POSITIONAL_ONLY if i < len(args.posonlyargs) else P.POSITIONAL_OR_KEYWORD
        params.append(P(arg.arg, kind, default=default))
    if drop_first and params:
        params = params[1:]
    if args.vararg:
        params.append(P(args.vararg.arg, P.VAR_POSITIONAL))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append(P(arg.arg, P.KEYWORD_ONLY, default=P.empty if default is None else _default(default)))
    if args.kwarg:
        params.append(P(args.kwarg.arg, P.VAR_KEYWORD))
    try:
        return inspect.Signature(params)
    except ValueError:  # e.g. a positional-only default order Python itself would reject
        return _unknown()


def _default(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return SourceDefault(ast.unparse(node))
