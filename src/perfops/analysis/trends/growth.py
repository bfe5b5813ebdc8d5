"""Leak-like resource growth: memory or CPU rising steadily while traffic does not.

Daily means over the last `days` days (the daily mean removes the time-of-day pattern) are
fitted with least squares, all series at once. A series is a candidate when its slope is at least
`min_slope` percentage points a day, the fit explains most of the variation (R^2 >= `min_r2`),
and traffic grew at most `traffic_share` as fast in relative terms (so growth that follows
traffic is capacity, not a leak). The projected time to 100 % is (100 - today) / slope.

Steps are not growth (issue 13): a level shift from 6 % to 15 % also fits a rising line over a
week. So for each candidate the change points of its step-level series over those days are
found with the shared engine (`perfops.analysis.changepoint`) and the slope is re-estimated
*within* the segments between them (each segment demeaned: a step moves a segment's mean, a leak
tilts every segment). Only a within-segment slope of at least `min_slope` is growth; a step is
left to the episodes, which report it as a regression at its change point. And "while traffic
does not" needs traffic: a series whose service reports no requests is never called a leak.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from perfops.analysis.changepoint import find_change_points
from perfops.analysis.grid import Grid


@dataclass(frozen=True)
class GrowthParams:
    days: int = 7
    min_days: int = 4
    min_slope: float = 1.0  # percentage points per day
    min_r2: float = 0.7
    traffic_share: float = 0.5


@dataclass(frozen=True)
class Growth:
    row: int
    role: str  # cpu | memory
    slope_per_day: float
    r2: float
    level_now: float
    level_start: float
    days: int
    days_to_full: float
    traffic_growth_per_day: float | None  # relative, e.g. 0.01 = +1 %/day
    p_value: float
    within_slope_per_day: float = 0.0  # slope left once the change points are taken out


def resource_growth(grid: Grid, split: int, p: GrowthParams,
                    marks: dict[str, dict[int, int]] | None = None) -> list[Growth]:
    spd = 86_400 // grid.step
    days = min(p.days, grid.epoch.size // max(spd, 1))
    if days < p.min_days:
        return []
    traffic = _daily(_service_traffic(grid, days * spd), spd, days)
    t_slope, _, t_mean, _ = _fit(traffic)
    t_rel = np.where(t_mean > 0, t_slope / np.maximum(t_mean, 1e-9), np.nan)
    out: list[Growth] = []
    for role, name in (("memory", "memory_pct"), ("cpu", "cpu_pct")):
        if name not in grid.values:
            continue
        y = _daily(grid.values[name], spd, days)
        slope, r2, mean, last = _fit(y)
        rel = slope / np.maximum(mean, 1e-9)
        traffic_ok = ~(t_rel > p.traffic_share * rel)  # NaN traffic: unknown, accept
        hit = (slope >= p.min_slope) & (r2 >= p.min_r2) & traffic_ok & np.isfinite(t_rel)
        marked = (marks or {}).get(role, {})
        for row in map(int, np.flatnonzero(hit)):
            if marked.get(row, -1) >= 0:
                continue  # acknowledged within the period: the new level is the norm
            within = within_segment_slope(grid.values[name][row, -days * spd:], grid.step)
            if not within >= p.min_slope:
                continue  # a step (or steps), not a sustained slope: a regression's to report
            g = _growth(row, role, y[row], float(slope[row]), float(r2[row]), float(last[row]), float(t_rel[row]))
            out.append(replace(g, within_slope_per_day=within))
    return out


def within_segment_slope(x: np.ndarray, step: int) -> float:
    """Points per day of the pooled least-squares slope within the segments between the change
    points of `x` (hourly means, so the daily cycle is smoothed and the search stays small)."""
    per_hour = max(3600 // step, 1)
    n = x.size // per_hour
    if n < 24:
        return float("nan")
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            hourly = np.nanmean(x[x.size - n * per_hour:].reshape(n, per_hour), axis=1)
    t = np.arange(n, dtype=float)
    ok = np.isfinite(hourly)
    hourly, t = hourly[ok], t[ok]
    if hourly.size < 24:
        return float("nan")
    # a week of hours has a daily cycle; segments of at least half a day keep the cycle from
    # being mistaken for steps
    cps = find_change_points(hourly - _daily_cycle(hourly, t), alpha=1e-4, min_size=12, max_points=8)
    bounds = [0] + [c.index for c in cps] + [hourly.size]
    sxy = sxx = 0.0
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if b - a < 3:
            continue
        dt, dy = t[a:b] - t[a:b].mean(), hourly[a:b] - hourly[a:b].mean()
        sxy += float(dt @ dy)
        sxx += float(dt @ dt)
    return sxy / sxx * 24 if sxx > 0 else float("nan")


def _daily_cycle(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The mean by hour of day (t in hours), minus its overall mean: the time-of-day pattern."""
    hour = (t % 24).astype(int)
    means = np.array([y[hour == h].mean() if (hour == h).any() else 0.0 for h in range(24)])
    return means[hour] - y.mean()


def _growth(row: int, role: str, y: np.ndarray, slope: float, r2: float, last: float,
            t_rel: float | None) -> Growth:
    from scipy.special import stdtr

    n = int(np.isfinite(y).sum())
    t = np.sqrt(r2 * (n - 2) / max(1e-12, 1 - r2)) if r2 < 1 else 1e6
    p = float(stdtr(max(n - 2, 1), -t))
    return Growth(row, role, slope, r2, last, float(y[np.isfinite(y)][0]), n,
                  max(0.0, (100.0 - last) / slope), t_rel, p)


def _service_traffic(grid: Grid, last: int) -> np.ndarray:
    """Requests of each row over the `last` steps; rows without their own use their service's total."""
    req = grid.values.get("requests")
    if req is None:
        return np.full((len(grid.keys), last), np.nan)
    req = req[:, -last:]
    out = req.copy()
    missing = np.flatnonzero(~np.isfinite(req).any(axis=1))
    if missing.size:
        services = np.array([s for s, _ in grid.keys])
        for row in map(int, missing):
            out[row] = np.nansum(req[services == services[row]], axis=0)
    return out


def _daily(x: np.ndarray, spd: int, days: int) -> np.ndarray:
    tail = x[:, x.shape[1] - days * spd:]
    block = tail.reshape(x.shape[0], days, spd)
    count = np.isfinite(block).sum(axis=2)
    total = np.nansum(block, axis=2)
    return np.where(count >= spd // 4, total / np.maximum(count, 1), np.nan)


def _fit(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares slope, R^2, mean and fitted last value of each row (NaN-aware)."""
    ok = np.isfinite(y)
    n = ok.sum(axis=1).astype(float)
    t = np.broadcast_to(np.arange(y.shape[1], dtype=float), y.shape)
    yz = np.where(ok, y, 0.0)
    tz = np.where(ok, t, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        tm, ym = tz.sum(1) / n, yz.sum(1) / n
        dt = np.where(ok, t - tm[:, None], 0.0)
        dy = np.where(ok, y - ym[:, None], 0.0)
        sxx, sxy, syy = (dt * dt).sum(1), (dt * dy).sum(1), (dy * dy).sum(1)
        slope = sxy / sxx
        r2 = np.where(syy > 0, sxy * sxy / (sxx * syy), 0.0)
        last = ym + slope * (y.shape[1] - 1 - tm)
    bad = n < 3
    return (np.where(bad, np.nan, slope), np.where(bad, 0.0, r2), ym, last)
