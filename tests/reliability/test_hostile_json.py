"""JSON a user hands segbench (baselines, manifests, datalists, shards) fails in one line, however built.

Deeply nested JSON makes ``json.loads`` raise ``RecursionError``, which several readers did not
catch (a traceback from ``segbench import`` and ``segbench compare``); a shard that is valid JSON
but not a shard made ``segbench merge`` fail with a bare ``AttributeError``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from faults import seed_store

from segbench.cli import main
from segbench.registry import DATASETS

DEEP = "[" * 100_000 + "]" * 100_000


def _one_line(args: list[str | Path]):
    out = CliRunner().invoke(main, [str(a) for a in args])
    assert out.exit_code == 2, out.output
    assert out.exception is None or isinstance(out.exception, SystemExit), repr(out.exception)
    assert len(out.output.strip().splitlines()) == 1, out.output
    return out.output


def test_deep_json_baseline_manifest_and_datalist(tmp_path: Path) -> None:
    results = tmp_path / "results"
    seed_store(results)
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP)
    assert "not a readable baseline JSON" in _one_line(["compare", results, deep])
    preds = tmp_path / "preds"
    preds.mkdir()
    out = _one_line(["import", preds, "--manifest", deep, "--label", "x", "--results", results])
    assert "is not readable JSON" in out
    (problem,) = DATASETS.get("datalist").meta["check"]({"path": str(deep)})
    assert "is not valid JSON" in problem
    nn = tmp_path / "Dataset001_X"
    nn.mkdir()
    (nn / "dataset.json").write_text(DEEP)
    (problem,) = DATASETS.get("nnunet").meta["check"]({"root": str(nn)})
    assert "is not valid JSON" in problem


@pytest.mark.parametrize("content", ["[1, 2]", '{"attempt_id": "a", "conditions": [{"cases": [{}]}]}', DEEP])
def test_merge_names_a_shard_that_is_not_one(tmp_path: Path, content: str) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    seed_store(a)
    seed_store(b)
    bad = b / "shards" / "stray.json"
    bad.parent.mkdir(exist_ok=True)
    bad.write_text(content)
    out = _one_line(["merge", a, b, "--out", tmp_path / "c"])
    assert str(bad) in out and "is not a readable result shard" in out
