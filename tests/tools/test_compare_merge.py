"""``segbench compare`` and ``segbench merge`` on small hand-built stores (no training).

Each store is what ``segbench run suites/ci.yaml`` would leave for some of its jobs: one shard per job
written with the worker's shard writer and ingested by the real :class:`segbench.store.Store`, with
made-up per-case values chosen so the expected differences can be written down by hand.
"""

from __future__ import annotations

import html
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from segbench.cli import main
from segbench.plan import expand
from segbench.stats import make_baseline
from segbench.store import Store
from segbench.suite.load import load_suite
from segbench.tools.compare import compare_runs
from segbench.tools.merge import MergeConflict, merge_stores

SUITE = Path(__file__).resolve().parents[2] / "suites" / "ci.yaml"
N_CASES = 6
Value = Callable[[str, str, int], float]  # (model label, perturbation, case index) -> dice


def _base(model: str, perturbation: str, i: int) -> float:
    return 0.5 + 0.05 * i - (0.1 if perturbation != "none" else 0.0)


def _store(
    results: Path,
    job_slice: slice,
    value: Value = _base,
    seeds: list[int] | None = None,
    n_cases: int = N_CASES,
    by_seed: Callable[[int], float] = lambda seed: 0.0,
) -> list:
    """Write, ingest and record the shards of ``expand(ci.yaml)[job_slice]`` (with other ``seeds``:
    ``by_seed(seed)`` is added to every value of that seed's networks)."""
    from segbench.worker.shard import write_shard

    source = SUITE
    if seeds is not None:
        source = results.parent / f"{results.name}.yaml"
        source.write_text(SUITE.read_text().replace("seeds: [1]", f"seeds: {seeds}"))
    suite = load_suite(source)
    jobs = expand(suite)
    for job in jobs[job_slice]:
        now = time.time()
        shard = {
            "job_key": job.key,
            "attempt_id": uuid.uuid4().hex[:8],
            "job": _job_record(job),  # the worker's record, without importing torch
            "status": "done",
            "error": None,
            "train": {
                "n_params": 10,
                "best_epoch": 1,
                "best_val_dice": 0.5,
                "history": [],
                "train_seconds": 1.0,
            },
            "conditions": [
                {
                    "cond_key": job.condition_key(c),
                    "perturbation": c.perturbation,
                    "severity": c.severity,
                    "test_complexity": c.test_complexity,
                    "preset": c.preset,
                    "test_params": None,
                    "eval_seconds": 0.01,
                    "cases": [
                        {
                            "case_id": f"case{i}",
                            "dice": value(job.model.display, c.perturbation, i) + by_seed(job.seed),
                            "hd95": 2.0,
                        }
                        for i in range(n_cases)
                    ],
                }
                for c in job.conditions
            ],
            "provenance": {"device": "cpu"},
            "started_at": now,
            "finished_at": now,
        }
        write_shard(results, shard)
    store = Store(results)
    store.ingest_pending()
    store.record_suite(suite.name, source.read_text(), str(source), jobs[job_slice])
    return jobs


def _job_record(job) -> dict:
    return {
        "model": job.model.name,
        "model_label": job.model.display,
        "model_params": job.model.params,
        "dataset": job.dataset.name,
        "dataset_params": job.dataset.params,
        "complexity": job.complexity,
        "patch": "full",
        "seed": job.seed,
        "data_seed": job.data_seed,
        "train": job.train.model_dump(mode="json"),
    }


def test_merge_unions_two_machines_and_counts_identical_duplicates(tmp_path: Path) -> None:
    jobs = _store(tmp_path / "a", slice(0, 3))
    _store(tmp_path / "b", slice(2, 6))  # job 2 ran on both machines, with identical results
    result = merge_stores(tmp_path / "a", tmp_path / "b", tmp_path / "c")
    assert result.suites == ["ci"] and result.shards == 3 + 4  # job 2's two attempts: both ingested
    assert result.duplicates == 3 * N_CASES  # job 2: 3 conditions x N cases in both
    cases = Store(tmp_path / "c").cases("ci")
    assert len(cases) == len(jobs) * 3 * N_CASES  # every job once, no duplicate rows
    assert set(cases["model"]) == {"unet", "noskip_unet", "attention_unet"}
    assert Store(tmp_path / "c").expected_counts("ci") == (18, 18)
    assert len(list((tmp_path / "a" / "shards" / "ingested").glob("*.json"))) == 3  # sources untouched


def test_merge_refuses_a_conflicting_duplicate_and_writes_nothing(tmp_path: Path) -> None:
    _store(tmp_path / "a", slice(0, 3))
    _store(tmp_path / "b", slice(2, 3), lambda m, p, i: _base(m, p, i) + (0.25 if i == 4 else 0.0))
    with pytest.raises(MergeConflict) as err:
        merge_stores(tmp_path / "a", tmp_path / "b", tmp_path / "c")
    text = str(err.value)
    assert "3 evaluated case(s) exist in both with different values" in text  # case4 in 3 conditions
    assert "case case4: dice: 0.7 vs 0.95" in text and "segbench compare" in text
    assert not (tmp_path / "c" / "segbench.sqlite").exists()
    out = CliRunner().invoke(
        main, ["merge", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "d")]
    )
    assert out.exit_code == 2 and "refusing to merge" in out.output


def test_compare_gives_the_hand_computed_difference_and_verdicts(tmp_path: Path) -> None:
    _store(tmp_path / "a", slice(0, 6))
    # B: unet +0.1 on every case of every condition, noskip_unet -0.1 on in-domain only, attention equal
    shift = {"unet": lambda p: 0.1, "noskip_unet": lambda p: -0.1 if p == "none" else 0.0}
    _store(tmp_path / "b", slice(0, 6), lambda m, p, i: _base(m, p, i) + shift.get(m, lambda p: 0.0)(p))
    table = compare_runs(tmp_path / "a", tmp_path / "b", n_resamples=999).table
    assert len(table) == 3 * 2 * 3  # models x complexity levels x conditions
    unet = table[table["model"] == "unet"]
    assert unet["diff"].to_numpy() == pytest.approx(0.1) and (unet["verdict"] == "B better").all()
    assert (unet["n"] == N_CASES).all() and unet["paired"].all()
    in_domain = unet[unet["perturbation"] == "none"]
    assert in_domain["mean_a"].to_numpy() == pytest.approx(0.625)  # 0.5 + 0.05 * mean(0..5)
    assert in_domain["mean_b"].to_numpy() == pytest.approx(0.725)
    noskip = table[table["model"] == "noskip_unet"].set_index("perturbation")
    assert (noskip.loc["none", "verdict"] == "B worse").all()
    assert (noskip.drop(index="none")["verdict"] == "no clear difference").all()
    assert (table[table["model"] == "attention_unet"]["verdict"] == "no clear difference").all()


def test_compare_against_a_baseline_json_and_rows_only_on_one_side(tmp_path: Path) -> None:
    _store(tmp_path / "a", slice(0, 6))
    _store(tmp_path / "b", slice(0, 4))  # attention_unet not run on B
    cases = Store(tmp_path / "a").cases("ci")
    baseline = {**make_baseline(cases[cases["test_complexity"].isna()]), "suite": "ci"}
    (tmp_path / "a.json").write_text(json.dumps(baseline))
    from_json = compare_runs(tmp_path / "a.json", tmp_path / "b", n_resamples=999).table
    from_folder = compare_runs(tmp_path / "a", tmp_path / "b", n_resamples=999).table
    pd.testing.assert_frame_equal(from_json, from_folder)
    att = from_json[from_json["model"] == "attention_unet"]
    assert len(att) == 6 and (att["verdict"] == "only in A").all()
    runner = CliRunner()
    html = tmp_path / "diff.html"
    out = runner.invoke(main, ["compare", str(tmp_path / "a.json"), str(tmp_path / "b"), "--html", str(html)])
    assert out.exit_code == 0, out.output
    assert "only in A" in out.output and "12 no clear difference" in out.output
    assert '<table id="compare">' in html.read_text()


def test_compare_with_other_seeds_pairs_on_case_id_and_never_calls_one_seed_a_verdict(tmp_path: Path) -> None:
    # Seed 1 on A, seed 2 on B, B = A + 0.1 on every unet case: the old pairing (seed/case id) found no
    # pairs, printed "12 (unpaired)" and called it "B better". Another seed's network may well be 0.1
    # better on every case: with one seed per side no verdict is possible, and the output says why.
    _store(tmp_path / "a", slice(0, 6), seeds=[1])
    _store(tmp_path / "b", slice(0, 6), lambda m, p, i: _base(m, p, i) + (0.1 if m == "unet" else 0.0), [2])
    result = compare_runs(tmp_path / "a", tmp_path / "b", n_resamples=999)
    unet = result.table[result.table["model"] == "unet"]
    assert unet["diff"].to_numpy() == pytest.approx(0.1) and (unet["n"] == N_CASES).all()
    assert set(result.table["verdict"]) == {"no verdict: k = 1 < 3 seeds"}
    assert result.pairing.startswith("paired on case id, seed means (seeds differ: A 1, B 2)")
    assert result.pairing in result.text and "(unpaired)" not in result.text
    assert result.pairing in html.unescape(result.html)


def test_compare_with_three_other_seeds_tells_seed_noise_from_a_change(tmp_path: Path) -> None:
    n = 12  # >= 10 paired cases, 3 seeds a side: an architecture-level interval is possible
    noise = {1: -0.05, 2: 0.0, 3: 0.05, 4: -0.03, 5: 0.02, 6: 0.07}  # B's seeds happen to be 0.02 better
    # a step of 0.02 per case keeps every Dice in [0, 1] (the store refuses others)
    base: Value = lambda m, p, i: 0.3 + 0.02 * i - (0.1 if p != "none" else 0.0)  # noqa: E731
    _store(tmp_path / "a", slice(0, 6), base, seeds=[1, 2, 3], n_cases=n, by_seed=noise.get)
    plus = {"unet": 0.3}  # a real change on top of the seed noise
    value: Value = lambda m, p, i: base(m, p, i) + plus.get(m, 0.0)  # noqa: E731
    _store(tmp_path / "b", slice(0, 6), value, seeds=[4, 5, 6], n_cases=n, by_seed=noise.get)
    table = compare_runs(tmp_path / "a", tmp_path / "b").table
    assert (table["n"] == n).all() and table["ci_low"].notna().all()
    unet = table[table["model"] == "unet"]
    assert (unet["verdict"] == "B better").all()
    # The others: every case differs by +0.02 (B's seeds' mean offset), so the case-level interval of
    # these networks excludes 0; with 3 seeds a side that is well within seed noise.
    others = table[table["model"] != "unet"]
    assert (others["verdict"] == "no clear difference").all(), others[["diff", "ci_low", "ci_high"]]


def test_failures_command_prints_traceback_tails(tmp_path: Path) -> None:
    from segbench.worker.shard import write_shard

    jobs = _store(tmp_path / "r", slice(0, 2))
    job = jobs[2]
    trace = "Traceback (most recent call last):\n  File 'x.py', line 1\n"
    trace += "[red]FloatingPointError[/red]: loss is nan <b>"
    write_shard(
        tmp_path / "r",
        {
            "job_key": job.key,
            "attempt_id": "f1",
            "job": _job_record(job),
            "status": "failed",
            "error": trace,
            "train": None,
            "conditions": [],
            "provenance": {},
            "started_at": 1.0,
            "finished_at": 2.0,
        },
    )
    store = Store(tmp_path / "r")
    store.ingest_pending()
    store.record_suite("ci", SUITE.read_text(), str(SUITE), jobs[:3])
    out = CliRunner().invoke(main, ["failures", "--results", str(tmp_path / "r"), "--lines", "2"])
    assert out.exit_code == 1  # there are failures
    assert "1 failed job(s)" in out.output and "noskip_unet textures2d c=0.2 seed=1" in out.output
    assert "[red]FloatingPointError[/red]: loss is nan <b>" in out.output  # printed as text
    assert "Traceback (most recent" not in out.output  # only the last 2 lines
    from segbench.report.build import render_suite

    page = render_suite("ci", store.cases("ci"), store.jobs("ci"), SUITE.read_text(), 9, 6, tmp_path / "out")
    html = page.index.read_text()
    assert '<section id="failures">' in html and "loss is nan &lt;b&gt;" in html
    clean = CliRunner().invoke(main, ["failures", "--results", str(tmp_path / "r"), "--suite", "nope"])
    assert clean.exit_code == 2 and "stored suites: ['ci']" in clean.output
