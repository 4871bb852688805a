"""Real datasets probed from their first file: a shift must fit the model the training set trains.

Light (headers only, through each dataset's registry ``probe`` hook), so ``segbench validate``
finds a 3-channel shift against a 1-channel training set in a second, naming both files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from segbench.registry import Entry
from segbench.suite.errors import show

__all__ = ["check_shift_fits", "probe"]

Loc = tuple[Any, ...]
Issue = Callable[..., None]


def check_shift_fits(
    label: Any,
    entry: Entry,
    params: dict[str, Any],
    loc: Loc,
    datasets: list[tuple[int, Entry, dict[str, Any]]],
    issue: Issue,
) -> None:
    """A shift dataset gives the model what it was trained on: spatial dims and channel count.

    Why here: a mismatch used to validate ``ok`` and fail every job after training, naming neither
    the shift nor a file.  The shift inherits the training dataset's preprocessing it does not set.
    """
    from segbench.datasets.preprocess import PREPROCESSING, RESAMPLING

    for i, train_entry, train_params in datasets:
        trained = probe(train_entry, train_params)
        if trained is None:
            continue
        inherited = {k: v for k, v in train_params.items() if k in (*PREPROCESSING[:4], *RESAMPLING)}
        tested = probe(entry, {**inherited, **params})
        if tested is None:
            continue
        for what in ("dims", "channels"):
            if tested[what] != trained[what]:
                noun = "spatial dims" if what == "dims" else "image channels"
                issue(
                    loc,
                    f"dataset shift {show(label)}: {tested['file']} gives {tested[what]} {noun} but training "
                    f"dataset datasets.{i} ({trained['file']}) gives {trained[what]}; "
                    + (
                        "set the same 'channels' on both"
                        if what == "channels"
                        else "use 2D with 2D, 3D with 3D"
                    ),
                )


def probe(entry: Entry, params: dict[str, Any]) -> dict[str, Any] | None:
    """A real dataset's ``probe`` hook result (dims, channels, file, test_only), else None."""
    hook = entry.meta.get("probe")
    try:
        return hook(dict(params)) if callable(hook) else None
    except Exception:  # a probe never breaks validation: ``check`` reports unreadable files
        return None
