"""Identity and cache of real data: fingerprint in the job key, arrays cached, corrupt files rebuilt."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from segbench.datasets import cache, datalist, preprocess, realdata
from segbench.datasets.examples import write_datalist_site
from segbench.plan import dataset_identity, job_key
from segbench.suite.schema import DatasetSpec, ModelSpec, TrainConfig


@pytest.fixture
def cache_dir(tmp_path: Path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "cache"
    cache.set_cache_dir(folder)
    yield folder
    cache.set_cache_dir(None)


def _build(path: Path):  # type: ignore[no-untyped-def]
    return datalist.build(np.random.default_rng(0), path=str(path), size=16)


def _no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded although the cache holds the cases")

    monkeypatch.setattr(realdata, "preprocess_pair", fail)


def test_second_load_is_a_cache_hit_with_identical_arrays(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_datalist_site(tmp_path, "a", n=5, size=20)
    first = _build(path)
    (file,) = cache_dir.glob("datalist-*.npz")
    _no_decoding(monkeypatch)
    second = _build(path)
    assert first.split_ids() == second.split_ids()
    for x, y in zip(first.train, second.train, strict=True):
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.label, y.label)
        assert x.spacing == y.spacing and x.meta == y.meta
    # Other preprocessing -> another cache file (and decoding again).
    monkeypatch.setattr(realdata, "preprocess_pair", preprocess.preprocess_pair)
    datalist.build(np.random.default_rng(0), path=str(path), size=8)
    assert len(list(cache_dir.glob("datalist-*.npz"))) == 2 and file.exists()


@pytest.mark.parametrize("damage", ["truncate", "flip_byte", "garbage"])
def test_corrupt_cache_is_rebuilt_not_trusted(tmp_path: Path, cache_dir: Path, damage: str) -> None:
    path = write_datalist_site(tmp_path, "a", n=5, size=20)
    first = _build(path)
    (file,) = cache_dir.glob("datalist-*.npz")
    data = bytearray(file.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip_byte":  # inside array bytes: only the zip CRC can tell
        data[len(data) // 3] ^= 0xFF
    else:
        data = bytearray(b"not a zip at all")
    file.write_bytes(bytes(data))
    key = file.stem.split("-", 1)[1]
    _, status = cache.cached_cases("datalist", key, lambda: [*first.train, *first.val, *first.test])
    assert status == "rebuilt"
    again = _build(path)  # reads the rebuilt file
    for x, y in zip(first.train, again.train, strict=True):
        np.testing.assert_array_equal(x.image, y.image)


def test_changed_file_changes_the_job_key_but_not_the_split_seed(tmp_path: Path) -> None:
    path = write_datalist_site(tmp_path, "a", n=5, size=20)
    spec = DatasetSpec(name="datalist", params={"path": str(path), "size": 16})
    model, train = ModelSpec(name="unet"), TrainConfig()
    key = job_key(model, spec, None, None, 1, 0, train)
    identity = dataset_identity(spec)
    assert job_key(model, spec, None, None, 1, 0, train) == key  # unchanged data: same job
    image = path.parent / "a" / "images" / "a_002.png"
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # re-saved file
    assert job_key(model, spec, None, None, 1, 0, train) != key  # retrain
    assert dataset_identity(spec) == identity  # same split and perturbation draws


def test_synthetic_job_keys_do_not_get_a_fingerprint() -> None:
    from segbench.plan import dataset_fingerprint

    assert dataset_fingerprint(DatasetSpec(name="textures2d")) is None
