"""perfops cycle | schedule — the weekly loop as one command, and its schedule for cron or systemd.

Exit codes of `cycle`: 0 every step ran or was already done for this period; 1 the catalog or an
option is wrong (nothing ran); 4 a step failed (the summary line names it; later steps ran where
they could); 75 another cycle holds the workspace's lock (nothing ran; try again later).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from perfops.cli.output import QuietOpt, VerboseOpt, WorkspaceOpt, console, console_err, workspace_of

STEP_FAILED_EXIT = 4
BUSY_EXIT = 75  # sysexits EX_TEMPFAIL


def register(app: typer.Typer) -> None:
    app.command("cycle")(cycle)
    app.command("schedule")(schedule)


def cycle(
    steps: Annotated[str, typer.Option(help="Steps to run, comma-separated: collect,analyze,report,notify,retention.")]
    = "collect,analyze,report,notify,retention",
    period: Annotated[str | None, typer.Option(help="Period length; default: schedule.period in perfops.yaml, else 7d.")]
    = None,
    at: Annotated[str | None, typer.Option(help="Run as of this time (ISO 8601, e.g. to catch up); default: now.")]
    = None,
    log_format: Annotated[str, typer.Option("--log-format", help="text or json (one JSON object per step on stderr).")]
    = "text",
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Collect, analyze the period that closed, write the reports, send the digests once per period, apply retention."""
    from datetime import UTC, datetime

    from perfops.cli import logs
    from perfops.usecases.context import parse_moment
    from perfops.usecases.cycle import CycleBusyError, run_cycle

    logs.check_format(log_format)
    logger = logs.configure(log_format)
    now = parse_moment(at) or datetime.now(UTC).replace(tzinfo=None)
    names = tuple(s.strip() for s in steps.split(",") if s.strip())
    try:
        result = run_cycle(workspace_of(workspace), now=now, steps=names, period=period,
                           progress=(lambda step: console_err.print(f"{step} …", markup=False)) if verbose else None)
    except CycleBusyError as exc:
        logs.log(logger, str(exc), {"outcome": "busy"}, level=30)
        sys.exit(BUSY_EXIT)
    if log_format == "json":
        for s in result.steps:
            logs.log(logger, f"{s.step} {s.status}", {"step": s.step, "outcome": s.status, "detail": s.detail,
                                                      "seconds": s.seconds, "period_end": result.period_end.isoformat()})
    for s in result.failed:
        console_err.print(f"error: {s.step}: {s.detail}", markup=False, soft_wrap=True)
    if not quiet and log_format != "json":
        console.print(result.summary(), markup=False, soft_wrap=True)
    if result.failed:
        sys.exit(STEP_FAILED_EXIT)


def schedule(
    print_as: Annotated[str, typer.Option("--print", help="cron (crontab lines) or systemd (services and timers).")]
    = "cron",
    perfops: Annotated[str | None, typer.Option(help="Path of the perfops executable to call; default: this one.")]
    = None,
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Print perfops.yaml's schedule as crontab lines or systemd units (see docs/deploy.md)."""
    import shutil

    from perfops.usecases.cycle import schedule_of
    from perfops.usecases.schedule import crontab, systemd_units

    if print_as not in ("cron", "systemd"):
        raise typer.BadParameter(f"'{print_as}' is not a schedule format; expected cron or systemd",
                                 param_hint="--print")
    ws = workspace_of(workspace)
    catalog = ws.load_catalog()
    exe = perfops or shutil.which("perfops") or f"{sys.executable} -m perfops.cli"
    plan = schedule_of(catalog)
    if print_as == "cron":
        typer.echo(crontab(plan, catalog.timezone, ws.root, exe), nl=False)
        return
    for name, text in systemd_units(plan, catalog.timezone, ws.root, exe).items():
        typer.echo(f"# ---- {name} ----\n{text}")
