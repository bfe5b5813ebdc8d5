"""Trends signals for the gauges beyond latency, errors, traffic, CPU and memory (issue 13 item 9).

Network and disk (`network_in_bytes`, `network_out_bytes`, `disk_read_bytes`,
`disk_write_bytes`, `disk_pct`) and every metric a service declares under `metrics:` in the
catalog (a queue depth, a connection count, a temperature) are judged against the same robust
seasonal norm as the built-in metrics, in the direction that is bad for them:

- `up` (a queue that fills), `down` (a throughput that falls), or `both` (a temperature);
  `both` reports a sustained shift either way as a `regression`;
- with a `capacity` (or for a percentage), deviations are in points of that capacity, and must
  reach `util_min_change` points, as CPU does; otherwise they are relative (log ratio), and must
  reach `GAUGE_MIN_CHANGE`, as traffic does with its own threshold.

The default directions of perfops' own gauges are `perfops.model.tables.GAUGE_METRICS`; a
service's `metrics:` entry overrides them. Each (metric, direction) group is one `Signal`, so the
episode and reporting machinery of trends applies unchanged.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from perfops.analysis.grid import Grid
from perfops.analysis.seasonal import seasonal_norm
from perfops.analysis.trends.findings import Reporter
from perfops.analysis.trends.gauge_spec import spec_of
from perfops.analysis.trends.levels import episodes_of
from perfops.analysis.trends.records import with_records
from perfops.analysis.trends.signals import Signal, SignalParams
from perfops.model.catalog import Catalog
from perfops.model.findings import Finding
from perfops.model.tables import GAUGE_METRICS, METRICS

if TYPE_CHECKING:
    from perfops.analysis.trends import TrendParams

GAUGE_MIN_CHANGE = 0.4  # relative: a gauge without a capacity must move 40 % from its norm
WORSE = {"up": 1, "down": -1, "both": 1}


def gauge_metrics(catalog: Catalog, services: list[str] | None = None) -> list[str]:
    """The gauge metrics trends reads for `services` (all when None): perfops' own, then the
    ones the services declare (names of other analyses, like cpu_pct, are left to them)."""
    chosen = catalog.services if services is None else [catalog.service_by_name[s] for s in services
                                                         if s in catalog.service_by_name]
    declared = [m for s in chosen for m in s.metrics if m not in METRICS]
    return list(GAUGE_METRICS) + sorted(set(declared))


def gauge_signals(grid: Grid, split: int, p: SignalParams, catalog: Catalog) -> list[tuple[str, Signal]]:
    """(direction, Signal) per gauge metric and direction with data in the period."""
    out: list[tuple[str, Signal]] = []
    for metric in sorted(grid.values):
        if metric not in GAUGE_METRICS and not any(metric in s.metrics for s in catalog.services):
            continue
        x = grid.values[metric]
        if not np.isfinite(x[:, split:]).any():
            continue
        specs = [spec_of(catalog, service, metric) for service, _ in grid.keys]
        for direction in ("up", "down", "both"):
            rows = np.array([s.direction == direction for s in specs])
            if rows.any() and np.isfinite(x[rows, split:]).any():
                capacity = np.array([s.capacity or np.nan for s in specs])
                out.append((direction, _signal(metric, direction, x, rows, capacity, grid, split, p)))
    return out


def ratio_offset(history: np.ndarray) -> np.ndarray:
    """Per series, what a relative change adds to both sides of its ratio so that a norm of 0
    (an idle disk) stays finite: one unit, or 1 % of the series' usual high level (the 95th
    percentile of its history) when that is smaller. One unit is nothing to bytes or a queue of
    hundreds, but it swamped a gauge of small values: a price of $0.16 that rose to $0.57 was
    "+36 %", under `GAUGE_MIN_CHANGE`, and the same prices in cents were judged otherwise."""
    ordered = np.sort(np.abs(history), axis=1)  # NaN sort last
    count = np.isfinite(history).sum(axis=1)
    at = np.clip(np.ceil(0.95 * count).astype(np.int64) - 1, 0, max(history.shape[1] - 1, 0))
    high = np.take_along_axis(ordered, at[:, None], axis=1)[:, 0] if history.shape[1] else np.zeros(len(count))
    high = np.where(count > 0, high, np.nan)
    return np.where(np.isfinite(high) & (high > 0), np.minimum(1.0, 0.01 * high), 1.0)


def _signal(metric: str, direction: str, x: np.ndarray, rows: np.ndarray, capacity: np.ndarray, grid: Grid,
            split: int, p: SignalParams) -> Signal:
    spread = int(300 // grid.step)
    norm = seasonal_norm(x[:, :split], grid.epoch[:split], grid.epoch[split:], grid.step, spread=spread,
                         timezone=grid.timezone)
    obs, level = x[:, split:], norm.level
    cap = capacity[:, None]
    points = np.isfinite(cap)
    with np.errstate(invalid="ignore", divide="ignore"):
        # in points of the capacity (as CPU) or relative (as traffic): the drift change points run on
        offset = ratio_offset(x[:, :split])[:, None]
        drift = np.where(points, (obs - level) / cap * 100, np.log((obs + offset) / (np.abs(level) + offset)))
        scale = np.where(points, np.maximum(norm.scale, cap / 100), np.maximum(norm.scale, 0.05 * np.abs(level)))
        scale = np.maximum(scale, 1e-9)
        z = (obs - level) / scale
        change = np.where(points, np.abs(drift), np.abs(np.expm1(drift)))
        minimum = np.where(points, p.util_min_change, GAUGE_MIN_CHANGE)
    size = {"up": z, "down": -z, "both": np.abs(z)}[direction]
    flagged = (size >= p.z_threshold) & (change >= minimum) & np.isfinite(z) & rows[:, None]
    # one threshold per signal in drift units: points where every row has a capacity, else relative
    material = p.util_min_change if bool(points[rows].all()) else float(np.log1p(GAUGE_MIN_CHANGE))
    return Signal(metric, obs, level, z, flagged, drift, norm.samples, WORSE[direction], material)


def gauge_findings(grid: Grid, split: int, params: TrendParams, catalog: Catalog, reporter: Reporter) -> list[Finding]:
    """The trends findings of every gauge of the grid (the module docstring)."""
    out: list[Finding] = []
    for direction, signal in gauge_signals(grid, split, params.signal, catalog):
        rows = np.array([spec_of(catalog, service, signal.role).direction == direction for service, _ in grid.keys])
        signal, records = with_records(signal, grid, split, None, rows, direction)
        episodes = episodes_of(signal, grid, split, params, severe=records)
        if direction == "both":  # bad both ways: a sustained shift down is a regression too
            episodes = [replace(e, kind="regression") if e.kind == "improvement" else e for e in episodes]
        out += [reporter.episode(signal, e) for e in episodes]
    return out
