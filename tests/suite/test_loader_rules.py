"""What the suite loader accepts and how it reports: one pass, ``${NAME}``, anchors, devices, bounds."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from segbench.cli import main
from segbench.registry import Entry
from segbench.suite.device import DeviceError, check_device
from segbench.suite.errors import SuiteError, SuiteIssue, show
from segbench.suite.load import load_suite, parse_suite
from segbench.suite.params import check_params

HEAD = "name: x\nmodels: [unet]\ndatasets:\n  - {name: textures2d, params: {size: 32}}\n"


def _issues(text: str, environ: dict[str, str] | None = None) -> list[SuiteIssue]:
    with pytest.raises(SuiteError) as info:
        parse_suite(text, "s.yaml", environ)
    return info.value.issues


def test_three_different_errors_in_one_pass() -> None:
    """An unknown key, a bad value and an unknown model: all three, sorted by line."""
    text = (
        "name: x\n"
        "models: [unet, resnet]\n"  # unknown model (registry)
        "datasets:\n"
        "  - {name: textures2d, params: {size: big}}\n"  # bad value (factory signature)
        "seedz: [1]\n"  # unknown key (schema)
    )
    issues = _issues(text)
    assert [(i.line, i.path) for i in issues] == [
        (2, "models.1.name"),
        (4, "datasets.0.params.size"),
        (5, "seedz"),
    ]
    assert "unknown model 'resnet'" in issues[0].message
    assert "valid integer" in issues[1].message
    assert "did you mean 'seeds'" in issues[2].message


def test_schema_and_cross_field_errors_together() -> None:
    """A schema error elsewhere no longer hides the Suite-level rules (distinct seeds, baseline)."""
    text = HEAD + "seeds: [1, 1]\ntrain: {epochs: 0}\nbaseline_model: unte\n"
    paths = [i.path for i in _issues(text)]
    assert paths == ["seeds.1", "train.epochs", "baseline_model"]


def test_env_var_expands_into_the_suite(tmp_path: Path) -> None:
    (tmp_path / "Task09_Spleen").mkdir()
    (tmp_path / "Task09_Spleen" / "dataset.json").write_text(json.dumps({"training": []}))
    text = "name: x\nmodels: [unet]\ndatasets:\n  - {name: msd, params: {root: '${DATA}'}}\n"
    suite = parse_suite(text, "s.yaml", {"DATA": str(tmp_path)})
    assert suite.datasets[0].params["root"] == str(tmp_path)


def test_env_var_escape_and_plain_dollars() -> None:
    text = HEAD + "description: 'costs $5, literal $${HOME} and ${WHO}'\n"
    suite = parse_suite(text, "s.yaml", {"WHO": "me"})
    assert suite.description == "costs $5, literal ${HOME} and me"


def test_unset_env_var_reported_once_not_as_a_missing_folder() -> None:
    text = "name: x\nmodels: [unet]\ndatasets:\n  - {name: msd, params: {root: '${NOPE}/msd'}}\n"
    (issue,) = _issues(text, {})
    assert (issue.line, issue.path) == (4, "datasets.0.params.root")
    assert "NOPE is not set" in issue.message


def test_anchors_resolve_to_equal_params() -> None:
    text = (
        "name: x\n"
        "models:\n"
        "  - {name: unet, params: &small {channels: [4, 8], strides: [2]}}\n"
        "  - name: noskip_unet\n"
        "    params:\n"
        "      <<: *small\n"
        "      channels: [8, 16]\n"
        "datasets: [textures2d]\n"
    )
    suite = parse_suite(text, "s.yaml")
    assert suite.models[1].params == {"channels": [8, 16], "strides": [2]}
    assert suite.models[0].params == {"channels": [4, 8], "strides": [2]}


def test_merge_key_error_is_located_at_the_override() -> None:
    text = (
        "name: x\n"
        "models:\n"
        "  - {name: unet, params: &small {channels: [4, 8]}}\n"
        "  - name: noskip_unet\n"
        "    params:\n"
        "      <<: *small\n"
        "      strides: banana\n"
        "datasets: [textures2d]\n"
    )
    (issue,) = _issues(text)
    assert (issue.line, issue.path) == (7, "models.1.params.strides")


def test_dates_stay_strings() -> None:
    suite = parse_suite(HEAD + "description: 2024-01-01\n", "s.yaml")
    assert suite.description == "2024-01-01"


def test_huge_value_is_truncated_in_the_message() -> None:
    text = HEAD.replace("size: 32", "size: '" + "x" * 500_000 + "'")
    (issue,) = _issues(text)
    assert len(str(issue)) < 400
    assert "..." in str(issue)


def test_thousands_of_the_same_mistake_are_capped() -> None:
    keys = "".join(f"key{i}: 1\n" for i in range(300))
    models = ", ".join(f"{{name: resnet{i}}}" for i in range(300))
    issues = _issues(f"name: x\nmodels: [{models}]\ndatasets: [textures2d]\n{keys}")
    assert len(issues) == 402  # 200 + "200 more" from the schema, 200 + "stopped" from the registry checks
    assert {i.message for i in issues if i.line is None} == {
        "100 more schema errors not shown; fix the above first",
        "stopped after 200 problems; fix these first",
    }


def test_show_is_bounded() -> None:
    nested: list = [1]
    for _ in range(1000):
        nested = [nested, nested]  # 2**1000 leaves if expanded
    assert len(show(nested)) <= 80
    assert show("a\nb") == "'a\\nb'"


def test_error_listing_is_capped() -> None:
    issues = [SuiteIssue("f.yaml", i, "seeds", "bad") for i in range(1, 121)]
    text = str(SuiteError(issues))
    assert len(text.splitlines()) == 51
    assert text.endswith("... and 70 more problems in f.yaml")


def test_check_function_problems_are_located_and_a_broken_check_is_reported() -> None:
    def factory(rng=None, complexity=None, *, size: int = 8, low: float = 0.0, high: float = 1.0):
        return None

    def rule(params: dict) -> list[str]:
        return ["high: must exceed low"] if params["high"] <= params["low"] else []

    entry = Entry("toy", factory, {"check": rule})
    (problem,) = check_params(entry, {"low": 2})
    assert problem.loc == ("high",) and problem.message == "must exceed low"
    assert check_params(entry, {"size": "big"})[0].loc == ("size",)  # typed first, check skipped

    def broken(params: dict) -> list[str]:
        raise KeyError("oops")

    (problem,) = check_params(Entry("toy", factory, {"check": broken}), {})
    assert "check failed: KeyError" in problem.message


def test_unannotated_and_unresolvable_annotations_accept_anything() -> None:
    def factory(width=3, depth: NotImportedAnywhere = 2, *, ratio: float = 0.5):  # noqa: F821
        return None

    entry = Entry("toy", factory, {})
    assert check_params(entry, {"width": "any", "depth": [1], "ratio": 1}) == []
    (problem,) = check_params(entry, {"ratio": "half"})
    assert problem.loc == ("ratio",)


def test_parameters_named_like_pydantic_attributes() -> None:
    def factory(copy: int = 1, model_config: str = "a", *, json: float = 0.5):
        return None

    problems = check_params(Entry("toy2", factory, {}), {"copy": "x", "model_config": 1, "json": 1})
    assert [p.loc for p in problems] == [("copy",), ("model_config",)]


def test_folder_or_fifo_is_not_read(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"cannot read suite file: not a regular file$"):
        load_suite(tmp_path)
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)  # reading it would block forever
    with pytest.raises(SuiteError, match="not a regular file"):
        load_suite(fifo)


def test_shipped_suites_still_validate() -> None:
    for path in sorted((Path(__file__).parents[2] / "suites").glob("*.yaml")):
        if "${SEGBENCH_DATA}" in path.read_text():
            continue  # real-data suites: validated with their data in tests/datasets/test_real_suites.py
        load_suite(path)


# --------------------------------------------------------------------------- --device


@pytest.mark.parametrize("device", [None, "cpu"])
def test_device_cpu_and_auto_pass(device: str | None) -> None:
    check_device(device)


@pytest.mark.parametrize(
    ("device", "fragment"),
    [("cdua", "did you mean 'cuda'"), ("gpu", "use cpu, cuda"), ("cuda:x", "not a device")],
)
def test_device_typo(device: str, fragment: str) -> None:
    with pytest.raises(DeviceError, match=fragment):
        check_device(device)


def test_device_cuda_needs_cuda() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA device"):
            check_device(f"cuda:{torch.cuda.device_count()}")
    else:
        with pytest.raises(DeviceError, match="no CUDA device is available"):
            check_device("cuda")


def test_cli_run_bad_device_is_one_upfront_error(tmp_path: Path) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text(HEAD)
    result = CliRunner().invoke(
        main, ["run", str(suite), "--results", str(tmp_path / "r"), "--device", "cdua"]
    )
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines() == [
        "--device 'cdua' is not a device (did you mean 'cuda'?); use cpu, cuda, cuda:N or mps"
    ]
    assert not (tmp_path / "r").exists()  # nothing ran, nothing stored
