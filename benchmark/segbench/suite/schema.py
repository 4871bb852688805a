"""The suite file's shape (pydantic v2).

Why pydantic: field types, defaults and "extra key" errors come with a location path
that ``suite.load`` maps back to a YAML line.  Checks that need the registries (model,
dataset and perturbation names, factory parameters) live in ``suite.validate``.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from segbench.core.defaults import BASELINE_MODEL

__all__ = [
    "DatasetShift",
    "DatasetSpec",
    "EnsembleMembers",
    "EnsembleSpec",
    "ExecutorConfig",
    "ModelSpec",
    "PatchBudget",
    "PerturbationSpec",
    "Suite",
    "TrainConfig",
]

Severity = int


Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
"""A seed: numpy's and SQLite's range (0 .. 2**32 - 1); a larger one crashed the store on ingest."""


class _Strict(BaseModel):
    # strict: YAML already gives typed scalars, so "8" for an int, true for a seed or "yes" for a
    # bool is a mistake to report, not to coerce; no inf/nan in any number (lr: .inf).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _name_shorthand(value: Any) -> Any:
    """Allow ``- unet`` as shorthand for ``- {name: unet}``."""
    return {"name": value} if isinstance(value, str) else value


class ModelSpec(_Strict):
    """A registered model name or ``package.module:callable``, with MONAI-named params."""

    name: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    label: str | None = Field(default=None, description="display name; defaults to name")
    weights: str | None = Field(
        default=None, min_length=1, description="checkpoint to load instead of training (suite.weights)"
    )
    pretrained: bool = Field(default=False, description="the callable returns a trained model: never train")

    @property
    def display(self) -> str:
        return self.label or self.name


class DatasetSpec(_Strict):
    """A registered dataset with its parameters (size, textures, ...).

    ``label`` names it in reports, exports and CSVs (default: the registry name, or for a
    datalist its JSON's ``name`` field); like a model label it never enters a job key.
    """

    name: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    label: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")


class PerturbationSpec(_Strict):
    """``none`` (in-domain), a preset (``harder``...) or a perturbation with severities 1..5."""

    name: str = Field(min_length=1)
    severity: list[Severity] | None = None
    p: float = Field(default=1.0, ge=0.0, le=1.0, description="probability per sample (train-time only)")
    # report-only (excluded from dumps, so job keys of augmenting suites do not change)
    direction: Literal["harder", "easier"] | None = Field(
        default=None,
        exclude=True,
        description="overrides the catalogue's direction of this shift (the report's drop)",
    )

    @field_validator("severity", mode="before")
    @classmethod
    def _scalar_severity(cls, value: Any) -> Any:
        return [value] if isinstance(value, int) and not isinstance(value, bool) else value


class DatasetShift(_Strict):
    """A test set drawn from the same cases with other (test-only) dataset parameters.

    E.g. ``{label: unseen_textures, params: {test_fg_texture: brick, test_bg_texture: grass}}``
    tests on a texture pair never seen in training, without retraining anything.  Or another
    dataset (train on site A, test on site B):
    ``{label: site_B, dataset: {name: datalist, params: {path: ${SEGBENCH_DATA}/siteB.json}}}``,
    preprocessed as the training dataset unless its params say otherwise.  ``perturbations``
    (names, presets, severities as in the suite's list) are also applied on top of that dataset,
    each reported as ``<label>+<perturbation>``.
    """

    label: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    params: dict[str, Any] | None = Field(default=None, min_length=1)
    dataset: DatasetSpec | None = None
    perturbations: list[PerturbationSpec] = Field(default_factory=list)

    @field_validator("perturbations", mode="before")
    @classmethod
    def _perturbation_shorthand(cls, value: Any) -> Any:
        return [_name_shorthand(v) for v in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _params_or_dataset(self) -> DatasetShift:
        if (self.params is None) == (self.dataset is None):
            raise ValueError("give exactly one of 'params' (test-only params) or 'dataset' (another dataset)")
        if self.perturbations and self.dataset is None:
            raise ValueError("'perturbations' on top of a shift need 'dataset' (another dataset)")
        return self


class EnsembleMembers(_Strict):
    """One model's runs over several training seeds (a deep ensemble): ``{model: unet, seeds: all}``."""

    model: str = Field(min_length=1, description="a model label of this suite")
    seeds: Literal["all"] | list[Seed] = Field(
        default="all", description="'all' or a list of the suite's seeds"
    )


class EnsembleSpec(_Strict):
    """Average the members' probabilities from their stored checkpoints; no training.

    ``members`` is either :class:`EnsembleMembers` (one model over seeds: one ensemble per training
    condition) or a list of model labels (across architectures: one ensemble per seed).
    """

    label: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    members: EnsembleMembers | list[str]

    @field_validator("members", mode="after")
    @classmethod
    def _nonempty(cls, value: Any) -> Any:
        if isinstance(value, list) and (not value or len(set(value)) != len(value)):
            raise ValueError(f"members must be distinct model labels, at least one, got {value}")
        return value


class PatchBudget(_Strict):
    """3D training patches: explicit ``size`` or a ``voxels`` budget giving a cubic size."""

    size: list[int] | None = None
    voxels: int | None = Field(default=None, gt=0)
    pos: float = Field(default=1.0, ge=0)
    neg: float = Field(default=1.0, ge=0)
    samples: int = Field(default=4, ge=1)

    @model_validator(mode="after")
    def _one_of_size_or_voxels(self) -> PatchBudget:
        if (self.size is None) == (self.voxels is None):
            raise ValueError("give exactly one of 'size' (e.g. [64, 64, 64]) or 'voxels' (e.g. 262144)")
        if self.size is not None and any(s <= 0 for s in self.size):
            raise ValueError(f"size must be positive, got {self.size}")
        if self.pos + self.neg <= 0:
            raise ValueError("pos + neg must be > 0")
        return self


class TrainConfig(_Strict):
    """Training hyper-parameters (the study's defaults)."""

    epochs: int = Field(default=100, ge=1, le=1_000_000)  # a typo of 29 digits must not validate
    batch_size: int = Field(default=8, ge=1, le=100_000)
    lr: float = Field(default=1e-3, gt=0)
    loss: Literal["dice", "dice_ce"] = "dice"
    activation: Literal["sigmoid", "softmax"] = "sigmoid"
    scheduler: Literal["none", "cosine"] = "none"
    val_every: int = Field(default=2, ge=1)
    validation: Literal["split", "none"] = Field(
        default="split",
        description="split: keep the best checkpoint on the validation cases; none: train on every "
        "training and validation case and keep the last epoch",
    )
    rotate90: float = Field(default=0.5, ge=0, le=1, description="RandRotate90 probability")
    augment: list[PerturbationSpec] = Field(default_factory=list)
    amp: bool = Field(default=True, description="mixed precision on CUDA (ignored on CPU)")
    deterministic: bool = True
    sw_overlap: float = Field(default=0.25, ge=0, lt=1, description="sliding-window overlap (3D)")
    tta: list[Literal["flip", "rot90"]] = Field(
        default_factory=list,
        description="test-time augmentations for the TTA-variance uncertainty (eval only)",
    )
    # Run-time only (not in the job key): how long a job may take, how often it saves its state.
    timeout_min: float | None = Field(default=None, gt=0, description="stop a job after this many minutes")
    checkpoint_every: int = Field(default=5, ge=0, description="epochs between resumable states (0: never)")
    threads: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="CPU threads per job (torch intra-op); 1 keeps results independent of the core count",
    )

    @field_validator("augment", mode="before")
    @classmethod
    def _augment_shorthand(cls, value: Any) -> Any:
        return [_name_shorthand(v) for v in value] if isinstance(value, list) else value


class ExecutorConfig(_Strict):
    """Where ``segbench run`` sends jobs by default; CLI options override each field.

    Slurm fields follow submitit's names (``slurm_partition`` is ``partition`` here).
    """

    kind: Literal["local", "pool", "slurm"] = "local"
    workers: int | None = Field(default=None, ge=1)
    jobs_per_gpu: int = Field(default=1, ge=1)
    partition: str | None = None
    gpus_per_task: int | None = Field(default=None, ge=0)
    cpus_per_task: int | None = Field(default=None, ge=1)
    mem_gb: float | None = Field(default=None, gt=0)
    # Slurm's wall time (requeue), not train.timeout_min (fail the job): the old key ``timeout_min``
    # is still read, so suite files written before the rename keep working.
    wall_time_min: int | None = Field(
        default=None,
        ge=1,
        validation_alias=AliasChoices("wall_time_min", "timeout_min"),
        description="Slurm wall time per job (minutes; a job reaching it is requeued)",
    )
    array_parallelism: int | None = Field(default=None, ge=1)
    additional_parameters: dict[str, Any] = Field(default_factory=dict, description="extra sbatch options")


class Suite(_Strict):
    """A declarative grid of (model, dataset, complexity, perturbation, patch budget, seed)."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+$", max_length=100, description="letters, digits, '_', '-', '.'"
    )
    description: str = Field(default="", max_length=20_000)
    seeds: list[Seed] = Field(default_factory=lambda: [1], min_length=1)
    data_seed: Seed = Field(default=0, description="fixes the data (identical cases across models/seeds)")
    train: TrainConfig = Field(default_factory=TrainConfig)
    models: list[ModelSpec] = Field(min_length=1)
    datasets: list[DatasetSpec] = Field(min_length=1)
    complexity: list[float] | None = None
    test_complexity: list[float] | Literal["all"] | None = None
    perturbations: list[PerturbationSpec] = Field(default_factory=lambda: [PerturbationSpec(name="none")])
    dataset_shifts: list[DatasetShift] = Field(default_factory=list)
    patch_budget: list[Literal["full"] | PatchBudget] = Field(default_factory=lambda: ["full"])
    baseline_model: str = BASELINE_MODEL
    ensembles: list[EnsembleSpec] = Field(default_factory=list)
    executor: ExecutorConfig | None = None
    reference: str | None = Field(
        default=None, min_length=1, description="published study this suite reproduces (segbench.references)"
    )

    @field_validator("name")
    @classmethod
    def _not_a_path(cls, value: str) -> str:
        if set(value) == {"."}:
            raise ValueError("a suite name of only dots would name a folder outside reports/; use letters")
        return value

    @field_validator("models", "datasets", "perturbations", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return [_name_shorthand(v) for v in value] if isinstance(value, list) else value

    @field_validator("seeds", "complexity", mode="before")
    @classmethod
    def _scalar_to_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, int | float) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _unique_labels(self) -> Suite:
        counts = Counter(m.display for m in self.models)
        dupes = sorted(label for label, n in counts.items() if n > 1)
        if dupes:
            raise ValueError(f"models listed twice: {dupes}; give each variant a distinct 'label'")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {self.seeds}")
        return self

    @model_validator(mode="after")
    def _ensemble_members_exist(self) -> Suite:
        labels = [m.display for m in self.models]
        names = [e.label for e in self.ensembles]
        for e in self.ensembles:
            if e.label in labels or names.count(e.label) > 1:
                raise ValueError(
                    f"ensemble label {e.label!r} is already used; give each model and ensemble its own"
                )
            wanted = [e.members.model] if isinstance(e.members, EnsembleMembers) else e.members
            unknown = [w for w in wanted if w not in labels]
            if unknown:
                raise ValueError(
                    f"ensemble {e.label!r}: unknown member(s) {unknown}; the suite's models are {labels}"
                )
            if isinstance(e.members, EnsembleMembers) and e.members.seeds != "all":
                extra = sorted(set(e.members.seeds) - set(self.seeds))
                if extra or not e.members.seeds:
                    raise ValueError(
                        f"ensemble {e.label!r}: seeds {e.members.seeds} must be a non-empty subset "
                        f"of the suite's seeds {self.seeds}"
                    )
        return self
