"""Known-answer tests of the vectorised seasonal forecaster (perfops.analysis.forecast)."""

from __future__ import annotations

import numpy as np
import pytest

from perfops.analysis.forecast import ForecastConfig, fill_gaps, forecast, hourly_means, mase

START = np.datetime64("2026-01-05T00:00:00")  # a Monday


def _times(days: int, step_min: int = 5) -> np.ndarray:
    return START + np.arange(days * 24 * 60 // step_min) * np.timedelta64(step_min * 60, "s")


def _seasonal(times: np.ndarray, level: float = 100.0, growth_per_week: float = 0.0, seed: int = 1) -> np.ndarray:
    hours = (times - START) / np.timedelta64(1, "h")
    daily = 1 + 0.5 * np.sin(2 * np.pi * hours / 24)
    weekend = np.where((hours // 24) % 7 >= 5, 0.6, 1.0)
    rng = np.random.default_rng(seed)
    return level * daily * weekend * (1 + growth_per_week) ** (hours / 168) * (1 + rng.normal(0, 0.02, len(hours)))


def test_hourly_means_average_whole_hours_and_mark_empty_ones():
    times = START + np.array([0, 30, 60, 200], dtype="timedelta64[m]")
    values = np.array([[1.0, 3.0, 5.0, 7.0]])
    means, hours = hourly_means(values, times)
    assert means.shape == (1, 4)
    assert means[0, 0] == 2.0 and means[0, 1] == 5.0 and np.isnan(means[0, 2]) and means[0, 3] == 7.0
    assert hours[1] == START + np.timedelta64(1, "h")


def test_fill_gaps_interpolates_and_zeroes_empty_rows():
    y = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]])
    out = fill_gaps(y)
    assert out[0].tolist() == [1.0, 2.0, 3.0] and out[1].tolist() == [0.0, 0.0, 0.0]


def test_forecast_beats_seasonal_naive_on_a_seasonal_series():
    times = _times(35)
    y = _seasonal(times)
    train, test = slice(0, 28 * 288), slice(28 * 288, None)
    f = forecast(y[None, train], times[train], times[test])
    season = 7 * 288
    snaive = np.resize(y[train][-season:], len(y[test]))
    ours = mase(y[test], f.mean[0], y[train], season)
    assert ours < 0.8 * mase(y[test], snaive, y[train], season)
    assert ours < 1.0


def test_forecast_follows_compound_growth():
    times = _times(42)
    y = _seasonal(times, growth_per_week=0.03)
    train = slice(0, 35 * 288)
    target = times[-1] + np.arange(1, 24 * 28 + 1) * np.timedelta64(1, "h")
    f = forecast(y[None, train], times[train], target)
    hours_ahead = (target - times[train][-1]) / np.timedelta64(1, "h")
    # four weeks ahead the weekly mean has grown by about 1.03 ** 4 over the last training week
    last_week = y[train][-7 * 288:].mean()
    assert f.mean[0, hours_ahead > 21 * 24].mean() / last_week == pytest.approx(1.03 ** 3.5, rel=0.05)


def test_intervals_cover_most_of_a_held_back_week():
    times = _times(35)
    y = _seasonal(times, seed=3)
    train, test = slice(0, 28 * 288), slice(28 * 288, None)
    f = forecast(y[None, train], times[train], times[test], ForecastConfig(level=0.9))
    inside = np.mean((y[test] >= f.lower[0]) & (y[test] <= f.upper[0]))
    assert 0.75 <= inside <= 1.0
    assert np.all(f.lower[0] <= f.mean[0]) and np.all(f.mean[0] <= f.upper[0])


def test_many_series_are_forecast_at_once_each_on_its_own_scale():
    times = _times(28)
    rows = np.stack([_seasonal(times, level=lv, seed=i) for i, lv in enumerate((10.0, 1000.0, 50.0))])
    target = times[-1] + np.arange(1, 25) * np.timedelta64(1, "h")
    f = forecast(rows, times, target)
    assert f.mean.shape == (3, 24) and len(f.method) == 3
    same_day_last_week = rows[:, -7 * 288 : -6 * 288].mean(axis=1)  # the forecast day is a Monday
    ratio = f.mean.mean(axis=1) / same_day_last_week
    assert np.allclose(ratio, 1.0, atol=0.25)


def test_a_level_shift_in_the_last_day_moves_the_forecast():
    times = _times(21)
    y = _seasonal(times)
    shifted = y.copy()
    shifted[-200:] += 300.0
    target = times[-1] + np.arange(1, 25) * np.timedelta64(1, "h")
    f = forecast(np.stack([y, shifted]), times, target)
    assert f.mean[1].mean() - f.mean[0].mean() > 100.0


def test_short_history_falls_back_to_seasonal_naive():
    times = _times(2)
    y = _seasonal(times)
    f = forecast(y[None], times, times[-1] + np.arange(1, 5) * np.timedelta64(1, "h"))
    assert f.method[0] == "seasonal-naive"


def test_missing_values_are_tolerated():
    times = _times(28)
    y = _seasonal(times)
    y[1000:1600] = np.nan
    f = forecast(y[None], times, times[-1] + np.arange(1, 25) * np.timedelta64(1, "h"))
    assert np.isfinite(f.mean).all() and np.isfinite(f.upper).all()


def test_mase_is_one_for_the_in_sample_naive_error():
    train = np.array([1.0, 2.0, 1.0, 2.0, 1.0, 2.0])
    assert mase(np.array([2.0, 1.0]), np.array([1.0, 2.0]), train, 1) == pytest.approx(1.0)
