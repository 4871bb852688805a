"""Suite -> plan: train jobs, each carrying the eval conditions that reuse its checkpoint.

Pure apart from reading data files (a dataset that names files enters its key by their
content: ``dataset_fingerprint`` hashes them).  A job's key is a content hash of everything that
affects training (with factory defaults filled in, so ``unet`` and ``unet`` with its default
channels spelt out are one job); names, labels, times and paths never enter it.  Adding a test-time
perturbation to a suite therefore adds conditions but never retrains.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from segbench.core import IN_DOMAIN, INJECTED_MODEL_ARGS, SEVERITIES
from segbench.core.presets import PRESETS
from segbench.core.records import JobRecord
from segbench.registry import DATASETS, MODELS
from segbench.suite.patches import patch_size
from segbench.suite.schema import DatasetSpec, ModelSpec, PatchBudget, Suite, TrainConfig
from segbench.suite.weights import weights_fingerprint

__all__ = [
    "EVAL_PROTOCOL",
    "TRAIN_PROTOCOL",
    "EvalCondition",
    "TrainJob",
    "canonical_json",
    "dataset_fingerprint",
    "dataset_identity",
    "dataset_label",
    "expand",
    "job_key",
    "patch_size",
    "score_at",
]

# Bump when the meaning of training/evaluation changes, so stored results are not reused.
TRAIN_PROTOCOL = 1
EVAL_PROTOCOL = 1
_EVAL_ONLY_TRAIN_FIELDS = frozenset({"sw_overlap", "tta"})
# How a job is run, not what it computes: never part of a job or condition key.  ``threads`` does
# change CPU floats (reductions split by thread), as ``device`` does, and like the device it is
# recorded in every job's provenance and in gate baselines instead: in the key it would re-key every
# stored job, and a key cannot say how many threads a job stored before the setting existed used.
_RUN_ONLY_TRAIN_FIELDS = frozenset({"timeout_min", "checkpoint_every", "threads"})
# Dataset params added after keys were first stored: left out of job keys at these defaults, so a
# suite that does not set them keeps its stored jobs.  ``score_at`` is where a prediction is
# scored, never part of training: it enters only the condition key.
_NEW_DATASET_DEFAULTS = {"label_resize": "nearest", "image_resize": "bilinear"}
_EVAL_ONLY_DATASET_PARAMS = frozenset({"score_at"})
_UNSET = object()


@dataclass(frozen=True)
class EvalCondition:
    """One test set: a perturbation at a severity, optionally at another complexity."""

    perturbation: str = IN_DOMAIN
    severity: int = 0
    test_complexity: float | None = None
    preset: str | None = None
    test_params: str = ""  # canonical JSON of test-only dataset params (a dataset shift)
    test_dataset: str = ""  # canonical JSON of another dataset {name, params} (train on A, test on B)

    @property
    def in_domain(self) -> bool:
        return self.perturbation == IN_DOMAIN and self.test_complexity is None

    def describe(self) -> str:
        text = self.perturbation if self.perturbation == IN_DOMAIN else f"{self.perturbation}@{self.severity}"
        if self.preset:
            text += f" ({self.preset})"
        if self.test_complexity is not None:
            text += f" test_complexity={self.test_complexity:g}"
        if self.test_params:
            text += f" (dataset shift {self.test_params})"
        if self.test_dataset:
            text += f" (test dataset {self.test_dataset})"
        return text


@dataclass(frozen=True)
class TrainJob:
    """One model trained once under one training condition and seed."""

    suite: str
    model: ModelSpec
    dataset: DatasetSpec
    complexity: float | None
    patch: PatchBudget | None
    seed: int
    data_seed: int
    train: TrainConfig
    conditions: tuple[EvalCondition, ...]
    key: str

    def condition_key(self, condition: EvalCondition) -> str:
        """Content key of one (job, condition) evaluation."""
        # an empty TTA list is left out so that keys stored before TTA existed stay valid
        eval_cfg = {
            f: getattr(self.train, f) for f in sorted(_EVAL_ONLY_TRAIN_FIELDS) if f != "tta" or self.train.tta
        }
        scored = score_at(self.dataset)
        if scored == "native":  # results scored on the resized grid before native scoring stay apart
            eval_cfg["score_at"] = scored
        return _hash(
            {
                "job": self.key,
                "perturbation": condition.perturbation,
                "severity": condition.severity,
                "test_complexity": condition.test_complexity,
                "test_params": condition.test_params,
                "eval": eval_cfg,
                "protocol": EVAL_PROTOCOL,
                **_test_dataset_identity(condition),
            }
        )

    def record(self) -> JobRecord:
        """The job spec as its shards and the store record it."""
        return JobRecord(
            model=self.model.name,
            model_label=self.model.display,
            model_params=self.model.params,
            dataset=self.dataset.name,
            dataset_label=dataset_label(self.dataset),
            dataset_params=self.dataset.params,
            complexity=self.complexity,
            patch=self.patch.model_dump(mode="json") if self.patch else "full",
            seed=self.seed,
            data_seed=self.data_seed,
            train=self.train.model_dump(mode="json"),
        )

    def describe(self) -> str:
        parts = [self.model.display, self.dataset.name]
        if self.complexity is not None:
            parts.append(f"c={self.complexity:g}")
        if self.patch is not None:
            parts.append(f"patch={self.patch.size or self.patch.voxels}")
        parts.append(f"seed={self.seed}")
        return " ".join(parts)


def expand(suite: Suite) -> list[TrainJob]:
    """All train jobs of ``suite`` in a stable order (model-major, seed-minor)."""
    jobs = []
    for model in suite.models:
        for dataset in suite.datasets:
            for complexity in suite.complexity or [None]:
                for patch in suite.patch_budget:
                    budget = None if patch == "full" else patch
                    for seed in suite.seeds:
                        conditions = tuple(_conditions(suite, complexity))
                        key = job_key(model, dataset, complexity, budget, seed, suite.data_seed, suite.train)
                        jobs.append(
                            TrainJob(
                                suite.name,
                                model,
                                dataset,
                                complexity,
                                budget,
                                seed,
                                suite.data_seed,
                                suite.train,
                                conditions,
                                key,
                            )
                        )
    return jobs


def job_key(
    model: ModelSpec,
    dataset: DatasetSpec,
    complexity: float | None,
    patch: PatchBudget | None,
    seed: int,
    data_seed: int,
    train: TrainConfig,
) -> str:
    """Stable content hash of everything that affects training."""
    excluded = set(_EVAL_ONLY_TRAIN_FIELDS | _RUN_ONLY_TRAIN_FIELDS)
    if train.validation == "split":  # the default (and all there was before): stored keys stay valid
        excluded.add("validation")
    train_fields = train.model_dump(mode="json", exclude=excluded)
    pretrained = weights_fingerprint(model)
    if pretrained:  # never trained: the weights' content replaces the training config in the key
        train_fields = {"pretrained": pretrained, "activation": train.activation}
    return _hash(
        {
            "model": {"name": model.name, "params": _with_defaults(MODELS, model.name, model.params)},
            "dataset": {"name": dataset.name, "params": _training_params(dataset)},
            "complexity": complexity,
            "patch": patch.model_dump(mode="json") if patch else "full",
            "seed": seed,
            "data_seed": data_seed,
            "train": train_fields,
            "protocol": TRAIN_PROTOCOL,
            **_files_identity(dataset),
        }
    )


def canonical_json(value: Any) -> str:
    """Sorted, compact JSON: the input of every content hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_jsonable)


def _hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:16]


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def _with_defaults(registry: Any, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` completed with the factory's defaults (injected arguments excluded)."""
    try:
        accepted = registry.get(name).parameters()
    except (LookupError, TypeError, ValueError):
        return dict(params)
    full = {
        n: p.default
        for n, p in accepted.items()
        if p.default is not inspect.Parameter.empty and n not in INJECTED_MODEL_ARGS
    }
    full.update(params)
    return json.loads(canonical_json(full))


def _conditions(suite: Suite, complexity: float | None) -> Iterator[EvalCondition]:
    seen: set[tuple[str, int]] = set()
    for name, severity, preset in _perturbation_pairs(suite.perturbations):
        if (name, severity) not in seen:
            seen.add((name, severity))
            yield EvalCondition(name, severity, None, preset)
    for shift in suite.dataset_shifts:
        if shift.dataset is not None:
            spec = canonical_json({"name": shift.dataset.name, "params": shift.dataset.params})
            yield EvalCondition(shift.label, 0, None, None, "", spec)
            on_top = {(n, s): p for n, s, p in _perturbation_pairs(shift.perturbations) if n != IN_DOMAIN}
            for (name, severity), preset in on_top.items():  # "site_B+speckle": B's cases, perturbed
                yield EvalCondition(f"{shift.label}+{name}", severity, None, preset, "", spec)
        else:
            yield EvalCondition(shift.label, 0, None, None, canonical_json(shift.params))
    if complexity is not None and suite.test_complexity is not None:
        levels = suite.complexity if suite.test_complexity == "all" else suite.test_complexity
        for level in levels or []:
            if level != complexity:
                yield EvalCondition(IN_DOMAIN, 0, float(level))


def _perturbation_pairs(specs: Any) -> Iterator[tuple[str, int, str | None]]:
    """(perturbation, severity, preset) of a list of perturbation specs, presets resolved."""
    for spec in specs:
        if spec.name == IN_DOMAIN:
            yield IN_DOMAIN, 0, None
        elif spec.name in PRESETS:
            name, severity = PRESETS[spec.name]
            yield name, severity, spec.name
        else:
            yield from ((spec.name, s, None) for s in (spec.severity or SEVERITIES))


def dataset_identity(spec: DatasetSpec) -> str:
    """Content hash of a dataset spec (defaults filled in); seeds its random draws.

    Complexity is deliberately excluded: cases at every complexity level share masks and
    case ids, so they can be paired across levels.
    """
    return _hash({"name": spec.name, "params": _training_params(spec)})


def dataset_label(spec: DatasetSpec) -> str:
    """The name a dataset is shown by: its ``label``, else its files' own name (a datalist's JSON
    ``name``, via the registry ``label`` hook), else the registry name."""
    if spec.label:
        return spec.label
    try:
        hook = DATASETS.get(spec.name).meta.get("label")
        named = hook(dict(spec.params)) if callable(hook) else None
    except (LookupError, ValueError, OSError):
        named = None
    return str(named) if named else spec.name


def score_at(spec: DatasetSpec) -> str:
    """Where ``spec``'s predictions are scored: ``native`` (each file's own grid; real data that is
    resized for the model) or ``model`` (the grid the model sees: synthetic data, ``size: null``,
    or ``score_at: model``)."""
    full = _with_defaults(DATASETS, spec.name, spec.params)
    return "native" if full.get("score_at") == "native" and full.get("size") is not None else "model"


def _training_params(spec: DatasetSpec) -> dict[str, Any]:
    """The dataset params that enter a job key (defaults filled in; see ``_NEW_DATASET_DEFAULTS``)."""
    full = _with_defaults(DATASETS, spec.name, spec.params)
    return {
        k: v
        for k, v in full.items()
        if k not in _EVAL_ONLY_DATASET_PARAMS and _NEW_DATASET_DEFAULTS.get(k, _UNSET) != v
    }


def dataset_fingerprint(spec: DatasetSpec) -> str | None:
    """The files' identity of a real dataset (its registry ``fingerprint`` hook), else ``None``.

    Why only in the job key and not in ``dataset_identity``: touching a file must retrain,
    but must not reshuffle the split or the perturbation draws, which ``dataset_identity`` seeds.
    """
    try:
        hook = DATASETS.get(spec.name).meta.get("fingerprint")
    except LookupError:
        return None
    return str(hook(dict(spec.params))) if hook is not None else None


def _files_identity(spec: DatasetSpec) -> dict[str, str]:
    # Empty for synthetic datasets, so their job keys stay as they were.
    fingerprint = dataset_fingerprint(spec)
    return {} if fingerprint is None else {"dataset_files": fingerprint}


def _test_dataset_identity(condition: EvalCondition) -> dict[str, Any]:
    if not condition.test_dataset:
        return {}
    spec = DatasetSpec.model_validate_json(condition.test_dataset)
    return {"test_dataset": condition.test_dataset, "test_files": dataset_fingerprint(spec)}
