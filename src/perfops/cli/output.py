"""Rich consoles and the options every command shares (--workspace, --quiet, --verbose)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
console_err = Console(stderr=True, highlight=False, soft_wrap=True)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", envvar="PERFOPS_WORKSPACE", help="Folder holding perfops.yaml and the store."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and requested output.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Print more about what is done.")]


def workspace_of(path: Path | None):  # -> Workspace (lazy import keeps --help fast)
    from perfops.workspace import Workspace

    return Workspace((path or Path.cwd()).resolve())


def show_progress(quiet: bool) -> bool:
    """Progress bars only on a terminal and when not --quiet."""
    return not quiet and console_err.is_terminal
