"""Native-resolution scoring, label/image resizing and test-only sites on real files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from segbench.cases import Case, NativeGrid
from segbench.datasets import datalist
from segbench.datasets.cache import set_cache_dir
from segbench.datasets.examples import write_datalist_site
from segbench.datasets.preprocess import _resize
from segbench.plan import expand
from segbench.suite.errors import SuiteError
from segbench.suite.load import parse_suite
from segbench.worker.evaluate import score_cases
from segbench.worker.native import scoring_case, to_native


def test_area_label_resize_keeps_a_one_pixel_line_that_nearest_loses() -> None:
    label = np.zeros((12, 12), np.uint8)
    label[:, 5] = 1  # a 1 px vessel; x2 shrink: nearest samples columns 0, 2, 4, ... and misses it
    image = np.zeros((1, 12, 12), np.float32)
    _, nearest = _resize(image, label, (6, 6))
    _, area = _resize(image, label, (6, 6), label_mode="area")
    assert nearest.sum() == 0
    expected = np.zeros((6, 6), np.uint8)
    expected[:, 2] = 1  # column 2 covers source columns 4-5: half foreground -> kept
    np.testing.assert_array_equal(area, expected)


def test_area_image_resize_is_the_block_mean() -> None:
    image = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    resized, _ = _resize(image, np.zeros((4, 4), np.uint8), (2, 2), image_mode="area")
    np.testing.assert_allclose(resized[0], [[2.5, 4.5], [10.5, 12.5]])


def test_to_native_interpolates_the_logit_then_thresholds() -> None:
    native = np.zeros((4, 4), np.uint8)
    native[:, :2] = 1
    case = Case("c", np.zeros((2, 2), np.float32), np.array([[1, 0], [1, 0]], np.uint8), (2.0, 2.0))
    case = Case(case.case_id, case.image, case.label, case.spacing, native=NativeGrid(native, (1.0, 1.0)))
    # Left column logit +3, right -2; native column j samples x = (j + 0.5) / 2 - 0.5 (align_corners
    # False, clamped): logits 3, 1.75, -0.75, -2, so exactly the left half is foreground.  A mask
    # resized by nearest would agree here; thresholding first and then interpolating could not
    # produce a sub-pixel boundary at all.
    score = np.array([[3.0, -2.0], [3.0, -2.0]])
    mask = to_native(score, case)
    np.testing.assert_array_equal(mask, native)
    (row,) = score_cases([case], [mask], [{}], [{}])
    assert row.values["dice"] == 1.0 and row.values["n_ref"] == 8 and row.values["tp"] == 8
    scored = scoring_case(case)
    assert scored.spacing == (1.0, 1.0) and scored.native is None


def test_native_grid_kept_through_the_cache_only_when_scoring_natively(tmp_path: Path) -> None:
    path = write_datalist_site(tmp_path, "s", n=6, size=32)
    set_cache_dir(tmp_path / "cache")
    try:
        for _ in range(2):  # miss, then hit: the native labels come back from the cache file
            splits = datalist.build(np.random.default_rng(0), path=str(path), size=16)
            case = splits.test[0]
            assert case.label.shape == (16, 16) and case.spacing == (2.0, 2.0)
            assert case.native is not None and case.native.label.shape == (32, 32)
            assert case.native.spacing == (1.0, 1.0) and case.meta["distance_unit"] == "px"
        model = datalist.build(np.random.default_rng(0), path=str(path), size=16, score_at="model")
        assert model.test[0].native is None
        unresized = datalist.build(np.random.default_rng(0), path=str(path))
        assert unresized.test[0].native is None  # the model grid is the native grid
    finally:
        set_cache_dir(None)
    with pytest.raises(ValueError, match="label_resize='linear' is not allowed; use one of nearest, area"):
        datalist.build(np.random.default_rng(0), path=str(path), size=16, label_resize="linear")


def _suite(a: Path, params: str = "", shift: str = "") -> str:
    text = f"name: s\nmodels: [unet]\ndatasets: [{{name: datalist, params: {{path: {a}{params}}}}}]\n"
    return text + (f"dataset_shifts:\n  - {shift}\n" if shift else "")


def test_new_params_at_defaults_keep_job_keys_and_score_at_keys_only_conditions(tmp_path: Path) -> None:
    a = write_datalist_site(tmp_path, "a", n=6, size=16)
    (plain,) = expand(parse_suite(_suite(a, ", size: 8"), "s.yaml"))
    spelt = ", size: 8, label_resize: nearest, image_resize: bilinear, score_at: native"
    (explicit,) = expand(parse_suite(_suite(a, spelt), "s.yaml"))
    (model,) = expand(parse_suite(_suite(a, ", size: 8, score_at: model"), "s.yaml"))
    (area,) = expand(parse_suite(_suite(a, ", size: 8, label_resize: area"), "s.yaml"))
    assert plain.key == explicit.key == model.key  # score_at never retrains
    assert area.key != plain.key  # area labels train another model
    clean = plain.conditions[0]
    assert plain.condition_key(clean) == explicit.condition_key(clean)
    assert model.condition_key(clean) != plain.condition_key(clean)


def test_test_only_datalist_is_a_shift_not_a_training_set(tmp_path: Path) -> None:
    a = write_datalist_site(tmp_path, "a", n=6, size=16)
    b = write_datalist_site(tmp_path, "b", n=4, size=16)
    data = json.loads(b.read_text())
    b.write_text(json.dumps({"name": "b", "test": data["training"]}))
    shift = f"{{label: site_B, dataset: {{name: datalist, params: {{path: {b}}}}}}}"
    (job,) = expand(parse_suite(_suite(a, shift=shift), "s.yaml"))
    assert [c.perturbation for c in job.conditions] == ["none", "site_B"]
    with pytest.raises(SuiteError, match=r"datasets\.0\.params.*only test cases.*dataset_shifts"):
        parse_suite(_suite(b), "s.yaml")
    with pytest.raises(ValueError, match="only test cases"):
        datalist.build(np.random.default_rng(0), path=str(b))


def test_shift_with_other_channels_is_refused_at_validation_naming_shift_and_file(tmp_path: Path) -> None:
    a = write_datalist_site(tmp_path, "a", n=6, size=16)
    b = write_datalist_site(tmp_path, "b", n=4, size=16)
    shift = f"{{label: site_B, dataset: {{name: datalist, params: {{path: {b}, channels: rgb}}}}}}"
    with pytest.raises(
        SuiteError, match=r"dataset shift 'site_B': .*b_000\.png gives 3 image channels.*gives 1"
    ):
        parse_suite(_suite(a, shift=shift), "s.yaml")


def test_dry_run_names_the_held_out_cases_and_validation_none_holds_out_none(tmp_path: Path) -> None:
    from segbench.api import plan_suite

    a = write_datalist_site(tmp_path, "a", n=10, size=16)
    suite = tmp_path / "s.yaml"
    suite.write_text(_suite(a))
    lines = plan_suite(suite, tmp_path / "results").lines()
    (held,) = [line for line in lines if "held out" in line]
    assert "datalist: 1 of 8 training cases held out for validation (the seeded split" in held
    data = json.loads(a.read_text())
    data["validation"] = [data["training"].pop(3), data["training"].pop(3)]
    a.write_text(json.dumps(data))
    (held,) = [line for line in plan_suite(suite, tmp_path / "results").lines() if "held out" in line]
    assert "2 of 8 training cases held out" in held and "own validation list" in held
    assert "a_003, a_004" in held
    suite.write_text(_suite(a).replace("models:", "train: {validation: none}\nmodels:"))
    lines = plan_suite(suite, tmp_path / "results").lines()
    assert any("validation none: all 8 training cases train" in line for line in lines)


def test_split_with_zero_validation_share_leaves_val_empty(tmp_path: Path) -> None:
    a = write_datalist_site(tmp_path, "a", n=8, size=16)
    splits = datalist.build(np.random.default_rng(0), path=str(a), split=[0.75, 0.0, 0.25])
    assert (len(splits.train), len(splits.val), len(splits.test)) == (6, 0, 2)


@pytest.mark.slow
def test_validation_none_trains_on_every_training_case_and_keeps_the_last_epoch(tmp_path: Path) -> None:
    from segbench import api
    from segbench.store import Store

    a = write_datalist_site(tmp_path, "a", n=10, size=16)
    suite = tmp_path / "s.yaml"
    tiny = "{name: unet, params: {channels: [4, 8], strides: [2]}}"
    suite.write_text(
        _suite(a).replace("models: [unet]", f"models: [{tiny}]")
        + "train: {epochs: 3, batch_size: 4, lr: 0.01, val_every: 1, validation: none}\n"
    )
    assert api.run_suite(suite, tmp_path / "results", quiet=True).ok
    (job,) = Store(tmp_path / "results").jobs("s").to_dict("records")
    info = json.loads(job["train_info"])
    assert (info["n_train"], info["n_val"], job["best_epoch"]) == (8, 0, 3)
    assert info["validation"] == "none" and info["split"]["val"] == []
    cases = Store(tmp_path / "results").cases("s")
    assert set(cases["dataset_label"]) == {"a"}  # the JSON's own name
    # Real 2D cases carry the study's LBP-KL measure, so advise places a dataset on real results.
    assert cases["complexity_kl"].notna().all() and (cases["complexity_kl"] > 0).all()
    from segbench.tools.advise import advise
    from segbench.tools.dataset_profile import measure_cases

    splits = datalist.build(np.random.default_rng(0), path=str(a))
    profile = measure_cases([(c.image, c.label) for c in splits.train], "a")
    advice = advise(profile, cases, min_cases=2, n_resamples=200)
    assert advice.sources == ["s/datalist"]
    assert sorted(info["split"]["train"] + info["split"]["test"]) == [f"a_{k:03d}" for k in range(10)]


def test_a_one_bit_label_is_described_by_its_own_size(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "i").mkdir()
    for k in range(4):
        Image.fromarray(np.zeros((20, 30), np.uint8)).save(tmp_path / "i" / f"c{k}.png")
        Image.fromarray(np.ones((19 if k == 2 else 20, 30), bool)).save(tmp_path / "i" / f"c{k}_m.png")
    entries = [{"image": f"i/c{k}.png", "label": f"i/c{k}_m.png"} for k in range(4)]
    (tmp_path / "l.json").write_text(json.dumps({"training": entries}))
    assert Image.open(tmp_path / "i" / "c2_m.png").mode == "1"
    with pytest.raises(
        ValueError, match=r"c2_m\.png: label size \(19, 30\) differs from its image c2\.png's \(20, 30\)"
    ):
        datalist.build(np.random.default_rng(0), path=str(tmp_path / "l.json"))


def test_nnunet_folder_with_only_imagests_is_a_test_only_site(tmp_path: Path) -> None:
    from segbench.datasets import nnunet
    from segbench.datasets.examples import write_nnunet_copy

    a = write_datalist_site(tmp_path, "a", n=6, size=16)
    b = write_nnunet_copy(write_datalist_site(tmp_path, "b", n=3, size=16), tmp_path / "Dataset002_B")
    (b / "imagesTr").rename(b / "imagesTs")
    (b / "labelsTr").rename(b / "labelsTs")
    shift = f"{{label: site_B, dataset: {{name: nnunet, params: {{root: {b}}}}}}}"
    (job,) = expand(parse_suite(_suite(a, shift=shift), "s.yaml"))
    assert [c.perturbation for c in job.conditions] == ["none", "site_B"]
    with pytest.raises(ValueError, match=r"nnunet .*Dataset002_B has only test cases \(3\)"):
        nnunet.build(np.random.default_rng(0), root=str(b))


def test_dataset_label_defaults_to_the_datalist_name_and_never_enters_the_job_key(tmp_path: Path) -> None:
    from segbench.plan import dataset_label
    from segbench.suite.schema import DatasetSpec

    a = write_datalist_site(tmp_path, "a", n=6, size=16)
    assert dataset_label(DatasetSpec(name="datalist", params={"path": str(a)})) == "a"
    assert dataset_label(DatasetSpec(name="datalist", params={"path": str(a)}, label="siteA")) == "siteA"
    assert dataset_label(DatasetSpec(name="textures2d")) == "textures2d"
    (plain,) = expand(parse_suite(_suite(a), "s.yaml"))
    labelled = _suite(a).replace("{name: datalist,", "{name: datalist, label: siteA,")
    (named,) = expand(parse_suite(labelled, "s.yaml"))
    assert named.dataset.label == "siteA" and named.key == plain.key


def test_a_plain_folder_pair_is_a_dataset_and_a_test_only_shift(tmp_path: Path) -> None:
    from segbench.datasets import folder
    from segbench.registry import DATASETS

    a = write_datalist_site(tmp_path, "a", n=6, size=16)
    write_datalist_site(tmp_path, "b", n=3, size=24, seed=2)
    params = {"images": str(tmp_path / "b" / "images"), "labels": str(tmp_path / "b" / "masks")}
    shift = (
        f"{{label: site_B, dataset: {{name: folder, params: {{images: {params['images']}, "
        f"labels: {params['labels']}, label_suffix: _mask}}}}}}"
    )
    (job,) = expand(parse_suite(_suite(a, shift=shift), "s.yaml"))
    assert [c.perturbation for c in job.conditions] == ["none", "site_B"]
    cases = DATASETS.get("folder").meta["test_cases"]({**params, "label_suffix": "_mask"})
    assert [c.case_id for c in cases] == ["b_000", "b_001", "b_002"] and cases[0].label.shape == (24, 24)
    with pytest.raises(
        ValueError, match=r"folder image b_000\.png: mask .*b_000\.png does not exist; did you mean"
    ):
        folder.build(np.random.default_rng(0), **params)


def test_training_curves_say_why_there_is_no_history() -> None:
    import pandas as pd

    from segbench.report.curves import curves_section

    def note(rows: list[dict[str, object]]) -> str:
        return curves_section(pd.DataFrame(rows), {}).notes[0]

    failed = {"status": "failed", "best_epoch": None, "train_info": "{}", "model": "a"}
    given = {"status": "trained", "best_epoch": None, "train_info": "{}", "model": "a"}
    old = {"status": "trained", "best_epoch": 3, "train_info": "{}", "model": "a"}
    assert "no job of this suite finished training (1 failed" in note([failed])
    assert "evaluated from given weights" in note([given])
    assert "trained before histories were recorded" in note([old])


def test_a_shift_that_fails_at_run_time_names_the_shift_and_a_file(tmp_path: Path) -> None:
    from segbench.suite.schema import Suite
    from segbench.worker.job import condition_test_set, load_dataset

    a = write_datalist_site(tmp_path, "a", n=6, size=16)
    b = write_datalist_site(tmp_path, "b", n=3, size=16, seed=2)
    suite = Suite.model_validate(  # unvalidated by the registry checks, as a suite edited after validate
        {
            "name": "s",
            "models": ["unet"],
            "datasets": [{"name": "datalist", "params": {"path": str(a)}}],
            "dataset_shifts": [
                {
                    "label": "site_B",
                    "dataset": {"name": "datalist", "params": {"path": str(b), "channels": "rgb"}},
                }
            ],
        }
    )
    (job,) = expand(suite)
    data = load_dataset(job.dataset, None, job.data_seed)
    with pytest.raises(ValueError, match=r"dataset shift 'site_B': .* 3-channel images \(b_000\.png\)"):
        condition_test_set(job, job.conditions[1], data, "x")
