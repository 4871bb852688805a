"""Faults around a real (tiny) run: garbage shards, stale temporary files, aliased model labels."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from faults import garbage_shard

from segbench import shards as shards_module
from segbench.cli import main
from segbench.shards import clean_stale_tmp, quarantine_dir, shard_dir
from segbench.store import Store

ALIASED = """\
name: alias
seeds: [1]
train: {epochs: 1, batch_size: 4, val_every: 1}
models:
  - {name: unet, params: {channels: [4, 8], strides: [2]}, label: first}
  - {name: unet, params: {channels: [4, 8], strides: [2]}, label: second}
datasets: [{name: textures2d, params: {size: 16, n_images: 10}}]
complexity: [0.2]
perturbations: [none]
"""


def test_stale_tmp_files_older_than_the_run_are_removed(tmp_path: Path) -> None:
    old = shard_dir(tmp_path) / ".abc.json.x1.tmp"
    new = tmp_path / "checkpoints" / ".k.pt.x2.tmp"
    for path in (old, new):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    os.utime(old, (time.time() - 60, time.time() - 60))
    assert clean_stale_tmp(tmp_path, before=time.time() - 30) == [old]
    assert new.exists() and not old.exists()


@pytest.mark.slow
def test_run_quarantines_garbage_cleans_tmp_and_evaluates_aliases_once(tmp_path: Path, write_suite) -> None:
    suite = write_suite(ALIASED, "alias")
    results = tmp_path / "results"
    bad = garbage_shard(results, content=b"not json at all")
    stale = results / "checkpoints" / ".0123.pt.abcd.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a checkpoint")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))

    out = CliRunner().invoke(main, ["run", str(suite), "--results", str(results), "--quiet"])
    assert out.exit_code == 0, out.output
    assert f"warning: {bad}" in out.output and "moved to" in out.output
    assert (quarantine_dir(results) / bad.name).exists() and not stale.exists()
    # identical config under two labels: one job trained and evaluated, reported under both labels
    assert "1 jobs run, 0 already done" in out.output
    store = Store(results)
    cases = store.cases("alias")
    assert sorted(set(cases["model"])) == ["first", "second"]
    by_label = cases.set_index(["model", "case_id"])["dice"]
    assert by_label["first"].equals(by_label["second"]) and len(by_label["first"]) == 2
    assert store.jobs("alias")["attempts"].tolist() == [1, 1]  # the one shared job, listed per label

    again = CliRunner().invoke(main, ["run", str(suite), "--results", str(results), "--quiet"])
    assert again.exit_code == 0 and "0 jobs run" in again.output


@pytest.mark.slow
def test_disk_full_when_writing_a_shard_is_one_line(
    tmp_path: Path, write_suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = write_suite(ALIASED, "alias")

    real_write = shards_module.atomic_write_bytes

    def no_space(path: Path, data: bytes) -> None:
        if "suites" in path.parts:  # let the suite record through: the disk fills up during the job
            return real_write(path, data)
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr("segbench.shards.atomic_write_bytes", no_space)
    out = CliRunner().invoke(main, ["run", str(suite), "--results", str(tmp_path / "r"), "--quiet"])
    assert out.exit_code == 2 and not isinstance(out.exception, OSError), out.output
    last = out.output.strip().splitlines()[-1]
    assert "No space left on device; free disk space and rerun" in last and "shards" in last
