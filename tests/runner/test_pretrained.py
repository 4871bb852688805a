"""Models trained elsewhere: ``weights:`` and ``pretrained: true`` entries, their keys and their errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from tests_tiny_text import TEMPLATE

from segbench import api
from segbench.models.build import build_model
from segbench.plan import expand
from segbench.store import Store
from segbench.suite.errors import SuiteError
from segbench.suite.load import load_suite

SUITE = TEMPLATE.replace("epochs: 10,", "epochs: 1,")  # the runner tests' tiny suite, one epoch
UNET = "{name: unet, params: {channels: [4, 8, 16], strides: [2, 2]}"

LOADER = """\
import torch
from segbench.models.build import build_model

def load(spatial_dims=2, out_channels=1, ckpt=""):
    model = build_model("unet", {"channels": [4, 8, 16], "strides": [2, 2]},
                        spatial_dims=spatial_dims, out_channels=out_channels)
    model.load_state_dict(torch.load(ckpt, weights_only=True)["state_dict"])
    return model
"""


def _suite(tmp_path: Path, name: str, models: list[str]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SUITE.format(name=name, models="\n".join(f"  - {m}" for m in models)))
    return path


def _unet_state(channels: tuple[int, ...] = (4, 8, 16), name: str = "unet") -> dict[str, torch.Tensor]:
    model = build_model(
        name, {"channels": list(channels), "strides": [2] * (len(channels) - 1)}, spatial_dims=2
    )
    return model.state_dict()


@pytest.mark.slow
def test_weights_and_pretrained_callable_reproduce_the_trained_jobs_dice(tmp_path: Path, monkeypatch) -> None:
    results = tmp_path / "results"
    trained = _suite(tmp_path, "trained", [UNET + "}"])
    assert api.run_suite(trained, results, quiet=True).ok
    (checkpoint,) = (results / "checkpoints").glob("*.pt")  # segbench's own {"state_dict": ...} format
    raw = tmp_path / "raw_state.pt"
    torch.save(torch.load(checkpoint, weights_only=True)["state_dict"], raw)  # a plain state dict
    (tmp_path / "my_loader.py").write_text(LOADER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("MY_MODELS", str(tmp_path))

    models = [
        UNET + ", weights: '${MY_MODELS}/raw_state.pt', label: from_raw}",
        UNET + f", weights: '{checkpoint}', label: from_ckpt}}",
        f"{{name: 'my_loader:load', params: {{ckpt: '{checkpoint}'}}, pretrained: true, "
        "label: from_callable}",
    ]
    reuse = _suite(tmp_path, "reuse", models)
    checkpoints_before = sorted(p.name for p in (results / "checkpoints").glob("*.pt"))
    summary = api.run_suite(reuse, results, quiet=True)
    assert summary.ok, summary.failed
    assert sorted(p.name for p in (results / "checkpoints").glob("*.pt")) == checkpoints_before  # no training

    store = Store(results)
    reference = store.cases("trained").set_index(["perturbation", "case_id"])["dice"].sort_index()
    cases = store.cases("reuse")
    assert set(cases["model"]) == {"from_raw", "from_ckpt", "from_callable"}
    for label, rows in cases.groupby("model"):
        dice = rows.set_index(["perturbation", "case_id"])["dice"].sort_index()
        assert len(dice) == len(reference) == 2 * 8, label
        np.testing.assert_array_equal(dice.to_numpy(), reference.to_numpy(), err_msg=label)
    jobs = store.jobs("reuse")
    assert (jobs["status"] == "trained").all()
    assert jobs["best_epoch"].isna().all() and (jobs["train_seconds"] == 0).all()

    from segbench.report.build import build_reports

    build_reports(results, tmp_path / "reports", ["reuse"])
    board = (tmp_path / "reports" / "reuse" / "leaderboard.md").read_text()
    assert all(f"| {label} |" in board for label in ("from_raw", "from_ckpt", "from_callable"))

    again = api.run_suite(reuse, results, quiet=True)  # results are cached by weights content
    assert again.ran == 0 and again.skipped == 3


def test_job_key_follows_weights_content_not_path(tmp_path: Path) -> None:
    first, copy, other = tmp_path / "a.pt", tmp_path / "b.pt", tmp_path / "c.pt"
    torch.save(_unet_state(), first)
    shutil.copy(first, copy)
    changed = _unet_state()
    changed["model.0.conv.weight"] = changed["model.0.conv.weight"] + 1
    torch.save(changed, other)

    def key(path: Path) -> str:
        suite = load_suite(_suite(tmp_path, "k", [UNET + f", weights: '{path}'}}"]))
        return expand(suite)[0].key

    assert key(first) == key(copy)
    assert key(first) != key(other)
    trained = expand(load_suite(_suite(tmp_path, "t", [UNET + "}"])))[0].key
    assert trained != key(first)


def test_pretrained_key_ignores_training_hyperparameters(tmp_path: Path) -> None:
    weights = tmp_path / "w.pt"
    torch.save(_unet_state(), weights)
    text = _suite(tmp_path, "h", [UNET + f", weights: '{weights}'}}"]).read_text()
    longer = tmp_path / "h2.yaml"
    longer.write_text(text.replace("epochs: 1", "epochs: 50").replace("lr: 0.01", "lr: 0.1"))
    assert expand(load_suite(tmp_path / "h.yaml"))[0].key == expand(load_suite(longer))[0].key


def _errors(tmp_path: Path, model: str) -> str:
    with pytest.raises(SuiteError) as info:
        load_suite(_suite(tmp_path, "bad", [model]))
    return str(info.value)


def test_architecture_mismatch_names_missing_unexpected_and_shape_keys(tmp_path: Path) -> None:
    wider = tmp_path / "wider.pt"
    torch.save({"state_dict": _unet_state((4, 8, 32))}, wider)
    message = _errors(tmp_path, UNET + f", weights: '{wider}'}}")
    assert message.count("\n") == 0
    assert "bad.yaml:" in message and "models.0.weights" in message
    assert "shape mismatches" in message and "file (32, 8, 3, 3) vs model (16, 8, 3, 3)" in message

    other = tmp_path / "noskip.pt"
    torch.save(_unet_state(name="noskip_unet"), other)
    message = _errors(tmp_path, UNET + f", weights: '{other}'}}")
    assert message.count("\n") == 0
    assert "missing keys (" in message and "unexpected keys (" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not a checkpoint at all", "is not a PyTorch checkpoint loadable with weights_only=True"),
        (None, "does not exist"),
        ("folder", "is a folder; give the checkpoint file inside it"),
    ],
)
def test_bad_weights_file_is_one_line(tmp_path: Path, content: bytes | str | None, expected: str) -> None:
    path = tmp_path / "w.pt"
    if content == "folder":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    message = _errors(tmp_path, UNET + f", weights: '{path}'}}")
    assert expected in message and message.count("\n") == 0


def test_checkpoint_without_state_dict_and_unset_variable(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "w.pt"
    torch.save({"epoch": 3, "optimizer": {}}, path)
    assert "holds no state dict" in _errors(tmp_path, UNET + f", weights: '{path}'}}")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    message = _errors(tmp_path, UNET + ", weights: '${NOT_SET_ANYWHERE}/w.pt'}")
    assert "NOT_SET_ANYWHERE" in message and "not set" in message


def test_validate_cli_shows_the_mismatch(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from segbench.cli import main

    wider = tmp_path / "wider.pt"
    torch.save(_unet_state((4, 8, 32)), wider)
    suite = _suite(tmp_path, "cli", [UNET + f", weights: '{wider}'}}"])
    result = CliRunner().invoke(main, ["validate", str(suite)])
    assert result.exit_code == 2 and "shape mismatches" in result.output and "Traceback" not in result.output


def test_data_parallel_prefix_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "dp.pt"
    torch.save({f"module.{k}": v for k, v in _unet_state().items()}, path)
    load_suite(_suite(tmp_path, "dp", [UNET + f", weights: '{path}'}}"]))  # no error


def test_pretrained_flag_needs_a_callable_and_dry_run_says_no_training(tmp_path: Path) -> None:
    message = _errors(tmp_path, UNET + ", pretrained: true}")
    assert "models.0.pretrained" in message and "package.module:callable" in message

    weights = tmp_path / "w.pt"
    torch.save(_unet_state(), weights)
    plan = api.plan_suite(_suite(tmp_path, "dry", [UNET + f", weights: '{weights}'}}"]), tmp_path / "r")
    assert "to evaluate (pretrained)" in "\n".join(plan.lines())
