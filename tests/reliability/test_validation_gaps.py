"""Inputs that validated (or were silently dropped) and should not have (issue 23 items 10 and 13)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from faults import cli, seed_store
from PIL import Image

from segbench.datasets.errors import DataError
from segbench.datasets.nnunet import discover

SUITE = """\
name: v
seeds: [1]
train: {{epochs: {epochs}, batch_size: 4}}
models: [{{name: unet, params: {{channels: [4, 8], strides: [2]}}}}]
datasets: [{{name: textures2d, params: {{size: 16, n_images: 10, fg_texture: "{texture}"}}}}]
"""


def _validate(tmp_path: Path, epochs: str = "1", texture: str = "noise", **env: str):
    suite = tmp_path / "v.yaml"
    suite.write_text(SUITE.format(epochs=epochs, texture=texture))
    os.environ.update(env)
    try:
        return cli("validate", suite)
    finally:
        for key in env:
            os.environ.pop(key)


def test_a_29_digit_epochs_is_refused(tmp_path: Path) -> None:
    out = _validate(tmp_path, epochs="1" * 29)
    assert out.returncode == 2 and "train.epochs" in out.stderr and "1000000" in out.stderr, out.stderr


def test_a_control_character_through_an_environment_variable_is_refused(tmp_path: Path) -> None:
    out = _validate(tmp_path, texture="${SB_TEXTURE}", SB_TEXTURE="noise\x1b[31m")
    assert out.returncode == 2 and "SB_TEXTURE holds a control character" in out.stderr, out.stderr
    assert "\x1b" not in out.stderr


def test_advise_params_are_checked_before_anything_runs(tmp_path: Path) -> None:
    results = tmp_path / "results"
    seed_store(results)
    huge = cli("advise", "textures2d", "--params", "{n_images: 10000000, size: 256}", "--results", results)
    assert huge.returncode == 2 and "n_images" in huge.stderr, huge.stderr
    twice = cli("advise", "textures2d", "--params", "{size: 32, size: 64}", "--results", results)
    assert twice.returncode == 2 and "duplicate key" in twice.stderr, twice.stderr
    tagged = cli("advise", "textures2d", "--params", "{size: !!python/none 32}", "--results", results)
    assert tagged.returncode == 2 and "Traceback" not in tagged.stderr, tagged.stderr


def _nnunet(root: Path, labels: dict[str, object], cases: list[str], labelled: list[str]) -> Path:
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    meta = {"channel_names": {"0": "x"}, "labels": labels, "file_ending": ".png", "numTraining": len(cases)}
    (root / "dataset.json").write_text(json.dumps(meta))
    for case in cases:
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "imagesTr" / f"{case}_0000.png")
    for case in labelled:
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "labelsTr" / f"{case}.png")
    return root


def test_nnunet_refuses_a_labelled_case_without_its_image(tmp_path: Path) -> None:
    root = _nnunet(tmp_path / "ds", {"background": 0, "fg": 1}, ["a", "b"], ["a", "b", "c"])
    with pytest.raises(DataError, match=r"nnU-Net case 'c'.*image .*c_0000\.png does not exist"):
        discover(str(root))


def test_nnunet_refuses_a_boolean_label_value(tmp_path: Path) -> None:
    root = _nnunet(tmp_path / "ds", {"background": 0, "fg": True}, ["a"], ["a"])
    with pytest.raises(DataError, match="must map names to integer values"):
        discover(str(root))


def test_a_folder_where_the_database_should_be_is_named_as_such(tmp_path: Path) -> None:
    results = tmp_path / "results"
    (results / "segbench.sqlite").mkdir(parents=True)  # a folder, as a careless copy leaves it
    for args in (
        ["failures", "--results", results],
        ["report", "--results", results, "--out", tmp_path / "r"],
    ):
        out = cli(*args)
        assert out.returncode == 2 and "is not a file" in out.stderr, out.stderr
        assert "disk I/O error" not in out.stderr and "Traceback" not in out.stderr


def test_a_user_modules_argparse_usage_is_not_printed(tmp_path: Path, monkeypatch, capsys) -> None:
    from segbench.registry import MODELS, RegistryError

    (tmp_path / "argparsey2.py").write_text(
        "import argparse\nargparse.ArgumentParser(prog='x').parse_args(['--nope'])\ndef build(): pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RegistryError, match=r"SystemExit\(2\).*it printed: x: error: unrecognized"):
        MODELS.get("argparsey2:build").load()
    assert "usage:" not in capsys.readouterr().err
