"""Multi-step commands are all-or-nothing, and ``import`` counts what it stores (issue 23 items 4, 11, 12).

Before: ``import`` committed its rows and then archived them, so a failed archive exited 0 with the
warning never printed and ``store rebuild`` later dropped the model; a killed ``merge`` left a partial
store whose rerun said "already exists"; a killed ``store rebuild`` left a partial database that the
next ``run`` trusted.  Boolean ``.npy`` masks were refused, ``seeds: []`` reported cases it never
stored, and a case listed twice in a manifest counted twice.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from faults import cli, seed_store, tiny_suite_text

import segbench.store.db as db_module
from segbench import api
from segbench.store import Store, StoreError, rebuild_database
from segbench.tools.roundtrip.manifest import Manifest, ManifestError

SUITE = tiny_suite_text("ex")


def _exported(tmp_path: Path) -> tuple[Path, Path]:
    """An export of a tiny suite (no training) and bool ``.npy`` predictions for it, as numpy writes them."""
    suite = tmp_path / "ex.yaml"
    suite.write_text(SUITE)
    summary = api.export_suite(suite, tmp_path / "export", "nnunet")
    manifest = Manifest.read(summary.manifest)
    preds = tmp_path / "preds"
    for test_set in manifest.test_sets:
        (preds / test_set.folder).mkdir(parents=True)
        for case in test_set.cases:
            probabilities = np.random.default_rng(0).random(case.shape)
            np.save(preds / test_set.folder / f"{case.case_id}.npy", probabilities > 0.5)
    return preds, summary.manifest


def _imported_rows(results: Path) -> int:
    if not (results / "segbench.sqlite").exists():
        return 0
    with sqlite3.connect(results / "segbench.sqlite") as conn:
        return conn.execute("SELECT COUNT(*) FROM jobs WHERE model = 'imported'").fetchone()[0]


def test_import_archives_before_it_commits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    preds, manifest = _exported(tmp_path)
    results = tmp_path / "results"

    def full_disk(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(db_module, "atomic_write_bytes", full_disk)
    with pytest.raises(StoreError, match=r"nothing was stored.*free space"):
        api.import_predictions(preds, manifest, "ext", results)
    assert _imported_rows(results) == 0  # no row that a rebuild would drop
    monkeypatch.undo()
    summary = api.import_predictions(preds, manifest, "ext", results)  # boolean masks are accepted
    assert summary.n_cases == 2 and _imported_rows(results) == 1
    rebuild_database(Store(results))  # and the archive restores it
    assert _imported_rows(results) == 1


def test_import_refuses_empty_seeds_and_duplicated_cases(tmp_path: Path) -> None:
    preds, manifest = _exported(tmp_path)
    data = json.loads(manifest.read_text())
    data["seeds"] = []
    manifest.write_text(json.dumps(data))
    out = cli("import", preds, "--manifest", manifest, "--label", "ext", "--results", tmp_path / "r")
    assert out.returncode == 2 and "seeds is empty" in out.stderr, out.stderr
    data["seeds"] = [1]
    cases = data["test_sets"][0]["cases"]
    cases.append(dict(cases[0]))
    manifest.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="listed twice"):
        Manifest.read(manifest)


class _Killed(KeyboardInterrupt):
    """Stands in for a kill in the middle of a command."""


def _kill_on_second_ingest(monkeypatch: pytest.MonkeyPatch) -> None:
    real, calls = Store.ingest, []

    def ingest(self: Store, path: Path, archive: bool = True):  # type: ignore[no-untyped-def]
        calls.append(path)
        if len(calls) == 2:
            raise _Killed
        return real(self, path, archive)

    monkeypatch.setattr(Store, "ingest", ingest)


def test_a_killed_rebuild_leaves_the_old_database_and_is_redone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results"
    seed_store(results)
    before = Store(results).cases("ci")
    _kill_on_second_ingest(monkeypatch)
    with pytest.raises(_Killed):
        rebuild_database(Store(results))
    monkeypatch.undo()
    assert len(Store(results).cases("ci")) == len(before)  # not a partial database
    assert (results / "segbench.sqlite.rebuilding").exists()
    out = cli("store", "rebuild", "--results", results)
    assert out.returncode == 0, out.stderr
    assert not (results / "segbench.sqlite.rebuilding").exists()
    assert len(Store(results).cases("ci")) == len(before)


def test_a_killed_merge_leaves_nothing_and_is_redone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from segbench.tools.merge import merge_stores

    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    seed_store(a, models={"unet": (0.8, 0.9)})
    seed_store(b, models={"noskip_unet": (0.6, 0.7)})
    _kill_on_second_ingest(monkeypatch)
    with pytest.raises(_Killed):
        merge_stores(a, b, out)
    monkeypatch.undo()
    assert not (out / "segbench.sqlite").exists()
    result = merge_stores(a, b, out)
    assert result.shards == 2 and len(Store(out).cases("ci")) == 4
    assert not list(tmp_path.glob(".c.merging*"))
