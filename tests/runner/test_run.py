"""Real end-to-end runs on tiny data: train, evaluate, store, resume, fail, report."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tests_tiny_text import tiny_with_models

from segbench import api
from segbench.cli import main
from segbench.report.build import build_reports
from segbench.store import Store

pytestmark = pytest.mark.slow

BOOM_MODEL = """\
import torch

class Boom(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        raise RuntimeError("boom: this model always fails")

def build(spatial_dims=2, out_channels=1):
    return Boom()
"""


def _run(suite: Path, results: Path) -> api.RunSummary:
    return api.run_suite(suite, results, quiet=True)


def test_tiny_run_beats_chance_stores_provenance_and_reports(tiny_suite: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    summary = _run(tiny_suite, results)
    assert summary.ok and summary.ran == 2

    cases = Store(results).cases("tiny")
    assert set(cases["model"]) == {"unet", "noskip_unet"}
    assert set(cases["perturbation"]) == {"none", "gaussian_noise"}
    assert len(cases) == 2 * 2 * 8  # models x conditions x test cases (40 images, 20% test)
    in_domain = cases[cases["perturbation"] == "none"]
    # Chance: predicting everything foreground gives Dice 2p/(1+p) for foreground fraction p.
    fraction = in_domain["n_ref"] / (32 * 32)
    chance = (2 * fraction / (1 + fraction)).mean()
    assert in_domain["dice"].mean() > chance + 0.15, (in_domain["dice"].mean(), chance)
    assert in_domain["hd95"].notna().all() and in_domain["complexity_kl"].notna().all()
    noisy = cases[cases["perturbation"] == "gaussian_noise"]
    assert all(json.loads(p)["sigma"] > 0 for p in noisy["perturbation_params"])

    jobs = Store(results).jobs("tiny")
    assert (jobs["status"] == "trained").all() and (jobs["n_params"] > 0).all()
    provenance = json.loads(jobs["provenance"].iloc[0])
    assert provenance["device"] == "cpu" and provenance["packages"]["torch"]
    assert len(list((results / "checkpoints").glob("*.pt"))) == 2

    out = tmp_path / "reports"
    (built,) = build_reports(results, out)
    page = built.index.read_text()
    assert "unet" in page and "noskip_unet" in page and 'id="leaderboard-0"' in page
    assert (out / "tiny" / "plotly.min.js").stat().st_size > 1_000_000  # beside the page
    header = (out / "tiny" / "cases.csv").read_text().splitlines()[0].split(",")
    for column in ["model", "dataset", "complexity", "perturbation", "severity", "seed", "case_id", "dice"]:
        assert column in header


def test_two_runs_give_identical_dice(tiny_suite: Path, tmp_path: Path) -> None:
    first = Store(tmp_path / "a")
    second = Store(tmp_path / "b")
    _run(tiny_suite, first.results)
    _run(tiny_suite, second.results)
    a, b = first.cases("tiny"), second.cases("tiny")
    assert len(a) == len(b) > 0
    np.testing.assert_array_equal(a["dice"].to_numpy(), b["dice"].to_numpy())
    np.testing.assert_array_equal(a["hd95"].to_numpy(), b["hd95"].to_numpy())


def test_rerun_skips_done_and_new_condition_does_not_retrain(tiny_suite: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    _run(tiny_suite, results)
    checkpoints = {p: p.stat().st_mtime_ns for p in (results / "checkpoints").glob("*.pt")}
    again = _run(tiny_suite, results)
    assert again.ran == 0 and again.skipped == 2

    extended = tiny_suite.read_text().replace("  - none\n", "  - none\n  - easier\n")
    tiny_suite.write_text(extended)
    plan = api.plan_suite(tiny_suite, results)
    assert all(len(t.conditions) == 1 for t in plan.tasks) and len(plan.tasks) == 2
    summary = _run(tiny_suite, results)
    assert summary.ok and summary.ran == 2
    assert {p: p.stat().st_mtime_ns for p in (results / "checkpoints").glob("*.pt")} == checkpoints
    cases = Store(results).cases("tiny")
    assert set(cases["perturbation"]) == {"none", "gaussian_noise", "blur_background"}
    jobs = Store(results).jobs("tiny")
    assert (jobs["attempts"] == 2).all()  # trained once, then only evaluated


def test_failing_job_is_recorded_and_others_go_on(write_suite, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "boomnet.py").write_text(BOOM_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    suite = write_suite(tiny_with_models(["boomnet:build", "unet"], "boom"), "boom")
    results = tmp_path / "results"
    result = CliRunner().invoke(main, ["run", str(suite), "--results", str(results), "--quiet"])
    assert result.exit_code == 1
    assert "1 FAILED" in result.output and "boom: this model always fails" in result.output

    jobs = Store(results).jobs("boom").set_index("model")
    assert jobs.loc["boomnet:build", "status"] == "failed"
    assert "RuntimeError: boom" in jobs.loc["boomnet:build", "error"]
    assert jobs.loc["unet", "status"] == "trained"
    assert set(Store(results).cases("boom")["model"]) == {"unet"}

    again = api.run_suite(suite, results, quiet=True)  # the failure is retried, not cached
    assert again.ran == 1 and len(again.failed) == 1
    assert Store(results).jobs("boom").set_index("model").loc["boomnet:build", "attempts"] == 2


def test_sigkill_then_resume_loses_and_duplicates_nothing(write_suite, tmp_path: Path) -> None:
    text = tiny_with_models(["unet", "noskip_unet"], "kill").replace("seeds: [1]", "seeds: [1, 2, 3]")
    text = text.replace("epochs: 10", "epochs: 20")
    suite = write_suite(text, "kill")
    results = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "segbench.cli", "run", str(suite), "--results", str(results), "--quiet"]
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    database = results / "segbench.sqlite"
    deadline = time.time() + 240
    ingested = 0
    while time.time() < deadline and proc.poll() is None:
        if database.exists():
            try:
                with sqlite3.connect(database, timeout=1) as conn:
                    ingested = conn.execute("SELECT COUNT(*) FROM ingested").fetchone()[0]
            except sqlite3.OperationalError:
                ingested = 0
        if ingested >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "run finished before it could be killed; make the suite longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= ingested < 6

    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    store = Store(results)
    expected, done = store.expected_counts("kill")
    assert expected == done == 6 * 2
    jobs = store.jobs("kill")
    assert len(jobs) == 6 and (jobs["status"] == "trained").all()
    assert (jobs["attempts"] == 1).all()  # no job stored twice or retrained after being stored
    cases = store.cases("kill")
    assert not cases.duplicated(["job_key", "perturbation", "severity", "case_id"]).any()
    assert len(cases) == 6 * 2 * 8


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="jobs are forked on Linux only")
def test_forked_jobs_inherit_a_generated_dataset_built_once_in_the_parent(
    write_suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each job runs in a forked child whose own dataset cache dies with it: without the parent
    building a generated dataset first, every job regenerated it (the quick suite 54 s -> 72 s)."""
    import dataclasses
    import functools

    from segbench.registry import DATASETS
    from segbench.worker import job as worker_job

    log = tmp_path / "builds.txt"
    entry = DATASETS.get("textures2d")
    build = entry.factory

    @functools.wraps(build)  # validation reads the factory's signature
    def counted(**kwargs: object) -> object:
        with log.open("a") as f:
            f.write(f"{os.getpid()}\n")
        return build(**kwargs)

    monkeypatch.setitem(DATASETS._entries, "textures2d", dataclasses.replace(entry, factory=counted))
    worker_job._cached_dataset.cache_clear()
    text = tiny_with_models(["unet", "noskip_unet"], "once").replace("epochs: 10", "epochs: 1")
    api.run_suite(write_suite(text, "once"), tmp_path / "results", device="cpu", quiet=True)
    worker_job._cached_dataset.cache_clear()
    assert log.read_text().split() == [str(os.getpid())]  # one build, in this (the parent) process
    assert Store(tmp_path / "results").jobs("once")["status"].tolist() == ["trained", "trained"]
