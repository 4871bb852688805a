"""Models trained elsewhere: weights files, their content hash, loading and architecture checks.

Why a module of its own: a suite may name ``weights:`` (a checkpoint loaded into the model the
suite builds) or ``pretrained: true`` (a ``module:callable`` that returns a trained model).  Such a
model is evaluated under every condition and never trained, so three stages need the same answers:

* ``plan`` puts the weights file's *content* hash into the job key (new weights are new results;
  moving or renaming the file is not);
* ``suite.validate`` loads the checkpoint and checks it against the architecture before anything
  runs (a mismatch names the missing/unexpected keys and the shape mismatches);
* the worker loads the weights instead of training.

Checkpoints load with ``torch.load(weights_only=True)`` (no pickled code runs).  Accepted contents:
a raw state dict, ``{"state_dict": state_dict, ...}`` (segbench's own ``results/checkpoints/*.pt``
and Lightning's format), and either with the ``module.`` prefix ``DataParallel`` adds.  torch is
imported inside the functions that need it, so ``validate``/``list`` of a suite without weights stay
torch-free.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segbench.core.records import TrainRecord

if TYPE_CHECKING:
    from torch import nn

    from segbench.suite.schema import ModelSpec, Suite

__all__ = [
    "WeightsError",
    "apply_pretrained",
    "check_model_weights",
    "file_sha256",
    "is_pretrained",
    "load_weights",
    "match_state_dict",
    "read_state_dict",
    "resolve_path",
    "weights_fingerprint",
]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SHOW = 5  # keys listed per kind in a mismatch message; the rest are counted


class WeightsError(ValueError):
    """A weights file that is missing, not a checkpoint, or does not fit the architecture."""


def is_pretrained(spec: ModelSpec) -> bool:
    """True when the model is loaded (``weights:``) or returned trained (``pretrained: true``)."""
    return bool(getattr(spec, "weights", None)) or bool(getattr(spec, "pretrained", False))


def resolve_path(text: str) -> Path:
    """``text`` with ``${NAME}`` environment variables substituted, as a path.

    Raises:
        WeightsError: a referenced variable is unset.
    """

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise WeightsError(f"environment variable {name} (in {text!r}) is not set; export it first")
        return os.environ[name]

    return Path(_ENV.sub(substitute, text)).expanduser()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (cached per path, size and modification time)."""
    stat = path.stat()
    return _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_fingerprint(spec: ModelSpec) -> dict[str, Any] | None:
    """What identifies a pretrained model's weights in its job key; None for a trained model.

    ``weights:`` contributes the file's content hash.  A ``pretrained: true`` callable loads its own
    checkpoint, so every string parameter naming an existing file (``ckpt: model.pt``) contributes
    that file's content hash: replacing the file gives new results.

    Raises:
        WeightsError: the weights file does not exist (``segbench validate`` reports it first).
    """
    if not is_pretrained(spec):
        return None
    out: dict[str, Any] = {"pretrained": True}
    if spec.weights:
        path = resolve_path(spec.weights)
        if not path.is_file():
            raise WeightsError(f"weights file {path} does not exist (model {spec.display!r})")
        out["weights_sha256"] = file_sha256(path)
    files = {}
    for key, value in sorted(spec.params.items()):
        if isinstance(value, str) and ("/" in value or "." in value):
            try:
                path = resolve_path(value)
            except WeightsError:
                continue
            if path.is_file():
                files[key] = file_sha256(path)
    if files:
        out["param_files_sha256"] = files
    return out


def read_state_dict(path: Path) -> dict[str, Any]:
    """The state dict stored in ``path`` (raw, or under ``"state_dict"``), on the CPU.

    Raises:
        WeightsError: missing file, not a PyTorch checkpoint, or no state dict inside (one line each).
    """
    import torch

    if path.is_dir():
        raise WeightsError(f"weights {path} is a folder; give the checkpoint file inside it")
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, KeyError, RuntimeError... for non-checkpoints
        first = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
        raise WeightsError(
            f"weights file {path} is not a PyTorch checkpoint loadable with weights_only=True ({first[:160]})"
        ) from None
    state = payload.get("state_dict", payload) if isinstance(payload, Mapping) else None
    if (
        not isinstance(state, Mapping)
        or not state
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())
    ):
        found = sorted(payload)[:8] if isinstance(payload, Mapping) else type(payload).__name__
        raise WeightsError(
            f"weights file {path} holds no state dict (expected name -> tensor, raw or under "
            f"'state_dict'; found {found})"
        )
    keys = list(state)
    if all(k.startswith("module.") for k in keys):  # saved from DataParallel / DDP
        return {k.removeprefix("module."): v for k, v in state.items()}
    return dict(state)


def match_state_dict(model: nn.Module, state: Mapping[str, Any]) -> str | None:
    """One line describing how ``state`` does not fit ``model``; None when it fits exactly.

    Names the missing keys (in the model, not the file), the unexpected ones (in the file, not the
    model) and the shape mismatches, at most five of each with a count of the rest.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    kinds = (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes))
    return "; ".join(f"{label} ({len(items)}): {_some(items)}" for label, items in kinds if items) or None


def _some(items: list[str]) -> str:
    more = f", ... +{len(items) - _SHOW} more" if len(items) > _SHOW else ""
    return ", ".join(items[:_SHOW]) + more


def load_weights(model: nn.Module, path: Path, label: str = "model") -> nn.Module:
    """Load the checkpoint at ``path`` into ``model`` after checking that it fits.

    Raises:
        WeightsError: unreadable file or an architecture mismatch (one line naming the keys).
    """
    state = read_state_dict(path)
    problem = match_state_dict(model, state)
    if problem:
        raise WeightsError(f"weights {path} do not match {label}'s architecture: {problem}")
    model.load_state_dict(state, strict=True)
    return model


def apply_pretrained(model: nn.Module, spec: ModelSpec, patch_size: list[int] | None) -> TrainRecord:
    """Load ``spec.weights`` into ``model`` (a ``pretrained: true`` model is already trained).

    Returns:
        The job's ``train`` record: no training happened, so only the parameter count, the
        weights' identity and the inference patch size (``None``: whole images).
    """
    from segbench.models.build import count_parameters

    record = TrainRecord(
        pretrained=True, n_params=0, train_seconds=0.0, patch_size=patch_size, n_train=0, n_val=0
    )
    if spec.weights:
        path = resolve_path(spec.weights)
        load_weights(model, path, repr(spec.display))
        record.weights, record.weights_sha256 = str(path), file_sha256(path)
    record.n_params = count_parameters(model)
    return record


def check_model_weights(suite: Suite, issue: Callable[..., None]) -> None:
    """Report (via ``issue(loc, message, value=...)``) every ``weights:`` file that is missing, is
    not a checkpoint, or does not fit its architecture for the suite's datasets.

    Why here, before any job starts: a checkpoint of another architecture must fail in a second
    with the keys to fix, not after the data is built.  Loads torch only when a model has weights.
    The architecture check builds the model as the worker would (spatial dims from the dataset,
    output channels from ``train.activation``); a model that cannot be built without the data
    (e.g. needs an image size not known here) is left to the worker, which runs the same check
    before evaluating anything.
    """
    for i, spec in enumerate(suite.models):
        if spec.pretrained and not spec.weights and ":" not in spec.name:
            issue(
                ("models", i, "pretrained"),
                f"{spec.name!r} is a registered (untrained) model; 'pretrained: true' needs a "
                "'package.module:callable' that returns a trained model, or give 'weights:'",
            )
        if not spec.weights:
            continue
        loc = ("models", i, "weights")
        try:
            path = resolve_path(spec.weights)
            state = read_state_dict(path)
        except WeightsError as exc:
            issue(loc, str(exc))
            continue
        for dims, img_size in _build_shapes(suite):
            model = _try_build(spec, dims, suite.train.activation, img_size)
            problem = match_state_dict(model, state) if model is not None else None
            if problem:
                issue(loc, f"weights {path} do not match the architecture ({dims}D): {problem}")
                break


def _build_shapes(suite: Suite) -> list[tuple[int, tuple[int, ...] | None]]:
    """(spatial dims, image size or None) of each dataset, as far as known without the data."""
    from segbench.registry import DATASETS

    shapes = []
    for spec in suite.datasets:
        if spec.name not in DATASETS:
            continue
        dims = DATASETS.get(spec.name).spatial_dims(spec.params) or 2
        patch = next((b for b in suite.patch_budget if b != "full"), None)
        size = spec.params.get("size")
        if patch is not None:
            from segbench.suite.patches import patch_size

            img: tuple[int, ...] | None = patch_size(patch, dims)
        else:
            img = (int(size),) * dims if isinstance(size, int) else None
        if (dims, img) not in shapes:
            shapes.append((dims, img))
    return shapes


def _try_build(spec: ModelSpec, dims: int, activation: str, img_size: tuple[int, ...] | None) -> Any:
    from segbench.models.build import build_model
    from segbench.models.contract import out_channels_for

    try:
        return build_model(
            spec.name,
            spec.params,
            spatial_dims=dims,
            out_channels=out_channels_for(activation),
            img_size=img_size,
        )
    except Exception:  # unbuildable here (other checks report bad names/params); the worker checks again
        return None
