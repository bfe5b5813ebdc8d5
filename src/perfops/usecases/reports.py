"""`perfops report`: open the store read-only, build the view for each audience, compose, render.

Default: every audience into `workspace/reports/` — `executive.html` and `.md`, one lead report
per squad in `reports/lead/<squad>.*`, one developer report per service in
`reports/developer/<service>.*`, and `reports/index.html` linking them all.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from perfops.errors import NotFoundError, PerfopsError
from perfops.model.catalog import Catalog
from perfops.model.figures import KINDS, AnalysisRun
from perfops.model.findings import SEVERE, Finding
from perfops.model.weekly import movement_words
from perfops.reports.aggregates import RUN_SERVICES
from perfops.reports.paths import report_base, report_file
from perfops.reports.picture import stored_inventory, stored_rollups
from perfops.reports.section import Audience, ReportContext, ReportView
from perfops.reports.weekly_view import movement_of
from perfops.store import Store, open_store
from perfops.store.database import READER_MEMORY
from perfops.store.findings_repo import FindingFilter
from perfops.store.report_queries import ReportQueries
from perfops.usecases.context import DEFAULT_HISTORY, StoreTelemetryLoader, parse_moment, parse_period
from perfops.workspace import Workspace

if TYPE_CHECKING:
    from perfops.reports.compose import Report

log = logging.getLogger("perfops.reports")

FORMATS = ("html", "md", "json", "pdf")
DEFAULT_FORMATS = ("html", "md")
RESOLVED_WINDOW = timedelta(days=14)


@dataclass(frozen=True)
class DomainData:
    """Everything read from the store once per run, shared by every report of the run."""

    ctx: ReportContext
    findings: list[Finding]  # every stored finding, any status
    history: list[dict[str, Any]]
    first_seen: dict[str, datetime]
    inventory: pd.DataFrame
    rollup: Callable[..., pd.DataFrame]
    cache: dict[Any, Any]  # domain-wide results shared by every view of the run
    aggregates: ReportQueries | None = None  # per-service sums for batches of services


# ---- choosing the analysis run -------------------------------------------------------------------
def select_run(store: Store, at: str | None = None, period: str | None = None) -> AnalysisRun:
    """The stored analysis run to show: the newest, or the one that ended at `at` and/or covers
    `period`. Refuses (PerfopsError) when there is none, saying how to make it."""
    end = parse_moment(at)
    span = parse_period(period) if period else None
    runs = [r for r in store.analysis_runs.runs() if end is None or r.period_end == end]
    found = [r for r in runs if span is None or r.period == span]
    if found and store.analysis_runs.find(end=found[0].period_end, period_start=found[0].period_start):
        return found[0]
    asked = " ".join(x for x in (f"--period {period}" if period else "", f"--at {at}" if at else "") if x)
    if not runs:
        what = f"for --at {at}" if at else "in this workspace"
        raise PerfopsError(f"no stored analysis {what}",
                           hint=f"run 'perfops analyze {asked}'".rstrip() + " first, then report")
    if not found:
        newest = runs[0]
        raise PerfopsError(f"no stored analysis covers --period {period}; the newest covers "
                           f"{newest.describe().split(': ', 1)[1]}",
                           hint=f"run 'perfops analyze {asked}' first, or leave --period out")
    raise PerfopsError(f"the stored {found[0].describe()} has no figures (it was made by an older perfops)",
                       hint=f"run 'perfops analyze {asked}'".rstrip() + " again")


def run_by_id(store: Store, run_id: int) -> AnalysisRun:
    """The stored run `run_id` (the dashboard's ?run=); NotFoundError when there is none or it
    kept no figures (an older perfops, or a later analysis of the same period replaced them)."""
    run = next((r for r in store.analysis_runs.shown() if r.id == run_id), None)
    if run is not None:
        return run
    if any(r.id == run_id for r in store.analysis_runs.runs()):
        raise NotFoundError(f"analysis run {run_id} has no stored figures (a later analysis of the same period "
                            "replaced them, or an older perfops made it)", hint="GET /api/runs lists the runs to show")
    raise NotFoundError(f"no stored analysis run {run_id}", hint="GET /api/runs lists the stored runs")


def stored_run(workspace: Workspace, at: str | None = None, period: str | None = None) -> AnalysisRun:
    """select_run on the workspace's store (PerfopsError when the workspace has none)."""
    if not workspace.store_path.exists():
        raise PerfopsError("no stored analysis in this workspace",
                           hint="run 'perfops ingest FILE...' and 'perfops analyze' first")
    with open_store(workspace.store_path, read_only=True) as store:
        return select_run(store, at, period)


# ---- reading the store -----------------------------------------------------------------------
def load_domain(store: Store, catalog: Catalog, run: AnalysisRun) -> DomainData:
    """The run's figures and the store's findings, events and test runs, read once."""
    start = run.period_start - DEFAULT_HISTORY
    earlier = [r for r in store.analysis_runs.runs() if r.period_end < run.period_end]
    previous = max(earlier, key=lambda r: (r.period_end, r.id)) if earlier else None
    previous_figures = (store.analysis_runs.figures(previous.id, kinds=("rollup", "cost"))
                        if previous is not None else None)
    # the rollups and the inventory are read as the frames the reports use, not kept as records too
    frames = store.analysis_runs.figures(run.id, kinds=("rollup", "inventory"))
    cache: dict[tuple[Any, ...], pd.DataFrame] = stored_rollups(frames.rollups)  # what analyze kept
    inventory = stored_inventory(frames.inventory)
    del frames
    shown = tuple(kind for kind in KINDS if kind not in ("rollup", "inventory"))
    ctx = ReportContext(catalog=catalog, run=run, figures=store.analysis_runs.figures(run.id, kinds=shown),
                        previous=previous, previous_figures=previous_figures,
                        events=store.telemetry.events(start, run.period_end + timedelta(days=1)),
                        test_runs=store.tests.runs(), load_telemetry=StoreTelemetryLoader(store))
    findings = store.findings.list(FindingFilter(status="all"))
    history = store.findings.history()
    first_seen: dict[str, datetime] = {}
    for row in history:
        if row["action"] == "found":
            first_seen.setdefault(row["finding_id"], row["at"])

    def rollup(services: Sequence[str] | None, metrics: Sequence[str], start: datetime, end: datetime,
               bucket_seconds: int) -> pd.DataFrame:
        key = (tuple(services) if services is not None else None, tuple(metrics), start, end, bucket_seconds)
        if key not in cache:
            cache[key] = store.telemetry.rollup(services, metrics, start, end, bucket_seconds)
        return cache[key]

    return DomainData(ctx=ctx, findings=findings, history=history, first_seen=first_seen,
                      inventory=inventory, rollup=rollup, cache={},
                      aggregates=ReportQueries(store))


# ---- views -------------------------------------------------------------------------------------
def make_view(data: DomainData, audience: Audience, squad: str | None = None, service: str | None = None,
              generated_at: datetime | None = None) -> ReportView:
    def in_scope(f: Finding) -> bool:
        if service:
            return f.service == service
        if squad:
            return f.squad == squad
        return True

    scoped = [f for f in data.findings if in_scope(f)]
    resolved_since = data.ctx.now - RESOLVED_WINDOW
    resolved = [f for f in scoped if f.status == "resolved" and (f.end is None or f.end >= resolved_since)]
    return ReportView(
        ctx=data.ctx, findings=[f for f in scoped if f.status != "resolved"], audience=audience,
        squad=squad, service=service, generated_at=generated_at or data.ctx.now, history=data.history,
        rollup=data.rollup, resolved=resolved, finding_index={f.id: f for f in data.findings},
        first_seen=data.first_seen, inventory=data.inventory, cache=data.cache, aggregates=data.aggregates,
    )


def render_one(view: ReportView, fmt: str, path: Path) -> Path:
    from perfops.reports.compose import compose

    report = compose(view)
    return write_report(report, fmt, path)


def write_report(report: Report, fmt: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "pdf":
        from perfops.reports.render_html import render_html
        from perfops.reports.render_pdf import html_to_pdf

        return html_to_pdf(render_html(report), path, created=report.generated_at)
    text = _render_text(report, fmt)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _render_text(report: Report, fmt: str) -> str:
    if fmt == "html":
        from perfops.reports.render_html import render_html

        return render_html(report)
    if fmt == "md":
        from perfops.reports.render_md import render_markdown

        return render_markdown(report)
    from perfops.reports.render_json import render_json

    return render_json(report)


# ---- the use case ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportScope:
    """Whose report: the audience, and the squad (lead) or service (developer) it is for."""

    audience: Audience
    squad: str | None = None
    service: str | None = None


@dataclass(frozen=True)
class Job:
    """One report file to write: whose report, in which format, where (pickled to workers)."""

    scope: ReportScope
    format: str
    path: Path


def render_reports(
    workspace: Workspace,
    audience: str | None = None,
    squad: str | None = None,
    service: str | None = None,
    period: str | None = None,
    fmt: str | None = None,
    output: Path | None = None,
    *,
    at: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[Path]:
    """Write the reports asked for from the stored analysis run (the newest, or the one of
    `at` / `period`) and return their paths (see the module docstring)."""
    catalog = workspace.load_catalog()
    _check_arguments(catalog, audience, squad, service, fmt, output)
    run = stored_run(workspace, at, period)
    formats = (fmt,) if fmt else DEFAULT_FORMATS
    jobs = plan_jobs(catalog, audience, squad, service, formats, output, workspace.reports_dir)
    workers = _workers(len(jobs), fmt)
    if workers > 1:
        written = _render_parallel(workspace, catalog, jobs, run, workers, progress)
    else:  # squad by squad, as a worker does: the squad's reports share one batch of sums
        by_squad = [job for chunk in split_jobs(catalog, jobs, 1) for job in chunk]
        written = _in_job_order(jobs, render_jobs(workspace, catalog, by_squad, run, progress))
    if output is None and audience is None:
        written.append(write_index(workspace.reports_dir, written, catalog, run))
    return written


def render_jobs(workspace: Workspace, catalog: Catalog, jobs: list[Job], run: AnalysisRun,
                progress: Callable[[str, int, int], None] | None = None) -> list[Path]:
    """Render jobs in this process over one read of the store (shared by every view)."""
    from perfops.reports.compose import compose

    written = []
    composed: tuple[ReportScope, Report] | None = None  # the formats of one view share one composition
    with open_store(workspace.store_path, read_only=True, memory=READER_MEMORY) as store:
        data = load_domain(store, catalog, run)
        data.cache[RUN_SERVICES] = run_services(catalog, jobs)
        for index, job in enumerate(jobs):
            if progress:
                progress(str(job.path.name), index, len(jobs))
            if composed is None or composed[0] != job.scope:
                scope = job.scope
                composed = (scope, compose(make_view(data, scope.audience, scope.squad, scope.service)))
            written.append(write_report(composed[1], job.format, job.path))
    return written


def run_services(catalog: Catalog, jobs: list[Job]) -> list[str]:
    """The services the jobs' team reports cover, in the order they are rendered: the batches of
    perfops.reports.aggregates (a squad's services come together)."""
    names: list[str] = []
    for job in jobs:
        scope = job.scope
        if scope.audience == "lead" and scope.squad:
            names += [s.name for s in catalog.services_of(scope.squad)]
        elif scope.audience == "developer" and scope.service:
            names.append(scope.service)
    return list(dict.fromkeys(names))


PARALLEL_FROM = 24  # jobs; below this, starting workers costs more than it saves


def _workers(jobs: int, fmt: str | None) -> int:
    if jobs < PARALLEL_FROM or fmt == "pdf" or os.environ.get("PERFOPS_REPORT_WORKERS") == "1":
        return 1
    wanted = int(os.environ.get("PERFOPS_REPORT_WORKERS", "0") or 0) or (os.cpu_count() or 1)
    return max(1, min(wanted, 8, jobs // 8))


def _render_parallel(workspace: Workspace, catalog: Catalog, jobs: list[Job], run: AnalysisRun, workers: int,
                     progress: Callable[[str, int, int], None] | None) -> list[Path]:
    """Split the jobs over `workers` processes: this one and workers - 1 started ones. Each
    opens the store read-only (DuckDB allows many readers) and reads the run's figures once. A
    squad's lead and developer reports go to the same process (they read the same batches of
    per-service sums). This process renders a share itself rather than waiting idle: a waiting
    parent held its imports and catalog (~190 MB at 1,000 services) for nothing."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from perfops.usecases.worker_lifetime import die_with_parent

    own, *others = split_jobs(catalog, jobs, workers)
    if not others:
        return _in_job_order(jobs, render_jobs(workspace, catalog, own, run, progress))
    context = multiprocessing.get_context("spawn")
    written: list[Path] = []
    with ProcessPoolExecutor(max_workers=len(others), mp_context=context, initializer=die_with_parent,
                             initargs=(os.getpid(),)) as pool:  # no orphans when `report` is killed
        futures = [pool.submit(render_jobs, workspace, catalog, chunk, run) for chunk in others]
        written.extend(render_jobs(workspace, catalog, own, run))
        if progress:
            progress(f"process 1 of {workers} done", 1, workers)
        for index, future in enumerate(futures, start=2):
            written.extend(future.result())
            if progress:
                progress(f"process {index} of {workers} done", index, workers)
    return _in_job_order(jobs, written)


def _in_job_order(jobs: list[Job], written: list[Path]) -> list[Path]:
    order = {job.path: i for i, job in enumerate(jobs)}
    return sorted(written, key=lambda p: order.get(p, 0))


def split_jobs(catalog: Catalog, jobs: list[Job], workers: int) -> list[list[Job]]:
    """Jobs per worker, grouped by squad (the executive report on its own), the groups dealt to
    the least loaded worker, largest first."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        scope = job.scope
        key = "" if scope.audience == "executive" else (
            scope.squad or (catalog.squad_of(scope.service) if scope.service else "") or "")
        groups.setdefault(key, []).append(job)
    chunks: list[list[Job]] = [[] for _ in range(workers)]
    for key in sorted(groups, key=lambda k: (-len(groups[k]), k)):
        least = min(range(workers), key=lambda i: len(chunks[i]))
        chunks[least].extend(groups[key])
    return [chunk for chunk in chunks if chunk]


def _check_arguments(catalog: Catalog, audience: str | None, squad: str | None, service: str | None,
                     fmt: str | None, output: Path | None) -> None:
    if audience is not None and audience not in ("executive", "lead", "developer"):
        raise PerfopsError(f"--audience: '{audience}' is unknown; expected executive, lead or developer")
    if fmt is not None and fmt not in FORMATS:
        raise PerfopsError(f"--format: '{fmt}' is unknown; expected one of {', '.join(FORMATS)}")
    if squad is not None and squad not in catalog.squad_by_name:
        raise PerfopsError(f"--squad: '{squad}' is not a squad in perfops.yaml")
    if service is not None and service not in catalog.service_by_name:
        raise PerfopsError(f"--service: '{service}' is not a service in perfops.yaml")
    if output is not None and audience is None:
        raise PerfopsError("--output writes one report: give --audience too (or leave --output out to write them all)")
    if output is not None and audience == "lead" and squad is None:
        raise PerfopsError("--audience lead with --output needs --squad")
    if output is not None and audience == "developer" and service is None:
        raise PerfopsError("--audience developer with --output needs --service")


def plan_jobs(catalog: Catalog, audience: str | None, squad: str | None, service: str | None,
              formats: Sequence[str], output: Path | None, folder: Path) -> list[Job]:
    """Every report to write: whose, in which format, where."""
    views: list[tuple[ReportScope, Path]] = []
    if audience in (None, "executive"):
        views.append((ReportScope("executive"), folder / report_base("executive")))
    if audience in (None, "lead"):
        squads = [squad] if squad else [s.name for s in catalog.squads]
        views += [(ReportScope("lead", squad=sq), folder / report_base("lead", sq)) for sq in squads]
    if audience in (None, "developer"):
        names = [service] if service else [s.name for s in catalog.services if not squad or s.squad == squad]
        views += [(ReportScope("developer", service=name), folder / report_base("developer", name)) for name in names]
    if output is not None:
        return [Job(views[0][0], formats[0], output)]
    return [Job(scope, f, report_file(base, f)) for scope, base in views for f in formats]


def write_index(folder: Path, written: list[Path], catalog: Catalog, run: AnalysisRun | None = None) -> Path:
    from perfops.reports.index_status import report_status
    from perfops.reports.templating import environment

    links = [(p.relative_to(folder).as_posix(), p.stem, p.parent.name, report_status(p)) for p in written
             if p.suffix == ".html" and folder in p.parents]
    html = environment().get_template("index.html.j2").render(catalog=catalog, links=links,
                                                              run=run.describe() if run else None)
    path = folder / "index.html"
    path.write_text(html, encoding="utf-8")
    return path


# ---- for the dashboard ------------------------------------------------------------------------
@dataclass(frozen=True)
class DashboardView:
    catalog: Catalog
    view: ReportView  # the executive view of the run shown
    picture: Any  # perfops.reports.picture.Picture
    findings: list[Finding]
    runs: list[AnalysisRun]  # the runs the dashboard can show, newest first


def dashboard_view(workspace: Workspace, period: str | None = None, run_id: int | None = None) -> DashboardView:
    """The executive view of the newest stored analysis run (or of `period`, or run `run_id`),
    its domain picture and every finding, read once, then detached from the store: the view's
    loaders only serve what was read (the dashboard closes the store at once)."""
    from dataclasses import replace

    from perfops.reports.picture import build_picture

    catalog = workspace.load_catalog()
    with open_store(workspace.store_path, read_only=True) as store:
        run = select_run(store, None, period) if run_id is None else run_by_id(store, run_id)
        data = load_domain(store, catalog, run)
        view = make_view(data, "executive")
        picture = build_picture(view)
        runs = store.analysis_runs.shown()
    cached = data.rollup

    def rollup(*args: Any) -> pd.DataFrame:
        try:
            return cached(*args)
        except Exception:  # not read while the store was open, and the store is closed now
            return pd.DataFrame(columns=["bucket", "service", "metric", "value"])

    view = replace(view, ctx=replace(view.ctx, load_telemetry=_no_rows), rollup=rollup, aggregates=None)
    return DashboardView(catalog, view, picture, data.findings, runs)


def _no_rows(*_: Any) -> pd.DataFrame:
    return pd.DataFrame()


def service_series(workspace: Workspace, service: str, endpoint: str | None, end: datetime,
                   days: int = 14) -> dict[str, Any]:
    """Hourly requests, server errors and p95 of a service (or one endpoint) for `days` before
    `end`, as aligned lists for a chart: {"t": [epoch s], "requests": [...], ...}."""
    end = end.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    metrics = ["requests", "errors", "latency_p95_ms"]
    with open_store(workspace.store_path, read_only=True) as store:
        if endpoint is None:
            frame = store.telemetry.rollup([service], metrics, start, end, 3600).rename(columns={"bucket": "timestamp"})
        else:
            raw = store.telemetry.load(services=[service], metrics=metrics, start=start, end=end,
                                       endpoint=endpoint, consumers=False)
            frame = _hourly(raw)
    return _series_json(frame, start, end)


def _hourly(raw: pd.DataFrame) -> pd.DataFrame:
    if raw.empty:
        return pd.DataFrame(columns=["timestamp", "metric", "value"])
    raw = raw.assign(timestamp=raw["timestamp"].dt.floor("h"))
    counts = raw[raw["metric"].isin(["requests", "errors"])].groupby(["timestamp", "metric"])["value"].sum()
    lat = raw[raw["metric"] == "latency_p95_ms"].groupby(["timestamp", "metric"])["value"].mean()
    return pd.concat([counts, lat]).reset_index()


def _series_json(frame: pd.DataFrame, start: datetime, end: datetime) -> dict[str, Any]:
    slots = pd.date_range(start, end, freq="h", inclusive="left")
    out: dict[str, Any] = {"t": [int(s.timestamp()) for s in slots]}
    for metric in ("requests", "errors", "latency_p95_ms"):
        part = (frame[frame["metric"] == metric].set_index("timestamp")["value"]
                if not frame.empty else pd.Series(dtype=float))
        out[metric] = [None if pd.isna(v) else round(float(v), 3) for v in part.reindex(slots)]
    return out


# ---- for the digests ---------------------------------------------------------------------------
def newest_domain(store: Store, catalog: Catalog) -> DomainData | None:
    """load_domain of the newest stored run; None when nothing was analysed yet."""
    try:
        run = select_run(store)
    except PerfopsError:
        return None
    return load_domain(store, catalog, run)


def movement_lines(data: DomainData, catalog: Catalog) -> dict[str, str]:
    """Per digest target ("domain" and each squad): the key numbers of `data`'s run against the
    previous stored run, in words."""
    views = {"domain": make_view(data, "executive"),
             **{s.name: make_view(data, "lead", squad=s.name) for s in catalog.squads}}
    return {target: movement_words(movement_of(view), catalog.currency, catalog.timezone)
            for target, view in views.items()}


# ---- for the terminal ------------------------------------------------------------------------
def executive_summary_text(workspace: Workspace, period: str | None = None, at: str | None = None, limit: int = 8) -> str:
    """A few plain lines for the terminal: the answer (incidents that need the reader, what ended,
    what changed), squads not normal, then the critical and high incidents with their state."""
    from perfops.model import health
    from perfops.reports.incidents_view import answer_lines, incidents_of, when_text
    from perfops.reports.overview_domain import headline
    from perfops.reports.picture import build_picture

    catalog = workspace.load_catalog()
    with open_store(workspace.store_path, read_only=True) as store:
        data = load_domain(store, catalog, select_run(store, at, period))
        view = make_view(data, "executive")
        pic = build_picture(view)
    incidents = incidents_of(view)
    answer = answer_lines(view, incidents, headline(pic.counts(), len(pic.services)))
    lines = [f"{catalog.domain}: {answer[0]}", *(f"  {line}" for line in answer[1:])]
    for squad, st in sorted(pic.squad_status.items(), key=lambda kv: (health.LEVELS.index(kv[1].level), kv[0])):
        if st.level != "green":
            lines.append(f"  squad {squad}: {st.word.upper()} — {st.why}")
    severe = [i for i in incidents if i.state != "resolved" and i.severity in SEVERE]
    if severe:
        lines.append("Incidents (what needs you first):")
    for i in severe[:limit]:
        others = [sq for sq in i.squads if sq != i.squad]  # squads whose services suffer from it
        affects = f" (the cause; affects squad {', '.join(others)})" if others else ""
        lines.append(f"  {i.word.upper()} [{i.severity}] {i.lead.title} — squad {i.squad}{affects}, "
                     f"{when_text(i, view)}")
    if len(severe) > limit:
        lines.append(f"  … and {len(severe) - limit} more critical/high")
    return "\n".join(lines)
