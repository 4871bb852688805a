"""Decoded, preprocessed cases cached on disk, keyed by the dataset fingerprint and params.

Why: decoding 100 PNGs or 20 NIfTI volumes and resizing them costs seconds to minutes;
every job of a suite (models x seeds) needs the same arrays.  One uncompressed ``.npz``
per (fingerprint, preprocessing) under ``results/cache/`` loads in milliseconds.  A cache
file that cannot be read, fails its zip CRC or holds another key is deleted and rebuilt:
it is never trusted.  Writes are atomic (temp file + rename), so a killed run leaves no
half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from segbench.cases import Case, NativeGrid

__all__ = ["CACHE_VERSION", "cache_dir", "cached_cases", "set_cache_dir"]

CACHE_VERSION = 2  # 2: real 2D cases carry complexity_kl in their meta
_state: dict[str, Path | None] = {"dir": None}


def set_cache_dir(path: Path | str | None) -> None:
    """Where ``cached_cases`` keeps its files (the runner sets ``<results>/cache``); None = off."""
    _state["dir"] = Path(path) if path is not None else None


def cache_dir() -> Path | None:
    """The current cache folder (``SEGBENCH_CACHE`` when the runner set none)."""
    env = os.environ.get("SEGBENCH_CACHE")
    return _state["dir"] or (Path(env) if env else None)


def cached_cases(name: str, key: str, build: Callable[[], list[Case]]) -> tuple[list[Case], str]:
    """Cases from the cache file for ``key``, or ``build()`` them and store them.

    Args:
        name: dataset kind, used in the file name (``datalist-<key>.npz``).
        key: content key (fingerprint + preprocessing + ``CACHE_VERSION``).
        build: makes the cases when the cache misses.

    Returns:
        ``(cases, status)`` with status ``"hit"``, ``"miss"``, ``"rebuilt"`` (a corrupt file
        was replaced) or ``"off"`` (no cache folder set).
    """
    folder = cache_dir()
    if folder is None:
        return build(), "off"
    path = folder / f"{name}-{key}.npz"
    status = "miss"
    if path.exists():
        try:
            return _read(path, key), "hit"
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            status = "rebuilt"
            path.unlink(missing_ok=True)
    cases = build()
    _write(path, key, cases)
    return cases, status


def _read(path: Path, key: str) -> list[Case]:
    with np.load(path, allow_pickle=False) as data:
        index = json.loads(bytes(data["index"]).decode())
        if index.get("key") != key or index.get("version") != CACHE_VERSION:
            raise ValueError(f"{path} holds key {index.get('key')!r}, not {key!r}")
        cases = []
        for i, entry in enumerate(index["cases"]):
            # Reading every member checks each one's zip CRC: a flipped byte raises here.
            image = np.array(data[f"image_{i}"])
            label = np.array(data[f"label_{i}"])
            native = None
            if "native_spacing" in entry:
                native = NativeGrid(np.array(data[f"native_{i}"]), tuple(entry["native_spacing"]))
            cases.append(Case(entry["case_id"], image, label, tuple(entry["spacing"]), entry["meta"], native))
    return cases


def _write(path: Path, key: str, cases: list[Case]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    index = {
        "key": key,
        "version": CACHE_VERSION,
        "cases": [_entry(c) for c in cases],
    }
    arrays: dict[str, np.ndarray] = {"index": np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)}
    for i, case in enumerate(cases):
        arrays[f"image_{i}"] = case.image
        arrays[f"label_{i}"] = case.label
        if case.native is not None:
            arrays[f"native_{i}"] = case.native.label
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _entry(case: Case) -> dict[str, object]:
    entry: dict[str, object] = {"case_id": case.case_id, "spacing": list(case.spacing), "meta": case.meta}
    if case.native is not None:
        entry["native_spacing"] = list(case.native.spacing)
    return entry
