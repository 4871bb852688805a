"""Instantiate a model spec: registry lookup plus the arguments the runner injects."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from segbench.core import INJECTED_MODEL_ARGS
from segbench.registry import MODELS

if TYPE_CHECKING:
    from torch import nn

__all__ = ["INJECTED_ARGS", "build_model", "count_parameters", "injected_arguments"]

#: Model arguments derived from the dataset and patch budget; a suite never sets them.
#: (An alias of ``segbench.core.INJECTED_MODEL_ARGS``, kept for existing importers.)
INJECTED_ARGS = INJECTED_MODEL_ARGS


def injected_arguments(
    spatial_dims: int, in_channels: int, out_channels: int, img_size: Sequence[int] | None
) -> dict[str, Any]:
    """Arguments derived from the dataset and patch budget, never set in a suite."""
    return {
        "spatial_dims": spatial_dims,
        "in_channels": in_channels,
        "out_channels": out_channels,
        "img_size": tuple(img_size) if img_size is not None else None,
    }


def build_model(
    name: str,
    params: Mapping[str, Any],
    *,
    spatial_dims: int,
    in_channels: int = 1,
    out_channels: int = 1,
    img_size: Sequence[int] | None = None,
) -> nn.Module:
    """Build ``name`` (registered or ``module:callable``) with suite ``params``.

    Only the injected arguments a factory declares are passed, so a user factory may
    ignore, say, ``img_size``.
    """
    from torch import nn

    factory = MODELS.get(name).load()
    accepted = inspect.signature(factory).parameters
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
    injected = injected_arguments(spatial_dims, in_channels, out_channels, img_size)
    kwargs = {k: v for k, v in injected.items() if v is not None and (k in accepted or takes_kwargs)}
    kwargs.update(params)
    size_param = accepted.get("img_size")
    if size_param is not None and size_param.default is size_param.empty and "img_size" not in kwargs:
        raise ValueError(
            f"model {name!r} needs a fixed input size (img_size), but the dataset's images differ in "
            "size and the patch budget is 'full': set the dataset's size: (resize every image) or a "
            "patch_budget with a size"
        )
    model = factory(**kwargs)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model {name!r} returned {type(model).__name__}, expected a torch.nn.Module")
    return model


def count_parameters(model: nn.Module) -> int:
    """Trainable parameter count (stored with every job)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
