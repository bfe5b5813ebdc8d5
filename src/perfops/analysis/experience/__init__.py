"""Customer experience: SLOs and error budgets, burn rates, journeys, and consumers.

`run(ctx)` returns the findings (`slo_breach`, `error_budget_burn`, `journey_degradation`,
`consumer_misuse`); `overview(ctx, services)` returns the figures the report sections show
(SLO status over 7/28/30 days and the service's own window, month-by-month compliance, Apdex per
endpoint, journeys, consumers). Pure: telemetry comes through the context's loader, `now` too.
`run` is `run_services` over the catalog (per-service findings, read 20 services at a time) then
`run_shared` (journeys, which span services): the split perfops.analysis.cluster runs on Dask.
Methods: docs/methods/experience.md; each engine's docstring cites its source.

Parameters (`ctx.params["experience"]`, all optional):
    latency_objective_pct  99     share of traffic for which the p95 target must hold
    min_requests          1000    an SLO window with fewer requests is not judged
    burn_min_requests      500    a burn pair's long window needs this many requests ...
    burn_min_errors         10    ... and this many errors to fire
    journey_min_hours        3    degraded hours that make a journey finding
    misuse                 {}     overrides of experience_consumers.MisuseParams
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from perfops.analysis.context import AnalysisContext, area_params
from perfops.analysis.experience import apdex as apdex
from perfops.analysis.experience import burn as burn
from perfops.analysis.experience import consumers as consumers
from perfops.analysis.experience import journeys as journeys
from perfops.analysis.experience import slo as slo
from perfops.analysis.experience.series import EXPERIENCE_METRICS, service_level, wide
from perfops.model.findings import Finding


@dataclass(frozen=True)
class ExperienceParams:
    latency_objective_pct: float = slo.DEFAULT_LATENCY_OBJECTIVE
    min_requests: float = 1000
    burn_min_requests: float = burn.DEFAULT_MIN_REQUESTS
    burn_min_errors: float = burn.DEFAULT_MIN_ERRORS
    journey_min_hours: int = journeys.DEFAULT_MIN_HOURS
    misuse: dict[str, Any] = field(default_factory=dict)


def settings(ctx: AnalysisContext) -> ExperienceParams:
    return area_params(ctx, "experience", ExperienceParams)


def data_start(ctx: AnalysisContext) -> datetime:
    """Far enough back for the longest SLO window, the 30-day report window and the 3-day burn pair."""
    windows = [s.slo.window_delta for s in ctx.catalog.services if s.slo] + list(slo.REPORT_WINDOWS)
    return min(ctx.history_start, ctx.now - max(windows) - timedelta(days=3))


def load(ctx: AnalysisContext, services: list[str], metrics: tuple[str, ...] = EXPERIENCE_METRICS,
         start: datetime | None = None) -> pd.DataFrame:
    """Wide experience telemetry of `services` (see experience_series.wide) from `start`
    (default data_start(ctx); callers that load many times pass it, it walks the catalog)."""
    return wide(ctx.telemetry(services, list(metrics), start or data_start(ctx), ctx.now))


SLO_METRICS = ("requests", "errors", "latency_p95_ms")


RUN_CHUNK = 20  # services read in one query by run_services


def run(ctx: AnalysisContext) -> list[Finding]:
    """Every experience finding: service by service in catalog order, then the journeys."""
    return run_services(ctx, [s.name for s in ctx.catalog.services]) + run_shared(ctx)


def run_services(ctx: AnalysisContext, services: list[str]) -> list[Finding]:
    """SLO, burn-rate and consumer findings of some services, in their order. Services are read
    `RUN_CHUNK` at a time, only the rows the findings use (see `service_frames`)."""
    conf = settings(ctx)
    start = data_start(ctx)
    findings: list[Finding] = []
    for i in range(0, len(services), RUN_CHUNK):
        chunk = list(services[i : i + RUN_CHUNK])
        parts = service_frames(ctx, chunk, start)
        for name in chunk:
            data = parts.get(name)
            if data is not None and not data.empty:
                findings += _service_findings(ctx, conf, ctx.catalog.service(name), data)
    return findings


def run_shared(ctx: AnalysisContext) -> list[Finding]:
    """What spans services: journey degradations (perfops.analysis.cluster runs it once)."""
    if not ctx.catalog.journeys:
        return []
    conf = settings(ctx)
    steps = sorted({s for j in ctx.catalog.journeys for s, _ in j.parsed_steps()})
    data = load(ctx, steps, start=data_start(ctx))
    return journeys.journey_findings(data, ctx.catalog, ctx.period_start, ctx.now, int(conf.journey_min_hours))


def service_frames(ctx: AnalysisContext, services: list[str], start: datetime) -> dict[str, pd.DataFrame]:
    """Per service, the wide frame `load(ctx, [service])` would give, as far as the findings
    read it: the whole-service rows and the per-consumer rows. A service without whole-service
    rows (composed from its endpoints) or with deprecated endpoints is read whole. One query per
    kind of rows for the chunk instead of one per service, and the endpoint series of a service
    that reports itself, most of its rows, are not read at all."""
    metrics = list(EXPERIENCE_METRICS)
    whole = ctx.telemetry_rows(services, metrics, start, ctx.now, endpoint="", consumers=False)
    have = set(whole["service"].unique()) if len(whole) else set()
    full = [n for n in services if n not in have or ctx.catalog.service(n).deprecated_endpoints]
    lean = [n for n in services if n not in set(full)]
    frames = [whole[whole["service"].isin(lean)]] if lean and len(whole) else []
    if lean:
        frames.append(ctx.telemetry_rows(lean, metrics, start, ctx.now, consumers=True))
    if full:
        frames.append(ctx.telemetry(full, metrics, start, ctx.now))
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return {}
    data = wide(pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0])
    return {str(k): g.reset_index(drop=True) for k, g in data.groupby("service", sort=False, observed=True)} if len(data) else {}


def _service_findings(ctx: AnalysisContext, conf: ExperienceParams, service: Any, data: pd.DataFrame) -> list[Finding]:
    out: list[Finding] = []
    series = service_level(data, service.name)
    if service.slo is not None and not series.empty:
        statuses = slo.compliance(series, service, ctx.now, service.slo.window_delta,
                                  float(conf.latency_objective_pct))
        out += slo.breach_findings(statuses, service, float(conf.min_requests))
        availability = next((s for s in statuses if s.sli == "availability"), None)
        out += burn.burn_findings(series, service, ctx.period_start, ctx.now,
                                  availability.budget_remaining if availability else None,
                                  float(conf.burn_min_requests), float(conf.burn_min_errors))
    params = consumers.MisuseParams(**conf.misuse)
    out += consumers.misuse_findings(data, service, ctx.period_start, ctx.now, params)
    return out


# ---- figures for the reports -------------------------------------------------------------------
@dataclass
class ServiceExperience:
    service: str
    squad: str
    tier: int
    slo: list[dict[str, Any]] = field(default_factory=list)  # one per SLI x window
    monthly: list[dict[str, Any]] = field(default_factory=list)
    apdex: list[dict[str, Any]] = field(default_factory=list)
    consumers: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class JourneyExperience:
    name: str
    steps: list[str]
    services: list[str]
    latency_p95_ms: float | None  # the target
    recent_latency_ms: float | None
    baseline_latency_ms: float | None
    recent_availability_pct: float | None
    hourly: list[dict[str, Any]] = field(default_factory=list)


OVERVIEW_CHUNK = {True: 10, False: 50}  # services read in one query: detail (every metric, consumers) / SLOs only


def overview(ctx: AnalysisContext, services: list[str], detail: bool = True,
             cache: dict[Any, Any] | None = None) -> tuple[list[ServiceExperience], list[JourneyExperience]]:
    """What the experience sections show for `services` and the journeys they sit on
    (detail=False: SLO figures only, for the executive summary).

    Services are read a chunk at a time (one query and one pivot per chunk, not per service).
    `cache` (a dict shared by the reports of one run) keeps each service's and journey's figures,
    so a service shown in its squad's and its developer's report is computed once."""
    memo: dict[Any, Any] = cache if cache is not None else {}
    tag = ("experience", detail, ctx.now, ctx.period, ctx.history)
    missing = [n for n in dict.fromkeys(services) if (*tag, n) not in memo]
    if missing:
        for name, item in _service_overviews(ctx, missing, detail):
            memo[(*tag, name)] = item
    out = [memo[(*tag, name)] for name in services]
    return out, journey_overview(ctx, services, memo) if detail else []


def _service_overviews(ctx: AnalysisContext, names: list[str], detail: bool) -> list[tuple[str, ServiceExperience]]:
    conf = settings(ctx)
    objective = float(conf.latency_objective_pct)
    start = data_start(ctx)
    metrics = EXPERIENCE_METRICS if detail else SLO_METRICS
    out = []
    # the executive summary shows SLO figures only: services without an SLO need no data
    wanted = [n for n in names if detail or ctx.catalog.service(n).slo is not None]
    out += [(n, _blank(ctx, n)) for n in names if n not in set(wanted)]
    size = OVERVIEW_CHUNK[detail]
    for i in range(0, len(wanted), size):
        chunk = wanted[i : i + size]
        data = wide(ctx.telemetry(chunk, list(metrics), start, ctx.now))
        parts = {str(k): g.reset_index(drop=True) for k, g in data.groupby("service", sort=False, observed=True)} if len(data) else {}
        for name in chunk:
            out.append((name, _service_overview(ctx, name, parts.get(name), detail, objective)))
    return out


def _blank(ctx: AnalysisContext, name: str) -> ServiceExperience:
    service = ctx.catalog.service(name)
    return ServiceExperience(name, service.squad, service.tier)


def _service_overview(ctx: AnalysisContext, name: str, data: pd.DataFrame | None, detail: bool,
                      objective: float) -> ServiceExperience:
    service = ctx.catalog.service(name)
    item = ServiceExperience(name, service.squad, service.tier)
    if data is None or data.empty:
        return item
    series = service_level(data, name)
    if service.slo is not None:
        windows = sorted({service.slo.window_delta, *slo.REPORT_WINDOWS})
        for window in windows:
            item.slo += [s.as_dict() | {"own_window": window == service.slo.window_delta}
                         for s in slo.compliance(series, service, ctx.now, window, objective)]
        item.monthly = slo.monthly(series, service, objective)
    if detail:
        recent = data[data["timestamp"] >= ctx.period_start]
        item.apdex = apdex.apdex_table(recent, name, service.apdex_threshold_ms)
        item.consumers = consumers.consumer_table(data, name, ctx.period_start, ctx.now)
    return item


def journey_overview(ctx: AnalysisContext, services: list[str],
                     cache: dict[Any, Any] | None = None) -> list[JourneyExperience]:
    wanted = set(services)
    memo: dict[Any, Any] = cache if cache is not None else {}
    out = []
    for journey in ctx.catalog.journeys:
        names = [s for s, _ in journey.parsed_steps()]
        if not wanted & set(names):
            continue
        key = ("experience-journey", journey.name, ctx.now, ctx.period, ctx.history)
        if key not in memo:
            memo[key] = _journey(ctx, journey, names)
        out.append(memo[key])
    return out


def _journey(ctx: AnalysisContext, journey: Any, names: list[str]) -> JourneyExperience:
    frame = journeys.compose(journeys.step_series(load(ctx, sorted(set(names))), journey))
    recent = frame[frame.index >= ctx.period_start]
    before = frame[frame.index < ctx.period_start]
    return JourneyExperience(
        journey.name, journey.steps, names, journey.latency_p95_ms,
        _median(recent, "latency_ms"), _median(before, "latency_ms"),
        _weighted_availability(recent),
        [{"hour": h.isoformat(), "latency_ms": _num(r["latency_ms"]), "availability_pct": _num(100 * r["availability"])}
         for h, r in recent.iterrows()],
    )


def _median(frame: pd.DataFrame, column: str) -> float | None:
    values = frame[column].dropna() if column in frame else pd.Series(dtype=float)
    return round(float(values.median()), 1) if len(values) else None


def _weighted_availability(frame: pd.DataFrame) -> float | None:
    ok = frame.dropna(subset=["availability"])
    if ok.empty or ok["requests"].sum() <= 0:
        return None
    return round(100 * float((ok["availability"] * ok["requests"]).sum() / ok["requests"].sum()), 4)


def _num(value: float) -> float | None:
    return None if pd.isna(value) else round(float(value), 3)
