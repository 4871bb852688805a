"""Name -> factory registries for models, datasets and perturbations.

Why: adding a model, dataset or perturbation must be one small file plus a decorator line
(as timm's ``@register_model``), and a suite must be able to name a user's own factory as
``package.module:callable`` without registering it.  Duplicate names raise instead of
silently shadowing an entry (timm only warns).

Trust model: a suite that names ``package.module:callable`` runs that code, but only when it
trains (``segbench run`` with work to do).  Looking a reference up (``validate``, ``run
--dry-run``, ``preview``, ``report``, ``check``) never imports it: :mod:`segbench.userref`
finds the module's file without executing any package ``__init__`` and reads the callable's
signature from its source.  Callables of the standard library, builtins and segbench's own
internals are refused by name, so a suite cannot smuggle in ``os:system``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from segbench.core import RUNNER_ARGS

__all__ = [
    "DATASETS",
    "MODELS",
    "PERTURBATIONS",
    "Entry",
    "Registry",
    "RegistryError",
    "register_dataset",
    "register_model",
    "register_perturbation",
]

# Packages whose import registers the built-in entries; imported lazily so that
# ``segbench.registry`` itself stays import-cycle free.  Each is cheap to import: the entry
# modules import torch/MONAI/scipy inside their factories.
_BUILTIN_PACKAGES = ("segbench.models", "segbench.datasets", "segbench.perturbations")


class RegistryError(LookupError):
    """An unknown, duplicate, refused or unloadable entry; the message says how to fix it."""


@dataclass(frozen=True)
class Entry:
    """One registered factory with its metadata (e.g. a perturbation's severity table).

    Attributes:
        name: registry name, or the ``module:callable`` reference a suite gave.
        factory: the callable.  For a user reference it is a :class:`UserFactory` that imports
            the module only when called; its signature and docstring come from the source.
        meta: JSON-friendly metadata shown by ``segbench list`` (levels, dims, ...).
        hooks: callables that belong to the entry but not to ``meta`` (a perturbation's
            renderer and sampler), so ``meta`` stays printable.
    """

    name: str
    factory: Callable[..., Any]
    meta: dict[str, Any] = field(default_factory=dict)
    hooks: dict[str, Callable[..., Any]] = field(default_factory=dict, repr=False)

    @property
    def summary(self) -> str:
        """First line of the factory's docstring, for ``segbench list``."""
        doc = inspect.getdoc(self.factory) or ""
        return doc.splitlines()[0] if doc else ""

    @property
    def is_user_code(self) -> bool:
        """Whether the entry is a suite's own ``module:callable`` (not imported yet)."""
        from segbench.userref import UserFactory

        return isinstance(self.factory, UserFactory)

    def signature(self) -> inspect.Signature:
        """The factory's signature (read from the source, without importing, for user code)."""
        static = getattr(self.factory, "__signature__", None)  # a user factory's, read from source
        return static if isinstance(static, inspect.Signature) else _signature(self.factory)

    def accepts_any_keyword(self) -> bool:
        """Whether the factory takes ``**kwargs`` (or its signature could not be read)."""
        return any(p.kind is p.VAR_KEYWORD for p in self.signature().parameters.values())

    def parameters(self) -> dict[str, inspect.Parameter]:
        """Keyword parameters a suite may set (``*args``/``**kwargs`` and runner arguments excluded)."""
        params = self.signature().parameters
        return {
            name: p
            for name, p in params.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name not in RUNNER_ARGS
        }

    def spatial_dims(self, params: dict[str, Any] | None = None) -> int | None:
        """2 or 3 for a dataset: read from its files when it has a ``spatial_dims`` hook.

        Why: a datalist or nnU-Net folder holds PNGs or NIfTI volumes, so only its files can
        say; synthetic datasets declare ``dims=`` instead. None when neither knows.
        """
        hook = self.hooks.get("spatial_dims") or self.meta.get("spatial_dims")
        found = hook(dict(params or {})) if callable(hook) else None
        dims = found or self.meta.get("dims")
        return int(dims) if dims is not None else None

    def load(self) -> Callable[..., Any]:
        """The real callable, importing a user module now (``segbench run`` only).

        Raises:
            RegistryError: the module fails to import (any exception, ``SystemExit`` from an
                argparse call at import included) or has no such callable.
        """
        from segbench.userref import UserFactory, UserRefError

        if isinstance(self.factory, UserFactory):
            try:
                return self.factory.load()
            except UserRefError as exc:
                raise RegistryError(str(exc)) from None
        return self.factory


class Registry:
    """A named collection of factories; ``get`` also accepts ``module:callable``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(
        self, name: str, *, hooks: dict[str, Callable[..., Any]] | None = None, **meta: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering ``factory`` under ``name``; ``meta`` is kept on the entry."""

        def decorator(factory: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._entries:
                raise RegistryError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = Entry(name, factory, dict(meta), dict(hooks or {}))
            return factory

        return decorator

    def names(self) -> list[str]:
        """Sorted registered names (built-ins loaded first)."""
        _load_builtins()
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: str) -> bool:
        _load_builtins()
        return name in self._entries

    def get(self, name: str) -> Entry:
        """The entry for a registered name or a ``module:callable`` reference.

        A reference is located and its signature read without importing it (see the module
        docstring); :meth:`Entry.load` or calling the factory imports it.

        Raises:
            RegistryError: unknown name, a refused reference (standard library, builtins,
                segbench internals) or a module that cannot be found.
        """
        _load_builtins()
        if name in self._entries:
            return self._entries[name]
        if ":" in name:
            from segbench.userref import UserRefError, resolve_reference

            try:
                return Entry(name, resolve_reference(name, self.kind, self._internal_factory))
            except UserRefError as exc:
                raise RegistryError(str(exc)) from None
        raise RegistryError(
            f"unknown {self.kind} {name!r}; registered: {', '.join(sorted(self._entries))} "
            f"(or give your own as 'package.module:callable')"
        )

    def _internal_factory(self, module: str, attr: str) -> Callable[..., Any] | None:
        """The registered factory defined as ``module.attr`` (``segbench.models.unet:build``)."""
        for entry in self._entries.values():
            factory = entry.factory
            if getattr(factory, "__module__", None) == module and getattr(factory, "__name__", None) == attr:
                return factory
        return None


@functools.lru_cache(maxsize=1024)
def _signature(factory: Callable[..., Any]) -> inspect.Signature:
    # Cached: the plan asks for every job's defaults (hundreds of calls for one suite).
    return inspect.signature(factory)


_loaded = False


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True  # first: the built-in packages' own imports may consult the registries
    try:
        for package in _BUILTIN_PACKAGES:
            importlib.import_module(package)
    except BaseException:
        _loaded = False  # an interrupted first import must not leave the registries empty for good
        raise


MODELS = Registry("model")
DATASETS = Registry("dataset")
PERTURBATIONS = Registry("perturbation")

register_model = MODELS.register
register_dataset = DATASETS.register
register_perturbation = PERTURBATIONS.register
