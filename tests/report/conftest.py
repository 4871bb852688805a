"""Fixtures for the report tests: one real run of ``suites/ci.yaml``, shared across test modules.

The run is ``tests/conftest.py``'s session fixture ``ci_run``, shared with the gate tests (and, under
``make test``, with the gate's own run).
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def ci_results(ci_run: Path) -> Path:
    return ci_run
