"""The training loop: MONAI loss, Adam, validation every k epochs, best checkpoint.

Why hand-written rather than MONAI's ignite engines: the loop is ~40 lines, keeps the
runner's overhead measurable against a plain MONAI loop (``benchmarks/overhead.py``),
and avoids an ignite dependency.
"""

from __future__ import annotations

import copy
import math
import resource
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from monai.losses import DiceCELoss, DiceLoss

from segbench.cases import Case
from segbench.metrics.overlap import dice
from segbench.suite.schema import TrainConfig
from segbench.worker.infer import Predictor

__all__ = ["TrainResult", "make_loss", "peak_memory_mb", "train_model"]

EpochCallback = Callable[[int, int, float, float | None], None]


@dataclass
class TrainResult:
    """What happened on the way to the best-validation weights (loaded into the model)."""

    best_epoch: int
    best_val_dice: float
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


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
) -> TrainResult:
    """Train ``model`` in place, leaving its best-validation weights loaded (last epoch if no val set).

    Raises:
        FloatingPointError: the loss became NaN/inf (recorded as a failed job).
    """
    start = time.perf_counter()
    model.to(device)
    loss_fn = make_loss(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg.epochs)
        if cfg.scheduler == "cosine"
        else None
    )
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    best_state, best_epoch, best_dice = None, 0, -math.inf
    history = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        losses = []
        for x, y in batches:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):
                loss = loss_fn(model(x), y)
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
    if best_state is None:
        best_state, best_epoch, best_dice = copy.deepcopy(model.state_dict()), cfg.epochs, math.nan
    model.load_state_dict(best_state)
    return TrainResult(best_epoch, best_dice, history, time.perf_counter() - start)


def _mean_dice(model: torch.nn.Module, cases: Sequence[Case], predictor: Predictor) -> float:
    masks = predictor.predict(model, [c.image for c in cases])
    scores = [dice(m, c.label) for m, c in zip(masks, cases, strict=True)]
    finite = [s for s in scores if not math.isnan(s)]
    return float(np.mean(finite)) if finite else 0.0


def peak_memory_mb(device: torch.device) -> float:
    """CUDA peak allocated memory, or the process's peak RSS on CPU (MB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
