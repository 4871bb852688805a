"""The page behind a leaderboard cell: what the model segmented, and every case the number averages.

Why: a cell such as "harder 0.413" is a mean over test cases; a reader wants to see the predictions
(which cases fail, and how) and the cases themselves. Each in-domain and shift cell of the Dice
leaderboard links to ``cells/<id>.html`` with

* the best, median and worst case of each evaluated condition behind the cell (image, ground truth
  and prediction; PNGs the worker wrote at evaluation time under ``<results>/overlays/<cond_key>/``,
  copied beside the page so a copied report folder keeps them), per training seed;
* the per-case table: case id, condition, Dice per seed and its mean, HD95; sortable.

Conditions without pictures (results from before overlays were written, ensembles, a store without
its results folder) get the table alone and a note saying so.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from segbench.core import IN_DOMAIN
from segbench.report.leaderboard import BoardTable
from segbench.report.shifts import Shift
from segbench.report.tables import condition_label

__all__ = ["CELLS", "write_cell_pages"]

#: folder of the cell pages inside the suite's report folder
CELLS = "cells"
_MAX_PICTURE_SETS = 6  # conditions x seeds shown with pictures per cell; the table has every case
_RANKS = ("best", "median", "worst")


def write_cell_pages(
    folder: Path, tables: list[BoardTable], cases: pd.DataFrame, overlays: Path | None, env: Any
) -> int:
    """Write one page per (model, complexity, in-domain or shift column) and link the cells to it.

    Args:
        folder: the suite's report folder.
        tables: the leaderboards (their cells get ``href`` set, for every metric).
        cases: the per-case table (``with_entries`` applied; ``cond_key`` when read from a store).
        overlays: ``<results>/overlays`` (``None``: no pictures).
        env: the report's jinja2 environment (template ``cell.html.j2``).

    Returns:
        The number of pages written.
    """
    template = env.get_template("cell.html.j2")
    same = cases[cases["test_complexity"].isna()] if "test_complexity" in cases else cases
    written = 0
    for t in tables:
        block = same[same["dataset"].astype(str) == t.dataset]
        for row in t.rows.get("dice", []):
            rows = block[block["model"].astype(str) == row["model"]]
            cx = row["complexity_value"]
            rows = rows[rows["complexity"].isna()] if pd.isna(cx) else rows[rows["complexity"] == cx]
            for key, header in _cell_columns(t):
                sub = _condition_rows(rows, key, t.shifts)
                if sub.empty:
                    continue
                name = _slug(f"{t.table_id}-{row['model']}-{row['complexity']}-{key}")
                context = {
                    "title": f"{row['model']} · {t.dataset}"
                    + ("" if row["complexity"] == "–" else f" · complexity {row['complexity']}")
                    + f" · {header}",
                    "definition": _definition(key, t.shifts),
                    "pictures": _pictures(sub, overlays, folder),
                    "table": _case_table(sub),
                    "back": f"../index.html#{row['anchor']}",
                }
                page = folder / CELLS / f"{name}.html"
                page.parent.mkdir(parents=True, exist_ok=True)
                page.write_text(template.render(**context), encoding="utf-8")
                written += 1
                for metric in t.rows:
                    cell = t.values.get((metric, row["complexity"], row["model"], key))
                    if cell is not None:
                        cell.href = f"{CELLS}/{name}.html"
    return written


def _cell_columns(t: BoardTable) -> list[tuple[str, str]]:
    return [(k, h) for k, h, _ in t.columns if k == "id" or k.startswith("fam:")]


def _condition_rows(rows: pd.DataFrame, key: str, shifts: list[Shift]) -> pd.DataFrame:
    if key == "id":
        return rows[rows["perturbation"].astype(str) == IN_DOMAIN]
    shift = next((s for s in shifts if f"fam:{s.name}" == key), None)
    return rows[shift.mask(rows)] if shift is not None else rows.iloc[0:0]


def _definition(key: str, shifts: list[Shift]) -> str:
    if key == "id":
        return "in-domain: the clean test images"
    shift = next((s for s in shifts if f"fam:{s.name}" == key), None)
    return f"{shift.name} = {shift.definition}" if shift is not None else ""


def _pictures(rows: pd.DataFrame, overlays: Path | None, folder: Path) -> dict[str, Any]:
    """Picture sets (condition x seed) with their three cases, copied beside the page."""
    if "cond_key" not in rows or overlays is None:
        return {"sets": [], "note": "No pictures: these results were not read from a results folder."}
    keys = rows[["cond_key", "seed", "perturbation", "severity"]].drop_duplicates("cond_key")
    keys = keys.sort_values(["seed", "perturbation", "severity"])
    sets, missing = [], 0
    for r in keys.itertuples(index=False):
        src = overlays / str(r.cond_key)
        index = _index(src / "index.json")
        if not index:
            missing += 1
            continue
        if len(sets) >= _MAX_PICTURE_SETS:
            continue
        dst = folder / "overlays" / str(r.cond_key)
        dst.mkdir(parents=True, exist_ok=True)
        shown = []
        for rank in _RANKS:
            entry = index.get(rank)
            if not entry or not (src / f"{rank}.png").is_file():
                continue
            shutil.copyfile(src / f"{rank}.png", dst / f"{rank}.png")
            dice = entry.get("dice")
            shown.append(
                {
                    "rank": rank,
                    "src": f"../overlays/{r.cond_key}/{rank}.png",
                    "case_id": str(entry.get("case_id")),
                    "dice": "–" if dice is None else f"{float(dice):.3f}",
                }
            )
        label = condition_label(str(r.perturbation), int(r.severity or 0))
        sets.append({"title": f"{label}, seed {r.seed}", "shown": shown})
    note = ""
    if missing:
        note = (
            f"{missing} condition(s) without pictures (evaluated before segbench wrote overlays, or an "
            "ensemble); re-run them into a new results folder to see their predictions."
        )
    if len(keys) - missing > _MAX_PICTURE_SETS:
        note += f" Pictures of the first {_MAX_PICTURE_SETS} condition x seed sets; the table has every case."
    return {"sets": sets, "note": note.strip()}


def _index(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _case_table(rows: pd.DataFrame) -> dict[str, Any]:
    """Case x condition rows: Dice per seed, the seed mean, and mean HD95; worst first."""
    rows = rows.assign(
        condition=[
            condition_label(str(p), int(s or 0))
            for p, s in zip(rows["perturbation"], rows["severity"], strict=True)
        ]
    )
    wide = rows.pivot_table(index=["case_id", "condition"], columns="seed", values="dice", aggfunc="mean")
    seeds = [int(s) for s in wide.columns]
    wide.columns = [f"seed {s}" for s in seeds]
    wide["mean"] = wide.mean(axis=1)
    if "hd95" in rows:
        wide["hd95"] = rows.groupby(["case_id", "condition"])["hd95"].mean()
    wide = wide.reset_index().sort_values("mean", na_position="first")
    columns = ["case", "condition", *(f"Dice seed {s}" for s in seeds), "Dice (seed mean)"]
    columns += ["HD95"] if "hd95" in wide else []  # in the data's distance unit (see the Methods)
    body = []
    for r in wide.to_dict("records"):
        values = [r[f"seed {s}"] for s in seeds] + [r["mean"]] + ([r["hd95"]] if "hd95" in r else [])
        body.append([str(r["case_id"]), str(r["condition"]), *(_num(v) for v in values)])
    return {"columns": columns, "rows": body}


def _num(value: Any) -> dict[str, str]:
    if value is None or pd.isna(value):
        return {"text": "–", "v": ""}
    return {"text": f"{float(value):.3f}", "v": f"{float(value):.6g}"}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "cell"
