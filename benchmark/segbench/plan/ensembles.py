"""Suite ``ensembles:`` -> ensemble jobs: member train jobs plus the conditions to evaluate (pure).

An ensemble job looks like a train job to the store and the report (``key``, ``model.display``,
``seed``, ``conditions``, ``condition_key``): it is a pseudo-job whose per-case rows sit beside the
models' and pair with them in the statistics. Its key hashes the members' job keys (never labels),
so renaming an ensemble reuses its results and a member retrained under a new key re-evaluates it.

Seeds: ``{model: unet, seeds: all}`` pools seeds, so there is one ensemble per training condition
and it is recorded with seed 0 (one "seed", k = 1, in the statistics); a list of labels combines the
models trained with the *same* seed, one ensemble per seed, recorded under that seed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from segbench.core.records import JobRecord, MemberRecord
from segbench.plan.jobs import EvalCondition, TrainJob
from segbench.suite.schema import DatasetSpec, EnsembleMembers, ModelSpec, PatchBudget, Suite, TrainConfig

__all__ = ["ENSEMBLE_MODEL", "ENSEMBLE_PROTOCOL", "POOLED_SEED", "EnsembleJob", "expand_ensembles"]

#: the ``model`` (registry-name) column of an ensemble's rows; its label is the suite's ``label``
ENSEMBLE_MODEL = "ensemble"
#: bump when the meaning of ensemble evaluation changes (probability averaging, mask rule)
ENSEMBLE_PROTOCOL = 1
#: seed recorded for an ensemble that pools training seeds
POOLED_SEED = 0


@dataclass(frozen=True)
class EnsembleJob:
    """One ensemble under one training condition (and seed, for cross-architecture ensembles)."""

    suite: str
    label: str
    members: tuple[TrainJob, ...]
    seed: int
    key: str

    @property
    def model(self) -> ModelSpec:
        keys = [m.key for m in self.members]
        return ModelSpec(name=ENSEMBLE_MODEL, label=self.label, params={"members": keys})

    @property
    def dataset(self) -> DatasetSpec:
        return self.members[0].dataset

    @property
    def complexity(self) -> float | None:
        return self.members[0].complexity

    @property
    def patch(self) -> PatchBudget | None:
        return self.members[0].patch

    @property
    def data_seed(self) -> int:
        return self.members[0].data_seed

    @property
    def train(self) -> TrainConfig:
        return self.members[0].train

    @property
    def conditions(self) -> tuple[EvalCondition, ...]:
        return self.members[0].conditions

    def condition_key(self, condition: EvalCondition) -> str:
        """Content key of one (ensemble, condition) evaluation (same recipe as a train job's)."""
        return TrainJob.condition_key(self, condition)  # type: ignore[arg-type]

    def describe(self) -> str:
        parts = [f"{self.label} (ensemble of {len(self.members)})", self.dataset.name]
        if self.complexity is not None:
            parts.append(f"c={self.complexity:g}")
        parts.append("seeds pooled" if self.seed == POOLED_SEED else f"seed={self.seed}")
        return " ".join(parts)

    def record(self) -> JobRecord:
        """The shard's ``job`` record: shaped like a train job's, plus the members."""
        return (
            self.members[0]
            .record()
            .model_copy(
                update={
                    "model": ENSEMBLE_MODEL,
                    "model_label": self.label,
                    "model_params": {"members": [m.key for m in self.members]},
                    "members": [
                        MemberRecord(job_key=m.key, model=m.model.display, seed=m.seed) for m in self.members
                    ],
                    "seed": self.seed,
                }
            )
        )


def expand_ensembles(suite: Suite, jobs: Sequence[TrainJob]) -> list[EnsembleJob]:
    """The ensemble jobs of ``suite`` given its expanded train ``jobs`` (stable order)."""
    out = []
    by_condition: dict[tuple[str, str], list[TrainJob]] = {}
    for job in jobs:
        by_condition.setdefault((_condition_id(job), job.model.display), []).append(job)
    conditions = list(dict.fromkeys(_condition_id(j) for j in jobs))
    for spec in suite.ensembles:
        for cond in conditions:
            if isinstance(spec.members, EnsembleMembers):
                runs = by_condition.get((cond, spec.members.model), [])
                wanted = suite.seeds if spec.members.seeds == "all" else spec.members.seeds
                groups = [(POOLED_SEED, tuple(j for j in runs if j.seed in wanted))]
            else:
                groups = []
                for seed in suite.seeds:
                    members = tuple(
                        j
                        for label in spec.members
                        for j in by_condition.get((cond, label), [])
                        if j.seed == seed
                    )
                    groups.append((seed, members))
            for seed, members in groups:
                if members:
                    out.append(EnsembleJob(suite.name, spec.label, members, seed, ensemble_key(members)))
    return out


def ensemble_key(members: Sequence[TrainJob]) -> str:
    """Content hash of the (sorted) member job keys."""
    text = json.dumps(
        {"members": sorted(m.key for m in members), "protocol": ENSEMBLE_PROTOCOL}, sort_keys=True
    )
    return "e" + hashlib.sha256(text.encode()).hexdigest()[:15]


def _condition_id(job: TrainJob) -> str:
    """Everything but model and seed: which jobs can be ensembled together."""
    patch = job.patch.model_dump(mode="json") if job.patch else "full"
    return json.dumps([job.dataset.model_dump(mode="json"), job.complexity, patch], sort_keys=True)
