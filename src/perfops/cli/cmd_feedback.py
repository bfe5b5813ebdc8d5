"""`perfops compare-test` and `perfops workload-model`: thin wrappers over usecases.feedback.

Exit codes of `compare-test --gate`: 0 every check passed or warned, 3 a check failed (the
contract keeps 1 for wrong input and 2 for bad usage, so a pipeline can tell a failed gate from
a broken command).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from perfops.cli.output import QuietOpt, VerboseOpt, WorkspaceOpt, console, console_err, workspace_of

_VERDICT_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "skip": "dim"}


def register(app: typer.Typer) -> None:
    app.command("compare-test")(compare_test)
    app.command("workload-model")(workload_model)


def compare_test(
    run_id: Annotated[str, typer.Argument(help="The test run to judge (see the run ids `perfops ingest` printed).")],
    format: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    baseline: Annotated[str | None, typer.Option("--baseline", help="Compare with this run instead of the previous valid one.")] = None,
    window: Annotated[str | None, typer.Option("--window", help="Production window START..END (ISO 8601); default: the 28 days before the run.")] = None,
    gate: Annotated[bool, typer.Option("--gate", help="Exit 3 when any check fails (for CI pipelines).")] = False,
    junit: Annotated[Path | None, typer.Option("--junit", help="Also write the checks as JUnit XML to PATH.")] = None,
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Hold a performance-test run against production and the NFRs: load, mix, behaviour, regression."""
    from perfops.errors import PerfopsError
    from perfops.usecases.feedback import GATE_EXIT_CODE, junit_xml, write_text
    from perfops.usecases.feedback import compare_test as run_compare

    if format not in ("table", "json"):
        raise PerfopsError(f"--format: '{format}' is not table or json")
    result = run_compare(workspace_of(workspace), run_id, baseline=baseline, window=window)
    if format == "json":
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print_table(result, verbose)
    if junit is not None:
        write_text(junit, junit_xml(result))
        if not quiet:
            console_err.print(f"JUnit XML -> {junit}")
    if gate and result.verdict == "fail":
        if not quiet:
            console_err.print(f"gate: run {run_id} failed {sum(c.verdict == 'fail' for c in result.checks)} check(s)")
        raise SystemExit(GATE_EXIT_CODE)  # not typer.Exit: main() runs click with standalone_mode=False


def _print_table(result, verbose: bool) -> None:
    from rich.table import Table

    style = _VERDICT_STYLE[result.verdict]
    console.print(f"run [bold]{result.run_id}[/bold] ({result.service}, {result.environment}): "
                  f"[{style}]{result.verdict.upper()}[/{style}]  test {result.test_rps:.1f} req/s sustained")
    checks = Table(show_header=True, header_style="bold")
    for col in ("check", "verdict", "what was seen"):
        checks.add_column(col)
    for c in result.checks:
        checks.add_row(c.name, f"[{_VERDICT_STYLE[c.verdict]}]{c.verdict}[/]", c.summary)
    console.print(checks)
    table = Table(show_header=True, header_style="bold", title="per endpoint (shares and error rates in %, p95 in ms)")
    table.add_column("endpoint", overflow="fold", min_width=min(40, max((len(e["endpoint"]) for e in result.endpoints), default=8)))
    for col in ("test", "prod", "nfr", "test p95", "prod p95", "test err", "prod err"):
        table.add_column(col, justify="right")
    for e in result.endpoints:
        table.add_row(e["endpoint"], _pct(e["test_share"]), _pct(e["production_share"]), _pct(e["nfr_share"]),
                      _ms(e["test_p95_ms"]), _ms(e["production_p95_ms"]), _pct(e["test_error_rate"], 2),
                      _pct(e["production_error_rate"], 2))
    console.print(table)


def _pct(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}"


def _ms(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.0f}"


def workload_model(
    service: Annotated[str, typer.Option("--service", "-s", help="The service to model.")],
    window: Annotated[str, typer.Option("--window", help="peak-hour or peak-day.")] = "peak-hour",
    format: Annotated[str, typer.Option("--format", "-f", help="json, locust, k6 or jmeter.")] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to PATH instead of stdout.")] = None,
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """The production workload (rates and mix per endpoint) as data or a ready load-test skeleton."""
    from perfops.errors import PerfopsError
    from perfops.usecases.feedback import workload_model as build
    from perfops.usecases.feedback import write_text
    from perfops.workload import FORMATS, render

    if format not in FORMATS:
        raise PerfopsError(f"--format: '{format}' is not one of {', '.join(FORMATS)}")
    text = render(build(workspace_of(workspace), service, window), format)
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_text(output, text)
        if not quiet:
            console_err.print(f"{format} workload model for {service} -> {output}")
