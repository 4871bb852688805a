"""``segbench export``: a suite's perturbed test sets as files an external tool can predict on.

Why the worker's own functions: the exported images must be the very images segbench's models are
evaluated on, so that an external model's rows pair case by case with theirs.  The test sets come
from ``plan.expand`` (presets, severities and dataset shifts resolved exactly as for a run), the
cases from ``worker.job.load_dataset`` and the perturbations from ``worker.evaluate.perturb_cases``
with ``seeding.perturbation_rng`` — the calls the worker makes.

One folder per dataset x complexity level x eval condition (nnU-Net's ``imagesTs`` layout with
``<case>_0000<ending>`` for ``--format nnunet``), ground truth under ``labels/<folder>/`` and a
``manifest.json`` describing all of it.  A trained model's cross-complexity conditions (train at
one level, test at another) are the other levels' test sets here: an external model has no
training level.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segbench.tools.roundtrip.files import FORMATS, write_image, write_label
from segbench.tools.roundtrip.manifest import ExportedCase, ExportedSet, Manifest

__all__ = ["ExportSummary", "export_suite", "planned_test_sets"]

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class ExportSummary:
    manifest: Path
    n_test_sets: int
    n_images: int


@dataclass(frozen=True)
class _Planned:
    dataset: Any  # DatasetSpec
    identity: str
    complexity: float | None
    perturbation: str
    severity: int
    preset: str | None
    test_params: str
    test_dataset: str = ""  # another dataset (train on A, test on B): canonical {name, params} JSON


def export_suite(suite_path: str | Path, out: str | Path, fmt: str = "nnunet") -> ExportSummary:
    """Write every test set of ``suite_path`` under ``out`` plus ``out/manifest.json``.

    Args:
        suite_path: the suite file (validated as for a run).
        out: export folder; created, existing files of the same names are overwritten.
        fmt: ``nnunet`` (``<cond>/<case>_0000.nii.gz``), ``nnunet-png`` (``<cond>/<case>_0000.png``),
            ``nifti`` (``<cond>/<case>.nii.gz``) or ``png`` (``<cond>/<case>.png``); PNGs are 16-bit
            and 2D only. Defaults to ``nnunet``.

    Nothing is half-written: the files go to a temporary folder beside ``out`` and move into
    ``out`` only once every test set and the manifest are written.

    Raises:
        ValueError: unknown format, PNG for 3D data, or case ids unusable as file names.
    """
    import shutil
    import tempfile

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        summary = _export(Path(suite_path), staging, fmt)
        out.mkdir(exist_ok=True)
        for entry in sorted(staging.iterdir(), key=lambda e: e.name == "manifest.json"):  # manifest last
            target = out / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            entry.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportSummary(out / summary.manifest.name, summary.n_test_sets, summary.n_images)


def _export(suite_path: Path, out: Path, fmt: str) -> ExportSummary:
    """The export itself, into ``out`` (a fresh staging folder)."""
    from segbench.plan import EvalCondition
    from segbench.seeding import perturbation_rng
    from segbench.suite.load import load_suite
    from segbench.worker.evaluate import perturb_cases
    from segbench.worker.job import load_dataset, shift_dataset_cases

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    ending = FORMATS[fmt]
    suite = load_suite(suite_path)
    planned = planned_test_sets(suite)
    folders = _folder_names(planned)
    test_sets, n_images = [], 0
    for item, folder in zip(planned, folders, strict=True):
        spec = item.dataset
        if item.test_params:
            spec = spec.model_copy(update={"params": {**spec.params, **json.loads(item.test_params)}})
        if item.test_dataset:  # site B: its cases as the worker builds them for this shift
            cases = shift_dataset_cases(item.dataset, item.test_dataset, suite.data_seed, None)
        else:
            cases = load_dataset(spec, item.complexity, suite.data_seed, identity=item.identity).test
        condition = EvalCondition(
            item.perturbation, item.severity, None, item.preset, item.test_params, item.test_dataset
        )

        def rng_for(case: Any, it: _Planned = item) -> np.random.Generator:
            return perturbation_rng(
                suite.data_seed, it.identity, it.complexity, it.perturbation, it.severity, case.case_id
            )

        images, sampled = perturb_cases(cases, condition, rng_for)
        exported = []
        for case, image, params in zip(cases, images, sampled, strict=True):
            if not _SAFE.match(case.case_id):
                raise ValueError(f"case id {case.case_id!r} of {spec.name} cannot be a file name")
            if ending == ".png" and image.ndim != 2:
                raise ValueError(
                    f"--format {fmt}: PNG holds 2D images only; {spec.name} is 3D: use nifti or nnunet"
                )
            suffix = "_0000" if fmt.startswith("nnunet") else ""
            image_rel = f"{folder}/{case.case_id}{suffix}{ending}"
            label_rel = f"labels/{folder}/{case.case_id}{ending}"
            intensity = write_image(out / image_rel, image, case.spacing)
            write_label(out / label_rel, case.label, case.spacing)
            meta = json.loads(json.dumps(case.meta, default=str))
            if case.native is not None:  # score_at: native: the import scores against the original label
                native_rel = f"labels_native/{folder}/{case.case_id}{ending}"
                write_label(out / native_rel, case.native.label, case.native.spacing)
                meta.update(native_label=native_rel, native_spacing=[float(s) for s in case.native.spacing])
            exported.append(
                ExportedCase(
                    case_id=case.case_id,
                    image=image_rel,
                    label=label_rel,
                    shape=list(image.shape),
                    spacing=[float(s) for s in case.spacing],
                    meta=meta,
                    params=json.loads(json.dumps(params, default=str)),
                    source_sha256=_array_hash(case.image, case.label),
                    file_sha256=_file_hash(out / image_rel),
                    intensity=intensity,
                )
            )
        n_images += len(exported)
        test_sets.append(
            ExportedSet(
                folder=folder,
                dataset=item.dataset.model_dump(mode="json"),
                dataset_identity=item.identity,
                complexity=item.complexity,
                perturbation=item.perturbation,
                severity=item.severity,
                preset=item.preset,
                test_params=item.test_params or item.test_dataset,
                cases=exported,
            )
        )
    manifest = Manifest(
        suite=suite.name,
        suite_yaml=suite_path.read_text(),
        seeds=list(suite.seeds),
        data_seed=suite.data_seed,
        format=fmt,
        ending=ending,
        test_sets=test_sets,
        root=out,
    )
    return ExportSummary(manifest.write(), len(test_sets), n_images)


def planned_test_sets(suite: Any) -> list[_Planned]:
    """The distinct test sets a run of ``suite`` evaluates on, in plan order.

    A test set is (dataset, complexity level the images are drawn at, perturbation, severity,
    dataset-shift params); models, seeds and patch budgets share it.
    """
    from segbench.plan import dataset_identity, expand

    seen: dict[tuple[Any, ...], _Planned] = {}
    for job in expand(suite):
        identity = dataset_identity(job.dataset)
        for cond in job.conditions:
            level = job.complexity if cond.test_complexity is None else cond.test_complexity
            key = (identity, level, cond.perturbation, cond.severity, cond.test_params, cond.test_dataset)
            if key not in seen:
                seen[key] = _Planned(
                    job.dataset,
                    identity,
                    level,
                    cond.perturbation,
                    cond.severity,
                    cond.preset,
                    cond.test_params,
                    cond.test_dataset,
                )
    return list(seen.values())


def _folder_names(planned: list[_Planned]) -> list[str]:
    """``<dataset>[_c<level>]_<perturbation>[_s<severity>]``, with a hash suffix for same-named datasets."""
    names_per_dataset: dict[str, set[str]] = {}
    for p in planned:
        names_per_dataset.setdefault(p.dataset.name, set()).add(p.identity)
    out = []
    for p in planned:
        base = (
            p.dataset.name
            if len(names_per_dataset[p.dataset.name]) == 1
            else f"{p.dataset.name}-{p.identity[:6]}"
        )
        level = "" if p.complexity is None else f"_c{p.complexity:g}"
        sev = f"_s{p.severity}" if p.severity else ""
        out.append(re.sub(r"[^A-Za-z0-9._-]", "-", f"{base}{level}_{p.perturbation}{sev}"))
    return out


def _array_hash(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(str((array.dtype.str, array.shape)).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
