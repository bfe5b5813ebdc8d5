"""Per-metric deviation signals for trends: observed vs seasonal norm on (series x time) arrays.

Each signal gives, for the analysis period, the observed values, the norm, a robust z-score,
a `flagged` mask (deviations that are both statistically clear and large enough to matter)
and `drift`, the deseasonalised series that change-point detection runs on:

- latency (p95) and traffic (requests): log(observed / norm); traffic uses a Poisson floor
  on the scale, latency is ignored in steps with too few requests to have a meaningful p95;
- cpu and memory: observed - norm in percentage points;
- errors: judged as a *rate*. The baseline rate is a Beta(1, 999) posterior around the median
  hourly error rate of the history (so an empty or zero baseline is a prior of 0.1 %, never a
  division by zero), and a step is flagged when the errors of the last `error_window` steps
  are improbable under that rate (Poisson tail p < `error_p`) *and* the excess is large in
  count and in rate. Twenty requests an hour cannot pass the count test.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from perfops.analysis.grid import Grid
from perfops.analysis.seasonal import seasonal_norm


@dataclass(frozen=True)
class SignalParams:
    z_threshold: float = 4.0
    latency_min_change: float = 0.3  # +-30 % of the norm
    traffic_min_change: float = 0.4
    util_min_change: float = 15.0  # percentage points
    util_min_points: float = 5.0  # ... or a doubling of a lower norm, but never under this many points
    min_requests_per_step: float = 10.0  # latency of quieter steps is not judged
    error_window: int = 6  # steps summed for the error test
    error_p: float = 1e-6
    error_min_excess: float = 10.0  # excess failed requests in the window
    error_min_rate_excess: float = 0.002  # +0.2 percentage points
    error_prior_rate: float = 0.001


@dataclass(frozen=True)
class Signal:
    role: str  # latency | traffic | cpu | memory | errors
    observed: np.ndarray  # (S, Tp) in the metric's unit (errors: rate)
    norm: np.ndarray  # (S, Tp)
    z: np.ndarray  # (S, Tp) signed robust z (errors: signed normal quantile of the p-value)
    flagged: np.ndarray  # (S, Tp) bool
    drift: np.ndarray  # (S, Tp) deseasonalised deviation for change points
    samples: np.ndarray  # (S, Tp) history samples behind the norm
    worse: int  # +1: up is worse, -1: down is worse
    material: float  # the smallest deviation that matters, in the units of `drift`
    outage: np.ndarray | None = None  # (S, Tp) bool: reported values near zero from a real level
    row_material: np.ndarray | None = None  # (S,) the smallest material deviation of each series


GAUGES = {"latency": ("latency_p95_ms", 1), "traffic": ("requests", -1),
          "cpu": ("cpu_pct", 1), "memory": ("memory_pct", 1)}


def gauge_signal(role: str, grid: Grid, split: int, p: SignalParams) -> Signal | None:
    name, worse = GAUGES[role]
    x = grid.metric(name)
    if not np.isfinite(x[:, split:]).any():
        return None
    # neighbours within +-5 minutes smooth the norm; hourly data uses its own slot only
    spread = int(300 // grid.step)
    norm = seasonal_norm(x[:, :split], grid.epoch[:split], grid.epoch[split:], grid.step, spread=spread,
                         timezone=grid.timezone)
    obs = x[:, split:]
    level, scale = norm.level, norm.scale
    minimum: float | np.ndarray
    if role in ("latency", "traffic"):
        floor = np.maximum(0.05 * np.abs(level), 1e-6)
        if role == "traffic":
            floor = np.maximum(floor, np.sqrt(np.maximum(level, 1.0)))
        scale = np.maximum(scale, floor)
        drift = np.log((obs + 1e-9) / (level + 1e-9)) if role == "latency" else np.log((obs + 1) / (level + 1))
        change = np.abs(np.expm1(drift))
        minimum = p.latency_min_change if role == "latency" else p.traffic_min_change
    else:
        scale = np.maximum(scale, 1.0)
        drift = obs - level
        change = np.abs(drift)
        # 15 points, or a doubling of a lower norm (a database from 6 % to 12 % CPU), at least 5 points
        minimum = np.minimum(p.util_min_change, np.maximum(p.util_min_points, np.nan_to_num(level)))
    z = (obs - level) / scale
    outage = near_zero(role, obs, level)
    # CPU and memory alarm upwards, and downwards only to near zero (a dead or idle process):
    # lower utilisation is otherwise no incident. "No data" stays NaN and is never a drop.
    size = np.where(outage, np.abs(z), z) if role in ("cpu", "memory") else np.abs(z)
    flagged = (size >= p.z_threshold) & ((change >= minimum) | outage) & np.isfinite(z)
    if role == "latency":
        flagged &= _busy(grid, split, p)
    if role == "traffic":
        flagged &= np.maximum(level, obs) >= 2 * p.min_requests_per_step
    if role in ("latency", "traffic"):
        material = float(np.log1p(p.latency_min_change if role == "latency" else p.traffic_min_change))
        per_row = None
    else:
        material = p.util_min_change
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a series without a norm: NaN
            typical = np.nanmedian(level, axis=1)
        per_row = np.minimum(p.util_min_change, np.maximum(p.util_min_points, np.nan_to_num(typical)))
    return Signal(role, obs, level, z, flagged, drift, norm.samples, worse, material, outage & flagged, per_row)


def near_zero(role: str, observed: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """Steps whose reported value is near zero against a real norm (perfops.analysis.severity.is_outage,
    vectorised): traffic at <= 5 % of a norm of >= 5 requests a step, CPU or memory at <= 10 % of a
    norm of >= 10 %. NaN (no data) is never near zero."""
    with np.errstate(invalid="ignore"):
        if role == "traffic":
            return (norm >= 5) & (observed <= 0.05 * norm)
        if role in ("cpu", "memory"):
            return (norm >= 10) & (observed <= 0.1 * norm)
    return np.zeros(observed.shape, dtype=bool)


def _busy(grid: Grid, split: int, p: SignalParams) -> np.ndarray:
    req = grid.values.get("requests")
    if req is None:
        return np.ones((len(grid.keys), grid.epoch.size - split), dtype=bool)
    r = req[:, split:]
    return ~(r < p.min_requests_per_step)  # NaN requests: unknown, judge anyway


def baseline_error_rate(errors: np.ndarray, requests: np.ndarray, steps_per_hour: int,
                        prior: float) -> np.ndarray:
    """Per-series baseline error rate: Beta(1, 1/prior - 1) posterior around the median
    hourly rate of the history (robust to past incidents)."""
    s, t = errors.shape
    h = max(t // steps_per_hour, 0)
    if h == 0:
        return np.full(s, prior)
    e = np.nansum(errors[:, : h * steps_per_hour].reshape(s, h, steps_per_hour), axis=2)
    r = np.nansum(requests[:, : h * steps_per_hour].reshape(s, h, steps_per_hour), axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(r > 0, e / r, np.nan)
    med = np.zeros(s)
    has = np.isfinite(rate).any(axis=1)
    if has.any():
        med[has] = np.nanmedian(rate[has], axis=1)
    total = r.sum(axis=1)
    a, b = 1.0, 1.0 / prior - 1.0
    return (med * total + a) / (total + a + b)


def error_signal(grid: Grid, split: int, p: SignalParams, rate0: np.ndarray | None = None) -> Signal | None:
    from scipy.special import ndtri, pdtrc

    if "errors" not in grid.values or "requests" not in grid.values:
        return None
    err, req = grid.values["errors"], grid.values["requests"]
    both = np.isfinite(err) & np.isfinite(req)  # a step counts only with both counts present
    err, req = np.where(both, err, np.nan), np.where(both, req, np.nan)
    if rate0 is None:
        rate0 = baseline_error_rate(err[:, :split], req[:, :split], max(3600 // grid.step, 1), p.error_prior_rate)
    e, r = np.nan_to_num(err[:, split:]), np.nan_to_num(req[:, split:])
    ew, rw = _window_sums(e, p.error_window), _window_sums(r, p.error_window)
    mu = rate0[:, None] * rw
    pval = np.where(ew > 0, pdtrc(np.maximum(ew - 1, 0), np.maximum(mu, 1e-12)), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate_w = np.where(rw > 0, ew / rw, 0.0)
        obs = np.where(r > 0, e / r, np.nan)
    flagged = ((pval < p.error_p) & (ew - mu >= p.error_min_excess)
               & (rate_w - rate0[:, None] >= p.error_min_rate_excess) & (rw > 0))
    z = ndtri(1 - np.clip(pval, 1e-300, 1.0) / 2)
    norm = np.broadcast_to(rate0[:, None], obs.shape)
    samples = np.broadcast_to(np.nansum(req[:, :split], axis=1)[:, None], obs.shape)
    return Signal("errors", obs, norm, z, flagged, obs - norm, samples, 1, p.error_min_rate_excess)


def _window_sums(a: np.ndarray, w: int) -> np.ndarray:
    c = np.cumsum(a, axis=1)
    out = c.copy()
    out[:, w:] = c[:, w:] - c[:, :-w]
    return out
