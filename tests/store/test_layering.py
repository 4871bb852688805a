"""Stages import only downward: the store never loads the worker, the gate never loads the report.

Each check imports one module in a fresh interpreter and inspects ``sys.modules`` (what an import
pulls in transitively is what counts, not what the file names).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # one fresh interpreter per module (~5 s each on a busy machine)

CASES = [
    ("segbench.store", ("segbench.worker", "segbench.execute", "segbench.report", "torch", "pandas")),
    ("segbench.shards", ("segbench.worker", "segbench.store", "segbench.plan", "torch")),
    ("segbench.core.records", ("segbench.worker", "segbench.store", "segbench.suite", "torch", "numpy")),
    ("segbench.tools.gate", ("segbench.report", "segbench.worker", "torch")),
    ("segbench.stats.regression", ("segbench.report", "segbench.store")),
]


@pytest.mark.parametrize(("module", "forbidden"), CASES)
def test_module_does_not_import_upward(module: str, forbidden: tuple[str, ...]) -> None:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    bad = sorted({f for f in forbidden for m in loaded if m == f or m.startswith(f + ".")})
    assert not bad, f"import {module} loads {bad}"
