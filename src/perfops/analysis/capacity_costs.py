"""Spend and unit cost per service: daily spend, cost per 1,000 requests, CPU per request.

Spend comes from `cost` telemetry, else instances x `cost.instance_hourly` (instances from
telemetry, else the catalog). Days are 24-hour blocks ending at `now`. Cost per 1,000 requests of
a window is the median of its daily values (one anomalous day does not move it).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from perfops.analysis.capacity_model import Chunk
from perfops.analysis.capacity_series import service_rows, to_dt64, to_matrix
from perfops.analysis.context import AnalysisContext

DAYS_PER_MONTH = 30.44
HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class ServiceCost:
    service: str
    squad: str
    tier: int
    source: str | None  # 'telemetry' | 'instances' | 'catalog' | None (no cost known)
    day_starts: list[datetime]  # start of each 24-hour block, oldest first
    daily_spend: np.ndarray
    hourly_spend: np.ndarray | None  # per hour of the same blocks (None when steps exceed an hour)
    daily_requests: np.ndarray
    daily_cpu_per_1k: np.ndarray  # CPU %-instance-hours per 1,000 requests (work per request)
    period_days: int  # the last `period_days` blocks are the reporting period
    instance_hourly: float | None  # what one instance costs per hour (catalog, else derived)
    instances: float | None

    @property
    def history(self) -> slice:
        return slice(0, len(self.daily_spend) - self.period_days)

    @property
    def period(self) -> slice:
        return slice(len(self.daily_spend) - self.period_days, len(self.daily_spend))

    def unit_cost(self, window: slice) -> float | None:
        """Median daily cost per 1,000 requests over the window."""
        with np.errstate(invalid="ignore", divide="ignore"):
            daily = self.daily_spend[window] / (self.daily_requests[window] / 1000.0)
        return _median(daily)

    def monthly_spend(self) -> float | None:
        """Run-rate of the period: its median day x 30.44."""
        med = _median(self.daily_spend[self.period])
        return None if med is None else med * DAYS_PER_MONTH

    def monthly_requests(self) -> float | None:
        med = _median(self.daily_requests[self.period])
        return None if med is None else med * DAYS_PER_MONTH


def _median(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else None


def load_costs(ctx: AnalysisContext, data: Chunk) -> list[ServiceCost]:
    """Daily spend and requests of the services of a loaded capacity chunk."""
    g = data.grid
    if data.cost is not None:
        cost_tm = data.cost
    else:
        cost_tm = to_matrix(service_rows(ctx.telemetry(services=data.services, metrics=["cost"])), "cost", data.services, g)
    per_day = int(round(86400 / g.step_seconds))
    n_days = g.length // per_day
    period_days = max(1, min(n_days, int(round(ctx.period / timedelta(days=1)))))
    first = g.length - n_days * per_day
    end = to_dt64(ctx.now)
    day_starts = [(end - np.timedelta64(86400 * (n_days - k), "s")).astype(datetime) for k in range(n_days)]
    out = []
    for i, name in enumerate(data.services):
        svc = ctx.catalog.service(name)
        spend, source, hourly, inst = _spend_series(svc, cost_tm[i], data.instances[i], g.step_seconds)
        requests = data.tps[i] * g.step_seconds
        work = data.cpu[i] * np.where(np.isfinite(data.instances[i]), data.instances[i], inst or np.nan)
        work = work * g.step_seconds / 3600.0
        out.append(ServiceCost(
            service=name, squad=svc.squad, tier=svc.tier, source=source, day_starts=day_starts,
            daily_spend=_daily(spend, first, n_days, per_day), daily_requests=_daily(requests, first, n_days, per_day),
            hourly_spend=_hourly(spend, first, n_days, per_day),
            daily_cpu_per_1k=_per_1k(_daily(work, first, n_days, per_day), _daily(requests, first, n_days, per_day)),
            period_days=period_days, instance_hourly=hourly, instances=inst,
        ))
    return out


def _spend_series(svc, cost: np.ndarray, instances: np.ndarray, step_s: float) -> tuple[
    np.ndarray, str | None, float | None, float | None
]:
    """(spend per step, source, cost of one instance-hour, current instances)."""
    catalog_hourly = svc.cost.instance_hourly if svc.cost else None
    inst_known = np.isfinite(instances)
    inst_now = _median(instances[-max(1, int(86400 / step_s)):]) if inst_known.any() else None
    if inst_now is None and svc.capacity and svc.capacity.instances:
        inst_now = float(svc.capacity.instances)
    if np.isfinite(cost).any():
        hourly = catalog_hourly
        if hourly is None and inst_known.any():
            with np.errstate(invalid="ignore", divide="ignore"):
                per_inst = cost / (instances * step_s / 3600.0)
            hourly = _median(per_inst[np.isfinite(per_inst)])
        return cost, "telemetry", hourly, inst_now
    if catalog_hourly is None:
        return np.full_like(cost, np.nan), None, None, inst_now
    if inst_known.any():
        return instances * catalog_hourly * step_s / 3600.0, "instances", catalog_hourly, inst_now
    if inst_now is not None:
        return np.full_like(cost, inst_now * catalog_hourly * step_s / 3600.0), "catalog", catalog_hourly, inst_now
    return np.full_like(cost, np.nan), None, catalog_hourly, None


def _daily(values: np.ndarray, first: int, n_days: int, per_day: int) -> np.ndarray:
    """Sum of 24-hour blocks ending at the grid's end; NaN for a block under 80% reported."""
    if n_days == 0:
        return np.zeros(0)
    blocks = values[first:].reshape(n_days, per_day)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        total = np.nansum(blocks, axis=1) / np.maximum(np.isfinite(blocks).mean(axis=1), 1e-9)
    return np.where(np.isfinite(blocks).mean(axis=1) >= 0.8, total, np.nan)


def _hourly(values: np.ndarray, first: int, n_days: int, per_day: int) -> np.ndarray | None:
    """Sum per hour of the day blocks; NaN for an hour without data."""
    if per_day % 24 or n_days == 0:
        return None
    blocks = values[first:].reshape(n_days * 24, per_day // 24)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        total = np.nansum(blocks, axis=1)
    return np.where(np.isfinite(blocks).any(axis=1), total, np.nan)


def _per_1k(work: np.ndarray, requests: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(requests > 0, work / (requests / 1000.0), np.nan)


def fmt_money(value: float | None, currency: str = "USD") -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    symbol = {"USD": "$", "EUR": "€", "GBP": "£", "AUD": "A$"}.get(currency, currency + " ")
    return f"{symbol}{value:,.0f}" if abs(value) >= 100 else f"{symbol}{value:,.2f}"
