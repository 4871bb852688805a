"""The ``segbench`` command: thin click wrappers around ``segbench.api``."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import click

from segbench import __version__
from segbench.core.defaults import BASELINE_MODEL

RESULTS_OPTION = click.option(
    "--results",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Results folder (SQLite store, shards, checkpoints).",
)


def _fail(message: str, code: int = 2) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(code)


def _interrupted(what: str = "finished jobs are stored; run the same command again to resume") -> None:
    """Exit 130 after Ctrl-C (143 after SIGTERM), even when a library saw the interrupt first.

    Why ``os._exit``: the interrupt has already unwound through every ``finally`` (the store is
    committed, workers are cancelled, the lock is released), but a ``KeyboardInterrupt`` that passed
    through a C extension (torch's lazy imports) can leave CPython's "unhandled interrupt" flag set,
    and the interpreter then kills itself with SIGINT (exit -2) instead of returning 130 — seen about
    once in five runs.  Under click's test runner (streams replaced) a normal exit is kept.
    """
    code = 143 if _TERMINATED else 130
    click.secho(f"{'terminated' if _TERMINATED else 'interrupted'}: {what}", fg="red", err=True)
    if sys.stderr is sys.__stderr__ and sys.stdout is sys.__stdout__:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


_TERMINATED: list[int] = []
"""Non-empty once SIGTERM arrived (then an interrupt exits 143, not 130)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same cleanup runs (lock, store, workers)."""


def _on_sigterm(signum: int, frame: object) -> None:
    _TERMINATED.append(signum)
    raise Terminated()


class _Segbench(click.Group):
    """The command group; the one place that maps what escaped a command to an exit code.

    0 success; 1 the command's "no" (failed jobs, a regression, failures listed); 2 a usage or input
    error, including anything a command did not foresee (one line, never a traceback; set
    ``SEGBENCH_DEBUG=1`` to see it); 130 Ctrl-C; 143 SIGTERM, both after cleanup.
    """

    def invoke(self, ctx: click.Context) -> object:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            _interrupted("stopped; nothing half-written is kept, run the same command again")
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            if os.environ.get("SEGBENCH_DEBUG"):
                raise
            _fail(_unexpected(exc))
        return None


def _unexpected(exc: Exception) -> str:
    """One line for an error no command caught: the usual cause where one is known."""
    import sqlite3

    if isinstance(exc, OSError):
        return _os_error(exc, "read or write")
    if isinstance(exc, sqlite3.Error):
        return f"the results database cannot be used ({exc}); 'segbench store rebuild' recreates it"
    # A KeyError's str() is its key's repr ('complexity'); other messages keep their quotes
    # (stripping them cut the closing quote of "... with 'segbench check --update'").
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    detail = text.strip().splitlines()[0] if text.strip() else ""
    if type(exc).__module__.startswith("segbench.") and detail:
        return detail  # segbench's own errors are written as one line naming the file and the fix
    return f"error: {type(exc).__name__}: {detail} (SEGBENCH_DEBUG=1 shows the traceback)"


def _folder_out(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """An output-folder option: a name that looks like a file (``x.png``) is a one-line error (exit 2)."""
    from segbench.paths import check_folder

    try:
        return check_folder(value, f"--{param.name}")
    except ValueError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def _warn(lines: list[str]) -> None:
    for line in lines:
        click.secho(f"warning: {line}", fg="yellow", err=True)


def _os_error(exc: OSError, verb: str = "write") -> str:
    """One line for a filesystem error: what, where, and the usual fix."""
    where = f" {exc.filename}" if exc.filename else ""
    reason = exc.strerror or str(exc)
    hint = {
        28: "; free disk space and rerun",
        13: "; check the folder's permissions",
        30: "; the filesystem is read-only",
        17: "; a file is in the way: remove it or choose another folder",
        20: "; a file is in the way: remove it or choose another folder",
    }
    return f"cannot {verb}{where}: {reason}{hint.get(exc.errno or 0, '')}"


class _PositiveNumber(click.ParamType):
    """A finite number > 0 (click's FloatRange lets nan and inf through)."""

    name = "number"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number) or number <= 0:
            self.fail(f"{value!r} must be a finite number > 0", param, ctx)
        return number


POSITIVE = _PositiveNumber()


@click.group(cls=_Segbench)
@click.version_option(__version__, prog_name="segbench")
def main() -> None:
    """Robustness benchmarks for medical image segmentation models."""


@main.command()
@click.argument("suite_file", type=click.Path(path_type=Path))
@RESULTS_OPTION
@click.option("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available).")
@click.option("--dry-run", is_flag=True, help="Print the plan and what is already done; run nothing.")
@click.option("--quiet", is_flag=True, help="Log lines instead of progress bars.")
@click.option("--wait", is_flag=True, help="Wait for another run on the same results folder to finish.")
@click.option("--replace", is_flag=True, help="Let this file take over a stored suite of the same name.")
@click.option(
    "--executor",
    type=click.Choice(["local", "pool", "slurm"]),
    default=None,
    help="Where jobs run (default: the suite's executor: section, else local).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="pool: worker processes (default 2, or per GPU).",
)
@click.option(
    "--jobs-per-gpu", type=click.IntRange(min=1), default=None, help="pool: concurrent jobs on one GPU."
)
@click.option(
    "--timeout-min", type=POSITIVE, default=None, help="Stop and fail a job after this many minutes."
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="CPU threads per job (default: train.threads, 1; results depend on it, see README).",
)
@click.option(
    "--shard",
    default=None,
    metavar="I/N",
    help="Run only part I of N of the suite's jobs (one part per machine; join them with merge).",
)
@click.option("--partition", default=None, help="slurm: partition.")
@click.option("--gpus-per-task", type=click.IntRange(min=0), default=None, help="slurm: GPUs per job.")
@click.option("--cpus-per-task", type=click.IntRange(min=1), default=None, help="slurm: CPUs per job.")
@click.option("--mem-gb", type=POSITIVE, default=None, help="slurm: memory per job (GB).")
@click.option(
    "--slurm-timeout-min",
    type=click.IntRange(min=1),
    default=None,
    help="slurm: wall time per job (requeued).",
)
@click.option(
    "--array-parallelism", type=click.IntRange(min=1), default=None, help="slurm: array jobs running at once."
)
@click.option(
    "--slurm-cluster",
    type=click.Choice(["slurm", "local", "debug"]),
    default=None,
    help="slurm: submitit backend (local/debug run the same protocol without Slurm, for tests).",
)
def run(
    suite_file: Path,
    results: Path,
    device: str | None,
    dry_run: bool,
    quiet: bool,
    wait: bool,
    replace: bool,
    executor: str | None,
    timeout_min: float | None,
    threads: int | None,
    shard: str | None,
    **executor_settings: object,
) -> None:
    """Train and evaluate every pending cell of SUITE_FILE (resumes where it stopped)."""
    from segbench import api
    from segbench.store import LockHeld, StoreError
    from segbench.suite.device import DeviceError
    from segbench.suite.errors import SuiteError

    settings = dict(executor_settings)
    settings["wall_time_min"] = settings.pop("slurm_timeout_min")  # Slurm wall time, not the job limit
    settings["cluster"] = settings.pop("slurm_cluster")
    try:
        if dry_run:
            plan = api.plan_suite(suite_file, results, replace=replace, shard=shard)
            _warn(plan.warnings)
            click.echo("\n".join(plan.lines()))
            return
        summary = api.run_suite(
            suite_file,
            results,
            device=device,
            quiet=quiet,
            wait=wait,
            replace=replace,
            executor=executor,
            executor_settings=settings,
            timeout_min=timeout_min,
            threads=threads,
            shard=shard,
        )
    except (SuiteError, DeviceError, LockHeld, StoreError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error(exc))
    except ValueError as exc:  # executor options that do not fit (e.g. --workers with local)
        _fail(str(exc))
    except KeyboardInterrupt:
        _interrupted()
    _warn(summary.warnings)
    done = f"{summary.ran} jobs run, {summary.skipped} already done"
    if summary.recovered_shards:
        done += f", {summary.recovered_shards} results recovered from an interrupted run"
    if summary.failed:
        lines = [f"  {name}: {error}" for name, error in summary.failed]
        _fail(
            f"suite {summary.suite}: {done}; {len(summary.failed)} FAILED (rerun retries them):\n"
            + "\n".join(lines),
            1,
        )
    click.echo(f"suite {summary.suite}: {done}; results in {results}")
    if summary.unconverged:
        click.echo(f"note: {summary.unconverged}")


@main.command()
@RESULTS_OPTION
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("reports"), show_default=True, callback=_folder_out
)
@click.option("--suite", "suites", multiple=True, help="Only this suite (repeatable).")
@click.option(
    "--self-contained", is_flag=True, help="Also write <out>/<suite>/<suite>.html: one file, script inlined."
)
def report(results: Path, out: Path, suites: tuple[str, ...], self_contained: bool) -> None:
    """Render HTML leaderboards (and CSV exports) from the results store."""
    from segbench.report.build import build_reports
    from segbench.store import StoreError

    if out.exists() and not out.is_dir():
        _fail(f"cannot write the report to {out}: it is a file; remove it or choose another --out")

    try:
        built = build_reports(results, out, list(suites) or None, self_contained=self_contained)
    except (LookupError, StoreError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error(exc))
    for item in built:
        note = f" (partial: {item.done}/{item.expected} evaluations)" if item.partial else ""
        click.echo(f"{item.suite}: {item.index} ({item.n_cases} case rows){note}")
        if item.standalone:
            click.echo(f"{item.suite}: {item.standalone} (self-contained)")


@main.command()
@click.argument("cases_csv", metavar="CASES.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=Path("reports"), show_default=True)
@click.option(
    "--baseline", default=BASELINE_MODEL, show_default=True, help="Model corruption errors are relative to."
)
@click.option("--self-contained", is_flag=True, help="Also write one file with the script inlined.")
def analyze(cases_csv: Path, out: Path, baseline: str, self_contained: bool) -> None:
    """Statistics and report of any long per-case table (the columns of segbench's cases.csv)."""
    from segbench.report.from_csv import CasesTableError, analyze_csv

    if out.exists() and not out.is_dir():
        _fail(f"cannot write the report to {out}: it is a file; remove it or choose another --out")
    try:
        item = analyze_csv(cases_csv, out, self_contained=self_contained, baseline_model=baseline)
    except CasesTableError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error(exc))
    click.echo(f"{item.suite}: {item.index} ({item.n_cases} case rows)")


@main.command()
@RESULTS_OPTION
@click.option("--suite", default=None, help="Only this suite's jobs.")
@click.option("--lines", default=8, show_default=True, help="Traceback lines per failed job.")
def failures(results: Path, suite: str | None, lines: int) -> None:
    """Failed train jobs with the last lines of their tracebacks (exit 1 when there are any)."""
    from segbench.report.failures import failures_text

    try:
        n, text = failures_text(results, suite, lines)
    except LookupError as exc:
        _fail(str(exc))
    click.echo(text)
    sys.exit(1 if n else 0)


@main.command()
@click.argument("a", type=click.Path(exists=True, path_type=Path))
@click.argument("b", type=click.Path(exists=True, path_type=Path))
@click.option("--suite", default=None, help="Suite to compare (when a folder holds several).")
@click.option("--metric", default="dice", show_default=True, help="dice, hd95 or nsd.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the diff leaderboard as HTML here.",
)
def compare(a: Path, b: Path, suite: str | None, metric: str, html_path: Path | None) -> None:
    """Diff leaderboard B − A (results folders or baseline JSON) with paired bootstrap CIs."""
    from segbench.tools.compare import compare_runs

    try:
        result = compare_runs(a, b, suite, metric)
    except (LookupError, ValueError, KeyError) as exc:
        _fail(str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc))
    click.echo(result.text)
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(result.html, encoding="utf-8")
        click.echo(f"html: {html_path}")


@main.command()
@click.argument("a", type=click.Path(file_okay=False, path_type=Path))
@click.argument("b", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="New results folder."
)
def merge(a: Path, b: Path, out: Path) -> None:
    """Merge two results folders (e.g. from two machines) into OUT; refuses conflicting duplicates."""
    from segbench.tools.merge import merge_stores

    try:
        result = merge_stores(a, b, out)
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        _fail(str(exc))
    click.echo(
        f"merged into {result.out}: {result.shards} shards, suites {', '.join(result.suites) or '-'}, "
        f"{result.duplicates} identical duplicate cases, {result.checkpoints} checkpoints copied"
    )


@main.command()
@click.argument("suite_files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(suite_files: tuple[Path, ...]) -> None:
    """Check suite files: schema, names and parameters (errors give file:line)."""
    from segbench import api
    from segbench.plan import expand
    from segbench.suite.errors import SuiteError

    failed = False
    for path in suite_files:
        try:
            suite = api.validate_suite(path)
        except SuiteError as exc:
            click.secho(str(exc), fg="red", err=True)
            failed = True
            continue
        jobs = expand(suite)
        click.echo(f"{path}: ok ({api.count_text(suite, jobs)})")
    if failed:
        sys.exit(2)


@main.command()
@click.argument("suite_file", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
    callback=_folder_out,
)
@click.option("--perturbation", "names", multiple=True, help="Only these perturbations (repeatable).")
@click.option("--case", default=0, show_default=True, help="Index of the test case to show.")
@click.option("--all", "show_all", is_flag=True, help="Every registered perturbation, not only the suite's.")
def preview(suite_file: Path, out: Path, names: tuple[str, ...], case: int, show_all: bool) -> None:
    """Gallery of one test case under the suite's perturbations x severities (PNG + HTML)."""
    from segbench.suite.errors import SuiteError
    from segbench.tools.preview import preview_suite

    try:
        result = preview_suite(suite_file, out, list(names) or None, case, show_all=show_all)
    except (SuiteError, ValueError) as exc:
        _fail(str(exc))
    click.echo(f"{result.png} ({len(result.names)} perturbations x 5 severities, case {result.case_id})")
    click.echo(f"{result.html}")


@main.command()
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Baseline JSON, e.g. reports/baseline/ci.json.",
)
@RESULTS_OPTION
@click.option("--suite", default="ci", show_default=True, help="Suite whose results are compared.")
@click.option("--delta", default=0.05, show_default=True, help="Tolerated Dice loss beyond uncertainty.")
@click.option("--update", is_flag=True, help="Rewrite the baseline from the current results.")
def check(baseline: Path, results: Path, suite: str, delta: float, update: bool) -> None:
    """Regression gate: exit 0 pass, 1 regression, 2 usage or input error (bad baseline, no results)."""
    from segbench.store import StoreError
    from segbench.tools.gate import run_gate

    try:
        outcome = run_gate(results, baseline, suite=suite, delta=delta, update=update)
    except (FileNotFoundError, LookupError, ValueError, StoreError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error(exc))
    click.echo(outcome.text)
    if outcome.regressed and not update:
        sys.exit(1)


@main.command()
@click.argument("dataset")
@click.option("--params", default="{}", help="Dataset parameters as YAML/JSON, e.g. '{size: 64}'.")
@click.option("--complexity", type=float, default=None, help="The dataset's complexity knob, if it has one.")
@RESULTS_OPTION
@click.option("--suite", "suites", multiple=True, help="Only these suites' results (repeatable).")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"), show_default=True
)
def advise(
    dataset: str, params: str, complexity: float | None, results: Path, suites: tuple[str, ...], out: Path
) -> None:
    """Which architecture does the evidence favour for DATASET (registered name, datalist, nnU-Net folder)?"""
    from segbench import api
    from segbench.suite.errors import SuiteError
    from segbench.suite.yaml_safe import yaml_data

    try:
        parsed = yaml_data(params, "--params") or {}
    except SuiteError as exc:
        _fail(str(exc))
    if not isinstance(parsed, dict):
        _fail(f"--params must be a mapping such as '{{size: 64}}', got {params!r}")
    try:
        advice, page = api.advise_dataset(dataset, parsed, results, out, list(suites) or None, complexity)
    except (LookupError, ValueError, TypeError) as exc:
        _fail(str(exc))
    click.echo(advice.text())
    click.echo(f"written: {page}")


@main.group()
def store() -> None:
    """Maintain the results store."""


@store.command()
@RESULTS_OPTION
@click.option("--wait", is_flag=True, help="Wait for a run on the same results folder to finish.")
def rebuild(results: Path, wait: bool) -> None:
    """Recreate segbench.sqlite from the archived shards (shards/ingested); keeps the old file aside."""
    from segbench import api
    from segbench.store import LockHeld, StoreError

    try:
        aside, shards, suites, warnings = api.rebuild_store(results, wait=wait)
    except (LockHeld, StoreError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error(exc))
    _warn(warnings)
    kept = f"; the old database is kept as {aside}" if aside else ""
    click.echo(f"rebuilt {results / 'segbench.sqlite'} from {shards} shards and {suites} suite records{kept}")


@main.command(name="export")
@click.argument("suite_file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Export folder.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["nnunet", "nnunet-png", "nifti", "png"]),
    default="nnunet",
    show_default=True,
)
def export_command(suite_file: Path, out: Path, fmt: str) -> None:
    """Write SUITE_FILE's perturbed test images (one folder per condition) for an external model."""
    from segbench import api

    try:
        summary = api.export_suite(suite_file, out, fmt)
    except ValueError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error(exc))
    click.echo(f"{summary.n_images} images in {summary.n_test_sets} folders; manifest: {summary.manifest}")
    click.echo(
        "predict each folder into PRED/<folder>/, then: "
        f"segbench import PRED --manifest {summary.manifest} --label NAME"
    )


@main.command(name="import")
@click.argument("predictions", type=click.Path(file_okay=False, path_type=Path))
@click.option("--manifest", type=click.Path(path_type=Path), required=True, help="Export's manifest.json.")
@click.option("--label", required=True, help="The model's name in reports (re-importing replaces it).")
@RESULTS_OPTION
def import_command(predictions: Path, manifest: Path, label: str, results: Path) -> None:
    """Score predicted masks in PREDICTIONS/<folder>/ and store them as a model of the exported suite."""
    from segbench import api
    from segbench.store import LockHeld, StoreError

    try:
        summary = api.import_predictions(predictions, manifest, label, results)
    except (ValueError, LockHeld, StoreError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error(exc, "read or write"))
    click.echo(
        f"{summary.label}: {summary.n_cases} cases in {summary.n_test_sets} conditions stored with suite "
        f"{summary.suite} (mean Dice {summary.mean_dice:.3f}); `segbench report` shows it"
    )


@main.command(name="list")
@click.argument("kind", required=False, type=click.Choice(["models", "datasets", "perturbations"]))
def list_command(kind: str | None) -> None:
    """Registered models, datasets and perturbations with their parameters."""
    from segbench import api

    for group, entries in api.list_entries(kind).items():
        click.secho(group, bold=True)
        for entry in entries:
            click.echo(f"  {entry['name']:<16} {entry['summary']}")
            params = ", ".join(f"{k}={v!r}" for k, v in entry["parameters"].items())
            if params:
                click.echo(f"  {'':<16} params: {params}")
            for severity, level in sorted((entry["meta"].get("levels") or {}).items()):
                click.echo(f"  {'':<16} severity {severity}: {level}")


if __name__ == "__main__":
    main()
