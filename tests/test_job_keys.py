"""Golden job keys: a fixed suite must expand to these exact content hashes.

Why: a job key names a trained checkpoint and its stored results.  A change to canonical JSON, to a
registry factory's defaults or a new ``TrainConfig`` field that enters the hash would re-key, and so
silently retrain, every stored job of every user.  If this test fails, the change re-keys: either keep
the old keys (leave a new field out of the hash while it has its default) or make it a deliberate,
documented migration (bump ``TRAIN_PROTOCOL``/``EVAL_PROTOCOL``/``ENSEMBLE_PROTOCOL`` and update the
keys here in the same commit).
"""

from __future__ import annotations

from segbench.plan import expand
from segbench.plan.ensembles import expand_ensembles
from segbench.suite.load import parse_suite

SUITE = """\
name: golden
seeds: [1, 2]
train: {epochs: 3, batch_size: 4, lr: 1.0e-3, loss: dice, val_every: 1}
models: [unet, {name: noskip_unet, label: NoSkip, params: {channels: [8, 16, 32]}}]
datasets: [{name: textures2d, params: {size: 32, n_images: 10}}]
complexity: [0.5]
perturbations: [none, harder, {name: gaussian_noise, severity: [2]}]
ensembles:
  - {label: pooled, members: {model: unet, seeds: all}}
"""

SUITE_3D = """\
name: golden3d
seeds: [1]
models: [unet]
datasets:
  - name: spheres3d
    params: {size: 32, n_train: 2, n_val: 1, n_test: 2, train_radius: [6, 9], test_radius: [3, 12]}
patch_budget: [full, {size: [16, 16, 16], pos: 1, neg: 1, samples: 2}]
"""

# measured on the commit before this test existed (3c7c06b): it pins, it does not define
JOB_KEYS: dict[str, str] = {
    "unet textures2d c=0.5 seed=1": "df44fe73cd3f6a3d",
    "unet textures2d c=0.5 seed=2": "9e18e6a4ac534727",
    "NoSkip textures2d c=0.5 seed=1": "d0aedbc0c6c4e038",
    "NoSkip textures2d c=0.5 seed=2": "c72ddd04baf6314d",
}
CONDITION_KEYS: dict[str, str] = {
    "none": "a219e9daf4a8d97e",
    "speckle@2 (harder)": "270b78188b4bdc19",
    "gaussian_noise@2": "9d47231eb68a8083",
}
ENSEMBLE_KEYS: dict[str, str] = {"pooled (ensemble of 2) textures2d c=0.5 seeds pooled": "e9dfc5b1b461ed1b"}
JOB_KEYS_3D: dict[str, str] = {
    "unet spheres3d seed=1": "447acf50c5625d67",
    "unet spheres3d patch=[16, 16, 16] seed=1": "01afd500a14bc65f",
}


def test_job_keys_are_stable() -> None:
    jobs = expand(parse_suite(SUITE))
    assert {j.describe(): j.key for j in jobs} == JOB_KEYS


def test_condition_keys_are_stable() -> None:
    job = expand(parse_suite(SUITE))[0]
    assert {c.describe(): job.condition_key(c) for c in job.conditions} == CONDITION_KEYS


def test_ensemble_keys_are_stable() -> None:
    suite = parse_suite(SUITE)
    assert {e.describe(): e.key for e in expand_ensembles(suite, expand(suite))} == ENSEMBLE_KEYS


def test_patch_budget_job_keys_are_stable() -> None:
    assert {j.describe(): j.key for j in expand(parse_suite(SUITE_3D))} == JOB_KEYS_3D
