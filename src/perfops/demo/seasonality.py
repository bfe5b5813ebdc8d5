"""Traffic shapes of the demo: a daily curve with a lunch and an evening peak, a weekly rhythm,
and slow day-to-day wandering. Each shape has mean 1 over a week, so a profile's `mean_tps` is
its weekly mean."""

from __future__ import annotations

import numpy as np

from perfops.demo.effects import Grid

# Monday .. Sunday: a shop is busiest on Friday and quietest on Sunday morning
WEEKLY = np.array([1.00, 1.02, 1.02, 1.03, 1.06, 0.95, 0.92])
WEEKLY = WEEKLY / WEEKLY.mean()


def _bump(hours: np.ndarray, centre: float, width: float) -> np.ndarray:
    """A Gaussian bump on the 24-hour circle."""
    distance = np.abs(((hours - centre) + 12.0) % 24.0 - 12.0)
    return np.exp(-0.5 * (distance / width) ** 2)


def daily_curve(hours: np.ndarray) -> np.ndarray:
    """Relative traffic by hour of day (UTC): night trough ≈ 0.25, lunch and evening peaks."""
    raw = 0.14 + 0.72 * _bump(hours, 12.5, 3.3) + 0.50 * _bump(hours, 20.0, 2.0)
    grid = np.arange(0, 24, 1 / 12)
    norm = (0.14 + 0.72 * _bump(grid, 12.5, 3.3) + 0.50 * _bump(grid, 20.0, 2.0)).mean()
    return raw / norm


def hours_and_days(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Hour of day (float, UTC) and weekday (0 = Monday) of each step."""
    stamps = grid.timestamps()
    seconds = (stamps - stamps.astype("datetime64[D]")).astype("timedelta64[s]").astype(np.float64)
    days = stamps.astype("datetime64[D]").astype(np.int64)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    return seconds / 3600.0, weekday


def shape(grid: Grid, phase_h: float = 0.0) -> np.ndarray:
    """Daily × weekly traffic shape (weekly mean ≈ 1), peak ≈ 1.8."""
    hours, weekday = hours_and_days(grid)
    return daily_curve(hours - phase_h) * WEEKLY[weekday]


def wander(grid: Grid, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """A slow multiplicative drift: one lognormal factor per day, linearly interpolated."""
    days = int(np.ceil(grid.n * grid.step_s / 86_400.0)) + 2
    knots = np.exp(rng.normal(0.0, sigma, days))
    position = grid.seconds() / 86_400.0
    return np.interp(position, np.arange(days), knots)
