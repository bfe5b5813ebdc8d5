"""The picture of a scope (domain, squad or service) every overview starts from: week-over-week
figures per service and a status with reasons, per service and per squad. Built once per report
from the view's rollup loader and findings; pure apart from calling that loader."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from perfops.model import health
from perfops.model.catalog import Catalog
from perfops.model.figures import InventoryFigure, RollupFigure
from perfops.model.findings import Finding
from perfops.model.health import Kpis, Status
from perfops.reports.section import ReportView

TREND_WEEKS = health.TREND_WEEKS


@dataclass(frozen=True)
class Picture:
    services: list[str]
    kpis: dict[str, Kpis]
    status: dict[str, Status]  # per service
    squad_status: dict[str, Status]
    active_by_service: dict[str, list[Finding]]

    def subset(self, names: list[str], catalog: Catalog) -> Picture:
        if len(names) == len(self.services):
            return self
        wanted = set(names)
        squads = {catalog.service_by_name[n].squad for n in names}
        return Picture(
            services=[n for n in self.services if n in wanted],
            kpis={n: k for n, k in self.kpis.items() if n in wanted},
            status={n: s for n, s in self.status.items() if n in wanted},
            squad_status={q: s for q, s in self.squad_status.items() if q in squads},
            active_by_service={n: f for n, f in self.active_by_service.items() if n in wanted},
        )

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(health.LEVELS, 0)
        for s in self.status.values():
            out[s.level] += 1
        return out


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def hourly_rollup(view: ReportView, services: list[str] | None) -> pd.DataFrame:
    hourly, _ = health.rollup_windows(view.now)
    return view.rollup(services, list(hourly.metrics), hourly.start, hourly.end, hourly.bucket_seconds)


def daily_rollup(view: ReportView, services: list[str] | None, weeks: int = TREND_WEEKS) -> pd.DataFrame:
    end = hour_floor(view.now)
    return view.rollup(services, list(health.DAILY_METRICS), end - timedelta(days=7 * weeks), end, health.DAY)


def stored_inventory(figures: dict[str, InventoryFigure]) -> pd.DataFrame:
    """The telemetry inventory `analyze` stored, as the store's inventory frame."""
    columns = ["service", "endpoint", "metric", "rows", "first", "last"]
    rows = [(f.service, r.endpoint, r.metric, r.rows, r.first, r.last) for f in figures.values() for r in f.series]
    return pd.DataFrame(rows, columns=columns)


def stored_rollups(figures: Sequence[RollupFigure]) -> dict[tuple[Any, ...], pd.DataFrame]:
    """The domain-wide rollups `analyze` stored (RollupFigure, one per service and window) as the
    frames the rollup loader answers, keyed like its memo: (None, metrics, start, end, bucket)."""
    parts: dict[tuple[Any, ...], list[tuple[np.ndarray, str, str, np.ndarray]]] = defaultdict(list)
    for f in figures:
        key = (None, tuple(f.metrics), f.start, f.end, f.bucket_seconds)
        parts.setdefault(key, [])
        for metric, values in f.values.items():
            array = np.array([np.nan if v is None else v for v in values], dtype=float)
            slots = np.flatnonzero(~np.isnan(array))
            # numpy's stubs type datetime64(datetime, unit) only for "ns" and finer; the runtime takes any unit
            start = np.datetime64(f.start, "us")  # type: ignore[call-overload]
            buckets = start + slots * np.timedelta64(f.bucket_seconds, "s")
            parts[key].append((buckets, f.service, metric, array[slots]))
    return {key: _frame(chunks) for key, chunks in parts.items()}


def _frame(chunks: list[tuple[np.ndarray, str, str, np.ndarray]]) -> pd.DataFrame:
    if not chunks:
        return pd.DataFrame(columns=["bucket", "service", "metric", "value"])
    sizes = [len(c[0]) for c in chunks]
    return pd.DataFrame({
        "bucket": np.concatenate([c[0] for c in chunks]).astype("datetime64[us]"),
        "service": np.repeat(np.array([c[1] for c in chunks], dtype=object), sizes),
        "metric": np.repeat(np.array([c[2] for c in chunks], dtype=object), sizes),
        "value": np.concatenate([c[3] for c in chunks]),
    })


def build_picture(view: ReportView, services: list[str] | None = None) -> Picture:
    """Statuses and week-over-week figures. Computed once per run for the whole domain (kept in
    view.cache, which the views of one run share) and sliced for a squad or a service."""
    names = services if services is not None else view.services_in_scope
    domain = view.cache.get("picture")
    if domain is None:
        domain = _build(view, [s.name for s in view.ctx.catalog.services], view.finding_index.values()
                        if view.finding_index else view.findings)
        view.cache["picture"] = domain
    return domain.subset(names, view.ctx.catalog)


def _build(view: ReportView, names: list[str], findings: Iterable[Finding]) -> Picture:
    catalog = view.ctx.catalog
    kpis = health.weekly_kpis(hourly_rollup(view, None), names, view.now)
    active: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.status != "resolved":
            active[f.service].append(f)
    status = {name: health.service_status(name, active.get(name, []), kpis.get(name), catalog, view.now)
              for name in names}
    squads: dict[str, list[tuple[str, Status]]] = defaultdict(list)
    for name in names:
        squads[catalog.service_by_name[name].squad].append((name, status[name]))
    squad_status = {sq: health.worst(items) for sq, items in squads.items()}
    return Picture(services=names, kpis=kpis, status=status, squad_status=squad_status,
                   active_by_service=dict(active))


def weekly_domain_rows(view: ReportView, daily: pd.DataFrame, weeks: int = TREND_WEEKS) -> list[health.WeekTotals]:
    """Weekly domain totals, oldest first; weeks before the data began are dropped."""
    rows = health.weekly_domain(daily, view.ctx.catalog, hour_floor(view.now), weeks)
    while len(rows) > 1 and not (rows[0].requests > 0):
        rows.pop(0)
    return rows
