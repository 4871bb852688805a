"""Run one train job: data -> model -> train (or reuse checkpoint) -> evaluate -> shard.

Side effects are limited to the checkpoints and the shard file; the database is written
by the parent (``store``).  Anything user code raises (``SystemExit`` included) becomes a
failed shard with its traceback; only ``KeyboardInterrupt`` (a real Ctrl-C) propagates.
A job counts as trained only once its checkpoint is saved, and a failure after that
(evaluation, a non-finite prediction) still fails the job.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segbench.cases import Case, DatasetSplits, perturb_channels
from segbench.core.records import ConditionRecord, ShardRecord, TrainRecord
from segbench.models.build import build_model, count_parameters
from segbench.models.contract import out_channels_for
from segbench.models.gated_unet import gate_values
from segbench.paths import OVERLAYS
from segbench.plan import EvalCondition, TrainJob, dataset_identity, patch_size, score_at
from segbench.plan.task import Job
from segbench.provenance import collect_provenance
from segbench.registry import DATASETS
from segbench.seeding import derive_rng, derive_seed, job_randomness, job_threads, perturbation_rng
from segbench.suite.schema import DatasetSpec, PerturbationSpec
from segbench.suite.weights import apply_pretrained, is_pretrained
from segbench.worker.checkpoint import (
    CheckpointError,
    checkpoint_path,
    load_payload,
    quarantine_unusable,
    save_payload,
    state_path,
)
from segbench.worker.data import Augmenter, FullImageBatches, InputFormat, PatchBatches
from segbench.worker.device import pick_device
from segbench.worker.evaluate import perturb_cases, score_cases
from segbench.worker.infer import NonFiniteOutputError, Predictor
from segbench.worker.memory import PeakMemory
from segbench.worker.native import mask_rule
from segbench.worker.overlays import save_overlays
from segbench.worker.shard import write_shard
from segbench.worker.train import EpochCallback, Resume, train_model

__all__ = [
    "INTERRUPTED",
    "STOP_REQUESTED",
    "ConditionFailure",
    "Trained",
    "add_outcome",
    "checkpoint_path",
    "condition_test_set",
    "evaluate_conditions",
    "load_dataset",
    "make_augmenter",
    "new_shard",
    "run_job",
    "write_failed_shard",
]

#: Set when the scheduler stops this process on purpose (Slurm preemption/time-out via
#: submitit's ``checkpoint``): the exit it raises must requeue the job, not fail it.
STOP_REQUESTED = threading.Event()

#: Set by the in-process executor's Ctrl-C handler. Libraries sometimes swallow the
#: ``KeyboardInterrupt`` (one raised inside a lazy import leaves a half-imported module and a
#: later ``AttributeError``); with this flag the job still stops the run instead of being
#: recorded as failed.
INTERRUPTED = threading.Event()

#: (images, their cases) -> (masks, per-case uncertainty values): one model's prediction or an ensemble's
Predict = Callable[[list[np.ndarray], list[Case]], tuple[list[np.ndarray], list[dict[str, Any]]]]


def run_job(
    job: TrainJob,
    conditions: Sequence[EvalCondition],
    results: Path,
    device: str | None = None,
    on_epoch: EpochCallback | None = None,
    on_status: Callable[[str], None] | None = None,
) -> Path:
    """Train/evaluate ``job`` for the pending ``conditions``; returns the shard's path."""
    shard = new_shard(job)
    on_status = on_status or (lambda _: None)
    try:
        torch_device = pick_device(device)
        # threads, then seeds, for this job only (both restored after); provenance records the count
        randomness = job_randomness(job.seed, job.train.deterministic, torch_device.type)
        with job_threads(job.train.threads), randomness:
            shard.provenance = collect_provenance(str(torch_device))
            for outcome in _run(job, conditions, results, torch_device, on_epoch, on_status):
                add_outcome(shard, outcome)
        shard.status = "done" if not shard.error else "failed"
    except KeyboardInterrupt:
        raise  # a real Ctrl-C stops the run; the job is retried next time
    except BaseException:  # user code may raise SystemExit (argparse) or other BaseExceptions
        if STOP_REQUESTED.is_set():
            raise
        if INTERRUPTED.is_set():
            raise KeyboardInterrupt from None
        shard.status = "failed"
        shard.error = "\n".join(filter(None, [shard.error, traceback.format_exc()]))
    shard.finished_at = time.time()
    return write_shard(results, shard)


def write_failed_shard(job: Job, results: Path, reason: str) -> Path:
    """Record a job that could not report itself (timed out, worker killed) as failed."""
    shard = new_shard(job)
    shard.error = reason
    shard.finished_at = time.time()
    return write_shard(results, shard)


def new_shard(job: Job) -> ShardRecord:
    """A failed attempt of ``job`` with nothing done yet; the runner adds what it produces."""
    return ShardRecord(
        job_key=job.key,
        attempt_id=uuid.uuid4().hex[:8],
        suite=job.suite,
        job=job.record(),
        started_at=time.time(),
    )


@dataclass(frozen=True)
class Trained:
    """A model ready to evaluate: what training produced, or what the reused checkpoint recorded."""

    train: TrainRecord
    reused: bool = False


@dataclass(frozen=True)
class ConditionFailure:
    """A condition left unevaluated (retried by the next run) that fails the attempt."""

    message: str


Outcome = Trained | ConditionRecord | ConditionFailure


def add_outcome(shard: ShardRecord, outcome: Outcome) -> None:
    """Put one runner outcome into the attempt's record (as soon as it exists: a crash keeps it)."""
    if isinstance(outcome, Trained):
        shard.train, shard.train_reused = outcome.train, outcome.reused
    elif isinstance(outcome, ConditionRecord):
        shard.conditions.append(outcome)
    else:
        prefix = shard.error + "; " if shard.error else "NonFiniteOutputError: "
        shard.error = prefix + outcome.message


def _run(
    job: TrainJob,
    conditions: Sequence[EvalCondition],
    results: Path,
    device: torch.device,
    on_epoch: EpochCallback | None,
    on_status: Callable[[str], None],
) -> Iterator[Outcome]:
    on_status("data")
    from segbench.datasets.cache import set_cache_dir

    set_cache_dir(results / "cache")
    data = load_dataset(job.dataset, job.complexity, job.data_seed)
    dims = data.spatial_dims
    fmt = input_format(data, job.model.params)
    roi = patch_size(job.patch, dims) if job.patch else None
    img_size = roi or data.common_size
    out_channels = out_channels_for(job.train.activation)
    model = build_model(
        job.model.name,
        job.model.params,
        spatial_dims=dims,
        in_channels=data.in_channels,
        out_channels=out_channels,
        img_size=img_size,
    )
    predictor = Predictor(
        device,
        job.train.activation,
        roi,
        job.train.sw_overlap,
        batch_size=job.train.batch_size,
        amp=job.train.amp,
        fmt=fmt,
    )
    ckpt = checkpoint_path(results, job.key)
    if is_pretrained(job.model):  # weights loaded (or a trained model returned): evaluate only
        yield Trained(apply_pretrained(model, job.model, list(roi) if roi else None))
        model.to(device)
    elif (saved := _load_checkpoint(ckpt, model, on_status)) is not None:
        model.to(device)
        yield Trained(TrainRecord(**(saved.get("train") or {})), reused=True)
    else:
        on_status("train")
        train_info = _train(job, model, data, roi, device, predictor, on_epoch, fmt, results)
        model_state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        save_payload(ckpt, {"state_dict": model_state, "train": train_info.model_dump()})
        # Trained only once the checkpoint is on disk; the resumable state is then obsolete.
        yield Trained(train_info)
        state_path(results, job.key).unlink(missing_ok=True)
    on_status("evaluate")
    from segbench.worker.probabilities import predict_with_uncertainty

    def predict(images: list[np.ndarray], cases: list[Case]) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
        return predict_with_uncertainty(predictor, model, images, job.train.tta, mask_rule(cases))

    yield from evaluate_conditions(job, job.condition_key, conditions, data, predict, results / OVERLAYS)


def evaluate_conditions(
    job: TrainJob,
    condition_key: Callable[[EvalCondition], str],
    conditions: Sequence[EvalCondition],
    data: DatasetSplits,
    predict: Predict,
    overlays: Path | None = None,
) -> Iterator[ConditionRecord | ConditionFailure]:
    """Score ``predict`` under each condition: the one evaluation path of single models and ensembles.

    ``job`` gives the test set (for an ensemble, its first member: same data, same perturbation draws,
    so its rows pair with its members'); ``condition_key`` names each result.  A non-finite
    prediction is not a score: that condition stays unevaluated (retried next run) and the attempt fails.
    With ``overlays`` (``<results>/overlays``), each condition's best, median and worst case are drawn
    there from the images and masks just scored (:mod:`segbench.worker.overlays`).
    """
    identity = dataset_identity(job.dataset)
    for condition in conditions:
        started = time.perf_counter()
        cases, rng_for = condition_test_set(job, condition, data, identity)
        try:
            images, params = perturb_cases(cases, condition, rng_for)
            masks, uncertainty = predict(images, cases)
        except NonFiniteOutputError as exc:
            yield ConditionFailure(f"condition {condition.describe()}: {exc}")
            continue
        rows = score_cases(cases, masks, params, uncertainty)
        seconds = time.perf_counter() - started  # drawing the pictures below is not evaluation time
        if overlays is not None:
            save_overlays(overlays / condition_key(condition), cases, images, masks, rows)
        yield ConditionRecord(
            cond_key=condition_key(condition),
            perturbation=condition.perturbation,
            severity=condition.severity,
            test_complexity=condition.test_complexity,
            preset=condition.preset,
            test_params=condition.test_params or condition.test_dataset or None,
            eval_seconds=seconds,
            cases=rows,
        )


def _load_checkpoint(
    path: Path, model: torch.nn.Module, on_status: Callable[[str], None]
) -> dict[str, Any] | None:
    """The saved best model loaded into ``model``, or None to (re)train.

    A checkpoint that does not load or does not fit the model is quarantined and the job
    retrains (with a warning naming both paths) instead of failing on it forever.
    """
    if not path.exists():
        return None
    import warnings

    try:
        saved = load_payload(path)
        try:
            model.load_state_dict(saved["state_dict"])
        except (KeyError, RuntimeError, TypeError) as exc:
            raise CheckpointError(quarantine_unusable(path, exc)) from exc
    except CheckpointError as exc:
        warnings.warn(f"{exc}; retraining", stacklevel=2)
        on_status(f"retrain: {exc}")
        return None
    return saved


def condition_test_set(
    job: TrainJob, condition: EvalCondition, data: DatasetSplits, identity: str
) -> tuple[list[Case], Callable[[Case], np.random.Generator]]:
    """The test cases of ``condition`` and each case's perturbation generator.

    One function for every model of a suite (and for ensembles, which re-evaluate stored members), so
    the same case under the same condition is the same image everywhere: pairs stay paired.
    """
    test_complexity = job.complexity if condition.test_complexity is None else condition.test_complexity
    test_spec = job.dataset
    if condition.test_params:
        params = {**job.dataset.params, **json.loads(condition.test_params)}
        test_spec = job.dataset.model_copy(update={"params": params})
    # Seeded by the training spec's identity, so a shifted test set keeps the same cases.
    if condition.test_dataset:
        try:
            cases = shift_dataset_cases(job.dataset, condition.test_dataset, job.data_seed, data.in_channels)
        except ValueError as exc:  # DataError included: name the shift the message is about
            from segbench.datasets.errors import DataError

            kind = DataError if isinstance(exc, DataError) else ValueError
            raise kind(f"dataset shift {condition.perturbation.partition('+')[0]!r}: {exc}") from exc
    else:
        cases = load_dataset(test_spec, test_complexity, job.data_seed, identity=identity).test

    def rng_for(case: Case) -> np.random.Generator:
        # Same perturbed image for every model and training seed: pairs stay paired.
        return perturbation_rng(
            job.data_seed, identity, test_complexity, condition.perturbation, condition.severity, case.case_id
        )

    return cases, rng_for


def _train(
    job: TrainJob,
    model: torch.nn.Module,
    data: DatasetSplits,
    roi: tuple[int, ...] | None,
    device: torch.device,
    predictor: Predictor,
    on_epoch: EpochCallback | None,
    fmt: InputFormat,
    results: Path,
) -> TrainRecord:
    cfg = job.train
    batch_seed = derive_seed(job.seed, "batches")
    augmenter = make_augmenter(cfg.augment) if cfg.augment else None
    # validation: none -> every listed training and validation case trains; the last epoch is kept.
    train_cases, val_cases = (
        (data.train, data.val) if cfg.validation == "split" else ([*data.train, *data.val], [])
    )
    if job.patch is None:
        batches: FullImageBatches | PatchBatches = FullImageBatches(
            train_cases, cfg.batch_size, batch_seed, cfg.rotate90, augmenter, fmt
        )
    else:
        assert roi is not None
        batches = PatchBatches(
            train_cases,
            roi,
            cfg.batch_size,
            batch_seed,
            job.patch.pos,
            job.patch.neg,
            job.patch.samples,
            0.0,
            augmenter,
            fmt,
        )
    resume = Resume(state_path(results, job.key), cfg.checkpoint_every)
    with PeakMemory(device) as memory:
        result = train_model(model, batches, val_cases, cfg, device, predictor, on_epoch, resume)
    return TrainRecord(
        n_params=count_parameters(model),
        best_epoch=result.best_epoch,
        best_val_dice=result.best_val_dice,
        history=result.history,
        train_seconds=result.seconds,
        peak_memory_mb=memory.peak_mb,
        crop_fbr=batches.crop_fbr,
        patch_size=list(roi) if roi else None,
        n_train=len(train_cases),
        n_val=len(val_cases),
        validation=cfg.validation,
        split={
            "train": [c.case_id for c in train_cases],
            "val": [c.case_id for c in val_cases],
            "test": [c.case_id for c in data.test],
        },
        dataset_fingerprint=data.fingerprint or None,
        gates=gate_values(model),
    )


@lru_cache(maxsize=4)
def _cached_dataset(spec_json: str, complexity: float | None, data_seed: int, identity: str) -> DatasetSplits:
    spec = DatasetSpec.model_validate_json(spec_json)
    rng = derive_rng(data_seed, "dataset", identity)
    return DATASETS.get(spec.name).factory(rng=rng, complexity=complexity, **spec.params)


def load_dataset(
    spec: DatasetSpec, complexity: float | None, data_seed: int, identity: str | None = None
) -> DatasetSplits:
    """The dataset's splits; built once per process (models share identical data).

    ``identity`` (default: the spec's own content hash) seeds the draws; a dataset shift
    passes the training spec's identity so its test cases pair with the in-domain ones.
    """
    return _cached_dataset(spec.model_dump_json(), complexity, data_seed, identity or dataset_identity(spec))


def input_format(data: DatasetSplits, model_params: dict[str, Any]) -> InputFormat:
    """Channels, scaling and padding of model inputs for ``data``.

    Real data (which may mix image sizes) is padded to a multiple of the model's total
    stride (the product of ``strides``, 16 when not given); synthetic data is never padded.
    """
    multiple = 1
    if data.fingerprint:
        multiple = int(np.prod(model_params.get("strides") or (2, 2, 2, 2)))
    return InputFormat(data.spatial_dims, data.scaling, multiple)


def shift_dataset_cases(
    train_spec: DatasetSpec, test_dataset: str, data_seed: int, in_channels: int | None
) -> list[Case]:
    """A train-on-A / test-on-B condition's cases: B's test list if it has its own, else all of B.

    ``in_channels`` (the model's; None skips the check, as the export does) must match B's.
    B is preprocessed as the training dataset (its shared preprocessing and resampling params
    are copied) unless B's params set them; ``score_at`` is always the training dataset's, so
    both sites are scored by one rule.
    """
    from segbench.datasets.preprocess import PREPROCESSING, RESAMPLING

    spec = DatasetSpec.model_validate_json(test_dataset)
    accepted = DATASETS.get(spec.name).parameters()
    shared = (*PREPROCESSING[:4], *RESAMPLING)
    inherited = {k: v for k, v in train_spec.params.items() if k in shared and k in accepted}
    forced = {"score_at": score_at(train_spec)} if "score_at" in accepted else {}
    spec = spec.model_copy(update={"params": {**inherited, **spec.params, **forced}})
    hook = DATASETS.get(spec.name).meta.get("test_cases")
    if hook is not None:  # real data: every labelled case, no split needed
        cases = hook(dict(spec.params))
    else:
        data = load_dataset(spec, None, data_seed)
        cases = data.test if data.official_test else [*data.train, *data.val, *data.test]
    if cases and in_channels is not None and cases[0].in_channels != in_channels:
        raise ValueError(
            f"test dataset {spec.name} gives {cases[0].in_channels}-channel images "
            f"({cases[0].meta.get('source', cases[0].case_id)}) but the model was trained on "
            f"{in_channels}; set the same 'channels' on both datasets"
        )
    return cases


def make_augmenter(specs: Sequence[PerturbationSpec]) -> Augmenter:
    """Train-time augmentation: each spec applies with its probability ``p`` at a random
    severity from its list (all five when none given), in suite order."""
    from segbench.perturbations import apply_perturbation, resolve

    choices = [
        (
            spec.p,
            resolve(spec.name, None)
            if not spec.severity
            else [pair for s in spec.severity for pair in resolve(spec.name, s)],
        )
        for spec in specs
    ]

    def augment(image: np.ndarray, label: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for p, pairs in choices:
            if rng.random() < p:
                name, severity = pairs[int(rng.integers(len(pairs)))]
                image, _ = perturb_channels(
                    apply_perturbation, name, image, label, severity=severity, rng=rng
                )
        return image

    return augment
