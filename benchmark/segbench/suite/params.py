"""Check a registry entry's suite ``params`` against its factory signature, by value.

Why from the signature: the factory's keyword arguments are already typed and defaulted
(``size: int = 256``, ``channels: tuple[int, ...] = ...``), so a parameter model built from
them (pydantic ``create_model``) checks types and ``Literal`` choices with no second schema to
keep in sync.  An unannotated parameter accepts anything.

Scalars are checked strictly (``size: "32"`` or ``size: 32.5`` is an error, ``lr: 1`` for a
float is fine) because the suite's values are passed to the factory *unchanged*: coercing them
here would hide a value the factory then rejects an hour into a run, and changing them would
change the job keys.  Containers stay lax, so a YAML list fills a ``tuple`` and a string fills
a ``Path``.

An entry may add cross-field rules with ``check=`` in its registration
(``register_dataset("x", check=fn)``, or ``hooks={"check": fn}``): ``fn(params) -> list[str]``
gets the defaults merged with the suite's values (only when every value has the right type) and
returns problems; a problem starting with ``"<param>: "`` is reported at that parameter's line.
"""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, create_model

from segbench.suite.errors import _MISSING, show

__all__ = ["ParamProblem", "check_params", "signature_defaults"]


@dataclass(frozen=True)
class ParamProblem:
    """One problem with ``params``; ``loc`` is relative to the params mapping."""

    loc: tuple[Any, ...]
    message: str
    value: Any = _MISSING
    at_key: bool = False
    """Report at the key's line (an unknown key) rather than the value's."""


def check_params(
    entry: Any, params: dict[str, Any], *, exclude: Iterable[str] = (), run_check: bool = True
) -> list[ParamProblem]:
    """Unknown keys, missing required keys, wrongly typed values and the entry's own ``check``.

    Args:
        entry: a registry ``Entry`` (``name``, ``factory``, ``meta``).
        params: the suite's params for it (raw YAML values).
        exclude: parameters the runner fills in (not settable, not required).
        run_check: also run ``entry.meta["check"]`` when every value is well typed.

    Returns:
        Problems, empty when the params are valid; never raises for a bad entry or check.
    """
    spec = _spec(entry, frozenset(exclude))
    if spec is None:  # no inspectable signature (a builtin, a C extension): nothing to check
        return []
    problems: list[ParamProblem] = []
    for key in params:
        if key not in spec.fields and not spec.var_keyword:
            close = difflib.get_close_matches(str(key), list(spec.fields), n=1) if len(str(key)) < 100 else []
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            allowed = ", ".join(spec.fields) or "none"
            problems.append(
                ParamProblem(
                    (key,),
                    f"{entry.name!r} has no parameter {show(key)}{hint}; allowed: {allowed}",
                    at_key=True,
                )
            )
    known = {k: v for k, v in params.items() if k in spec.fields}
    typed_ok = True
    try:
        spec.model.model_validate(known)
    except ValidationError as exc:
        typed_ok = False
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            name = loc[0] if loc else ""
            if err["type"] == "missing":
                problems.append(ParamProblem(loc, f"{entry.name!r} needs parameter {name!r}"))
                continue
            expected = spec.described.get(name, "")
            message = err["msg"].removeprefix("Value error, ") + (
                f"; {name!r} takes {expected}" if expected else ""
            )
            problems.append(ParamProblem(loc, message, err.get("input", _MISSING)))
    check = getattr(entry, "hooks", {}).get("check") or getattr(entry, "meta", {}).get("check")
    if run_check and typed_ok and callable(check):
        merged = {**spec.defaults, **known}
        problems.extend(_run_check(entry.name, check, merged, spec.fields))
    return problems


def signature_defaults(entry: Any, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The factory's settable parameters with their defaults (required ones omitted)."""
    spec = _spec(entry, frozenset(exclude))
    return dict(spec.defaults) if spec else {}


# --------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Spec:
    model: type[BaseModel]
    fields: tuple[str, ...]
    defaults: dict[str, Any]
    described: dict[str, str]
    var_keyword: bool


_SPECS: dict[tuple[str, Any, frozenset[str]], _Spec | None] = {}
_CONFIG = ConfigDict(extra="ignore", arbitrary_types_allowed=True)


def _spec(entry: Any, exclude: frozenset[str]) -> _Spec | None:
    factory = getattr(entry, "factory", None)
    # Keyed by the factory itself (not its id, which a freed function's successor may reuse).
    key = (str(getattr(entry, "name", "")), factory, exclude)
    if key not in _SPECS:
        _SPECS[key] = _build_spec(entry, factory, exclude)
    return _SPECS[key]


def _build_spec(entry: Any, factory: Any, exclude: frozenset[str]) -> _Spec | None:
    try:  # a suite's own module:callable has a signature read from its source (not imported)
        signature = entry.signature() if hasattr(entry, "signature") else inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    accepted = (
        entry.parameters()
        if hasattr(entry, "parameters")
        else {
            n: p
            for n, p in signature.parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }
    )
    var_keyword = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    # User code is not imported, so its annotations can only be resolved against builtins.
    namespace = {} if getattr(entry, "is_user_code", False) else getattr(factory, "__globals__", {})
    fields: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    described: dict[str, str] = {}
    names: list[str] = []
    for name, param in accepted.items():
        if name in exclude:
            continue
        annotation = _tighten(_evaluate(param.annotation, namespace))
        required = param.default is inspect.Parameter.empty
        # Internal field names with the parameter as alias: a parameter may be called ``copy``,
        # ``json`` or ``model_config``, which a pydantic field cannot.
        names.append(name)
        fields[f"p{len(names)}"] = (annotation, Field(... if required else param.default, alias=name))
        if not required:
            defaults[name] = param.default
        text = _describe(param.annotation)
        if text:
            described[name] = text + ("" if required else f" (default {show(param.default, 40)})")
    title = "Params_" + "".join(c if c.isalnum() else "_" for c in str(entry.name))
    try:
        model = create_model(title, __config__=_CONFIG, **fields)
        model.model_rebuild(raise_errors=True)
    except Exception:
        fields = {n: (a if _buildable(a) else Any, d) for n, (a, d) in fields.items()}
        model = create_model(title, __config__=_CONFIG, **fields)
    return _Spec(model, tuple(names), defaults, described, var_keyword)


def _evaluate(annotation: Any, namespace: dict[str, Any]) -> Any:
    """The annotation as an object; a string (``from __future__ import annotations``) is evaluated
    in the factory's module, and anything unresolvable (a lazily imported type) becomes ``Any``."""
    if annotation is inspect.Parameter.empty:
        return Any
    if isinstance(annotation, str):
        try:
            annotation = eval(annotation, dict(namespace), {})
        except Exception:
            return Any
    # A quoted forward reference (``x: "Foo"``) or a typing.ForwardRef left unresolved: anything goes.
    return Any if isinstance(annotation, str | typing.ForwardRef) else annotation


_STRICT_SCALARS = (int, float, str, bool)


def _tighten(annotation: Any) -> Any:
    """Make the scalars inside ``annotation`` strict (see the module docstring); keep the rest."""
    if annotation in _STRICT_SCALARS:
        return Annotated[annotation, Strict()]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is None or not args or origin in (typing.Literal, Annotated):
        return annotation
    inner = tuple(a if a is Ellipsis else _tighten(a) for a in args)
    try:
        if origin in (typing.Union, types.UnionType):
            return typing.Union[inner]  # noqa: UP007 - rebuilding a union from a tuple of args
        return origin[inner]
    except TypeError:
        return annotation


def _buildable(annotation: Any) -> bool:
    try:
        create_model("_Probe", __config__=_CONFIG, x=(annotation, None)).model_rebuild(raise_errors=True)
    except Exception:
        return False
    return True


def _describe(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return ""
    if isinstance(annotation, str):
        return annotation
    return inspect.formatannotation(annotation)


def _run_check(
    name: str, check: Callable[[dict[str, Any]], Any], params: dict[str, Any], fields: tuple[str, ...]
) -> list[ParamProblem]:
    try:
        messages = list(check(dict(params)) or [])
    except Exception as exc:
        return [ParamProblem((), f"{name!r}: its parameter check failed: {type(exc).__name__}: {exc}")]
    problems = []
    for message in messages:
        text = str(message)
        head, sep, rest = text.partition(": ")
        if sep and head in fields:
            value = params.get(head, _MISSING)
            shown = value is not _MISSING and repr(value)[:40] in rest  # the check already quotes it
            problems.append(ParamProblem((head,), rest, _MISSING if shown else value))
        else:
            problems.append(ParamProblem((), text))
    return problems
