"""The fidelity section on constructed tables (no training): every measured cell is compared with the
published one, and a finding is decided only as far as the architecture-level statistics allow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segbench.references import load_reference
from segbench.report.build import render_suite
from segbench.report.fidelity import (
    AGREE,
    DISAGREE,
    INCONCLUSIVE,
    NOT_SIGNIFICANT,
    NOT_TESTED,
    cell_table,
    decide,
    finding_table,
    match_cases,
    suite_facts,
    verdict,
)
from segbench.report.tables import StatsSettings
from segbench.store.read import SuiteDefinition

FAST = StatsSettings(n_resamples=999, rank_resamples=200, diff_resamples=200, vc_resamples=100)
SUITE = """\
name: t
reference: skip_connections
seeds: [1, 2, 3]
train: {epochs: 5}
models: [unet, noskip_unet, attention_unet, gated_unet]
datasets:
  - {name: textures2d, params: {size: 32, n_images: 60}}
complexity: [0.1, 0.9]
"""


def cases(
    shift: dict[tuple[str, float], float],
    seeds: int = 3,
    n: int = 30,
    noise: float = 0.002,
    seed_sd: float = 0.002,
) -> pd.DataFrame:
    """Per-case Dice: a shared case difficulty + ``shift[(model, alpha)]`` + seed and case noise."""
    rng = np.random.default_rng(0)
    base = {a: rng.uniform(0.45, 0.65, n) if a == 0.9 else rng.uniform(0.93, 0.97, n) for a in (0.1, 0.9)}
    rows = []
    for (model, alpha), delta in shift.items():
        for s in range(1, seeds + 1):
            seed_shift = rng.normal(0, seed_sd)
            for i, v in enumerate(base[alpha] + delta + seed_shift + rng.normal(0, noise, n)):
                rows.append(
                    dict(
                        suite="t",
                        model=model,
                        model_name=model,
                        dataset="textures2d",
                        complexity=alpha,
                        patch="full",
                        perturbation="none",
                        severity=0,
                        preset=None,
                        test_complexity=np.nan,
                        seed=s,
                        case_id=f"test-{i:03d}",
                        dice=float(v),
                        fbr=0.2,
                        job_key=f"{model}{alpha}{s}",
                    )
                )
    return pd.DataFrame(rows)


SHIFTS = {
    ("unet", 0.1): 0.0,
    ("noskip_unet", 0.1): 0.0,
    ("attention_unet", 0.1): 0.0,
    ("gated_unet", 0.1): 0.0,
    ("unet", 0.9): 0.0,
    ("noskip_unet", 0.9): 0.05,
    ("attention_unet", 0.9): -0.05,
    ("gated_unet", 0.9): 0.0,
}


def _findings(table: pd.DataFrame) -> pd.DataFrame:
    import yaml

    ref = load_reference("skip_connections")
    matched = match_cases(table, ref, suite_facts(yaml.safe_load(SUITE)), pd.DataFrame())
    return finding_table(matched, ref, pd.DataFrame())


def test_decisions_follow_the_architecture_level_effect() -> None:
    f = _findings(cases(SHIFTS)).set_index(["finding", "test"])["decision"]
    assert f[("skip_reversal", 0)] == AGREE  # No-Skip + 0.05 over U-Net at alpha 0.9
    assert f[("small_gap_easy", 0)] == AGREE  # identical at alpha 0.1: CI inside +-0.01
    assert f[("attention_best_hard", 0)] == DISAGREE and f[("attention_best_hard", 1)] == DISAGREE
    assert f[("attention_fragile_real", 0)] == f"{NOT_TESTED}: this run has no data for table busi"


def test_no_effect_is_not_significant_and_two_seeds_are_not_tested() -> None:
    flat = {k: 0.0 for k in SHIFTS}
    f = _findings(cases(flat, noise=0.05, seed_sd=0.0)).set_index(["finding", "test"])["decision"]
    assert f[("skip_reversal", 0)] == NOT_SIGNIFICANT
    two = _findings(cases(SHIFTS, seeds=2)).set_index(["finding", "test"])["decision"]
    assert two[("skip_reversal", 0)].startswith(f"{NOT_TESTED}: k = 2 < 3 seeds")


@pytest.mark.parametrize(
    ("expect", "row", "decision"),
    [
        ("a_better", dict(effect=0.03, effect_low=0.01, effect_high=0.05, significant=True), AGREE),
        ("a_better", dict(effect=-0.03, effect_low=-0.05, effect_high=-0.01, significant=True), DISAGREE),
        (
            "a_better",
            dict(effect=0.03, effect_low=-0.01, effect_high=0.07, significant=False),
            NOT_SIGNIFICANT,
        ),
        ("equivalent", dict(effect=0.0, effect_low=-0.005, effect_high=0.004, significant=False), AGREE),
        ("equivalent", dict(effect=0.03, effect_low=0.02, effect_high=0.04, significant=True), DISAGREE),
        ("equivalent", dict(effect=0.0, effect_low=-0.02, effect_high=0.02, significant=False), INCONCLUSIVE),
    ],
)
def test_decide_on_constructed_rows(expect: str, row: dict, decision: str) -> None:
    from segbench.references import FindingTest

    margin = 0.01 if expect == "equivalent" else None
    test = FindingTest(a="x", b="y", table="t", at=0.9, expect=expect, margin=margin)
    assert decide(test, row) == decision


def test_verdict_never_upgrades_a_weak_answer() -> None:
    assert verdict([AGREE, AGREE]) == AGREE
    assert verdict([AGREE, DISAGREE]) == DISAGREE
    assert verdict([AGREE, NOT_SIGNIFICANT]) == NOT_SIGNIFICANT
    assert verdict([AGREE, f"{NOT_TESTED}: no x"]) == f"{AGREE} (1 of 2 tested)"
    assert verdict([f"{NOT_TESTED}: no x"]) == NOT_TESTED


def test_cells_compare_every_measured_cell_with_the_published_one() -> None:
    import yaml

    ref = load_reference("skip_connections")
    table = cases(SHIFTS)
    matched = match_cases(table, ref, suite_facts(yaml.safe_load(SUITE)), pd.DataFrame())
    cells = cell_table(matched, ref, pd.DataFrame(), table)
    assert len(cells) == 6  # 3 published models x 2 levels; gated_unet has no published number
    row = cells[(cells["model"] == "attention_unet") & (cells["level"] == 0.9)].iloc[0]
    assert row["published"] == 0.727
    measured = table[(table["model"] == "attention_unet") & (table["complexity"] == 0.9)]["dice"].mean()
    assert row["measured"] == pytest.approx(measured, abs=1e-9)
    assert row["difference"] == pytest.approx(measured - 0.727, abs=1e-9)
    assert row["low"] < row["measured"] < row["high"] and row["n_cases"] == 30 and row["n_seeds"] == 3


def test_report_renders_the_section_and_writes_exports(tmp_path: Path) -> None:
    table = cases(SHIFTS)
    render_suite("t", table, pd.DataFrame(), SUITE, 24, 24, tmp_path, settings=FAST)
    html = (tmp_path / "t" / "index.html").read_text(encoding="utf-8")
    assert 'id="fidelity"' in html and "Does it reproduce?" in html and "0.727" in html
    cells = pd.read_csv(tmp_path / "t" / "fidelity.csv")
    assert len(cells) == 6 and set(cells["reference"]) == {"skip_connections"}
    findings = pd.read_csv(tmp_path / "t" / "fidelity_findings.csv")
    assert findings.loc[findings["finding"] == "skip_reversal", "verdict"].iloc[0] == AGREE
    md = (tmp_path / "t" / "fidelity.md").read_text(encoding="utf-8")
    assert "| attention_unet | 0.9 | 0.727 |" in md and "Published vs measured" in md


def test_suite_without_reference_has_no_section(tmp_path: Path) -> None:
    render_suite(
        "t",
        cases(SHIFTS),
        pd.DataFrame(),
        SUITE.replace("reference: skip_connections\n", ""),
        24,
        24,
        tmp_path,
        settings=FAST,
    )
    assert 'id="fidelity"' not in (tmp_path / "t" / "index.html").read_text(encoding="utf-8")
    assert not (tmp_path / "t" / "fidelity.csv").exists()


SUITE_3D = """\
name: t3
reference: context_fbr
seeds: [1, 2, 3]
models: [unet, attention_unet, unetr]
datasets:
  - {name: spheres3d, params: {size: 48, n_train: 4, n_val: 2, n_test: 20}}
patch_budget:
  - {size: [16, 16, 16]}
  - {size: [32, 32, 32]}
"""


def cases_3d() -> tuple[pd.DataFrame, pd.DataFrame]:
    """20 test volumes, 10 inside the training-crop FBR range [0.1, 0.3] and 10 outside (FBR 0.01).

    U-Net scores 0.9 everywhere; Attention U-Net and UNETR 0.9 inside and 0.4 outside, and 0.1 more
    with the larger patch (inside and outside alike).
    """
    import json

    rng = np.random.default_rng(1)
    rows, jobs = [], []
    for model in ("unet", "attention_unet", "unetr"):
        for side in (16, 32):
            for s in (1, 2, 3):
                key = f"{model}-{side}-{s}"
                info = {"crop_fbr": [0.1, 0.2, 0.3], "patch_size": [side] * 3}
                jobs.append(
                    dict(
                        model=model,
                        dataset="spheres3d",
                        status="trained",
                        job_key=key,
                        train_info=json.dumps(info),
                        seed=s,
                    )
                )
                for i in range(20):
                    inside = i < 10
                    dice = 0.9 if model == "unet" or inside else 0.4
                    dice += 0.1 * (side == 32 and model != "unet") - 0.1 * (model != "unet")
                    rows.append(
                        dict(
                            suite="t3",
                            model=model,
                            model_name=model,
                            dataset="spheres3d",
                            complexity=np.nan,
                            patch=f"{side}x{side}x{side}",
                            perturbation="none",
                            severity=0,
                            preset=None,
                            test_complexity=np.nan,
                            seed=s,
                            case_id=f"test-{i:03d}",
                            dice=dice + rng.normal(0, 0.01),
                            fbr=0.2 if inside else 0.01,
                            job_key=key,
                        )
                    )
    return pd.DataFrame(rows), pd.DataFrame(jobs)


def test_3d_cells_fbr_drops_and_findings() -> None:
    import yaml

    ref = load_reference("context_fbr")
    table, jobs = cases_3d()
    matched = match_cases(table, ref, suite_facts(yaml.safe_load(SUITE_3D)), jobs)
    assert set(matched["level"]) == {32.0, 64.0}  # patch 16 and 32 of a 48 volume = 32 and 64 of 96
    cells = cell_table(matched, ref, jobs, table).set_index(["table", "model", "level"])
    assert cells.loc[("synthetic", "unet", 64.0), "published"] == 0.987
    drop = cells.loc[("synthetic_fbr_drop", "attention_unet", 64.0)]
    assert drop["published"] == 0.837 and drop["measured"] == pytest.approx(0.5, abs=0.02)
    assert cells.loc[("synthetic_fbr_drop", "unet", 64.0), "measured"] == pytest.approx(0.0, abs=0.02)
    f = finding_table(matched, ref, jobs).set_index(["finding", "test"])["decision"]
    assert f[("unet_robust_fbr", 0)] == AGREE and f[("unet_robust_fbr", 1)] == AGREE  # outside, at 64
    assert f[("unet_robust_fbr", 2)] == f"{NOT_TESTED}: no unet at 96 in this run"
    assert f[("more_context", 2)] == AGREE and f[("more_context", 3)] == AGREE  # 64 vs 32


def test_labels_map_to_registry_names_and_an_unknown_stored_reference_is_a_note(tmp_path: Path) -> None:
    facts = suite_facts({"models": ["unet", {"name": "noskip_unet", "label": "mine"}], "reference": "x"})
    assert facts.names == {"unet": "unet", "mine": "noskip_unet"} and facts.reference == "x"
    from segbench.report.section_fidelity import fidelity_sections

    definition = SuiteDefinition.parse(SUITE.replace("skip_connections", "nope"))
    secs = fidelity_sections(cases(SHIFTS), pd.DataFrame(), definition, tmp_path)
    assert len(secs) == 1 and "unknown reference 'nope'" in secs[0].notes[0]
    assert not (tmp_path / "fidelity.csv").exists()
