"""Telemetry in long form -> one row per service on a common regular time grid.

The capacity and cost analyses work on matrices (services x time steps) so that every
computation, the forecast included, runs for a whole chunk of services at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from perfops.analysis.steps import DEFAULT_STEP, infer_step_seconds, series_steps

SUMMED = ("requests", "errors", "client_errors", "cost", "instances")


@dataclass(frozen=True)
class Grid:
    """A regular time grid [start, start + step * length)."""

    start: np.datetime64
    step: np.timedelta64
    length: int

    @property
    def times(self) -> np.ndarray:
        return self.start + self.step * np.arange(self.length)

    @property
    def step_seconds(self) -> float:
        return float(self.step / np.timedelta64(1, "s"))

    def index_of(self, moment: datetime) -> int:
        """Index of the first step at or after `moment`, clipped to [0, length]."""
        offset = (to_dt64(moment) - self.start) / self.step
        return int(np.clip(np.ceil(offset), 0, self.length))


def to_dt64(moment: datetime) -> np.datetime64:
    """A naive UTC datetime as numpy datetime64 in seconds."""
    return np.datetime64(moment).astype("datetime64[s]")


def infer_step(frame: pd.DataFrame) -> timedelta:
    """The usual spacing of the frame's timestamps, at least one minute (perfops.analysis.steps)."""
    if frame.empty:
        return timedelta(seconds=DEFAULT_STEP)
    step_s = infer_step_seconds(frame["timestamp"].to_numpy().astype("datetime64[s]"))
    return timedelta(seconds=max(60, step_s or DEFAULT_STEP))


def make_grid(start: datetime, end: datetime, step: timedelta) -> Grid:
    step64 = np.timedelta64(int(step.total_seconds()), "s")
    start64 = to_dt64(start)
    start64 = start64 - (start64 - np.datetime64(0, "s")) % step64
    length = int(np.ceil((to_dt64(end) - start64) / step64))
    return Grid(start64, step64, max(length, 1))


def service_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that describe whole services, per (service, metric): the whole-service rows
    (endpoint '' and consumer '') when there are any, else the per-endpoint rows for all
    consumers, else the rest. `to_matrix` sums counts over the rows it keeps."""
    if frame.empty:
        return frame
    endpoint_set = frame["endpoint"].to_numpy() != ""
    consumer_set = frame["consumer"].to_numpy() != ""
    if not (endpoint_set | consumer_set).any():
        return frame  # fast path: only whole-service rows
    level = np.where(consumer_set, 2, np.where(endpoint_set, 1, 0))
    svc_codes, _ = pd.factorize(frame["service"])
    met_codes, met_names = pd.factorize(frame["metric"])
    key = svc_codes.astype(np.int64) * max(len(met_names), 1) + met_codes
    best = np.full(int(key.max()) + 1, 3)
    np.minimum.at(best, key, level)
    return frame.loc[level == best[key]]


def to_matrices(frame: pd.DataFrame, metrics: list[str], services: list[str], grid: Grid) -> dict[str, np.ndarray]:
    """{metric: (len(services), grid.length)}: counts and cost summed per step, percentages
    averaged, instances the largest row of the step; NaN where a service has no value in a step."""
    out = {m: np.full((len(services), grid.length), np.nan) for m in metrics}
    if frame.empty:
        return out
    row = pd.Index(services).get_indexer(frame["service"]).astype(np.int64)
    ts = frame["timestamp"].to_numpy().astype("datetime64[s]")
    col = ((ts - grid.start) // grid.step).astype(np.int64)
    metric = frame["metric"].to_numpy()
    values_all = frame["value"].to_numpy(dtype=float)
    row, col, metric, values_all = spread_coarse(frame, row, col, metric, values_all, grid)
    ok = (row >= 0) & (col >= 0) & (col < grid.length)
    flat_all = row * grid.length + col
    size = len(services) * grid.length
    for m in metrics:
        sel = ok & (metric == m)
        if sel.any():
            out[m] = _reduce(flat_all[sel], values_all[sel], m, size).reshape(len(services), grid.length)
    return out


def spread_coarse(frame: pd.DataFrame, row: np.ndarray, col: np.ndarray, metric: np.ndarray, values: np.ndarray,
                  grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows of series coarser than the grid cover every grid step of their interval: a count or
    a cost is shared evenly among them (totals over any period stay the same), a gauge holds its
    value. So a 30-minute series beside 5-minute ones is neither a spike every sixth step nor
    left out of a weekly volume for covering one step in six (issue 13 item 8)."""
    step = int(grid.step_seconds)
    keys = tuple(k for k in ("service", "endpoint", "consumer", "metric") if k in frame.columns)
    steps = series_steps(frame, keys)
    if steps.empty or int(steps.max()) <= step:
        return row, col, metric, values
    lookup = pd.MultiIndex.from_arrays([frame[k].astype(str).to_numpy() for k in keys])
    factor = np.maximum(steps.reindex(lookup).to_numpy(dtype=np.int64) // step, 1)
    # cost stays at its own step: the cost analysis sums its rows per day and says which days a
    # coarse or lagging billing export leaves unjudged (perfops.analysis.capacity.costs)
    factor = np.where(metric == "cost", 1, factor)
    repeat = np.repeat(np.arange(len(row)), factor)
    offset = np.arange(repeat.size) - np.repeat(np.cumsum(factor) - factor, factor)
    shared = np.isin(metric, [m for m in SUMMED if m != "instances"])
    out = np.where(shared, values / factor, values)[repeat]
    return row[repeat], col[repeat] + offset, metric[repeat], out


def _reduce(flat: np.ndarray, values: np.ndarray, metric: str, size: int) -> np.ndarray:
    counts = np.bincount(flat, minlength=size).astype(float)
    if metric == "instances":  # several rows of one step must not add instances up
        result: np.ndarray = np.full(size, -np.inf)
        np.maximum.at(result, flat, values)
    else:
        sums = np.bincount(flat, weights=values, minlength=size).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            result = sums if metric in SUMMED else sums / counts
    return np.where(counts > 0, result, np.nan)


def to_matrix(frame: pd.DataFrame, metric: str, services: list[str], grid: Grid) -> np.ndarray:
    """One metric of `to_matrices`."""
    return to_matrices(frame, [metric], services, grid)[metric]


def resample_sum(matrix: np.ndarray, factor: int) -> np.ndarray:
    """Sum consecutive blocks of `factor` steps (NaN when a block is entirely missing)."""
    if factor <= 1:
        return matrix
    n, t = matrix.shape
    usable = t - t % factor
    blocks = matrix[:, t - usable:].reshape(n, usable // factor, factor)
    with np.errstate(invalid="ignore"):
        total = np.nansum(blocks, axis=2)
    total[np.isnan(blocks).all(axis=2)] = np.nan
    return total


def nan_quantile(matrix: np.ndarray, q: float) -> np.ndarray:
    """Row quantile ignoring NaN; NaN for an all-NaN row."""
    with np.errstate(invalid="ignore"), _quiet():
        return np.nanquantile(matrix, q, axis=1) if matrix.shape[1] else np.full(matrix.shape[0], np.nan)


def nan_mean(matrix: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"), _quiet():
        return np.nanmean(matrix, axis=1) if matrix.shape[1] else np.full(matrix.shape[0], np.nan)


@contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
