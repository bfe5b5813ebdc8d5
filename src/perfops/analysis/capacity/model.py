"""The capacity model of each service: provisioned capacity, peak utilisation, headroom, the
forecast of its weekly peak, and the instances its peak and forecast need.

Definitions (docs/methods/capacity_cost.md):

* capacity (requests/s) = instances x `max_tps_per_instance`; instances from the `instances`
  telemetry (median of the last day), else the catalog's `capacity.instances`;
* peak = the 99th percentile of 5-minute values over the last 7 days (not the mean): requests/s
  for traffic, % for CPU and memory;
* utilisation of throughput = peak / capacity; every utilisation is compared to `cpu_target_pct`;
* forecast: hourly means of traffic and CPU are forecast (perfops.analysis.forecast) over the
  horizon; the daily peak forecast is the daily maximum of the hourly forecast times the observed
  ratio of the 5-minute p99 to the largest hourly mean of the last week ("peak factor");
* instances needed = ceil(instances x max(peak utilisation / target) x growth x (1 + margin)),
  growth = the forecast peak over the horizon / today's peak, at least 1.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, timedelta
from typing import Any

import numpy as np
import pandas as pd

from perfops.analysis.capacity.series import nan_mean, nan_quantile, resample_sum
from perfops.analysis.context import AnalysisContext, area_params
from perfops.analysis.forecast import ForecastConfig, forecast, hourly_means
from perfops.analysis.grid import ServiceGrid, service_grid, service_rows, service_step, to_dt64, to_matrices
from perfops.model.catalog import Service

METRICS = ("requests", "cpu_pct", "memory_pct", "instances")
PEAK_WINDOW = timedelta(days=7)
PEAK_STEP_S = 300.0
WEEK_HOURS = 168


@dataclass(frozen=True)
class CapacityParams:
    horizon_days: int = 90
    chunk_size: int = 100
    safety_margin: float = 0.10  # head-room kept on top of peak x growth when sizing
    over_ratio: float = 0.5  # peak utilisation under this fraction of the target = over-provisioned
    min_instances: int = 2  # never recommend fewer (redundancy)
    peak_quantile: float = 0.99
    min_history_days: float = 3.0  # less history than this: no forecast


@dataclass(frozen=True)
class Saturation:
    metric: str  # 'traffic' (peak requests/s vs capacity) or 'cpu' (peak CPU vs the target)
    limit: float
    days: float  # point forecast crosses the limit after this many days
    days_early: float  # the upper bound of the interval crosses it
    days_late: float | None  # the lower bound crosses it (None: not within the horizon)


@dataclass(frozen=True)
class ServiceCapacity:
    service: str
    squad: str
    tier: int
    cpu_target: float
    instances: float | None = None
    instances_source: str | None = None  # 'telemetry' | 'catalog'
    max_tps_per_instance: float | None = None
    peak_tps: float | None = None
    mean_tps: float | None = None
    peak_cpu: float | None = None
    mean_cpu: float | None = None
    peak_memory: float | None = None
    period_peak_util: float | None = None  # highest peak utilisation (%) seen on any day of the period
    growth: float = 1.0
    forecast_peak_tps: float | None = None  # highest daily peak forecast over the horizon (point)
    saturation: Saturation | None = None
    series: dict[str, Any] = field(default_factory=dict)  # chart data when asked for

    @property
    def capacity_tps(self) -> float | None:
        if self.instances is None or not self.max_tps_per_instance:
            return None
        return self.instances * self.max_tps_per_instance

    @property
    def tps_util(self) -> float | None:
        cap = self.capacity_tps
        return None if cap is None or cap <= 0 or self.peak_tps is None else 100.0 * self.peak_tps / cap

    @property
    def peak_util(self) -> float | None:
        """The binding utilisation now (%): the larger of peak CPU and peak throughput."""
        values = [v for v in (self.peak_cpu, self.tps_util) if v is not None and math.isfinite(v)]
        return max(values) if values else None

    @property
    def headroom_pct(self) -> float | None:
        util = self.tps_util
        return None if util is None else 100.0 - util

    def needed_instances(self, growth: float = 1.0, margin: float = 0.0) -> int | None:
        """Instances that keep the peak (x growth x (1 + margin)) at or under the target."""
        util = self.peak_util
        if util is None or self.instances is None:
            return None
        raw = self.instances * (util / self.cpu_target) * growth * (1.0 + margin)
        return max(1, math.ceil(raw - 1e-9))


def assess(ctx: AnalysisContext, services: Sequence[str] | None = None, *, keep_series: bool = False) -> list[
    ServiceCapacity
]:
    """The capacity model of every service (default: the catalog's), in chunks."""
    params = area_params(ctx, "capacity", CapacityParams)
    names = list(services) if services is not None else [s.name for s in ctx.catalog.services]
    out: list[ServiceCapacity] = []
    for chunk in _chunks(names, params.chunk_size):
        out.extend(_assess_chunk(ctx, chunk, params, keep_series))
    return out


def _chunks(names: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(names), max(size, 1)):
        yield names[i : i + size]


@dataclass(frozen=True)
class Chunk:
    services: list[str]
    grid: ServiceGrid
    tps: np.ndarray  # requests/s per grid step
    cpu: np.ndarray
    memory: np.ndarray
    instances: np.ndarray
    cost: np.ndarray | None = None  # spend per grid step (None: not read; see capacity_costs.load_costs)


def load_chunk(ctx: AnalysisContext, services: list[str]) -> Chunk:
    """The capacity matrices of some services (and their spend, for the cost analysis)."""
    metrics = [*METRICS, "cost"]
    frame = load_service_rows(ctx, services, metrics)
    grid = service_grid(ctx.history_start, ctx.now, _capacity_step(frame))
    m = to_matrices(frame, metrics, services, grid)
    return Chunk(services, grid, m["requests"] / grid.step_seconds, m["cpu_pct"], m["memory_pct"], m["instances"],
                 m["cost"])


def _capacity_step(frame: pd.DataFrame) -> timedelta:
    """The grid step, from the capacity metrics' rows only (spend may come at another step)."""
    if frame.empty:
        return service_step(frame)
    rows = np.flatnonzero(frame["metric"].to_numpy() != "cost")
    return service_step(frame.iloc[rows[:200_000]])


SERIES_ORDER = ["service", "endpoint", "consumer", "metric", "timestamp"]


def load_service_rows(ctx: AnalysisContext, services: list[str], metrics: list[str]) -> pd.DataFrame:
    """`service_rows(ctx.telemetry(services, metrics))`, read mostly at the source: the
    whole-service rows (endpoint '' and consumer ''), and only for a (service, metric) that has
    none, all its rows, reduced by `service_rows`. Same rows in the same order; a domain whose
    services report themselves reads one series per metric instead of one per endpoint."""
    whole = ctx.telemetry_rows(services, metrics, endpoint="", consumers=False)
    missing = _missing_pairs(whole, services, metrics)
    if not missing:
        return whole
    names = sorted({s for s, _ in missing})
    rest = ctx.telemetry(services=names, metrics=sorted({m for _, m in missing}))
    if rest is None or rest.empty:
        return whole
    pair = pd.MultiIndex.from_arrays([rest["service"].astype(str), rest["metric"].astype(str)])
    rest = service_rows(rest[pair.isin(list(missing))].reset_index(drop=True))
    if whole is None or whole.empty:
        return rest.reset_index(drop=True)
    both = pd.concat([whole, rest], ignore_index=True)
    return both.sort_values(SERIES_ORDER, kind="stable", ignore_index=True)


def _missing_pairs(frame: pd.DataFrame, services: list[str], metrics: list[str]) -> set[tuple[str, str]]:
    """(service, metric) pairs of the request without any row in `frame`."""
    wanted = {(s, m) for s in services for m in metrics}
    if frame is None or frame.empty:
        return wanted
    s_codes, s_names = pd.factorize(frame["service"])
    m_codes, m_names = pd.factorize(frame["metric"])
    present = np.unique(s_codes.astype(np.int64) * len(m_names) + m_codes)
    seen = {(str(s_names[k // len(m_names)]), str(m_names[k % len(m_names)])) for k in present.tolist()}
    return wanted - seen


def weekly_volumes(ctx: AnalysisContext, data: Chunk, weeks: int | None = None) -> np.ndarray:
    """Requests per 7-day block ending at `now`, oldest first: (services, weeks); NaN for a
    block with less than 80% of its steps reported."""
    g = data.grid
    per_week = int(round(7 * 86400 / g.step_seconds))
    count = weeks or g.length // per_week
    if count == 0:
        return np.zeros((len(data.services), 0))
    span = data.tps[:, g.length - count * per_week:].reshape(len(data.services), count, per_week)
    with np.errstate(invalid="ignore"):
        total = np.nansum(span, axis=2) * g.step_seconds
    coverage = np.isfinite(span).mean(axis=2)
    return np.where(coverage >= 0.8, total, np.nan)


VOLUME_MIN_CHANGE = 0.15  # a week-over-week change below this is never news
VOLUME_NORM_SIGMAS = 3.0


def volume_norm(volumes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per service: the last week-over-week volume change, the norm of the earlier changes
    (their median) and the tolerance around it (max(15%, 3 x 1.4826 x MAD): Hampel's rule)."""
    n = volumes.shape[0]
    if volumes.shape[1] < 2:
        return np.full(n, np.nan), np.zeros(n), np.full(n, VOLUME_MIN_CHANGE)
    with np.errstate(invalid="ignore", divide="ignore"):
        changes = volumes[:, 1:] / volumes[:, :-1] - 1.0
    prior = changes[:, :-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        norm = np.nan_to_num(np.nanmedian(prior, axis=1)) if prior.shape[1] else np.zeros(n)
        mad = np.nanmedian(np.abs(prior - norm[:, None]), axis=1) if prior.shape[1] else np.zeros(n)
    spread = np.where(np.isfinite(prior).sum(axis=1) >= 2, 1.4826 * np.nan_to_num(mad), 0.0)
    return changes[:, -1], norm, np.maximum(VOLUME_MIN_CHANGE, VOLUME_NORM_SIGMAS * spread)


def growth_is_steady(volumes: np.ndarray, weeks: int = 4, min_change: float = 0.005) -> np.ndarray:
    """Per service: may the forecast extrapolate a trend? Not when the last week's volume
    jumped off its norm (a launch: flat, flat, flat, +40% is a new level, not growth), and only
    when at least all but one of the last `weeks` week-over-week changes go the same way by more
    than `min_change` (or there are fewer than three changes to judge by)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        changes = (volumes[:, 1:] / volumes[:, :-1] - 1.0)[:, -weeks:]
    known = np.isfinite(changes).sum(axis=1)
    ups = (changes > min_change).sum(axis=1)
    downs = (changes < -min_change).sum(axis=1)
    last, norm, band = volume_norm(volumes)
    step = np.isfinite(last) & (np.abs(last - norm) > band)
    return ~step & ((known < 3) | (ups >= known - 1) | (downs >= known - 1))


def _peak(matrix: np.ndarray, grid: ServiceGrid, q: float) -> np.ndarray:
    """p-quantile of 5-minute values (rates are averaged over 5 minutes first)."""
    factor = max(1, round(PEAK_STEP_S / grid.step_seconds))
    if factor > 1:
        summed = resample_sum(matrix, factor)
        counts = resample_sum(np.isfinite(matrix).astype(float), factor)
        with np.errstate(invalid="ignore", divide="ignore"):
            matrix = summed / counts
    return nan_quantile(matrix, q)


def _assess_chunk(ctx: AnalysisContext, services: list[str], params: CapacityParams, keep: bool) -> list[
    ServiceCapacity
]:
    return assess_loaded(ctx, load_chunk(ctx, services), params, keep)


def assess_loaded(ctx: AnalysisContext, data: Chunk, params: CapacityParams, keep: bool = False) -> list[
    ServiceCapacity
]:
    """The capacity model of the services of one loaded chunk."""
    services = data.services
    g = data.grid
    week = slice(g.index_of(ctx.now - PEAK_WINDOW), g.length)
    period = slice(g.index_of(ctx.period_start), g.length)
    peak_tps = _peak(data.tps[:, week], g, params.peak_quantile)
    peak_cpu = _peak(data.cpu[:, week], g, params.peak_quantile)
    peak_mem = _peak(data.memory[:, week], g, params.peak_quantile)
    inst_now = nan_quantile(data.instances[:, max(0, g.length - int(86400 / g.step_seconds)):], 0.5)
    fc = _forecast_chunk(ctx, data, params, peak_tps, peak_cpu, keep)
    daily_util = _daily_peak_util(data, g, period, params)
    states = []
    for i, name in enumerate(services):
        svc = ctx.catalog.service(name)
        states.append(_state(svc, i, peak_tps, peak_cpu, peak_mem, inst_now, data, week, daily_util, fc, params))
    return states


def _daily_peak_util(data: Chunk, g: ServiceGrid, period: slice, params: CapacityParams) -> dict[str, np.ndarray]:
    """Highest daily p99 of CPU and of requests/s over the period, per service."""
    per_day = max(1, int(86400 / g.step_seconds))
    out = {}
    for key, matrix in (("cpu", data.cpu[:, period]), ("tps", data.tps[:, period])):
        n, t = matrix.shape
        days = t // per_day
        if days == 0:
            out[key] = _peak(matrix, g, params.peak_quantile)
            continue
        blocks = matrix[:, t - days * per_day:].reshape(n, days, per_day)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[key] = np.nanmax(np.nanquantile(blocks, params.peak_quantile, axis=2), axis=1)
    return out


def _state(
    svc: Service, i: int, peak_tps: np.ndarray, peak_cpu: np.ndarray, peak_mem: np.ndarray,
    inst_now: np.ndarray, data: Chunk, week: slice, daily_util: dict[str, np.ndarray],
    fc: dict[str, Any], params: CapacityParams,
) -> ServiceCapacity:
    cap = svc.capacity
    target = cap.cpu_target_pct if cap else 70.0
    instances, source = _instances(svc, float(inst_now[i]))
    max_tps = cap.max_tps_per_instance if cap else None
    state = ServiceCapacity(
        service=svc.name, squad=svc.squad, tier=svc.tier, cpu_target=target,
        instances=instances, instances_source=source, max_tps_per_instance=max_tps,
        peak_tps=_num(peak_tps[i]), mean_tps=_num(nan_mean(data.tps[i : i + 1, week])[0]),
        peak_cpu=_num(peak_cpu[i]), mean_cpu=_num(nan_mean(data.cpu[i : i + 1, week])[0]),
        peak_memory=_num(peak_mem[i]),
    )
    state = _with_period_util(state, daily_util, i)
    return _with_forecast(state, i, fc, params)


def _with_period_util(state: ServiceCapacity, daily_util: dict[str, np.ndarray], i: int) -> ServiceCapacity:
    values = [_num(daily_util["cpu"][i])]
    cap = state.capacity_tps
    tps = _num(daily_util["tps"][i])
    if cap and tps is not None:
        values.append(100.0 * tps / cap)
    known = [v for v in values if v is not None]
    return replace(state, period_peak_util=max(known) if known else None)


def _instances(svc: Service, from_telemetry: float) -> tuple[float | None, str | None]:
    if math.isfinite(from_telemetry) and from_telemetry > 0:
        return from_telemetry, "telemetry"
    if svc.capacity and svc.capacity.instances:
        return float(svc.capacity.instances), "catalog"
    return None, None


def _num(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


# ---- forecast -----------------------------------------------------------------------------------
def _forecast_chunk(
    ctx: AnalysisContext, data: Chunk, params: CapacityParams, peak_tps: np.ndarray, peak_cpu: np.ndarray,
    keep: bool,
) -> dict[str, Any]:
    """Daily peak forecasts of traffic and CPU for every service of the chunk, in one call."""
    g = data.grid
    stacked = np.vstack([data.tps, data.cpu])
    known_hours = np.isfinite(stacked).sum(axis=1) * g.step_seconds / 3600.0
    usable = known_hours >= params.min_history_days * 24
    start = to_dt64(ctx.now).astype("datetime64[h]").astype("datetime64[s]")
    if to_dt64(ctx.now) > start:
        start = start + np.timedelta64(3600, "s")
    target = start + np.arange(params.horizon_days * 24) * np.timedelta64(3600, "s")
    result: dict[str, Any] = {"usable": usable, "target": target}
    if not usable.any():
        return result
    trend_ok = np.tile(growth_is_steady(weekly_volumes(ctx, data)), 2)
    f = forecast(stacked[usable], g.times, target, ForecastConfig(utc_offset_hours=utc_offset_hours(ctx)),
                 stepped=~trend_ok[usable])
    n = len(data.services)
    full = {k: np.full((2 * n, len(target)), np.nan) for k in ("mean", "lower", "upper")}
    for key in full:
        full[key][usable] = getattr(f, key)
    w0 = g.index_of(ctx.now - PEAK_WINDOW)
    hourly, hour_times = hourly_means(stacked, g.times)  # for the peak factor
    recent = hourly[:, hour_times >= g.times[min(w0, g.length - 1)]]
    _rebase_stepped(full, recent, ~trend_ok & usable)
    with np.errstate(invalid="ignore", divide="ignore"):
        top_hour = np.max(np.where(np.isfinite(recent), recent, -np.inf), axis=1)
        factor = np.concatenate([peak_tps, peak_cpu]) / top_hour
    factor = np.where(np.isfinite(factor) & (factor > 0), np.maximum(factor, 1.0), 1.0)
    days = params.horizon_days
    for key in ("mean", "lower", "upper"):
        result[key] = full[key].reshape(2 * n, days, 24).max(axis=2) * factor[:, None]
    result["n"] = n
    if keep:
        result["history_daily"] = _daily_peaks(data.tps, g, params.peak_quantile)
    return result


def _daily_peaks(matrix: np.ndarray, g: ServiceGrid, q: float) -> dict[str, np.ndarray]:
    """p-quantile of 5-minute values of each whole day ending at the grid's end."""
    per_day = max(1, int(86400 / g.step_seconds))
    days = g.length // per_day
    first = g.length - days * per_day
    blocks = matrix[:, first:].reshape(matrix.shape[0], days, per_day)
    peaks = np.stack([_peak(blocks[:, d], g, q) for d in range(days)], axis=1) if days else np.zeros((len(matrix), 0))
    return {"times": g.times[first::per_day][:days], "peaks": peaks}


def utc_offset_hours(ctx: AnalysisContext) -> float:
    """The catalog timezone's offset from UTC at `now` (weekends are local)."""
    from zoneinfo import ZoneInfo

    offset = ctx.now.replace(tzinfo=UTC).astimezone(ZoneInfo(ctx.catalog.timezone)).utcoffset()
    return offset.total_seconds() / 3600.0 if offset else 0.0


def _rebase_stepped(full: dict[str, np.ndarray], recent: np.ndarray, stepped: np.ndarray) -> None:
    """After a one-off step the fit still mixes the old and the new level: scale those rows so the
    forecast's first week has the mean of the last observed week (the new level), in place."""
    if not stepped.any() or full["mean"].shape[1] < WEEK_HOURS:
        return
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ratio = np.nanmean(recent[stepped], axis=1) / np.nanmean(full["mean"][stepped, :WEEK_HOURS], axis=1)
    ratio = np.where(np.isfinite(ratio) & (ratio > 0), ratio, 1.0)
    for key in full:
        full[key][stepped] *= ratio[:, None]


def _first_day(series: np.ndarray, limit: float) -> float | None:
    hit = np.flatnonzero(series >= limit)
    return float(hit[0] + 1) if hit.size else None


def _with_forecast(state: ServiceCapacity, i: int, fc: dict[str, Any], params: CapacityParams) -> ServiceCapacity:
    if "mean" not in fc or not fc["usable"][i]:
        return state
    n = fc["n"]
    mean, lower, upper = fc["mean"][i], fc["lower"][i], fc["upper"][i]
    changes: dict[str, Any] = {"forecast_peak_tps": float(np.nanmax(mean))}
    if state.peak_tps:
        changes["growth"] = max(1.0, float(np.nanmax(mean)) / state.peak_tps)
    if fc["usable"][n + i] and state.peak_cpu:
        cpu_growth = float(np.nanmax(fc["mean"][n + i])) / state.peak_cpu
        if state.capacity_tps is None:  # no throughput model: CPU growth is the growth
            changes["growth"] = max(1.0, cpu_growth)
    changes["saturation"] = _saturation(state, i, fc, mean, lower, upper)
    if "history_daily" in fc:
        changes["series"] = _chart_series(state, i, fc)
    return replace(state, **changes)


def _saturation(
    state: ServiceCapacity, i: int, fc: dict[str, Any], mean: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> Saturation | None:
    """First day the forecast daily peak reaches capacity (traffic), else — when no throughput
    capacity is known — the day the CPU peak reaches the CPU target."""
    cap = state.capacity_tps
    if cap:
        days = _first_day(mean, cap)
        if days is not None:
            return Saturation("traffic", cap, days, _first_day(upper, cap) or days, _first_day(lower, cap))
        return None
    n = fc["n"]
    if not fc["usable"][n + i]:
        return None
    cpu_mean, cpu_lo, cpu_hi = fc["mean"][n + i], fc["lower"][n + i], fc["upper"][n + i]
    days = _first_day(cpu_mean, state.cpu_target)
    if days is None:
        return None
    return Saturation("cpu", state.cpu_target, days, _first_day(cpu_hi, state.cpu_target) or days,
                      _first_day(cpu_lo, state.cpu_target))


def _chart_series(state: ServiceCapacity, i: int, fc: dict[str, Any]) -> dict[str, Any]:
    """Daily peaks for the chart: observed (p99 of 5-minute requests/s per day) and forecast."""
    hist = fc["history_daily"]
    return {
        "history_times": hist["times"], "history": hist["peaks"][i],
        "forecast_times": fc["target"][::24], "mean": fc["mean"][i], "lower": fc["lower"][i],
        "upper": fc["upper"][i], "capacity": state.capacity_tps,
    }
