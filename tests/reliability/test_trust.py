"""Nothing from a results folder or an installed package runs because a file or a suite names it.

Issue 23 items 2 and 3: re-attaching a Slurm job unpickled ``results/slurm/<id>/<id>_0_result.pkl``
(a planted file ran code); ``numpy.testing:runstring``, ``pandas:eval`` and ``torch.hub:load``
validated as "user models" and ran the Python written in the suite's params.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
from pathlib import Path

import pytest
from faults import ShardFactory, cli

from segbench.execute import ExecutorOptions, SlurmSettings, Task
from segbench.execute.slurm import JOBS_FILE, SlurmExecutor
from segbench.plan import expand
from segbench.progress import LogReporter
from segbench.shards import write_shard
from segbench.suite.load import load_suite


class _Planted:
    """A pickle that creates a folder when loaded (stands in for any code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.marker),))


def _reattach(results: Path, suite: Path) -> tuple[SlurmExecutor, subprocess.Popen[bytes], Task]:
    """A recorded local-backend job whose 'controller' (a short sleep) is alive at submit time."""
    job = expand(load_suite(suite))[0]
    task = Task(job, job.conditions)
    proc = subprocess.Popen(["sleep", "0.5"])
    folder = results / "slurm"
    (folder / str(proc.pid)).mkdir(parents=True)
    conditions = sorted(job.condition_key(c) for c in job.conditions)
    entry = {"job_id": str(proc.pid), "cluster": "local", "conditions": conditions, "submitted_at": 0}
    (folder / JOBS_FILE).write_text(json.dumps({job.key: entry}))
    executor = SlurmExecutor(
        ExecutorOptions(results, "cpu"),
        LogReporter(stream=io.StringIO()),
        SlurmSettings(cluster="local", poll_s=0.2),
    )
    return executor, proc, task


def test_a_planted_result_pickle_is_never_loaded(tiny_suite: Path, tmp_path: Path) -> None:
    results, marker = tmp_path / "results", tmp_path / "pwned"
    executor, proc, task = _reattach(results, tiny_suite)
    (results / "slurm" / str(proc.pid) / f"{proc.pid}_0_result.pkl").write_bytes(
        pickle.dumps(("success", _Planted(marker)))
    )
    executor.submit([task])
    assert executor.reattached == 1
    proc.wait()
    shards = [json.loads(p.read_text()) for p in executor.as_completed()]
    assert not marker.exists(), "a file in the results folder was unpickled"
    assert [s["status"] for s in shards] == ["failed"]
    assert "ended without writing its result shard" in shards[0]["error"]


def test_a_reattached_job_returns_the_shard_it_wrote(tiny_suite: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    executor, proc, task = _reattach(results, tiny_suite)
    executor.submit([task])
    written = write_shard(results, ShardFactory()(job_key=task.job.key))
    proc.wait()
    assert list(executor.as_completed()) == [written]


@pytest.mark.parametrize(
    ("reference", "params"),
    [
        ("numpy.testing:runstring", '{astr: \'open("PWNED", "w")\', dict: {}}'),
        ("pandas:eval", "{expr: '1+1'}"),
        ("torch.hub:load", "{repo_or_dir: x, model: y}"),
    ],
)
def test_a_third_party_callable_is_refused_with_the_fix(tmp_path: Path, reference: str, params: str) -> None:
    suite = tmp_path / "s.yaml"
    suite.write_text(
        f"name: s\nmodels: [{{name: '{reference}', params: {params}}}]\n"
        "datasets: [{name: textures2d, params: {size: 32}}]\n"
    )
    out = cli("validate", suite)
    assert out.returncode == 2, out.stdout
    assert "is refused" in out.stderr and "installed package" in out.stderr
    assert "wrap it in a two-line module beside the suite" in out.stderr
    assert "Traceback" not in out.stderr
    # the fix works: the same callable wrapped in the user's own module validates
    module, attr = reference.split(":")
    (tmp_path / "my_wrap.py").write_text(
        f"from {module} import {attr}\n\ndef build(**params):\n    return 1\n"
    )
    suite.write_text(suite.read_text().replace(reference, "my_wrap:build").replace(params, "{}"))
    assert cli("validate", suite).returncode == 0
