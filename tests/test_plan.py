"""Suite expansion and content-hash stability."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import segbench
from segbench.plan import EvalCondition, expand, patch_size
from segbench.suite.load import parse_suite
from segbench.suite.schema import PatchBudget

SUITE = """\
name: p
seeds: [1, 2]
models: [unet, noskip_unet, attention_unet]
datasets: [{name: textures2d, params: {size: 32}}]
complexity: [0.1, 0.5]
perturbations: [none, harder, {name: gaussian_noise, severity: [1, 3]}]
"""


def test_expansion_counts_and_conditions() -> None:
    jobs = expand(parse_suite(SUITE))
    assert len(jobs) == 3 * 2 * 2  # models x complexity x seeds
    assert len({j.key for j in jobs}) == len(jobs)
    conditions = jobs[0].conditions
    assert conditions == (
        EvalCondition("none", 0),
        EvalCondition("speckle", 2, None, "harder"),
        EvalCondition("gaussian_noise", 1),
        EvalCondition("gaussian_noise", 3),
    )
    assert len({jobs[0].condition_key(c) for c in conditions}) == 4


def test_key_ignores_names_and_spelt_out_defaults() -> None:
    base = expand(parse_suite(SUITE))
    spelt = SUITE.replace(
        "models: [unet, noskip_unet, attention_unet]",
        "models: [{name: unet, label: U, params: {channels: [16, 32, 64, 128, 256]}}]",
    )
    other = expand(parse_suite(spelt.replace("name: p", "name: renamed")))
    assert other[0].key == base[0].key


def test_adding_a_perturbation_does_not_change_job_keys() -> None:
    base = expand(parse_suite(SUITE))
    more = expand(parse_suite(SUITE.replace("[none, harder,", "[none, harder, easiest,")))
    assert [j.key for j in base] == [j.key for j in more]
    old = {j.condition_key(c) for j in base for c in j.conditions}
    new = {j.condition_key(c) for j in more for c in j.conditions}
    assert old < new and len(new - old) == len(base)


def test_training_change_changes_key() -> None:
    base = expand(parse_suite(SUITE))
    changed = expand(parse_suite(SUITE + "train: {epochs: 5}\n"))
    assert not {j.key for j in base} & {j.key for j in changed}


PACKAGE_ROOT = str(Path(segbench.__file__).parents[1])


@pytest.mark.slow
def test_keys_stable_across_processes() -> None:
    """Hashes must not depend on PYTHONHASHSEED or dict order."""
    code = (
        "from segbench.plan import expand; from segbench.suite.load import parse_suite; "
        f"print(','.join(j.key for j in expand(parse_suite({SUITE!r}))))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            # This checkout's package (not whatever an editable install points at).
            env={"PYTHONHASHSEED": str(seed), "PATH": "", "PYTHONPATH": PACKAGE_ROOT},
        ).stdout
        for seed in (0, 1)
    }
    assert len(outputs) == 1
    assert outputs.pop().strip() == ",".join(j.key for j in expand(parse_suite(SUITE)))


def test_cross_complexity_conditions() -> None:
    jobs = expand(parse_suite(SUITE + "test_complexity: all\n"))
    extra = [c for c in jobs[0].conditions if c.test_complexity is not None]
    assert extra == [EvalCondition("none", 0, 0.5)]


def test_patch_size_from_voxel_budget() -> None:
    assert patch_size(PatchBudget(voxels=262144), 3) == (64, 64, 64)
    assert patch_size(PatchBudget(voxels=100_000), 3) == (32, 32, 32)  # 46^3 -> multiple of 16
    assert patch_size(PatchBudget(size=[48, 48, 32]), 3) == (48, 48, 32)
