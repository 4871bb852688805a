"""The package's layering: who may import whom, no import cycles, light commands stay light.

Data flows one way (suite -> plan -> execute/worker -> store -> stats -> report), so each stage
imports only downward.  The contract is the table ``LAYERS`` below (plus the finer ``CONTRACTS``),
checked on the static import graph (every ``import segbench...`` in a module, function-level lazy
and type-only imports included, because a lazy import is still a dependency), on each module's
direct imports; no two packages may import each other, even through a third.

One subprocess does all runtime checks, to stay fast: it first imports the light entry points
(``segbench.plan``, ``segbench.suite.load``, ``segbench.cli``, ``segbench.api`` with the built-in
registries loaded) each in a forked child of a clean interpreter and reports whether torch or
MONAI got imported; then it preloads the heavy third-party libraries and imports every segbench
module in its own forked child (a fresh ``sys.modules`` for segbench each time), which fails on
an import cycle that only bites when a module is imported first.  ``segbench.core`` is probed
first and then shared by the later children: it imports nothing else from segbench (a contract
below), so no cycle can pass through it, and its pydantic records are half of each child's cost.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "benchmark" / "segbench"

# The stages from the bottom up.  A package (or root module) may import only from a lower row; two
# packages of one row are siblings and import neither each other nor anything above.  Every package
# and root module of segbench must appear here, so a new one has to be given its place.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("cases", "metrics", "paths", "progress", "provenance", "references", "seeding", "shards", "userref"),
    ("registry",),
    ("datasets", "models", "perturbations"),
    ("suite",),
    ("plan",),
    ("store", "stats", "worker"),
    ("execute", "report"),
    ("tools",),
    ("api",),
    ("cli",),
)

# Finer rules inside the table's order: (name, importer layers, forbidden target layers, xfail reason).
# A layer is a module path prefix below ``segbench.`` ("suite" = segbench.suite and segbench.suite.*).
CONTRACTS: list[tuple[str, tuple[str, ...], tuple[str, ...], str | None]] = [
    ("core imports nothing from segbench", ("core",), ("*",), None),
    ("the gate does not import report (it must stay cheap in CI)", ("tools.gate",), ("report",), None),
]


LIGHT = ("segbench.plan", "segbench.suite.load", "segbench.cli", "segbench.api", "segbench.registry")
HEAVY = ("torch", "monai")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(_module_name(p) for p in PACKAGE.rglob("*.py"))


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    """segbench modules imported by ``path`` (``from pkg import submodule`` resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "segbench")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "segbench":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    found.discard(_module_name(path))
    return found


def _graph(top_level_only: bool = False) -> dict[str, set[str]]:
    return {_module_name(p): _imports(p, top_level_only) for p in PACKAGE.rglob("*.py")}


def _in_layer(module: str, layer: str) -> bool:
    if layer == "*":
        return module.startswith("segbench.")
    prefix = f"segbench.{layer}"
    return module == prefix or module.startswith(prefix + ".")


def _violations(importers: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    """Direct imports from an importer layer into a forbidden one.

    Why direct, not transitive: every layer has its own contract, so a chain
    ``report -> store -> worker`` is reported once, at the culprit (``store``), instead of at
    every layer above it.
    """
    graph = _graph()
    return [
        f"{module} -> {target}"
        for module in MODULES
        if any(_in_layer(module, layer) for layer in importers)
        for target in sorted(graph[module])
        if any(_in_layer(target, f) for f in forbidden)
        and not any(_in_layer(target, layer) for layer in importers)
    ]


@pytest.mark.parametrize(
    ("importers", "forbidden"),
    [
        pytest.param(
            c[1], c[2], id=c[0], marks=[pytest.mark.xfail(reason=c[3], strict=False)] if c[3] else []
        )
        for c in CONTRACTS
    ],
)
def test_layer_contract(importers: tuple[str, ...], forbidden: tuple[str, ...]) -> None:
    bad = _violations(importers, forbidden)
    assert not bad, "forbidden imports (import chain):\n  " + "\n  ".join(bad)


def _package(module: str) -> str:
    """``segbench.worker.job`` -> ``worker``; a root module is its own package."""
    return module.split(".")[1]


def _package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, targets in _graph().items():
        if module == "segbench":
            continue
        edges = graph.setdefault(_package(module), set())
        edges.update(_package(t) for t in targets if t != "segbench" and _package(t) != _package(module))
    return graph


def test_every_package_has_a_layer() -> None:
    placed = [name for row in LAYERS for name in row]
    assert len(placed) == len(set(placed)), "a package is listed twice in LAYERS"
    missing = sorted(set(_package_graph()) - set(placed))
    assert not missing, f"give these packages a row in LAYERS: {missing}"


def test_imports_go_only_down_the_layers() -> None:
    """Every import, lazy and type-only ones included, goes to a strictly lower row of ``LAYERS``."""
    rank = {name: i for i, row in enumerate(LAYERS) for name in row}
    graph = _graph()
    bad = [
        f"{module} -> {target}"
        for module in sorted(graph)
        if module != "segbench"
        for target in sorted(graph[module])
        if target != "segbench"
        and _package(target) != _package(module)
        and rank.get(_package(target), -1) >= rank.get(_package(module), -1)
    ]
    assert not bad, "imports up or sideways between packages:\n  " + "\n  ".join(bad)


def test_no_import_cycles_between_packages() -> None:
    cycles = _cycles(_package_graph())
    assert not cycles, f"package cycles (lazy imports included): {cycles}"


def _cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[tuple[str, ...]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(tuple(sorted(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _package_edges_removed(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # A package's __init__ re-exporting its own submodules is not a cycle worth reporting.
    return {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}


def test_no_import_cycles_between_modules() -> None:
    cycles = _cycles(_package_edges_removed(_graph()))
    assert not cycles, f"import cycles (lazy imports included): {cycles}"


_PROBE = textwrap.dedent(
    """
    import importlib, json, os, sys

    def in_child(fn):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                result = fn()
            except BaseException as exc:
                result = {"error": f"{type(exc).__name__}: {exc}"}
            os.write(w, json.dumps(result).encode())
            os._exit(0)
        os.close(w)
        chunks = []
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
        os.close(r)
        os.waitpid(pid, 0)
        return json.loads(b"".join(chunks) or b'{"error": "child died"}')

    mode, heavy, names = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
    out = {}

    def light_probe(name):
        def run():
            importlib.import_module(name)
            from segbench.registry import DATASETS, MODELS, PERTURBATIONS
            for registry in (MODELS, DATASETS, PERTURBATIONS):
                registry.names()  # the built-in entry modules must be cheap too
            return {"heavy": sorted(m for m in heavy if m in sys.modules)}
        return run

    if mode == "light":
        for name in names:
            out[name] = in_child(light_probe(name))
        print(json.dumps(out))
        sys.exit(0)
    for lib in ("numpy", "torch", "monai.networks.nets", "monai.transforms", "pandas", "scipy.stats",
                "plotly.graph_objects", "skimage.feature", "statsmodels.stats.multitest", "rich.progress"):
        try:
            importlib.import_module(lib)  # shared by every child below: each fork is then cheap
        except ImportError:
            pass

    def module_probe(name):
        def run():
            importlib.import_module(name)
            return {"ok": True}
        return run

    core = [name for name in names if name == "segbench.core" or name.startswith("segbench.core.")]
    for name in core:
        out[name] = in_child(module_probe(name))
    for name in core:
        try:
            importlib.import_module(name)  # core imports no other segbench package (a contract above),
        except BaseException:  # so no cycle runs through it: every fork below may share it
            pass
    for name in names:
        if name not in out:
            out[name] = in_child(module_probe(name))
    print(json.dumps(out))
    """
)


def _probe(mode: str, names: tuple[str, ...] | list[str]) -> dict:
    if not hasattr(os, "fork"):
        pytest.skip("needs os.fork (POSIX)")
    args = [mode, ",".join(HEAVY), ",".join(names)]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PACKAGE.parent,
        env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_light_entry_points_import_no_torch_or_monai() -> None:
    """``segbench --help/list/validate/run --dry-run`` import only these (about 1 s in all)."""
    results = _probe("light", LIGHT)
    for name in LIGHT:
        assert "error" not in results[name], results[name]
        assert results[name]["heavy"] == [], (
            f"importing {name} (registries loaded) imported {results[name]['heavy']}"
        )


@pytest.mark.slow
def test_every_module_imports_on_its_own() -> None:
    results = _probe("modules", MODULES)
    failed = {m: r["error"] for m, r in results.items() if "error" in r}
    assert not failed, f"modules that fail when imported first (an import cycle?): {failed}"
