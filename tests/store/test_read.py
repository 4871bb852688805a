"""The store's read model: a stored suite's YAML parsed once into facts, the jobs' JSON parsed once.

Expectations are written by hand from the suite text; the tolerant fallbacks are the ones the report
always had (defaults for YAML that does not parse, ``None`` for JSON that does not).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from segbench.core.defaults import BASELINE_MODEL
from segbench.core.records import TrainRecord
from segbench.store import Store
from segbench.store.read import NO_SUITE, SuiteDefinition, SuiteShift, json_mapping, train_record, typed_jobs

SUITE = """\
name: s
description: "  Skips vs complexity.  "
baseline_model: noskip_unet
perturbations:
  - none
  - harder
  - {name: easiest, direction: harder}
  - {name: speckle, severity: [1, 3]}
  - {name: gaussian_noise, severity: 2, direction: easier}
  - gibbs
  - speckle
"""


def test_a_stored_suite_is_read_into_its_facts() -> None:
    d = SuiteDefinition.parse(SUITE, "s")
    assert (d.name, d.yaml, d.error) == ("s", SUITE, None)
    assert d.baseline_model == "noskip_unet" and d.description == "Skips vs complexity."
    # presets resolve to their perturbation; each name once, in suite order
    assert d.perturbation_order == ("none", "speckle", "blur_background", "gaussian_noise", "gibbs")
    assert d.shifts == (
        SuiteShift("harder", (("speckle", 2),)),
        SuiteShift("easiest", (("blur_background", 4),)),
        SuiteShift("speckle", (("speckle", 1), ("speckle", 3))),
        SuiteShift("gaussian_noise", (("gaussian_noise", 2),)),
        SuiteShift("gibbs", None),  # a bare name: every stored severity
        SuiteShift("speckle", None),
    )
    assert dict(d.directions) == {"blur_background": "harder", "gaussian_noise": "easier"}


@pytest.mark.parametrize(
    "text",
    [
        "",  # no suite stored (an imported model's store)
        "name: [unclosed\n",  # not YAML
        "name: a\nname: b\n",  # a duplicate key: the loader refuses it
        "- just\n- a list\n",  # YAML, but not a mapping
        "perturbations: 5\n",  # a malformed field is skipped
    ],
)
def test_a_suite_that_does_not_parse_reads_as_the_defaults(text: str) -> None:
    d = SuiteDefinition.parse(text, "x")
    assert d.baseline_model == BASELINE_MODEL == "unet"
    assert (d.perturbation_order, d.shifts, dict(d.directions)) == ((), (), {})
    assert d.description == "" and d.yaml == text
    if text.startswith("name:"):
        assert d.data is None and "stored suite" in (d.error or "")
    assert NO_SUITE.baseline_model == BASELINE_MODEL and NO_SUITE.yaml == ""


def test_json_columns_are_parsed_once_and_tolerantly() -> None:
    info = {"n_params": 3, "history": [{"epoch": 1}], "patch_size": [8, 8, 4], "crop_fbr": [0.1, 0.2]}
    jobs = pd.DataFrame(
        {
            "model": ["a", "b", "c"],
            "train_info": [json.dumps(info), None, json.dumps({"crop_fbr": [0.1, None]})],
            "provenance": [json.dumps({"device": "cpu"}), "not json", None],
            "config": [json.dumps({"dataset_params": {"size": 32}}), "[1, 2]", None],
        },
        index=[4, 5, 6],
    )
    typed = typed_jobs(jobs)
    first = typed.loc[4, "train_info"]
    assert (
        isinstance(first, TrainRecord) and first.patch_size == [8, 8, 4] and first.history == [{"epoch": 1}]
    )
    assert typed.loc[5, "train_info"] is None
    # an older store's value that does not validate is kept as stored, not dropped or raised
    assert typed.loc[6, "train_info"].crop_fbr == [0.1, None]
    assert typed["provenance"].tolist() == [{"device": "cpu"}, None, None]
    assert typed["config"].tolist() == [{"dataset_params": {"size": 32}}, None, None]
    assert jobs.loc[4, "train_info"] == json.dumps(info)  # the store's own frame is not changed
    again = typed_jobs(typed)  # idempotent: parsed values pass through
    assert again.loc[4, "train_info"] is first and again["config"].tolist() == typed["config"].tolist()
    assert train_record(float("nan")) is None and json_mapping(b'{"a": 1}') == {"a": 1}


def test_store_returns_the_read_model(shards, results: Path, fake_jobs) -> None:
    store = Store(results)
    store.record_suite("s", SUITE, results / "s.yaml", fake_jobs(("jobA", "unet")))
    store.ingest(shards.write(results, provenance={"device": "cpu", "torch_threads": 1}))
    stored = store.read_suite("s")
    assert stored.name == "s" and stored.definition == SuiteDefinition.parse(SUITE, "s")
    assert (stored.expected, stored.done) == (1, 1) and list(stored.cases["case_id"]) == ["c0", "c1"]
    (job,) = stored.jobs.to_dict("records")
    assert isinstance(job["train_info"], TrainRecord) and job["train_info"].history == []
    assert job["provenance"] == {"device": "cpu", "torch_threads": 1}
    assert job["config"]["dataset_params"] == {"size": 32} and job["config"]["model"] == "unet"
    empty = Store(results.parent / "none").read_suite("x")  # no database yet: empty, defaults
    assert empty.cases.empty and empty.jobs.empty and empty.definition.baseline_model == "unet"
