"""No write or read follows a link planted in a results, reports or predictions folder (issue 23 item 5).

Before: a ``results/.lock`` link made ``run`` truncate its target; report files and merge's checkpoint
copies followed links; an import manifest's ``../../x`` read predictions outside the predictions folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from faults import cli, seed_store, tiny_suite_text

from segbench.tools.roundtrip.manifest import Manifest, ManifestError

SUITE = tiny_suite_text()


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text("precious\n")
    return path


@pytest.mark.parametrize("planted", [".lock", "logs"])
def test_run_refuses_a_link_in_the_results_folder(tmp_path: Path, victim: Path, planted: str) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / planted).symlink_to(victim if planted == ".lock" else victim.parent)
    suite = tmp_path / "ci.yaml"
    suite.write_text(SUITE)
    out = cli("run", suite, "--results", results, "--quiet")
    assert out.returncode == 2, out.stdout + out.stderr
    assert str(results / planted) in out.stderr and "symbolic link" in out.stderr
    assert victim.read_text() == "precious\n" and "Traceback" not in out.stderr


def test_report_refuses_a_link_in_the_reports_folder(tmp_path: Path, victim: Path) -> None:
    results, reports = tmp_path / "results", tmp_path / "reports"
    seed_store(results)
    (reports / "ci").mkdir(parents=True)
    (reports / "ci" / "index.html").symlink_to(victim)
    out = cli("report", "--results", results, "--out", reports)
    assert out.returncode == 2 and "symbolic link" in out.stderr, out.stderr
    assert str(reports / "ci" / "index.html") in out.stderr and victim.read_text() == "precious\n"


def test_merge_refuses_a_link_among_the_sources_checkpoints(tmp_path: Path, victim: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    seed_store(a)
    seed_store(b)
    (a / "checkpoints").mkdir()
    (a / "checkpoints" / "x.pt").symlink_to(victim)
    out = cli("merge", a, b, "--out", tmp_path / "c")
    assert out.returncode == 2 and str(a / "checkpoints" / "x.pt") in out.stderr, out.stderr
    assert not (tmp_path / "c" / "checkpoints" / "x.pt").exists()


def _manifest(tmp_path: Path, **case_fields: str) -> Path:
    case = {"case_id": "c0", "image": "f/c0.nii.gz", "label": "labels/c0.nii.gz", "shape": [4, 4]}
    case |= {"spacing": [1.0, 1.0]} | case_fields
    folder = case_fields.pop("folder", "f")
    test_set = {
        "folder": folder,
        "dataset": {},
        "dataset_identity": "x",
        "complexity": None,
        "perturbation": "none",
        "severity": 0,
        "preset": None,
        "test_params": "{}",
        "cases": [{k: v for k, v in case.items() if k != "folder"}],
    }
    data = {"suite": "s", "suite_yaml": "name: s\n", "seeds": [1], "data_seed": 0, "format": "nnunet"}
    data |= {"ending": ".nii.gz", "test_sets": [test_set], "version": 1}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "fields",
    [
        {"folder": "../../outside"},
        {"folder": "/etc"},
        {"case_id": "../c0"},
        {"label": "../../victim.txt"},
        {"label": "/etc/passwd"},
    ],
)
def test_a_manifest_cannot_name_files_outside_its_folders(tmp_path: Path, fields: dict[str, str]) -> None:
    assert Manifest.read(_manifest(tmp_path)).test_sets[0].folder == "f"  # the plain one reads
    with pytest.raises(ManifestError, match=r"not a plain name|leaves the export folder"):
        Manifest.read(_manifest(tmp_path, **fields))


def test_export_refuses_a_link_in_its_output_folder(tmp_path: Path, victim: Path) -> None:
    suite = tmp_path / "ci.yaml"
    suite.write_text(SUITE)
    out = tmp_path / "export"
    out.mkdir()
    (out / "manifest.json").symlink_to(victim)
    result = cli("export", suite, "--out", out)
    assert result.returncode == 2 and str(out / "manifest.json") in result.stderr, result.stderr
    assert victim.read_text() == "precious\n"
