"""``segbench run --shard I/N``: which of a suite's jobs this machine runs (pure, no I/O).

Why a split of the whole suite by job key (not of what is pending here): each machine starts
from its own folder, so what is "pending" differs between them; a rule that depends only on the
suite gives N disjoint parts that together cover every job, whatever each folder already holds,
and ``segbench merge`` then joins them into the store one machine would have built.

Members of an ensemble stay in one part, so the ensemble runs where its members' checkpoints
are.  Parts are balanced by job count: groups are dealt largest first to the lightest part,
ties broken by the smallest job key, so every machine computes the same assignment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ShardSpec", "shard_keys"]


@dataclass(frozen=True)
class ShardSpec:
    """Part ``index`` (1-based) of ``count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> ShardSpec:
        """``"2/3"`` -> ``ShardSpec(2, 3)``.

        Raises:
            ValueError: not ``I/N`` with ``1 <= I <= N`` (the message shows the value).
        """
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise ValueError(f"--shard must be I/N with 1 <= I <= N (e.g. 1/2), got {text!r}")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_keys(job_keys: Iterable[str], groups: Iterable[Iterable[str]], shard: ShardSpec) -> set[str]:
    """The job keys part ``shard`` runs.

    Args:
        job_keys: every job key of the suite (duplicates ignored).
        groups: keys that must run in the same part (each ensemble's members).
        shard: which part.

    Returns:
        A subset of ``job_keys``; the parts 1..N are disjoint and cover ``job_keys``.
    """
    keys = sorted(set(job_keys))
    parent = {k: k for k in keys}

    def root(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for group in groups:
        members = sorted(k for k in set(group) if k in parent)
        for key in members[1:]:
            a, b = root(members[0]), root(key)
            if a != b:
                parent[max(a, b)] = min(a, b)
    components: dict[str, list[str]] = {}
    for key in keys:
        components.setdefault(root(key), []).append(key)
    loads = [0] * shard.count
    mine: set[str] = set()
    for members in sorted(components.values(), key=lambda m: (-len(m), m[0])):
        part = min(range(shard.count), key=lambda i: (loads[i], i))
        loads[part] += len(members)
        if part == shard.index - 1:
            mine.update(members)
    return mine
