"""Sub-cases of issue 23 that the first pass of tests left unguarded (an audit of the sweep's list).

Each test names its item.  Fixed here: a truncated PNG image validated (item 10); a folder, FIFO or
device where a dataset file should be said "does not exist" (item 13); an all-NaN baseline JSON in
``compare`` failed under the name ``<baseline>`` with its closing quote cut (item 9); ``import`` whose
ground truth is not an image printed a bare ``ImageFileError`` (item 7).  The rest guard fixes that
were made without a test that fails when they are reverted.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from faults import cli, garble, seed_store, tiny_suite_text
from PIL import Image

from segbench import api
from segbench.datasets.errors import DataError
from segbench.tools.roundtrip.manifest import Manifest

SUITE = tiny_suite_text("ex")


def _exported(tmp_path: Path) -> tuple[Path, Manifest]:
    """An export of a tiny suite (no training) and all-background ``.npy`` predictions for it."""
    suite = tmp_path / "ex.yaml"
    suite.write_text(SUITE)
    manifest = Manifest.read(api.export_suite(suite, tmp_path / "export", "nnunet").manifest)
    preds = tmp_path / "preds"
    for test_set in manifest.test_sets:
        (preds / test_set.folder).mkdir(parents=True)
        for case in test_set.cases:
            np.save(preds / test_set.folder / f"{case.case_id}.npy", np.zeros(case.shape, bool))
    return preds, manifest


def _one_line(out) -> None:  # type: ignore[no-untyped-def]
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


# --------------------------------------------------------------------------- item 5: planted links


def test_import_refuses_a_prediction_that_is_a_symbolic_link(tmp_path: Path) -> None:
    preds, manifest = _exported(tmp_path)
    outside = tmp_path / "outside.npy"
    case = manifest.test_sets[0].cases[0]
    np.save(outside, np.ones(case.shape, bool))
    planted = preds / manifest.test_sets[0].folder / f"{case.case_id}.npy"
    planted.unlink()
    planted.symlink_to(outside)
    out = cli("import", preds, "--manifest", manifest.root, "--label", "ext", "--results", tmp_path / "r")
    _one_line(out)
    assert f"{planted} is a symbolic link" in out.stderr and "nothing was stored" in out.stderr
    assert not (tmp_path / "r" / "segbench.sqlite").exists()


def test_run_refuses_a_planted_pool_log(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    results = tmp_path / "results"
    (results / "logs").mkdir(parents=True)
    (results / "logs" / "pool-0.log").symlink_to(victim)
    suite = tmp_path / "ex.yaml"
    suite.write_text(SUITE)
    out = cli("run", suite, "--results", results, "--executor", "pool", "--workers", "1", "--quiet")
    _one_line(out)
    assert str(results / "logs" / "pool-0.log") in out.stderr and victim.read_text() == "precious\n"


# --------------------------------------------------------------------------- item 6: the pool's reason


def test_a_dead_workers_reason_names_the_signal_not_out_of_memory() -> None:
    from segbench.execute.death import describe_exit

    segfault = describe_exit(-signal.SIGSEGV)
    assert "SIGSEGV (signal 11" in segfault and "memory" not in segfault
    assert "SIGABRT" in describe_exit(-signal.SIGABRT)
    assert "out-of-memory killer or a 'kill -9'" in describe_exit(-signal.SIGKILL)  # only SIGKILL says so
    assert "exited with code 0 without writing its result" in describe_exit(0)


# --------------------------------------------------------------------------- item 7: no traceback


def test_advise_on_a_corrupt_store_is_one_line(tmp_path: Path) -> None:
    results = tmp_path / "results"
    seed_store(results)
    garble(results / "segbench.sqlite")
    out = cli("advise", "textures2d", "--params", "{size: 16, n_images: 10}", "--results", results)
    _one_line(out)
    assert f"{results / 'segbench.sqlite'} is corrupt" in out.stderr and "store rebuild" in out.stderr


@pytest.mark.parametrize("content", [b"this is not a NIfTI file", b"\x1f\x8b\x08\x00 truncated gzip"])
def test_import_whose_ground_truth_is_not_an_image_is_one_line(tmp_path: Path, content: bytes) -> None:
    preds, manifest = _exported(tmp_path)
    label = manifest.root / manifest.test_sets[0].cases[0].label
    label.write_bytes(content)
    out = cli("import", preds, "--manifest", manifest.root, "--label", "ext", "--results", tmp_path / "r")
    _one_line(out)
    assert f"ground truth {label} cannot be read as an image" in out.stderr, out.stderr
    assert "re-export" in out.stderr and "Error:" not in out.stderr  # not a bare exception type
    assert not (tmp_path / "r" / "segbench.sqlite").exists()


# --------------------------------------------------------------------------- item 8: Ctrl-C in check


def test_ctrl_c_in_check_exits_130_not_the_regression_code(tmp_path: Path, monkeypatch) -> None:
    import segbench.tools.gate as gate
    from segbench.cli import main

    def interrupted(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(gate, "run_gate", interrupted)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        out = CliRunner().invoke(main, ["check", "--baseline", str(tmp_path / "b.json")])
    finally:
        signal.signal(signal.SIGTERM, previous)  # the command group installs its own handler
    assert out.exit_code == 130 and "interrupted" in out.output, out.output
    assert "Aborted!" not in out.output


# --------------------------------------------------------------------------- item 9: compare's NaN side


def test_compare_with_an_all_nan_baseline_names_the_file(tmp_path: Path) -> None:
    results, baseline = tmp_path / "results", tmp_path / "base.json"
    seed_store(results)
    assert cli("check", "--baseline", baseline, "--results", results, "--update").returncode == 0
    data = json.loads(baseline.read_text())
    for entry in data["entries"]:
        entry["values"] = {k: float("nan") for k in entry["values"]}
        entry["mean"] = float("nan")
    baseline.write_text(json.dumps(data))
    out = cli("compare", baseline, results)
    _one_line(out)
    assert out.stderr.startswith(f"{baseline}: entries[0]") and "finite number" in out.stderr, out.stderr
    assert "only in" not in out.stdout and "<baseline>" not in out.stderr
    assert out.stderr.rstrip().endswith("'segbench check --update'")  # its closing quote is kept


def test_an_unexpected_errors_message_keeps_its_quotes_and_a_keyerror_shows_its_key() -> None:
    from segbench.cli import _unexpected
    from segbench.stats.regression import BaselineError

    message = "b.json: entries: empty; regenerate it with 'segbench check --update'"
    assert _unexpected(BaselineError(message)) == message
    assert _unexpected(KeyError("complexity")).startswith("error: KeyError: complexity (")


# --------------------------------------------------------------------------- item 10: truncated PNG


def _folder_dataset(tmp_path: Path, n: int = 4) -> tuple[Path, Path]:
    images, masks = tmp_path / "ds" / "images", tmp_path / "ds" / "masks"
    images.mkdir(parents=True)
    masks.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray((rng.random((32, 32)) * 255).astype(np.uint8)).save(images / f"{i}.png")
        Image.fromarray((rng.random((32, 32)) > 0.5).astype(np.uint8) * 255).save(masks / f"{i}.png")
    return images, masks


def test_a_truncated_png_image_does_not_validate(tmp_path: Path) -> None:
    images, masks = _folder_dataset(tmp_path)
    raw = (images / "0.png").read_bytes()
    (images / "0.png").write_bytes(raw[: len(raw) // 2])  # a copy that stopped half-way
    suite = tmp_path / "s.yaml"
    dataset = f"{{name: folder, params: {{images: {images}, labels: {masks}}}}}"
    suite.write_text(f"name: s\nmodels: [unet]\ndatasets: [{dataset}]\n")
    out = cli("validate", suite)
    _one_line(out)
    assert f"{images / '0.png'}: cannot be read as an image" in out.stderr, out.stderr


# --------------------------------------------------------------------------- item 13: misleading words


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("folder", "is a folder, not a regular file"),
        ("fifo", "is a FIFO (named pipe), not a regular file"),
        ("device", "is a device (through a symbolic link to /dev/null), not a regular file"),
    ],
)
def test_a_folder_fifo_or_device_where_a_mask_should_be_is_named(
    tmp_path: Path, kind: str, said: str
) -> None:
    from segbench.datasets.folder import discover

    images, masks = _folder_dataset(tmp_path)
    odd = masks / "1.png"
    odd.unlink()
    if kind == "folder":
        odd.mkdir()
    elif kind == "fifo":
        os.mkfifo(odd)
    else:
        odd.symlink_to("/dev/null")
    with pytest.raises(DataError) as info:
        discover(str(images), str(masks))
    assert f"mask {odd} {said}" in str(info.value) and "does not exist" not in str(info.value)


def test_a_datalist_path_that_names_a_folder_says_so(tmp_path: Path) -> None:
    from segbench.datasets.datalist import discover

    (tmp_path / "datalist.json").mkdir()
    with pytest.raises(DataError, match=r"datalist .*datalist\.json is a folder, not a file"):
        discover(str(tmp_path / "datalist.json"))
    with pytest.raises(DataError, match="does not exist"):  # a missing one still says so
        discover(str(tmp_path / "nope.json"))


def test_a_full_disk_that_sqlite_already_rolled_back_is_named_not_cannot_rollback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite rolls the transaction back itself on SQLITE_FULL; a second ROLLBACK then failed with
    "cannot rollback - no transaction is active", which replaced the real error."""
    from faults import ShardFactory

    from segbench.store import Store, StoreError

    results = tmp_path / "results"
    seed_store(results)
    real_connect = sqlite3.connect

    class FullDisk(sqlite3.Connection):
        def executemany(self, sql, rows):  # type: ignore[no-untyped-def]
            if "INTO cases" in sql:
                self.execute("ROLLBACK")  # what SQLite does before reporting SQLITE_FULL
                raise sqlite3.OperationalError("database or disk is full")
            return super().executemany(sql, rows)

    monkeypatch.setattr(
        "segbench.store.db.sqlite3.connect", lambda *a, **k: real_connect(*a, factory=FullDisk, **k)
    )
    shard = ShardFactory().write(results, job_key="big")
    with pytest.raises(StoreError, match=r"the disk is full") as info:
        Store(results).ingest(shard)
    assert "cannot rollback" not in str(info.value) and shard.exists()


def test_a_large_suite_without_aliases_is_not_called_an_alias_bomb() -> None:
    from segbench.suite.errors import SuiteError
    from segbench.suite.yaml_safe import yaml_data

    with pytest.raises(SuiteError) as info:
        yaml_data("seeds: [" + ", ".join(["1"] * 6000) + "]\n", "big.yaml")
    text = str(info.value)
    assert "more than 5,000 values" in text
    assert "alias bomb" not in text and "with aliases expanded" not in text
