"""What ``segbench advise`` measures on a user's dataset, with the benchmark's own measures.

Why a module of its own: measuring (LBP-KL separability for 2D labels, foreground ratio and
foreground-centred patch FBR for 3D volumes) needs the dataset registry and the complexity metrics,
while placing the measured dataset on the stored results (``tools.advise``) needs only tables.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segbench.seeding import derive_rng
from segbench.suite.schema import DatasetSpec

__all__ = [
    "MEASURES",
    "PATCH_SIZES",
    "DatasetProfile",
    "dataset_label",
    "measure_cases",
    "measure_dataset",
    "resolve_dataset",
]

#: measure per spatial dimensionality: (store column, human name, "larger is easier")
MEASURES = {2: ("complexity_kl", "LBP-KL separability (bits)", True), 3: ("fbr", "foreground ratio", None)}
#: candidate cubic patch sizes whose foreground-centred crop FBR is reported for 3D data
PATCH_SIZES = (32, 48, 64, 80, 96)


@dataclass
class DatasetProfile:
    """What was measured on the user's dataset.

    Attributes:
        name: dataset reference as given.
        spatial_dims: 2 or 3.
        measure: store column the values compare with (``complexity_kl`` or ``fbr``).
        values: one value per measured case (NaN-free).
        patch_fbr: 3D only: patch size -> median FBR of a foreground-centred cubic crop.
        real: the cases were read from files (a path), not generated.
        shape: median spatial shape of the measured cases.
    """

    name: str
    spatial_dims: int
    measure: str
    values: np.ndarray
    patch_fbr: dict[int, float] = field(default_factory=dict)
    real: bool = False  # read from the user's files (a path), not generated
    shape: tuple[int, ...] = ()  # median spatial shape of the measured cases

    @property
    def median(self) -> float:
        return float(np.median(self.values))

    @property
    def iqr(self) -> tuple[float, float]:
        return float(np.quantile(self.values, 0.25)), float(np.quantile(self.values, 0.75))


def resolve_dataset(reference: str, params: Mapping[str, Any] | None = None) -> DatasetSpec:
    """A dataset spec from a registered name, a datalist JSON file or an nnU-Net raw folder.

    Raises:
        LookupError: the reference is none of these, or the reader it needs is not registered.
    """
    from segbench.registry import DATASETS

    params = dict(params or {})
    path = Path(reference)
    if reference in DATASETS:
        return DatasetSpec(name=reference, params=params)
    if path.is_file() and path.suffix == ".json":
        reader = "datalist"
    elif path.is_dir() and (path / "dataset.json").is_file():
        reader = "nnunet"
    else:
        raise LookupError(
            f"advise: {reference!r} is not a registered dataset ({', '.join(DATASETS.names())}), "
            "a datalist .json file or an nnU-Net raw folder (with dataset.json)"
        )
    if reader not in DATASETS:
        raise LookupError(
            f"advise: reading {reference!r} needs the {reader!r} dataset reader, which this installation "
            f"does not register (registered: {', '.join(DATASETS.names())})"
        )
    key = "root" if reader == "nnunet" else "path"  # the readers' own argument names
    return DatasetSpec(name=reader, params={key: str(path), **params})


def _check(name: str, params: dict[str, Any]) -> None:
    """The checks ``segbench validate`` runs on a suite's dataset params (types, bounds, memory).

    Why: ``--params '{n_images: 10000000}'`` ran for minutes, growing, before anything said no.

    Raises:
        ValueError: one line listing every problem.
    """
    from segbench.registry import DATASETS
    from segbench.suite.params import check_params

    problems = check_params(DATASETS.get(name), params)
    if problems:
        listed = "; ".join(f"{'.'.join(map(str, p.loc)) or name}: {p.message}" for p in problems)
        raise ValueError(f"advise: --params for {name!r}: {listed}")


def measure_dataset(
    spec: DatasetSpec, complexity: float | None = None, max_cases: int = 200, seed: int = 0
) -> DatasetProfile:
    """Build the dataset through the registry and measure up to ``max_cases`` of its labelled cases."""
    from segbench.registry import DATASETS

    _check(spec.name, spec.params)
    splits = DATASETS.get(spec.name).factory(
        rng=derive_rng(seed, "advise"), complexity=complexity, **spec.params
    )
    cases = [*splits.train, *splits.val, *splits.test]
    if not cases:
        raise ValueError(f"advise: dataset {spec.name!r} has no cases to measure")
    if len(cases) > max_cases:
        cases = [cases[i] for i in np.linspace(0, len(cases) - 1, max_cases).round().astype(int)]
    profile = measure_cases([(c.image, c.label) for c in cases], dataset_label(spec))
    profile.real = isinstance(spec.params.get("path") or spec.params.get("root"), str)
    return profile


def dataset_label(spec: DatasetSpec) -> str:
    """The dataset's own name, for the page title and the output file names.

    Why not the file name: every Decathlon dataset is ``dataset.json``, so pages named after the file
    overwrote each other. A JSON's ``name`` field wins, else the folder that holds the file (or the
    folder given), else the registered name.
    """
    where = spec.params.get("path") or spec.params.get("root")
    if not isinstance(where, str):
        return spec.name
    path = Path(where)
    if path.is_file():
        try:
            named = json.loads(path.read_text(encoding="utf-8")).get("name")
        except (OSError, ValueError, AttributeError):
            named = None
        if isinstance(named, str) and named.strip():
            return named.strip()
        return path.parent.resolve().name or path.stem
    return path.resolve().name or spec.name


def measure_cases(cases: Sequence[tuple[np.ndarray, np.ndarray]], name: str) -> DatasetProfile:
    """Measure ``(image, label)`` pairs: LBP-KL for 2D labels, FBR (+ patch FBR) for 3D labels."""
    from segbench.metrics.complexity import foreground_ratio, lbp_kl

    dims = int(np.asarray(cases[0][1]).ndim)
    if dims not in MEASURES:
        raise ValueError(f"advise: labels must be 2D or 3D, got {dims}D")
    measure = MEASURES[dims][0]
    values, patch = [], {}
    for image, label in cases:
        image, label = np.asarray(image, dtype=np.float64), np.asarray(label)
        if image.ndim == label.ndim + 1:  # channels first (e.g. RGB): the measure is on intensity
            image = image.mean(axis=0)
        values.append(lbp_kl(image, label) if dims == 2 else foreground_ratio(label))
    if dims == 3:
        for size in PATCH_SIZES:
            crops = [_centred_crop_fbr(np.asarray(lab), size) for _, lab in cases]
            crops = [c for c in crops if not math.isnan(c)]
            if crops:
                patch[size] = float(np.median(crops))
    finite = np.asarray([v for v in values if np.isfinite(v)])
    if finite.size == 0:
        raise ValueError(f"advise: no case of {name} could be measured (empty or full labels?)")
    shape = tuple(int(np.median([np.asarray(lab).shape[i] for _, lab in cases])) for i in range(dims))
    return DatasetProfile(name, dims, measure, finite, patch, shape=shape)


def _centred_crop_fbr(label: np.ndarray, size: int) -> float:
    """FBR of a ``size``-cube crop centred on the foreground centroid (NaN if too small or empty)."""
    if any(s < size for s in label.shape) or not label.any():
        return math.nan
    centre = np.round(np.argwhere(label).mean(axis=0)).astype(int)
    start = [int(min(max(c - size // 2, 0), s - size)) for c, s in zip(centre, label.shape, strict=True)]
    crop = label[tuple(slice(a, a + size) for a in start)]
    return float(np.count_nonzero(crop) / crop.size)
