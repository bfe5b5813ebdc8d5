"""A fast seasonal forecaster for many series at once, with prediction intervals.

Method (docs/methods/capacity_cost.md explains it in plain words):

1. Series on a common time grid (rows = series) are averaged to hourly means; empty hours are
   filled by linear interpolation.
2. A family of regression models is fitted to *all series at once*, one pseudo-inverse per model
   shared by every series: intercept, optional linear trend, Fourier terms of the day, optionally
   Fourier terms of the week plus a weekend indicator and its interaction with the daily terms;
   on the raw values or on log(y + c). Recent hours weigh more (exponential decay, half-life
   `half_life_days`). One robust pass clips points further than `clip_sigma` robust sigmas from
   the first fit and refits (a one-step Huber-type M-estimate), so spikes do not bend the profile.
   A variant of each model adds the median residual of the last day as a level offset; seasonal
   naive (the last week, or day, of hourly means) is a candidate too. This is harmonic
   regression (Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed., §7.4
   and §12.1 "dynamic harmonic regression") in the batch form of least squares.
3. Per series, the candidate with the lowest MAE on a held-back final window (the last week, or
   a quarter of the history) is chosen (hold-out model selection) and refitted on everything.
4. Prediction intervals are empirical: the chosen model's signed errors on the held-back window,
   divided by the horizon scale s(h) = sqrt(1 + h / 168) (h in hours ahead), give per-series
   quantiles; the band at h is the forecast plus those quantiles times s(h) times
   `interval_inflation` (cf. FPP §5.5; Williams & Goodman 1971 on empirical forecast intervals),
   plus the trend's own standard error times the weeks ahead for trend models.

All arrays are numpy; nothing here reads files or the clock.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Any

import numpy as np

HOUR_S = 3600.0
WEEK_H = 168.0
DAY_H = 24.0


@dataclass(frozen=True)
class ForecastConfig:
    level: float = 0.9  # two-sided coverage of the prediction interval
    half_life_days: float = 14.0  # weight of an hour halves every this many days back
    daily_harmonics: int = 5
    weekly_harmonics: int = 6
    clip_sigma: float = 4.0
    offset_hours: int = 24  # the level offset is the median residual over this many last hours
    interval_scale_hours: float = WEEK_H
    min_history_hours: int = 48
    level_shift_sigma: float = 1.5
    utc_offset_hours: float = 0.0  # where the weekend starts: the domain's local time
    interval_inflation: float = 1.15  # widen the empirical quantiles (selection makes them optimistic)


@dataclass(frozen=True)
class Forecast:
    """Point forecast and interval for each series (rows) at `times` (naive UTC datetime64)."""

    times: np.ndarray
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    method: np.ndarray  # chosen candidate name per series

    def row(self, i: int) -> dict[str, Any]:
        return {"mean": self.mean[i], "lower": self.lower[i], "upper": self.upper[i], "method": self.method[i]}


@dataclass(frozen=True)
class _Spec:
    name: str
    log: bool
    trend: bool
    weekly: bool


SPECS = tuple(
    _Spec(f"{'log' if log else 'add'}{'-trend' if trend else ''}{'-weekly' if weekly else ''}", log, trend, weekly)
    for log in (False, True)
    for trend in (False, True)
    for weekly in (False, True)
)


# ---- time grid --------------------------------------------------------------------------------
def _epoch_hours(times: np.ndarray) -> np.ndarray:
    return times.astype("datetime64[s]").astype(np.int64) / HOUR_S


def hourly_means(values: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average rows of `values` (n, T) sampled at sorted `times` into whole hours.

    Returns (hourly (n, H), hour start times (H,)); hours with no data are NaN."""
    hours = np.floor(_epoch_hours(times)).astype(np.int64)
    first = hours[0]
    idx = hours - first
    n_hours = int(idx[-1]) + 1
    finite = np.isfinite(values)
    sums = np.zeros((values.shape[0], n_hours))
    counts = np.zeros((values.shape[0], n_hours))
    starts = np.flatnonzero(np.r_[True, np.diff(idx) > 0])
    occupied = idx[starts]
    sums[:, occupied] = np.add.reduceat(np.where(finite, values, 0.0), starts, axis=1)
    counts[:, occupied] = np.add.reduceat(finite.astype(float), starts, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    hour_times = (first + np.arange(n_hours)).astype("datetime64[h]").astype("datetime64[s]")
    return means, hour_times


def fill_gaps(y: np.ndarray) -> np.ndarray:
    """Linear interpolation along each row; edges take the nearest value; all-NaN rows become 0."""
    out = y.copy()
    x = np.arange(y.shape[1])
    for i in np.flatnonzero(~np.isfinite(y).all(axis=1)):
        ok = np.isfinite(y[i])
        out[i] = np.interp(x, x[ok], y[i, ok]) if ok.any() else 0.0
    return out


# ---- design -------------------------------------------------------------------------------------
def _harmonics(cfg: ForecastConfig, weekly: bool) -> list[int]:
    """Weekly-period harmonics: daily ones are multiples of 7."""
    daily = [7 * k for k in range(1, cfg.daily_harmonics + 1)]
    week = [k for k in range(1, cfg.weekly_harmonics + 1 + cfg.weekly_harmonics // 7) if k % 7][: cfg.weekly_harmonics]
    return daily + (week if weekly else [])


def design(ep_hours: np.ndarray, origin: float, cfg: ForecastConfig) -> np.ndarray:
    """All regressors at absolute epoch hours: 1, trend (weeks since `origin`), Fourier terms of
    the day, then of the week, then a weekend indicator and its interaction with the daily terms
    (weekends often have their own level and daily shape; days in the local time of
    `cfg.utc_offset_hours`). A model uses the columns `columns(cfg, spec)` of it."""
    daily = np.array(_harmonics(cfg, weekly=False), dtype=float)
    weekly = np.array(_harmonics(cfg, weekly=True)[len(daily):], dtype=float)
    angle = 2 * np.pi * ep_hours / WEEK_H
    local = ep_hours + cfg.utc_offset_hours
    weekend = ((np.floor(local / DAY_H) + 3) % 7 >= 5).astype(float)  # 1970-01-01 was a Thursday
    d_phase = angle[:, None] * daily[None]
    w_phase = angle[:, None] * weekly[None]
    return np.column_stack([
        np.ones_like(ep_hours), (ep_hours - origin) / WEEK_H,
        np.sin(d_phase), np.cos(d_phase), np.sin(w_phase), np.cos(w_phase),
        weekend, weekend[:, None] * np.sin(d_phase), weekend[:, None] * np.cos(d_phase),
    ])


def columns(cfg: ForecastConfig, spec: _Spec) -> np.ndarray:
    kd = cfg.daily_harmonics
    kw = len(_harmonics(cfg, weekly=True)) - kd
    cols = [0] + ([1] if spec.trend else []) + list(range(2, 2 + 2 * kd))
    if spec.weekly:
        start = 2 + 2 * kd
        cols += list(range(start, start + 2 * kw + 1 + 2 * kd))
    return np.array(cols)


@dataclass(frozen=True)
class _Fit:
    spec: _Spec
    coef: np.ndarray  # (p, n)
    offset: np.ndarray  # (n,)
    shift: np.ndarray  # (n,) log shift c
    slope_se: np.ndarray  # (n,) standard error of the trend coefficient (per week), transformed scale
    origin: float
    sigma: np.ndarray  # (n,) robust standard deviation of the hourly residuals, transformed scale


def _transform(y: np.ndarray, spec: _Spec) -> tuple[np.ndarray, np.ndarray]:
    if not spec.log:
        return y, np.zeros(y.shape[0])
    c = 0.05 * np.abs(y).mean(axis=1) + 1e-9
    return np.log(np.maximum(y, 0.0) + c[:, None]), c


def _back(z: np.ndarray, spec: _Spec, c: np.ndarray) -> np.ndarray:
    if not spec.log:
        return z
    return np.exp(np.minimum(z, 700.0)) - c[:, None]


def fit(y: np.ndarray, ep_hours: np.ndarray, basis: np.ndarray, cfg: ForecastConfig, spec: _Spec) -> _Fit:
    """Weighted least squares for all rows of `y` (n, H) at once, with one winsorising pass.
    `basis` = design(ep_hours + 0.5, ep_hours[-1], cfg) (hour mid-points)."""
    z, c = _transform(y, spec)
    origin = float(ep_hours[-1])
    x = basis[:, columns(cfg, spec)]
    age_days = (ep_hours[-1] - ep_hours) / DAY_H
    sw = np.sqrt(0.5 ** (age_days / cfg.half_life_days))[:, None]
    xw = x * sw
    solver = _solver(xw)  # one (X'WX)^-1 X'W serves every series and both passes
    coef = solver @ (z.T * sw)
    resid = z.T - x @ coef
    sigma = 1.4826 * np.median(np.abs(resid), axis=0) + 1e-12
    lim = cfg.clip_sigma * sigma
    zc = x @ coef + np.clip(resid, -lim, lim)
    coef = solver @ (zc * sw)
    resid = zc - x @ coef
    offset = np.median(resid[-cfg.offset_hours:], axis=0)
    sigma = 1.4826 * np.median(np.abs(resid), axis=0) + 1e-12
    slope_se = np.zeros(y.shape[0])
    if spec.trend:
        dof = max(len(ep_hours) - x.shape[1], 1)
        s2 = ((resid * sw) ** 2).sum(axis=0) / dof
        slope_se = np.sqrt(s2 * (solver @ solver.T)[1, 1])
    return _Fit(spec, coef, offset, c, slope_se, origin, sigma)


def _solver(xw: np.ndarray) -> np.ndarray:
    """(X'X)^-1 X' by the normal equations with a tiny ridge (10^-9 of the mean diagonal) for
    columns that are nearly collinear on short histories; ~10x faster than an SVD pseudo-inverse."""
    gram = xw.T @ xw
    ridge = 1e-9 * float(np.trace(gram)) / gram.shape[0]
    return np.linalg.solve(gram + ridge * np.eye(gram.shape[0]), xw.T)


def predict(f: _Fit, basis: np.ndarray, cfg: ForecastConfig, with_offset: bool) -> np.ndarray:
    """Forecast at the rows of `basis` = design(target epoch hours, f.origin, cfg)."""
    z = (basis[:, columns(cfg, f.spec)] @ f.coef).T
    if with_offset:
        z = z + f.offset[:, None]
    return _back(z, f.spec, f.shift)


def seasonal_naive(y_hourly: np.ndarray, ep_hours_fit: np.ndarray, ep_target: np.ndarray) -> np.ndarray:
    """Repeat the last week (or the last day when less than two weeks are known) of hourly means,
    interpolated linearly between hour mid-points."""
    season = int(WEEK_H) if y_hourly.shape[1] >= 2 * WEEK_H else int(DAY_H)
    last = y_hourly[:, -season:]
    phase = (ep_target - ep_hours_fit[-season] - 0.5) % season
    lo = np.floor(phase).astype(np.int64)
    frac = phase - lo
    return last[:, lo] * (1 - frac) + last[:, (lo + 1) % season] * frac


# ---- the candidates ------------------------------------------------------------------------------
def candidate_names() -> list[str]:
    names = [s.name + suffix for s in SPECS for suffix in ("", "+level")]
    return names + ["seasonal-naive"]


def _all_predictions(y: np.ndarray, ep: np.ndarray, target: np.ndarray, cfg: ForecastConfig) -> tuple[
    np.ndarray, list[_Fit]
]:
    """(candidates, n, len(target)) predictions of every candidate; log ones only where y >= 0."""
    nonneg = np.asarray(np.all(y >= 0, axis=1))
    preds, fits = [], []
    basis_fit = design(ep + 0.5, float(ep[-1]), cfg)
    basis_target = design(target, float(ep[-1]), cfg)
    for spec in SPECS:
        f = fit(y, ep, basis_fit, cfg, spec)
        fits.append(f)
        for with_offset in (False, True):
            p = predict(f, basis_target, cfg, with_offset)
            if spec.log:
                p = np.where(nonneg[:, None], p, np.inf)
            preds.append(p)
    preds.append(seasonal_naive(y, ep, target))
    return np.stack(preds), fits


def _holdout_hours(n_hours: int) -> int:
    return int(min(WEEK_H, max(DAY_H, n_hours // 4)))


def forecast(
    values: np.ndarray,
    times: np.ndarray,
    horizon_times: np.ndarray,
    cfg: ForecastConfig | None = None,
    stepped: np.ndarray | None = None,
) -> Forecast:
    """Forecast each row of `values` (n, T), observed at sorted `times` (datetime64), at
    `horizon_times` (datetime64, any resolution, after the last observation). Rows where
    `stepped` is true had a one-off change of level the caller knows is not growth (a launch):
    they choose among the candidates without a trend and with the level offset."""
    with one_blas_thread():
        return _forecast(values, times, horizon_times, cfg or ForecastConfig(), stepped)


def one_blas_thread() -> AbstractContextManager[object]:
    """Keep BLAS on one thread: the solves are small (hours x ~40 columns), and on a busy 2-core
    machine OpenBLAS threads fighting for cores made them ~40x slower. Uses threadpoolctl when
    it is installed (its library scan is done once); otherwise changes nothing."""
    controller = _blas_controller()
    return nullcontext() if controller is None else controller.limit(limits=1, user_api="blas")


@lru_cache(maxsize=1)
def _blas_controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - optional
        return None
    return ThreadpoolController()


def _forecast(
    values: np.ndarray, times: np.ndarray, horizon_times: np.ndarray, cfg: ForecastConfig, stepped: np.ndarray | None
) -> Forecast:
    values = np.atleast_2d(np.asarray(values, dtype=float))
    times = np.asarray(times).astype("datetime64[s]")
    horizon_times = np.asarray(horizon_times).astype("datetime64[s]")
    hourly, hour_times = hourly_means(values, times)
    y = fill_gaps(hourly)
    ep = _epoch_hours(hour_times)
    choice, errors, lead = _select(values, times, y, ep, cfg, stepped)
    target = _epoch_hours(horizon_times)
    preds, fits = _all_predictions(y, ep, target, cfg)
    choice = _force_level_on_shift(choice, fits, cfg)
    rows = np.arange(y.shape[0])
    mean = preds[choice, rows]
    h = np.maximum(target - (ep[-1] + 1.0), 0.0)
    lower, upper = _interval(mean, errors, lead, h, choice, fits, cfg)
    names = np.array(candidate_names())
    return Forecast(horizon_times, mean, lower, upper, cfg.level, names[choice])


def _force_level_on_shift(choice: np.ndarray, fits: list[_Fit], cfg: ForecastConfig) -> np.ndarray:
    """A level shift inside the last day cannot show in the held-back window: when the chosen
    model's last-day median residual exceeds `level_shift_sigma` robust sigmas, use its +level twin."""
    out = choice.copy()
    for k, f in enumerate(fits):
        shifted = np.abs(f.offset) > cfg.level_shift_sigma * f.sigma
        out[(choice == 2 * k) & shifted] = 2 * k + 1
    return out


def _select(
    values: np.ndarray, times: np.ndarray, y: np.ndarray, ep: np.ndarray, cfg: ForecastConfig,
    stepped: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pick a candidate per series by MAE on the held-back last window (native resolution).

    Returns (choice index per series, that candidate's signed errors (n, m), lead hours (m,))."""
    n_hours = y.shape[1]
    hold = _holdout_hours(n_hours)
    if n_hours - hold < cfg.min_history_hours:
        choice = np.full(y.shape[0], len(candidate_names()) - 1)
        return choice, np.zeros((y.shape[0], 1)), np.zeros(1)
    cut = ep[n_hours - hold]
    t_ep = _epoch_hours(times)
    mask = t_ep >= cut
    preds, _ = _all_predictions(y[:, : n_hours - hold], ep[: n_hours - hold], t_ep[mask], cfg)
    actual = values[:, mask]
    err = actual[None] - preds
    with np.errstate(invalid="ignore"):
        mae = np.nanmean(np.abs(err), axis=2)
    mae = np.where(np.isfinite(mae), mae, np.inf)
    if stepped is not None:
        allowed = np.array([not s.trend and with_level for s in SPECS for with_level in (False, True)] + [False])
        mae[np.ix_(~allowed, np.asarray(stepped, dtype=bool))] = np.inf
    choice = np.argmin(mae, axis=0)
    rows = np.arange(y.shape[0])
    return choice, err[choice, rows], t_ep[mask] - cut


def _interval(
    mean: np.ndarray, errors: np.ndarray, lead: np.ndarray, h: np.ndarray, choice: np.ndarray,
    fits: list[_Fit], cfg: ForecastConfig,
) -> tuple[np.ndarray, np.ndarray]:
    scale_hold = np.sqrt(1.0 + lead / cfg.interval_scale_hours)
    alpha = (1.0 - cfg.level) / 2.0
    with np.errstate(invalid="ignore"):
        norm = errors / scale_hold[None]
        finite = np.isfinite(norm).any(axis=1)
        q_lo = np.where(finite, np.nanquantile(np.where(np.isfinite(norm), norm, np.nan), alpha, axis=1), 0.0)
        q_hi = np.where(finite, np.nanquantile(np.where(np.isfinite(norm), norm, np.nan), 1 - alpha, axis=1), 0.0)
    s = cfg.interval_inflation * np.sqrt(1.0 + h / cfg.interval_scale_hours)[None]
    lower = mean + np.minimum(q_lo, 0.0)[:, None] * s
    upper = mean + np.maximum(q_hi, 0.0)[:, None] * s
    trend_w = _trend_width(mean, h, choice, fits, cfg)
    return lower - trend_w, upper + trend_w


def _trend_width(mean: np.ndarray, h: np.ndarray, choice: np.ndarray, fits: list[_Fit], cfg: ForecastConfig) -> np.ndarray:
    """Extra half-width from the trend's standard error: z * se * weeks ahead (log models: relative)."""
    z = NormalDist().inv_cdf(0.5 + cfg.level / 2.0)
    spec_idx = np.minimum(choice // 2, len(SPECS) - 1)
    is_model = choice < 2 * len(SPECS)
    se = np.zeros(mean.shape[0])
    log = np.zeros(mean.shape[0], dtype=bool)
    for k, f in enumerate(fits):
        pick = is_model & (spec_idx == k)
        se[pick] = f.slope_se[pick]
        log[pick] = f.spec.log
    weeks = h[None] / WEEK_H
    width = z * se[:, None] * weeks
    return np.where(log[:, None], np.abs(mean) * (np.exp(width) - 1.0), width)


def mase(actual: np.ndarray, predicted: np.ndarray, train: np.ndarray, season: int) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006): MAE over the MAE of the in-sample
    seasonal naive forecast with lag `season` (in samples)."""
    scale = np.nanmean(np.abs(train[season:] - train[:-season]))
    return float(np.nanmean(np.abs(actual - predicted)) / scale) if scale > 0 else float("nan")
