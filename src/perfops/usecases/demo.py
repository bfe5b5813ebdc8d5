"""`perfops demo`: build the sample domain, ingest it, analyse it, write every report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from perfops.demo import DemoManifest, generate_demo
from perfops.usecases.analyze import AnalysisResult, analyze
from perfops.usecases.ingest import ingest_paths
from perfops.workspace import Workspace

Step = Callable[[str, int, int], None]
STEPS = ("generating the domain", "ingesting", "analysing", "writing reports")


@dataclass(frozen=True)
class DemoResult:
    manifest: DemoManifest
    analysis: AnalysisResult
    reports: list[Path]
    summary: str


def run_demo(
    root: Path, *, weeks: int = 6, seed: int = 42, end: datetime | None = None, progress: Step | None = None
) -> DemoResult:
    """Everything a new user sees first, on data whose incidents are known (ground_truth.json).

    `end` defaults to the current hour so the reports read as "this week"; tests pass a fixed one."""
    from perfops.usecases.reports import executive_summary_text, render_reports

    tick = progress or (lambda *_: None)
    end = end or datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    _clear_store(root)
    tick(STEPS[0], 0, len(STEPS))
    manifest = generate_demo(root, weeks=weeks, seed=seed, end=end)
    workspace = Workspace(root.resolve())
    tick(STEPS[1], 1, len(STEPS))
    for item in manifest.inputs:
        ingest_paths(workspace, [item.path], format_name=item.format, **item.options)
    tick(STEPS[2], 2, len(STEPS))
    at = manifest.end.strftime("%Y-%m-%dT%H:%M:%SZ")
    result = analyze(workspace, period="7d", at=at)
    tick(STEPS[3], 3, len(STEPS))
    reports = render_reports(workspace, at=at)
    tick("done", len(STEPS), len(STEPS))
    return DemoResult(manifest, result, reports, executive_summary_text(workspace, at=at))


def _clear_store(root: Path) -> None:
    """A demo run starts from an empty store, so running it twice gives the same reports."""
    store = Workspace(root).store_path
    for path in (store, store.with_name(store.name + ".wal")):
        path.unlink(missing_ok=True)
