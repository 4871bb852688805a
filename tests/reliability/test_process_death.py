"""A model that kills its own process fails its job under the default local executor (issue 23 item 6).

Before: ``os._exit(0)`` in a model ended ``segbench run`` with exit 0 and nothing recorded, a segfault
with 139; every rerun did the same.  Now each job runs in a forked child: the job is stored failed with
the signal or exit code, the next job runs, and ``run`` exits 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from faults import cli
from tests_tiny_text import tiny_with_models

from segbench.store import Store

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("faulty_models:os_exits", "exited with code 0 without writing its result"),
        ("faulty_models:segfaults", "was killed by SIGSEGV (signal 11"),
        ("faulty_models:aborts", "was killed by SIGABRT (signal 6"),
    ],
)
def test_a_model_that_kills_its_process_is_a_failed_job(
    write_suite, tmp_path: Path, model: str, reason: str
) -> None:
    text = tiny_with_models([model, "unet"], "dies").replace("epochs: 10", "epochs: 1")
    suite, results = write_suite(text, "dies"), tmp_path / "results"
    out = cli("run", suite, "--results", results, "--quiet", "--device", "cpu", timeout=600)
    assert out.returncode == 1, out.stdout + out.stderr
    assert reason in out.stderr and "1 FAILED" in out.stderr
    jobs = Store(results).jobs("dies").set_index("model")
    assert jobs.loc[model, "status"] == "failed" and reason in jobs.loc[model, "error"]
    assert jobs.loc["unet", "status"] == "trained"  # the suite went on
