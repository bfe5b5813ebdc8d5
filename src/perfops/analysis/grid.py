"""The one telemetry grid: long-form telemetry to 2-D arrays (rows x time) on a regular grid.

Two layouts of the same grid, both aligned to the step from the epoch and stepped by the one
step inference (`perfops.analysis.steps.infer_step_seconds`):

- `build_grid` -> `Grid`, one row per (service, endpoint) series, one array per metric, for
  trends. A metric a series lacks is all NaN. Only whole-consumer rows (consumer '') are used;
  when a series has only per-consumer rows they are summed (counts) or averaged (gauges).
- `service_grid` -> `ServiceGrid` with `service_rows` + `to_matrices`: one row per service
  (counts and cost summed, gauges averaged, a coarse series spread over the steps it covers),
  for capacity and cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from perfops.analysis.codes import codes_of
from perfops.analysis.steps import DEFAULT_STEP, infer_step_seconds, series_steps
from perfops.model.tables import COUNT_METRICS

EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Grid:
    keys: list[tuple[str, str]]  # (service, endpoint) of each row
    epoch: np.ndarray  # (T,) int64 UTC epoch seconds of each column
    step: int  # seconds between columns
    values: dict[str, np.ndarray]  # metric -> (S, T) float, NaN = no data
    timezone: str = "UTC"  # the catalog's: where young norms tell weekdays from weekend days

    def metric(self, name: str) -> np.ndarray:
        return self.values.get(name, np.full((len(self.keys), self.epoch.size), np.nan))

    def times(self, columns: np.ndarray | slice) -> pd.DatetimeIndex:
        return pd.to_datetime(self.epoch[columns], unit="s")


def to_epoch(moment: datetime) -> int:
    return int((moment - EPOCH).total_seconds()) if moment.tzinfo is None else int(moment.timestamp())


def build_grid(frame: pd.DataFrame, start: datetime, end: datetime, metrics: list[str],
               step: int | None = None) -> Grid:
    """Arrange `frame` (perfops.model.tables telemetry) into a Grid over [start, end).

    Works on factorized column codes (hashing, no sorting, no row-filtered copies of the
    frame), so a chunk of millions of rows is laid out in a few vectorised passes."""
    if frame.empty:
        return Grid([], np.zeros(0, np.int64), step or DEFAULT_STEP, {})
    if "consumer" in frame.columns and _has_consumer_rows(frame["consumer"]):
        frame = _whole_consumer(frame)
    metric_codes, metric_names = codes_of(frame["metric"])
    wanted = {str(m): i for i, m in enumerate(metric_names) if str(m) in metrics}
    ts = frame["timestamp"].to_numpy(dtype="datetime64[s]").astype(np.int64)
    step = step or infer_step_seconds(ts) or DEFAULT_STEP
    t0 = to_epoch(start) - to_epoch(start) % step
    epoch = np.arange(t0, to_epoch(end), step, dtype=np.int64)
    col = (ts - t0) // step
    lut = np.zeros(len(metric_names) + 1, dtype=bool)
    lut[list(wanted.values())] = True
    keep = (col >= 0) & (col < epoch.size) & lut[metric_codes]
    s_codes, s_names = codes_of(frame["service"])
    e_codes, e_names = codes_of(frame["endpoint"])
    ne = max(len(e_names), 1)
    pair = s_codes[keep].astype(np.int64) * ne + e_codes[keep]
    present = np.zeros(len(s_names) * ne, dtype=bool)
    present[pair] = True
    pairs = np.flatnonzero(present)
    row = (np.cumsum(present) - 1)[pair]
    keys = [(str(s_names[p // ne]), str(e_names[p % ne])) for p in map(int, pairs)]
    col, metric_codes = col[keep], metric_codes[keep]
    value = frame["value"].to_numpy(dtype=float)[keep]
    values: dict[str, np.ndarray] = {}
    for name, code in wanted.items():
        rows = metric_codes == code
        grid = np.full((len(keys), epoch.size), np.nan)
        grid[row[rows], col[rows]] = value[rows]
        values[name] = grid
    return Grid(keys, epoch, step, values)


def _has_consumer_rows(consumer: pd.Series) -> bool:
    if not isinstance(consumer.dtype, pd.CategoricalDtype):
        values = consumer.to_numpy()  # a compare pass: 6x cheaper than hashing the column
        return bool(pd.notna(values[values != ""]).any())
    codes, names = codes_of(consumer)
    used = np.bincount(codes[codes >= 0], minlength=len(names)) > 0  # one pass, not a sort of every code
    return any(str(names[i]) != "" for i in np.flatnonzero(used))


def _whole_consumer(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows for all consumers; series with only per-consumer rows are aggregated."""
    if "consumer" not in frame.columns:
        return frame
    whole = frame[frame["consumer"] == ""]
    parts = frame[frame["consumer"] != ""]
    if parts.empty:
        return whole
    have = set(zip(whole["service"], whole["endpoint"], whole["metric"], strict=True))
    missing = parts[[k not in have for k in zip(parts["service"], parts["endpoint"], parts["metric"], strict=True)]]
    if missing.empty:
        return whole
    keys = ["timestamp", "service", "endpoint", "metric"]
    counts = missing[missing["metric"].isin(COUNT_METRICS)].groupby(keys, as_index=False, observed=True)["value"].sum()
    gauges = missing[~missing["metric"].isin(COUNT_METRICS)].groupby(keys, as_index=False, observed=True)["value"].mean()
    return pd.concat([whole, counts, gauges], ignore_index=True)


# Services x time: the layout of capacity and cost.

SUMMED = ("requests", "errors", "client_errors", "cost", "instances")


@dataclass(frozen=True)
class ServiceGrid:
    """The time axis of services x time matrices (capacity, cost): a regular grid
    [start, start + step * length), aligned to the step like `build_grid`'s columns."""

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


def service_step(frame: pd.DataFrame) -> timedelta:
    """The step of a services grid: the usual spacing of the frame's timestamps
    (`infer_step_seconds`), at least one minute."""
    if frame.empty:
        return timedelta(seconds=DEFAULT_STEP)
    step_s = infer_step_seconds(frame["timestamp"].to_numpy().astype("datetime64[s]"))
    return timedelta(seconds=max(60, step_s or DEFAULT_STEP))


def service_grid(start: datetime, end: datetime, step: timedelta) -> ServiceGrid:
    step64 = np.timedelta64(int(step.total_seconds()), "s")
    start64 = to_dt64(start)
    start64 = start64 - (start64 - np.datetime64(0, "s")) % step64
    length = int(np.ceil((to_dt64(end) - start64) / step64))
    return ServiceGrid(start64, step64, max(length, 1))


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


def to_matrices(frame: pd.DataFrame, metrics: list[str], services: list[str], grid: ServiceGrid) -> dict[str, np.ndarray]:
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
                  grid: ServiceGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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


def to_matrix(frame: pd.DataFrame, metric: str, services: list[str], grid: ServiceGrid) -> np.ndarray:
    """One metric of `to_matrices`."""
    return to_matrices(frame, [metric], services, grid)[metric]
