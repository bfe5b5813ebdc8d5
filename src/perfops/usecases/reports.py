"""`perfops report`: open the store read-only, build the view for each audience, compose, render.

Default: every audience into `workspace/reports/` — `executive.html` and `.md`, one lead report
per squad in `reports/lead/<squad>.*`, one developer report per service in
`reports/developer/<service>.*`, and `reports/index.html` linking them all.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from perfops.analysis.context import AnalysisContext
from perfops.errors import PerfopsError
from perfops.model.catalog import Catalog
from perfops.model.findings import Finding
from perfops.reports.aggregates import RUN_SERVICES
from perfops.store import Store, open_store
from perfops.store.findings_repo import FindingFilter
from perfops.store.report_queries import ReportQueries
from perfops.usecases.context import build_context, parse_moment, parse_period
from perfops.workspace import Workspace

log = logging.getLogger("perfops.reports")

FORMATS = ("html", "md", "json", "pdf")
DEFAULT_FORMATS = ("html", "md")
RESOLVED_WINDOW = timedelta(days=14)


@dataclass(frozen=True)
class DomainData:
    """Everything read from the store once per run, shared by every report of the run."""

    ctx: AnalysisContext
    findings: list[Finding]  # every stored finding, any status
    history: list[dict[str, Any]]
    first_seen: dict[str, datetime]
    inventory: pd.DataFrame
    rollup: Callable[..., pd.DataFrame]
    cache: dict[Any, Any]  # domain-wide results shared by every view of the run
    aggregates: Any = None  # per-service sums for batches of services (perfops.store.report_queries)
    rollups: dict[tuple[Any, ...], pd.DataFrame] | None = None  # the rollup loader's memo


@dataclass(frozen=True)
class Shared:
    """Domain-wide reads made once by the parent of a parallel run and handed to its workers
    (perfops.reports.prefetch): the telemetry inventory and the rollup loader's memo."""

    inventory: pd.DataFrame
    rollups: dict[tuple[Any, ...], pd.DataFrame]
    capacity_parts: list[list[str]] = field(default_factory=list)  # the executive's chunks of services
    derived: dict[tuple[Any, ...], Any] = field(default_factory=dict)  # their capacity and cost figures


# ---- reading the store -----------------------------------------------------------------------
def load_domain(store: Store, catalog: Catalog, *, period: timedelta, now: datetime | None = None,
                shared: Shared | None = None) -> DomainData:
    ctx = build_context(store, catalog, now=now or newest_analysis_end(store), period=period)
    findings = store.findings.list(FindingFilter(status="all"))
    history = store.findings.history()
    first_seen: dict[str, datetime] = {}
    for row in history:
        if row["action"] == "found":
            first_seen.setdefault(row["finding_id"], row["at"])
    cache: dict[tuple[Any, ...], pd.DataFrame] = dict(shared.rollups) if shared is not None else {}

    def rollup(services: Sequence[str] | None, metrics: Sequence[str], start: datetime, end: datetime,
               bucket_seconds: int) -> pd.DataFrame:
        key = (tuple(services) if services is not None else None, tuple(metrics), start, end, bucket_seconds)
        if key not in cache:
            cache[key] = telemetry_rollup(store, services, metrics, start, end, bucket_seconds)
        return cache[key]

    return DomainData(ctx=ctx, findings=findings, history=history, first_seen=first_seen,
                      inventory=shared.inventory if shared is not None else telemetry_inventory(store),
                      rollup=rollup, cache={}, aggregates=ReportQueries(store), rollups=cache)


def analysed(workspace: Workspace) -> bool:
    """Whether `perfops analyze` has run on this workspace (reports without it have no findings)."""
    if not workspace.store_path.exists():
        return False
    with open_store(workspace.store_path, read_only=True) as store:
        return newest_analysis_end(store) is not None


def newest_analysis_end(store: Store) -> datetime | None:
    """The end of the newest analysis period, so reports describe what was analysed."""
    return store.analysis_runs.latest_end()


def telemetry_rollup(store: Store, services: Sequence[str] | None, metrics: Sequence[str], start: datetime,
                     end: datetime, bucket_seconds: int) -> pd.DataFrame:
    """Whole-service values per bucket (see TelemetryRepo.rollup)."""
    return store.telemetry.rollup(services, metrics, start, end, bucket_seconds)


def telemetry_inventory(store: Store) -> pd.DataFrame:
    """What telemetry each service has: (service, endpoint, metric, rows, first, last)."""
    return store.telemetry.inventory()


# ---- views -------------------------------------------------------------------------------------
def make_view(data: DomainData, audience: str, squad: str | None = None, service: str | None = None,
              generated_at: datetime | None = None) -> Any:
    from perfops.reports.section import ReportView

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
        ctx=data.ctx, findings=[f for f in scoped if f.status != "resolved"], audience=audience,  # type: ignore[arg-type]
        squad=squad, service=service, generated_at=generated_at or data.ctx.now, history=data.history,
        rollup=data.rollup, resolved=resolved, finding_index={f.id: f for f in data.findings},
        first_seen=data.first_seen, inventory=data.inventory, cache=data.cache, aggregates=data.aggregates,
    )


def render_one(view: Any, fmt: str, path: Path) -> Path:
    from perfops.reports.compose import compose

    report = compose(view)
    return write_report(report, fmt, path)


def write_report(report: Any, fmt: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "pdf":
        from perfops.reports.render_html import render_html
        from perfops.reports.render_pdf import html_to_pdf

        return html_to_pdf(render_html(report), path)
    text = _render_text(report, fmt)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _render_text(report: Any, fmt: str) -> str:
    if fmt == "html":
        from perfops.reports.render_html import render_html

        return render_html(report)
    if fmt == "md":
        from perfops.reports.render_md import render_markdown

        return render_markdown(report)
    from perfops.reports.render_json import render_json

    return render_json(report)


# ---- the use case ----------------------------------------------------------------------------
def render_reports(
    workspace: Workspace,
    audience: str | None = None,
    squad: str | None = None,
    service: str | None = None,
    period: str = "7d",
    fmt: str | None = None,
    output: Path | None = None,
    *,
    at: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[Path]:
    """Write the reports asked for and return their paths (see the module docstring)."""
    catalog = workspace.load_catalog()
    _check_arguments(catalog, audience, squad, service, fmt, output)
    formats = (fmt,) if fmt else DEFAULT_FORMATS
    jobs = plan_jobs(catalog, audience, squad, service, formats, output, workspace.reports_dir)
    workers = _workers(len(jobs), fmt)
    if workers > 1:
        written = _render_parallel(workspace, catalog, jobs, period, at, workers, progress)
    else:
        written = render_jobs(workspace, catalog, jobs, period, at, progress)
    if output is None and audience is None:
        written.append(write_index(workspace.reports_dir, written, catalog))
    return written


def render_jobs(workspace: Workspace, catalog: Catalog, jobs: list[tuple[tuple[Any, ...], str, Path]],
                period: str, at: str | None, progress: Callable[[str, int, int], None] | None = None,
                shared: Shared | None = None) -> list[Path]:
    """Render jobs in this process over one read of the store (shared by every view; `shared`:
    what the parent of a parallel run read for every worker)."""
    from perfops.reports.compose import compose

    written = []
    composed: tuple[tuple[Any, ...], Any] | None = None  # the formats of one view share one composition
    with open_store(workspace.store_path, read_only=True) as store:
        data = load_domain(store, catalog, period=parse_period(period), now=parse_moment(at), shared=shared)
        data.cache[RUN_SERVICES] = run_services(catalog, jobs)
        if shared is not None and shared.derived:
            from perfops.reports.capacity_data import adopt

            adopt(data.cache, shared.derived)
        for index, (view_args, fmt_one, path) in enumerate(jobs):
            if progress:
                progress(str(path.name), index, len(jobs))
            if composed is None or composed[0] != view_args:
                composed = (view_args, compose(make_view(data, *view_args)))
            written.append(write_report(composed[1], fmt_one, path))
    return written


def run_services(catalog: Catalog, jobs: list[tuple[tuple[Any, ...], str, Path]]) -> list[str]:
    """The services the jobs' team reports cover, in the order they are rendered: the batches of
    perfops.reports.aggregates (a squad's services come together)."""
    names: list[str] = []
    for (audience, squad, service), _, _ in jobs:
        if audience == "lead" and squad:
            names += [s.name for s in catalog.services_of(squad)]
        elif audience == "developer" and service:
            names.append(service)
    return list(dict.fromkeys(names))


PARALLEL_FROM = 24  # jobs; below this, starting workers costs more than it saves


def _workers(jobs: int, fmt: str | None) -> int:
    if jobs < PARALLEL_FROM or fmt == "pdf" or os.environ.get("PERFOPS_REPORT_WORKERS") == "1":
        return 1
    wanted = int(os.environ.get("PERFOPS_REPORT_WORKERS", "0") or 0) or (os.cpu_count() or 1)
    return max(1, min(wanted, 8, jobs // 8))


def _render_parallel(workspace: Workspace, catalog: Catalog, jobs: list[tuple[tuple[Any, ...], str, Path]], period: str,
                     at: str | None, workers: int, progress: Callable[[str, int, int], None] | None) -> list[Path]:
    """Split the jobs over worker processes; each opens the store read-only (DuckDB allows many
    readers) and reads the domain once (see deal_jobs for the split)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from perfops.usecases.worker_lifetime import die_with_parent

    chunks = deal_jobs(catalog, jobs, workers)
    shared = read_shared(workspace, catalog, jobs, period, at)
    context = multiprocessing.get_context("spawn")
    written: list[Path] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=die_with_parent,
                             initargs=(os.getpid(),)) as pool:  # no orphans when `report` is killed
        lean = replace(shared, rollups={})  # the capacity figures need none of the rollups
        parts = [pool.submit(derive_capacity, workspace, catalog, period, at, lean, names)
                 for names in shared.capacity_parts]
        shared = replace(shared, capacity_parts=[], derived=_collect(parts))
        futures = [pool.submit(render_jobs, workspace, catalog, chunk, period, at, None, shared) for chunk in chunks]
        for index, future in enumerate(futures):
            written.extend(future.result())
            if progress:
                progress(f"worker {index + 1} of {workers} done", index + 1, workers)
    order = {path: i for i, (_, _, path) in enumerate(jobs)}
    return sorted(written, key=lambda p: order.get(p, 0))


def _collect(parts: list[Any]) -> dict[tuple[Any, ...], Any]:
    """The workers' capacity figures; a chunk that failed is left to the executive report, which
    computes it again (and stops with exit 70 if it fails there too: no traceback printed here)."""
    derived: dict[tuple[Any, ...], Any] = {}
    for part in parts:
        try:
            derived.update(part.result())
        except Exception:
            log.debug("capacity figures of a chunk of services failed in a worker", exc_info=True)
    return derived


def read_shared(workspace: Workspace, catalog: Catalog, jobs: list[tuple[tuple[Any, ...], str, Path]], period: str,
                at: str | None) -> Shared:
    """The domain-wide reads of the jobs' reports, made once (perfops.reports.prefetch)."""
    from perfops.reports.capacity_data import split
    from perfops.reports.prefetch import warm

    audiences = {args[0] for args, _, _ in jobs}
    with open_store(workspace.store_path, read_only=True) as store:
        data = load_domain(store, catalog, period=parse_period(period), now=parse_moment(at))
        view = make_view(data, "executive")
        warm(view, audiences)
    parts = list(split(view, [s.name for s in catalog.services])) if "executive" in audiences else []
    return Shared(inventory=data.inventory, rollups=dict(data.rollups or {}), capacity_parts=parts)


def derive_capacity(workspace: Workspace, catalog: Catalog, period: str, at: str | None, shared: Shared,
                    names: list[str]) -> dict[tuple[Any, ...], Any]:
    """In a worker: the executive's capacity and cost figures of one chunk of services (the
    chunks are the slowest part of the executive report; the workers share them out)."""
    from perfops.reports.capacity_data import derived_entries

    with open_store(workspace.store_path, read_only=True) as store:
        data = load_domain(store, catalog, period=parse_period(period), now=parse_moment(at), shared=shared)
        return derived_entries(make_view(data, "executive"), names)


def deal_jobs(catalog: Catalog, jobs: list[tuple[tuple[Any, ...], str, Path]], workers: int,
              ) -> list[list[tuple[tuple[Any, ...], str, Path]]]:
    """Jobs per worker: a view's formats stay together (they share one composition) and so do a
    squad's lead and developer reports (they share the per-service figures a worker caches).
    Squads go to the least loaded worker, largest first (LPT); the executive report counts as
    many views as the domain has squads, as it covers them all."""
    groups: dict[str, list[tuple[tuple[Any, ...], str, Path]]] = {}
    weight: dict[str, float] = {}
    for job in jobs:
        audience, squad, service = job[0]
        owner = squad or (catalog.squad_of(service) if service else "") or ""
        key = "" if audience == "executive" else owner
        groups.setdefault(key, []).append(job)
        weight[key] = weight.get(key, 0.0) + (max(1, len(catalog.squads)) if audience == "executive" else 1.0)
    chunks: list[list[tuple[tuple[Any, ...], str, Path]]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for key in sorted(groups, key=lambda k: (-weight[k], k)):
        least = load.index(min(load))
        chunks[least].extend(groups[key])
        load[least] += weight[key]
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
              formats: Sequence[str], output: Path | None, folder: Path) -> list[tuple[tuple[Any, ...], str, Path]]:
    """(view arguments, format, path) for every report to write."""
    views: list[tuple[tuple[Any, ...], Path]] = []
    if audience in (None, "executive"):
        views.append((("executive", None, None), folder / "executive"))
    if audience in (None, "lead"):
        squads = [squad] if squad else [s.name for s in catalog.squads]
        views += [(("lead", sq, None), folder / "lead" / sq) for sq in squads]
    if audience in (None, "developer"):
        names = [service] if service else [s.name for s in catalog.services if not squad or s.squad == squad]
        views += [(("developer", None, name), folder / "developer" / name) for name in names]
    if output is not None:
        return [(views[0][0], formats[0], output)]
    return [(args, f, report_file(base, f)) for args, base in views for f in formats]


# names Windows reserves for devices, whatever the extension (`con.html` cannot be created there)
_DEVICE_NAMES = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                           *(f"lpt{i}" for i in range(1, 10))})


def report_file(base: Path, fmt: str) -> Path:
    """`developer/orders.api` + html -> `developer/orders.api.html`: the format is appended, never
    put in place of a dot in the name (`orders.api` and `orders.worker` once both wrote
    `orders.html`). Names the catalog accepts ([a-z0-9][a-z0-9._-]*) are URL- and file-safe and
    the format has no dot, so the mapping is one to one; a device name (`con`) gets a `_`, which
    no catalog name starts with."""
    name = base.name
    if name.split(".", 1)[0].lower() in _DEVICE_NAMES:
        name = "_" + name
    return base.with_name(f"{name}.{fmt}")


def write_index(folder: Path, written: list[Path], catalog: Catalog) -> Path:
    from perfops.reports.templating import environment

    links = [(p.relative_to(folder).as_posix(), p.stem, p.parent.name) for p in written
             if p.suffix == ".html" and folder in p.parents]
    html = environment().get_template("index.html.j2").render(catalog=catalog, links=links)
    path = folder / "index.html"
    path.write_text(html, encoding="utf-8")
    return path


# ---- for the dashboard ------------------------------------------------------------------------
def dashboard_view(workspace: Workspace, period: str = "7d") -> tuple[Catalog, Any, Any, list[Finding]]:
    """(catalog, executive view, domain picture, every finding) read once, then detached from the
    store: the view's loaders only serve what was read (the dashboard closes the store at once)."""
    from dataclasses import replace

    from perfops.reports.picture import build_picture

    catalog = workspace.load_catalog()
    with open_store(workspace.store_path, read_only=True) as store:
        data = load_domain(store, catalog, period=parse_period(period))
        view = make_view(data, "executive")
        picture = build_picture(view)
    cached = data.rollup

    def rollup(*args: Any) -> pd.DataFrame:
        try:
            return cached(*args)
        except Exception:  # not read while the store was open, and the store is closed now
            return pd.DataFrame(columns=["bucket", "service", "metric", "value"])

    view = replace(view, ctx=replace(view.ctx, load_telemetry=lambda *a: pd.DataFrame()), rollup=rollup,
                   aggregates=None)
    return catalog, view, picture, data.findings


def service_series(workspace: Workspace, service: str, endpoint: str | None, end: datetime,
                   days: int = 14) -> dict[str, Any]:
    """Hourly requests, server errors and p95 of a service (or one endpoint) for `days` before
    `end`, as aligned lists for a chart: {"t": [epoch s], "requests": [...], ...}."""
    end = end.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    metrics = ["requests", "errors", "latency_p95_ms"]
    with open_store(workspace.store_path, read_only=True) as store:
        if endpoint is None:
            frame = telemetry_rollup(store, [service], metrics, start, end, 3600).rename(columns={"bucket": "timestamp"})
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


# ---- for the terminal ------------------------------------------------------------------------
def executive_summary_text(workspace: Workspace, period: str = "7d", at: str | None = None, limit: int = 8) -> str:
    """A few plain lines for the terminal: headline, squads not normal, the top findings."""
    from perfops.reports import format as fmt
    from perfops.reports import health
    from perfops.reports.picture import build_picture
    from perfops.reports.sections.overview import headline

    catalog = workspace.load_catalog()
    with open_store(workspace.store_path, read_only=True) as store:
        data = load_domain(store, catalog, period=parse_period(period), now=parse_moment(at))
        view = make_view(data, "executive")
        pic = build_picture(view)
    lines = [f"{catalog.domain}: {headline(pic.counts(), len(pic.services))}"]
    for squad, st in sorted(pic.squad_status.items(), key=lambda kv: (health.LEVELS.index(kv[1].level), kv[0])):
        if st.level != "green":
            lines.append(f"  squad {squad}: {st.word.upper()} — {st.why}")
    severe = health.rank_findings([f for f in view.active if f.severity in ("critical", "high")], catalog)
    if severe:
        lines.append("Out of the ordinary (ranked by impact):")
    for f in severe[:limit]:
        cause_sq, cause_svc = health.cause_squad(f, view.finding_index, catalog)
        cause = f" — caused by {cause_svc} (squad {cause_sq})" if cause_sq else ""
        lines.append(f"  [{f.severity}] {f.title} — {f.service}, squad {f.squad}, since "
                     f"{fmt.relative(f.start, view.now)}{cause}")
    if len(severe) > limit:
        lines.append(f"  … and {len(severe) - limit} more critical/high")
    return "\n".join(lines)
