"""The CI regression gate on real runs: the ci suite passes its committed baseline, a broken model fails.

The degraded model is a user ``module:callable`` labelled ``unet`` that predicts background everywhere
(a bias of -10 before the sigmoid), trained on the ci suite's data: its Dice is 0 on every case, so the
paired difference against the baseline's ``unet`` is far below ``-delta``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from segbench import api
from segbench.tools.gate import GateResult, run_gate

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CI_SUITE = REPO / "suites" / "ci.yaml"
BASELINE = REPO / "reports" / "baseline" / "ci.json"

BAD_MODEL = """\
import torch


class Background(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.tensor(-10.0))

    def forward(self, x):
        return torch.zeros_like(x[:, :1]) + self.bias


def build(spatial_dims=2, out_channels=1):
    return Background()
"""


@pytest.fixture(scope="module")
def ci_results(ci_run: Path) -> Path:
    return ci_run  # tests/conftest.py: one ci run per session (the gate's own under `make test`)


def test_fresh_ci_results_pass_the_committed_baseline(ci_results: Path) -> None:
    result = run_gate(ci_results, BASELINE)
    assert isinstance(result, GateResult) and not result.updated
    assert not result.regressed, result.text
    assert set(result.table["status"]) == {"ok"} and len(result.table) == 3 * 2 * 3
    assert result.text.splitlines()[-1].startswith("PASS")
    assert not any("threads" in line for line in result.differences)  # made at the default, 1


def test_baseline_records_its_run_and_check_names_differences(ci_results: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "ci.json"
    assert run_gate(ci_results, baseline, update=True).updated
    data = json.loads(baseline.read_text())
    assert data["run"]["threads"] == "1" and data["run"]["torch"] and data["run"]["cpu"]
    assert run_gate(ci_results, baseline).differences == []
    data["run"].update(threads="2", torch="2.0.0")
    baseline.write_text(json.dumps(data))
    result = run_gate(ci_results, baseline)
    assert not result.regressed  # a note, not a failure: the numbers decide
    named = [line.split(" differ")[0] for line in result.differences]
    assert named == ["CPU threads per job", "torch versions"]
    assert "note: CPU threads per job differ: baseline 2, this run 1 (CPU results depend on it" in result.text
    del data["run"]  # a baseline from before the record existed says so
    baseline.write_text(json.dumps(data))
    assert "does not record the CPU threads" in run_gate(ci_results, baseline).differences[0]


def test_degraded_model_is_flagged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "badnet.py").write_text(BAD_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    text = CI_SUITE.read_text()
    models = text[text.index("models:") : text.index("datasets:")]
    text = text.replace(models, "models:\n  - {name: 'badnet:build', label: unet}\n")
    text = text.replace("complexity: [0.2, 0.8]", "complexity: [0.2]").replace("epochs: 10", "epochs: 1")
    text = text.replace("perturbations: [none, harder, easier]", "perturbations: [none]")
    suite = tmp_path / "ci.yaml"
    suite.write_text(text)
    results = tmp_path / "results"
    assert api.run_suite(suite, results, quiet=True).ok

    result = run_gate(results, BASELINE, delta=0.05)
    assert result.regressed
    row = result.table.set_index(["model", "complexity", "perturbation"]).loc[("unet", 0.2, "none")]
    assert row["status"] == "regressed" and row["paired"] and row["ci_high"] < -0.05
    assert row["current_mean"] == 0.0
    assert "REGRESSED" in result.text and result.text.splitlines()[-1].startswith("FAIL")
    # entries the degraded run no longer produces fail the gate too, and are named
    assert (result.table["status"] == "missing").sum() == 3 * 2 * 3 - 1
    assert "baseline entries without current results" in result.text


def test_update_rewrites_the_baseline(ci_results: Path, tmp_path: Path) -> None:
    target = tmp_path / "baseline" / "ci.json"
    with pytest.raises(FileNotFoundError, match=r"--update"):
        run_gate(ci_results, target)
    created = run_gate(ci_results, target, update=True)
    assert created.updated and not created.regressed and target.exists()
    data = json.loads(target.read_text())
    assert data["format"] == "segbench-baseline/1" and data["suite"] == "ci" and len(data["entries"]) == 18

    # a baseline that no longer matches (every value raised by 0.3) fails, --update accepts the new results
    for entry in data["entries"]:
        entry["values"] = {k: min(1.0, v + 0.3) for k, v in entry["values"].items()}
    target.write_text(json.dumps(data))
    assert run_gate(ci_results, target).regressed
    updated = run_gate(ci_results, target, update=True)
    assert updated.updated and not updated.regressed
    assert not run_gate(ci_results, target).regressed


def test_unknown_suite_and_bad_delta(ci_results: Path, tmp_path: Path) -> None:
    shutil.copy(BASELINE, tmp_path / "b.json")
    with pytest.raises(LookupError, match="segbench run"):
        run_gate(ci_results, tmp_path / "b.json", suite="nope")
    with pytest.raises(ValueError, match="delta"):
        run_gate(ci_results, tmp_path / "b.json", delta=-1)
