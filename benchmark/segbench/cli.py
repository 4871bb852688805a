"""The ``segbench`` command: thin click wrappers around ``segbench.api``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from segbench import __version__

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


@click.group()
@click.version_option(__version__, prog_name="segbench")
def main() -> None:
    """Robustness benchmarks for medical image segmentation models."""


@main.command()
@click.argument("suite_file", type=click.Path(path_type=Path))
@RESULTS_OPTION
@click.option("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available).")
@click.option("--dry-run", is_flag=True, help="Print the plan and what is already done; run nothing.")
@click.option("--quiet", is_flag=True, help="Log lines instead of progress bars.")
def run(suite_file: Path, results: Path, device: str | None, dry_run: bool, quiet: bool) -> None:
    """Train and evaluate every pending cell of SUITE_FILE (resumes where it stopped)."""
    from segbench import api
    from segbench.suite.errors import SuiteError

    try:
        if dry_run:
            click.echo("\n".join(api.plan_suite(suite_file, results).lines()))
            return
        summary = api.run_suite(suite_file, results, device=device, quiet=quiet)
    except SuiteError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted: finished jobs are stored; run the same command again to resume", 130)
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


@main.command()
@RESULTS_OPTION
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"), show_default=True
)
@click.option("--suite", "suites", multiple=True, help="Only this suite (repeatable).")
@click.option(
    "--self-contained", is_flag=True, help="Also write <out>/<suite>/<suite>.html: one file, script inlined."
)
def report(results: Path, out: Path, suites: tuple[str, ...], self_contained: bool) -> None:
    """Render HTML leaderboards (and CSV exports) from the results store."""
    from segbench.report.build import build_reports

    try:
        built = build_reports(results, out, list(suites) or None, self_contained=self_contained)
    except LookupError as exc:
        _fail(str(exc))
    for item in built:
        note = f" (partial: {item.done}/{item.expected} evaluations)" if item.partial else ""
        click.echo(f"{item.suite}: {item.index} ({item.n_cases} case rows){note}")
        if item.standalone:
            click.echo(f"{item.suite}: {item.standalone} (self-contained)")


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
    from segbench.compare import compare_runs

    try:
        result = compare_runs(a, b, suite, metric)
    except (LookupError, ValueError, KeyError) as exc:
        _fail(str(exc).strip("'\""))
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
    from segbench.merge import merge_stores

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
        click.echo(f"{path}: ok ({len(jobs)} train jobs, {sum(len(j.conditions) for j in jobs)} evaluations)")
    if failed:
        sys.exit(2)


@main.command()
@click.argument("suite_file", type=click.Path(path_type=Path))
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"), show_default=True
)
@click.option("--perturbation", "names", multiple=True, help="Only these perturbations (repeatable).")
@click.option("--case", default=0, show_default=True, help="Index of the test case to show.")
@click.option("--all", "show_all", is_flag=True, help="Every registered perturbation, not only the suite's.")
def preview(suite_file: Path, out: Path, names: tuple[str, ...], case: int, show_all: bool) -> None:
    """Gallery of one test case under the suite's perturbations x severities (PNG + HTML)."""
    from segbench.preview import preview_suite
    from segbench.suite.errors import SuiteError

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
    """Regression gate: exit 1 when a model's Dice fell below the baseline by more than DELTA."""
    from segbench.gate import run_gate

    try:
        outcome = run_gate(results, baseline, suite=suite, delta=delta, update=update)
    except (FileNotFoundError, LookupError, ValueError) as exc:
        _fail(str(exc))
    click.echo(outcome.text)
    if outcome.regressed and not update:
        sys.exit(1)


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
