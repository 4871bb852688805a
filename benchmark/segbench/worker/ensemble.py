"""Evaluate one ensemble job: load member checkpoints, average probabilities, score every condition.

Writes a result shard shaped like a train job's (``status``, ``job``, ``train``, ``conditions``), so the
store ingests it unchanged and the ensemble becomes a leaderboard row. Nothing is trained: a member
without a checkpoint is an error naming the member and the missing file.

It runs as an ordinary task (``worker.run.run_task``), through any executor, once its members are
trained.  Scoring goes through ``worker.job.evaluate_conditions``, the path every member's evaluation took
(same test cases, same per-case perturbation draws), so the ensemble's rows pair with its members' rows;
``tests/ensembles`` checks that an ensemble of one member reproduces that member's per-case results.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segbench.cases import Case, DatasetSplits
from segbench.core.records import TrainRecord
from segbench.models.build import build_model, count_parameters
from segbench.models.contract import out_channels_for
from segbench.paths import OVERLAYS
from segbench.plan import EvalCondition, TrainJob, patch_size
from segbench.plan.ensembles import EnsembleJob
from segbench.provenance import collect_provenance
from segbench.seeding import job_threads
from segbench.worker.device import pick_device
from segbench.worker.infer import Predictor
from segbench.worker.job import (
    Outcome,
    Trained,
    add_outcome,
    checkpoint_path,
    evaluate_conditions,
    input_format,
    load_dataset,
    new_shard,
)
from segbench.worker.native import mask_rule
from segbench.worker.probabilities import ensemble_predict
from segbench.worker.shard import write_shard

__all__ = ["run_ensemble"]


def run_ensemble(
    ensemble: EnsembleJob,
    conditions: tuple[EvalCondition, ...],
    results: Path,
    device: str | None = None,
    on_status: Callable[[str], None] | None = None,
) -> Path:
    """Evaluate ``ensemble`` under ``conditions`` from its members' checkpoints; returns the shard path."""
    shard = new_shard(ensemble)
    try:
        torch_device = pick_device(device)
        with job_threads(ensemble.train.threads):  # its members' count: the same numbers anywhere
            shard.provenance = collect_provenance(str(torch_device))
            for outcome in _run(ensemble, conditions, results, torch_device, on_status or (lambda _: None)):
                add_outcome(shard, outcome)
        shard.status = "done" if not shard.error else "failed"
    except Exception:
        shard.error = "\n".join(filter(None, [shard.error, traceback.format_exc()]))
    shard.finished_at = time.time()
    return write_shard(results, shard)


def _run(
    ensemble: EnsembleJob,
    conditions: tuple[EvalCondition, ...],
    results: Path,
    device: torch.device,
    on_status: Callable[[str], None],
) -> Iterator[Outcome]:
    from segbench.datasets.cache import set_cache_dir

    on_status("data")
    set_cache_dir(results / "cache")
    first = ensemble.members[0]
    data = load_dataset(first.dataset, first.complexity, first.data_seed)
    roi = patch_size(first.patch, data.spatial_dims) if first.patch else None
    img_size = roi or data.common_size
    loaded = [_load_member(m, ensemble, data, img_size, results, device) for m in ensemble.members]
    models = [model for model, _ in loaded]
    cfg = first.train
    predictor = Predictor(
        device,
        cfg.activation,
        roi,
        cfg.sw_overlap,
        batch_size=cfg.batch_size,
        amp=cfg.amp,
        fmt=input_format(data, first.model.params),
    )
    yield Trained(
        TrainRecord(
            n_params=sum(count_parameters(m) for m in models),
            patch_size=loaded[0][1].get("patch_size"),
            members=[m.key for m in ensemble.members],
            train_seconds=0.0,
        )
    )
    on_status("evaluate")

    def predict(images: list[np.ndarray], cases: list[Case]) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
        return ensemble_predict(predictor, models, images, mask_rule(cases))

    yield from evaluate_conditions(
        first, ensemble.condition_key, conditions, data, predict, results / OVERLAYS
    )


def _load_member(
    job: TrainJob,
    ensemble: EnsembleJob,
    data: DatasetSplits,
    img_size: tuple[int, ...] | None,
    results: Path,
    device: torch.device,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A member model with its best checkpoint loaded (built as ``worker.job`` builds it)."""
    ckpt = checkpoint_path(results, job.key)
    if not ckpt.exists():
        raise FileNotFoundError(
            f"ensemble {ensemble.label!r}: member {job.describe()} (job {job.key}) has no checkpoint "
            f"at {ckpt}; run the suite so that the member is trained first"
        )
    model = build_model(
        job.model.name,
        job.model.params,
        spatial_dims=data.spatial_dims,
        in_channels=data.in_channels,
        out_channels=out_channels_for(job.train.activation),
        img_size=img_size,
    )
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)
    model.load_state_dict(saved["state_dict"])
    return model.to(device).eval(), saved.get("train") or {}
