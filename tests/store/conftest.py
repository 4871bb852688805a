"""Hand-built shards and suite stand-ins for fast store tests (no training, no torch)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from segbench.shards import write_shard


@dataclass(frozen=True)
class FakeModel:
    display: str


@dataclass(frozen=True)
class FakeJob:
    """What ``Store.record_suite`` reads from a ``TrainJob``: key, label, conditions and their keys."""

    key: str
    model: FakeModel
    conditions: tuple[str, ...] = ("none",)

    def condition_key(self, condition: str) -> str:
        return f"{self.key}:{condition}"


@dataclass
class ShardFactory:
    """Builds shard dicts; ``cases`` maps case id -> dice (other metrics derived by hand)."""

    counter: int = 0
    written: list[Path] = field(default_factory=list)

    def __call__(
        self,
        job_key: str = "jobA",
        conditions: tuple[str, ...] = ("none",),
        dice: tuple[float, ...] = (0.5, 1.0),
        status: str = "done",
        trained: bool = True,
        model: str = "unet",
        **extra: Any,
    ) -> dict[str, Any]:
        self.counter += 1
        shard: dict[str, Any] = {
            "job_key": job_key,
            "attempt_id": f"a{self.counter:04d}",
            "suite": "s",
            "job": {
                "model": model,
                "model_label": model,
                "model_params": {},
                "dataset": "textures2d",
                "dataset_params": {"size": 32},
                "complexity": 0.2,
                "patch": "full",
                "seed": 1,
                "data_seed": 0,
                "train": {"epochs": 1},
            },
            "status": status,
            "error": None if status == "done" else "Traceback ...\nRuntimeError: boom",
            "train": {
                "n_params": 10,
                "best_epoch": 1,
                "best_val_dice": 0.7,
                "history": [],
                "patch_size": None,
            }
            if trained
            else None,
            "conditions": [
                {
                    "cond_key": f"{job_key}:{name}",
                    "perturbation": name,
                    "severity": 0 if name == "none" else 2,
                    "test_complexity": None,
                    "preset": None,
                    "test_params": None,
                    "eval_seconds": 0.1,
                    "cases": [
                        {
                            "case_id": f"c{i}",
                            "dice": d,
                            "hd95": 1.5 * i,
                            "nsd": d,
                            "tp": 10 * i,
                            "fp": 1,
                            "fn": 2,
                            "n_ref": 10 * i + 2,
                            "n_pred": 10 * i + 1,
                            "complexity_kl": 0.3,
                            "fbr": 0.1,
                            "meta": json.dumps({"i": i}),
                            "perturbation_params": "{}",
                        }
                        for i, d in enumerate(dice)
                    ],
                }
                for name in (conditions if status == "done" else ())
            ],
            "started_at": 100.0 + self.counter,
            "finished_at": 200.0 + self.counter,
            **extra,
        }
        return shard

    def write(self, results: Path, **kwargs: Any) -> Path:
        path = write_shard(results, self(**kwargs))
        self.written.append(path)
        return path


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
