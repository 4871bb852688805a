"""Typed, versioned records that travel between stages: a job attempt's shard and a suite's definition.

Why typed: a job's results used to travel as a plain dict read by the worker, the store and the run
summary, so a typo or a truncated file surfaced as a bare ``KeyError`` three layers away.  Now the
worker builds a :class:`ShardRecord`, :func:`ShardRecord.from_json` validates what comes off disk and
raises :class:`RecordError` naming the file and the first bad field, and the store reads attributes.

Versions: ``SHARD_VERSION`` is written into every shard.  A shard without ``version`` is version 1
(the dict written before records existed); its layout is the same, so it loads unchanged.  A shard
from a newer segbench is refused with a message saying so, rather than half-read.

Per-case rows stay flat in the JSON (``{"case_id": ..., "dice": ..., "meta": ...}``) as before; any key
other than ``case_id``, ``meta`` and ``perturbation_params`` is a metric value, so a metric added to
:data:`segbench.core.METRICS` needs no change here.

Only pydantic and the standard library are imported: the store, the worker and light commands all
import this module.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from segbench.core.metrics import CASE_META_FIELDS, METRICS

__all__ = [
    "SHARD_VERSION",
    "SUITE_RECORD_VERSION",
    "CaseRecord",
    "ConditionRecord",
    "JobRecord",
    "MemberRecord",
    "RecordError",
    "ShardRecord",
    "SuiteRecord",
    "TrainRecord",
]

SHARD_VERSION = 2
"""Version written into new shards (1 = the untyped dict, same layout, no ``version`` key)."""

SUITE_RECORD_VERSION = 1
"""Version of :class:`SuiteRecord` files (``shards/suites/<name>.json``)."""

_CASE_TEXT_FIELDS = ("meta", "perturbation_params")
_SPECS = (*METRICS, *CASE_META_FIELDS)


class RecordError(ValueError):
    """A shard or suite record that does not validate; the message names the file and the field."""


class _Record(BaseModel):
    # Every key this code writes or reads is a declared field.  Unknown keys are kept (not refused) only
    # so that a shard from a newer writer round-trips; nothing here reads them.
    model_config = ConfigDict(extra="allow")


class CaseRecord(BaseModel):
    """One test case under one condition: metric values plus the case's meta and perturbation draw.

    Attributes:
        case_id: the dataset's case id.
        values: metric and case-meta values by column name (NaN/None = undefined, e.g. both masks empty).
        meta: the case's meta as JSON text.
        perturbation_params: the sampled perturbation parameters as JSON text.
    """

    model_config = ConfigDict(extra="forbid")

    case_id: str
    values: dict[str, float | int | None] = Field(default_factory=dict)
    meta: str | None = None
    perturbation_params: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _gather_flat_values(cls, data: Any) -> Any:
        """Accept the flat on-disk row: every key but the text fields is a metric value."""
        if isinstance(data, dict) and "values" not in data:
            data = dict(data)
            if "case_id" in data and not isinstance(data["case_id"], str):
                data["case_id"] = str(data["case_id"])
            keep = {k: data.pop(k) for k in ("case_id", *_CASE_TEXT_FIELDS) if k in data}
            return {**keep, "values": data}
        return data

    @model_validator(mode="after")
    def _in_range(self) -> CaseRecord:
        """A Dice of 5 or a negative distance is a forged or broken shard, not a result to report."""
        for spec in _SPECS:
            value = self.values.get(spec.name)
            if spec.out_of_range(value):
                low, high = spec.valid
                raise ValueError(
                    f"case {self.case_id!r}: {spec.name} = {value!r} is outside [{low:g}, {high:g}]"
                )
        return self

    def value(self, name: str) -> float | int | None:
        """The value of metric ``name``; None when absent or NaN (SQLite has no NaN)."""
        v = self.values.get(name)
        return None if isinstance(v, float) and math.isnan(v) else v

    def flat(self) -> dict[str, Any]:
        """The on-disk row: ``case_id``, every value, ``meta``, ``perturbation_params``."""
        return {
            "case_id": self.case_id,
            **self.values,
            "meta": self.meta,
            "perturbation_params": self.perturbation_params,
        }


class ConditionRecord(_Record):
    """One evaluated condition of a job (perturbation x severity, or a dataset shift)."""

    cond_key: str = Field(min_length=1)
    perturbation: str
    severity: int
    test_complexity: float | None = None
    preset: str | None = None
    test_params: str | None = None
    eval_seconds: float | None = None
    cases: list[CaseRecord] = Field(default_factory=list)


class TrainRecord(_Record):
    """What training produced (or what the reused checkpoint recorded)."""

    n_params: int | None = None
    best_epoch: int | None = None
    best_val_dice: float | None = None
    train_seconds: float | None = None
    peak_memory_mb: float | None = None
    history: Any = None
    crop_fbr: list[float] | None = None
    patch_size: list[int] | None = None
    n_train: int | None = None
    n_val: int | None = None
    validation: str | None = None
    """"split" (best validation epoch kept) or "none" (train on train+val, last epoch kept)"""
    split: dict[str, list[str]] | None = None
    """case ids per split (exported with the job)"""
    dataset_fingerprint: str | None = None
    """a real dataset's file fingerprint; None for synthetic data"""
    gates: list[list[float]] | None = None
    """gated_unet's learned skip gates per level (top first); None for other models"""
    members: list[str] | None = None
    """an ensemble's member job keys; None for a trained model"""
    pretrained: bool = False
    """loaded, not trained (``weights:`` or a ``pretrained: true`` callable)"""
    weights: str | None = None
    weights_sha256: str | None = None


class MemberRecord(BaseModel):
    """One member of an ensemble job."""

    job_key: str
    model: str
    seed: int


class JobRecord(_Record):
    """The train job's spec as the store records it (``jobs.config``)."""

    model: str
    model_label: str | None = None
    model_params: dict[str, Any] = Field(default_factory=dict)
    dataset: str
    dataset_label: str | None = None
    dataset_params: dict[str, Any] = Field(default_factory=dict)
    complexity: float | None = None
    patch: Any = "full"
    seed: int
    data_seed: int
    train: dict[str, Any] | None = None
    members: list[MemberRecord] | None = None
    """an ensemble's members; None for a train job"""

    def config_json(self) -> str:
        """The job spec as the store's ``jobs.config`` text (sorted keys; ``members`` only for ensembles)."""
        exclude = {"members"} if self.members is None else None
        return json.dumps(self.model_dump(mode="json", exclude=exclude), sort_keys=True)


class ShardRecord(_Record):
    """One job attempt: what was trained and evaluated, or why it failed.

    Attributes:
        version: record layout version (:data:`SHARD_VERSION`; 1 when absent on disk).
        job_key: the train job's content key.
        attempt_id: unique per attempt; makes ingestion idempotent.
        suite: the suite that ran it.
        job: the job spec.
        status: ``"done"`` or ``"failed"``.
        error: traceback of a failed attempt.
        train: training outcome; None when training did not finish.
        conditions: the evaluated conditions with their per-case rows.
        provenance: versions, commit, device, host.
    """

    version: int = SHARD_VERSION
    job_key: str = Field(min_length=1)
    attempt_id: str = Field(min_length=1)
    suite: str | None = None
    job: JobRecord
    status: Literal["done", "failed"] = "failed"
    error: str | None = None
    train: TrainRecord | None = None
    conditions: list[ConditionRecord] = Field(default_factory=list)
    started_at: float | None = None
    finished_at: float | None = None
    provenance: dict[str, Any] | None = None
    train_reused: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "done"

    @property
    def filename(self) -> str:
        """The shard's file name: ``<job_key>-<attempt_id>.json``."""
        return f"{self.job_key}-{self.attempt_id}.json"

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path = "<shard>") -> ShardRecord:
        """Validate a shard dict; version 1 (no ``version`` key) is accepted as is.

        Raises:
            RecordError: naming ``source``, the first bad field and the number of other problems.
        """
        if not isinstance(data, dict):
            raise RecordError(f"{source}: not a segbench shard (expected a JSON object, got {_kind(data)})")
        data = {**data, "version": data.get("version", 1)}
        if isinstance(data["version"], int) and data["version"] > SHARD_VERSION:
            raise RecordError(
                f"{source}: shard version {data['version']} was written by a newer segbench "
                f"(this one reads up to {SHARD_VERSION}); upgrade segbench"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise RecordError(f"{source}: not a valid segbench shard: {_first_error(exc)}") from None

    @classmethod
    def from_json(cls, text: str | bytes, source: str | Path = "<shard>") -> ShardRecord:
        """Parse and validate shard JSON (NaN allowed, as the worker writes it).

        Raises:
            RecordError: naming ``source`` for text that is not JSON, not UTF-8 or not a shard.
        """
        return cls.from_dict(_loads(text, source, "shard"), source)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (case rows flat), with the current :data:`SHARD_VERSION`."""
        data = self.model_dump(mode="python")
        data["version"] = SHARD_VERSION
        for cond, raw in zip(self.conditions, data["conditions"], strict=True):
            raw["cases"] = [case.flat() for case in cond.cases]
        return data

    def to_json(self) -> str:
        """JSON text; NaN is written as ``NaN`` (Dice of two empty masks)."""
        return json.dumps(self.to_dict(), allow_nan=True, default=str)


class SuiteRecord(_Record):
    """A suite's definition as recorded by a run: lets ``segbench store rebuild`` restore suite tables.

    Attributes:
        name: suite name.
        path: the suite file's path when it was run.
        yaml: the suite file's text.
        jobs: ``[job_key, model_label]`` pairs the suite contains.
        conditions: condition keys the suite contains.
    """

    version: int = SUITE_RECORD_VERSION
    name: str = Field(min_length=1)
    path: str | None = None
    yaml: str
    jobs: list[tuple[str, str]] = Field(default_factory=list)
    conditions: list[str] = Field(default_factory=list)
    updated_at: float | None = None

    @classmethod
    def from_json(cls, text: str | bytes, source: str | Path = "<suite record>") -> SuiteRecord:
        """Parse and validate; raises :class:`RecordError` naming ``source``."""
        data = _loads(text, source, "suite record")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise RecordError(f"{source}: not a valid segbench suite record: {_first_error(exc)}") from None

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), allow_nan=False)


def _loads(text: str | bytes, source: str | Path, what: str) -> Any:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordError(f"{source}: not a segbench {what} (not UTF-8 text: {exc.reason})") from None
    if not text.strip():
        raise RecordError(f"{source}: not a segbench {what} (the file is empty)")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise RecordError(f"{source}: not a segbench {what} (invalid JSON: {exc})") from None


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    value = first.get("input")
    shown = repr(value) if not isinstance(value, dict | list) else _kind(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"field {where}: {first['msg']} (got {shown}){more}"


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", type(None): "null"}
    return names.get(type(value), type(value).__name__)
