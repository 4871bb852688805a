"""Fault-injection helpers for the reliability tests (also used by ``tests/store``).

* :class:`ShardFactory` builds hand-made shards (no training) and :func:`seed_store` fills a results
  folder with a suite's worth of them, so store/gate/report faults are tested in milliseconds;
* the corrupters damage a database or a shard the way a crash, a full disk or a careless user does.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segbench.shards import shard_dir, write_shard
from segbench.store import Store

REPO = Path(__file__).resolve().parents[2]


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
            "attempt_id": f"a{self.counter:04d}{uuid.uuid4().hex[:6]}",
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


def seed_store(
    results: Path,
    suite: str = "ci",
    models: dict[str, tuple[float, ...]] | None = None,
    conditions: tuple[str, ...] = ("none",),
    yaml_text: str | None = None,
    suite_path: Path | None = None,
) -> Store:
    """A results folder holding ``suite``: one job per model label, one shard each, ingested."""
    models = models or {"unet": (0.8, 0.9, 0.7, 0.85), "noskip_unet": (0.6, 0.7, 0.65, 0.5)}
    factory = ShardFactory()
    store = Store(results)
    jobs = [FakeJob(f"job-{label}", FakeModel(label), conditions) for label in models]
    store.record_suite(suite, yaml_text or f"name: {suite}\n", suite_path or results / f"{suite}.yaml", jobs)
    for label, dice in models.items():
        store.ingest(
            factory.write(
                results, job_key=f"job-{label}", model=label, dice=dice, conditions=conditions, suite=suite
            )
        )
    return store


def truncate(path: Path, keep: int = 1000) -> None:
    """Cut a file after ``keep`` bytes (a crash mid-copy, a full disk)."""
    path.write_bytes(path.read_bytes()[:keep])


def garble(path: Path, offset: int = 0, length: int = 100) -> None:
    """Overwrite ``length`` bytes at ``offset`` with junk (header at 0: 'file is not a database')."""
    data = bytearray(path.read_bytes())
    data[offset : offset + length] = b"\xa5" * min(length, max(0, len(data) - offset))
    path.write_bytes(bytes(data))


def corrupt_pages(db: Path) -> None:
    """Damage every page after the first two (page corruption that the header check does not see)."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(db.read_bytes())
    for start in range(2 * page, len(data), page):
        data[start + 8 : start + 64] = b"\xff" * 56
    db.write_bytes(bytes(data))


def garbage_shard(
    results: Path, name: str = "deadbeef-00000000.json", content: bytes = b'{"job_key": '
) -> Path:
    """An unreadable file where pending shards live."""
    path = shard_dir(results) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def cli(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m segbench.cli ARGS`` in a subprocess (the real exit code and streams)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, "-m", "segbench.cli", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


TINY_SUITE = """\
name: {name}
seeds: [1]
train: {{epochs: 1, batch_size: 4}}
models: [{{name: unet, params: {{channels: [4, 8], strides: [2]}}}}]
datasets: [{{name: textures2d, params: {{size: 16, n_images: 10}}}}]
complexity: [0.2]
perturbations: [none]
"""


def tiny_suite_text(name: str = "ci") -> str:
    """The smallest real suite (one unet, one epoch, 10 images of 16 px) under ``name``."""
    return TINY_SUITE.format(name=name)


def popen_as_from_a_terminal(command: list[str], **kwargs: Any) -> subprocess.Popen[str]:
    """Start ``command`` with Ctrl-C (SIGINT) at its default action, as a terminal's foreground job.

    Why: pytest started in the background of a non-interactive shell (``make test &`` in a script)
    inherits SIGINT *ignored* (POSIX), Python keeps it ignored, and so would the command under test:
    a Ctrl-C test would pass or fail by how pytest was launched.  A Python handler installed here
    becomes the default action in the child at ``exec``.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(command, text=True, **kwargs)
    finally:
        signal.signal(signal.SIGINT, previous)
