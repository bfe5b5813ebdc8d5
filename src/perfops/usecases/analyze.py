"""`perfops analyze`: every area's analysis over the period, cross-service causes, stored findings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from perfops.analysis.context import AnalysisContext
from perfops.analysis.figures import compute_figures, inventory_figures, rollup_figures
from perfops.analysis.notes import notes_of
from perfops.analysis.registry import analyses
from perfops.analysis.rootcause import link_causes
from perfops.errors import PerfopsError
from perfops.model.figures import RollupFigure
from perfops.model.findings import Finding, severity_rank
from perfops.model.health import rollup_windows
from perfops.store import Store, open_store
from perfops.store.findings_repo import FindingFilter
from perfops.store.report_queries import ReportQueries
from perfops.usecases.context import build_context, implausible_rows, parse_moment, parse_period
from perfops.workspace import Workspace


@dataclass
class AnalysisResult:
    findings: list[Finding]
    period_start: object
    period_end: object
    by_area: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the user should know: the data read, series not judged
    run_id: int | None = None


def analyze(
    workspace: Workspace,
    *,
    period: str = "7d",
    at: str | None = None,
    cluster: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    recorded_at: datetime | None = None,
) -> AnalysisResult:
    """`recorded_at` (naive UTC, default the wall clock) is when the findings count as found:
    perfops cycle passes its own clock so a simulated or catch-up cycle keeps history in order."""
    catalog = workspace.load_catalog()
    with open_store(workspace.store_path) as store:
        if store.telemetry.count() == 0 and len(store.tests.runs()) == 0:
            raise PerfopsError("the store holds no telemetry yet", hint="run 'perfops ingest FILE...' first")
        ctx = build_context(store, catalog, now=parse_moment(at), period=parse_period(period), categorical=True)
        notes = [note] if (note := implausible_rows(store)) else []
        ctx = replace(ctx, sums=ReportQueries(store))
        findings, by_area = run_all(ctx, cluster=cluster or catalog.cluster, progress=progress)
        with store.transaction():
            saved = store.findings.save_analysis(findings, at=recorded_at, horizon=ctx.now)
            if progress:
                progress("figures", len(by_area), len(by_area) + 1)
            figures = compute_figures(ctx, [f for f in store.findings.list(FindingFilter(status="all"))
                                              if f.status != "resolved"])
            figures = replace(figures, rollups=stored_rollups(store, ctx),
                              inventory=inventory_figures(store.telemetry.inventory()))
            run_id = store.analysis_runs.record(ctx.period_start, ctx.now, len(saved), figures)
    saved.sort(key=lambda f: (severity_rank(f.severity), f.service))
    return AnalysisResult(saved, ctx.period_start, ctx.now, by_area, notes + notes_of(ctx), run_id)


def stored_rollups(store: Store, ctx: AnalysisContext) -> list[RollupFigure]:
    """The domain-wide rollups the reports read (perfops.model.health.rollup_windows), kept with
    the run's figures so that report processes do not scan the store for them."""
    names = [s.name for s in ctx.catalog.services]
    return [figure for window in rollup_windows(ctx.now)
            for figure in rollup_figures(store.telemetry.rollup(None, window.metrics, window.start, window.end,
                                                                window.bucket_seconds), window, names)]


def run_all(
    ctx: AnalysisContext,
    *,
    cluster: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[list[Finding], dict[str, int]]:
    """Run each area, then the cross-service pass that names slow dependencies as causes."""
    areas = analyses()
    by_area: dict[str, int] = {}
    if cluster:
        from perfops.analysis.cluster import run_analyses_on_cluster  # dask: imported only when asked for

        findings = run_analyses_on_cluster(cluster, ctx, areas)
    else:
        findings = []
        for index, (name, run) in enumerate(areas.items()):
            if progress:
                progress(name, index, len(areas))
            found = run(ctx)
            by_area[name] = len(found)
            findings.extend(found)
        if progress:
            progress("done", len(areas), len(areas))
    return link_causes(_dedupe(findings), ctx.catalog), by_area


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One record per id (two windows of one condition share an id): keep the most severe."""
    best: dict[str, Finding] = {}
    for f in findings:
        kept = best.get(f.id)
        if kept is None or severity_rank(f.severity) < severity_rank(kept.severity):
            best[f.id] = f
    return list(best.values())


