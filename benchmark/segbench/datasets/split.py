"""Deterministic train/val/test split of real cases, by subject when a ``group`` regex is given.

Why a hash of the subject name instead of a random permutation: the split is then a function
of the case ids alone, so the same images as a datalist or as an nnU-Net folder split the same
way (their runner seeds differ), and adding a case moves no other case between splits except
at a split boundary.

Why by group: two slices or two photos of one patient in train and test inflate test
scores (leakage); ``group`` extracts the subject from each file stem so a subject's cases
always land in one split.  Lists a layout fixes (a datalist's ``validation``/``test``, GlaS
``testA``/``testB``) are kept; only the missing ones are made from the rest.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from segbench.cases import Case
from segbench.datasets.errors import DataError

__all__ = ["check_group", "check_split", "group_of", "split_cases"]

SUBSETS = ("train", "val", "test")


def check_split(split: Any) -> tuple[float, float, float]:
    """``split`` as three non-negative fractions (train, val, test) summing to 1."""
    try:
        fractions = tuple(float(f) for f in split)
    except (TypeError, ValueError):
        raise ValueError(f"split={split!r} must be three numbers (train, val, test fractions)") from None
    if len(fractions) != 3 or any(f < 0 or not math.isfinite(f) for f in fractions):
        raise ValueError(f"split={split!r} must be three non-negative fractions (train, val, test)")
    if not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"split={split!r} must sum to 1 (sums to {sum(fractions):g})")
    return fractions[0], fractions[1], fractions[2]


def check_group(group: str | None) -> re.Pattern[str] | None:
    """Compile the ``group`` regex; its first capture group (or whole match) names the subject."""
    if group is None:
        return None
    try:
        return re.compile(group)
    except re.error as exc:
        raise ValueError(f"group={group!r} is not a valid regular expression ({exc})") from None


def group_of(case_id: str, pattern: re.Pattern[str] | None) -> str:
    """The subject of a case: the regex's first group (whole match if none); the id itself without a regex."""
    if pattern is None:
        return case_id
    match = pattern.search(case_id)
    if match is None:
        raise DataError(
            f"group={pattern.pattern!r} does not match case {case_id!r}; every file stem needs a subject "
            r"(e.g. group: '^(\d+)_' for '21_training')"
        )
    return match.group(1) if match.groups() else match.group(0)


def split_cases(
    cases: Sequence[Case],
    subsets: dict[str, str | None],
    split: tuple[float, float, float],
    pattern: re.Pattern[str] | None,
) -> dict[str, list[Case]]:
    """Assign each case to train/val/test.

    Args:
        cases: all labelled cases (sorted by id for determinism).
        subsets: case id -> subset fixed by the layout, or ``None`` (to be split).
        split: fractions; the missing subsets share the free cases in proportion.  A validation
            share of 0 leaves ``val`` empty (training then keeps its last epoch).
        pattern: compiled ``group`` regex or ``None`` (each case its own subject).

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}``, each sorted by case id.

    Raises:
        DataError: a split would be empty (too few subjects for the fractions).
    """
    out: dict[str, list[Case]] = {s: [] for s in SUBSETS}
    free: dict[str, list[Case]] = {}
    for case in sorted(cases, key=lambda c: c.case_id):
        fixed = subsets.get(case.case_id)
        if fixed is not None:
            out[fixed].append(case)
        else:
            free.setdefault(group_of(case.case_id, pattern), []).append(case)
    # A zero validation share is a choice (train.validation: none, last-epoch training): val may be empty.
    optional = {"val"} if split[1] == 0 else set()
    missing = [s for s in SUBSETS if not out[s] and s not in optional]
    if free and not missing:
        missing = ["train"]  # extra unlisted cases join training
    weights = np.array([split[SUBSETS.index(s)] for s in missing], dtype=float)
    if free and weights.sum() <= 0:
        raise DataError(f"split={list(split)} gives no share to the missing lists {missing}")
    subjects = sorted(free)
    order = sorted(subjects, key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    counts = _counts(len(order), weights / max(weights.sum(), 1e-12))
    start = 0
    for subset, count in zip(missing, counts, strict=True):
        for subject in order[start : start + count]:
            out[subset].extend(free[subject])
        start += count
    empty = [s for s in SUBSETS if not out[s] and s not in optional]
    if empty:
        raise DataError(
            f"split={list(split)} over {len(subjects)} subjects leaves {', '.join(empty)} empty; "
            "every split needs a case (add data, change split, or list it explicitly)"
        )
    return {s: sorted(v, key=lambda c: c.case_id) for s, v in out.items()}


def _counts(n: int, weights: np.ndarray) -> list[int]:
    """Rounded shares of ``n`` (the last takes the rest); a positive share gets >= 1 when n allows."""
    counts = [round(float(n * w)) for w in weights[:-1]]
    counts.append(n - sum(counts))
    for i, w in enumerate(weights):
        if w > 0 and counts[i] < 1:
            donor = int(np.argmax(counts))
            if counts[donor] > 1:
                counts[donor] -= 1
                counts[i] += 1
    return counts
