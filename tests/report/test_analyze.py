"""``segbench analyze``: a segbench ``cases.csv`` gives the same tables as ``segbench report`` on its store,
and bad tables get one line naming the row and column (exit 2)."""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from segbench import api
from segbench.cli import main
from segbench.report.build import build_reports

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from cli_latency import build_finished_store

SUITE = """\
name: ana
seeds: [1, 2, 3]
models: [unet, noskip_unet]
datasets: [{name: textures2d, params: {size: 32}}]
perturbations: [none, harder, {name: gaussian_noise, severity: [1, 2]}]
"""


def _cases(job, cond) -> list[dict]:
    """12 cases; noskip is 0.05 worse, each network (model, seed) has its own offset."""
    rng = np.random.default_rng(zlib.crc32(f"{job.key}{cond.perturbation}{cond.severity}".encode()))
    worse = 0.05 if job.model.name == "noskip_unet" else 0.0
    net = 0.01 * (job.seed - 2)
    return [
        {
            "case_id": f"case{i:02d}",
            "dice": float(np.clip(0.5 + i / 40 - worse + net + rng.normal(0, 0.02), 0, 1)),
            "hd95": 3.0 + i / 10,
            "nsd": 0.5,
        }
        for i in range(12)
    ]


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("analyze")
    (root / "ana.yaml").write_text(SUITE)
    build_finished_store(root / "ana.yaml", root / "results", _cases)
    summary = api.run_suite(root / "ana.yaml", root / "results", quiet=True)  # every job found done
    assert summary.ok and summary.ran == 0
    build_reports(root / "results", root / "reports")
    return root


def test_cases_csv_analysed_gives_the_report_tables(reported: Path) -> None:
    folder = reported / "reports" / "ana"
    out = reported / "analyzed"
    res = CliRunner().invoke(main, ["analyze", str(folder / "cases.csv"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    mine = out / "cases"
    assert (mine / "index.html").exists()
    for name in ("tests.csv", "summary.csv", "cases.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(folder / name), pd.read_csv(mine / name), rtol=1e-12)
    # the page's leaderboard differs only where the suite file and jobs speak (family order, costs)
    tests = pd.read_csv(mine / "tests.csv")
    assert {"effect", "effect_low", "effect_high", "significant"} <= set(tests.columns)
    assert len(tests) > 0 and (tests["k_a"] == 3).all()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model,seed,case_id\na,1,c1\n", "missing required column 'dice'"),
        (
            "model,seed,case_id,dice\na,1,c1,0.8\na,1,c2,high\n",
            "line 3, column 'dice': 'high' is not a number",
        ),
        ("model,seed,case_id,dice\na,1,c1,0.8\na,1,c1,0.7\n", "line 3, column 'case_id': duplicates line 2"),
        (
            "model,seed,case_id,dice\na,1,c1,0.8\na,1,c2,0.7\nb,1,c1,0.6\n",
            "case 'c2' of model 'a' is missing for model 'b'",
        ),
        ("model,seed,case_id,dice\na,1,c1,1.8\n", "line 2, column 'dice': 1.8 is outside [0, 1]"),
    ],
)
def test_bad_tables_get_one_line_and_exit_2(tmp_path: Path, text: str, message: str) -> None:
    res = CliRunner().invoke(main, ["analyze", str(_write(tmp_path, text)), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2, res.output
    assert message in res.output and len(res.output.strip().splitlines()) == 1, res.output


def test_minimal_table_is_one_level_of_everything(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [
        {
            "model": m,
            "seed": s,
            "case_id": f"c{i}",
            "dice": 0.7 + (0.1 if m == "a" else 0) + rng.normal(0, 0.01),
        }
        for m in ("a", "b")
        for s in (1, 2, 3)
        for i in range(15)
    ]
    path = tmp_path / "lab.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    res = CliRunner().invoke(main, ["analyze", str(path), "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    tests = pd.read_csv(tmp_path / "r" / "lab" / "tests.csv")
    assert list(tests["dataset"]) == ["lab"] and bool(tests["significant"].iloc[0])
