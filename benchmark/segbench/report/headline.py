"""The generated headline: a few plain sentences per (dataset, complexity) a reader can quote.

Why generated from the leaderboard cells: every number in a sentence is the number of a table cell
(and links to it by its anchor), so the summary cannot disagree with the table. The sentences say
which model is most accurate in-domain, whether its lead is significant (the stats board's † marks:
paired Wilcoxon, Holm-adjusted), which model holds up best under shift (best mean OOD, smallest drop,
best worst case) and which model is best on each shift family.

Values out: a list of blocks, each a list of sentence *parts* — ``("text", str)`` or
``("num", text, anchor)`` — that the template renders escaped, numbers as links.
"""

from __future__ import annotations

import math
from typing import Any

from segbench.report.leaderboard import BoardTable, LeaderboardCell

__all__ = ["headline_blocks"]

Part = tuple[str, ...]


def headline_blocks(tables: list[BoardTable], metric: str = "dice") -> list[dict[str, Any]]:
    """Headline sentences per (dataset, complexity), from the Dice leaderboards.

    Args:
        tables: :func:`segbench.report.leaderboard.board_tables` output.
        metric: the metric the sentences speak of. Defaults to ``"dice"`` (the tested one).

    Returns:
        ``[{"title": "textures2d, complexity 0.2", "sentences": [[part, ...], ...]}, ...]``.
    """
    blocks = []
    for t in tables:
        rows = t.rows.get(metric, [])
        for cx in dict.fromkeys(r["complexity"] for r in rows):
            block_rows = [r for r in rows if r["complexity"] == cx]
            sentences = _block_sentences(t, metric, cx, block_rows)
            title = t.dataset if cx == "–" else f"{t.dataset}, complexity {cx}"
            blocks.append({"title": title, "sentences": sentences})
    return blocks


def _block_sentences(t: BoardTable, metric: str, cx: str, rows: list[dict[str, Any]]) -> list[list[Part]]:
    def cell(model: str, key: str) -> LeaderboardCell:
        return t.values[(metric, cx, model, key)]

    models = [r["model"] for r in rows]
    out: list[list[Part]] = []
    ranked = [m for m in models if _ok(cell(m, "id").value)]
    if not ranked:
        return [[("text", "No in-domain results yet.")]]
    best = max(ranked, key=lambda m: cell(m, "id").value)
    s: list[Part] = [
        ("text", f"Most accurate in-domain: {best} (Dice "),
        _num(cell(best, "id")),
        ("text", ")"),
    ]
    others = [m for m in ranked if m != best]
    if others:
        worse = [m for m in others if cell(m, "id").dag]
        ties = [m for m in others if not cell(m, "id").dag]
        runner = max(others, key=lambda m: cell(m, "id").value)
        if not ties:
            s.append(("text", "; its lead is significant against every other model (†, Holm-adjusted)."))
        else:
            s += [("text", f"; its lead over {runner} ("), _num(cell(runner, "id"))]
            s.append(
                (
                    "text",
                    ") is not significant"
                    + (f" ({', '.join(ties)} not significantly worse)." if len(ties) > 1 else "."),
                )
            )
            if worse:
                s.append(("text", f" Significantly worse (†): {', '.join(worse)}."))
    else:
        s.append(("text", "."))
    out.append(s)
    shifted = [m for m in models if _ok(cell(m, "ood").value)]
    if not shifted:
        return out
    best_ood = max(shifted, key=lambda m: cell(m, "ood").value)
    s = [
        ("text", f"Best under shift: {best_ood} (mean OOD Dice "),
        _num(cell(best_ood, "ood")),
        ("text", ")"),
    ]
    ood_ties = [m for m in shifted if m != best_ood and not cell(m, "ood").dag]
    if len(shifted) > 1:
        s.append(
            ("text", f"; not significantly better than {', '.join(ood_ties)}.")
            if ood_ties
            else ("text", "; every other model is significantly worse out of domain (†).")
        )
    else:
        s.append(("text", "."))
    out.append(s)
    drops = [m for m in shifted if _ok(cell(m, "drop").value)]
    worsts = [m for m in shifted if _ok(cell(m, "worst").value)]
    if drops and worsts:
        robust = min(drops, key=lambda m: cell(m, "drop").value)
        hardiest = max(worsts, key=lambda m: cell(m, "worst").value)
        s = [
            ("text", f"Most robust: {robust} loses least from in-domain to shift (drop "),
            _num(cell(robust, "drop")),
        ]
        s += [("text", f"); {hardiest} has the best worst case (")]
        s += [
            _num(cell(hardiest, "worst")),
            ("text", f" under {cell(hardiest, 'worst').title or 'its worst shift'})."),
        ]
        s.append(("text", " Drops and worst cases are not tested for significance."))
        out.append(s)
    fams = [f for f in t.families if any(_ok(cell(m, f"fam:{f}").value) for m in models)]
    if fams:
        s = [("text", "Best per shift: ")]
        for i, f in enumerate(fams):
            winner = max(
                (m for m in models if _ok(cell(m, f"fam:{f}").value)), key=lambda m: cell(m, f"fam:{f}").value
            )
            s += [("text", ("; " if i else "") + f"{f}: {winner} (")]
            s += [_num(cell(winner, f"fam:{f}")), ("text", ")")]
        s.append(("text", "."))
        out.append(s)
    return out


def _num(cell: LeaderboardCell) -> Part:
    """A number part: the cell's value (without its CI) linked to the cell."""
    return ("num", cell.text, cell.anchor)


def _ok(value: float) -> bool:
    return value is not None and not math.isnan(value)


def page_top(
    cases: Any,
    board: Any,
    jobs: Any,
    suite_yaml: str,
    n_resamples: int,
    confidence: float,
    seed: int,
    reference: str = "unet",
) -> dict[str, Any]:
    """Everything the first screen shows: leaderboards, the metric switch's entries, headline blocks.

    Args:
        cases: per-case table after :func:`segbench.report.tables.with_entries`.
        board: the stats leaderboard.
        jobs: ``Store.jobs(suite)``.
        suite_yaml: suite text (shift order).
        n_resamples, confidence, seed: bootstrap settings of the leaderboard's own CIs.
        reference: the suite's baseline model (measures each shift's effect in the legend).
    """
    from segbench.report.leaderboard import SCORE_METRICS, board_tables
    from segbench.stats.hierarchical import MIN_CASES

    tables = board_tables(cases, board, jobs, suite_yaml, n_resamples, confidence, seed, reference)
    shown = {m for t in tables for m in t.rows}
    return {
        "tables": tables,
        "metrics": [m for m in SCORE_METRICS if m.name in shown],
        "headline": headline_blocks(tables),
        "ensembles": ensemble_definitions(suite_yaml, cases),
        "min_cases": MIN_CASES,
    }


def ensemble_definitions(suite_yaml: str, cases: Any) -> list[str]:
    """One sentence per ensemble of the suite (its label, members and seeds per row), for the headline.

    Why: ``mixed`` and ``unet_x2`` are rows of the leaderboard and names in the headline; a reader
    must not have to open the suite file to learn they are ensembles of stored checkpoints.
    """
    from segbench.suite.errors import SuiteError
    from segbench.suite.yaml_safe import yaml_data

    try:
        data = yaml_data(suite_yaml or "", "stored suite") or {}
    except SuiteError:
        return []
    entries = data.get("ensembles") if isinstance(data, dict) else None
    seeds = data.get("seeds") if isinstance(data, dict) else None
    out = []
    for e in entries if isinstance(entries, list) else []:
        if not isinstance(e, dict) or "label" not in e:
            continue
        members, label = e.get("members"), str(e["label"])
        if isinstance(members, dict):
            chosen = members.get("seeds", "all")
            over = seeds if chosen == "all" else chosen
            over_text = ", ".join(str(x) for x in over) if isinstance(over, list) else str(over)
            text = (
                f"{label}: the mean probability of {members.get('model')} over its seeds ({over_text}), "
                "one ensemble per level, so k = 1"
            )
        elif isinstance(members, list):
            text = (
                f"{label}: the mean probability of {', '.join(str(m) for m in members)}, one ensemble per "
                "seed, so k = the suite's seeds"
            )
        else:
            continue
        out.append(text + "; built from stored checkpoints, no training.")
    return out
