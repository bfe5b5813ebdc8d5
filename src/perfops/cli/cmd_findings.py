"""perfops findings [list options] | ack | resolve | reopen | assign | comment | show."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from perfops.cli.output import QuietOpt, VerboseOpt, WorkspaceOpt, console, workspace_of

findings_app = typer.Typer(
    help="List findings, and the accountability workflow (ack, resolve, reopen, assign).",
    invoke_without_command=True,
    no_args_is_help=False,
)

ByOpt = Annotated[str | None, typer.Option("--by", help="Who does it (kept in the history).")]
IdArg = Annotated[str, typer.Argument(help="The finding's id, e.g. F-1a2b3c4d5e (a unique prefix will do).")]
LEVEL_SHIFT_KINDS = ("regression", "improvement", "volume_growth")
NoteOpt = Annotated[str | None, typer.Option("--note", help="Why (kept in the history).")]


def register(app: typer.Typer) -> None:
    app.add_typer(findings_app, name="findings")


@findings_app.callback()
def list_findings(
    ctx: typer.Context,
    format_name: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    squad: Annotated[str | None, typer.Option(help="Only this squad's findings.")] = None,
    service: Annotated[str | None, typer.Option(help="Only this service's findings.")] = None,
    category: Annotated[str | None, typer.Option(help="trends, capacity, cost, experience or feedback.")] = None,
    status: Annotated[str, typer.Option(help="open, acknowledged, resolved or all.")] = "open",
    min_severity: Annotated[str | None, typer.Option("--min-severity", help="critical, high, medium, low, info.")] = None,
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """List findings (default: open ones, most severe first)."""
    if ctx.invoked_subcommand is not None:
        return
    from perfops.cli.findings_view import findings_csv, findings_json, findings_table
    from perfops.errors import PerfopsError
    from perfops.store.findings_repo import FindingFilter
    from perfops.usecases.workflow import list_findings as query

    if format_name not in ("table", "json", "csv"):
        raise PerfopsError(f"--format: '{format_name}' is unknown; expected table, json or csv")
    flt = FindingFilter(squad=squad, service=service, category=category, status=status, min_severity=min_severity)
    ws = workspace_of(workspace)
    found = query(ws, flt)
    if format_name == "json":
        sys.stdout.write(findings_json(found) + "\n")
    elif format_name == "csv":
        sys.stdout.write(findings_csv(found))
    elif found:
        console.print(findings_table(found))
    elif not quiet and not ws.store_path.exists():
        console.print("no findings yet: load data with 'perfops ingest FILE...', then run 'perfops analyze'")
    elif not quiet:
        console.print("no findings match" + ("" if status == "all" else " (--status all shows every status)"))


@findings_app.command("show")
def show(finding_id: IdArg, workspace: WorkspaceOpt = None, quiet: QuietOpt = False,
         verbose: VerboseOpt = False) -> None:
    """One finding in full, with its history."""
    import json

    from perfops.usecases.workflow import get_finding

    item = get_finding(workspace_of(workspace), _id(finding_id))
    console.print_json(json.dumps(item.finding.to_record(), default=str))
    for h in item.history:
        action = f"assigned to {h['squad']}" if h["action"] == "assigned" and h.get("squad") else h["action"]
        console.print(f"{h['at']:%Y-%m-%d %H:%M} {action} by {h['by']}" + (f": {h['note']}" if h["note"] else ""),
                      markup=False)


def _status_command(action: str, help_text: str):
    def command(finding_id: IdArg, by: ByOpt = None, note: NoteOpt = None, workspace: WorkspaceOpt = None,
                quiet: QuietOpt = False, verbose: VerboseOpt = False) -> None:
        from perfops.usecases.workflow import change_status

        updated = change_status(workspace_of(workspace), _id(finding_id), action, by, note)
        if quiet:
            return
        console.print(f"{updated.id} is now {updated.status}", markup=False)
        if action == "acknowledge" and updated.kind in LEVEL_SHIFT_KINDS and updated.start:
            what = f"{updated.service} {updated.metric or ''}".strip()
            console.print(f"  and {what} since {updated.start:%Y-%m-%d %H:%M} UTC is now its normal level: later "
                          "analyses measure against it instead of raising this change again (see 'perfops levels list'; 'reopen' takes it back)",
                          markup=False)

    command.__doc__ = help_text
    return command


findings_app.command("ack")(_status_command("acknowledge", "Acknowledge a finding: the squad is on it."))
findings_app.command("resolve")(_status_command("resolve", "Resolve a finding."))
findings_app.command("reopen")(_status_command("reopen", "Reopen a resolved or acknowledged finding."))


@findings_app.command("assign")
def assign(finding_id: IdArg, squad: Annotated[str, typer.Argument(help="The squad that now owns it.")],
           by: ByOpt = None, note: NoteOpt = None, workspace: WorkspaceOpt = None,
           quiet: QuietOpt = False, verbose: VerboseOpt = False) -> None:
    """Assign a finding to another squad (e.g. the owner of the slow dependency)."""
    from perfops.usecases.workflow import assign as do_assign

    updated = do_assign(workspace_of(workspace), _id(finding_id), squad, by, note)
    if not quiet:
        console.print(f"{updated.id} is now owned by {updated.squad}", markup=False)


@findings_app.command("comment")
def comment(finding_id: IdArg, note: Annotated[str, typer.Argument(help="The comment.")], by: ByOpt = None,
            workspace: WorkspaceOpt = None, quiet: QuietOpt = False, verbose: VerboseOpt = False) -> None:
    """Add a comment to a finding's history."""
    from perfops.usecases.workflow import comment as do_comment

    do_comment(workspace_of(workspace), _id(finding_id), by, note)
    if not quiet:
        console.print(f"comment added to {_id(finding_id)}", markup=False)


def _id(finding_id: str) -> str:
    """Ids are 'F-' and lower-case hex; accept what a user types or pastes: f-1A2B, ' F-1a2b '."""
    text = finding_id.strip()
    return "F-" + text[2:].lower() if text[:2].upper() == "F-" else text
