"""Checks that need the registries: names exist, params match factory signatures.

Why before any job starts: a typo in a model parameter must fail in a second with the
line to fix, not an hour into a run.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from segbench.models.build import INJECTED_ARGS
from segbench.presets import PRESETS
from segbench.pretrained import check_model_weights
from segbench.registry import DATASETS, MODELS, PERTURBATIONS, Entry, RegistryError
from segbench.suite.errors import SuiteIssue
from segbench.suite.load import Locator
from segbench.suite.schema import PerturbationSpec, Suite

__all__ = ["IN_DOMAIN", "SEVERITIES", "check_suite"]

IN_DOMAIN = "none"
SEVERITIES = (1, 2, 3, 4, 5)


def check_suite(suite: Suite, locator: Locator, filename: str) -> list[SuiteIssue]:
    """Every registry-level problem in ``suite`` (empty list when it is runnable)."""
    issues: list[SuiteIssue] = []

    def issue(loc: tuple[Any, ...], message: str, **kw: Any) -> None:
        issues.append(SuiteIssue(filename, locator.line(loc), ".".join(map(str, loc)), message, **kw))

    dims: set[int] = set()
    for i, spec in enumerate(suite.datasets):
        entry = _lookup(DATASETS, spec.name, ("datasets", i, "name"), issue)
        if entry:
            _check_params(entry, spec.params, ("datasets", i, "params"), issue)
            dims.add(int(entry.meta.get("dims", 2)))
            limits = entry.meta.get("complexity_range")
            for j, value in enumerate(suite.complexity or []):
                if limits and not limits[0] <= value <= limits[1]:
                    issue(("complexity", j), f"outside {spec.name}'s range {list(limits)}", value=value)

    for i, spec in enumerate(suite.models):
        entry = _lookup(MODELS, spec.name, ("models", i, "name"), issue)
        if entry:
            for arg in INJECTED_ARGS:
                if arg in spec.params:
                    issue(
                        ("models", i, "params", arg), "is filled in from the dataset/patch budget; remove it"
                    )
            params = {k: v for k, v in spec.params.items() if k not in INJECTED_ARGS}
            _check_params(entry, params, ("models", i, "params"), issue)
    check_model_weights(suite, issue)  # weights: missing, not a checkpoint, or another architecture

    for i, spec in enumerate(suite.perturbations):
        _check_perturbation(spec, ("perturbations", i), issue, dims, allow_none=True)
    for i, spec in enumerate(suite.train.augment):
        _check_perturbation(spec, ("train", "augment", i), issue, dims, allow_none=False)

    taken = {IN_DOMAIN, *PERTURBATIONS.names()}
    for i, shift in enumerate(suite.dataset_shifts):
        if shift.label in taken:
            issue(("dataset_shifts", i, "label"), "clashes with a perturbation name", value=shift.label)
        taken.add(shift.label)
        for spec in suite.datasets:
            if spec.name in DATASETS:
                _check_params(DATASETS.get(spec.name), shift.params, ("dataset_shifts", i, "params"), issue)

    for i, budget in enumerate(suite.patch_budget):
        if budget != "full" and 3 not in dims:
            issue(("patch_budget", i), "patch budgets apply to 3D datasets only; use 'full' for 2D")
        if budget != "full" and budget.size is not None and dims and len(budget.size) != max(dims):
            issue(("patch_budget", i, "size"), f"needs {max(dims)} values", value=budget.size)
    if suite.test_complexity is not None and not suite.complexity:
        issue(("test_complexity",), "needs 'complexity' (the training levels) to be set")
    return issues


def _lookup(registry: Any, name: str, loc: tuple[Any, ...], issue: Any) -> Entry | None:
    try:
        return registry.get(name)
    except RegistryError as exc:
        hint = difflib.get_close_matches(name, registry.names(), n=1)
        suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
        issue(loc, f"{exc}{suffix}")
        return None


def _check_params(entry: Entry, params: dict[str, Any], loc: tuple[Any, ...], issue: Any) -> None:
    accepted = entry.parameters()
    if any(p.kind is p.VAR_KEYWORD for p in inspect.signature(entry.factory).parameters.values()):
        return
    for key in params:
        if key not in accepted:
            close = difflib.get_close_matches(key, list(accepted), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            issue(
                (*loc, key), f"{entry.name!r} has no parameter {key!r}{hint}; allowed: {', '.join(accepted)}"
            )


def _check_perturbation(
    spec: PerturbationSpec, loc: tuple[Any, ...], issue: Any, dims: set[int], allow_none: bool
) -> None:
    if spec.name == IN_DOMAIN:
        if not allow_none:
            issue((*loc, "name"), "'none' is not an augmentation")
        elif spec.severity:
            issue((*loc, "severity"), "'none' (in-domain) takes no severity", value=spec.severity)
        return
    if spec.name in PRESETS:
        if spec.severity:
            issue((*loc, "severity"), f"preset {spec.name!r} fixes its own severity", value=spec.severity)
        return
    if spec.name not in PERTURBATIONS:
        allowed = (
            [IN_DOMAIN, *sorted(PRESETS), *PERTURBATIONS.names()] if allow_none else PERTURBATIONS.names()
        )
        close = difflib.get_close_matches(spec.name, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        issue((*loc, "name"), f"unknown perturbation {spec.name!r}{hint}; allowed: {', '.join(allowed)}")
        return
    for j, severity in enumerate(spec.severity or []):
        if severity not in SEVERITIES:
            issue((*loc, "severity", j), "severity must be one of 1, 2, 3, 4, 5", value=severity)
    supported = PERTURBATIONS.get(spec.name).meta.get("dims", (2, 3))
    for d in sorted(dims - set(supported)):
        issue((*loc, "name"), f"{spec.name!r} does not support {d}D data (supports {list(supported)}D)")
