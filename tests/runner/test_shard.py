"""``run --shard I/N`` on N folders + ``merge`` = one machine's run (issue 22, item 3)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from tests_tiny_text import tiny_with_models

from segbench import api
from segbench.cli import main
from segbench.execute.parts import ShardSpec, shard_keys
from segbench.store import Store

_KEY = ["model", "perturbation", "severity", "seed", "case_id"]


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0", "-1/2"])
def test_bad_shard_is_one_line_naming_the_value(text: str) -> None:
    with pytest.raises(ValueError, match=f"--shard must be I/N .*got '{text}'"):
        ShardSpec.parse(text)


def test_parts_are_disjoint_cover_every_job_and_keep_groups_together() -> None:
    keys = [f"{i:016x}" for i in range(11)]
    groups = [keys[0:3], keys[5:7]]
    for n in (1, 2, 3, 4):
        parts = [shard_keys(keys, groups, ShardSpec(i, n)) for i in range(1, n + 1)]
        assert set().union(*parts) == set(keys) and sum(map(len, parts)) == len(keys)
        for group in groups:
            assert sum(set(group) <= part for part in parts) == 1  # all in exactly one part
        assert max(map(len, parts)) - min(map(len, parts)) <= 2  # largest group is 3
    # The same answer in any order (each machine computes it on its own).
    assert shard_keys(reversed(keys), groups[::-1], ShardSpec(2, 3)) == shard_keys(
        keys, groups, ShardSpec(2, 3)
    )


def _cases(results: Path) -> pd.DataFrame:
    cases = Store(results).cases("split").sort_values(_KEY).reset_index(drop=True)
    return cases[[*_KEY, "job_key", "dice", "hd95", "nsd", "tp", "fp", "fn"]]


@pytest.mark.slow
def test_two_parts_merged_equal_the_whole_run(write_suite, tmp_path: Path) -> None:
    text = tiny_with_models(["unet", "noskip_unet"], "split").replace("seeds: [1]", "seeds: [1, 2]")
    text = (
        text.replace("epochs: 10", "epochs: 3") + "ensembles:\n  - {label: unet_x2, members: {model: unet}}\n"
    )
    suite = write_suite(text, "split")
    whole, one, two, merged = (tmp_path / n for n in ("whole", "one", "two", "merged"))
    assert api.run_suite(suite, whole, device="cpu", quiet=True).ok
    runner = CliRunner()
    plan = runner.invoke(main, ["run", str(suite), "--results", str(one), "--shard", "1/2", "--dry-run"])
    assert plan.exit_code == 0 and "part 1/2" in plan.output, plan.output
    ran = []
    for part, folder in (("1/2", one), ("2/2", two)):
        summary = api.run_suite(suite, folder, device="cpu", quiet=True, shard=part)
        assert summary.ok and summary.skipped == 0
        ran.append(summary.ran)
    # 4 jobs: the two unet seeds (the ensemble's members) stay together; the ensemble is a task of their part
    assert sorted(ran) == [2, 3]
    ensembles = [set(Store(f).cases("split")["model"]) for f in (one, two)]
    assert sum("unet_x2" in models for models in ensembles) == 1  # evaluated once, beside its members
    result = runner.invoke(main, ["merge", str(one), str(two), "--out", str(merged)])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(_cases(whole), _cases(merged))
    assert Store(merged).expected_counts("split") == Store(whole).expected_counts("split")
    # Nothing is left to do in the merged store; a wrong part is one line, exit 2.
    assert api.run_suite(suite, merged, device="cpu", quiet=True).ran == 0
    bad = runner.invoke(main, ["run", str(suite), "--results", str(one), "--shard", "3/2"])
    assert bad.exit_code == 2 and "--shard must be I/N" in bad.output
