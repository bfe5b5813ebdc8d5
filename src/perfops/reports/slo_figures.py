"""The executive report's SLO figures from sums the store computes, not from rows.

The executive summary shows, per service with an SLO, the compliance over its own window and over
7, 28 and 30 days, and month by month (perfops.analysis.experience_slo: availability = 1 - errors
/ requests; latency = the share of requests served in intervals whose p95 met the target). Every
one of those figures is a sum over the whole-service rows of a time range: the store sums the rows
per service, per bucket of age (counted back from `now`, the bucket dividing every window) and
per calendar month (perfops.store.report_queries `slo_buckets`), and the figures are added up
here — one statement for the domain instead of reading ~12,000 rows per series and service.
A service without whole-service rows (its figures are composed from its endpoints) goes through
perfops.analysis.experience.overview as before. Same figures: the sums are of counts, exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from perfops.analysis import experience
from perfops.analysis import experience_slo as slo
from perfops.analysis.experience import ServiceExperience
from perfops.model.catalog import Service
from perfops.reports.aggregates import FrameAggregates
from perfops.reports.experience_data import lean_context
from perfops.reports.section import ReportView

MIN_BUCKET_SECONDS = 3600  # below this (an odd SLO window), the per-row path is cheaper


def brief_overview(view: ReportView) -> list[ServiceExperience]:
    """experience.overview(ctx, services, detail=False)'s items for the view's services."""
    items = slo_items(view, view.services_in_scope)
    return [items[n] for n in view.services_in_scope]


def slo_items(view: ReportView, names: list[str]) -> dict[str, ServiceExperience]:
    """Per service of `names`: its overview item with the SLO figures only."""
    ctx, cat = view.ctx, view.ctx.catalog
    with_slo = [cat.service(n) for n in names if cat.service(n).slo is not None]
    bucket = _bucket_seconds(with_slo)
    items: dict[str, ServiceExperience] = {}
    if with_slo and bucket >= MIN_BUCKET_SECONDS:
        targets = {s.name: _target(s) for s in with_slo}
        source = view.aggregates if view.aggregates is not None else FrameAggregates(ctx)
        sums = source.slo_buckets(targets, experience.data_start(ctx), ctx.now, bucket)
        parts = {str(k): g for k, g in sums.groupby("service", sort=False)} if len(sums) else {}
        objective = float(experience.settings(ctx)["latency_objective_pct"])
        items = {s.name: service_item(s, parts[s.name], ctx.now, objective, bucket) for s in with_slo
                 if s.name in parts}
    composed = [n for n in names if n not in items]  # no SLO, no whole-service rows, or an odd window
    if composed:
        found, _ = experience.overview(lean_context(view, False), composed, detail=False, cache=view.cache)
        items.update({item.service: item for item in found})
    return items


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
