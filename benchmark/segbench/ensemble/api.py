"""The run/plan hooks for ensembles (``segbench.api`` calls these; no torch at import)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from segbench.plan.ensembles import EnsembleJob
from segbench.store import Store

__all__ = ["ensemble_lines", "run_pending_ensembles"]


def ensemble_lines(ensembles: Sequence[EnsembleJob], done: set[str]) -> list[str]:
    """Dry-run lines: each ensemble job, its members and which conditions are already evaluated."""
    out = []
    for ens in ensembles:
        todo = sum(ens.condition_key(c) not in done for c in ens.conditions)
        state = "done" if not todo else f"{todo} conditions to evaluate (no training)"
        out.append(f"  {ens.key}  {ens.describe():<48} {state}")
        out.append(
            f"      members: {', '.join(f'{m.model.display} seed={m.seed} ({m.key})' for m in ens.members)}"
        )
    return out


def run_pending_ensembles(
    ensembles: Sequence[EnsembleJob], store: Store, results: Path, device: str | None
) -> list[tuple[str, str]]:
    """Evaluate every ensemble condition the store lacks; returns ``(ensemble, error)`` for failures.

    An ensemble whose members are not all trained (a member failed) is reported as failed, naming
    the members, and is retried by the next run.
    """
    failed: list[tuple[str, str]] = []
    done, trained = store.done_conditions(), store.trained_jobs()
    for ens in ensembles:
        pending = tuple(c for c in ens.conditions if ens.condition_key(c) not in done)
        if not pending:
            continue
        missing = [m.describe() for m in ens.members if m.key not in trained]
        if missing:
            failed.append((ens.describe(), f"members not trained: {', '.join(missing)}"))
            continue
        from segbench.worker.ensemble import run_ensemble

        shard = store.ingest(run_ensemble(ens, pending, results, device))
        if shard is not None and not shard.ok:
            error = (shard.error or "").strip().splitlines()
            failed.append((ens.describe(), error[-1] if error else "unknown error"))
    return failed
