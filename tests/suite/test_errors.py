"""Bad suite files: each gives a clear message (file:line, field, value) and no traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from segbench.cli import main
from segbench.suite.errors import SuiteError
from segbench.suite.load import load_suite, parse_suite

GOOD = """\
name: ok
models: [unet]
datasets:
  - {name: textures2d, params: {size: 32}}
perturbations: [none, harder]
"""

# (suite text, expected line, fragments the message must contain)
BAD_SUITES = [
    (
        "name: x\nmodels: [unet]\ndatasets: [textures2d]\nseedz: [1]\n",
        4,
        ["unknown key 'seedz'", "did you mean 'seeds'"],
    ),
    (
        "name: x\nmodels: [unet, resnet]\ndatasets: [textures2d]\n",
        2,
        ["models.1.name", "unknown model 'resnet'", "attention_unet", "noskip_unet"],
    ),
    (
        "name: x\nmodels:\n  - {name: unet, params: {chanels: [8, 16]}}\ndatasets: [textures2d]\n",
        3,
        ["models.0.params.chanels", "did you mean 'channels'"],
    ),
    (
        "name: x\nmodels: [unet]\ndatasets: [textures2d]\nperturbations:\n  - {name: speckle, severity: 7}\n",
        5,
        ["severity must be one of 1, 2, 3, 4, 5", "got 7"],
    ),
    (
        "name: x\nmodels: [unet]\ndatasets: [textures2d]\nperturbations: [none, specle]\n",
        4,
        ["unknown perturbation 'specle'", "did you mean 'speckle'"],
    ),
    ("name: x\nmodels: [unet]\ndatasets: [mnist]\n", 3, ["unknown dataset 'mnist'", "textures2d"]),
    (
        "name: x\nmodels: [unet]\ndatasets: [textures2d]\ntrain: {epochs: -1}\n",
        4,
        ["train.epochs", "greater than or equal to 1", "got -1"],
    ),
    ("name: x\nmodels: [unet]\ndatasets: [textures2d]\ntrain:\n  lr: fast\n", 5, ["train.lr", "'fast'"]),
    ("name: x\ndatasets: [textures2d]\n", 1, ["models", "required key missing"]),
    ("name: x\nmodels: [unet]\ndatasets: [textures2d]\nseeds: [1, 1]\n", 4, ["seeds must be distinct"]),
    ("name: x\nmodels: [unet]\ndatasets: [textures2d]\nloss: dice\n", 4, ["unknown key 'loss'"]),
    ("name: x\nmodels: [unet\ndatasets: [textures2d]\n", 3, ["invalid YAML"]),
    ("name: bad name!\nmodels: [unet]\ndatasets: [textures2d]\n", 1, ["name", "should match pattern"]),
    ("- just\n- a list\n", 1, ["a suite must be a mapping"]),
    (
        "name: x\nmodels:\n  - {name: unet, params: {spatial_dims: 3}}\ndatasets: [textures2d]\n",
        3,
        ["spatial_dims", "filled in from the dataset"],
    ),
    (
        "name: x\nmodels: [unet]\ndatasets: [textures2d]\npatch_budget:\n  - {size: [32, 32, 32]}\n",
        5,
        ["needs 2 values"],  # 2D patch budgets are allowed; a 3-value size on 2D data is not
    ),
    (
        "name: x\nmodels: [unet]\ndatasets: [textures2d]\n"
        "patch_budget:\n  - {size: [32, 32, 32], voxel: 9}\n",
        5,
        ["unknown key 'voxel'", "did you mean 'voxels'"],
    ),
    (
        "name: x\nmodels: [no_such_module:build]\ndatasets: [textures2d]\n",
        2,
        ["cannot import module 'no_such_module'"],
    ),
    (
        "name: x\nmodels: [unet]\ndatasets: [textures2d]\ncomplexity: [0.5, 1.5]\n",
        4,
        ["outside textures2d's range", "got 1.5"],
    ),
]


def test_good_suite_parses() -> None:
    suite = parse_suite(GOOD, "good.yaml")
    assert suite.models[0].name == "unet"
    assert suite.perturbations[1].name == "harder"


@pytest.mark.parametrize(("text", "line", "fragments"), BAD_SUITES)
def test_bad_suite_message(text: str, line: int, fragments: list[str]) -> None:
    with pytest.raises(SuiteError) as info:
        parse_suite(text, "bad.yaml")
    message = str(info.value)
    assert f"bad.yaml:{line}:" in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


@pytest.mark.parametrize(("text", "line", "fragments"), BAD_SUITES[:12])
def test_cli_validate_reports_without_traceback(tmp_path, text: str, line: int, fragments: list[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"{path}:{line}:" in result.output
    assert fragments[0] in result.output


def test_missing_file_is_named(tmp_path) -> None:
    with pytest.raises(SuiteError, match=r"nope\.yaml: cannot read suite file"):
        load_suite(tmp_path / "nope.yaml")


def test_all_errors_reported_at_once() -> None:
    text = "name: x\nmodels: [unet, resnet]\ndatasets: [mnist]\n"
    with pytest.raises(SuiteError) as info:
        parse_suite(text, "two.yaml")
    assert len(info.value.issues) == 2


def test_shipped_suites_validate() -> None:
    from pathlib import Path

    suites = sorted((Path(__file__).parents[2] / "suites").glob("*.yaml"))
    assert suites
    for path in suites:
        if "${SEGBENCH_DATA}" in path.read_text():
            continue  # real-data suites: validated with data in tests/datasets/test_real_suites.py
        load_suite(path)
