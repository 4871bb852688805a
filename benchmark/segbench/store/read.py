"""The store's read model of one suite: its definition parsed once, its jobs' JSON columns parsed once.

Why: the report used to re-parse the stored suite YAML in six modules (baseline model, description,
perturbation order, shift names, direction overrides, reference) and ``json.loads`` the jobs'
``train_info``, ``provenance`` and ``config`` columns in eight, each copy with its own tolerance rules
and its own ``"unet"`` default. :meth:`segbench.store.Store.read_suite` now returns a
:class:`StoredSuite`; the report, ``advise`` and the gate read its fields.

Tolerant on purpose, as the report always was: a stored suite may name user modules that cannot be
imported now, or come from an older segbench, so its YAML is read as plain data by the same bounded
loader (:func:`segbench.suite.yaml_safe.yaml_data`, no schema validation), and a text that does not
parse gives a definition with the defaults (:attr:`SuiteDefinition.error` says why). A JSON column that
does not parse reads as ``None``; a ``train_info`` that does not validate as a
:class:`~segbench.core.records.TrainRecord` (an older store) is kept unvalidated, as it was stored.

Light on purpose: ``Store`` imports this module, and ``segbench run`` must not pay for pandas.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from pydantic import ValidationError

from segbench.core import IN_DOMAIN
from segbench.core.defaults import BASELINE_MODEL
from segbench.core.presets import PRESETS
from segbench.core.records import TrainRecord
from segbench.suite.errors import SuiteError
from segbench.suite.yaml_safe import yaml_data

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "JSON_COLUMNS",
    "NO_SUITE",
    "StoredSuite",
    "SuiteDefinition",
    "SuiteShift",
    "json_mapping",
    "train_record",
    "typed_jobs",
]

Condition = tuple[str, int]


@dataclass(frozen=True)
class SuiteShift:
    """One entry of the suite's ``perturbations`` list (``none`` left out), under the suite's name.

    Attributes:
        name: the suite's name for it (``harder``, ``gaussian_noise``).
        conditions: the ``(perturbation, severity)`` pairs it names; ``None`` for a bare name, which
            covers every stored severity of that perturbation (known only from the cases).
    """

    name: str
    conditions: tuple[Condition, ...] | None


@dataclass(frozen=True)
class SuiteDefinition:
    """A stored suite's YAML, parsed once, with the facts the report reads from it.

    Attributes:
        name: the suite's name in the store.
        yaml: the stored text (shown in full in the provenance section).
        data: the parsed YAML (plain data); ``None`` when absent or unparseable.
        error: why the text did not parse, else ``None``.
        baseline_model: the model corruption errors are normalised to (:data:`BASELINE_MODEL` unless
            the suite says otherwise).
        description: the suite's ``description``, stripped (uncapped).
        perturbation_order: perturbation names in suite order, presets resolved, each once.
        shifts: the suite's named shifts in suite order (:class:`SuiteShift`).
        directions: per-perturbation ``harder``/``easier`` overrides the suite declares (a preset's
            override applies to its perturbation).
    """

    name: str = ""
    yaml: str = ""
    data: Any = None
    error: str | None = None
    baseline_model: str = BASELINE_MODEL
    description: str = ""
    perturbation_order: tuple[str, ...] = ()
    shifts: tuple[SuiteShift, ...] = ()
    directions: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, name: str = "") -> SuiteDefinition:
        """Read ``text`` (a stored suite's YAML) tolerantly: anything malformed is skipped, not raised."""
        try:
            data = yaml_data(text or "", "stored suite")
        except SuiteError as exc:
            return cls(name, text or "", None, str(exc))
        mapping = data if isinstance(data, dict) else {}
        entries = mapping.get("perturbations", [])
        entries = entries if isinstance(entries, list) else []
        return cls(
            name,
            text or "",
            data,
            baseline_model=str(mapping.get("baseline_model", BASELINE_MODEL)),
            description=str(mapping.get("description", "")).strip(),
            perturbation_order=_perturbation_order(entries),
            shifts=_shifts(entries),
            directions=_directions(entries),
        )


NO_SUITE: Final = SuiteDefinition()
"""The definition of a suite whose YAML is not stored: every fact at its default."""


@dataclass(frozen=True)
class StoredSuite:
    """Everything the report reads of one stored suite (:meth:`segbench.store.Store.read_suite`).

    Attributes:
        definition: the suite's YAML, parsed once.
        cases: ``Store.cases(name)``, as stored (its CSV export is this table).
        jobs: ``Store.jobs(name)`` with its JSON columns parsed once (:func:`typed_jobs`).
        expected: evaluation conditions the suite defines.
        done: evaluation conditions in the store.
    """

    definition: SuiteDefinition
    cases: pd.DataFrame
    jobs: pd.DataFrame
    expected: int
    done: int

    @property
    def name(self) -> str:
        return self.definition.name


def json_mapping(value: Any) -> dict[str, Any] | None:
    """A stored JSON object column's value as a dict: text is parsed, a mapping is copied; else None."""
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, str | bytes):
        return None  # SQL NULL (None, or NaN in a column pandas made numeric)
    try:
        out = json.loads(value)
    except (TypeError, ValueError, RecursionError):
        return None
    return out if isinstance(out, dict) else None


def train_record(value: Any) -> TrainRecord | None:
    """A job's ``train_info`` (JSON text, dict or record) as a :class:`TrainRecord`; None when absent.

    A value that does not validate (a store written by an older segbench) is kept as stored, unchecked
    (``model_construct``), so the report reads what it always read instead of failing.
    """
    if value is None or isinstance(value, TrainRecord):
        return value
    data = json_mapping(value)
    if data is None:
        return None
    try:
        return TrainRecord.model_validate(data)
    except ValidationError:
        return TrainRecord.model_construct(**data)


#: the jobs table's JSON columns and how each is read
JSON_COLUMNS: Final = {"train_info": train_record, "provenance": json_mapping, "config": json_mapping}


def typed_jobs(jobs: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``Store.jobs(...)`` whose JSON columns hold parsed values (:data:`JSON_COLUMNS`).

    Idempotent (parsed values pass through), so a caller handed either form may call it; the report
    calls it once per suite, and its sections read attributes, never JSON text.
    """
    out = jobs.copy()
    for column, read in JSON_COLUMNS.items():
        if column in out.columns:
            out[column] = _object_column([read(v) for v in out[column]], out.index)
    return out


# -- the definition's facts ------------------------------------------------------------------------------
def _entry_name(entry: Any) -> Any:
    return entry.get("name") if isinstance(entry, dict) else entry


def _perturbation_order(entries: Iterable[Any]) -> tuple[str, ...]:
    out: list[str] = []
    for entry in entries:
        name = str(_entry_name(entry))
        name = PRESETS.get(name, (name, 0))[0]
        if name not in out:
            out.append(name)
    return tuple(out)


def _shifts(entries: Iterable[Any]) -> tuple[SuiteShift, ...]:
    out = []
    for entry in entries:
        name = _entry_name(entry)
        if not isinstance(name, str) or name == IN_DOMAIN:
            continue
        sev = entry.get("severity") if isinstance(entry, dict) else None
        if name in PRESETS:
            out.append(SuiteShift(name, (PRESETS[name],)))
        elif sev is None:
            out.append(SuiteShift(name, None))
        else:
            levels = sev if isinstance(sev, list) else [sev]
            out.append(SuiteShift(name, tuple((name, int(s)) for s in levels if isinstance(s, int))))
    return tuple(out)


def _directions(entries: Iterable[Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, dict) and entry.get("direction") in ("harder", "easier"):
            name = str(entry.get("name"))
            out[PRESETS.get(name, (name, 0))[0]] = str(entry["direction"])
    return out


def _object_column(values: list[Any], index: Any) -> Any:
    """An object column (None stays None: pandas would turn an all-None list into a float column)."""
    import pandas as pd  # lazy: `segbench run` imports the store without pandas

    return pd.Series(values, index=index, dtype=object)
