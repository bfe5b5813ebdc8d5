"""Shared by the metric-source readers (Prometheus JSON and text, OTLP JSON, CloudWatch JSON).

A metric source delivers *series*: a set of labels and (time, value) points. This module turns
them into perfops' canonical telemetry (perfops.model.tables): it resolves the service named by
a label against the catalog, folds method and route into an endpoint, aggregates series that
land on the same key, and estimates percentiles from histogram buckets.

Percentiles from buckets use the method of Prometheus' `histogram_quantile`: find the bucket
holding the requested rank, then interpolate linearly inside it (so the estimate is exact at
bucket bounds and assumes requests are spread evenly within a bucket).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from perfops.errors import InputError
from perfops.model.catalog import Catalog
from perfops.model.tables import COUNT_METRICS, METRICS, TELEMETRY_COLUMNS

SUMMED_METRICS = frozenset((*COUNT_METRICS, "instances", "cost"))
MAXED_METRICS = frozenset(("latency_max_ms",))
PERCENTILES = {"latency_p50_ms": 0.50, "latency_p95_ms": 0.95, "latency_p99_ms": 0.99}
DEFAULT_LABELS = {"service": "service", "endpoint": "endpoint", "consumer": "consumer"}

# fall-back label names (after the configured one) used by common instrumentation
SERVICE_LABELS = ("service", "service_name", "service.name", "job", "app", "application")
ROUTE_LABELS = ("endpoint", "http_route", "http.route", "route", "handler", "uri", "path", "url_path")
METHOD_LABELS = ("method", "http_method", "http_request_method", "http.request.method", "http.method")
CONSUMER_LABELS = ("consumer", "client", "client_id", "caller")
STATUS_LABELS = ("code", "status", "status_code", "http_status_code", "http_response_status_code",
                 "http.response.status_code", "http.status_code", "outcome")

_SLUG = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class Piece:
    """One series already named in perfops' terms: its key and its points."""

    service: str
    endpoint: str
    consumer: str
    metric: str
    timestamps: np.ndarray  # datetime64[us], naive UTC
    values: np.ndarray  # float64


@dataclass
class Problems:
    """Series that cannot be placed: raise the first, or skip them all with --skip-bad-rows."""

    path: str
    skip: bool
    skipped: list[str] = field(default_factory=list)

    def report(self, message: str, *, field: str | None = None, hint: str | None = None,
               line: int | None = None) -> None:
        if not self.skip:
            raise InputError(message, path=self.path, line=line, field=field, hint=hint)
        where = f"{self.path}:{line}" if line else self.path
        self.skipped.append(f"{where}: {message}")


class ServiceResolver:
    """A source's service name -> a catalog service: exact, then case-folded, then slugged
    (`Checkout API` -> `checkout-api`). An explicit --service wins over every label."""

    def __init__(self, catalog: Catalog, override: str | None = None) -> None:
        self.names = set(catalog.service_by_name)
        self.override = override
        self._folded = {n.lower(): n for n in self.names}

    def resolve(self, name: str | None) -> str | None:
        if self.override:
            return self.override
        if not name:
            return None
        if name in self.names:
            return name
        folded = name.strip().lower()
        if folded in self._folded:
            return self._folded[folded]
        slugged = _SLUG.sub("-", folded).strip("-")
        return self._folded.get(slugged)


def pick(labels: Mapping[str, str], configured: str | None, fallbacks: Sequence[str]) -> str:
    """The value of the configured label, else of the first fall-back present, else ''."""
    for name in ((configured,) if configured else ()) + tuple(fallbacks):
        value = labels.get(name)
        if value:
            return str(value)
    return ""


def endpoint_of(labels: Mapping[str, str], configured: str | None = None) -> str:
    """`METHOD /route` from a route label and a method label; the route alone without a method;
    the configured endpoint label verbatim when it already holds `GET /x`."""
    route = pick(labels, configured, ROUTE_LABELS)
    if not route or " " in route:
        return route
    method = pick(labels, None, METHOD_LABELS).upper()
    return f"{method} {route}" if method else route


def status_class(labels: Mapping[str, str]) -> str | None:
    """'5xx', '4xx' or 'ok' from an HTTP status label; None when there is none."""
    value = pick(labels, None, STATUS_LABELS).strip().lower()
    if not value:
        return None
    if value.startswith("5") or value in ("server_error", "error", "timeout"):
        return "5xx"
    if value.startswith("4") or value == "client_error":
        return "4xx"
    return "ok"


def seconds_factor(unit_or_name: str) -> float | None:
    """Multiplier to milliseconds from a unit (`s`, `ms`, `Seconds`) or a metric name suffix."""
    text = unit_or_name.lower()
    if text in ("s", "sec", "second", "seconds") or text.endswith(("_seconds", ".seconds", "_seconds_bucket")):
        return 1000.0
    if text in ("ms", "millisecond", "milliseconds") or text.endswith(("_milliseconds", "_ms", "_ms_bucket")):
        return 1.0
    if text in ("us", "microseconds") or text.endswith("_microseconds"):
        return 0.001
    return None


def increases(values: np.ndarray) -> np.ndarray:
    """Per-interval increases of a cumulative counter, reset-aware (as PromQL `increase`): a
    drop means the counter restarted from zero, so the new value is the increase. Length n-1."""
    if len(values) < 2:
        return np.empty(0)
    step = np.diff(values)
    return np.where(step < 0, values[1:], step)


def bucket_quantile(upper: np.ndarray, counts: np.ndarray, q: float,
                    lowest: np.ndarray | float | None = None,
                    highest: np.ndarray | float | None = None) -> np.ndarray:
    """The q-quantile of each row of per-bucket `counts` (n, k) with bucket upper bounds `upper`
    (k,), the last may be +Inf. Interpolates linearly inside the bucket (Prometheus
    `histogram_quantile`); the first bucket starts at `lowest` (else 0, or its bound when <= 0);
    the +Inf bucket ends at `highest` (else the estimate is the highest finite bound).
    `lowest` and `highest` are the observed min and max when known (OTLP points carry them):
    every bucket is cut to [lowest, highest] before interpolating, so an estimate never leaves
    the observed range (a (4, 8] bucket with max 5 interpolates over (4, 5]).
    NaN where a row has no observations."""
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    upper = np.asarray(upper, dtype=float)
    n, k = counts.shape
    lower_edges = np.concatenate(([min(upper[0], 0.0)], upper[:-1])) if k else upper
    lower = np.broadcast_to(lower_edges, (n, k)).copy()
    top = np.broadcast_to(upper, (n, k)).copy()
    if lowest is not None:
        lower[:, 0] = np.minimum(np.broadcast_to(lowest, n), top[:, 0])
    finite_top = np.where(np.isinf(top[:, -1]), lower[:, -1], top[:, -1])
    top[:, -1] = finite_top if highest is None else np.maximum(np.broadcast_to(highest, n), lower[:, -1])
    if lowest is not None:
        floor = np.broadcast_to(np.asarray(lowest, dtype=float), n)[:, None]
        lower, top = np.maximum(lower, floor), np.maximum(top, floor)
    if highest is not None:
        ceiling = np.broadcast_to(np.asarray(highest, dtype=float), n)[:, None]
        lower, top = np.minimum(lower, ceiling), np.minimum(top, ceiling)
    cum = counts.cumsum(axis=1)
    total = cum[:, -1] if k else np.zeros(n)
    rank = q * total
    idx = np.argmax(cum >= rank[:, None] - 1e-12 * np.maximum(total, 1)[:, None], axis=1)
    rows = np.arange(n)
    before = np.where(idx > 0, cum[rows, np.maximum(idx - 1, 0)], 0.0)
    inside = counts[rows, idx]
    frac = np.divide(rank - before, inside, out=np.zeros(n), where=inside > 0)
    value = lower[rows, idx] + (top[rows, idx] - lower[rows, idx]) * np.clip(frac, 0.0, 1.0)
    return np.where(total > 0, value, np.nan)


def _distinct_keys(pieces: list[Piece]) -> bool:
    """No two pieces share a key, so rows cannot collide (a piece's timestamps are distinct)."""
    keys = {(p.service, p.endpoint, p.consumer, p.metric) for p in pieces}
    return len(keys) == len(pieces)


def table_of(pieces: Iterable[Piece]) -> pa.Table:
    """Canonical telemetry as an Arrow table, text columns dictionary-encoded (one entry per
    piece, not per row): the cheap form for many long series. Colliding keys are combined as in
    frame_of."""
    pieces = [p for p in pieces if len(p.values)]
    if not pieces or not _distinct_keys(pieces):
        return pa.Table.from_pandas(frame_of(pieces), preserve_index=False)
    sizes = np.array([len(p.values) for p in pieces])
    owner = pa.array(np.repeat(np.arange(len(pieces), dtype=np.int32), sizes))
    columns = {"timestamp": pa.array(np.concatenate([p.timestamps.astype("datetime64[us]") for p in pieces]))}
    for name in ("service", "endpoint", "consumer", "metric"):
        columns[name] = pa.DictionaryArray.from_arrays(owner, pa.array([getattr(p, name) for p in pieces]))
    values = np.concatenate([np.asarray(p.values, dtype=float) for p in pieces])
    columns["value"] = pa.array(values)
    table = pa.table(columns)
    return table.filter(pa.array(np.isfinite(values))) if not np.isfinite(values).all() else table


def frame_of(pieces: Iterable[Piece]) -> pd.DataFrame:
    """Canonical telemetry from pieces; series landing on the same key are combined: counts,
    instances and cost summed, the max latency maxed, other gauges averaged."""
    pieces = [p for p in pieces if len(p.values)]
    if not pieces:
        return empty_frame()
    sizes = [len(p.values) for p in pieces]
    frame = pd.DataFrame({
        "timestamp": np.concatenate([p.timestamps.astype("datetime64[us]") for p in pieces]),
        "service": np.repeat([p.service for p in pieces], sizes),
        "endpoint": np.repeat([p.endpoint for p in pieces], sizes),
        "consumer": np.repeat([p.consumer for p in pieces], sizes),
        "metric": np.repeat([p.metric for p in pieces], sizes),
        "value": np.concatenate([np.asarray(p.values, dtype=float) for p in pieces]),
    })
    frame = frame[np.isfinite(frame["value"].to_numpy())]
    if _distinct_keys(pieces):
        return frame.sort_values(KEY, kind="stable").reset_index(drop=True)
    return combine_duplicates(frame)


KEY = ["timestamp", "service", "endpoint", "consumer", "metric"]


def combine_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    key = KEY
    if not frame.duplicated(key).any():
        return frame.sort_values(key, kind="stable").reset_index(drop=True)[list(TELEMETRY_COLUMNS)]
    how = frame["metric"].map(lambda m: "sum" if m in SUMMED_METRICS else "max" if m in MAXED_METRICS else "mean")
    parts = []
    for method, group in frame.groupby(how, sort=False):
        parts.append(group.groupby(key, sort=False, as_index=False)["value"].agg(method))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(key, kind="stable").reset_index(drop=True)[list(TELEMETRY_COLUMNS)]


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "timestamp": np.array([], dtype="datetime64[us]"),
        **{c: pd.Series([], dtype=object) for c in ("service", "endpoint", "consumer", "metric")},
        "value": np.array([], dtype=float),
    })


def is_metric(name: str) -> bool:
    return name in METRICS


def hint_from_filename(path_name: str, catalog: Catalog) -> tuple[str | None, str | None]:
    """A perfops metric and a catalog service named in a file name, e.g.
    `checkout-api.latency_p95_ms.json` -> ('latency_p95_ms', 'checkout-api')."""
    stem = path_name.split(".json")[0]
    metrics = [m for m in METRICS if re.search(rf"(^|[^a-z0-9_]){m}($|[^a-z0-9_])", stem)]
    services = [s for s in catalog.service_by_name if re.search(rf"(^|[^a-z0-9_-]){re.escape(s)}($|[^a-z0-9_-])", stem)]
    metric = max(metrics, key=len) if metrics else None
    service = max(services, key=len) if services else None
    return metric, service
