"""The training loop: MONAI loss, Adam, validation every k epochs, best checkpoint.

Why hand-written rather than MONAI's ignite engines: the loop is ~40 lines, keeps the
runner's overhead measurable against a plain MONAI loop (``benchmarks/overhead.py``),
and avoids an ignite dependency.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.losses import DiceCELoss, DiceLoss

from segbench.cases import Case
from segbench.metrics.overlap import dice
from segbench.models.contract import ModelOutputError, checked_logits, out_channels_for
from segbench.suite.schema import TrainConfig
from segbench.worker.infer import Predictor

__all__ = ["Resume", "TrainResult", "make_loss", "peak_memory_mb", "train_model"]

EpochCallback = Callable[[int, int, float, float | None], None]


@dataclass
class TrainResult:
    """What happened on the way to the best-validation weights (loaded into the model)."""

    best_epoch: int
    best_val_dice: float
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class Resume:
    """Where a job's training state lives and how often it is written (epochs; 0 = never)."""

    path: Path
    every: int = 5


def make_loss(cfg: TrainConfig) -> torch.nn.Module:
    """DiceLoss (sigmoid, or softmax on one-hot targets) as the studies; optional Dice+CE."""
    kwargs = {"sigmoid": True} if cfg.activation == "sigmoid" else {"softmax": True, "to_onehot_y": True}
    return DiceCELoss(**kwargs) if cfg.loss == "dice_ce" else DiceLoss(**kwargs)


def train_model(
    model: torch.nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    val_cases: Sequence[Case],
    cfg: TrainConfig,
    device: torch.device,
    predictor: Predictor,
    on_epoch: EpochCallback | None = None,
    resume: Resume | None = None,
) -> TrainResult:
    """Train ``model`` in place, leaving its best-validation weights loaded (last epoch if no val set).

    With ``resume``, the full training state (model, optimiser, scheduler, grad scaler,
    every RNG state incl. the batch sampler's, best-so-far, history) is written atomically
    every ``resume.every`` epochs, and a run that finds that file continues after its
    epoch, ending with the same weights as an uninterrupted run (on CPU; CUDA kernels may
    differ in the last bits unless ``train.deterministic``).

    Raises:
        FloatingPointError: the loss became NaN/inf (recorded as a failed job).
    """
    start = time.perf_counter()
    model.to(device)
    loss_fn = make_loss(cfg)
    if not any(p.requires_grad for p in model.parameters()):
        raise ModelOutputError(
            "the model has no trainable parameters; to evaluate a model that is already trained, "
            "give the suite entry 'weights:' or 'pretrained: true'"
        )
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg.epochs)
        if cfg.scheduler == "cosine"
        else None
    )
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    best_state, best_epoch, best_dice = None, 0, -math.inf
    history: list[dict[str, Any]] = []
    first_epoch, seconds_before = 1, 0.0
    saved = _load_state(resume)
    if saved is not None:
        from segbench.worker.resume import restore_rng

        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        best_state, best_epoch, best_dice = saved["best_state"], saved["best_epoch"], saved["best_dice"]
        history, seconds_before = saved["history"], saved["seconds"]
        first_epoch = saved["epoch"] + 1
        restore_rng(saved["rng"], batches)
    out_channels = out_channels_for(cfg.activation)
    for epoch in range(first_epoch, cfg.epochs + 1):
        model.train()
        losses = []
        for x, y in batches:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):
                loss = loss_fn(checked_logits(model(x), x, out_channels), y)
                extra = getattr(model, "regularization_loss", None)  # e.g. gated_unet's gate L1
                if callable(extra):
                    loss = loss + extra()
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at epoch {epoch}")
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(loss.item())
        if scheduler is not None:
            scheduler.step()
        val_dice = None
        if val_cases and (epoch % cfg.val_every == 0 or epoch == cfg.epochs):
            val_dice = _mean_dice(model, val_cases, predictor)
            if val_dice > best_dice:
                best_state, best_epoch, best_dice = copy.deepcopy(model.state_dict()), epoch, val_dice
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_dice": val_dice})
        if on_epoch:
            on_epoch(epoch, cfg.epochs, float(np.mean(losses)), val_dice)
        if resume is not None and resume.every and epoch % resume.every == 0 and epoch < cfg.epochs:
            from segbench.worker.checkpoint import save_payload
            from segbench.worker.resume import capture_rng

            state = {
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "scaler": scaler.state_dict(),
                "best_state": best_state,
                "best_epoch": best_epoch,
                "best_dice": best_dice,
                "history": history,
                "seconds": seconds_before + time.perf_counter() - start,
                "rng": capture_rng(batches),
            }
            save_payload(resume.path, state)
    if best_state is None:
        best_state, best_epoch, best_dice = copy.deepcopy(model.state_dict()), cfg.epochs, math.nan
    model.load_state_dict(best_state)
    return TrainResult(best_epoch, best_dice, history, seconds_before + time.perf_counter() - start)


def _load_state(resume: Resume | None) -> dict[str, Any] | None:
    """The saved training state, or None (none yet, or unusable: quarantined, start over)."""
    if resume is None or not resume.path.exists():
        return None
    import warnings

    from segbench.worker.checkpoint import CheckpointError, load_payload

    try:
        return load_payload(resume.path)
    except CheckpointError as exc:
        warnings.warn(f"{exc}; training starts from epoch 1", stacklevel=2)
        return None


def _mean_dice(model: torch.nn.Module, cases: Sequence[Case], predictor: Predictor) -> float:
    masks = predictor.predict(model, [c.image for c in cases])
    scores = [dice(m, c.label) for m, c in zip(masks, cases, strict=True)]
    finite = [s for s in scores if not math.isnan(s)]
    return float(np.mean(finite)) if finite else 0.0


def peak_memory_mb(device: torch.device) -> float:
    """CUDA peak allocated memory, or this process's resident memory now on CPU (MB).

    Per-job peaks come from ``segbench.worker.memory.PeakMemory`` (the process-lifetime
    ``ru_maxrss`` is wrong for every job after the largest one).
    """
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    from segbench.worker.memory import current_rss_mb

    return current_rss_mb()
