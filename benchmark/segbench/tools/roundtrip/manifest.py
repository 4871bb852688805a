"""The export manifest: what ``segbench export`` wrote and what ``segbench import`` scores against.

Why a file, not a re-run of the suite at import time: the external tool runs elsewhere, maybe
months later; the manifest pins everything the import needs (case ids, shapes, spacings, where the
ground truth lies, the condition each folder stands for and the suite's data identity) so scoring
needs neither the data sources nor the perturbation code.  Paths inside are relative to the
manifest's folder, so the export folder can be moved or copied to another machine.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MANIFEST_NAME", "MANIFEST_VERSION", "ExportedCase", "ExportedSet", "Manifest", "ManifestError"]

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


class ManifestError(ValueError):
    """A manifest that is missing, unreadable or of another version (one line, says what to do)."""


@dataclass(frozen=True)
class ExportedCase:
    """One exported test image.

    Attributes:
        case_id: the suite's case id (pairs the imported row with the suite's models).
        image: path of the written image, relative to the manifest folder.
        label: path of the ground-truth mask, relative to the manifest folder.
        shape: array shape ``(H, W)`` or ``(D, H, W)`` of image, label and expected prediction.
        spacing: voxel size in mm per axis (HD95/NSD use it; NIfTI files carry it in the affine).
        meta: the case's scalars (``complexity_kl``, ``fbr``...), stored with the imported metrics.
        params: the perturbation's sampled parameters (``replay`` rebuilds the image from them).
        source_sha256: hash of the clean image and label arrays the perturbation was applied to.
        file_sha256: hash of the written image file.
        intensity: ``[min, max]`` of the float image when the file holds it rescaled (PNG), else None.
    """

    case_id: str
    image: str
    label: str
    shape: list[int]
    spacing: list[float]
    meta: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    source_sha256: str = ""
    file_sha256: str = ""
    intensity: list[float] | None = None


@dataclass(frozen=True)
class ExportedSet:
    """One dataset x complexity level x eval condition: one folder of images.

    ``dataset``, ``complexity``, ``perturbation``, ``severity``, ``preset`` and ``test_params`` have
    the meaning of the suite's own rows, so the imported rows fall into the same report groups.
    """

    folder: str
    dataset: dict[str, Any]
    dataset_identity: str
    complexity: float | None
    perturbation: str
    severity: int
    preset: str | None
    test_params: str
    cases: list[ExportedCase]


@dataclass(frozen=True)
class Manifest:
    """Everything one export wrote; ``root`` is the folder holding ``manifest.json``."""

    suite: str
    suite_yaml: str
    seeds: list[int]
    data_seed: int
    format: str
    ending: str
    test_sets: list[ExportedSet]
    version: int = MANIFEST_VERSION
    root: Path = Path(".")

    def write(self) -> Path:
        """Write ``root/manifest.json`` (sorted keys, paths relative to ``root``)."""
        data = asdict(self)
        data.pop("root")
        path = self.root / MANIFEST_NAME
        path.write_text(json.dumps(data, indent=1, sort_keys=True, default=_jsonable) + "\n")
        return path

    @classmethod
    def read(cls, path: str | Path) -> Manifest:
        """Load a manifest; ``ManifestError`` (one line) when missing, malformed or of another version."""
        path = Path(path)
        if path.is_dir():
            path = path / MANIFEST_NAME
        if path.exists() and not path.is_file():  # a FIFO would block the read forever
            raise ManifestError(
                f"manifest {path} is not a regular file (a folder, FIFO or device); give manifest.json"
            )
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ManifestError(
                f"manifest {path} not found; give the manifest.json `segbench export` wrote"
            ) from None
        except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON or not UTF-8
            raise ManifestError(f"manifest {path} is not readable JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
            got = data.get("version") if isinstance(data, dict) else type(data).__name__
            raise ManifestError(
                f"manifest {path}: version {got!r} is not {MANIFEST_VERSION}; re-export with this segbench"
            )
        try:
            test_sets = [
                ExportedSet(**{**t, "cases": [ExportedCase(**c) for c in t["cases"]]})
                for t in data.pop("test_sets")
            ]
            manifest = cls(**data, test_sets=test_sets, root=path.parent)
        except (KeyError, TypeError) as exc:
            raise ManifestError(f"manifest {path} is malformed ({exc}); re-export it") from None
        _check_paths(manifest, path)
        return manifest


def _check_paths(manifest: Manifest, path: Path) -> None:
    """Every name a manifest gives stays inside its folder (predictions, export): no ``..``, no ``/x``.

    Why: a manifest is a file from elsewhere; ``folder: ../../etc`` or ``label: /home/x`` would make
    ``import`` read (and score, and store) files outside the folders the user named.
    """
    folders: set[str] = set()
    for test_set in manifest.test_sets:
        _plain(test_set.folder, "folder", path)
        if test_set.folder in folders:
            raise ManifestError(f"manifest {path}: folder {test_set.folder!r} is listed twice; re-export it")
        folders.add(test_set.folder)
        ids = [case.case_id for case in test_set.cases]
        if len(set(ids)) != len(ids):
            twice = next(i for i in ids if ids.count(i) > 1)
            raise ManifestError(
                f"manifest {path}: case {twice!r} is listed twice in folder {test_set.folder!r}; re-export it"
            )
        for case in test_set.cases:
            _plain(case.case_id, f"case_id in {test_set.folder}", path)
            for name, value in (("label", case.label), ("image", case.image)):
                parts = Path(value).parts
                if not parts or Path(value).is_absolute() or ".." in parts or "\\" in value:
                    raise ManifestError(
                        f"manifest {path}: {name} {value!r} of case {case.case_id!r} leaves the export "
                        "folder; re-export it"
                    )


def _plain(value: str, what: str, path: Path) -> None:
    if not isinstance(value, str) or value in ("", ".", "..") or any(c in value for c in "/\\\0"):
        raise ManifestError(f"manifest {path}: {what} {value!r} is not a plain name; re-export it")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars in sampled params / meta
        return value.item()
    if isinstance(value, tuple | set):
        return list(value)
    return str(value)
