"""Every service's chart series in one store read, for the dashboard to keep ready: while an
ingest holds the store, a chart never opened before can then still be drawn from what was read
(see perfops.web.data.DashboardData.warm_series)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from perfops.store import open_store
from perfops.usecases.reports import _series_json
from perfops.workspace import Workspace

METRICS = ["requests", "errors", "latency_p95_ms"]


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
    traffic = frame[frame["metric"] == "requests"].groupby(["service", "endpoint"])["value"].sum()
    keys = list(traffic.sort_values(ascending=False, kind="stable").index)
    keys += sorted(set(zip(frame["service"], frame["endpoint"], strict=True)) - set(keys))
    groups = dict(tuple(frame.groupby(["service", "endpoint"])))
    return {key: _series_json(groups[key][["timestamp", "metric", "value"]], start, end) for key in keys[:limit]}


def every_service_series(workspace: Workspace, services: list[str], end: datetime,
                         days: int = 14) -> dict[str, dict[str, Any]]:
    """service -> what `service_series(workspace, service, None, end, days)` returns, read with
    one whole-domain rollup instead of one query per service."""
    end = end.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    with open_store(workspace.store_path, read_only=True) as store:
        frame = store.telemetry.rollup(None, METRICS, start, end, 3600).rename(columns={"bucket": "timestamp"})
    groups = dict(tuple(frame.groupby("service", observed=True))) if not frame.empty else {}
    empty = frame.iloc[0:0]
    return {name: _series_json(groups.get(name, empty), start, end) for name in services}
