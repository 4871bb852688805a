"""``segbench.load(results)``: a results folder as typed pandas tables, for notebooks.

Why: users read ``cases.csv`` by hand and re-guess its types (severity as float, complexity as object
when a suite has no knob). Here the per-case table has the columns and rows of ``cases.csv`` (the same
:func:`segbench.report.exports.case_columns`), with stated dtypes; the suites and the train jobs come
beside it. Read-only: nothing in the folder is written.

Example::

    import segbench
    res = segbench.load("results")
    res.cases.groupby(["model", "perturbation"])["dice"].mean()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Results", "load"]

#: columns of the cases table and their pandas dtypes (every other column: float metrics, text meta)
CASE_DTYPES: dict[str, str] = {
    "suite": "string",
    "model": "string",
    "model_name": "string",
    "dataset": "string",
    "dataset_label": "string",
    "complexity": "float64",
    "patch": "string",
    "perturbation": "string",
    "severity": "Int64",
    "preset": "string",
    "test_complexity": "float64",
    "seed": "Int64",
    "case_id": "string",
    "perturbation_params": "string",
}


@dataclass
class Results:
    """One results folder, as tables.

    Attributes:
        cases: one row per (suite, model, condition, seed, test case): ``suite`` then the columns of
            ``cases.csv`` (keys, every metric, the perturbation draw), typed (:data:`CASE_DTYPES`;
            metrics ``float64``).
        suites: one row per suite: ``name``, ``path`` (the suite file it came from), ``yaml`` (its text),
            ``updated_at`` (UTC timestamp).
        jobs: one row per (suite, train job or ensemble): ``suite``, ``model`` (the suite's label),
            ``model_name``, ``dataset``, ``complexity``, ``seed``, ``status``, timings, ``n_params``,
            ``provenance`` (JSON text) and the job key.
        path: the results folder.
    """

    cases: Any
    suites: Any
    jobs: Any
    path: Path


def load(results: str | Path = "results", suite: str | None = None) -> Results:
    """Read a results folder into typed DataFrames.

    Args:
        results: the results folder (holds ``segbench.sqlite``). Defaults to ``"results"``.
        suite: only this suite. Defaults to every stored suite.

    Returns:
        A :class:`Results`.

    Raises:
        FileNotFoundError: no ``segbench.sqlite`` in ``results`` (names the path).
        LookupError: ``suite`` is not stored (lists the stored suites).
    """
    import pandas as pd

    from segbench.report.exports import case_columns
    from segbench.store import Store

    store = Store(results)
    if not store.path.is_file():
        raise FileNotFoundError(f"no results database at {store.path}; run a suite first (segbench run)")
    names = store.suites()
    if suite is not None and suite not in names:
        raise LookupError(f"no results for suite {suite!r} in {store.path}; stored suites: {names}")
    cases = store.cases(suite)
    columns = ["suite", *case_columns()]
    cases = cases.reindex(columns=columns) if not cases.empty else pd.DataFrame(columns=columns)
    cases = _typed(cases)
    jobs = store.jobs(suite)
    suites = _suites(store, [suite] if suite else names)
    return Results(cases=cases.reset_index(drop=True), suites=suites, jobs=jobs, path=Path(results))


def _typed(cases: Any) -> Any:
    """Cast every column to its stated dtype: keys as :data:`CASE_DTYPES`, metrics by their table entry
    (``integer`` counts as nullable ``Int64``, ``real`` as ``float64``)."""
    import pandas as pd

    from segbench.core import metrics as table

    metric_types = {m.name: "Int64" if m.dtype == "integer" else "float64" for m in table.METRICS}
    metric_types |= {m.name: "float64" for m in table.CASE_META_FIELDS}
    out = cases.copy()
    for col in out.columns:
        # a column neither table knows (added to cases.csv later) keeps its type, as text when text
        dtype = CASE_DTYPES.get(col) or metric_types.get(col) or _inferred(out[col])
        if dtype == "string":
            out[col] = out[col].astype("string")
        elif dtype == "Int64":
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
        else:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    return out


def _inferred(column: Any) -> str:
    import pandas as pd

    return "float64" if pd.api.types.is_numeric_dtype(column) else "string"


def _suites(store: Any, names: list[str]) -> Any:
    import pandas as pd

    cols = ["name", "path", "yaml", "updated_at"]
    with store.reading() as conn:
        rows = (
            []
            if conn is None
            else conn.execute(f"SELECT {', '.join(cols)} FROM suites ORDER BY name").fetchall()
        )
    table = pd.DataFrame(rows, columns=cols)
    return table[table["name"].isin(names)].reset_index(drop=True)
