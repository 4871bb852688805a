"""segbench advise: placement inside and outside the measured range, measurement, and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segbench.tools.advise import advise
from segbench.tools.dataset_profile import DatasetProfile, measure_cases, resolve_dataset


def _measured(n_levels: int = 4, n_cases: int = 20, seeds: tuple[int, ...] = (1, 2)) -> pd.DataFrame:
    """Synthetic store rows: KL from 0.5 (hard) to 3 (easy). Model 'wide' wins where KL > 1.5
    by 0.2 Dice; 'narrow' is flat; under shift 'narrow' keeps its Dice while 'wide' loses 0.3."""
    rng = np.random.default_rng(0)
    rows = []
    for level, kl in enumerate(np.linspace(0.5, 3.0, n_levels)):
        for i in range(n_cases):
            x = kl + rng.normal(0, 0.05)
            for seed in seeds:
                for model, dice in (("wide", 0.6 + (0.2 if kl > 1.5 else 0.0)), ("narrow", 0.6)):
                    d = dice + rng.normal(0, 0.02)
                    base = {
                        "suite": "s",
                        "dataset": "textures2d",
                        "complexity": level / 10,
                        "case_id": f"c{i}",
                    }
                    base |= {"model": model, "seed": seed, "complexity_kl": x, "test_complexity": np.nan}
                    rows.append({**base, "perturbation": "none", "severity": 0, "dice": d})
                    shifted = d - (0.3 if model == "wide" else 0.0)
                    rows.append({**base, "perturbation": "speckle", "severity": 2, "dice": shifted})
    return pd.DataFrame(rows)


def _profile(median: float, spread: float = 0.1) -> DatasetProfile:
    values = np.linspace(median - spread, median + spread, 30)
    return DatasetProfile("mine", 2, "complexity_kl", values)


def test_inside_the_measured_range_favours_the_better_model() -> None:
    advice = advise(_profile(2.95), _measured(), n_resamples=500)
    assert advice.inside
    assert advice.favoured == ["wide"] and advice.strength == "strong"
    assert advice.robust_favoured == ["narrow"]  # under shift the flat model holds up
    wide, narrow = advice.models
    assert wide.model == "wide" and np.isnan(wide.gap)
    assert narrow.gap == pytest.approx(0.2, abs=0.02) and narrow.gap_low > 0.15
    assert wide.n_seeds == 2 and wide.n_cases >= 20  # seeds averaged per case: the case is the unit
    assert 2.8 < advice.window[0] <= advice.window[1] < 3.2  # only cases near the dataset's point
    text = advice.text()
    assert "favours wide" in text and "what this cannot say" in text
    assert "<table>" in advice.html() and "&lt;" not in advice.profile.name


def test_where_models_tie_the_evidence_does_not_separate_them() -> None:
    advice = advise(_profile(0.6), _measured(), n_resamples=500)
    assert advice.inside and advice.favoured == [] and advice.strength == "none"
    assert "does not separate" in advice.headline()


@pytest.mark.parametrize(("median", "side"), [(10.0, "easier"), (0.01, "harder")])
def test_outside_the_measured_range_no_recommendation(median: float, side: str) -> None:
    advice = advise(_profile(median), _measured(), n_resamples=100)
    assert not advice.inside and advice.favoured == [] and advice.models == []
    assert "outside the measured range" in advice.headline() and side in advice.headline()
    assert any("outside the measured range" in c for c in advice.cannot_say)


def test_no_matching_results_says_what_to_run() -> None:
    with pytest.raises(LookupError, match="run a 3D suite"):
        advise(DatasetProfile("vol", 3, "fbr", np.array([0.1])), _measured())


def test_measure_cases_2d_lbp_and_3d_fbr() -> None:
    rng = np.random.default_rng(0)
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 1
    stripes = np.tile((np.arange(64) % 4 < 2).astype(float), (64, 1))
    easy = np.where(mask, stripes, rng.random((64, 64)))
    same = rng.random((64, 64))
    profile = measure_cases([(easy, mask), (same, mask)], "two")
    assert profile.measure == "complexity_kl" and profile.values[0] > profile.values[1]
    vol = np.zeros((64, 64, 64), np.uint8)
    vol[24:40, 24:40, 24:40] = 1
    p3 = measure_cases([(vol.astype(float), vol)], "vol")
    assert p3.measure == "fbr" and p3.values[0] == pytest.approx(16**3 / 64**3)
    assert p3.patch_fbr[32] == pytest.approx(16**3 / 32**3) and 96 not in p3.patch_fbr


def test_resolve_dataset_registered_and_unknown(tmp_path: Path) -> None:
    assert resolve_dataset("textures2d", {"size": 32}).name == "textures2d"
    with pytest.raises(LookupError, match="not a registered dataset"):
        resolve_dataset(str(tmp_path / "nothing_here"))


@pytest.mark.slow
def test_advise_cli_on_a_real_store(tmp_path: Path) -> None:
    import yaml
    from click.testing import CliRunner

    from segbench import api
    from segbench.cli import main

    suite = {
        "name": "adv",
        "seeds": [1],
        "train": {"epochs": 1, "batch_size": 4, "lr": 0.01, "val_every": 1},
        "models": [{"name": "unet", "params": {"channels": [4, 8], "strides": [2]}}],
        "datasets": [{"name": "textures2d", "params": {"size": 32, "n_images": 30}}],
        "complexity": [0.1, 0.9],
        "perturbations": ["none"],
    }
    path = tmp_path / "adv.yaml"
    path.write_text(yaml.safe_dump(suite))
    results = tmp_path / "results"
    assert api.run_suite(path, results, quiet=True).ok
    runner = CliRunner()
    args = ["--results", str(results), "--out", str(tmp_path / "reports")]
    ok = runner.invoke(
        main, ["advise", "textures2d", "--params", "{size: 32, n_images: 20}", "--complexity", "0.5", *args]
    )
    assert ok.exit_code == 0, ok.output
    assert "single model" in ok.output and "unet" in ok.output
    assert (tmp_path / "reports" / "advise" / "textures2d.html").exists()
    missing = runner.invoke(main, ["advise", str(tmp_path / "nope.json"), *args])
    assert missing.exit_code == 2 and "not a registered dataset" in missing.output


def test_3d_dataset_is_not_placed_on_2d_results() -> None:
    rows = _measured().assign(fbr=0.1)  # 2D texture rows also carry an FBR
    with pytest.raises(LookupError, match="run a 3D suite"):
        advise(DatasetProfile("vol", 3, "fbr", np.array([0.1, 0.1])), rows)
    spheres = rows.assign(dataset="spheres3d")
    assert advise(DatasetProfile("vol", 3, "fbr", np.array([0.1, 0.1])), spheres, n_resamples=50).inside


def test_measured_curves_and_page_figure() -> None:
    advice = advise(_profile(2.95), _measured(), n_resamples=200)
    curves = advice.curves
    assert set(curves["model"]) == {"wide", "narrow"}
    wide = curves[curves["model"] == "wide"].sort_values("x")
    assert wide["dice"].iloc[-1] - wide["dice"].iloc[0] == pytest.approx(0.2, abs=0.03)  # the measured step
    assert ((curves["low"] <= curves["dice"]) & (curves["dice"] <= curves["high"])).all()
    page = advice.html(plotly_src="../plotly.min.js")
    assert "../plotly.min.js" in page and "your dataset (IQR)" in page
    assert "<script" not in advice.html()  # no figure without a plotly.js to load


def test_resolve_datalist_and_nnunet_through_the_registry(tmp_path: Path) -> None:
    datalist = tmp_path / "list.json"
    datalist.write_text('{"training": []}')
    folder = tmp_path / "Dataset001_X"
    folder.mkdir()
    (folder / "dataset.json").write_text("{}")
    assert resolve_dataset(str(datalist), {"size": 32}).params == {"path": str(datalist), "size": 32}
    spec = resolve_dataset(str(folder))
    assert spec.name == "nnunet" and spec.params == {"root": str(folder)}


def test_synthetic_evidence_for_real_data_is_never_strong() -> None:
    real = _profile(2.95)
    real.real = True
    advice = advise(real, _measured(), n_resamples=500)
    assert advice.favoured == ["wide"]  # the same paired CIs as above ...
    assert advice.strength == "weak" and advice.distance == "far"  # ... graded by what they are
    assert "real data vs synthetic stored cases" in advice.text()
    assert advice.cannot_say[0].startswith("Every stored case is synthetic")
    assert "(weak evidence; the stored cases are far from mine)" in advice.headline()
    same = advise(_profile(2.95), _measured(), n_resamples=500, evidence={"real": False, "sizes": [64]})
    assert same.distance_notes[-1] == "generated data vs synthetic stored cases"


def test_pages_are_named_after_the_dataset_not_its_file(tmp_path: Path) -> None:
    from segbench.suite.schema import DatasetSpec
    from segbench.tools.dataset_profile import dataset_label

    named = tmp_path / "a" / "dataset.json"
    named.parent.mkdir()
    named.write_text('{"name": "Spleen", "training": []}')
    unnamed = tmp_path / "BUSI" / "dataset.json"
    unnamed.parent.mkdir()
    unnamed.write_text('{"training": []}')
    assert dataset_label(DatasetSpec(name="datalist", params={"path": str(named)})) == "Spleen"
    assert dataset_label(DatasetSpec(name="datalist", params={"path": str(unnamed)})) == "BUSI"
    assert dataset_label(DatasetSpec(name="nnunet", params={"root": str(tmp_path / "BUSI")})) == "BUSI"
    assert dataset_label(DatasetSpec(name="textures2d", params={"size": 64})) == "textures2d"
