"""Fixtures for the report tests: one real run of ``suites/ci.yaml``, shared across test modules.

Why a session-wide folder rather than a fixture per module: the gate tests (``tests/test_gate.py``) need
the same run, and ``run_suite`` resumes, so a second caller finds every job done and returns at once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from segbench import api

REPO = Path(__file__).resolve().parents[2]
CI_SUITE = REPO / "suites" / "ci.yaml"


def ci_results_dir(factory: pytest.TempPathFactory) -> Path:
    """Results folder holding a complete run of ``suites/ci.yaml`` (trained on first use)."""
    results = factory.getbasetemp() / "ci-results"
    summary = api.run_suite(CI_SUITE, results, quiet=True)
    assert summary.ok, summary.failed
    return results


@pytest.fixture(scope="module")
def ci_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ci_results_dir(tmp_path_factory)
