"""perfops collect: pull telemetry from the sources configured in perfops.yaml."""

from __future__ import annotations

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


def register(app: typer.Typer) -> None:
    app.command("collect")(collect)


def collect(
    since: Annotated[str | None, typer.Option(
        "--since", help="How far back to pull, e.g. 7d. Default: resume where the last collect stopped (else 7d).",
    )] = None,
    until: Annotated[str | None, typer.Option("--until", help="End of the range, ISO 8601 (default: now).")] = None,
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Pull telemetry from the sources in perfops.yaml (Prometheus and its API twins)."""
    import time
    from datetime import UTC, datetime

    from perfops.cli.progress import step_progress
    from perfops.usecases.collect import collect as collect_usecase
    from perfops.usecases.context import parse_moment

    ws = workspace_of(workspace)
    started = time.monotonic()
    now = datetime.now(UTC).replace(tzinfo=None)
    with step_progress(show_progress(quiet), "collect") as progress:
        report = collect_usecase(ws, now=now, since=since, until=parse_moment(until, "--until"), progress=progress)
    for query in report.queries:
        for line in query.unmatched[: (len(query.unmatched) if verbose else 5)]:
            console_err.print(f"warning: {query.metric}: skipped {line}", markup=False, soft_wrap=True)
        if len(query.unmatched) > 5 and not verbose:
            console_err.print(f"warning: {query.metric}: {len(query.unmatched) - 5} more (see --verbose)")
    if quiet:
        return
    for query in report.queries:
        if verbose or query.rows:
            console.print(f"  {query.metric}: {query.rows:,} points from {query.series:,} series "
                          f"({query.start:%Y-%m-%d %H:%M} .. {query.end:%Y-%m-%d %H:%M} UTC, {query.chunks} queries)",
                          markup=False)
    console.print(f"collected {report.rows:,} points from {report.source.split(':', 1)[1]} "
                  f"in {time.monotonic() - started:.1f} s", markup=False)
