"""A corpus of bad suite files: each gets exactly one one-line error ``file:line: path: message``.

Table-driven: every row is a distinct kind of mistake (types, literals, names, cross-field
rules, YAML abuse, encodings, environment variables).  ``parse_suite``/``load_suite`` are
checked for the exact line and field path; the CLI for "no traceback, exit 2"; a few through
a real ``python -m segbench.cli`` subprocess.  No timings are asserted (the machine is shared);
the alias bombs carry a pytest-timeout instead, so a regression hangs for 10 s, not forever.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from segbench import api  # noqa: F401 - imported here, outside the timed tests (see below)
from segbench.cli import main
from segbench.registry import MODELS
from segbench.suite.errors import SuiteError
from segbench.suite.load import load_suite
from segbench.suite.yaml_safe import MAX_BYTES

# The built-in entries import torch/MONAI (tens of seconds on a loaded 2-core machine): load
# them at collection so the 10 s pytest-timeout of each test below measures only validation.
MODELS.names()

HEAD = "name: x\nmodels: [unet]\ndatasets:\n  - {name: textures2d, params: {size: 32}}\n"  # lines 1-4
TEXTURES = "name: x\nmodels: [unet]\ndatasets:\n  - name: textures2d\n    params:\n"  # params at line 5

BOMB = "name: x\nmodels: [unet]\ndatasets: [textures2d]\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)
)


@dataclass
class Bad:
    """One bad file: its content, the single expected issue's line/path and message fragments."""

    kind: str
    content: str | bytes
    line: int | None
    path: str
    fragments: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


def _deep(levels: int) -> str:
    return (
        "name: x\nmodels: [unet]\ndatasets: [textures2d]\ndescription: " + "[" * levels + "]" * levels + "\n"
    )


CORPUS = [
    # --- values checked against the factory signatures
    Bad(
        "int given a word",
        HEAD.replace("size: 32", "size: big"),
        4,
        "datasets.0.params.size",
        ["valid integer", "takes int", "got 'big'"],
    ),
    Bad(
        "tuple given a word",
        "name: x\nmodels:\n  - {name: unet, params: {channels: banana}}\ndatasets: [textures2d]\n",
        3,
        "models.0.params.channels",
        ["valid tuple", "tuple[int, ...]", "got 'banana'"],
    ),
    Bad(
        "float inside int tuple",
        "name: x\nmodels:\n  - {name: unet, params: {strides: [2, 2.5]}}\ndatasets: [textures2d]\n",
        3,
        "models.0.params.strides.1",
        ["valid integer", "got 2.5"],
    ),
    Bad(
        "number as a quoted string",
        "name: x\nmodels:\n  - {name: unet, params: {dropout: '0.1'}}\ndatasets: [textures2d]\n",
        3,
        "models.0.params.dropout",
        ["valid number", "got '0.1'"],
    ),
    Bad(
        "direction not allowed",
        TEXTURES + "      direction: sideways\n",
        6,
        "datasets.0.params.direction",
        ["'foreground' or 'background'", "got 'sideways'"],
    ),
    Bad(
        "unknown texture",
        TEXTURES + "      fg_texture: marble_from_mars\n",
        6,
        "datasets.0.params.fg_texture",
        ["not a known texture", "grass"],
    ),
    Bad(
        "texture_dir missing",
        TEXTURES + "      texture_dir: /no/such/folder\n",
        6,
        "datasets.0.params.texture_dir",
        ["not an existing folder"],
    ),
    Bad(
        "split not summing to 1",
        TEXTURES + "      split: [0.5, 0.5, 0.5]\n",
        6,
        "datasets.0.params.split",
        ["must sum to 1"],
    ),
    Bad(
        "sphere radius too big",
        "name: x\nmodels: [unet]\ndatasets:\n  - name: spheres3d\n    params:\n      size: 32\n"
        "      train_radius: [5, 8]\n      test_radius: [2, 40]\n",
        8,
        "datasets.0.params.test_radius",
        ["size/2 = 16"],
    ),
    Bad(
        "patch larger than the volume",
        "name: x\nmodels: [unet]\ndatasets:\n  - {name: spheres3d, params: {size: 32, train_radius: [5, 8], "
        "test_radius: [2, 13]}}\npatch_budget:\n  - {size: [48, 48, 48]}\n",
        6,
        "patch_budget.0.size",
        ["does not fit spheres3d's 32^3 volumes", "got [48, 48, 48]"],
    ),
    Bad(
        "msd root missing",
        "name: x\nmodels: [unet]\ndatasets:\n  - name: msd\n    params:\n      root: /no/msd/here\n",
        6,
        "datasets.0.params.root",
        ["not an existing folder"],
    ),
    Bad(
        "msd root not given",
        "name: x\nmodels: [unet]\ndatasets:\n  - {name: msd}\n",
        4,
        "datasets.0.params.root",
        ["'msd' needs parameter 'root'"],
    ),
    Bad(
        "unknown model param",
        "name: x\nmodels:\n  - {name: unet, params: {chanels: [8, 16]}}\ndatasets: [textures2d]\n",
        3,
        "models.0.params.chanels",
        ["did you mean 'channels'"],
    ),
    Bad(
        "injected model arg",
        "name: x\nmodels:\n  - name: unet\n    params:\n      in_channels: 3\ndatasets: [textures2d]\n",
        5,
        "models.0.params.in_channels",
        ["filled in from the dataset"],
    ),
    # --- names and cross-field rules
    Bad(
        "unknown model",
        "name: x\nmodels: [unet, resnet]\ndatasets: [textures2d]\n",
        2,
        "models.1.name",
        ["unknown model 'resnet'", "noskip_unet"],
    ),
    Bad(
        "unknown dataset",
        "name: x\nmodels: [unet]\ndatasets: [mnist]\n",
        3,
        "datasets.0.name",
        ["unknown dataset 'mnist'"],
    ),
    Bad(
        "unknown perturbation",
        HEAD + "perturbations: [none, specle]\n",
        5,
        "perturbations.1.name",
        ["did you mean 'speckle'"],
    ),
    Bad(
        "severity 7",
        HEAD + "perturbations:\n  - {name: speckle, severity: 7}\n",
        6,
        "perturbations.0.severity",
        ["one of 1, 2, 3, 4, 5", "got 7"],
    ),
    Bad(
        "baseline_model typo",
        "name: x\nmodels: [unet, noskip_unet]\ndatasets: [textures2d]\nbaseline_model: unte\n",
        4,
        "baseline_model",
        ["did you mean 'unet'", "noskip_unet", "got 'unte'"],
    ),
    Bad(
        "complexity out of range",
        HEAD + "complexity: [0.5, 1.5]\n",
        5,
        "complexity.1",
        ["outside textures2d's range"],
    ),
    Bad(
        "duplicate model label",
        "name: x\nmodels:\n  - unet\n  - unet\ndatasets: [textures2d]\n",
        4,
        "models.1",
        ["listed twice"],
    ),
    Bad(
        "test_complexity alone", HEAD + "test_complexity: all\n", 5, "test_complexity", ["needs 'complexity'"]
    ),
    Bad(
        "user module not found",
        "name: x\nmodels: [no_such_module_xyz:build]\ndatasets: [textures2d]\n",
        2,
        "models.0.name",
        ["no_such_module_xyz"],
    ),
    Bad(
        "standard-library callable",
        "name: x\nmodels:\n  - {name: 'os:system', params: {command: 'echo hi'}}\ndatasets: [textures2d]\n",
        3,
        "models.0.name",
        ["standard library"],
    ),
    # --- schema
    Bad("boolean as a seed", HEAD + "seeds: [1, true]\n", 5, "seeds.1", ["valid integer", "got True"]),
    Bad(  # validated fine before, then the OOM killer ended the whole run with SIGKILL
        "synthetic images larger than memory",
        HEAD.replace("size: 32", "size: 100000"),
        4,
        "datasets.0.params",
        ["100 images of 100000x100000 need about", "GB in memory", "lower size or n_images"],
    ),
    Bad(
        "synthetic volumes larger than memory",
        "name: x\nmodels: [unet]\ndatasets:\n  - {name: spheres3d, params: {size: 20000}}\n",
        4,
        "datasets.0.params",
        ["volumes of 20000^3 need about", "lower size or the case counts"],
    ),
    Bad("negative seed", HEAD + "seeds: [-1]\n", 5, "seeds.0", ["greater than or equal to 0", "got -1"]),
    Bad(  # numpy cannot seed with it and SQLite cannot store it (the store crashed on ingest)
        "seed beyond 2**32",
        HEAD + "seeds: [1, 99999999999999999999999]\n",
        5,
        "seeds.1",
        ["less than or equal to 4294967295"],
    ),
    Bad("negative data_seed", HEAD + "data_seed: -5\n", 5, "data_seed", ["greater than or equal to 0"]),
    Bad("quoted integer", HEAD + "train: {batch_size: '8'}\n", 5, "train.batch_size", ["valid integer"]),
    Bad("string as a boolean", HEAD + "train: {amp: 'yes'}\n", 5, "train.amp", ["valid boolean"]),
    Bad("infinite learning rate", HEAD + "train: {lr: .inf}\n", 5, "train.lr", ["finite number"]),
    Bad("suite name of dots", HEAD.replace("name: x", "name: '..'"), 1, "name", ["outside reports/"]),
    Bad("unknown key", HEAD + "seedz: [1]\n", 5, "seedz", ["unknown key 'seedz'", "did you mean 'seeds'"]),
    Bad("missing key", "name: x\ndatasets: [textures2d]\n", 1, "models", ["required key missing"]),
    Bad(
        "bad literal",
        HEAD + "train: {loss: focal}\n",
        5,
        "train.loss",
        ["'dice' or 'dice_ce'", "got 'focal'"],
    ),
    Bad(
        "negative epochs", HEAD + "train:\n  epochs: -1\n", 6, "train.epochs", ["greater than or equal to 1"]
    ),
    Bad("bad suite name", HEAD.replace("name: x", "name: bad name!"), 1, "name", ["should match pattern"]),
    # --- YAML structure
    Bad("alias bomb under seeds", BOMB + "seeds: *a9\n", 7, "", ["more than 5,000 values", "alias"]),
    Bad("alias bomb under description", BOMB + "description: *a9\n", 7, "", ["more than 5,000 values"]),
    Bad("recursive alias", HEAD + "seeds: &s [1, *s]\n", 5, "", ["recursive structure"]),
    Bad("nesting 1000 deep", _deep(1000), 4, "", ["nested deeper than 50 levels"]),
    Bad("nesting 51 deep", _deep(51), 4, "", ["nested deeper than 50 levels"]),
    Bad(
        "block mappings 200 deep",
        HEAD + "train:\n" + "".join("  " * i + "k:\n" for i in range(1, 200)),
        54,
        "",
        ["nested deeper than 50 levels"],
    ),
    Bad(
        "aliases nesting too deep",
        HEAD + "a: &a " + "[" * 30 + "]" * 30 + "\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n",
        6,
        "",
        ["alias *a nests the document deeper than 50 levels"],
    ),
    Bad(
        "too many values",
        HEAD + "seeds: [" + ", ".join(["1"] * 10_000) + "]\n",
        5,
        "",
        ["more than 5,000 values"],
    ),
    Bad(
        "duplicate top-level key",
        HEAD + "seeds: [1]\nseeds: [2]\n",
        6,
        "seeds",
        ["duplicate key 'seeds'", "line 5"],
    ),
    Bad(
        "duplicate nested key",
        "name: x\nmodels:\n  - name: unet\n    params: {channels: [4, 8], channels: [8, 16]}\n"
        "datasets: [textures2d]\n",
        4,
        "models.0.params.channels",
        ["duplicate key 'channels'"],
    ),
    Bad("boolean key", HEAD + "yes: 1\n", 5, "yes", ["read by YAML as bool", "quote it"]),
    Bad("list as key", HEAD + "? [a, b]\n: 1\n", 5, "", ["must be a string, not a list"]),
    Bad(
        "python tag",
        HEAD + "description: !!python/object/apply:os.system [echo hi]\n",
        5,
        "description",
        ["!!python/object/apply:os.system", "not allowed"],
    ),
    Bad("binary tag", HEAD + "description: !!binary aGVsbG8=\n", 5, "description", ["!!binary"]),
    Bad("custom tag", HEAD + "description: !include other.yaml\n", 5, "description", ["!include"]),
    Bad("merge of a scalar", HEAD + "train:\n  <<: 5\n", 6, "train", ["merge key"]),
    Bad("two documents", HEAD + "---\nname: y\n", 5, "", ["one YAML document"]),
    Bad("syntax error", "name: x\nmodels: [unet\ndatasets: [textures2d]\n", 3, "", ["invalid YAML"]),
    Bad("undefined alias", HEAD + "seeds: *nope\n", 5, "", ["undefined alias"]),
    Bad("huge integer", HEAD + "seeds: [" + "9" * 5000 + "]\n", 5, "seeds.0", ["5000 digits"]),
    # --- bytes and text
    Bad("NUL byte", HEAD.encode() + b"description: a\x00b\n", 5, "", ["NUL byte", "binary file"]),
    Bad(
        "latin-1 bytes", HEAD.encode() + "description: café\n".encode("latin-1"), 5, "", ["not UTF-8", "0xE9"]
    ),
    Bad("binary junk (PNG)", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", 3, "", ["NUL byte"]),
    Bad("binary junk without NUL", b"\xff\xd8\xff\xe0JFIF\xfe\xfe\xfe", 1, "", ["not UTF-8", "0xFF"]),
    Bad("UTF-16 text", "name: x\n".encode("utf-16"), 1, "", ["UTF-16", "save it as UTF-8"]),
    Bad("control character", HEAD + "description: bell\x07\n", 5, "", ["control character U+0007"]),
    Bad(
        "escaped NUL in a value",
        HEAD + 'description: "a\\x00b"\n',
        5,
        "description",
        ["control character U+0000"],
    ),
    Bad("empty file", "", 1, "", ["must be a mapping", "empty file"]),
    Bad("only comments", "# nothing here\n", 1, "", ["must be a mapping", "empty file"]),
    Bad("list at top", "- name: x\n- models: [unet]\n", 1, "", ["must be a mapping", "a list"]),
    Bad("scalar at top", "just a sentence\n", 1, "", ["must be a mapping", "a str"]),
    Bad(
        "oversized file", HEAD + "description: " + "x" * MAX_BYTES + "\n", None, "", ["larger than 1024 KiB"]
    ),
    # --- environment variables
    Bad(
        "unset variable",
        "name: x\nmodels: [unet]\ndatasets:\n  - name: msd\n    params:\n"
        "      root: ${SEGBENCH_TEST_UNSET}/msd\n",
        6,
        "datasets.0.params.root",
        ["SEGBENCH_TEST_UNSET is not set", "export"],
    ),
    Bad(
        "malformed variable",
        HEAD + "description: ${not a name}\n",
        5,
        "description",
        ["not an environment variable"],
    ),
    Bad("unclosed variable", HEAD + "description: cost ${HOME\n", 5, "description", ["unclosed '${'"]),
    Bad(
        "variable expands to a bad value",
        TEXTURES + "      fg_texture: ${SEGBENCH_TEST_TEXTURE}\n",
        6,
        "datasets.0.params.fg_texture",
        ["'plaid' is not a known texture"],
        env={"SEGBENCH_TEST_TEXTURE": "plaid"},
    ),
]

ISSUE_LINE = re.compile(r"^(?P<file>.+?\.yaml)(?::(?P<line>\d+))?: (?:(?P<path>[\w.]+): )?(?P<message>.+)$")


def _write(tmp_path: Path, bad: Bad) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_bytes(bad.content if isinstance(bad.content, bytes) else bad.content.encode())
    return path


def _env(monkeypatch: pytest.MonkeyPatch, bad: Bad) -> None:
    monkeypatch.delenv("SEGBENCH_TEST_UNSET", raising=False)
    for name, value in bad.env.items():
        monkeypatch.setenv(name, value)


def test_corpus_is_large_and_distinct() -> None:
    assert len(CORPUS) >= 30
    assert len({b.kind for b in CORPUS}) == len(CORPUS)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("bad", CORPUS, ids=lambda b: b.kind)
def test_one_issue_with_line_and_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: Bad) -> None:
    _env(monkeypatch, bad)
    path = _write(tmp_path, bad)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    issues = info.value.issues
    assert len(issues) == 1, str(info.value)
    message = str(info.value)
    assert "\n" not in message and len(message) < 1000, message
    match = ISSUE_LINE.match(message)
    assert match, message
    assert match["file"] == str(path)
    assert (int(match["line"]) if match["line"] else None) == bad.line, message
    assert (match["path"] or "") == bad.path, message
    for fragment in bad.fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


@pytest.mark.timeout(10)
@pytest.mark.parametrize("bad", CORPUS, ids=lambda b: b.kind)
def test_cli_validate_exit_2_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: Bad
) -> None:
    _env(monkeypatch, bad)
    path = _write(tmp_path, bad)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(path)), result.output


SUBPROCESS_KINDS = ["alias bomb under seeds", "nesting 1000 deep", "latin-1 bytes"]


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", SUBPROCESS_KINDS)
def test_python_m_cli_validate(tmp_path: Path, kind: str) -> None:
    bad = next(b for b in CORPUS if b.kind == kind)
    path = _write(tmp_path, bad)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "benchmark")}
    proc = subprocess.run(
        [sys.executable, "-m", "segbench.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=110,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"{path}:{bad.line}:"), line
