"""Each real-world mess is one line naming the file, from the registry ``check`` and ``segbench validate``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segbench.datasets.examples import write_datalist_site, write_fundus_site
from segbench.registry import DATASETS
from segbench.suite.errors import SuiteError
from segbench.suite.load import load_suite


def _check(name: str, **params: object) -> None:
    """The registry check's first problem raised as a ValueError (it returns one-line messages)."""
    problems = DATASETS.get(name).meta["check"](params)
    assert len(problems) <= 1 and all("\n" not in p for p in problems)
    if problems:
        raise ValueError(problems[0])


def _site(tmp_path: Path) -> tuple[Path, dict]:
    path = write_datalist_site(tmp_path, "s", n=5, size=16)
    return path, json.loads(path.read_text())


def _rewrite(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data))


def _missing_label(tmp_path: Path) -> tuple[Path, str]:
    path = write_fundus_site(tmp_path, "drive", [33, 34], shape=(20, 20))
    data = json.loads(path.read_text())
    (tmp_path / "drive" / "1st_manual" / "34_manual1.gif").rename(
        tmp_path / "drive" / "1st_manual" / "34manual1.gif"
    )
    _rewrite(path, data)
    return (
        path,
        r"drive\.json training\[1\]: label file .*34_manual1\.gif does not exist; "
        r"did you mean 34manual1\.gif",
    )


def _size_mismatch(tmp_path: Path) -> tuple[Path, str]:
    path, data = _site(tmp_path)
    Image.fromarray(np.zeros((12, 16), np.uint8)).save(tmp_path / data["training"][2]["label"])
    return path, r"s_002_mask\.png: label size \(12, 16\) differs from its image s_002\.png's \(16, 16\)"


def _many_values(tmp_path: Path) -> tuple[Path, str]:
    path, data = _site(tmp_path)
    Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16)).save(
        tmp_path / data["training"][1]["label"]
    )
    return path, r"s_001_mask\.png: label has 256 distinct values \(0, 1, 2, .*set label_threshold"


def _zero_byte(tmp_path: Path) -> tuple[Path, str]:
    path, data = _site(tmp_path)
    (tmp_path / data["training"][3]["image"]).write_bytes(b"")
    return path, r"s_003\.png: file is empty \(0 bytes\)"


def _unreadable(tmp_path: Path) -> tuple[Path, str]:
    path, data = _site(tmp_path)
    (tmp_path / data["training"][0]["image"]).write_bytes(b"this is not a png")
    return path, r"s_000\.png: cannot be read as an image"


def _empty(tmp_path: Path) -> tuple[Path, str]:
    path, _ = _site(tmp_path)
    _rewrite(path, {"training": []})
    return path, r"s\.json: the 'training' list is empty"


def _duplicate(tmp_path: Path) -> tuple[Path, str]:
    path, data = _site(tmp_path)
    (tmp_path / "other").mkdir()
    Image.open(tmp_path / data["training"][0]["image"]).save(tmp_path / "other" / "s_000.png")
    data["training"].append({"image": "other/s_000.png", "label": data["training"][0]["label"]})
    _rewrite(path, data)
    return path, r"duplicate case id 's_000' \(.*s/images/s_000\.png, .*other/s_000\.png\)"


CASES: dict[str, Callable[[Path], tuple[Path, str]]] = {
    "missing_label": _missing_label,
    "size_mismatch": _size_mismatch,
    "too_many_label_values": _many_values,
    "zero_byte_image": _zero_byte,
    "unreadable_image": _unreadable,
    "empty_datalist": _empty,
    "duplicate_case_ids": _duplicate,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_raises_one_line_naming_the_file(tmp_path: Path, case: str) -> None:
    path, pattern = CASES[case](tmp_path)
    with pytest.raises(ValueError, match=pattern) as info:
        _check("datalist", path=str(path))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("case", ["missing_label", "duplicate_case_ids"])
def test_validate_shows_the_data_error_with_its_line(tmp_path: Path, case: str) -> None:
    path, pattern = CASES[case](tmp_path)
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"name: real\nmodels: [unet]\ndatasets:\n  - {{name: datalist, params: {{path: {path}}}}}\n"
    )
    with pytest.raises(SuiteError, match=pattern) as info:
        load_suite(suite)
    assert ":4" in str(info.value)  # the dataset's line


def test_folder_with_no_images(tmp_path: Path) -> None:
    for cls in ("benign", "malignant"):
        (tmp_path / cls).mkdir()
    (tmp_path / "benign" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"BUSI class folder \(benign\) .*benign holds no images"):
        _check("busi", root=str(tmp_path))


def test_missing_root_mentions_segbench_data(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"nnU-Net dataset folder root= .*nope is not an existing folder.*SEGBENCH_DATA"
    ):
        _check("nnunet", root=str(tmp_path / "nope"))


def test_nnunet_missing_label_has_did_you_mean(tmp_path: Path) -> None:
    from segbench.datasets.examples import write_nnunet_copy

    root = write_nnunet_copy(write_datalist_site(tmp_path, "s", n=4, size=16), tmp_path / "Dataset001_S")
    (root / "labelsTr" / "s_002.png").rename(root / "labelsTr" / "s_02.png")
    with pytest.raises(
        ValueError,
        match=r"nnU-Net case 's_002': label file .*s_002\.png does not exist; did you mean s_02\.png",
    ):
        _check("nnunet", root=str(root))


def test_bad_preprocessing_values_are_named(tmp_path: Path) -> None:
    path, _ = _site(tmp_path)
    for params, pattern in (
        ({"channels": "bgr"}, r"channels='bgr' is not allowed; use one of gray, green, rgb"),
        ({"intensity": "max"}, r"intensity='max' is not allowed; use minmax, zscore or a window"),
        ({"size": 4}, r"size=4 must be an integer >= 8 or null"),
        ({"group": "("}, r"group='\(' is not a valid regular expression"),
        ({"group": "^zz"}, r"group='\^zz' does not match case 's_000'"),
        ({"split": [0.5, 0.5]}, r"split=\[0.5, 0.5\] must be three non-negative fractions"),
        ({"size": 300_000}, r"cases resized to size=300000 \(2D\) need about .* GB in memory.*lower size"),
    ):
        with pytest.raises(ValueError, match=pattern):
            _check("datalist", path=str(path), **params)
