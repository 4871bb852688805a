"""Hand-built shards and suite stand-ins for fast store tests (no training, no torch)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reliability"))
from faults import FakeJob, FakeModel, ShardFactory


@pytest.fixture
def shards() -> ShardFactory:
    return ShardFactory()


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return tmp_path / "results"


@pytest.fixture
def fake_jobs() -> Callable[..., list[FakeJob]]:
    def make(*specs: tuple[str, str], conditions: tuple[str, ...] = ("none",)) -> list[FakeJob]:
        return [FakeJob(key, FakeModel(label), conditions) for key, label in specs]

    return make
