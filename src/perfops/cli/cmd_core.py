"""perfops init, check, ingest, analyze."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perfops.cli.output import (
    QuietOpt,
    VerboseOpt,
    WorkspaceOpt,
    console,
    console_err,
    show_progress,
    workspace_of,
)

NOTES_SHOWN = 10  # series the analyze summary names as not judged


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("check")(check)
    app.command("ingest")(ingest)
    app.command("analyze")(analyze)


def init(
    directory: Annotated[Path | None, typer.Argument(help="Folder to write perfops.yaml into.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing perfops.yaml.")] = False,
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write a commented perfops.yaml to start from."""
    from importlib.resources import files

    from perfops.errors import PerfopsError

    ws = workspace_of(directory or workspace)
    ws.root.mkdir(parents=True, exist_ok=True)
    if ws.catalog_path.exists() and not force:
        raise PerfopsError(f"{ws.catalog_path} already exists", hint="pass --force to overwrite it")
    ws.catalog_path.write_text(files("perfops").joinpath("starter.yaml").read_text())
    if not quiet:
        console.print(f"wrote {ws.catalog_path}; edit it, then run 'perfops check'")


def check(workspace: WorkspaceOpt = None, quiet: QuietOpt = False, verbose: VerboseOpt = False) -> None:
    """Validate perfops.yaml and print every problem with its line (exit 1 on any)."""
    catalog = workspace_of(workspace).load_catalog()
    if not quiet:
        console.print(
            f"perfops.yaml is valid: {len(catalog.squads)} squads, {len(catalog.services)} services, "
            f"{len(catalog.journeys)} journeys, {len(catalog.consumers)} consumers"
        )


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to load.")],
    format_name: Annotated[str, typer.Option("--format", help="auto, or a format name (see docs/formats).")] = "auto",
    service: Annotated[str | None, typer.Option(help="Service the file is about (test results, access logs).")] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Id of a performance-test run.")] = None,
    environment: Annotated[str | None, typer.Option(help="Environment of a test run, e.g. perf.")] = None,
    skip_bad_rows: Annotated[bool, typer.Option("--skip-bad-rows", help="Load the good rows; list the bad.")] = False,
    log_format: Annotated[str | None, typer.Option("--log-format", help="nginx log_format string.")] = None,
    consumer_field: Annotated[str | None, typer.Option("--consumer-field", help="Access logs: consumer source.")] = None,
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Load files into the store. The same file twice changes nothing."""
    from perfops.cli.progress import byte_progress
    from perfops.usecases.ingest import ingest_paths

    ws = workspace_of(workspace)
    with byte_progress(show_progress(quiet)) as progress:
        results = ingest_paths(
            ws, paths, format_name=format_name, service=service, run_id=run_id, environment=environment,
            skip_bad_rows=skip_bad_rows, log_format=log_format, consumer_field=consumer_field, progress=progress,
        )
    for result in results:
        if result.skipped:
            for line in result.skipped[: (len(result.skipped) if verbose else 10)]:
                console_err.print(f"skipped {line}", markup=False)
        for warning in result.warnings:  # data left out: shown even with -q, like skipped rows
            console_err.print(f"warning: {result.path}: {warning}", markup=False)
        if quiet:
            continue
        if result.status == "unchanged":
            console.print(f"{result.path}: already ingested ({result.format}); nothing changed", markup=False)
        else:
            skipped = f", {len(result.skipped)} bad rows skipped" if result.skipped else ""
            what = (f"test run {', '.join(result.run_ids)}" if result.run_ids else _rows(result.rows))
            console.print(f"{result.path}: {what} loaded as {result.format}{skipped}", markup=False)
            for run, samples, endpoints in result.run_sizes:
                spread = f"over {_count(endpoints, 'endpoint')}" if endpoints else "(no per-endpoint results)"
                console.print(f"  run {run}: {_count(samples, 'sample')} {spread}", markup=False)
        nothing = result.status != "unchanged" and not result.run_ids and result.rows == 0
        for note in result.notes if verbose or nothing else []:
            if note in result.warnings:
                continue
            console.print(f"  note: {note}", markup=False)
        if nothing:
            console_err.print(
                f"warning: nothing was loaded from {result.path}: it holds no series perfops reads "
                "(the notes above say what was skipped; docs/formats/ lists what is read)", markup=False)


def _rows(count: int) -> str:
    return _count(count, "row")


def _count(count: int, noun: str) -> str:
    return f"1 {noun}" if count == 1 else f"{count:,} {noun}s"


def analyze(
    period: Annotated[str, typer.Option(help="Length of the period analysed, e.g. 7d.")] = "7d",
    at: Annotated[str | None, typer.Option(help="End of the period (ISO 8601); default: the newest data.")] = None,
    cluster: Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. tcp://scheduler:8786.")] = None,
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Run every analysis over the period and store the findings; print a one-screen summary."""
    from perfops.cli.findings_view import print_summary
    from perfops.cli.progress import step_progress
    from perfops.usecases.analyze import analyze as run

    with step_progress(show_progress(quiet), "analyzing") as progress:
        result = run(workspace_of(workspace), period=period, at=at, cluster=cluster, progress=progress)
    for note in result.notes:
        console_err.print(f"warning: {note}", markup=False)
    if not quiet:
        print_summary(result.findings, result.period_start, result.period_end)
        for note in result.notes[:NOTES_SHOWN]:
            console.print(f"[dim]not judged:[/dim] {note}", highlight=False)
        if len(result.notes) > NOTES_SHOWN:
            console.print(f"[dim]not judged: … and {len(result.notes) - NOTES_SHOWN} more series[/dim]")
