"""CLI smoke tests: each command parses, delegates and sets its exit code."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from segbench.cli import main


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_list_shows_registries_and_levels() -> None:
    code, out = invoke("list")
    assert code == 0
    for name in ["unet", "noskip_unet", "attention_unet", "unetr", "textures2d", "spheres3d", "msd"]:
        assert f"  {name} " in out
    code, out = invoke("list", "perturbations")
    assert code == 0 and "models" not in out
    assert out.count("severity 5:") >= 14
    # The study's presets, with what they select (issue 13 item 4).
    assert "presets" in out and "harder" in out and "speckle at severity 2 {'variance': 0.1}" in out
    assert "easiest" in out and "blur_background at severity 4 {'sigma': 7.0}" in out
    # Arguments the runner fills in are not offered (validate would say "remove it").
    code, out = invoke("list", "models")
    assert code == 0 and "channels=(16, 32, 64, 128, 256)" in out
    assert "in_channels" not in out and "spatial_dims" not in out and "img_size" not in out


def test_each_perturbation_is_registered_once_with_its_renderer() -> None:
    from segbench.registry import PERTURBATIONS

    for entry in PERTURBATIONS.entries():
        assert callable(entry.hooks["render"]), entry.name
        assert entry.meta["stochastic"] == ("sample" in entry.hooks), entry.name
        assert entry.factory.__doc__ == entry.hooks["render"].__doc__


def test_validate_ok_and_dry_run(tiny_suite: Path, tmp_path: Path) -> None:
    code, out = invoke("validate", str(tiny_suite))
    assert code == 0 and "ok (2 train jobs, 4 evaluations)" in out
    code, out = invoke("run", str(tiny_suite), "--results", str(tmp_path / "r"), "--dry-run")
    assert code == 0
    assert "2 train jobs" in out and "0 already done" in out and "to train" in out
    assert "gaussian_noise@2" in out


def test_report_on_empty_store_says_what_to_run(tmp_path: Path) -> None:
    code, out = invoke("report", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "rep"))
    assert code == 2 and "segbench run" in out and "Traceback" not in out


def test_check_without_baseline_names_the_file(tmp_path: Path) -> None:
    code, out = invoke("check", "--baseline", str(tmp_path / "missing.json"), "--results", str(tmp_path))
    assert code == 2 and "missing.json" in out and "--update" in out


@pytest.mark.slow
def test_preview_writes_gallery(tiny_suite: Path, tmp_path: Path) -> None:
    code, out = invoke(
        "preview",
        str(tiny_suite),
        "--out",
        str(tmp_path),
        "--perturbation",
        "speckle",
        "--perturbation",
        "blur_background",
    )
    assert code == 0, out
    assert (tmp_path / "tiny" / "gallery.png").stat().st_size > 0
    page = (tmp_path / "tiny" / "gallery.html").read_text()
    assert "speckle" in page and "blur_background" in page and "severity 5" in page
    code, out = invoke("preview", str(tiny_suite), "--out", str(tmp_path), "--perturbation", "nope")
    assert code == 2 and "unknown perturbation" in out


# -- security: a suite names code; only `run` with work to do may execute it (issue 14 items 1, 13) --

EVIL_MODULE = (
    "import pathlib\npathlib.Path({marker!r}).write_text('imported')\ndef build(spatial_dims=2):\n    pass\n"
)


@pytest.mark.parametrize(
    ("key", "entry"),
    [
        ("models", "{{name: 'os:system', params: {{command: 'touch {marker}'}}}}"),
        ("models", "{{name: 'subprocess:run', params: {{args: ['touch', '{marker}']}}}}"),
        ("datasets", "{{name: 'os:system', params: {{command: 'touch {marker}'}}}}"),
    ],
)
def test_validate_and_dry_run_refuse_standard_library_callables(
    write_suite, tmp_path: Path, key: str, entry: str
) -> None:
    marker = tmp_path / "pwned"
    models = entry.format(marker=marker) if key == "models" else "unet"
    datasets = entry.format(marker=marker) if key == "datasets" else "textures2d"
    suite = write_suite(f"name: evil\nmodels: [{models}]\ndatasets: [{datasets}]\n", "evil")
    code, out = invoke("validate", str(suite))
    assert code == 2 and "standard library" in out and "Traceback" not in out, out
    code, out = invoke("run", str(suite), "--results", str(tmp_path / "r"), "--dry-run")
    assert code == 2 and "standard library" in out, out
    assert not marker.exists()


def test_validate_and_dry_run_never_import_user_modules(write_suite, tmp_path: Path, monkeypatch) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "side_effects.py").write_text(EVIL_MODULE.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    suite = write_suite(
        "name: user\nmodels: ['side_effects:build']\ndatasets: [{name: textures2d, params: {size: 32}}]\n"
    )
    code, out = invoke("validate", str(suite))
    assert code == 0 and "ok (1 train jobs" in out, out
    code, out = invoke("run", str(suite), "--results", str(tmp_path / "r"), "--dry-run")
    assert code == 0 and "to train" in out, out
    assert not marker.exists(), "validate/--dry-run executed the user's module"


@pytest.mark.slow
def test_preview_stays_inside_out_and_runs_no_user_dataset(write_suite, tmp_path: Path, monkeypatch) -> None:
    out_dir = tmp_path / "out" / "deeper"
    suite = write_suite(
        "name: '..'\nmodels: [unet]\ndatasets: [{name: textures2d, params: {size: 32, n_images: 10}}]\n"
    )
    code, out = invoke("preview", str(suite), "--out", str(out_dir), "--perturbation", "speckle")
    # A name of dots is refused up front (it would name a folder outside --out); nothing is written.
    assert code == 2 and "outside" in out, out
    assert not list(tmp_path.rglob("gallery.*"))
    suite = write_suite(
        "name: a..b\nmodels: [unet]\ndatasets: [{name: textures2d, params: {size: 32, n_images: 10}}]\n", "d"
    )
    code, out = invoke("preview", str(suite), "--out", str(out_dir), "--perturbation", "speckle")
    assert code == 0, out
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("gallery.*"))
    assert written and all(p.parts[:2] == ("out", "deeper") for p in written), written
    marker = tmp_path / "imported"
    (tmp_path / "user_data.py").write_text(EVIL_MODULE.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    suite = write_suite("name: u\nmodels: [unet]\ndatasets: ['user_data:build']\n", "u")
    code, out = invoke("preview", str(suite), "--out", str(out_dir))
    assert code == 2 and "does not run user code" in out and not marker.exists(), out


@pytest.mark.slow
def test_run_on_a_finished_suite_imports_no_torch(write_suite, tmp_path: Path) -> None:
    import os
    import subprocess

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    from cli_latency import build_finished_store

    suite = write_suite(
        "name: done\nseeds: [1, 2]\nmodels: [unet, noskip_unet]\n"
        "datasets: [{name: textures2d, params: {size: 32}}]\nperturbations: [none, harder]\n"
    )
    results = tmp_path / "results"
    assert build_finished_store(suite, results) == 4
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('HEAVY', sorted(m for m in ('torch', 'monai') if m in sys.modules)))\n"
        "from segbench.cli import main\nmain()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "run", str(suite), "--results", str(results)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "benchmark")},
    )
    assert done.returncode == 0, done.stderr
    assert "0 jobs run, 4 already done" in done.stdout
    assert "HEAVY []" in done.stdout, done.stdout


@pytest.mark.slow
def test_system_exit_when_run_imports_a_user_model_is_a_failed_job(write_suite, tmp_path: Path, monkeypatch):
    (tmp_path / "exits_at_import.py").write_text(
        "import argparse\nargparse.ArgumentParser().parse_args()\ndef build(spatial_dims=2):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["segbench", "--unknown-flag"])  # what argparse would parse
    suite = write_suite(
        "name: exits\ntrain: {epochs: 1, batch_size: 2}\nmodels: ['exits_at_import:build']\n"
        "datasets: [{name: textures2d, params: {size: 32, n_images: 10}}]\n"
    )
    code, out = invoke("run", str(suite), "--results", str(tmp_path / "r"), "--quiet")
    assert code == 1, out
    assert "1 FAILED" in out and "SystemExit(2)" in out, out


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--timeout-min", "-1"),  # every job "timed out" at once before
        ("--timeout-min", "nan"),  # silently meant no timeout before
        ("--timeout-min", "inf"),
        ("--mem-gb", "0"),
        ("--workers", "0"),
        ("--jobs-per-gpu", "0"),
        ("--array-parallelism", "-2"),
    ],
)
def test_run_refuses_nonsense_limits_before_touching_the_results(
    tiny_suite: Path, tmp_path: Path, option: str, value: str
) -> None:
    results = tmp_path / "results"
    out = CliRunner().invoke(main, ["run", str(tiny_suite), "--results", str(results), option, value])
    assert out.exit_code == 2 and f"Invalid value for '{option}'" in out.output, out.output
    assert not results.exists()
    from segbench import api

    if option == "--timeout-min":
        with pytest.raises(ValueError, match="timeout_min must be a finite number of minutes > 0"):
            api.run_suite(tiny_suite, results, device="cpu", quiet=True, timeout_min=float(value))
        assert not results.exists()


def test_advise_params_are_parsed_bounded_and_errors_are_one_line(tmp_path: Path) -> None:
    """--params went through yaml.safe_load: a typo printed a traceback, an alias bomb had no bound."""
    bomb = (
        "{a0: &a0 [x, x, x, x, x, x, x, x, x, x], "
        + ", ".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9))
        + "}"
    )
    for params, needle in (("{size: 64", "--params"), (bomb, "more than 5,000 values")):
        out = CliRunner().invoke(
            main, ["advise", "textures2d", "--params", params, "--results", str(tmp_path)]
        )
        assert out.exit_code == 2, out.output
        assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
        assert needle in out.output and "Traceback" not in out.output, out.output


def test_output_folders_that_look_like_files_are_refused(tiny_suite: Path, tmp_path: Path) -> None:
    for command in (["preview", str(tiny_suite)], ["report", "--results", str(tmp_path / "r")]):
        code, out = invoke(*command, "--out", str(tmp_path / "x.png"))
        assert code == 2 and "looks like a file name (.png)" in out, out
        assert not (tmp_path / "x.png").exists()  # no folder named x.png was created
    (tmp_path / "kept.png").mkdir()  # an existing folder is accepted, whatever its name
    code, out = invoke("report", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "kept.png"))
    assert "looks like a file" not in out


def test_validate_counts_ensemble_evaluations_apart() -> None:
    code, out = invoke("validate", str(Path(__file__).resolve().parents[1] / "suites" / "quick.yaml"))
    assert code == 0
    assert "24 train jobs (168 evaluations) + 9 ensembles (63 evaluations) = 231 evaluations" in out
