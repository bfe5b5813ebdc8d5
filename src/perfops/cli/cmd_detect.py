"""`perfops detect SERIES.csv [--output PATH] [--method fast|context]`: streaming anomaly scores for one series."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perfops.cli.output import QuietOpt, VerboseOpt, console_err


def register(app: typer.Typer) -> None:
    app.command("detect")(detect)


def detect(
    series: Annotated[Path, typer.Argument(help="CSV with the columns timestamp,value.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write the scores (default: stdout).")] = None,
    method: Annotated[str, typer.Option("--method", help="fast (new extremes + window statistics, over a million points/s) or context (sequence memory, slow).")] = "fast",
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Score one series: writes timestamp,value,anomaly_score with scores in [0,1], each from rows up to it."""
    from perfops.usecases.detect import detect_file

    rows = detect_file(series, output, method)
    if output is not None and not quiet:
        console_err.print(f"scored {rows:,} rows -> {output}")
