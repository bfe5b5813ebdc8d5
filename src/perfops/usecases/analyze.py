"""`perfops analyze`: every area's analysis over the period, cross-service causes, stored findings."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from perfops.analysis.context import AnalysisContext
from perfops.analysis.figures import compute_figures, inventory_figures, prepare_figures, rollup_figures
from perfops.analysis.notes import notes_of
from perfops.analysis.processes import WORKERS_ENV, run_in_processes, worker_count
from perfops.analysis.registry import analyses
from perfops.analysis.rootcause import link_causes
from perfops.analysis.tasks import remote_context
from perfops.errors import PerfopsError
from perfops.model.catalog import Catalog
from perfops.model.figures import InventoryFigure, RollupFigure
from perfops.model.findings import Finding, severity_rank
from perfops.model.health import rollup_windows
from perfops.store import Store, open_store
from perfops.store.findings_repo import FindingFilter
from perfops.store.report_queries import ReportQueries
from perfops.usecases.context import (
    ReadOnlyStoreLoader,
    build_context,
    implausible_rows,
    parse_moment,
    parse_period,
)
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
    moment, length = parse_moment(at), parse_period(period)
    workers = 1 if cluster or catalog.cluster else worker_count(len(catalog.services))
    found, notes = None, []
    if workers > 1:
        try:
            found = _in_processes(workspace, catalog, moment, length, workers, progress)
            moment = found.end  # the same end (the newest data unless given) for the run that stores
        except BrokenProcessPool as exc:  # killed (memory), or started from a script without a main guard
            notes.append(f"the {workers} analysis processes stopped ({exc}); analysed in one process instead "
                         f"(set {WORKERS_ENV}=1 to go straight to it)")
    with open_store(workspace.store_path) as store:
        _require_data(store)
        ctx = build_context(store, catalog, now=moment, period=length, categorical=True)
        notes += [note] if (note := implausible_rows(store)) else []
        ctx = replace(ctx, sums=ReportQueries(store))
        if found is None:
            findings, by_area = run_all(ctx, cluster=cluster or catalog.cluster, progress=progress)
        else:
            findings, by_area = found.findings, found.by_area
            ctx.memo.update(found.memo)  # the capacity models the figures are drawn from, the notes
        with store.transaction():
            saved = store.findings.save_analysis(findings, at=recorded_at, horizon=ctx.now)
            if progress:
                progress("figures", len(by_area), len(by_area) + 1)
            figures = compute_figures(ctx, [f for f in store.findings.list(FindingFilter(status="all"))
                                              if f.status != "resolved"])
            rollups, inventory = found.store_wide if found is not None else store_wide_figures(store, ctx)
            figures = replace(figures, rollups=rollups, inventory=inventory)
            run_id = store.analysis_runs.record(ctx.period_start, ctx.now, len(saved), figures)
    saved.sort(key=lambda f: (severity_rank(f.severity), f.service))
    return AnalysisResult(saved, ctx.period_start, ctx.now, by_area, notes + notes_of(ctx), run_id)


@dataclass(frozen=True)
class _AreasRun:
    findings: list[Finding]
    by_area: dict[str, int]
    end: datetime
    memo: dict[Any, Any]
    store_wide: tuple[list[RollupFigure], dict[str, InventoryFigure]]


def _require_data(store: Store) -> None:
    if store.telemetry.count() == 0 and len(store.tests.runs()) == 0:
        raise PerfopsError("the store holds no telemetry yet", hint="run 'perfops ingest FILE...' first")


def _in_processes(workspace: Workspace, catalog: Catalog, moment: datetime | None, length: timedelta, workers: int,
                  progress: Callable[[str, int, int], None] | None) -> _AreasRun:
    """The areas in `workers` processes that read the store read-only (perfops.analysis.processes):
    this process' connection is closed while they run. Findings linked as run_all links them,
    the count per area, the period's end, and what the areas left in the memo."""
    with open_store(workspace.store_path) as store:
        _require_data(store)
        ctx = build_context(store, catalog, now=moment, period=length, categorical=True)
        # DuckDB's threads shared out: the processes already keep the cores busy
        threads = max(1, (os.cpu_count() or 1) // workers)
        remote = remote_context(ctx, ReadOnlyStoreLoader(workspace.store_path, categorical=True, threads=threads))
    # meanwhile this process, idle else, sums the store-wide figures over a read-only connection
    with ThreadPoolExecutor(max_workers=1) as side:
        store_wide = side.submit(_read_store_wide, workspace, ctx)
        by_area, memo = run_in_processes(remote, analyses(), workers, progress, prepare=prepare_figures)
        summed = store_wide.result()
    findings = [f for found in by_area.values() for f in found]
    counts = {area: len(found) for area, found in by_area.items()}
    return _AreasRun(link_causes(_dedupe(findings), catalog), counts, ctx.now, memo, summed)


def _read_store_wide(workspace: Workspace, ctx: AnalysisContext) -> tuple[list[RollupFigure], dict[str, InventoryFigure]]:
    with open_store(workspace.store_path, read_only=True) as store:
        return store_wide_figures(store, ctx)


def store_wide_figures(store: Store, ctx: AnalysisContext) -> tuple[list[RollupFigure], dict[str, InventoryFigure]]:
    """The rollups and the telemetry inventory: what the figures sum over the whole store, not
    from the findings (analysis only reads the telemetry, so before or after it they are the same)."""
    return stored_rollups(store, ctx), inventory_figures(store.telemetry.inventory())


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


