"""What the CLI (and tests) call: run, plan, validate, list, report.

Each function takes plain arguments and returns values; printing and exit codes belong
to ``cli.py``.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from dataclasses import replace as replace_field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segbench.core import INJECTED_MODEL_ARGS
from segbench.paths import refuse_links
from segbench.registry import DATASETS, MODELS, PERTURBATIONS
from segbench.suite.weights import is_pretrained

if TYPE_CHECKING:
    from collections.abc import Mapping

    from segbench.execute import Executor, ExecutorOptions
    from segbench.plan import Task, TrainJob
    from segbench.plan.ensembles import EnsembleJob
    from segbench.progress import Reporter
    from segbench.store import Store
    from segbench.suite.schema import Suite

# The stages are imported inside the functions that use them: ``segbench list`` needs only the
# registries, and no command that trains nothing may pay for the executor (torch).

__all__ = [
    "PlanSummary",
    "RunSummary",
    "advise_dataset",
    "export_suite",
    "import_predictions",
    "list_entries",
    "plan_suite",
    "rebuild_store",
    "run_suite",
    "validate_suite",
]

DEFAULT_RESULTS = Path("results")


@dataclass
class PlanSummary:
    """What a run would do: every job, its conditions, and what the store already holds.

    ``tasks`` are the train jobs to run; ``ensemble_tasks`` the ensembles to evaluate, which run as
    tasks too, through the same executor, once their members are trained.
    """

    suite: Suite
    jobs: list[TrainJob]
    tasks: list[Task]
    trained: set[str]
    done_conditions: set[str]
    warnings: list[str] = field(default_factory=list)
    ensembles: list[EnsembleJob] = field(default_factory=list)
    missing_checkpoints: set[str] = field(default_factory=set)
    shard: tuple[str, set[str]] | None = None  # ("I/N", the job keys of that part) with --shard
    ensemble_tasks: list[Task] = field(default_factory=list)

    @property
    def n_conditions(self) -> int:
        return sum(len(j.conditions) for j in self.jobs)

    @property
    def n_done_conditions(self) -> int:
        return sum(j.condition_key(c) in self.done_conditions for j in self.jobs for c in j.conditions)

    def lines(self) -> list[str]:
        out = [
            f"suite {self.suite.name}: {len(self.jobs)} train jobs x eval conditions = "
            f"{self.n_conditions} evaluations; {self.n_done_conditions} already done, "
            f"{len(self.tasks)} jobs to run"
        ]
        pending = {t.job.key: t for t in self.tasks}
        if self.shard is not None:
            out[0] += f" (part {self.shard[0]}: {len(self.shard[1])} of the suite's jobs)"
        for job in self.jobs:
            task = pending.get(job.key)
            if self.shard is not None and job.key not in self.shard[1]:
                state = f"another part than {self.shard[0]}"
            elif task is None:
                state = "done"
            elif job.key in self.trained:
                state = f"trained; {len(task.conditions)} conditions to evaluate"
            elif job.key in self.missing_checkpoints:
                state = "to train (stored as trained, but its checkpoint is missing: retrains)"
            else:
                state = "to evaluate (pretrained)" if is_pretrained(job.model) else "to train"
            out.append(f"  {job.key}  {job.describe():<48} {state}")
            for cond in job.conditions:
                mark = "x" if job.condition_key(cond) in self.done_conditions else " "
                out.append(f"      [{mark}] {cond.describe()}")
        from segbench.suite.holdout import held_out_lines

        out += held_out_lines(self.suite)
        pending_ensembles = {t.job.key: t for t in self.ensemble_tasks}
        for ens in self.ensembles:
            task = pending_ensembles.get(ens.key)
            state = f"{len(task.conditions)} conditions to evaluate (no training)" if task else "done"
            out.append(f"  {ens.key}  {ens.describe():<48} {state}")
            members = ", ".join(f"{m.model.display} seed={m.seed} ({m.key})" for m in ens.members)
            out.append(f"      members: {members}")
        return out


@dataclass
class RunSummary:
    suite: str
    ran: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: int = 0
    recovered_shards: int = 0
    warnings: list[str] = field(default_factory=list)
    unconverged: str = ""  # jobs still improving at their last epochs (stats.convergence), "" if none

    @property
    def ok(self) -> bool:
        return not self.failed


def validate_suite(path: str | Path) -> Suite:
    """Load and check a suite; raises ``SuiteError`` listing every problem."""
    from segbench.suite.load import load_suite

    return load_suite(path)


def count_text(suite: Suite, jobs: list[Any]) -> str:
    """What a suite runs, counted as the report counts it: train jobs and ensembles apart, one total.

    E.g. ``24 train jobs (168 evaluations) + 9 ensembles (63 evaluations) = 231 evaluations``.
    """
    from segbench.plan.ensembles import expand_ensembles

    n_eval = sum(len(j.conditions) for j in jobs)
    ensembles = expand_ensembles(suite, jobs)
    if not ensembles:
        return f"{len(jobs)} train jobs, {n_eval} evaluations"
    n_ens = sum(len(e.conditions) for e in ensembles)
    return (
        f"{len(jobs)} train jobs ({n_eval} evaluations) + {len(ensembles)} ensembles ({n_ens} evaluations) "
        f"= {n_eval + n_ens} evaluations"
    )


def plan_suite(
    path: str | Path, results: str | Path = DEFAULT_RESULTS, replace: bool = False, shard: str | None = None
) -> PlanSummary:
    """Expand a suite and subtract what the store holds plus what pending shards hold.

    Read-only: nothing is ingested, moved or written (the database is opened ``mode=ro``), so a dry
    run never disturbs a run in progress.

    Raises:
        SuiteConflict: another suite file already uses this suite's name (unless ``replace``).
    """
    from segbench.store import Store, SuiteConflict
    from segbench.suite.load import load_suite

    store = Store(results)
    suite = load_suite(path)
    if not replace and (problem := store.suite_conflict(suite.name, Path(path).read_text(), path)):
        raise SuiteConflict(problem)
    return _only_shard(_plan(suite, store, *store.peek_pending()), shard)


def _plan(
    suite: Suite,
    store: Store,
    pending_trained: frozenset[str] | set[str] = frozenset(),
    pending_done: frozenset[str] | set[str] = frozenset(),
) -> PlanSummary:
    from segbench.plan import Task, expand
    from segbench.plan.ensembles import expand_ensembles
    from segbench.worker.checkpoint import has_checkpoint

    jobs = expand(suite)
    stored = store.trained_jobs() | set(pending_trained)
    done = store.done_conditions() | set(pending_done)
    # "Trained" means a checkpoint to reuse; a stored job whose checkpoint is gone retrains.
    trained = {job.key for job in jobs if has_checkpoint(store.results, job.key)}
    tasks, seen = [], set()
    for job in jobs:
        # Two labels with identical config share a job key: evaluate it once, report it under both
        # labels (suite_jobs holds one row per label).
        if job.key in seen:
            continue
        seen.add(job.key)
        missing = tuple(c for c in job.conditions if job.condition_key(c) not in done)
        if missing:
            tasks.append(Task(job, missing))
    ensembles = expand_ensembles(suite, jobs)
    ensemble_tasks = []
    for ens in ensembles:
        missing = tuple(c for c in ens.conditions if ens.condition_key(c) not in done)
        if missing:
            ensemble_tasks.append(Task(ens, missing))
    return PlanSummary(
        suite,
        jobs,
        tasks,
        trained,
        done,
        list(store.warnings),
        ensembles,
        stored - trained,
        ensemble_tasks=ensemble_tasks,
    )


def _only_shard(plan: PlanSummary, shard: str | None) -> PlanSummary:
    """``plan`` cut to part ``shard`` ("I/N") of the suite's jobs; ensembles go with their members."""
    if shard is None:
        return plan
    from segbench.execute.parts import ShardSpec, shard_keys

    spec = ShardSpec.parse(shard)
    groups = [[m.key for m in e.members] for e in plan.ensembles]
    keys = shard_keys((j.key for j in plan.jobs), groups, spec)
    plan.tasks = [t for t in plan.tasks if t.job.key in keys]
    plan.ensembles = [e for e in plan.ensembles if all(m.key in keys for m in e.members)]
    kept = {e.key for e in plan.ensembles}
    plan.ensemble_tasks = [t for t in plan.ensemble_tasks if t.job.key in kept]
    plan.shard = (str(spec), keys)
    return plan


def run_suite(
    path: str | Path,
    results: str | Path = DEFAULT_RESULTS,
    device: str | None = None,
    reporter: Reporter | None = None,
    quiet: bool = False,
    wait: bool = False,
    replace: bool = False,
    executor: str | Executor | None = None,
    executor_settings: dict[str, Any] | None = None,
    timeout_min: float | None = None,
    threads: int | None = None,
    shard: str | None = None,
) -> RunSummary:
    """Train and evaluate every pending cell of a suite, committing each job as it ends.

    Resumable: shards left by a killed run are ingested first, finished conditions are
    skipped, trained jobs reuse their checkpoints.  A failing job is recorded and the
    others go on.  One writer per results folder: the folder's lock is held throughout
    (``wait``: block until a running holder is done instead of raising ``LockHeld``).

    Args:
        executor: "local", "pool", "slurm" or a built ``Executor``; None takes the suite's
            ``executor:`` section, else "local".
        executor_settings: that executor's options (e.g. ``workers``), overriding the suite's.
        timeout_min: per-job limit overriding ``train.timeout_min``.
        threads: CPU threads per job overriding ``train.threads`` (default 1; not in the job key,
            recorded in each job's provenance).
        shard: "I/N": run only part I of N of the suite's jobs (split by job key; an ensemble
            runs in its members' part); ``segbench merge`` joins the parts' folders.

    Raises:
        SuiteError: the suite file has problems (all of them listed).
        DeviceError: ``device`` is misspelt or not available on this machine.
        ValueError: ``timeout_min`` is not a finite number > 0.
        LockHeld: another process is writing to ``results`` (and ``wait`` is False).
        StoreError: the database is damaged, full or read-only (one line naming it).
    """
    from segbench.execute.base import ExecutorOptions
    from segbench.store import ResultsLock
    from segbench.suite.device import check_device

    check_device(device)  # one upfront error, not one failed job per cell
    options = ExecutorOptions(Path(results), device, timeout_min)  # checks timeout_min
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads!r}")
    if shard is not None:
        from segbench.execute.parts import ShardSpec

        ShardSpec.parse(shard)  # a typo fails before the lock or the store are touched
    request = _RunRequest(Path(path), options, executor, executor_settings or {}, threads, shard)
    started = time.time()
    with ResultsLock(options.results, wait=wait, on_wait=None if quiet else _say_waiting):
        refuse_links(options.results)  # no write (log, checkpoint, shard) may follow a planted link
        summary = _run_locked(request, reporter, quiet, replace, started)
    summary.unconverged = _unconverged(options.results, summary.suite)
    return summary


@dataclass(frozen=True)
class _RunRequest:
    """What ``run_suite`` was asked for, checked before the results folder's lock is taken.

    ``options.timeout_min`` is ``--timeout-min`` (None: the suite's ``train.timeout_min``);
    ``executor_settings`` are the command line's executor options, merged over the suite's
    ``executor:`` section into one typed settings object (``execute.config``).
    """

    path: Path
    options: ExecutorOptions
    executor: str | Executor | None
    executor_settings: Mapping[str, Any]
    threads: int | None
    shard: str | None


def _unconverged(results: Path, suite: str) -> str:
    """The convergence check of the suite's stored training curves (one sentence, or "")."""
    from segbench.report.curves import history_table
    from segbench.stats.convergence import convergence_table, convergence_text
    from segbench.store import Store

    return convergence_text(convergence_table(history_table(Store(results).jobs(suite))))


def _with_threads(suite: Suite, threads: int | None) -> Suite:
    """``suite`` with ``train.threads`` set to ``threads`` (``--threads``); unchanged for None."""
    if threads is None:
        return suite
    return suite.model_copy(update={"train": suite.train.model_copy(update={"threads": threads})})


def _say_waiting(holder: str) -> None:
    print(f"waiting for {holder} to release the results folder ...", flush=True)


def _run_locked(
    request: _RunRequest, reporter: Reporter | None, quiet: bool, replace: bool, started: float
) -> RunSummary:
    from segbench.shards import clean_stale_tmp
    from segbench.store import Store
    from segbench.suite.load import load_suite

    path, results = request.path, request.options.results
    store = Store(results)
    clean_stale_tmp(results, before=started)  # we hold the lock: any .tmp is a killed write's
    recovered = store.ingest_pending()
    suite = _with_threads(load_suite(path), request.threads)
    plan = _plan(suite, store)
    store.record_suite(
        plan.suite.name, path.read_text(), str(path), [*plan.jobs, *plan.ensembles], replace=replace
    )
    plan = _only_shard(plan, request.shard)  # the suite is recorded whole: merged parts report as one run
    part = plan.shard[1] if plan.shard else {job.key for job in plan.jobs}
    summary = RunSummary(
        plan.suite.name,
        skipped=len(part) - len(plan.tasks),  # shared by two labels: once
        recovered_shards=recovered,
        warnings=store.warnings,
    )
    if not plan.tasks and not plan.ensemble_tasks:
        return summary  # finished suite: no executor, so no torch import (start-up in well under 1 s)
    from segbench.execute import make_executor
    from segbench.progress import make_reporter

    reporter = reporter or make_reporter(quiet)
    if not isinstance(request.executor, str | None):
        runner = request.executor
    else:
        from segbench.execute.config import executor_choice

        settings = executor_choice(plan.suite, request.executor, request.executor_settings)
        options = request.options
        if options.timeout_min is None:
            options = replace_field(options, timeout_min=plan.suite.train.timeout_min)
        runner = make_executor(settings, options, reporter)
    reporter.start(len(plan.tasks) + len(plan.ensemble_tasks))
    # An ensemble needs its members' checkpoints: one whose members have nothing left to do runs with
    # the train jobs, the others in a second round once the train jobs are done.
    pending = {t.job.key for t in plan.tasks}
    ready, later = [], []
    for task in plan.ensemble_tasks:
        members = task.job.members  # type: ignore[union-attr]
        waits = any(m.key in pending or m.key not in plan.trained for m in members)
        (later if waits else ready).append(task)
    # The pool's workers stay up between the two rounds (restarting them cost their imports again).
    keep = bool(later) and hasattr(runner, "keep_alive")
    if keep:
        runner.keep_alive = True  # type: ignore[union-attr]
    try:
        _run_round(runner, [*plan.tasks, *ready], store, summary, reporter)
        if later:
            _run_round(runner, _trained_ensembles(later, store, summary, reporter), store, summary, reporter)
    finally:
        if keep:
            runner.close()  # type: ignore[union-attr]
        reporter.close()
    return summary


def _run_round(
    runner: Executor, tasks: list[Task], store: Store, summary: RunSummary, reporter: Reporter
) -> None:
    """Send ``tasks`` through ``runner`` and ingest each shard as it lands (failures are recorded)."""
    from segbench.core.records import RecordError
    from segbench.execute import run_tasks

    if not tasks:
        return
    by_key = {t.job.key: t.job for t in tasks}
    for shard_path in run_tasks(runner, tasks):
        try:
            shard = store.ingest(shard_path)
            error = "" if shard is None or shard.ok else (shard.error or "")
            key = shard.job_key if shard is not None else shard_path.name.split("-")[0]
        except RecordError as exc:
            store.quarantine(shard_path, str(exc))
            error = f"its result shard was unreadable and quarantined: {exc}"
            key = shard_path.name.split("-")[0]  # the record is unreadable: its file name is all there is
        job = by_key[key]
        summary.ran += 1
        if error:
            lines = error.strip().splitlines()
            summary.failed.append((job.describe(), lines[-1] if lines else "unknown error"))
        reporter.job_finished(job, not error, summary.failed[-1][1] if error else "")


def _trained_ensembles(
    tasks: list[Task], store: Store, summary: RunSummary, reporter: Reporter
) -> list[Task]:
    """The ensemble tasks whose members are all trained now; the others are failures naming them.

    Such an ensemble is retried by the next run (its conditions stay unevaluated).
    """
    trained = store.trained_jobs()
    ready = []
    for task in tasks:
        missing = [m.describe() for m in task.job.members if m.key not in trained]  # type: ignore[union-attr]
        if missing:
            message = f"members not trained: {', '.join(missing)}"
            summary.failed.append((task.job.describe(), message))
            reporter.job_finished(task.job, False, message)
        else:
            ready.append(task)
    return ready


def rebuild_store(
    results: str | Path = DEFAULT_RESULTS, wait: bool = False
) -> tuple[Path | None, int, int, list[str]]:
    """Recreate ``segbench.sqlite`` from the archived shards (``segbench store rebuild``).

    Returns:
        (where the old database was moved, shards ingested, suites restored, warnings).
    """
    from segbench.store import ResultsLock, Store, StoreError, rebuild_database

    folder = Path(results)
    if not (folder / "segbench.sqlite").exists() and not (folder / "shards").is_dir():
        # Not a results folder (a typo): creating an empty store there would only hide the mistake.
        raise StoreError(
            f"{folder} holds no segbench.sqlite and no shards/; nothing to rebuild (check --results)"
        )
    with ResultsLock(folder, wait=wait):
        refuse_links(folder)
        store = Store(results)
        aside, shards, suites = rebuild_database(store)
        return aside, shards, suites, store.warnings


def list_entries(kind: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Registered models/datasets/perturbations with summary, parameters and metadata.

    With ``kind`` ``None`` or ``"perturbations"`` a ``"presets"`` group lists the study's named
    shifts (``harder``, ``hardest``, ``easier``, ``easiest``) and what each selects.
    """
    registries = {"models": MODELS, "datasets": DATASETS, "perturbations": PERTURBATIONS}
    if kind is not None and kind not in registries:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(registries)}")
    out: dict[str, list[dict[str, Any]]] = {}
    for name, registry in registries.items():
        if kind and name != kind:
            continue
        out[name] = [
            {
                "name": e.name,
                "summary": e.summary,
                "parameters": {
                    n: (None if p.default is inspect.Parameter.empty else p.default)
                    for n, p in e.parameters().items()
                    if name != "models" or n not in INJECTED_MODEL_ARGS  # filled in by the runner
                },
                "meta": {k: v for k, v in e.meta.items() if not callable(v)},  # printable (no check=)
            }
            for e in registry.entries()
        ]
    if kind in (None, "perturbations"):
        out["presets"] = _preset_entries()
    return out


def _preset_entries() -> list[dict[str, Any]]:
    """The study's named shifts (``harder`` ...), listed beside the perturbations they select."""
    from segbench.perturbations import PRESETS, level_table

    rows = []
    for name, (target, severity) in sorted(PRESETS.items()):
        level = level_table(target)[severity]
        rows.append(
            {
                "name": name,
                "summary": f"preset: {target} at severity {severity} {level} (the skip study's shift)",
                "parameters": {},
                "meta": {"perturbation": target, "severity": severity, "level": level},
            }
        )
    return rows


def export_suite(path: str | Path, out: str | Path, fmt: str = "nnunet") -> Any:
    """Write a suite's perturbed test sets and ``manifest.json`` for an external tool (``ExportSummary``)."""
    from segbench.tools.roundtrip.export import export_suite as export

    refuse_links(out)  # the export writes images and a manifest there
    return export(path, out, fmt)


def import_predictions(
    predictions: str | Path, manifest: str | Path, label: str, results: str | Path = DEFAULT_RESULTS
) -> Any:
    """Score an external tool's masks against an export; store them as model ``label`` (``ImportSummary``)."""
    from segbench.store import ResultsLock
    from segbench.tools.roundtrip.importer import import_predictions as import_

    with ResultsLock(Path(results)):  # it writes the store: one writer per results folder
        refuse_links(results)
        return import_(predictions, manifest, label, results)


def advise_dataset(
    reference: str,
    params: dict[str, Any] | None = None,
    results: str | Path = DEFAULT_RESULTS,
    out: str | Path = Path("reports"),
    suites: list[str] | None = None,
    complexity: float | None = None,
) -> tuple[Any, Path]:
    """Measure a dataset, place it on a store's measured curves; returns the advice and its HTML page."""
    from segbench.paths import safe_name
    from segbench.report.build import write_plotly_js
    from segbench.store import Store
    from segbench.tools.advise import advise, stored_evidence, to_json
    from segbench.tools.dataset_profile import measure_dataset, resolve_dataset

    store = Store(results)
    if not store.path.exists():
        raise LookupError(f"no results store at {store.path}; run a suite first (e.g. suites/quick.yaml)")
    cases = store.cases()
    if suites:
        cases = cases[cases["suite"].isin(suites)]
    profile = measure_dataset(resolve_dataset(reference, params), complexity=complexity)
    jobs = store.jobs()
    jobs = jobs[jobs["suite"].isin(suites)] if suites and not jobs.empty else jobs
    advice = advise(profile, cases, evidence=stored_evidence(jobs))
    refuse_links(out)  # the page, its JSON and plotly.js are written there
    folder = Path(out) / "advise"
    folder.mkdir(parents=True, exist_ok=True)
    stem = safe_name(profile.name)  # the dataset's name, not its file's: dataset.json pages never collide
    write_plotly_js(Path(out))
    page = folder / f"{stem}.html"
    page.write_text(advice.html(plotly_src="../plotly.min.js"), encoding="utf-8")
    (folder / f"{stem}.json").write_text(to_json(advice), encoding="utf-8")
    return advice, page
