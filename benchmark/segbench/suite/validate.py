"""Checks that need the registries, run on the raw suite data: names, params by value, cross-field rules.

Why on the raw data and not on the validated ``Suite``: pydantic stops at the first bad field
of a model, so a suite with an unknown key used to hide its unknown model until the key was
fixed (errors in two waves).  These checks read the YAML data defensively (anything of the
wrong shape is skipped here because the schema reports it), so ``suite.load`` runs both and
reports every problem of a file in one pass.

Why before any job starts: a typo in a model parameter must fail in a second with the line
to fix, not an hour into a run.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from segbench.core import IN_DOMAIN, INJECTED_MODEL_ARGS, SEVERITIES
from segbench.core.presets import PRESETS
from segbench.registry import DATASETS, MODELS, PERTURBATIONS, Entry
from segbench.suite.dataset_probe import check_shift_fits, probe
from segbench.suite.errors import _MISSING, SuiteIssue, show
from segbench.suite.params import ParamProblem, check_params, signature_defaults
from segbench.suite.schema import Suite

# IN_DOMAIN and SEVERITIES are re-exported for modules that still import them from here;
# new code imports them from ``segbench.core``.
__all__ = ["IN_DOMAIN", "SEVERITIES", "check_suite"]

Loc = tuple[Any, ...]
Issue = Callable[..., None]


def check_suite(data: Any, locator: Any, filename: str, suite: Suite | None = None) -> list[SuiteIssue]:
    """Every registry-level and cross-field problem in the suite data (empty when runnable).

    Args:
        data: the suite mapping as loaded from YAML (a validated ``Suite`` is accepted too).
        locator: maps a field path to its line (``suite.load.Locator``).
        filename: labels every issue.
        suite: the validated suite when the schema passed; checks that need well-formed specs
            (``weights:`` files against their architecture) run only then.
    """
    if isinstance(data, Suite):
        suite = data
    if isinstance(data, BaseModel):
        data = data.model_dump(exclude_unset=True)
    if not isinstance(data, dict):
        return []
    issues: list[SuiteIssue] = []

    def issue(loc: Loc, message: str, *, key: bool = False, value: Any = _MISSING) -> None:
        if len(issues) >= _MAX_ISSUES:
            raise _Enough
        line = locator.key_line(loc) if key else locator.line(loc)
        issues.append(SuiteIssue(filename, line, ".".join(map(str, loc)), message, value))

    try:
        _check_all(data, issue)
        if suite is not None:
            _check_weights(suite, issue)
    except _Enough:  # a file with thousands of the same mistake: say so instead of listing them all
        issues.append(
            SuiteIssue(filename, None, "", f"stopped after {_MAX_ISSUES} problems; fix these first")
        )
    return issues


class _Enough(Exception):
    """Raised by ``issue`` past ``_MAX_ISSUES`` to stop checking at once."""


_MAX_ISSUES = 200


def _check_all(data: dict[str, Any], issue: Issue) -> None:
    datasets = _check_datasets(data, issue)
    dims = {_dims(entry, params) for _, entry, params in datasets}
    _check_complexity(data, datasets, issue)
    _check_models(data, issue)
    for i, spec in _specs(data.get("perturbations")):
        _check_perturbation(spec, ("perturbations", i), issue, dims, allow_none=True)
    train = data.get("train")
    for i, spec in _specs(train.get("augment") if isinstance(train, dict) else None):
        _check_perturbation(spec, ("train", "augment", i), issue, dims, allow_none=False)
    _check_shifts(data, datasets, issue)
    _check_patch_budget(data, dims, datasets, issue)
    _check_suite_rules(data, issue)


# --------------------------------------------------------------------------- sections


def _check_weights(suite: Suite, issue: Issue) -> None:
    """``weights:`` files exist, are checkpoints and fit their architecture (segbench.suite.weights)."""
    from segbench.suite.weights import check_model_weights  # torch only when a model has weights

    try:
        check_model_weights(suite, issue)
    except _Enough:
        raise
    except Exception as exc:  # a checkpoint that breaks the check is still reported as one line
        issue(("models",), f"could not check the models' weights: {type(exc).__name__}: {_clip(str(exc))}")


def _check_datasets(data: dict[str, Any], issue: Issue) -> list[tuple[int, Entry, dict[str, Any]]]:
    """Check each dataset; return the (index, entry, params) of those whose name resolves."""
    found = []
    for i, spec in _specs(data.get("datasets")):
        entry = _lookup(DATASETS, spec.get("name"), ("datasets", i, "name"), issue)
        params = spec.get("params", {})
        if entry is None or not isinstance(params, dict):
            continue
        problems = check_params(entry, params)
        _report(problems, ("datasets", i, "params"), issue)
        probed = probe(entry, params) if not problems else None
        if probed and probed["test_only"]:
            issue(
                ("datasets", i, "params"),
                f"{entry.name} has only test cases (e.g. {probed['file']}): training needs training cases; "
                "use it as a test-only site under dataset_shifts",
            )
        found.append((i, entry, params))
    return found


def _check_complexity(
    data: dict[str, Any], datasets: list[tuple[int, Entry, dict[str, Any]]], issue: Issue
) -> None:
    for _, entry, _ in datasets:
        limits = entry.meta.get("complexity_range")
        if not limits:
            continue
        for j, value in _numbers(data.get("complexity")):
            if not limits[0] <= value <= limits[1]:
                issue(("complexity", j), f"outside {entry.name}'s range {list(limits)}", value=value)
    if data.get("test_complexity") is not None and not data.get("complexity"):
        issue(("test_complexity",), "needs 'complexity' (the training levels) to be set")


def _check_models(data: dict[str, Any], issue: Issue) -> None:
    checked: set[str] = set()  # a spec repeated verbatim is checked once (its label clash is reported)
    for i, spec in _specs(data.get("models")):
        if repr(spec) in checked:
            continue
        checked.add(repr(spec))
        entry = _lookup(MODELS, spec.get("name"), ("models", i, "name"), issue)
        params = spec.get("params", {})
        if entry is None or not isinstance(params, dict):
            continue
        loc = ("models", i, "params")
        for arg in INJECTED_MODEL_ARGS:
            if arg in params:
                issue((*loc, arg), "is filled in from the dataset/patch budget; remove it", key=True)
        settable = {k: v for k, v in params.items() if k not in INJECTED_MODEL_ARGS}
        _report(check_params(entry, settable, exclude=INJECTED_MODEL_ARGS), loc, issue)


def _check_shifts(
    data: dict[str, Any], datasets: list[tuple[int, Entry, dict[str, Any]]], issue: Issue
) -> None:
    """A shift's params are checked merged onto each dataset's; only what the shift adds is reported."""
    shifts = data.get("dataset_shifts")
    if not isinstance(shifts, list) or not shifts:
        return
    taken = {IN_DOMAIN, *PERTURBATIONS.names(), *PRESETS}
    for i, shift in enumerate(shifts):
        if not isinstance(shift, dict):
            continue
        label = shift.get("label")
        if isinstance(label, str):
            if label in taken:
                issue(("dataset_shifts", i, "label"), "clashes with a perturbation name", value=label)
            taken.add(label)
        if isinstance(shift.get("dataset"), dict):  # train on A, test on another dataset B
            _check_shift_dataset(shift, ("dataset_shifts", i), datasets, issue)
            continue
        params = shift.get("params")
        if not isinstance(params, dict):
            continue
        for _, entry, base in datasets:
            base_messages = {p.message for p in check_params(entry, base)}
            problems = [
                p
                for p in check_params(entry, {**base, **params})
                if (p.loc and p.loc[0] in params) or (not p.loc and p.message not in base_messages)
            ]
            _report(problems, ("dataset_shifts", i, "params"), issue)


def _check_shift_dataset(
    shift: dict[str, Any], loc: Loc, datasets: list[tuple[int, Entry, dict[str, Any]]], issue: Issue
) -> None:
    """Another dataset as a shift: its name, params and files; perturbations applied on top of it."""
    spec = shift["dataset"]
    entry = _lookup(DATASETS, spec.get("name"), (*loc, "dataset", "name"), issue)
    params = spec.get("params", {})
    if entry is not None and isinstance(params, dict):
        problems = check_params(entry, params)
        _report(problems, (*loc, "dataset", "params"), issue)
        if not problems:
            check_shift_fits(shift.get("label"), entry, params, (*loc, "dataset"), datasets, issue)
    dims = {_dims(e, p) for _, e, p in datasets}
    for j, perturbation in _specs(shift.get("perturbations")):
        _check_perturbation(perturbation, (*loc, "perturbations", j), issue, dims, allow_none=True)


def _dims(entry: Entry, params: dict[str, Any]) -> int:
    """2 or 3: from the files for real data (its ``spatial_dims`` hook), else the entry's ``dims``."""
    return entry.spatial_dims(params) or 2


def _check_patch_budget(
    data: dict[str, Any], dims: set[int], datasets: list[tuple[int, Entry, dict[str, Any]]], issue: Issue
) -> None:
    """Budgets with one size per axis (2D budgets crop large 2D images), no larger than a synthetic volume."""
    volumes = []  # (dataset name, cubic side) of datasets whose volume size is a known int
    for _, entry, params in datasets:
        size = {**signature_defaults(entry), **params}.get("size")
        if entry.meta.get("dims") == 3 and _is_int(size):
            volumes.append((entry.name, size))
    budgets = data.get("patch_budget")
    for i, budget in enumerate(budgets if isinstance(budgets, list) else []):
        if budget == "full" or not isinstance(budget, dict):
            continue
        size = budget.get("size")
        if isinstance(size, list) and dims and len(size) != max(dims):
            issue(("patch_budget", i, "size"), f"needs {max(dims)} values", value=size)
        elif isinstance(size, list) and all(_is_int(s) for s in size):
            for name, side in volumes:
                if max(size, default=0) > side:
                    issue(
                        ("patch_budget", i, "size"),
                        f"patch does not fit {name}'s {side}^3 volumes; use sides <= {side}",
                        value=size,
                    )


def _check_suite_rules(data: dict[str, Any], issue: Issue) -> None:
    """Distinct seeds and model labels; ``baseline_model`` names one of the suite's models."""
    seeds = data.get("seeds")
    seen: dict[Any, int] = {}
    for j, seed in enumerate(seeds if isinstance(seeds, list) else []):
        if isinstance(seed, int) and not isinstance(seed, bool):
            if seed in seen:
                issue(("seeds", j), f"seeds must be distinct: {seed} is also seeds.{seen[seed]}")
            seen.setdefault(seed, j)
    labels: dict[str, int] = {}
    names: set[str] = set()
    for i, spec in _specs(data.get("models")):
        name, label = spec.get("name"), spec.get("label")
        display = label if isinstance(label, str) and label else name
        if not isinstance(display, str):
            continue
        if isinstance(name, str):
            names.add(name)
        if display in labels:
            issue(
                ("models", i),
                f"model {show(display)} is listed twice (also models.{labels[display]}); "
                "give each variant a distinct 'label'",
            )
        labels.setdefault(display, i)
    _check_ensembles(data, labels, issue)
    _check_reference(data, issue)
    baseline = data.get("baseline_model")
    if (
        "baseline_model" in data
        and isinstance(baseline, str)
        and labels
        and baseline not in {*labels, *names}
    ):
        choices = sorted(labels)
        hint = _did_you_mean(baseline, choices)
        issue(
            ("baseline_model",),
            f"is not one of this suite's models{hint}; use one of {', '.join(choices)}",
            value=baseline,
        )


def _check_ensembles(data: dict[str, Any], labels: dict[str, int], issue: Issue) -> None:
    """Ensemble labels are new names; members are this suite's model labels and seeds."""
    seeds = data.get("seeds") if isinstance(data.get("seeds"), list) else [1]
    seen: dict[str, int] = {}
    for i, spec in _specs(data.get("ensembles")):
        label, members = spec.get("label"), spec.get("members")
        if isinstance(label, str) and (label in labels or label in seen):
            other = f"models.{labels[label]}" if label in labels else f"ensembles.{seen[label]}"
            issue(
                ("ensembles", i, "label"), f"{show(label)} is already used by {other}; give it its own label"
            )
        if isinstance(label, str):
            seen.setdefault(label, i)
        wanted = (
            [members.get("model")]
            if isinstance(members, dict)
            else members
            if isinstance(members, list)
            else []
        )
        for j, member in enumerate(wanted):
            if isinstance(member, str) and member not in labels:
                loc = (
                    ("ensembles", i, "members", "model")
                    if isinstance(members, dict)
                    else ("ensembles", i, "members", j)
                )
                hint = _did_you_mean(member, sorted(labels))
                issue(
                    loc,
                    f"is not one of this suite's models{hint}; use one of {', '.join(sorted(labels))}",
                    value=member,
                )
        chosen = members.get("seeds") if isinstance(members, dict) else None
        if isinstance(chosen, list):
            extra = [s for s in chosen if s not in seeds]
            if extra or not chosen:
                issue(
                    ("ensembles", i, "members", "seeds"),
                    f"must be a non-empty subset of the suite's seeds {seeds}",
                    value=chosen,
                )


def _check_reference(data: dict[str, Any], issue: Issue) -> None:
    """``reference`` names a shipped reference (segbench.references), with a "did you mean"."""
    name = data.get("reference")
    if not isinstance(name, str) or not name:
        return  # absent, or the schema reports the wrong type
    from segbench.references import reference_names

    known = reference_names()
    if name not in known:
        hint = _did_you_mean(name, known)
        issue(("reference",), f"is not a known reference{hint}; use one of {', '.join(known)}", value=name)


def _check_perturbation(
    spec: dict[str, Any], loc: Loc, issue: Issue, dims: set[int], allow_none: bool
) -> None:
    name, severity = spec.get("name"), spec.get("severity")
    if not isinstance(name, str):
        return
    severities = [severity] if _is_int(severity) else severity if isinstance(severity, list) else []
    if name == IN_DOMAIN:
        if not allow_none:
            issue((*loc, "name"), "'none' is not an augmentation")
        elif severity:
            issue((*loc, "severity"), "'none' (in-domain) takes no severity", value=severity)
        return
    if name in PRESETS:
        if severity:
            issue((*loc, "severity"), f"preset {name!r} fixes its own severity", value=severity)
        return
    if name not in PERTURBATIONS:
        allowed = (
            [IN_DOMAIN, *sorted(PRESETS), *PERTURBATIONS.names()] if allow_none else PERTURBATIONS.names()
        )
        issue(
            (*loc, "name"),
            f"unknown perturbation {show(name)}{_did_you_mean(name, allowed)}; allowed: {', '.join(allowed)}",
        )
        return
    for j, value in enumerate(severities):
        if _is_int(value) and value not in SEVERITIES:
            where = (*loc, "severity", j) if isinstance(severity, list) else (*loc, "severity")
            issue(where, f"severity must be one of {', '.join(map(str, SEVERITIES))}", value=value)
    supported = PERTURBATIONS.get(name).meta.get("dims", (2, 3))
    for d in sorted(dims - set(supported)):
        issue((*loc, "name"), f"{name!r} does not support {d}D data (supports {list(supported)}D)")


# --------------------------------------------------------------------------- helpers


def _lookup(registry: Any, name: Any, loc: Loc, issue: Issue) -> Entry | None:
    if not isinstance(name, str) or not name:
        return None
    top = name.partition(":")[0].split(".")[0]
    if ":" in name and (top in sys.stdlib_module_names or top == "builtins"):
        # Refused by name, never imported: a suite must not be able to call os:system.
        issue(loc, f"{show(name)} names the Python standard library; a suite may name only your own code")
        return None
    try:
        return registry.get(name)
    except LookupError as exc:
        hint = _did_you_mean(name, registry.names()) if ":" not in name else ""
        issue(loc, f"{_clip(str(exc))}{hint}")
    except (Exception, SystemExit) as exc:
        issue(loc, f"cannot load {registry.kind} {show(name)}: {type(exc).__name__}: {_clip(str(exc))}")
    return None


def _report(problems: list[ParamProblem], loc: Loc, issue: Issue) -> None:
    for problem in problems:
        issue((*loc, *problem.loc), problem.message, key=problem.at_key, value=problem.value)


def _specs(value: Any) -> list[tuple[int, dict[str, Any]]]:
    """``(index, spec)`` of a list of ``name`` / ``{name: ...}`` entries; other shapes are skipped."""
    if not isinstance(value, list):
        return []
    out = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            out.append((i, {"name": item}))
        elif isinstance(item, dict):
            out.append((i, item))
    return out


def _numbers(value: Any) -> list[tuple[int, float]]:
    items = value if isinstance(value, list) else [value] if value is not None else []
    return [(j, v) for j, v in enumerate(items) if isinstance(v, int | float) and not isinstance(v, bool)]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _did_you_mean(word: str, choices: list[str]) -> str:
    if len(word) > 100:
        return ""
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
