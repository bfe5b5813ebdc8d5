"""perfops demo: the sample domain end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perfops.cli.output import QuietOpt, VerboseOpt, WorkspaceOpt, console, show_progress


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    workspace: WorkspaceOpt = None,
    weeks: Annotated[int, typer.Option(help="Weeks of telemetry to generate.")] = 6,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same domain.")] = 42,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Build a realistic sample domain (default ./perfops-demo), ingest it, analyze it, write every
    report, and print the executive summary. No server, no network."""
    import time

    from perfops.cli.progress import step_progress
    from perfops.usecases.demo import run_demo

    root = (workspace or Path("perfops-demo")).resolve()
    started = time.perf_counter()
    with step_progress(show_progress(quiet), "demo") as progress:
        result = run_demo(root, weeks=weeks, seed=seed, progress=progress)
    if quiet:
        return
    console.print(result.summary, markup=False)
    console.print()
    executive = [p for p in result.reports if p.name.startswith("executive")]
    console.print(f"Reports in {root / 'reports'}:", markup=False)
    for path in executive + ([p for p in result.reports if p not in executive] if verbose else []):
        console.print(f"  {path}", markup=False)
    if not verbose:
        console.print(f"  … and {len(result.reports) - len(executive)} lead and developer reports (index.html)")
    console.print(f"Seeded incidents and what they look like: {result.manifest.ground_truth}", markup=False)
    console.print(f"Done in {time.perf_counter() - started:.0f} s. Explore: perfops findings --workspace {root}",
                  markup=False)
