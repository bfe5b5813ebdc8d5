"""Shared shapes for the experience analyses: long telemetry -> tidy wide frames (severity is
perfops.analysis.severity's, called directly by each engine).

Telemetry arrives long (one metric a row, perfops.model.tables). The experience engines want,
per series (service, endpoint, consumer), one row per interval with requests, errors,
client_errors and latency columns. Service-level rows (endpoint '' and consumer '') are used when
present; otherwise they are composed from the endpoint rows (counts add; the p95 becomes the
request-weighted mean of the endpoints' p95, an approximation noted in docs/methods).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from perfops.analysis.steps import infer_step_seconds

EXPERIENCE_METRICS = (
    "requests", "errors", "client_errors", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
    "latency_max_ms",
)
COUNTS = ("requests", "errors", "client_errors")


KEYS = ("service", "endpoint", "consumer", "timestamp")


def wide(frame: pd.DataFrame) -> pd.DataFrame:
    """Long telemetry -> one row per (service, endpoint, consumer, timestamp), a column per metric."""
    if frame is None or frame.empty:
        return pd.DataFrame(columns=["service", "endpoint", "consumer", "timestamp", *EXPERIENCE_METRICS])
    data = frame[frame["metric"].isin(EXPERIENCE_METRICS)]
    text = any(isinstance(data[c].dtype, pd.CategoricalDtype) for c in TEXT)
    fast = _wide_by_codes(data, text)
    if fast is not None:
        return fast
    return _wide_by_pivot(data.astype(dict.fromkeys(TEXT, str)) if text else data)


TEXT = ("service", "endpoint", "consumer", "metric")


def _wide_by_codes(data: pd.DataFrame, text: bool = False) -> pd.DataFrame | None:
    """The pivot of `_wide_by_pivot` with integer codes: each key column is factorised once
    (sorted, so code order is the frames' sort order) and the values are scattered into one
    array per metric. Only for the usual case — every (series, timestamp, metric) once and no
    missing value — else None (the pivot handles duplicates and gaps). `text`: the text columns
    are keyed by their values as strings (a frame with categorical columns)."""
    values = data["value"].to_numpy(np.float64)
    if not len(values) or np.isnan(values).any():
        return None
    codes, uniques = [], []
    for column in (*KEYS, "metric"):
        code, unique = _as_text_codes(data[column]) if text and column in TEXT else \
            pd.factorize(data[column], sort=True)
        if (code < 0).any():  # a missing key: the pivot drops it
            return None
        codes.append(code.astype(np.int64))
        uniques.append(unique)
    sizes = [len(u) for u in uniques[:4]]
    if float(np.prod(sizes, dtype=np.float64)) * len(uniques[4]) >= 2**62:
        return None
    row = ((codes[0] * sizes[1] + codes[1]) * sizes[2] + codes[2]) * sizes[3] + codes[3]
    rows, at = _unique_keys(row, int(np.prod(sizes, dtype=np.float64)))
    n_metrics = len(uniques[4])
    if _distinct_keys(at * n_metrics + codes[4], len(rows) * n_metrics) != len(at):
        return None
    out: dict[str, object] = {}
    rest = rows
    parts = []
    for size in reversed(sizes[1:]):
        parts.append(rest % size)
        rest = rest // size
    parts.append(rest)
    parts.reverse()
    for column, part, unique in zip(KEYS, parts, uniques[:4], strict=True):
        out[column] = np.asarray(unique)[part] if column != "timestamp" else unique[part]
    for k, metric in enumerate(uniques[4]):
        filled = np.full(len(rows), np.nan)
        mine = codes[4] == k
        filled[at[mine]] = values[mine]
        out[str(metric)] = filled
    return _completed(pd.DataFrame(out))


DENSE_KEYS = 4  # key space per row up to which keys are marked in a table instead of sorted


def _unique_keys(keys: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(keys, return_inverse=True)` for keys in [0, space): marked in a table of the
    key space when it is not much larger than the rows (one pass instead of a sort)."""
    if space > DENSE_KEYS * max(keys.size, 1 << 16):
        return np.unique(keys, return_inverse=True)
    present = np.zeros(space, dtype=bool)
    present[keys] = True
    distinct = np.flatnonzero(present)
    rank = np.empty(space, dtype=np.int64 if distinct.size >= 2**31 else np.int32)
    rank[distinct] = np.arange(distinct.size)
    return distinct, rank[keys].astype(np.intp)


def _distinct_keys(keys: np.ndarray, space: int) -> int:
    """How many distinct keys in [0, space)."""
    if space > DENSE_KEYS * max(keys.size, 1 << 16):
        return len(np.unique(keys))
    present = np.zeros(space, dtype=bool)
    present[keys] = True
    return int(np.count_nonzero(present))


def _as_text_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """`pd.factorize(column.astype(str), sort=True)`; for a categorical without missing values
    from its codes, without a string per row (a 20-service read: 1 M rows a column)."""
    if not isinstance(column.dtype, pd.CategoricalDtype) or (column.cat.codes.to_numpy() < 0).any():
        code, unique = pd.factorize(column.astype(str), sort=True)
        return code, np.asarray(unique)
    codes = column.cat.codes.to_numpy()
    names = np.asarray(column.cat.categories.astype(str), dtype=object)
    present = np.flatnonzero(np.bincount(codes, minlength=len(names)))
    order = present[np.argsort(names[present], kind="stable")]
    rank = np.full(len(names), -1, dtype=np.intp)
    rank[order] = np.arange(order.size)
    return rank[codes], names[order]


def _wide_by_pivot(data: pd.DataFrame) -> pd.DataFrame:
    out = data.pivot_table(index=["service", "endpoint", "consumer", "timestamp"], columns="metric",
                           values="value", aggfunc="last", observed=True).reset_index()
    out.columns.name = None
    return _completed(out).sort_values(["service", "endpoint", "consumer", "timestamp"], ignore_index=True)


def _completed(wide: pd.DataFrame) -> pd.DataFrame:
    """Every experience metric as a column (NaN = not measured), counts 0 where absent."""
    for metric in EXPERIENCE_METRICS:
        if metric not in wide:
            wide[metric] = np.nan
    for metric in COUNTS:
        wide[metric] = wide[metric].fillna(0.0)
    wide["timestamp"] = pd.to_datetime(wide["timestamp"])
    return wide


def service_level(data: pd.DataFrame, service: str) -> pd.DataFrame:
    """The whole-service series of `service` (all endpoints, all consumers), by timestamp."""
    rows = data[(data["service"] == service) & (data["consumer"] == "")]
    whole = rows[rows["endpoint"] == ""]
    if not whole.empty:
        return whole.set_index("timestamp").sort_index()
    return compose(rows[rows["endpoint"] != ""])


def endpoint_level(data: pd.DataFrame, service: str, endpoint: str) -> pd.DataFrame:
    """One endpoint of a service (all consumers); the whole service when the endpoint has no rows."""
    rows = data[(data["service"] == service) & (data["consumer"] == "") & (data["endpoint"] == endpoint)]
    if rows.empty:
        return service_level(data, service)
    return rows.set_index("timestamp").sort_index()


def compose(rows: pd.DataFrame) -> pd.DataFrame:
    """Several series -> one by timestamp: counts add, latencies are request-weighted means
    (max stays the max). An approximation for percentiles, exact for counts."""
    if rows.empty:
        return pd.DataFrame(columns=list(EXPERIENCE_METRICS), index=pd.DatetimeIndex([], name="timestamp"))
    weight = rows["requests"].clip(lower=0)
    parts = {m: rows.groupby("timestamp", observed=True)[m].sum() for m in COUNTS}
    for metric in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"):
        has = rows[metric].notna()
        num = (rows[metric].where(has, 0) * weight.where(has, 0)).groupby(rows["timestamp"], observed=True).sum()
        den = weight.where(has, 0).groupby(rows["timestamp"], observed=True).sum()
        parts[metric] = (num / den.replace(0, np.nan))
    parts["latency_max_ms"] = rows.groupby("timestamp", observed=True)["latency_max_ms"].max()
    return pd.DataFrame(parts).sort_index()


def consumer_rows(data: pd.DataFrame, service: str) -> pd.DataFrame:
    """Per-consumer rows of a service at the whole-service level (endpoint ''), else composed."""
    rows = data[(data["service"] == service) & (data["consumer"] != "")]
    whole = rows[rows["endpoint"] == ""]
    if not whole.empty:
        return whole
    if rows.empty:
        return rows
    parts = [compose(g).assign(consumer=c) for c, g in rows.groupby("consumer", observed=True)]
    return pd.concat(parts).reset_index().assign(service=service, endpoint="")


def step_of(index: pd.DatetimeIndex) -> timedelta:
    """The spacing of a series (`infer_step_seconds`), 1 minute when it cannot be told."""
    return timedelta(seconds=infer_step_seconds(index.values, default=60) or 60)


def regular(series: pd.DataFrame, start: datetime, end: datetime, step: timedelta) -> pd.DataFrame:
    """Counts on a regular grid over [start, end); intervals without data have zero requests."""
    grid = pd.date_range(pd.Timestamp(start).floor(step), pd.Timestamp(end), freq=step, inclusive="left")
    counts = series[list(COUNTS)].groupby(series.index.floor(step), observed=True).sum()
    return counts.reindex(grid, fill_value=0.0)


@dataclass(frozen=True)
class Window:
    """A named evaluation window ending at `end`."""

    name: str
    length: timedelta
    end: datetime

    @property
    def start(self) -> datetime:
        return self.end - self.length


def days_text(days: float) -> str:
    """1.4 -> '1.4 days', 0.25 -> '6 hours', 45 -> '45 days'."""
    if days < 1:
        hours = max(days * 24, 0.1)
        return f"{hours:.0f} hours" if hours >= 2 else f"{hours * 60:.0f} minutes"
    return f"{days:.1f} days" if days < 10 else f"{days:.0f} days"
