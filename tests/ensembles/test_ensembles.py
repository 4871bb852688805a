"""Ensembles without retraining: planning, validation, and real runs from stored checkpoints."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from segbench import api
from segbench.execute.pool import PoolExecutor
from segbench.plan import expand
from segbench.plan.ensembles import ENSEMBLE_MODEL, POOLED_SEED, expand_ensembles
from segbench.store import Store
from segbench.suite.schema import Suite

TINY = {"channels": [4, 8], "strides": [2]}
BASE = {
    "name": "ens",
    "seeds": [1, 2],
    "train": {"epochs": 1, "batch_size": 4, "lr": 0.01, "val_every": 1},
    "models": [{"name": "unet", "params": TINY}, {"name": "noskip_unet", "params": TINY}],
    "datasets": [{"name": "textures2d", "params": {"size": 32, "n_images": 15}}],
    "complexity": [0.2],
    "perturbations": ["none", {"name": "gaussian_noise", "severity": 3}],
}


def _suite(**extra: object) -> Suite:
    return Suite.model_validate({**BASE, **extra})


def test_expand_seed_pool_and_cross_architecture() -> None:
    suite = _suite(
        complexity=[0.2, 0.5],
        ensembles=[
            {"label": "unet_x2", "members": {"model": "unet", "seeds": "all"}},
            {"label": "mixed", "members": ["unet", "noskip_unet"]},
        ],
    )
    jobs = expand(suite)
    ens = expand_ensembles(suite, jobs)
    pooled = [e for e in ens if e.label == "unet_x2"]
    mixed = [e for e in ens if e.label == "mixed"]
    assert len(pooled) == 2 and len(mixed) == 4  # per complexity; mixed also per seed
    assert all(e.seed == POOLED_SEED and {m.seed for m in e.members} == {1, 2} for e in pooled)
    assert all({m.model.display for m in e.members} == {"unet", "noskip_unet"} for e in mixed)
    assert all(len({m.seed for m in e.members}) == 1 and e.seed == e.members[0].seed for e in mixed)
    assert all(len({m.complexity for m in e.members}) == 1 for e in ens)
    assert len({e.key for e in ens}) == len(ens)
    # keys hash member job keys, not labels; conditions are the members' with keys of their own
    renamed = expand_ensembles(
        _suite(complexity=[0.2, 0.5], ensembles=[{"label": "other", "members": {"model": "unet"}}]), jobs
    )
    assert {e.key for e in renamed} == {e.key for e in pooled}
    member_keys = {j.condition_key(c) for j in jobs for c in j.conditions}
    assert not member_keys & {e.condition_key(c) for e in ens for c in e.conditions}
    assert all(e.model.name == ENSEMBLE_MODEL and e.model.display == e.label for e in ens)


@pytest.mark.parametrize(
    ("ensembles", "message"),
    [
        ([{"label": "x", "members": ["unet", "attention_unet"]}], "unknown member"),
        ([{"label": "unet", "members": ["unet"]}], "already used"),
        ([{"label": "x", "members": {"model": "unet", "seeds": [3]}}], "subset of the suite's seeds"),
        ([{"label": "x", "members": []}], "at least one"),
    ],
)
def test_bad_ensembles_are_refused(ensembles: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _suite(ensembles=ensembles)


def _write(path: Path, **extra: object) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({**BASE, **extra}, sort_keys=False))
    return path


@pytest.mark.slow
def test_ensembles_from_stored_checkpoints(tmp_path: Path) -> None:
    results = tmp_path / "results"
    solo = {"label": "solo", "members": {"model": "unet", "seeds": [1]}}
    # 1) members train, then the one-member ensemble runs in the same `run`
    first = api.run_suite(_write(tmp_path / "a.yaml", ensembles=[solo]), results, quiet=True)
    assert first.ok, first.failed
    cases = Store(results).cases("ens")
    member = cases[(cases["model"] == "unet") & (cases["seed"] == 1)].set_index(["perturbation", "case_id"])
    alone = cases[cases["model"] == "solo"].set_index(["perturbation", "case_id"])
    assert len(alone) == len(member) > 0 and set(alone.index) == set(member.index)
    for col in ("dice", "hd95", "nsd", "tp", "fp", "fn", "n_pred", "entropy"):
        np.testing.assert_array_equal(
            alone.loc[member.index, col].to_numpy(), member[col].to_numpy(), err_msg=col
        )
    assert alone["disagreement"].isna().all()  # one member: nothing to disagree with
    assert (alone["model_name"] == ENSEMBLE_MODEL).all() and (alone["seed"] == POOLED_SEED).all()

    # 2) the suite edited in place, with new ensembles: computed from checkpoints, no training step
    more = [
        solo,
        {"label": "unet_x2", "members": {"model": "unet"}},
        {"label": "mixed", "members": ["unet", "noskip_unet"]},
    ]
    with mock.patch("segbench.worker.job._train", side_effect=AssertionError("trained")) as train:
        second = api.run_suite(_write(tmp_path / "a.yaml", ensembles=more), results, quiet=True)
    assert second.ok, second.failed
    assert train.call_count == 0 and second.ran == 3  # the three new ensemble tasks, nothing trained
    cases = Store(results).cases("ens")
    x2 = cases[cases["model"] == "unet_x2"]
    assert len(x2) == len(member) and x2["dice"].notna().any()
    assert (x2["disagreement"] >= 0).all() and x2["disagreement"].gt(0).any()
    assert sorted(cases.loc[cases["model"] == "mixed", "seed"].unique()) == [1, 2]
    # the ensemble is a leaderboard row like a model
    from segbench.report.tables import StatsSettings, compute_tables, with_entries

    tables = compute_tables(
        with_entries(cases), "unet", StatsSettings(n_resamples=200, rank_resamples=50, diff_resamples=50)
    )
    assert {"solo", "unet_x2", "mixed", "unet", "noskip_unet"} <= set(tables.board["model"])
    # dry run lists every ensemble as done
    lines = api.plan_suite(tmp_path / "a.yaml", results).lines()
    assert sum("ensemble of" in line and line.endswith("done") for line in lines) == 4


class _Recorder:
    """A reporter that remembers which jobs the executor started and how they ended."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.finished: list[tuple[str, bool]] = []

    def start(self, total_jobs: int) -> None:
        self.total = total_jobs

    def job_started(self, job: object, n_conditions: int) -> None:
        self.started.append(job.describe())  # type: ignore[attr-defined]

    def status(self, stage: str, job: object = None) -> None:
        pass

    def epoch(self, *args: object, **kwargs: object) -> None:
        pass

    def job_finished(self, job: object, ok: bool, message: str = "") -> None:
        self.finished.append((job.describe(), ok))  # type: ignore[attr-defined]

    def close(self) -> None:
        pass


@pytest.mark.slow
def test_an_ensemble_is_a_task_under_the_pool_and_a_timeout(tmp_path: Path) -> None:
    """Ensembles go through the executor like train jobs: worker processes, time limit, progress."""
    results = tmp_path / "results"
    solo = {"label": "solo", "members": {"model": "unet", "seeds": [1]}}
    suite = _write(tmp_path / "a.yaml", seeds=[1], ensembles=[solo])
    pool = _Recorder()
    spawned = []
    real_spawn = PoolExecutor._spawn

    def spawn(self: PoolExecutor, slot: object) -> object:
        spawned.append(real_spawn(self, slot))
        return spawned[-1]

    with mock.patch.object(PoolExecutor, "_spawn", spawn):
        first = api.run_suite(
            suite, results, reporter=pool, executor="pool", executor_settings={"workers": 2}
        )
    assert first.ok, first.failed
    assert first.ran == 3 and pool.total == 3  # two models, then the ensemble once its member is trained
    # the ensemble's round reused the two workers (their imports and datasets), which end with the run
    assert len(spawned) == 2 and all(w.proc.poll() is not None for w in spawned)
    assert pool.started[-1].startswith("solo (ensemble of 1)") and pool.finished[-1][1]
    assert (Store(results).cases("ens")["model"] == "solo").sum() > 0

    # in-process executor with a time limit: each task runs in a child process, the ensemble too
    pair = {"label": "pair", "members": ["unet", "noskip_unet"]}
    timed = _Recorder()
    suite = _write(tmp_path / "a.yaml", seeds=[1], ensembles=[solo, pair])
    second = api.run_suite(suite, results, reporter=timed, timeout_min=30)
    assert second.ok, second.failed
    assert second.ran == 1 and timed.started == [s for s in timed.started if s.startswith("pair (ensemble")]
    cases = Store(results).cases("ens")
    assert len(cases[cases["model"] == "pair"]) == len(cases[cases["model"] == "solo"]) > 0


def test_tta_changes_condition_keys_only_when_set() -> None:
    plain, with_tta = expand(_suite()), expand(_suite(train={**BASE["train"], "tta": ["flip", "rot90"]}))
    assert [j.key for j in plain] == [j.key for j in with_tta]  # evaluation-only: nothing retrains
    plain_keys = [j.condition_key(c) for j in plain for c in j.conditions]
    tta_keys = [j.condition_key(c) for j in with_tta for c in j.conditions]
    assert not set(plain_keys) & set(tta_keys)  # TTA evaluations are new evaluations
    with pytest.raises(ValueError, match="flip"):
        _suite(train={**BASE["train"], "tta": ["zoom"]})


def test_validate_names_the_line_of_each_bad_ensemble(tmp_path: Path) -> None:
    from segbench.suite.errors import SuiteError
    from segbench.suite.load import load_suite

    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: x\nseeds: [1, 2]\nmodels: [unet]\ndatasets: [textures2d]\ncomplexity: [0.2]\nensembles:\n"
        "  - {label: e, members: [unet, unte]}\n"
        "  - {label: unet, members: {model: unet, seeds: [3]}}\n"
    )
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    text = str(err.value)
    assert "bad.yaml:7: ensembles.0.members.1" in text and "did you mean 'unet'" in text
    assert "bad.yaml:8: ensembles.1.label" in text and "already used by models.0" in text
    assert "ensembles.1.members.seeds" in text and "(got [3])" in text
