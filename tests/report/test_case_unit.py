"""Report statistics on synthetic tables (no training): the case is the unit, marks agree with effects.

Issue 9's checks at the report level: n is the case count and k the seed count, the "mixed" mark
replaces a dagger that would contradict the median effect, small samples are flagged, and the page
shows the CD diagram, the variance components and the folded per-condition maps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segbench.report.build import render_suite
from segbench.report.exports import board_cells
from segbench.report.tables import (
    StatsSettings,
    compute_tables,
    leaderboard,
    measured_complexity,
    with_entries,
)

FAST = StatsSettings(n_resamples=999, rank_resamples=500, diff_resamples=500, vc_resamples=200)


def table(
    values: dict[str, np.ndarray], seeds: int = 2, complexity: float = 0.5, pert=("none", 0)
) -> pd.DataFrame:
    """Long table: model m, seed s, case i has ``values[m][i]`` (+ 0.001 * s so seeds differ)."""
    rows = []
    for m, vals in values.items():
        for s in range(1, seeds + 1):
            for i, v in enumerate(vals):
                rows.append(
                    {
                        "suite": "t",
                        "model": m,
                        "model_name": m,
                        "dataset": "textures2d",
                        "complexity": complexity,
                        "patch": "full",
                        "perturbation": pert[0],
                        "severity": pert[1],
                        "preset": None,
                        "test_complexity": np.nan,
                        "seed": s,
                        "case_id": f"test-{i:03d}",
                        "dice": v + 0.001 * s,
                        "complexity_jsd": 0.02 * (1 - complexity) + 0.0001 * i,
                        "fbr": 0.2,
                    }
                )
    return pd.DataFrame(rows)


def test_board_counts_cases_and_k2_makes_no_architecture_claim():
    """Two seeds: these networks differ on every case, but nothing can be said of the architecture."""
    ref = np.full(12, 0.8)
    df = with_entries(table({"better": ref + 0.05, "ref": ref}, seeds=2))
    board, effects = leaderboard(df, baseline_model="ref", settings=FAST)
    row = board.set_index("model").loc["ref"]
    assert row["n_id"] == 12 and row["n_seeds"] == 2  # cases, not 24 seed x case rows
    decided = effects[effects["perturbation"] == "none"].iloc[0]
    assert decided["n_cases"] == 12 and decided["p"] < 0.05  # these networks: clearly apart
    assert not row["significantly_worse"] and row["mark"] == ""
    assert row["mark_note"] == decided["claim"] == "none: k = 2 < 3 seeds (no architecture-level claim)"
    cells = dict(zip(board["model"], board_cells(board), strict=True))
    assert "†" not in cells["ref"][4]


def test_real_dagger_and_small_n_flag():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.6, 0.9, 12)
    df = with_entries(table({"good": base + 0.05, "bad": base}, seeds=3))
    board, _ = leaderboard(df, baseline_model="good", settings=FAST)
    bad = board.set_index("model").loc["bad"]
    assert bad["mark"] == "worse" and bad["significantly_worse"] and bad["effect_low"] > 0
    assert "†" in board_cells(board)[list(board["model"]).index("bad")][4]
    tiny = with_entries(table({"good": base[:6] + 0.05, "bad": base[:6]}, seeds=3))
    small, _ = leaderboard(tiny, baseline_model="good", settings=FAST)
    assert small["id_small_n"].str.contains("n too small").all()
    assert not small["significantly_worse"].any()  # no † beside "[n too small]"
    assert all("[n too small]" in c[4] for c in board_cells(small))


def test_page_has_cd_variance_and_folded_maps(tmp_path: Path):
    rng = np.random.default_rng(1)
    base = rng.uniform(0.6, 0.9, 12)
    vals = {"a": base + 0.06, "b": base + 0.03, "c": base}
    frames = [table(vals, complexity=cx) for cx in (0.3, 0.7)]
    frames += [
        table({m: v - 0.1 for m, v in vals.items()}, complexity=cx, pert=("speckle", 2)) for cx in (0.3, 0.7)
    ]
    cases = pd.concat(frames, ignore_index=True)
    result = render_suite("t", cases, pd.DataFrame(), "name: t\n", 4, 4, tmp_path, settings=FAST)
    page = result.index.read_text()
    for section in ("inference", "cd", "significance", "variance", "ranks"):
        assert f'<section id="{section}">' in page
    assert page.index('id="complexity"') < page.index('id="cd"') < page.index('id="significance"')
    assert "n = 12 independent cases" in page and "k = 2 seeds" in page
    assert "<details" in page and "Per-condition maps" in page and "Per-perturbation CD diagrams" in page
    tests = pd.read_csv(tmp_path / "t" / "tests.csv")
    assert {"p_method", "n_cases", "n_seeds", "effect", "effect_low", "effect_high", "significant"} <= set(
        tests.columns
    )
    assert (tests["n_cases"] == 12).all()
    assert not tests["significant"].any()  # k = 2: no architecture-level claim
    # constant differences per pair: all tied, so the exact permutation distribution of the mid-ranks
    wilcoxon = tests[tests["testable"]]
    # 3 pairs x 2 levels x (in-domain, speckle s2, pooled OOD)
    assert len(wilcoxon) == 3 * 2 * 3 and (wilcoxon["p_method"] == "exact (ties/zeros, permutation)").all()
    assert (tests["zero_method"] == "wilcox").all()


def test_complexity_axis_can_use_the_measured_complexity():
    rng = np.random.default_rng(2)
    base = rng.uniform(0.6, 0.9, 12)
    cases = with_entries(
        pd.concat([table({"a": base, "b": base - 0.05}, complexity=cx) for cx in (0.2, 0.8)])
    )
    measured = measured_complexity(cases, "complexity_jsd").set_index("complexity")
    assert measured.loc[0.2, "measured"] > measured.loc[0.8, "measured"]
    assert measured.loc[0.2, "n_cases"] == 12  # each test image once, not once per model and seed
    t = compute_tables(cases, "a", StatsSettings(**{**FAST.__dict__, "complexity_axis": "complexity_jsd"}))
    assert t.settings.complexity_axis == "complexity_jsd"
    with pytest.raises(ValueError, match="complexity_axis"):
        StatsSettings(complexity_axis="lbp")


def test_odd_tables_render(tmp_path: Path):
    rng = np.random.default_rng(3)
    base = rng.uniform(0.6, 0.9, 8)
    only_ood = table({"a": base, "b": base - 0.02}, pert=("speckle", 2))
    single = table({"a": base}, seeds=1).assign(complexity=np.nan)
    single.loc[0, "dice"] = np.nan
    ragged = pd.concat(
        [table({"a": base}, seeds=3), table({"b": base[:6]}, seeds=2), table({"c": base}, seeds=1)]
    )
    for name, cases in (("ood", only_ood), ("single", single), ("ragged", ragged)):
        result = render_suite(name, cases, pd.DataFrame(), "name: x\n", 1, 1, tmp_path, settings=FAST)
        assert result.index.exists()
    tests = pd.read_csv(tmp_path / "ragged" / "tests.csv").set_index(["model_a", "model_b"])
    assert tests.loc[("a", "b"), "n_pairs"] == 6 and tests.loc[("a", "b"), "n_seeds"] == 2


def test_headline_claims_only_controlled_architecture_decisions(tmp_path: Path):
    """Three seeds and a clear lead: the headline says so and names the shift family it holds under; a
    k = 1 ensemble in the same block is ranked by its Dice and named as making no architecture claim."""
    import html
    import re

    rng = np.random.default_rng(4)
    base = rng.uniform(0.6, 0.8, 15)
    vals = {"a": base + 0.1, "b": base, "c": base - 0.02}
    frames = [table(vals, seeds=3)]
    frames += [table({m: v - 0.1 * s for m, v in vals.items()}, seeds=3, pert=("speckle", s)) for s in (1, 2)]
    frames += [table({"ens": base + 0.05}, seeds=1)]  # in-domain only
    cases = pd.concat(frames, ignore_index=True)
    result = render_suite("h", cases, pd.DataFrame(), "name: h\n", 4, 4, tmp_path, settings=FAST)
    page = result.index.read_text()
    head = re.search(r'(?s)<section[^>]*id="headline".*?</section>', page).group(0)
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", head)))
    assert "Most accurate in-domain: a (Dice" in text
    assert "its lead over ens" in text and "no architecture-level claim: k = 1 < 3 seeds" in text
    assert "Significantly worse (†): b, c." in text
    assert "Significantly best per shift family" in text and "speckle: a" in text
    assert "Fewer than 3 seeds for ens (k = 1)" in page
    tests = pd.read_csv(tmp_path / "h" / "tests.csv")
    ab = tests[
        (tests["perturbation"] == "none") & (tests["model_a"] == "a") & (tests["model_b"] == "b")
    ].iloc[0]
    assert ab["significant"] and ab["effect_low"] > 0 and ab["effect"] == pytest.approx(0.1)


def test_dice_cell_tooltip_gives_the_architecture_level_effect_vs_best():
    from segbench.report.leaderboard import board_tables

    rng = np.random.default_rng(5)
    base = rng.uniform(0.6, 0.8, 15)
    cases = with_entries(table({"good": base + 0.05, "bad": base}, seeds=3))
    board, _ = leaderboard(cases, baseline_model="good", settings=FAST)
    (t,) = board_tables(cases, board, pd.DataFrame(), n_resamples=199)
    cell = t.values[("dice", "0.5", "bad", "id")]
    assert cell.dag and cell.title.startswith("best minus this model: +0.050 [")
    assert "(architecture level: cases and seeds)" in cell.title
