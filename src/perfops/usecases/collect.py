"""`perfops collect`: pull telemetry from the sources in perfops.yaml (Prometheus, then OpenCost).

For each metric of `sources.prometheus.queries`, the range [start, until] is fetched in chunks
(perfops.sources.prometheus), each chunk's series are named in perfops' terms by the same code
that reads saved query_range files (perfops.ingest.prometheus_json) and stored with
`Store.telemetry.upsert` in a transaction, so a re-fetched point replaces the old one. When every
chunk of a query is stored, `collect_state` records the newest timestamp: the next run without
--since resumes one step before it (the newest point may still have been filling).

Series whose service is not in the catalog are skipped and listed; a query none of whose series
names a catalog service is an error (the label mapping is surely wrong).

`sources.opencost` adds the allocation API (perfops.sources.opencost): whole steps (hours or
days) up to `until`, read by the same code as saved answers (perfops.ingest.opencost) and stored
as the `cost` metric; the next run re-fetches the last step (it may have been revised).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import pyarrow as pa
import pyarrow.compute as pc

from perfops.errors import PerfopsError, SourceError
from perfops.ingest import _series as S
from perfops.ingest import opencost as OC
from perfops.ingest import prometheus_json as P
from perfops.model.catalog import Catalog, PrometheusSource
from perfops.model.redact import redact_url
from perfops.model.units import parse_duration
from perfops.sources.opencost import OpenCostClient, align_down, windows
from perfops.sources.prometheus import Chunk, PrometheusClient, align, plan_chunks
from perfops.store import Store, open_store
from perfops.store.collect_repo import CollectStateRepo
from perfops.workspace import Workspace

DEFAULT_SINCE = timedelta(days=7)
Progress = Callable[[str, int, int], None]  # (metric, chunks done, chunks total)


@dataclass
class QueryReport:
    metric: str
    start: datetime
    end: datetime
    chunks: int = 0
    series: int = 0
    rows: int = 0
    unmatched: list[str] = field(default_factory=list)  # label sets naming no catalog service


@dataclass
class CollectReport:
    source: str
    queries: list[QueryReport] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(q.rows for q in self.queries)


def collect(
    workspace: Workspace,
    *,
    now: datetime,
    since: str | None = None,
    until: datetime | None = None,
    transport: httpx.BaseTransport | None = None,
    env: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> CollectReport:
    """Open the workspace's store and collect into it from every configured source (see
    collect_prometheus and collect_opencost)."""
    catalog = workspace.load_catalog()
    window = _since(since)
    sources = catalog.sources
    opencost = sources.opencost if sources else None
    prometheus = bool(sources and sources.prometheus and sources.prometheus.queries)
    if not prometheus and opencost is None:
        prometheus_config(catalog)  # says what to configure
    with open_store(workspace.store_path) as store:
        report = (collect_prometheus(store, catalog, now=now, since=window, until=until, transport=transport,
                                     env=env, progress=progress) if prometheus
                  else CollectReport(f"opencost:{opencost.url.rstrip('/')}" if opencost else ""))
        if opencost is not None:
            report.queries.append(collect_opencost(store, catalog, now=now, since=window, until=until,
                                                   transport=transport, env=env))
        return report


def _since(text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        window = parse_duration(text)
    except ValueError as exc:
        raise PerfopsError(f"--since: {exc}") from exc
    if window <= timedelta(0):
        raise PerfopsError("--since: must be positive, e.g. 7d")
    return window


def prometheus_config(catalog: Catalog) -> PrometheusSource:
    source = catalog.sources.prometheus if catalog.sources else None
    if source is None or not source.queries:
        raise PerfopsError(
            "perfops.yaml configures no source to collect from",
            hint="add sources.prometheus with url and queries (one PromQL per metric), or sources.opencost "
                 "with url; see docs/sources.md",
        )
    unknown = [m for m in source.queries if not S.is_metric(m)]
    if unknown:
        raise PerfopsError(
            f"sources.prometheus.queries: '{unknown[0]}' is not a perfops metric",
            hint="use one of " + ", ".join(sorted(S.METRICS)),
        )
    return source


def collect_prometheus(
    store: Store,
    catalog: Catalog,
    *,
    now: datetime,
    since: timedelta | None = None,
    until: datetime | None = None,
    transport: httpx.BaseTransport | None = None,
    env: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    sleep: Callable[[float], None] | None = None,
) -> CollectReport:
    """Collect every configured query into `store`; `now` is passed in (no clock here)."""
    config = prometheus_config(catalog)
    step = parse_duration(config.step)
    state = getattr(store, "collect_state", None) or CollectStateRepo(store.con)
    source = f"prometheus:{redact_url(config.url.rstrip('/'))}"  # printed and stored: no credentials
    end = align(until or now, step)
    report = CollectReport(source)
    with PrometheusClient(config, transport=transport, env=env, sleep=sleep or time.sleep) as client:
        for metric, promql in config.queries.items():
            key = f"{metric}={promql}"
            start = _start(state.last(source, key), since, end, step)
            chunks = plan_chunks(metric, promql, start, end, step, config.max_points_per_query, config.concurrency)
            query = QueryReport(metric, start, end, len(chunks))
            newest = _collect_query(store, client, catalog, chunks, query, progress)
            _check_matched(query, config, promql)
            if newest is not None:
                with store.transaction():
                    state.advance(source, key, newest)
            report.queries.append(query)
    return report


def _start(last: datetime | None, since: timedelta | None, end: datetime, step: timedelta) -> datetime:
    """--since wins (a deliberate backfill); else resume one step before the last point."""
    if since is not None or last is None:
        return end - (since or DEFAULT_SINCE)
    return min(last - step, end)


def _collect_query(store: Store, client: PrometheusClient, catalog: Catalog, chunks: list[Chunk],
                   query: QueryReport, progress: Progress | None) -> datetime | None:
    naming = P.Naming(catalog, P.label_config(catalog), metric_hint=query.metric, raw_counters=False)
    newest: datetime | None = None
    for done, (_, answer) in enumerate(client.fetch(chunks), start=1):
        table = table_of_answer(answer, naming, query)
        if table.num_rows:
            with store.transaction():
                query.rows += store.telemetry.upsert(table)
            last = pc.max(table["timestamp"]).as_py()
            newest = last if newest is None else max(newest, last)
        if progress:
            progress(query.metric, done, len(chunks))
    return newest


def table_of_answer(answer: str, naming: P.Naming, query: QueryReport) -> pa.Table:
    """One chunk's answer as canonical telemetry (an Arrow table); unmatched series are noted
    on `query`. Large answers take the fast decoding path."""
    series = P.parse_matrix_text(answer)
    if series is None:
        try:
            document = json.loads(answer)
        except ValueError as exc:
            raise SourceError(f"the answer to the query for '{query.metric}' is not JSON ({exc})") from exc
        series = P.parse_document(document, f"query '{query.metric}'")
    query.series += len(series)
    problems = S.Problems(f"query '{query.metric}'", skip=True)
    pieces = P.pieces_of(series, naming, problems)
    for line in problems.skipped:
        text = line.split(": ", 1)[-1]
        if text not in query.unmatched:
            query.unmatched.append(text)
    return S.table_of(pieces)


def _check_matched(query: QueryReport, config: PrometheusSource, promql: str) -> None:
    if query.series and not query.rows and query.unmatched:
        label = config.labels.get("service", "service")
        raise SourceError(
            f"no series of the query for '{query.metric}' names a catalog service; "
            f"e.g. {query.unmatched[0]}",
            hint=f"keep the '{label}' label in the query (sum by ({label}, ...)) or set "
                 "sources.prometheus.labels.service to the label that names services",
        )


def collect_opencost(
    store: Store,
    catalog: Catalog,
    *,
    now: datetime,
    since: timedelta | None = None,
    until: datetime | None = None,
    transport: httpx.BaseTransport | None = None,
    env: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> QueryReport:
    """Pull the allocation API's cost per step into `store` as the `cost` metric."""
    config = catalog.sources.opencost if catalog.sources else None
    if config is None:
        raise PerfopsError("perfops.yaml has no sources.opencost", hint="see docs/catalog.md")
    step = timedelta(hours=1) if config.step == "1h" else timedelta(days=1)
    state = getattr(store, "collect_state", None) or CollectStateRepo(store.con)
    source, key = f"opencost:{config.url.rstrip('/')}", f"cost={config.aggregate}/{config.step}"
    end = align_down(until or now, step)  # whole steps only: the current one is still filling
    last = state.last(source, key)
    if since is not None or last is None:
        start = align_down(end - (since or parse_duration(config.window)), step)
    else:
        start = min(align_down(last, step) - step, end)
    pieces = windows(start, end, step)
    query = QueryReport("cost", start, end, len(pieces))
    with OpenCostClient(config, transport=transport, env=env, sleep=sleep or time.sleep) as client:
        for a, b in pieces:
            answer = client.allocation(a, b)
            batch = OC.read_document(answer, catalog, f"OpenCost {a:%Y-%m-%d %H:%M}..{b:%Y-%m-%d %H:%M}", skip_bad=True)
            query.series += sum(len(one) for one in OC.allocation_sets(answer, source))
            query.unmatched.extend(batch.warnings + batch.skipped)
            if batch.telemetry is not None and len(batch.telemetry):
                with store.transaction():
                    query.rows += store.telemetry.upsert(batch.telemetry)
            with store.transaction():
                state.advance(source, key, b)
    if query.series and not query.rows and query.unmatched:
        raise SourceError(f"no OpenCost allocation ({config.aggregate}) went to a catalog service; {query.unmatched[0]}",
                          hint="add cost.match rules to perfops.yaml or set sources.opencost.aggregate to what "
                               "names your services (namespace, deployment, label:app)")
    return query
