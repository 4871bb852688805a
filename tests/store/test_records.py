"""The typed shard record: round trip, version 1 compatibility, clear errors naming the file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from segbench.core.records import SHARD_VERSION, CaseRecord, RecordError, ShardRecord
from segbench.shards import read_shard, write_shard


def test_round_trip_keeps_values_nan_and_extras(shards, results: Path) -> None:
    raw = shards(dice=(float("nan"), 0.25), custom_note="kept")
    path = write_shard(results, raw)
    back = read_shard(path)
    assert back.version == SHARD_VERSION and back.job_key == "jobA" and back.ok
    case0, case1 = back.conditions[0].cases
    assert math.isnan(case0.values["dice"]) and case0.value("dice") is None  # NaN -> NULL for SQLite
    assert case1.value("dice") == 0.25 and case1.value("tp") == 10 and isinstance(case1.value("tp"), int)
    assert back.model_extra == {"custom_note": "kept"}
    on_disk = json.loads(path.read_text().replace("NaN", "null"))
    assert on_disk["version"] == SHARD_VERSION
    assert set(on_disk["conditions"][0]["cases"][1]) >= {"case_id", "dice", "hd95", "meta"}  # rows stay flat


def test_version_1_shard_without_version_key_loads(shards) -> None:
    raw = shards()
    assert "version" not in raw
    record = ShardRecord.from_json(json.dumps(raw), "old.json")
    assert record.version == 1 and record.conditions[0].cases[0].case_id == "c0"


def test_newer_shard_is_refused_by_name(shards) -> None:
    with pytest.raises(RecordError, match=r"new\.json: shard version 99 .*newer segbench"):
        ShardRecord.from_json(json.dumps({**shards(), "version": 99}), "new.json")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", r"bad\.json: not a segbench shard \(the file is empty\)"),
        (b"\xff\xfe\x00garbage", r"bad\.json: .*not UTF-8"),
        (b'{"job_key": "x", ', r"bad\.json: .*invalid JSON"),
        (b"[1, 2]", r"bad\.json: .*expected a JSON object, got a list"),
        (
            b'{"job_key": "x", "attempt_id": "y"}',
            r"bad\.json: not a valid .*: field job: Field required",
        ),
    ],
)
def test_garbage_names_the_file_and_field(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(RecordError, match=expected):
        read_shard(path)


def test_bad_case_value_names_the_field(shards) -> None:
    raw = shards()
    raw["conditions"][0]["cases"][1]["dice"] = "high"
    with pytest.raises(RecordError, match=r"field conditions\.0\.cases\.1\.values\.dice"):
        ShardRecord.from_dict(raw, "x.json")


def test_case_record_accepts_numeric_case_ids() -> None:
    assert CaseRecord.model_validate({"case_id": 7, "dice": 1.0}).case_id == "7"
