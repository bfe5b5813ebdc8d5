"""perfops levels mark | list: hand-made "new normal" marks that trends analysis measures against."""

from __future__ import annotations

from typing import Annotated

import typer

from perfops.cli.output import QuietOpt, VerboseOpt, WorkspaceOpt, console, workspace_of

levels_app = typer.Typer(help="Mark a level change as the new normal (campaign, new consumer), and list the marks.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(levels_app, name="levels")


@levels_app.command("mark")
def mark(
    service: Annotated[str, typer.Argument(help="The service whose level changed.")],
    metric: Annotated[str, typer.Option(help="latency, errors, traffic, cpu or memory (or the metric name).")],
    since: Annotated[str, typer.Option(help="When the new level began, ISO 8601 (UTC if no offset).")],
    note: Annotated[str, typer.Option(help="Why, e.g. 'new traffic pattern since the campaign'.")],
    endpoint: Annotated[str, typer.Option(help="One endpoint only (default: the whole service).")] = "",
    by: Annotated[str | None, typer.Option(help="Who marks it (kept with the mark).")] = None,
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Later analyses judge this series against its level since --since instead of re-raising the change."""
    from perfops.usecases.levels import mark_level

    made = mark_level(workspace_of(workspace), service, metric, since, endpoint=endpoint, note=note, by=by)
    if not quiet:
        where = f"{made.service} {made.endpoint}".strip()
        console.print(f"marked: {where} {made.metric} has a new normal level since {made.at:%Y-%m-%d %H:%M} UTC",
                      markup=False)


@levels_app.command("list")
def list_(
    service: Annotated[str | None, typer.Option(help="Only this service's marks.")] = None,
    format_name: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Every level mark, by hand or from an acknowledged regression, oldest first."""
    import dataclasses
    import json
    import sys

    from rich.table import Table
    from rich.text import Text

    from perfops.errors import PerfopsError
    from perfops.usecases.levels import list_marks

    if format_name not in ("table", "json"):
        raise PerfopsError(f"--format: '{format_name}' is unknown; expected table or json")
    marks = list_marks(workspace_of(workspace), service)
    if format_name == "json":
        sys.stdout.write(json.dumps([dataclasses.asdict(m) for m in marks], default=str, indent=2) + "\n")
        return
    if not marks:
        if not quiet:
            console.print("no level marks")
        return
    table = Table("since (UTC)", "service", "endpoint", "metric", "by", "note", "finding")
    for m in marks:
        cells = (f"{m.at:%Y-%m-%d %H:%M}", m.service, m.endpoint or "(all)", m.metric, m.by, m.note,
                 m.finding_id or "by hand")
        table.add_row(*(Text(c) for c in cells))  # names and notes are text, never Rich markup
    console.print(table)
