"""``segbench import``: score an external tool's predicted masks and store them as a model row.

Why all-or-nothing: every expected prediction is located, read and checked (shape, geometry,
values) before anything is computed or stored, and the rows go into the store in one transaction;
a folder with a missing case or a wrong-size mask is one error line listing the files, and the
store is left as it was.

How imported rows pair with the suite's models: per (dataset, complexity level, seed of the suite)
the import writes an ordinary job (model name ``imported``, label ``--label``) whose conditions carry
the suite's own condition fields (perturbation, severity, preset, dataset-shift params) and whose
cases carry the suite's case ids.  The report's groups (dataset, complexity, perturbation, severity)
and the paired tests' keys (seed, case id) therefore put them beside the suite's rows.  The external
model is deterministic, so its rows are the same under every seed (zero seed variance): repeating
them per seed is what lets them pair with each training seed of the suite's models.

Masks: 0/1 label maps (``{0, 255}`` is read as 0/1, PNG's convention).  Probabilities (fractional
values) are an error rather than thresholded: segbench cannot know whether they are a sigmoid
output, one softmax channel or something else, and a silent 0.5 threshold would score another
model than the user's tool.  Other label values (a multi-class map) are an error too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segbench.core import CASE_META_FIELDS
from segbench.tools.roundtrip.files import PREDICTION_ENDINGS, read_array, read_spacing
from segbench.tools.roundtrip.manifest import ExportedCase, ExportedSet, Manifest, ManifestError

__all__ = [
    "IMPORTED_MODEL",
    "ImportSummary",
    "ManifestError",
    "PredictionError",
    "import_predictions",
    "read_mask",
]

IMPORTED_MODEL = "imported"
"""The ``model_name`` of imported rows (their ``model`` column is the ``--label``)."""

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+-]*$")
_SHOW = 5


class PredictionError(ValueError):
    """Predictions that cannot be stored as given (one line; nothing was stored)."""


@dataclass(frozen=True)
class ImportSummary:
    suite: str
    label: str
    n_test_sets: int
    n_cases: int
    n_jobs: int
    mean_dice: float


def import_predictions(
    predictions: str | Path, manifest: str | Path, label: str, results: str | Path
) -> ImportSummary:
    """Check, score and store the masks under ``predictions/<folder>/<case><ending>``.

    Args:
        predictions: folder with one sub-folder per exported test set (the export's folder names),
            each holding ``<case_id>`` + one of ``.nii.gz``, ``.nii``, ``.png``, ``.npy``.
        manifest: the ``manifest.json`` written by ``segbench export`` (or its folder).
        label: the model's name in reports; importing again with the same label replaces its rows.
        results: the results folder (SQLite store).

    Raises:
        ManifestError: unreadable manifest.
        PredictionError: a bad label, or missing/mismatched/non-binary predictions (nothing stored).
    """
    from segbench.store import Store

    man = Manifest.read(manifest)
    if not man.seeds:
        raise PredictionError(f"manifest {manifest}: seeds is empty, so no row would be stored; re-export it")
    predictions = Path(predictions)
    store = Store(results)
    _check_label(label, man, store)
    _check_same_data(man, store)
    if not predictions.is_dir():
        raise PredictionError(f"predictions folder {predictions} does not exist")
    masks = _read_all(predictions, man)
    shards = _shards(man, masks, label, predictions)
    store.ingest_imported(man.suite, man.suite_yaml, label, shards)
    first_seed = [s for s in shards if s["job"]["seed"] == man.seeds[0]]
    dice = [row["dice"] for s in first_seed for c in s["conditions"] for row in c["cases"]]
    finite = [d for d in dice if d is not None and not np.isnan(d)]
    return ImportSummary(
        man.suite,
        label,
        len(man.test_sets),
        sum(len(t.cases) for t in man.test_sets),
        len(shards),
        float(np.mean(finite)) if finite else float("nan"),
    )


def read_mask(path: Path, expected_shape: tuple[int, ...]) -> np.ndarray:
    """A predicted mask as bool, or ``ValueError`` saying why it is unusable.

    Checks the shape (a NIfTI's trailing singleton axis, as some tools write 2D images, is
    dropped) and the values: 0/1 (or 0/255); fractional values are probabilities (see the module
    docstring), other integers a multi-class map.
    """
    try:
        array = read_array(path)
    except Exception as exc:
        raise ValueError(f"unreadable ({type(exc).__name__}: {str(exc)[:80]})") from None
    if array.shape != expected_shape and array.ndim == len(expected_shape) + 1 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.shape != expected_shape:
        raise ValueError(f"shape {tuple(array.shape)}, expected {expected_shape}")
    if array.dtype == np.bool_:  # what `np.save(path, p > 0.5)` writes
        return array
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"dtype {array.dtype} is not a label map")
    values = np.unique(array)
    if np.isnan(values.astype(float)).any():
        raise ValueError("contains NaN")
    if np.any(values != np.round(values)):
        frac = values[values != np.round(values)][0]
        raise ValueError(
            f"holds probabilities (e.g. {float(frac):.3g}), not labels; write 0/1 label maps "
            "(segbench does not threshold them for you)"
        )
    if set(values.tolist()) <= {0, 1}:
        return array.astype(bool)
    if set(values.tolist()) <= {0, 255}:
        return array > 0
    raise ValueError(f"label values {values.tolist()[:6]}; expected a binary 0/1 mask")


def _check_label(label: str, man: Manifest, store: Any) -> None:
    if not _LABEL.match(label or ""):
        raise PredictionError(f"--label {label!r}: use letters, digits and _ . : + - (e.g. nnunet_2d)")
    suite_models = _suite_labels(man.suite_yaml)
    if label in suite_models:
        raise PredictionError(
            f"--label {label!r} is already a model of suite {man.suite!r} "
            f"({', '.join(sorted(suite_models))}); choose another label"
        )
    stored = store.model_names(man.suite) if store.path.exists() else {}
    if stored.get(label, IMPORTED_MODEL) != IMPORTED_MODEL:
        raise PredictionError(
            f"--label {label!r} names a trained model of suite {man.suite!r} in {store.path}; "
            "choose another label"
        )


def _check_same_data(man: Manifest, store: Any) -> None:
    """Refuse to store rows next to a suite whose test data changed since the export.

    Why: the rows would carry the same case ids and condition names but describe other images,
    and the paired statistics would silently pair unrelated cases.
    """
    from segbench.plan import dataset_identity
    from segbench.suite.schema import Suite
    from segbench.suite.yaml_safe import yaml_data

    text = store.suite_yaml(man.suite) if store.path.exists() else None
    if text is None:
        return
    try:
        current = Suite.model_validate(yaml_data(text, str(store.path)))
    except Exception:  # an unreadable stored definition is the loader's problem, not the import's
        return
    identities = {dataset_identity(d) for d in current.datasets}
    exported = {t.dataset_identity for t in man.test_sets}
    if current.data_seed != man.data_seed or not exported <= identities:
        raise PredictionError(
            f"suite {man.suite!r} in {store.path} has other test data than the export (datasets or "
            "data_seed changed since); re-export with `segbench export` and predict again"
        )


def _suite_labels(yaml_text: str) -> set[str]:
    from segbench.suite.errors import SuiteError
    from segbench.suite.yaml_safe import yaml_data

    try:
        data = yaml_data(yaml_text, "the manifest's suite_yaml") or {}
    except SuiteError:
        return set()
    if not isinstance(data, dict):
        return set()
    labels = set()
    for model in data.get("models") or []:
        if isinstance(model, str):
            labels.add(model)
        elif isinstance(model, dict):
            labels.add(str(model.get("label") or model.get("name")))
    return labels


def _find(folder: Path, case_id: str) -> list[Path]:
    return [
        folder / f"{case_id}{ending}"
        for ending in PREDICTION_ENDINGS
        if (folder / f"{case_id}{ending}").is_file()
    ]


def _read_all(predictions: Path, man: Manifest) -> dict[tuple[str, str], np.ndarray]:
    """Every expected mask, or one ``PredictionError`` listing all missing and unusable files."""
    masks: dict[tuple[str, str], np.ndarray] = {}
    missing: list[str] = []
    bad: list[str] = []
    total = n_missing = 0
    for test_set in man.test_sets:
        total += len(test_set.cases)
        if not (predictions / test_set.folder).is_dir():  # one entry for a whole folder
            missing.append(f"folder {test_set.folder}/")
            n_missing += len(test_set.cases)
            continue
        for case in test_set.cases:
            found = _find(predictions / test_set.folder, case.case_id)
            rel = f"{test_set.folder}/{case.case_id}"
            if not found:
                missing.append(f"{rel}{man.ending}")
                n_missing += 1
                continue
            if len(found) > 1:
                bad.append(f"{rel}: several files ({', '.join(p.name for p in found)})")
                continue
            link = next((p for p in (predictions / test_set.folder, found[0]) if p.is_symlink()), None)
            if link is not None:  # a planted link would read (and store) a file from anywhere
                bad.append(f"{link} is a symbolic link (to {os.readlink(link)}); copy the file in instead")
                continue
            try:
                masks[(test_set.folder, case.case_id)] = read_mask(found[0], tuple(case.shape))
                _check_spacing(found[0], case)
            except ValueError as exc:
                bad.append(f"{rel}{found[0].name[len(case.case_id) :]}: {exc}")
    if missing or bad:
        parts = []
        if missing:
            parts.append(f"{n_missing} of {total} predictions missing ({_some(missing)})")
        if bad:
            parts.append(f"{len(bad)} unusable ({_some(bad, '; ')})")
        raise PredictionError(f"{predictions}: {'; '.join(parts)}; nothing was stored")
    return masks


def _check_spacing(path: Path, case: ExportedCase) -> None:
    spacing = read_spacing(path)
    if spacing is None:
        return
    n = len(case.spacing)
    if not np.allclose(spacing[:n], case.spacing, rtol=1e-3):
        shown = tuple(round(s, 4) for s in spacing[:n])
        raise ValueError(f"voxel spacing {shown} mm, expected {tuple(case.spacing)} (geometry changed)")


def _some(items: list[str], sep: str = ", ") -> str:
    more = f"{sep}... +{len(items) - _SHOW} more" if len(items) > _SHOW else ""
    return sep.join(items[:_SHOW]) + more


def _rows(
    test_set: ExportedSet, masks: dict[tuple[str, str], np.ndarray], root: Path
) -> list[dict[str, Any]]:
    """Per-case rows exactly as the worker's ``score_cases`` builds them."""
    from segbench.cases import Case
    from segbench.worker.evaluate import case_metrics
    from segbench.worker.native import scoring_case, to_native

    rows = []
    for exported in test_set.cases:
        label_path = root / exported.label
        if not label_path.is_file():
            raise PredictionError(
                f"ground truth {label_path} is missing: the export folder is incomplete; re-export"
            )
        truth = _read_truth(label_path)
        meta = dict(exported.meta)
        native = _native_grid(meta, root)
        case = Case(
            exported.case_id, np.zeros(truth.shape, np.float32), truth, tuple(exported.spacing), meta, native
        )
        mask = masks[(test_set.folder, exported.case_id)]
        if native is not None:  # score_at: native, as the suite's models were scored
            meta["scored_at"] = "native"
            # A binary mask has no logit: its +-1 indicator is interpolated and thresholded instead.
            mask = to_native(mask.astype(np.float32) * 2 - 1, case)
        row = {"case_id": exported.case_id, **case_metrics(mask, scoring_case(case))}
        row.update({f.name: _float(meta.get(f.name)) for f in CASE_META_FIELDS})
        row["meta"] = json.dumps(meta, default=str)
        row["perturbation_params"] = json.dumps(exported.params, default=str)
        rows.append(row)
    return rows


def _native_grid(meta: dict[str, Any], root: Path) -> Any:
    """The exported original-grid label (``meta`` loses its file keys), or None."""
    from segbench.cases import NativeGrid

    rel, spacing = meta.pop("native_label", None), meta.pop("native_spacing", None)
    if not rel:
        return None
    path = root / str(rel)
    if not path.is_file():
        raise PredictionError(f"ground truth {path} is missing: the export folder is incomplete; re-export")
    return NativeGrid(_read_truth(path), tuple(float(s) for s in spacing or ()))


def _read_truth(path: Path) -> np.ndarray:
    """An exported ground-truth label as 0/1, or a one-line ``PredictionError`` naming the file.

    Why: a damaged export (a label overwritten by something that is not an image) printed the
    reader's bare exception type; the fix is always the same, re-export.
    """
    try:
        return (read_array(path) > 0).astype(np.uint8)
    except Exception as exc:  # nibabel, PIL and numpy raise several types for a broken file
        detail = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
        raise PredictionError(
            f"ground truth {path} cannot be read as an image ({detail}): the export folder is damaged; "
            "re-export with `segbench export`"
        ) from None


def _shards(
    man: Manifest, masks: dict[tuple[str, str], np.ndarray], label: str, source: Path
) -> list[dict[str, Any]]:
    """One ordinary shard per (dataset, complexity level, suite seed), as the worker writes them."""
    from segbench.core.version import __version__

    groups: dict[tuple[str, float | None], list[ExportedSet]] = {}
    for test_set in man.test_sets:
        groups.setdefault((test_set.dataset_identity, test_set.complexity), []).append(test_set)
    scored = {t.folder: _rows(t, masks, man.root) for t in man.test_sets}
    now = time.time()
    shards = []
    for (identity, level), sets in groups.items():
        dataset = sets[0].dataset
        for seed in man.seeds:
            key = _hash(
                {
                    "imported": label,
                    "suite": man.suite,
                    "dataset": identity,
                    "complexity": level,
                    "seed": seed,
                    "data_seed": man.data_seed,
                }
            )
            conditions = [
                {
                    "cond_key": _hash(
                        {
                            "job": key,
                            "perturbation": t.perturbation,
                            "severity": t.severity,
                            "test_params": t.test_params,
                        }
                    ),
                    "perturbation": t.perturbation,
                    "severity": t.severity,
                    "test_complexity": None,
                    "preset": t.preset,
                    "test_params": t.test_params or None,
                    "eval_seconds": 0.0,
                    "cases": scored[t.folder],
                }
                for t in sets
            ]
            shards.append(
                {
                    "job_key": key,
                    "attempt_id": uuid.uuid4().hex[:8],
                    "suite": man.suite,
                    "job": {
                        "model": IMPORTED_MODEL,
                        "model_label": label,
                        "model_params": {},
                        "dataset": dataset["name"],
                        "dataset_params": dataset.get("params", {}),
                        "complexity": level,
                        "patch": "full",
                        "seed": seed,
                        "data_seed": man.data_seed,
                        "train": None,
                        "imported": {
                            "predictions": str(source.resolve()),
                            "manifest": str(man.root.resolve()),
                            "format": man.format,
                        },
                    },
                    "status": "done",
                    "error": None,
                    "train": {"imported": True, "n_train": 0, "n_val": 0, "patch_size": None},
                    "provenance": {"segbench": __version__, "imported_from": str(source.resolve())},
                    "conditions": conditions,
                    "started_at": now,
                    "finished_at": now,
                }
            )
    return shards


def _hash(value: Any) -> str:
    from segbench.plan import canonical_json

    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:16]


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
