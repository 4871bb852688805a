"""The generated headline: a few plain sentences per (dataset, complexity) a reader can quote.

Why generated from the leaderboard cells: every number in a sentence is the number of a table cell
(and links to it by its anchor), so the summary cannot disagree with the table. The sentences say
which model is most accurate in-domain, whether its lead is significant (the stats board's † marks:
architecture-level decisions, cases and each model's own seeds, Holm over the block), which model is
best under shift, and under which shift family one model is significantly ahead of all others. No
sentence names a winner from point estimates alone.

Values out: a list of blocks, each a list of sentence *parts* — ``("text", str)`` or
``("num", text, anchor)`` — that the template renders escaped, numbers as links.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pandas as pd

from segbench.core import IN_DOMAIN
from segbench.core.defaults import BASELINE_MODEL
from segbench.report.leaderboard import BoardTable, LeaderboardCell
from segbench.stats.hierarchical import MIN_SEEDS
from segbench.store.read import SuiteDefinition

__all__ = ["headline_blocks"]

Part = tuple[str, ...]


def headline_blocks(
    tables: list[BoardTable], metric: str = "dice", effects: pd.DataFrame | None = None
) -> list[dict[str, Any]]:
    """Headline sentences per (dataset, complexity), from the Dice leaderboards and the decisions.

    Every claim of a sentence is a *controlled architecture-level decision*: the † marks of the
    board and, for shift families, the rows of ``effects`` (Holm over every pair x condition of the
    block). Point estimates alone (smallest drop, best worst case) are never turned into a winner.

    Args:
        tables: :func:`segbench.report.leaderboard.board_tables` output.
        metric: the metric the sentences speak of. Defaults to ``"dice"`` (the tested one).
        effects: :func:`segbench.stats.claims.decide` output (``None``: no per-family sentences).

    Returns:
        ``[{"title": "textures2d, complexity 0.2", "sentences": [[part, ...], ...]}, ...]``.
    """
    blocks = []
    for t in tables:
        rows = t.rows.get(metric, [])
        for cx in dict.fromkeys(r["complexity"] for r in rows):
            block_rows = [r for r in rows if r["complexity"] == cx]
            decided = _block_effects(effects, t.dataset, cx)
            sentences = _block_sentences(t, metric, cx, block_rows, decided)
            title = t.dataset if cx == "–" else f"{t.dataset}, complexity {cx}"
            blocks.append({"title": title, "sentences": sentences})
    return blocks


def _block_effects(effects: pd.DataFrame | None, dataset: str, cx: str) -> pd.DataFrame:
    """The decisions of one (dataset, complexity label) block; empty without ``effects``."""
    if effects is None or effects.empty:
        return pd.DataFrame(columns=["perturbation", "model_a", "model_b", "effect", "significant", "claim"])
    label = effects["complexity"].map(lambda v: "–" if pd.isna(v) else f"{float(v):g}")
    return effects[(effects["dataset"].astype(str) == dataset) & (label == cx)]


def _no_claim(decided: pd.DataFrame, perturbation: str, model: str) -> str:
    """Why no architecture-level claim about ``model`` is possible here ("" if one is)."""
    rows = decided[
        (decided["perturbation"] == perturbation)
        & ((decided["model_a"] == model) | (decided["model_b"] == model))
        & (decided["claim"] != "architecture")
    ]
    if not len(rows):
        return ""
    return str(rows["claim"].iloc[0]).removeprefix("none: ").replace(" (no architecture-level claim)", "")


def _none_possible(decided: pd.DataFrame, perturbation: str, best: str) -> str:
    """When no comparison of ``best`` allows an architecture claim: why, in one phrase ("" otherwise)."""
    rows = decided[
        (decided["perturbation"] == perturbation)
        & ((decided["model_a"] == best) | (decided["model_b"] == best))
    ]
    if rows.empty or (rows["claim"] == "architecture").any():
        return ""
    small = {}
    for r in rows.itertuples(index=False):
        for m, k in ((r.model_a, r.k_a), (r.model_b, r.k_b)):
            if k < MIN_SEEDS:
                small[str(m)] = int(k)
    if small:
        ks = ", ".join(f"{m} k = {k}" for m, k in sorted(small.items()))
        return f"fewer than {MIN_SEEDS} seeds ({ks})"
    return str(rows["claim"].iloc[0]).removeprefix("none: ")


def _lead_sentence(
    cell: Any, best: str, others: list[str], key: str, decided: pd.DataFrame, perturbation: str
) -> list[Part]:
    """ "; its lead is significant ..." / "; its lead over X (v) is not significant ..." parts."""
    why_none = _none_possible(decided, perturbation, best)
    if why_none:
        return [("text", f"; no architecture-level claim is possible here: {why_none}.")]
    worse = [m for m in others if cell(m, key).dag]
    ties = [m for m in others if not cell(m, key).dag]
    if not ties:
        return [
            ("text", "; its lead is significant against every other model (†, architecture level, Holm).")
        ]
    runner = max(ties, key=lambda m: cell(m, key).value)
    parts: list[Part] = [("text", f"; its lead over {runner} ("), _num(cell(runner, key))]
    rest = [m for m in ties if m != runner]
    why = _no_claim(decided, perturbation, runner)
    text = ") is not significant" + (f" (no architecture-level claim: {why})" if why else "")
    text += f"; nor against {', '.join(rest)}." if rest else "."
    parts.append(("text", text))
    if worse:
        parts.append(("text", f" Significantly worse (†): {', '.join(worse)}."))
    return parts


def _block_sentences(
    t: BoardTable, metric: str, cx: str, rows: list[dict[str, Any]], decided: pd.DataFrame
) -> list[list[Part]]:
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
    s += _lead_sentence(cell, best, others, "id", decided, IN_DOMAIN) if others else [("text", ".")]
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
    rest = [m for m in shifted if m != best_ood]
    lead = _lead_sentence(cell, best_ood, rest, "ood", decided, "ood") if rest else [("text", ".")]
    if others and lead == _lead_sentence(cell, best, others, "id", decided, IN_DOMAIN):
        lead = [("text", "; no architecture-level claim is possible here either.")]
    out.append(s + lead)
    fams = [f for f in t.families if any(_ok(cell(m, f"fam:{f}").value) for m in models)]
    if fams and (decided["claim"] == "architecture").any():
        out.append(_family_sentence(cell, models, fams, decided))
    out.append(
        [
            (
                "text",
                "Mean OOD and drop pool the harder shifts only, shift families weighted equally; "
                "drops and worst cases are shown with intervals, not ranked.",
            )
        ]
    )
    return out


def _family_sentence(cell: Any, models: list[str], fams: list[str], decided: pd.DataFrame) -> list[Part]:
    """Shift families where one model is significantly ahead of every other (controlled decisions)."""
    s: list[Part] = []
    for f in fams:
        have = [m for m in models if _ok(cell(m, f"fam:{f}").value)]
        if len(have) < 2:
            continue
        winner = max(have, key=lambda m: cell(m, f"fam:{f}").value)
        pert = f"family:{f}" if (decided["perturbation"] == f"family:{f}").any() else f
        rows = decided[decided["perturbation"] == pert]
        ahead = 0
        for m in have:
            if m == winner:
                continue
            r = rows[
                ((rows["model_a"] == winner) & (rows["model_b"] == m))
                | ((rows["model_a"] == m) & (rows["model_b"] == winner))
            ]
            sign = 1.0 if len(r) and r["model_a"].iloc[0] == winner else -1.0
            ahead += bool(len(r) and r["significant"].iloc[0] and sign * r["effect"].iloc[0] > 0)
        if ahead == len(have) - 1:
            s += [
                ("text", ("; " if s else "") + f"{f}: {winner} ("),
                _num(cell(winner, f"fam:{f}")),
                ("text", ")"),
            ]
    if not s:
        return [("text", "No model is significantly ahead of every other under any single shift family.")]
    return [("text", "Significantly best per shift family (†-level decisions): "), *s, ("text", ".")]


def _num(cell: LeaderboardCell) -> Part:
    """A number part: the cell's value (without its CI) linked to the cell."""
    return ("num", cell.text, cell.anchor)


def _ok(value: float) -> bool:
    return value is not None and not math.isnan(value)


def page_top(
    cases: Any,
    board: Any,
    jobs: Any,
    suite: SuiteDefinition,
    n_resamples: int,
    confidence: float,
    seed: int,
    effects: Any = None,
    reference: str = BASELINE_MODEL,
) -> dict[str, Any]:
    """Everything the first screen shows: leaderboards, the metric switch's entries, headline blocks.

    Args:
        cases: per-case table after :func:`segbench.report.tables.with_entries`.
        board: the stats leaderboard.
        jobs: ``Store.jobs(suite)``.
        suite: the stored suite (shift order and names, ensembles).
        n_resamples, confidence, seed: bootstrap settings of the leaderboard's own CIs.
        effects: the architecture-level decisions (:func:`segbench.stats.claims.decide`).
        reference: the suite's baseline model (measures each shift's effect in the legend).
    """
    from segbench.report.leaderboard import SCORE_METRICS, board_tables
    from segbench.report.scoring import distance_unit
    from segbench.stats.hierarchical import MIN_CASES

    tables = board_tables(cases, board, jobs, suite, n_resamples, confidence, seed, reference)
    shown = {m for t in tables for m in t.rows}
    unit = distance_unit(cases)  # real data: HD95 in the files' units (px for 2D files), not always mm
    metrics = [replace(m, unit=unit) if unit and m.name == "hd95" else m for m in SCORE_METRICS]
    return {
        "tables": tables,
        "metrics": [m for m in metrics if m.name in shown],
        "headline": headline_blocks(tables, effects=effects),
        "ensembles": ensemble_definitions(suite, cases),
        "min_cases": MIN_CASES,
    }


def ensemble_definitions(suite: SuiteDefinition, cases: Any) -> list[str]:
    """One sentence per ensemble of the suite (its label, members and seeds per row), for the headline.

    Why: ``mixed`` and ``unet_x2`` are rows of the leaderboard and names in the headline; a reader
    must not have to open the suite file to learn they are ensembles of stored checkpoints.
    """
    data = suite.data if isinstance(suite.data, dict) else {}
    entries, seeds = data.get("ensembles"), data.get("seeds")
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
