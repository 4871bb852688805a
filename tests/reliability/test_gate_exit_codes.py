"""``segbench check``: exit 0 pass, 1 regression, 2 usage/input error — a baseline cannot disable the gate.

The stores are hand-built (no training): the ci suite with two models, four cases each.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from faults import cli, seed_store

from segbench.cli import main

GOOD = {"unet": (0.8, 0.9, 0.7, 0.85), "noskip_unet": (0.6, 0.7, 0.65, 0.5)}


@pytest.fixture
def gate(tmp_path: Path) -> tuple[Path, Path]:
    """(results folder, baseline path) with a baseline written by ``check --update``."""
    results, baseline = tmp_path / "results", tmp_path / "baseline.json"
    seed_store(results, models=GOOD)
    out = CliRunner().invoke(
        main, ["check", "--baseline", str(baseline), "--results", str(results), "--update"]
    )
    assert out.exit_code == 0 and baseline.exists(), out.output
    return results, baseline


def _check(results: Path, baseline: Path, *extra: str):
    return CliRunner().invoke(main, ["check", "--baseline", str(baseline), "--results", str(results), *extra])


def test_pass_is_0_and_regression_is_1(gate: tuple[Path, Path], tmp_path: Path) -> None:
    results, baseline = gate
    assert _check(results, baseline).exit_code == 0
    worse = tmp_path / "worse"
    seed_store(worse, models={"unet": (0.1, 0.2, 0.1, 0.15), "noskip_unet": GOOD["noskip_unet"]})
    out = _check(worse, baseline)
    assert out.exit_code == 1 and "REGRESSED" in out.output


def _edit(baseline: Path, change) -> None:
    data = json.loads(baseline.read_text())
    change(data)
    baseline.write_text(json.dumps(data))


def _all_nan(data: dict) -> None:
    for entry in data["entries"]:
        entry["values"] = {k: float("nan") for k in entry["values"]}
        entry["mean"] = float("nan")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _all_nan,
            r"entries\[0\] \(noskip_unet / textures2d / none\): mean: Input should be a finite number",
        ),
        (lambda d: d.update(entries=[]), r"entries: List should have at least 1 item"),
        (
            lambda d: d["entries"][1].pop("perturbation"),
            r"entries\[1\] \(unet / textures2d\): perturbation: Field",
        ),
        (lambda d: d["entries"][0].update(values=[1, 2]), r"values: Input should be a valid dictionary"),
        (lambda d: d.pop("metric"), r"top level: metric: Field required"),
    ],
)
def test_bad_baseline_is_an_input_error_2_in_one_line(gate: tuple[Path, Path], change, message: str) -> None:
    results, baseline = gate
    _edit(baseline, change)
    out = _check(results, baseline)
    assert out.exit_code == 2, out.output
    assert out.exception is None or isinstance(out.exception, SystemExit)
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(baseline)), lines
    assert re.search(message, lines[0]), lines[0]


def test_missing_baseline_unknown_suite_and_bad_json_are_2(gate: tuple[Path, Path], tmp_path: Path) -> None:
    results, baseline = gate
    assert _check(results, tmp_path / "nope.json").exit_code == 2
    assert _check(results, baseline, "--suite", "other").exit_code == 2
    baseline.write_bytes(b"\xff\xfe garbage")
    assert _check(results, baseline).exit_code == 2


@pytest.mark.slow
def test_nan_baseline_exits_2_from_the_real_command(gate: tuple[Path, Path]) -> None:
    results, baseline = gate
    _edit(baseline, _all_nan)
    proc = cli("check", "--baseline", baseline, "--results", results)
    assert proc.returncode == 2 and "finite number" in proc.stderr and "Traceback" not in proc.stderr
