"""Spend and unit cost per service: daily spend, cost per 1,000 requests, CPU per request.

Spend comes from `cost` telemetry, else instances x `cost.instance_hourly` (instances from
telemetry, else the catalog). Days are 24-hour blocks ending at `now`. Cost per 1,000 requests of
a window is the median of its daily values (one anomalous day does not move it).

Cost telemetry is read at the step it arrives in, not at the traffic's: billing exports give one
row an hour or a day next to 5-minute traffic. A day's spend is the plain sum of the cost rows in
its block (so the week's spend is the sum of the billing rows), and how much of the block those
rows cover is measured with the cost series' own step (24 hourly rows or one daily row cover a
whole day). Days under 80% covered keep their sum but are not judged (anomalies, unit cost,
run-rate); the service's `notes` say how many. Hourly detail exists only for series of an hour
or finer. Unit cost divides a day's spend by the same day's requests: both summed to the day.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from perfops.analysis.capacity.model import Chunk
from perfops.analysis.context import AnalysisContext
from perfops.analysis.grid import service_rows, to_dt64, to_matrix
from perfops.analysis.steps import median_gap

DAYS_PER_MONTH = 30.44
HOURS_PER_MONTH = 730.0
MIN_COVERAGE = 0.8  # a day whose rows cover less is summed but not judged


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
    daily_coverage: np.ndarray | None = None  # share of each block the cost rows cover (None: all)
    cost_step_seconds: float | None = None  # the cost series' own step (telemetry source)
    notes: tuple[str, ...] = ()  # cost data left unjudged, and why

    @property
    def judged_spend(self) -> np.ndarray:
        """Daily spend of the days whose cost rows cover at least 80% of the day (NaN otherwise)."""
        if self.daily_coverage is None:
            return self.daily_spend
        return np.where(self.daily_coverage >= MIN_COVERAGE, self.daily_spend, np.nan)

    @property
    def history(self) -> slice:
        return slice(0, len(self.daily_spend) - self.period_days)

    @property
    def period(self) -> slice:
        return slice(len(self.daily_spend) - self.period_days, len(self.daily_spend))

    def unit_cost(self, window: slice) -> float | None:
        """Median daily cost per 1,000 requests over the window."""
        with np.errstate(invalid="ignore", divide="ignore"):
            daily = self.judged_spend[window] / (self.daily_requests[window] / 1000.0)
        return _median(daily)

    def monthly_spend(self) -> float | None:
        """Run-rate of the period: its median (fully covered) day x 30.44."""
        med = _median(self.judged_spend[self.period])
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
        daily_requests = _daily(requests, first, n_days, per_day)
        spent = _own_step_spend(spend, data.instances[i], g.step_seconds, first, n_days, per_day) \
            if source == "telemetry" else None
        out.append(ServiceCost(
            service=name, squad=svc.squad, tier=svc.tier, source=source, day_starts=day_starts,
            daily_spend=spent.daily if spent else _daily(spend, first, n_days, per_day),
            daily_requests=daily_requests,
            hourly_spend=spent.hourly if spent else _hourly(spend, first, n_days, per_day),
            daily_cpu_per_1k=_per_1k(_daily(work, first, n_days, per_day), daily_requests),
            period_days=period_days, instance_hourly=hourly if hourly is not None or spent is None else spent.price,
            instances=inst, daily_coverage=spent.coverage if spent else None,
            cost_step_seconds=spent.step_seconds if spent else None, notes=spent.notes if spent else (),
        ))
    return out


@dataclass(frozen=True)
class OwnStepSpend:
    """Cost telemetry summed per day block at the series' own step."""

    daily: np.ndarray  # plain sums, NaN for a block without any cost row
    coverage: np.ndarray  # rows x own step / 24 h, at most 1
    hourly: np.ndarray | None  # per hour, only for series of an hour or finer
    step_seconds: float
    price: float | None  # spend per instance-hour, from the days both are known
    notes: tuple[str, ...]


def own_step_seconds(values: np.ndarray, grid_step_s: float) -> float:
    """The usual spacing of a series' reported cells (median gap), at least the grid's step; a
    single point counts as a daily row (billing's coarsest usual step)."""
    cells = median_gap(np.flatnonzero(np.isfinite(values)))
    return max(grid_step_s, 86400.0 if cells is None else cells * grid_step_s)


def _own_step_spend(cost: np.ndarray, instances: np.ndarray, step_s: float, first: int, n_days: int,
                    per_day: int) -> OwnStepSpend:
    own = own_step_seconds(cost, step_s)
    if n_days == 0:
        return OwnStepSpend(np.zeros(0), np.zeros(0), None, own, None, ())
    blocks = cost[first:].reshape(n_days, per_day)
    seen = np.isfinite(blocks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        daily = np.where(seen.any(axis=1), np.nansum(blocks, axis=1), np.nan)
    coverage = np.minimum(seen.sum(axis=1) * own / 86400.0, 1.0)
    coarser_than_a_day = own > 86400.0 * 1.5  # a row holds several days: no day can be judged alone
    if coarser_than_a_day:
        coverage = np.zeros_like(coverage)
    hourly = _hourly(cost, first, n_days, per_day) if own <= 3600 else None
    inst_hours = _daily(instances * step_s / 3600.0, first, n_days, per_day)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_inst_hour = np.where((coverage >= MIN_COVERAGE) & (inst_hours > 0), daily / inst_hours, np.nan)
    notes = []
    reported = seen.any(axis=1)
    trailing = int(np.argmax(reported[::-1])) if reported.any() else 0
    if trailing and trailing * 86400.0 >= own:  # more than one of the series' own steps is missing
        notes.append(f"the last {trailing} day(s) have no cost rows (billing exports lag a day or two): "
                     "their spend is unknown, not zero")
    partial = int(np.sum(reported & (coverage < MIN_COVERAGE)))
    if coarser_than_a_day:
        notes.append(f"cost rows arrive every {own / 86400:.0f} days: counted in spend, not judged per day "
                     "(ingest daily values; the FOCUS and OpenCost readers spread longer charge periods per day)")
    elif partial:
        notes.append(f"{partial} day(s) of cost rows cover under {MIN_COVERAGE:.0%} of the day (at the series' "
                     f"{_step_words(own)} step): counted in spend, not judged for anomalies or unit cost")
    return OwnStepSpend(daily, coverage, hourly, own, _median(per_inst_hour), tuple(notes))


def _step_words(seconds: float) -> str:
    if seconds >= 86400 and seconds % 86400 == 0:
        return "daily" if seconds == 86400 else f"{seconds / 86400:g}-day"
    if seconds >= 3600 and seconds % 3600 == 0:
        return "hourly" if seconds == 3600 else f"{seconds / 3600:g}-hour"
    return f"{seconds / 60:g}-minute"


def _spend_series(svc, cost: np.ndarray, instances: np.ndarray, step_s: float) -> tuple[
    np.ndarray, str | None, float | None, float | None
]:
    """(spend per step, source, cost of one instance-hour, current instances)."""
    catalog_hourly = svc.cost.instance_hourly if svc.cost else None
    inst_known = np.isfinite(instances)
    inst_now = _median(instances[-max(1, int(86400 / step_s)):]) if inst_known.any() else None
    if inst_now is None and svc.capacity and svc.capacity.instances:
        inst_now = float(svc.capacity.instances)
    if np.isfinite(cost).any():  # the price per instance-hour is derived per day (_own_step_spend)
        return cost, "telemetry", catalog_hourly, inst_now
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
