"""Export -> external prediction -> import, on a real tiny run: pairing, metrics, report, errors."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from segbench import api
from segbench.cli import main
from segbench.metrics.distance import hd95, nsd
from segbench.metrics.overlap import dice
from segbench.models.build import build_model
from segbench.plan import dataset_identity, expand
from segbench.store import Store
from segbench.suite.load import load_suite
from segbench.tools.roundtrip.importer import PredictionError
from segbench.tools.roundtrip.manifest import Manifest, ManifestError
from segbench.worker.infer import Predictor
from segbench.worker.job import checkpoint_path, load_dataset

pytestmark = pytest.mark.slow

SUITE = """\
name: rt
seeds: [1, 2]
train: {epochs: 1, batch_size: 4, lr: 0.01, val_every: 1}
models:
  - {name: unet, params: {channels: [4, 8, 16], strides: [2, 2]}}
datasets:
  - name: textures2d
    params: {size: 32, n_images: 40, fg_texture: noise, bg_texture: stripes}
complexity: [0.2, 0.8]
perturbations: [none, {name: gaussian_noise, severity: 2}, easier]
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("roundtrip")
    suite = root / "rt.yaml"
    suite.write_text(SUITE)
    results = root / "results"
    assert api.run_suite(suite, results, quiet=True).ok
    out = root / "export"
    summary = api.export_suite(suite, out, "nnunet")
    assert summary.n_test_sets == 2 * 3 and summary.n_images == 2 * 3 * 8
    return {"root": root, "suite": suite, "results": results, "export": out, "manifest": summary.manifest}


def _case_count(results: Path) -> int:
    with sqlite3.connect(results / "segbench.sqlite") as conn:
        return conn.execute("SELECT COUNT(*) FROM cases").fetchone()[0]


def _predict_all(world: dict[str, Path], out: Path, predict) -> Manifest:  # type: ignore[no-untyped-def]
    """Run ``predict(images) -> masks`` on every exported folder, writing NIfTI masks as a tool would."""
    manifest = Manifest.read(world["manifest"])
    for test_set in manifest.test_sets:
        files = [manifest.root / c.image for c in test_set.cases]
        images = [nib.load(str(f)) for f in files]
        masks = predict([np.asarray(img.dataobj, dtype=np.float32) for img in images])
        (out / test_set.folder).mkdir(parents=True, exist_ok=True)
        for case, img, mask in zip(test_set.cases, images, masks, strict=True):
            nib.save(
                nib.Nifti1Image(mask.astype(np.uint8), img.affine),
                str(out / test_set.folder / f"{case.case_id}.nii.gz"),
            )
    return manifest


def _threshold(images: list[np.ndarray]) -> list[np.ndarray]:
    return [(im > im.mean()).astype(np.uint8) for im in images]


def test_export_layout_geometry_and_draws_match_the_run(world: dict[str, Path]) -> None:
    manifest = Manifest.read(world["manifest"])
    folders = sorted(t.folder for t in manifest.test_sets)
    assert folders == sorted(
        f"textures2d_c{c}_{p}"
        for c in ("0.2", "0.8")
        for p in ("none", "gaussian_noise_s2", "blur_background_s2")
    )
    easier = next(t for t in manifest.test_sets if t.perturbation == "blur_background")
    assert easier.preset == "easier" and easier.severity == 2
    first = manifest.test_sets[0].cases[0]
    assert first.image.endswith(f"/{first.case_id}_0000.nii.gz") and first.label.startswith("labels/")
    header = nib.load(str(manifest.root / first.image)).header
    assert tuple(header.get_zooms()) == tuple(first.spacing)

    # The exported draws are the ones the suite's own evaluation stored, case by case.
    stored = Store(world["results"]).cases("rt")
    stored = stored[stored["seed"] == 1].set_index(["complexity", "perturbation", "case_id"])
    for test_set in manifest.test_sets:
        for case in test_set.cases:
            params = stored.loc[
                (test_set.complexity, test_set.perturbation, case.case_id), "perturbation_params"
            ]
            assert json.loads(params) == case.params
    noisy = next(t for t in manifest.test_sets if t.perturbation == "gaussian_noise")
    assert all(c.params["sigma"] > 0 for c in noisy.cases)


def test_saved_model_run_outside_pairs_exactly_with_its_own_evaluation(world: dict[str, Path]) -> None:
    """The suite's own U-Net checkpoint, run on the exported files, reproduces its stored Dice."""
    suite = load_suite(world["suite"])
    job = next(j for j in expand(suite) if j.complexity == 0.2 and j.seed == 1)
    model = build_model("unet", {"channels": [4, 8, 16], "strides": [2, 2]}, spatial_dims=2)
    model.load_state_dict(
        torch.load(checkpoint_path(world["results"], job.key), weights_only=True)["state_dict"]
    )
    predictor = Predictor(torch.device("cpu"), "sigmoid", None, batch_size=4)
    pred = world["root"] / "pred_unet"
    _predict_all(world, pred, lambda images: predictor.predict(model, images))
    summary = api.import_predictions(pred, world["manifest"], "unet_outside", world["results"])
    assert summary.n_cases == 48 and summary.n_jobs == 2 * 2  # (levels) x (seeds)

    cases = Store(world["results"]).cases("rt")
    level = cases[(cases["complexity"] == 0.2) & (cases["seed"] == 1)]
    own = level[level["model"] == "unet"].set_index(["perturbation", "case_id"])["dice"].sort_index()
    outside = (
        level[level["model"] == "unet_outside"].set_index(["perturbation", "case_id"])["dice"].sort_index()
    )
    assert len(own) == 24
    np.testing.assert_array_equal(outside.to_numpy(), own.to_numpy())


def test_threshold_predictions_store_direct_metrics_and_reach_the_report(world: dict[str, Path]) -> None:
    pred = world["root"] / "pred_threshold"
    manifest = _predict_all(world, pred, _threshold)
    result = CliRunner().invoke(
        main,
        [
            "import",
            str(pred),
            "--manifest",
            str(world["manifest"]),
            "--label",
            "thresh",
            "--results",
            str(world["results"]),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "thresh: 48 cases in 6 conditions stored with suite rt" in result.output

    cases = Store(world["results"]).cases("rt")
    mine = cases[cases["model"] == "thresh"]
    assert set(mine["model_name"]) == {"imported"} and set(mine["seed"]) == {1, 2}
    assert len(mine) == 48 * 2  # every case, once per suite seed (so it pairs with each seed)
    suite = load_suite(world["suite"])
    spec = suite.datasets[0]
    for test_set in manifest.test_sets:
        truth = {
            c.case_id: c for c in load_dataset(spec, test_set.complexity, 0, dataset_identity(spec)).test
        }
        for case in test_set.cases:
            mask = np.asarray(nib.load(str(pred / test_set.folder / f"{case.case_id}.nii.gz")).dataobj) > 0
            ref = truth[case.case_id].label.astype(bool)
            rows = mine[
                (mine["complexity"] == test_set.complexity)
                & (mine["perturbation"] == test_set.perturbation)
                & (mine["case_id"] == case.case_id)
            ]
            assert len(rows) == 2
            for row in rows.itertuples():
                assert row.dice == pytest.approx(dice(mask, ref), nan_ok=True)
                assert row.hd95 == pytest.approx(hd95(mask, ref, (1.0, 1.0)))
                assert row.nsd == pytest.approx(nsd(mask, ref, (1.0, 1.0)))
                assert row.n_pred == int(mask.sum()) and row.n_ref == int(ref.sum())
    # Same case ids and condition columns as the suite's model: every imported row has a partner.
    keys = ["complexity", "perturbation", "severity", "seed", "case_id"]
    partners = mine[keys].merge(cases[cases["model"] == "unet"][keys], on=keys)
    assert len(partners) == len(mine)

    out = world["root"] / "reports"
    (built,) = api_build_reports(world["results"], out)
    table = (out / "rt" / "cases.csv").read_text()
    assert sum(line.startswith("thresh,imported,textures2d,") for line in table.splitlines()) == 96
    assert "thresh" in built.index.read_text()
    tests = (out / "rt" / "tests.csv").read_text()
    conditions = mine[["complexity", "perturbation", "severity"]].drop_duplicates()
    assert len(conditions) >= 6  # two levels x in-domain, two perturbations and the dataset shift
    # paired with the suite's model in every condition it was scored in, plus one pooled "ood" row
    # per level (the harder shifts together, stats.claims)
    rows = [line for line in tests.splitlines() if ",thresh,unet," in line]
    assert sum(",ood," not in line for line in rows) == len(conditions)
    assert sum(",ood," in line for line in rows) == conditions["complexity"].nunique()

    from segbench.tools.gate import run_gate

    baseline = world["root"] / "baseline.json"
    run_gate(world["results"], baseline, suite="rt", update=True)
    assert "thresh" in baseline.read_text()  # the gate covers the imported model like any other
    assert not run_gate(world["results"], baseline, suite="rt").regressed


def api_build_reports(results: Path, out: Path):  # type: ignore[no-untyped-def]
    from segbench.report.build import build_reports

    return build_reports(results, out, ["rt"])


def test_rerunning_the_suite_keeps_imported_models(world: dict[str, Path]) -> None:
    pred = world["root"] / "pred_keep"
    _predict_all(world, pred, _threshold)
    api.import_predictions(pred, world["manifest"], "kept", world["results"])
    again = api.run_suite(world["suite"], world["results"], quiet=True)
    assert again.ran == 0
    assert "kept" in set(Store(world["results"]).cases("rt")["model"])
    api.import_predictions(pred, world["manifest"], "kept", world["results"])  # re-import replaces
    cases = Store(world["results"]).cases("rt")
    assert (cases["model"] == "kept").sum() == 96
    expected, done = Store(world["results"]).expected_counts("rt")
    assert expected == done  # the suite counts as complete, imported conditions included


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("missing", "1 of 48 predictions missing (textures2d_c0.2_none/test-000.nii.gz)"),
        ("folder", "8 of 48 predictions missing (folder textures2d_c0.2_none/)"),
        ("small", "shape (16, 16), expected (32, 32)"),
        ("probabilities", "holds probabilities (e.g. 0.25), not labels"),
        ("spacing", "voxel spacing (2.0, 2.0) mm, expected (1.0, 1.0)"),
    ],
)
def test_bad_predictions_are_one_line_errors_and_store_nothing(
    world: dict[str, Path], damage: str, expected: str
) -> None:
    pred = world["root"] / f"pred_{damage}"
    _predict_all(world, pred, _threshold)
    target = pred / "textures2d_c0.2_none" / "test-000.nii.gz"
    if damage == "missing":
        target.unlink()
    elif damage == "folder":
        shutil.rmtree(target.parent)
    elif damage == "small":
        nib.save(nib.Nifti1Image(np.zeros((16, 16), np.uint8), np.eye(4)), str(target))
    elif damage == "probabilities":
        nib.save(nib.Nifti1Image(np.full((32, 32), 0.25, np.float32), np.eye(4)), str(target))
    else:
        nib.save(nib.Nifti1Image(np.zeros((32, 32), np.uint8), np.diag([2.0, 2.0, 1.0, 1.0])), str(target))
    before = _case_count(world["results"])
    with pytest.raises(PredictionError) as info:
        api.import_predictions(pred, world["manifest"], f"bad_{damage}", world["results"])
    message = str(info.value)
    assert expected in message, message
    assert message.count("\n") == 0 and "nothing was stored" in message
    assert _case_count(world["results"]) == before


def test_label_clash_and_missing_manifest(world: dict[str, Path]) -> None:
    pred = world["root"] / "pred_threshold_clash"
    _predict_all(world, pred, _threshold)
    with pytest.raises(PredictionError, match="already a model of suite 'rt'"):
        api.import_predictions(pred, world["manifest"], "unet", world["results"])
    with pytest.raises(ManifestError, match="not found"):
        api.import_predictions(pred, world["root"] / "nope.json", "x", world["results"])
    result = CliRunner().invoke(
        main,
        [
            "import",
            str(pred),
            "--manifest",
            str(world["manifest"]),
            "--label",
            "unet",
            "--results",
            str(world["results"]),
        ],
    )
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_manifest_of_other_test_data_is_refused(world: dict[str, Path]) -> None:
    pred = world["root"] / "pred_other_data"
    _predict_all(world, pred, _threshold)
    data = json.loads(world["manifest"].read_text())
    data["data_seed"] = 7
    other = world["export"] / "other_manifest.json"
    other.write_text(json.dumps(data))
    with pytest.raises(PredictionError, match="other test data than the export"):
        api.import_predictions(pred, other, "other", world["results"])


def test_png_round_trip_into_an_empty_store(world: dict[str, Path]) -> None:
    from PIL import Image

    out = world["root"] / "png"
    summary = api.export_suite(world["suite"], out, "png")
    manifest = Manifest.read(summary.manifest)
    case = manifest.test_sets[0].cases[0]
    with Image.open(out / case.image) as img:
        assert img.mode.startswith("I") and np.array(img).max() == 65535  # 16-bit, min-max scaled
    assert case.intensity is not None and case.intensity[0] < case.intensity[1]
    pred = world["root"] / "pred_png"
    for test_set in manifest.test_sets:
        (pred / test_set.folder).mkdir(parents=True)
        for c in test_set.cases:
            with Image.open(out / c.image) as img:
                image = np.array(img)
            Image.fromarray(((image > image.mean()) * 255).astype(np.uint8)).save(
                pred / test_set.folder / f"{c.case_id}.png"
            )
    fresh = world["root"] / "fresh_results"
    api.import_predictions(pred, summary.manifest, "png_thresh", fresh)
    cases = Store(fresh).cases("rt")
    assert set(cases["model"]) == {"png_thresh"} and len(cases) == 96
