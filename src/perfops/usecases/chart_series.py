"""Every service's chart series in one store read, for the dashboard to keep ready: while an
ingest holds the store, a chart never opened before can then still be drawn from what was read
(see perfops.web.data.DashboardData.warm_series)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from perfops.store import open_store
from perfops.workspace import Workspace

METRICS = ["requests", "errors", "latency_p95_ms"]
K = TypeVar("K")


def every_endpoint_series(workspace: Workspace, end: datetime, days: int = 14,
                          limit: int | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """(service, endpoint) -> what `service_series(workspace, service, endpoint, end, days)`
    returns, for at most `limit` endpoints (the busiest first), read with one query."""
    end = end.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    with open_store(workspace.store_path, read_only=True) as store:
        frame = store.telemetry.endpoint_hours(METRICS, start, end)
    if frame.empty:
        return {}
    service_codes, services = pd.factorize(frame["service"])
    endpoint_codes, endpoints = pd.factorize(frame["endpoint"])
    pair_codes, pairs = pd.factorize(service_codes.astype(np.int64) * len(endpoints) + endpoint_codes)
    names = [(str(services[c // len(endpoints)]), str(endpoints[c % len(endpoints)])) for c in pairs.tolist()]
    requests = (frame["metric"] == "requests").to_numpy()
    traffic = pd.Series(frame["value"].to_numpy(dtype=float)[requests]).groupby(pair_codes[requests]).sum()
    by_traffic = dict(zip((names[c] for c in traffic.index), traffic.tolist(), strict=True))
    keys = sorted(by_traffic, key=lambda n: (-by_traffic[n], n))  # busiest first, ties in name order
    keys += sorted(set(names) - set(keys))
    return _every_series(frame, pair_codes, names, keys[:limit], start, end)


def every_service_series(workspace: Workspace, services: list[str], end: datetime,
                         days: int = 14) -> dict[str, dict[str, Any]]:
    """service -> what `service_series(workspace, service, None, end, days)` returns, read with
    one whole-domain rollup instead of one query per service."""
    end = end.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    with open_store(workspace.store_path, read_only=True) as store:
        frame = store.telemetry.rollup(None, METRICS, start, end, 3600).rename(columns={"bucket": "timestamp"})
    if frame.empty:
        return _every_series(frame, np.zeros(0, dtype=np.int64), [], services, start, end)
    codes, names = pd.factorize(frame["service"])
    return _every_series(frame, codes, [str(n) for n in names], services, start, end)


def _every_series(frame: pd.DataFrame, codes: np.ndarray, names: list[K], keys: list[K], start: datetime,
                  end: datetime) -> dict[K, dict[str, Any]]:
    """key -> what `perfops.usecases.reports._series_json` makes of the rows of `frame` whose
    code (a position in `names`) is that key's: the metrics' hourly values on one grid of
    (key, hour) per metric, filled in one step instead of one frame per key. A key without
    rows gets every slot empty (None), as a timestamp outside the slots is left out."""
    slots = pd.date_range(start, end, freq="h", inclusive="left")
    t = [int(s.timestamp()) for s in slots]
    row_of = {key: i for i, key in enumerate(keys)}
    wanted = np.array([row_of.get(n, -1) for n in names] or [-1], dtype=np.int64)
    grid = {m: np.full((len(keys), len(slots)), np.nan) for m in METRICS}
    if not frame.empty:
        row = wanted[codes]
        offset = (frame["timestamp"].to_numpy(dtype="datetime64[ns]") - np.datetime64(slots[0].to_datetime64(), "ns"))
        hour = np.timedelta64(1, "h")
        slot = offset // hour
        ok = (row >= 0) & (offset % hour == np.timedelta64(0, "ns")) & (slot >= 0) & (slot < len(slots))
        metric = frame["metric"].to_numpy()
        values = frame["value"].to_numpy(dtype=float)
        for m, cells in grid.items():
            take = ok & (metric == m)
            cells[row[take], slot[take]] = values[take]
    return {key: {"t": list(t), **{m: [None if v != v else round(v, 3) for v in grid[m][i].tolist()]
                                   for m in METRICS}}
            for i, key in enumerate(keys)}
