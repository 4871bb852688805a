"""Name -> factory registries for models, datasets and perturbations.

Why: adding a model, dataset or perturbation must be one small file plus a decorator line
(as timm's ``@register_model``), and a suite must be able to name a user's own factory as
``package.module:callable`` without registering it.  Duplicate names raise instead of
silently shadowing an entry (timm only warns).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
# ``segbench.registry`` itself stays import-cycle free.
_BUILTIN_PACKAGES = ("segbench.models", "segbench.datasets", "segbench.perturbations")


class RegistryError(LookupError):
    """An unknown, duplicate or unloadable registry entry; the message says how to fix it."""


@dataclass(frozen=True)
class Entry:
    """One registered factory with its metadata (e.g. a perturbation's severity table)."""

    name: str
    factory: Callable[..., Any]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """First line of the factory's docstring, for ``segbench list``."""
        doc = inspect.getdoc(self.factory) or ""
        return doc.splitlines()[0] if doc else ""

    def parameters(self) -> dict[str, inspect.Parameter]:
        """Keyword parameters a suite may set (``*args``/``**kwargs`` and ``rng`` excluded)."""
        params = inspect.signature(self.factory).parameters
        return {
            name: p
            for name, p in params.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name not in _INJECTED
        }


# Arguments the runner fills in itself; a suite never sets them.
_INJECTED = frozenset({"rng", "image", "label", "severity", "complexity"})


class Registry:
    """A named collection of factories; ``get`` also accepts ``module:callable``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, **meta: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering ``factory`` under ``name``; ``meta`` is kept on the entry."""

        def decorator(factory: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._entries:
                raise RegistryError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = Entry(name, factory, dict(meta))
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
        """The entry for a registered name or a ``module:callable`` reference."""
        _load_builtins()
        if name in self._entries:
            return self._entries[name]
        if ":" in name:
            return Entry(name, _import_callable(name, self.kind))
        raise RegistryError(
            f"unknown {self.kind} {name!r}; registered: {', '.join(sorted(self._entries))} "
            f"(or give your own as 'package.module:callable')"
        )


def _import_callable(reference: str, kind: str) -> Callable[..., Any]:
    module_name, _, attr = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistryError(f"{kind} {reference!r}: cannot import module {module_name!r} ({exc})") from exc
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise RegistryError(f"{kind} {reference!r}: module {module_name!r} has no callable {attr!r}")
    return factory


_loaded = False


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for package in _BUILTIN_PACKAGES:
            importlib.import_module(package)


MODELS = Registry("model")
DATASETS = Registry("dataset")
PERTURBATIONS = Registry("perturbation")

register_model = MODELS.register
register_dataset = DATASETS.register
register_perturbation = PERTURBATIONS.register
