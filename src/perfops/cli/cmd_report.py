"""perfops report | serve | notify — thin: parse options, call a use case, print.

Heavy imports (matplotlib, FastAPI, uvicorn, httpx) happen inside the commands.
"""

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


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("serve")(serve)
    app.command("notify")(notify)


def report(
    audience: Annotated[str | None, typer.Option(help="executive, lead or developer (default: all of them).")] = None,
    squad: Annotated[str | None, typer.Option(help="The squad of a lead report (default: every squad).")] = None,
    service: Annotated[str | None, typer.Option(help="The service of a developer report (default: every service).")] = None,
    period: Annotated[str | None, typer.Option(
        help="Show the stored analysis of this period (default: the newest analysis, whatever its period).")] = None,
    format_name: Annotated[str | None, typer.Option("--format", help="html, md, json or pdf (default: html and md).")] = None,
    output: Annotated[Path | None, typer.Option(help="Write one report to this file, or - for stdout (needs --audience).")] = None,
    at: Annotated[str | None, typer.Option(
        help="Show the stored analysis that ended at this time (ISO 8601, its analyze --at; default: the newest).")] = None,
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Write reports tailored to each audience (default: all of them into reports/) from a stored
    analysis run: the newest, or the one --at and --period name. Reports compute nothing: run
    'perfops analyze' first."""
    from perfops.usecases.reports import render_reports

    ws = workspace_of(workspace)
    if output is not None and str(output) == "-":
        _report_to_stdout(ws, audience, squad, service, period, format_name, at)
        return
    progress = _progress() if show_progress(quiet) else None
    try:
        paths = render_reports(ws, audience=audience, squad=squad, service=service, period=period,
                               fmt=format_name, output=output, at=at, progress=progress)
    finally:
        if progress is not None:
            progress.close()
    if quiet:
        return
    if verbose or len(paths) <= 6:
        for path in paths:
            console.print(str(path), highlight=False, markup=False)
    else:
        console.print(f"wrote {len(paths)} reports into {ws.reports_dir} (open {ws.reports_dir / 'index.html'})",
                      highlight=False, markup=False)


def _report_to_stdout(ws, audience, squad, service, period, format_name, at) -> None:
    """`--output -`: render the one report into a scratch file, then copy its bytes to stdout."""
    import shutil
    import sys
    import tempfile

    from perfops.usecases.reports import render_reports

    with tempfile.TemporaryDirectory(prefix="perfops-report-") as scratch:
        target = Path(scratch) / f"report.{format_name or 'html'}"
        render_reports(ws, audience=audience, squad=squad, service=service, period=period,
                       fmt=format_name, output=target, at=at)
        with target.open("rb") as source:
            shutil.copyfileobj(source, sys.stdout.buffer)
        sys.stdout.flush()


class _progress:
    def __init__(self) -> None:
        from rich.progress import Progress

        self.bar = Progress(console=console_err, transient=True)
        self.bar.start()
        self.task = self.bar.add_task("reports", total=None)

    def __call__(self, name: str, index: int, total: int) -> None:
        self.bar.update(self.task, total=total, completed=index, description=name)

    def close(self) -> None:
        self.bar.stop()


def serve(
    host: Annotated[str, typer.Option(help="Address to bind; 127.0.0.1 keeps it on this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on (1-65535).")] = 8080,
    with_schedule: Annotated[bool, typer.Option(
        "--schedule", help="Also run perfops.yaml's schedule (collect, analyze, cycle) in this process.")] = False,
    log_format: Annotated[str, typer.Option("--log-format", help="text or json (JSON lines on stderr).")] = "text",
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """The web dashboard and JSON API (writes need the workspace token; see docs/dashboard.md); /metrics for Prometheus."""
    import uvicorn

    from perfops.cli import logs
    from perfops.usecases.reports import stored_run
    from perfops.web.app import create_app

    logs.check_format(log_format)
    ws = workspace_of(workspace)
    _check_port_free(host, port)
    # the dashboard shows a stored run: refused (exit 1) when nothing was analysed, unless the
    # schedule is to make the first one
    run = _stored_run_or_none(ws) if with_schedule else stored_run(ws)
    scheduler = _scheduler(ws, log_format) if with_schedule else None
    app = create_app(ws.root, host=host, scheduler=scheduler)
    if not quiet:
        showing = f"the newest {run.describe()}" if run else "no analysis yet: the schedule will make one"
        console_err.print(f"perfops dashboard on http://{host}:{port}/ (API docs at /docs), showing {showing}; "
                          "Ctrl+C stops it", highlight=False, markup=False)
    if scheduler is not None:
        scheduler.start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning" if quiet else "info", access_log=verbose,
                    log_config=logs.uvicorn_config(log_format) or uvicorn.config.LOGGING_CONFIG,
                    # proxy_headers off: uvicorn would otherwise take the client address from X-Forwarded-For
                    # of any local connection; the app believes it only from PERFOPS_WEB_TRUSTED_PROXIES
                    proxy_headers=False)
    finally:
        if scheduler is not None:
            scheduler.stop()


def _scheduler(ws, log_format: str):
    from perfops.cli import logs
    from perfops.usecases.cycle import schedule_of
    from perfops.usecases.scheduler import Scheduler

    catalog = ws.load_catalog()
    logger = logs.configure(log_format)
    return Scheduler(ws.root, schedule_of(catalog), catalog.timezone,
                     log=lambda message, fields: logs.log(logger, message, fields))


def _stored_run_or_none(ws):
    from perfops.errors import PerfopsError
    from perfops.usecases.reports import stored_run

    try:
        return stored_run(ws)
    except PerfopsError:
        return None


def _check_port_free(host: str, port: int) -> None:
    """A clear error (exit 1) instead of uvicorn's log line and exit 3 when the address is taken."""
    import socket

    from perfops.errors import PerfopsError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise PerfopsError(f"--host: '{host}' is not an address of this machine ({exc.strerror})") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise PerfopsError(f"cannot listen on {host}:{port}: {exc.strerror}",
                               hint="pick another port with --port, or stop what uses it") from exc


def notify(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the digests instead of sending them.")] = False,
    period: Annotated[str, typer.Option(help="What counts as new when no digest was sent before.")] = "7d",
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Send each squad its digest and the domain digest to the webhooks in perfops.yaml."""
    from perfops.usecases.notify import send_digests

    result = send_digests(workspace_of(workspace), dry_run=dry_run, period=period)
    if dry_run:
        import json

        for digest in result.digests:
            console.print(f"--- {digest.target} ({digest.webhook or 'no webhook'})", highlight=False, markup=False)
            console.print(digest.text, highlight=False, markup=False)
            if verbose or not quiet:
                console.print(json.dumps(digest.slack, indent=2, ensure_ascii=False), highlight=False, markup=False)
        return
    if not quiet:
        for line in result.lines():
            console.print(line, highlight=False, markup=False)
