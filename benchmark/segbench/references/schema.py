"""The shape of a reference file: a study's published numbers and its findings, as data (pydantic v2).

Why data and not code: a published number is a fact with a source; keeping it in a versioned YAML
file beside the citation and the known protocol differences lets a reader check it against the paper
and lets the report compare a run with it without any study-specific code.

A reference holds *tables* (published values, one row per model, one column per level: a complexity
level, a test condition or a patch side) and *findings* (statements in words, each with the paired
comparisons that test it). Models are segbench registry names; a dataset is a registry name plus the
parameters that identify it (``{name: msd2d, params: {task: Task02_Heart}}``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["FORMAT", "DatasetMatch", "Finding", "FindingTest", "Reference", "ReferenceTable"]

FORMAT = "segbench-reference/1"
"""The file format this module reads; a new layout gets a new number."""

Level = float | str
"""A column of a table: a complexity level or patch side (number) or a test condition (preset name)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DatasetMatch(_Strict):
    """Which stored dataset a table describes: the registry name and the parameters that must match."""

    name: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class ReferenceTable(_Strict):
    """Published values of one table: ``rows[model][i]`` is the value at ``columns[i]``.

    ``axis`` says what a column is: ``complexity`` (the dataset's knob, in-domain), ``condition`` (a
    test condition: ``none`` or a preset such as ``harder``) or ``patch`` (a training patch side; with
    ``volume_side``, matched by its fraction of the volume side, so a smaller run compares the same
    relative context). ``metric`` is ``dice`` (mean Dice) or ``fbr_drop`` (Dice of test volumes inside
    minus outside the training-crop foreground-ratio range).
    """

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    source: str = Field(min_length=1, description="where in the paper the numbers come from")
    dataset: DatasetMatch
    metric: Literal["dice", "fbr_drop"] = "dice"
    axis: Literal["complexity", "condition", "patch"]
    volume_side: int | None = Field(default=None, gt=0)
    columns: list[Level] = Field(min_length=1)
    rows: dict[str, list[float]] = Field(min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> ReferenceTable:
        for model, values in self.rows.items():
            if len(values) != len(self.columns):
                n, k = len(values), len(self.columns)
                raise ValueError(f"table {self.id!r}: row {model!r} has {n} values for {k} columns")
        kinds = {isinstance(c, str) for c in self.columns}
        if kinds != {self.axis == "condition"}:
            want = "names (none, harder, ...)" if self.axis == "condition" else "numbers"
            raise ValueError(f"table {self.id!r}: axis {self.axis!r} needs columns that are {want}")
        if self.volume_side is not None and self.axis != "patch":
            raise ValueError(f"table {self.id!r}: volume_side applies to axis 'patch' only")
        return self


class FindingTest(_Strict):
    """One paired comparison behind a finding: model ``a`` against ``b`` in one cell of a table.

    ``expect``: ``a_better`` (a's mean Dice is higher) or ``equivalent`` (the difference lies within
    ``±margin``). ``b_at`` compares ``b`` at another level (same model, smaller patch); ``subset``
    ``outside_training_fbr`` keeps only test volumes outside the training-crop FBR range.
    """

    a: str = Field(min_length=1)
    b: str = Field(min_length=1)
    table: str = Field(min_length=1)
    at: Level
    b_at: Level | None = None
    subset: Literal["all", "outside_training_fbr"] = "all"
    expect: Literal["a_better", "equivalent"]
    margin: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _margin(self) -> FindingTest:
        if (self.expect == "equivalent") != (self.margin is not None):
            raise ValueError("'margin' is required with expect 'equivalent' and allowed only there")
        if self.a == self.b and self.b_at in (None, self.at):
            raise ValueError(f"test compares {self.a!r} with itself; give 'b_at' (another level)")
        return self


class Finding(_Strict):
    """A published statement in words and the comparisons that test it (all must agree)."""

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    statement: str = Field(min_length=1)
    tests: list[FindingTest] = Field(min_length=1)


class Reference(_Strict):
    """One study's published numbers (see the module docstring)."""

    format: Literal["segbench-reference/1"]
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: int = Field(ge=1)
    title: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    scale: dict[str, int | float | str] = Field(default_factory=dict, description="the paper's run size")
    protocol_differences: list[str] = Field(default_factory=list)
    tables: list[ReferenceTable] = Field(min_length=1)
    findings: list[Finding] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Reference:
        ids = [t.id for t in self.tables]
        if len(set(ids)) != len(ids):
            raise ValueError(f"table ids must be distinct, got {ids}")
        tables = {t.id: t for t in self.tables}
        for f in self.findings:
            for test in f.tests:
                table = tables.get(test.table)
                if table is None:
                    raise ValueError(f"finding {f.id!r}: unknown table {test.table!r}; tables are {ids}")
                for level in (test.at, test.b_at):
                    if level is not None and level not in table.columns:
                        raise ValueError(
                            f"finding {f.id!r}: level {level!r} is not a column of table {table.id!r} "
                            f"({table.columns})"
                        )
        return self

    def table(self, table_id: str) -> ReferenceTable:
        """The table with this id (KeyError names the known ids)."""
        for t in self.tables:
            if t.id == table_id:
                return t
        raise KeyError(
            f"reference {self.name!r} has no table {table_id!r}; tables: {[t.id for t in self.tables]}"
        )
