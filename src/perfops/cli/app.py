"""`perfops`: assembles the command groups and turns every PerfopsError into one line and exit 1.

Exit codes: 0 success; 1 the input or configuration is wrong; 2 bad usage; 3 a `compare-test
--gate` check failed; 70 an internal error (a bug: one line on stderr, the traceback with
PERFOPS_DEBUG=1).

Each command group lives in its own module with `register(app)`; heavy imports stay inside the
command functions so `perfops --help` starts fast.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings

import typer

from perfops.cli.output import console_err
from perfops.errors import CatalogError, PerfopsError

COMMAND_MODULES = ("cmd_core", "cmd_findings", "cmd_detect", "cmd_feedback", "cmd_report", "cmd_collect", "cmd_demo", "cmd_levels",
                   "cmd_cycle")

app = typer.Typer(
    name="perfops",
    help="Performance operations for a service domain: findings owned by squads, reports per audience.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"perfops.cli.{name}").register(app)


INTERNAL_ERROR_EXIT = 70  # sysexits EX_SOFTWARE: not 1 (wrong input) nor 2 (bad usage)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"perfops {version('perfops')}")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            typer.echo("perfops (version unknown: not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit."),
) -> None:
    """Performance operations for a service domain: findings owned by squads, reports per audience."""


_register_all()


def main() -> None:
    """Console-script entry point: the one place a PerfopsError becomes exit 1."""
    if not sys.warnoptions:  # numeric libraries' RuntimeWarnings are noise to a user; -W shows them
        warnings.filterwarnings("ignore", category=RuntimeWarning)
    try:
        app(standalone_mode=False)
    except PerfopsError as exc:
        if isinstance(exc, CatalogError):
            for problem in exc.problems:
                console_err.print(f"[red]error:[/red] {problem}", highlight=False, markup=True, soft_wrap=True)
            if exc.hint:
                console_err.print(f"hint: {exc.hint}", highlight=False, markup=False)
        else:
            console_err.print(f"[red]error:[/red] {_escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except typer.Abort:
        console_err.print("aborted")
        sys.exit(1)
    except KeyboardInterrupt:
        console_err.print("interrupted")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # usage errors come through here in non-standalone mode
        click_exceptions = _click_exceptions()
        if isinstance(exc, click_exceptions.UsageError):
            exc.show()
            _usage_hint(exc)
            sys.exit(2)
        if isinstance(exc, click_exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if os.environ.get("PERFOPS_DEBUG"):
            raise
        console_err.print(f"[red]error:[/red] internal error (a bug in perfops): {_escape(type(exc).__name__)}: "
                          f"{_escape(str(exc).splitlines()[0] if str(exc) else '')}", highlight=False, soft_wrap=True)
        console_err.print("hint: please report it with the command you ran; PERFOPS_DEBUG=1 prints the traceback",
                          highlight=False, markup=False)
        sys.exit(INTERNAL_ERROR_EXIT)


def _usage_hint(exc: Exception) -> None:
    """`perfops findings F-1a2b3c` is a natural guess: point at `findings show`."""
    message = getattr(exc, "message", "") or str(exc)
    if message.startswith(("No such command 'F-", "No such command 'f-")):
        finding_id = message.split("'")[1]
        console_err.print(f"hint: to see one finding: perfops findings show {finding_id}", highlight=False, markup=False)


def _click_exceptions():
    """Typer ships its own copy of click (typer._click) since 0.2x; older ones use click."""
    try:
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - older typer
        from click import exceptions
    return exceptions


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
