"""CLI smoke tests: each command parses, delegates and sets its exit code."""

from __future__ import annotations

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
