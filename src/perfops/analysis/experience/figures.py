"""The experience figures `analyze` stores (perfops.model.figures.ExperienceFigure): SLO
compliance per SLI over the service's own window and over 7, 28 and 30 days with the error
budget left, month by month, Apdex per endpoint and the consumers table.

Every SLO figure is a sum over a service's whole-service rows (perfops.analysis.experience.slo:
availability = 1 - errors / requests; latency = the share of requests served in intervals whose
p95 met the target). The rows are summed per service, per bucket of age counted back from `now`
(the bucket dividing every window) and per calendar month — by the store when the use case
injects its query (`AnalysisContext.sums`, perfops.store.report_queries `slo_buckets`), else
with pandas from the rows (`frame_slo_buckets`, the reference). A service without whole-service
rows (its figures are composed from its endpoints) goes through
perfops.analysis.experience.overview. Apdex and consumers read the period's endpoint rows and
the per-consumer rows, a chunk of services at a time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from perfops.analysis import experience
from perfops.analysis.context import AnalysisContext
from perfops.analysis.experience import ServiceExperience, data_start
from perfops.analysis.experience import slo as slo
from perfops.analysis.experience.apdex import apdex_table
from perfops.analysis.experience.consumers import consumer_table
from perfops.analysis.experience.series import EXPERIENCE_METRICS, wide
from perfops.model.catalog import Service
from perfops.model.figures import (
    ApdexFigure,
    ConsumerFigure,
    ExperienceFigure,
    JourneyFigure,
    SloMonthFigure,
    SloWindowFigure,
)

MIN_BUCKET_SECONDS = 3600  # below this (an odd SLO window), the per-row path is cheaper
DETAIL_CHUNK = 20  # services whose period and consumer rows are read in one query
SLO_BUCKET_COLUMNS = ["service", "age", "month", "requests", "errors", "bad", "first", "last"]


def experience_figures(ctx: AnalysisContext, names: list[str]) -> dict[str, ExperienceFigure]:
    """The experience figures of `names`, by service."""
    return {item.service: _figure(item) for item in service_items(ctx, names)}


def service_items(ctx: AnalysisContext, names: list[str]) -> list[ServiceExperience]:
    """What experience.overview(ctx, names, detail=True) gives for `names`, from the sums and
    the rows the figures read (the same figures; tests/test_reports_batched_reads.py)."""
    brief = slo_items(ctx, names)
    out: list[ServiceExperience] = []
    for i in range(0, len(names), DETAIL_CHUNK):
        out += _detail_items(ctx, names[i : i + DETAIL_CHUNK], brief)
    return out


def journey_figures(ctx: AnalysisContext) -> list[JourneyFigure]:
    """Every catalog journey's end-to-end latency and availability."""
    found = experience.journey_overview(ctx, [s.name for s in ctx.catalog.services])
    return [JourneyFigure(name=j.name, steps=list(j.steps), services=list(j.services), latency_p95_ms=j.latency_p95_ms,
                          recent_latency_ms=_clean(j.recent_latency_ms), baseline_latency_ms=_clean(j.baseline_latency_ms),
                          recent_availability_pct=_clean(j.recent_availability_pct)) for j in found]


def _clean(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _figure(item: ServiceExperience) -> ExperienceFigure:
    return ExperienceFigure(
        service=item.service, squad=item.squad, tier=item.tier,
        slo=[SloWindowFigure(**{k: v for k, v in r.items() if k in SloWindowFigure.model_fields}) for r in item.slo],
        monthly=[SloMonthFigure(**r) for r in item.monthly],
        apdex=[ApdexFigure(**r) for r in item.apdex],
        consumers=[ConsumerFigure(**{k: v for k, v in r.items() if k in ConsumerFigure.model_fields})
                   for r in item.consumers])


# ---- SLO figures from sums ------------------------------------------------------------------
def slo_items(ctx: AnalysisContext, names: list[str]) -> dict[str, ServiceExperience]:
    """Per service of `names`: its overview item with the SLO figures only."""
    cat = ctx.catalog
    with_slo = [cat.service(n) for n in names if cat.service(n).slo is not None]
    bucket = _bucket_seconds(with_slo)
    items: dict[str, ServiceExperience] = {}
    if with_slo and bucket >= MIN_BUCKET_SECONDS:
        targets = {s.name: _target(s) for s in with_slo}
        if ctx.sums is not None:
            sums = ctx.sums.slo_buckets(targets, data_start(ctx), ctx.now, bucket)
        else:
            sums = frame_slo_buckets(ctx, targets, data_start(ctx), ctx.now, bucket)
        parts = {str(k): g for k, g in sums.groupby("service", sort=False)} if len(sums) else {}
        objective = float(experience.settings(ctx).latency_objective_pct)
        items = {s.name: service_item(s, parts[s.name], ctx.now, objective, bucket) for s in with_slo
                 if s.name in parts}
    composed = [n for n in names if n not in items]  # no SLO, no whole-service rows, or an odd window
    if composed:
        found, _ = experience.overview(lean_context(ctx, False), composed, detail=False)
        items.update({item.service: item for item in found})
    return items


def frame_slo_buckets(ctx: AnalysisContext, targets: dict[str, float], start: datetime, end: datetime,
                      bucket_seconds: int) -> pd.DataFrame:
    """The store's `slo_buckets` computed with pandas from the whole-service rows."""
    rows = ctx.telemetry_rows(list(targets), ["requests", "errors", "latency_p95_ms"], start, end,
                              endpoint="", consumers=False)
    if rows is None or rows.empty:
        return pd.DataFrame(columns=SLO_BUCKET_COLUMNS)
    rows = rows.assign(service=rows["service"].astype(str), metric=rows["metric"].astype(str))
    pivot = rows.pivot_table(index=["service", "timestamp"], columns="metric", values="value", aggfunc="sum")
    pivot = pivot.reindex(columns=["requests", "errors", "latency_p95_ms"]).reset_index()
    stamps = pd.to_datetime(pivot["timestamp"])
    age_us = (pd.Timestamp(end) - stamps) // pd.Timedelta(microseconds=1)
    bucket_us = int(bucket_seconds) * 1_000_000
    target = pivot["service"].map(targets).astype(float)
    requests = pivot["requests"].fillna(0.0)
    frame = pd.DataFrame({
        "service": pivot["service"].astype(str), "age": (age_us + bucket_us - 1) // bucket_us - 1,
        "month": stamps.dt.strftime("%Y-%m"), "requests": requests, "errors": pivot["errors"].fillna(0.0),
        "bad": requests.where(pivot["latency_p95_ms"] > target, 0.0), "first": stamps, "last": stamps,
    })
    sums = frame.groupby(["service", "age", "month"], sort=True)
    out = sums[["requests", "errors", "bad"]].sum().join(sums["first"].min()).join(sums["last"].max())
    return out.reset_index()[SLO_BUCKET_COLUMNS]


def _target(service: Service) -> float:
    value = service.slo.latency_p95_ms if service.slo is not None else None
    return float(value) if value is not None else math.nan


def _windows(service: Service) -> list[timedelta]:
    own = service.slo.window_delta if service.slo is not None else timedelta(days=28)
    return sorted({own, *slo.REPORT_WINDOWS})


def _bucket_seconds(services: list[Service]) -> int:
    """The largest bucket that divides every window (a day, for windows of whole days)."""
    seconds = {int(round(w.total_seconds())) for s in services for w in _windows(s)}
    bucket = 0
    for value in seconds:
        bucket = math.gcd(bucket, value)
    return bucket


def service_item(service: Service, part: pd.DataFrame, end: Any, objective: float, bucket: int) -> ServiceExperience:
    """The overview item of one service from its (age, month) sums."""
    item = ServiceExperience(service.name, service.squad, service.tier)
    own = service.slo.window_delta if service.slo is not None else None
    sums = _Sums.of(part)
    for window in _windows(service):
        inside = sums.within(int(round(window.total_seconds())) // bucket)
        item.slo += [c.as_dict() | {"own_window": window == own} for c in compliance(service, inside, end, window, objective)]
    item.monthly = monthly(service, part, objective)
    return item


@dataclass(frozen=True)
class _Sums:
    """A service's (age, month) sums as arrays (a window is a mask over them)."""

    age: np.ndarray
    requests: np.ndarray
    errors: np.ndarray
    bad: np.ndarray
    first: np.ndarray
    last: np.ndarray

    @classmethod
    def of(cls, part: pd.DataFrame) -> _Sums:
        return cls(part["age"].to_numpy(), part["requests"].to_numpy(np.float64), part["errors"].to_numpy(np.float64),
                   part["bad"].to_numpy(np.float64), part["first"].to_numpy("datetime64[us]"),
                   part["last"].to_numpy("datetime64[us]"))

    def within(self, buckets: int) -> _Sums:
        keep = self.age < buckets
        return _Sums(self.age[keep], self.requests[keep], self.errors[keep], self.bad[keep], self.first[keep],
                     self.last[keep])


def compliance(service: Service, inside: _Sums, end: Any, window: timedelta,
               objective: float) -> list[slo.Compliance]:
    """experience_slo.compliance from the sums of the window's buckets."""
    if service.slo is None:
        return []
    start = end - window
    covered = timedelta(0)
    if len(inside.age):
        covered = pd.Timedelta(inside.last.max() - inside.first.min()).to_pytimedelta() + timedelta(minutes=1)
    total = float(inside.requests.sum())
    out = []
    if service.slo.availability is not None:
        out.append(slo.Compliance(service.name, "availability", window, start, end, service.slo.availability,
                                  total, float(inside.errors.sum()), covered))
    if service.slo.latency_p95_ms is not None:
        out.append(slo.Compliance(service.name, "latency", window, start, end, objective, total,
                                  float(inside.bad.sum()), covered, service.slo.latency_p95_ms))
    return out


def monthly(service: Service, part: pd.DataFrame, objective: float) -> list[dict[str, object]]:
    """experience_slo.monthly from the sums per calendar month."""
    if service.slo is None or part.empty:
        return []
    rows = []
    for month, sums in part.groupby("month", sort=True)[["requests", "errors", "bad"]].sum().iterrows():
        req = float(sums["requests"])
        row: dict[str, object] = {"month": str(month), "requests": req}
        if service.slo.availability is not None and req:
            good = 100 * (1 - float(sums["errors"]) / req)
            row["availability_pct"] = round(float(good), 4)
            row["availability_met"] = bool(good >= service.slo.availability)
        if service.slo.latency_p95_ms is not None and req:
            good = 100 * (1 - float(sums["bad"]) / req)
            row["latency_pct"] = round(float(good), 4)
            row["latency_met"] = bool(good >= objective)
        rows.append(row)
    return rows


# ---- Apdex and consumers from the rows they read --------------------------------------------
@dataclass(frozen=True)
class LeanRows:
    """A telemetry loader over `ctx` that drops the rows the experience overview does not read:
    endpoint rows for all consumers before the period (detail) or every endpoint and
    per-consumer row (not detail). A service without whole-service rows is read whole."""

    ctx: AnalysisContext
    detail: bool

    def __call__(self, services: Sequence[str] | None, metrics: Sequence[str] | None, lo: datetime,
                 hi: datetime) -> pd.DataFrame:
        ctx = self.ctx
        if services is None:
            return ctx.telemetry(None, metrics, lo, hi)
        names = list(services)
        top = ctx.telemetry_rows(names, metrics, lo, hi, endpoint="", consumers=None if self.detail else False)
        have = set(top.loc[top["consumer"] == "", "service"].unique()) if len(top) else set()
        lean = [n for n in names if n in have]
        frames = [top[top["service"].isin(have)]] if lean else []
        if self.detail and lean:
            recent = ctx.telemetry_rows(lean, metrics, max(lo, ctx.period_start), hi, consumers=False)
            by_consumer = ctx.telemetry_rows(lean, metrics, lo, hi, consumers=True)
            frames += [_endpoints_only(recent), _endpoints_only(by_consumer)]
        full = [n for n in names if n not in have]
        if full:
            frames.append(ctx.telemetry(full, metrics, lo, hi))
        frames = [f for f in frames if f is not None and len(f)]
        if not frames:
            return top.iloc[0:0]
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def _endpoints_only(frame: pd.DataFrame) -> pd.DataFrame:
    if frame is None or frame.empty:
        return frame
    return frame[frame["endpoint"].to_numpy() != ""]


def lean_context(ctx: AnalysisContext, detail: bool) -> AnalysisContext:
    """`ctx` with the LeanRows loader and no journeys."""
    catalog = ctx.catalog.model_copy(update={"journeys": []}) if ctx.catalog.journeys else ctx.catalog
    return replace(ctx, catalog=catalog, load_telemetry=LeanRows(ctx, detail))


def _detail_items(ctx: AnalysisContext, names: list[str], brief: dict[str, ServiceExperience]) -> list[ServiceExperience]:
    tables = detail_tables(ctx, names)
    out = []
    for name in names:
        item = brief[name]
        apdex, consumers, has_rows = tables[name]
        if item.slo or has_rows:  # the overview leaves a service without any row blank
            item = replace(item, apdex=apdex, consumers=consumers)
        out.append(item)
    return out


DetailTables = tuple[list[dict[str, Any]], list[dict[str, Any]], bool]  # apdex, consumers, whether it has rows


def detail_tables(ctx: AnalysisContext, names: list[str]) -> dict[str, DetailTables]:
    """Per service of `names` (a DETAIL_CHUNK of them, read in one query): its Apdex and
    consumers tables, and whether it has rows. Kept in `ctx.memo`, so worker processes can
    prepare them beside the findings (perfops.analysis.processes) for the figures."""
    key = ("experience-detail", tuple(names), ctx.now, ctx.period, ctx.history)
    found = ctx.memo.get(key)
    if found is not None:
        return found
    metrics = list(EXPERIENCE_METRICS)
    recent = ctx.telemetry_rows(names, metrics, ctx.period_start, ctx.now)
    before = ctx.telemetry_rows(names, metrics, data_start(ctx), ctx.period_start, consumers=True)
    frames = [f for f in (recent, before) if f is not None and len(f)]
    data = wide(pd.concat(frames, ignore_index=True)) if frames else wide(pd.DataFrame())
    parts = ({str(k): g.reset_index(drop=True) for k, g in data.groupby("service", sort=False, observed=True)}
             if len(data) else {})
    tables: dict[str, DetailTables] = {}
    for name in names:
        part = parts.get(name)
        mine = part if part is not None else data.iloc[0:0]
        service = ctx.catalog.service(name)
        tables[name] = (apdex_table(mine[mine["timestamp"] >= ctx.period_start], name, service.apdex_threshold_ms),
                        consumer_table(mine, name, ctx.period_start, ctx.now), part is not None)
    ctx.memo[key] = tables
    return tables


def prepare_detail_tables(ctx: AnalysisContext, names: list[str]) -> None:
    """`detail_tables` of `names` into the memo, in the chunks `service_items` reads them in."""
    for i in range(0, len(names), DETAIL_CHUNK):
        detail_tables(ctx, names[i : i + DETAIL_CHUNK])
