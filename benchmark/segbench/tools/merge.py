"""``segbench merge A B --out C``: one results store from two (e.g. two machines, two branches).

Why through the shards: a store is rebuilt from its result shards (``shards/ingested/*.json``) by the
same :meth:`segbench.store.Store.ingest` that ``segbench run`` uses, so a merged store is exactly what
one machine running both halves would hold; nothing writes SQLite rows by hand. Suites are recorded with
:meth:`Store.record_suite` from the sources' stored definitions.

Refusals (nothing is written): the same evaluated case (``cond_key`` + ``case_id``) with different
metric values in A and B (two machines that disagree: merging would silently keep one), the same
suite name with different definitions, a source whose database holds results missing from its shard
archive, an output folder that already holds a store (or anything else), and a symbolic link in a
source's shard or checkpoint folders.  The merged store is built beside ``out`` and renamed into place
at the end, so a killed merge leaves nothing at ``out`` and its rerun starts again.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segbench.core import METRICS

__all__ = ["MergeConflict", "MergeResult", "merge_stores"]

DB_NAME = "segbench.sqlite"
_SHOWN = 5  # conflicting cases named in the message


class MergeConflict(ValueError):
    """The two stores disagree; the message names the cases / suites and how to resolve it."""


@dataclass
class MergeResult:
    """What a merge did.

    Attributes:
        out: the merged results folder.
        shards: shards ingested into it.
        duplicates: cases present (with equal values) in both sources.
        suites: suite names recorded.
        checkpoints: checkpoint files copied.
    """

    out: Path
    shards: int = 0
    duplicates: int = 0
    suites: list[str] = field(default_factory=list)
    checkpoints: int = 0


def merge_stores(a: str | Path, b: str | Path, out: str | Path) -> MergeResult:
    """Merge results folders ``a`` and ``b`` into the new folder ``out``.

    Args:
        a: first results folder (holds ``segbench.sqlite`` and ``shards/``).
        b: second results folder.
        out: new results folder; must not hold a store yet.

    Returns:
        A :class:`MergeResult`.

    Raises:
        MergeConflict: conflicting duplicate cases or suite definitions (nothing written).
        FileNotFoundError: a source without a store, or whose shards are missing.
        FileExistsError: ``out`` already holds a store.
    """
    from segbench.paths import refuse_links

    a, b, out = Path(a), Path(b), Path(out)
    if (out / DB_NAME).exists():
        raise FileExistsError(f"{out / DB_NAME} already exists; merge into a new folder (--out)")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder; merge into a new folder (--out)")
    for src in (a, b):  # a link planted in a source would copy a file from anywhere into the merge
        refuse_links(src / "shards", 2)
        refuse_links(src / "checkpoints", 1)
    sources = [_Source.read(a), _Source.read(b)]
    duplicates = _check_cases(*sources)
    suites = _check_suites(*sources)
    # Built beside ``out`` and renamed at the end: a merge killed half-way leaves no partial store
    # at ``out`` (the next merge deletes the leftover and starts again).
    building = out.parent / f".{out.name}.merging"
    if building.exists():
        shutil.rmtree(building)
    n, copied = _build(building, sources, suites)
    if out.exists():
        out.rmdir()  # empty, checked above
    building.rename(out)
    return MergeResult(out, n, duplicates, sorted(suites), copied)


def _build(out: Path, sources: list[_Source], suites: dict[str, Any]) -> tuple[int, int]:
    """Replay both sources' shards and suites into a new store at ``out``; (shards, checkpoints)."""
    from segbench.store import Store

    store = Store(out)
    shard_dir = out / "shards"
    shard_dir.mkdir(parents=True, exist_ok=True)
    n = 0
    # replay every attempt in the order it finished, so a later retry wins as it did on its machine
    for _, _, path in sorted(s for src in sources for s in src.shards):
        target = shard_dir / path.name
        shutil.copy2(path, target)
        n += store.ingest(target) is not None
    for name, (yaml_text, spath, jobs, conds) in sorted(suites.items()):
        store.record_suite(name, yaml_text, spath or f"merged:{name}", _jobs(jobs, conds))
    copied = 0
    for src in sources:
        ckpt = src.root / "checkpoints"
        for f in sorted(ckpt.glob("*")) if ckpt.is_dir() else []:
            target = out / "checkpoints" / f.name
            if f.is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, target)
                copied += 1
    return n, copied


# -- reading a source ------------------------------------------------------------------------------------
@dataclass
class _Source:
    root: Path
    shards: list[tuple[float, str, Path]]  # (finished_at, attempt_id, path)
    cases: dict[tuple[str, str], tuple[Any, ...]]  # final metric values per (cond_key, case_id)
    suites: dict[str, tuple[str, str, list[tuple[str, str]], list[str]]]

    @classmethod
    def read(cls, root: Path) -> _Source:
        db = root / DB_NAME
        if not db.is_file():
            raise FileNotFoundError(f"no results store at {db}; give a results folder (it holds {DB_NAME})")
        folder = root / "shards"
        paths = sorted([*folder.glob("*.json"), *folder.glob("ingested/*.json")]) if folder.is_dir() else []
        shards, attempts = [], set()
        cases: dict[tuple[str, str], tuple[float, tuple[Any, ...]]] = {}
        for path in paths:
            try:
                shard = json.loads(path.read_text(encoding="utf-8"))
                finished = float(shard.get("finished_at") or path.stat().st_mtime)
                attempt = str(shard["attempt_id"])
                rows = [
                    ((str(cond["cond_key"]), str(row["case_id"])), tuple(row.get(m.name) for m in METRICS))
                    for cond in shard.get("conditions") or []
                    for row in cond.get("cases") or []
                ]
            except (OSError, ValueError, RecursionError, KeyError, TypeError, AttributeError) as exc:
                raise FileNotFoundError(
                    f"{path} is not a readable result shard ({type(exc).__name__}: {exc}); move it aside"
                ) from None
            shards.append((finished, attempt, path))
            attempts.add(attempt)
            for key, values in rows:
                if key not in cases or cases[key][0] <= finished:
                    cases[key] = (finished, values)
        from segbench.store import Store

        with Store(root).reading() as conn:  # read-only, integrity-checked (the store's own reader)
            assert conn is not None  # the file exists (checked above)
            stored = {r[0] for r in conn.execute("SELECT attempt_id FROM ingested")}
            suites = _suites(conn)
        missing = stored - attempts
        if missing:
            raise FileNotFoundError(
                f"{root}: the store holds {len(missing)} ingested shard(s) that are not in {folder}/ingested "
                f"(e.g. {sorted(missing)[0]}); merge rebuilds from shards, so copy that folder's shards too"
            )
        return cls(root, shards, {k: v for k, (_, v) in cases.items()}, suites)


def _suites(conn: sqlite3.Connection) -> dict[str, tuple[str, str, list[tuple[str, str]], list[str]]]:
    out = {}
    for name, path, yaml_text in conn.execute("SELECT name, path, yaml FROM suites"):
        jobs = [
            tuple(r)
            for r in conn.execute("SELECT job_key, model_label FROM suite_jobs WHERE suite = ?", (name,))
        ]
        conds = [r[0] for r in conn.execute("SELECT cond_key FROM suite_conditions WHERE suite = ?", (name,))]
        out[name] = (yaml_text, path or "", sorted(jobs), sorted(conds))
    return out


def _check_cases(a: _Source, b: _Source) -> int:
    """Number of equal duplicates; raises :class:`MergeConflict` naming differing ones."""
    common = sorted(set(a.cases) & set(b.cases))
    conflicts = [k for k in common if not _same(a.cases[k], b.cases[k])]
    if conflicts:
        names = [m.name for m in METRICS]
        lines = []
        for cond_key, case_id in conflicts[:_SHOWN]:
            va, vb = a.cases[(cond_key, case_id)], b.cases[(cond_key, case_id)]
            diff = ", ".join(
                f"{n}: {x!r} vs {y!r}" for n, x, y in zip(names, va, vb, strict=True) if not _same((x,), (y,))
            )
            lines.append(f"  condition {cond_key}, case {case_id}: {diff}")
        more = f"\n  ... and {len(conflicts) - _SHOWN} more" if len(conflicts) > _SHOWN else ""
        raise MergeConflict(
            f"refusing to merge {a.root} and {b.root}: {len(conflicts)} evaluated case(s) exist in both with "
            f"different values (A vs B):\n" + "\n".join(lines) + more + "\n"
            "The same job and condition gave different numbers on the two machines (other hardware, "
            "library versions or code). Keep one side's results for these jobs (e.g. delete the job's "
            "shards from one source), or compare them with 'segbench compare A B'."
        )
    return len(common)


def _check_suites(a: _Source, b: _Source) -> dict[str, tuple[str, str, list[tuple[str, str]], list[str]]]:
    merged = dict(a.suites)
    for name, (yaml_text, path, jobs, conds) in b.suites.items():
        if name in merged and merged[name][0] != yaml_text:
            raise MergeConflict(
                f"refusing to merge: suite {name!r} is defined differently in {a.root} ({merged[name][1]}) "
                f"and {b.root} ({path}); rerun one of them under another 'name:' first"
            )
        if name in merged:
            old = merged[name]
            merged[name] = (
                yaml_text,
                old[1],
                sorted(set(old[2]) | set(jobs)),
                sorted(set(old[3]) | set(conds)),
            )
        else:
            merged[name] = (yaml_text, path, jobs, conds)
    return merged


def _same(x: tuple[Any, ...], y: tuple[Any, ...]) -> bool:
    for u, v in zip(x, y, strict=True):
        if u is None or v is None or (isinstance(u, float) and math.isnan(u)):
            if not ((u is None or _nan(u)) and (v is None or _nan(v))):
                return False
        elif not math.isclose(float(u), float(v), rel_tol=1e-9, abs_tol=1e-12):
            return False
    return True


def _nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


@dataclass
class _Model:
    display: str


@dataclass
class _Job:
    """What :meth:`Store.record_suite` reads of a plan job: key, model label, condition keys."""

    key: str
    model: _Model
    conditions: list[str]

    def condition_key(self, cond: str) -> str:
        return cond


def _jobs(jobs: list[tuple[str, str]], conds: list[str]) -> list[_Job]:
    out = [_Job(key, _Model(label), []) for key, label in jobs]
    if out:
        out[0].conditions = list(conds)  # the store records a suite's conditions as one set
    return out
