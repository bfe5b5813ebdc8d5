"""What production does: the peak hour (or day) of a service, its rates and mix per endpoint,
its latency and error rate there, and the hours at a given load (for like-for-like comparison).

Pure: a long-form telemetry frame (perfops.model.tables) in, a `ProductionProfile` out.
Rates are averages over the peak window (requests in the hour / 3600 s), the figure a load test
must sustain; the busiest single step is kept too (`peak_step_rps`). Latency at the peak is the
request-weighted mean of the per-step p95s (an approximation: p95s do not add; documented in
docs/methods/feedback.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from perfops.analysis.steps import median_gap

if TYPE_CHECKING:
    from _typeshed import ConvertibleToFloat

Window = Literal["peak-hour", "peak-day"]
WINDOW_SECONDS = {"peak-hour": 3600, "peak-day": 86400}


@dataclass(frozen=True)
class EndpointRate:
    endpoint: str
    rps: float  # average requests per second over the window
    share: float  # of the service's requests in the window, 0..1
    latency_p95_ms: float | None
    error_rate: float | None  # 0..1


@dataclass(frozen=True)
class ProductionProfile:
    service: str
    window: Window
    start: datetime  # of the peak window
    end: datetime
    rps: float  # service requests per second over the window
    peak_step_rps: float  # the busiest single telemetry step
    latency_p95_ms: float | None
    error_rate: float | None
    endpoints: list[EndpointRate] = field(default_factory=list)
    hourly: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)  # per hour & endpoint

    @property
    def mix(self) -> dict[str, float]:
        return {e.endpoint: e.share for e in self.endpoints}


def _service_rows(frame: pd.DataFrame, service: str) -> pd.DataFrame:
    rows = frame[(frame["service"] == service)]
    if "consumer" in rows.columns:
        rows = rows[rows["consumer"].fillna("") == ""]
    return rows


def _wide(rows: pd.DataFrame) -> pd.DataFrame:
    """timestamp, endpoint -> requests, errors, latency_p95_ms; service totals as endpoint ''
    (from '' rows when telemetry has them, else the sum of the endpoints)."""
    metrics = ["requests", "errors", "latency_p95_ms"]
    rows = rows[rows["metric"].isin(metrics)]
    wide = rows.pivot_table(index=["timestamp", "endpoint"], columns="metric", values="value", aggfunc="sum", observed=True)
    wide = wide.reindex(columns=metrics).reset_index()
    wide["endpoint"] = wide["endpoint"].astype(object).fillna("").astype(str)  # a categorical read may lack the '' category
    per_ep = wide[wide["endpoint"] != ""]
    if not (wide["endpoint"] == "").any() and not per_ep.empty:
        per_ep_lat = per_ep.assign(_w=per_ep["latency_p95_ms"] * per_ep["requests"])
        total = per_ep_lat.groupby("timestamp", as_index=False, observed=True).agg(
            requests=("requests", "sum"), errors=("errors", "sum"), _w=("_w", "sum"))
        total["latency_p95_ms"] = total["_w"] / total["requests"].where(total["requests"] > 0)
        total["endpoint"] = ""
        wide = pd.concat([wide, total.drop(columns="_w")], ignore_index=True)
    return wide


def hourly_table(frame: pd.DataFrame, service: str, bucket: str = "h") -> pd.DataFrame:
    """Per hour (or day) and endpoint: requests, errors, request-weighted p95, step count."""
    rows = _service_rows(frame, service)
    if rows.empty:
        return pd.DataFrame(columns=["bucket", "endpoint", "requests", "errors", "latency_p95_ms", "max_step_rps"])
    wide = _wide(rows)
    wide["timestamp"] = pd.to_datetime(wide["timestamp"])
    wide["bucket"] = wide["timestamp"].dt.floor(bucket)
    step = _step_seconds(wide)
    wide["_w"] = wide["latency_p95_ms"] * wide["requests"]
    wide["_wn"] = wide["requests"].where(wide["latency_p95_ms"].notna(), 0.0)
    wide["_rps"] = wide["requests"] / step
    out = wide.groupby(["bucket", "endpoint"], as_index=False, observed=True).agg(
        requests=("requests", "sum"), errors=("errors", "sum"), _w=("_w", "sum"), _wn=("_wn", "sum"),
        max_step_rps=("_rps", "max"))
    out["latency_p95_ms"] = out["_w"] / out["_wn"].where(out["_wn"] > 0)
    return out.drop(columns=["_w", "_wn"])


def _step_seconds(wide: pd.DataFrame) -> float:
    """The step of the service's own rows; a minute when it cannot be told."""
    return median_gap(wide.loc[wide["endpoint"] == "", "timestamp"].to_numpy()) or 60.0


def production_profile(frame: pd.DataFrame, service: str, window: Window = "peak-hour") -> ProductionProfile | None:
    """The busiest hour (or day) of `service` in `frame`, or None without request telemetry."""
    bucket = "h" if window == "peak-hour" else "D"
    table = hourly_table(frame, service, bucket)
    totals = table[table["endpoint"] == ""]
    if totals.empty or not (totals["requests"] > 0).any():
        return None
    peak = totals.loc[totals["requests"].idxmax()]
    seconds = WINDOW_SECONDS[window]
    in_peak = table[table["bucket"] == peak["bucket"]]
    service_requests = float(peak["requests"])
    endpoints = [
        EndpointRate(
            endpoint=str(r["endpoint"]), rps=float(r["requests"]) / seconds,
            share=float(r["requests"]) / service_requests if service_requests else 0.0,
            latency_p95_ms=_num(r["latency_p95_ms"]), error_rate=_rate(r["errors"], r["requests"]),
        )
        for r in in_peak[in_peak["endpoint"] != ""].sort_values("requests", ascending=False).to_dict("records")
        if r["requests"] > 0
    ]
    start = pd.Timestamp(peak["bucket"]).to_pydatetime()
    hourly = hourly_table(frame, service, "h") if window != "peak-hour" else table
    return ProductionProfile(
        service=service, window=window, start=start, end=start + timedelta(seconds=seconds),
        rps=service_requests / seconds, peak_step_rps=float(totals["max_step_rps"].max()),
        latency_p95_ms=_num(peak["latency_p95_ms"]), error_rate=_rate(peak["errors"], peak["requests"]),
        endpoints=endpoints, hourly=hourly,
    )


def comparable_hours(profile: ProductionProfile, rps: float, tolerance: float = 0.25) -> pd.DataFrame:
    """Per endpoint, production latency and error rate over the hours whose service load was
    within ±tolerance of `rps` (like-for-like with a test run at that load)."""
    hourly = profile.hourly
    totals = hourly[hourly["endpoint"] == ""]
    hour_rps = totals["requests"] / 3600.0
    hours = totals.loc[(hour_rps >= rps * (1 - tolerance)) & (hour_rps <= rps * (1 + tolerance)), "bucket"]
    rows = hourly[hourly["bucket"].isin(set(hours))].copy()
    if rows.empty:
        return pd.DataFrame(columns=["endpoint", "hours", "latency_p95_ms", "error_rate"])
    rows["_w"] = rows["latency_p95_ms"] * rows["requests"]
    rows["_wn"] = rows["requests"].where(rows["latency_p95_ms"].notna(), 0.0)
    out = rows.groupby("endpoint", as_index=False, observed=True).agg(
        hours=("bucket", "nunique"), requests=("requests", "sum"), errors=("errors", "sum"),
        _w=("_w", "sum"), _wn=("_wn", "sum"))
    out["latency_p95_ms"] = out["_w"] / out["_wn"].where(out["_wn"] > 0)
    out["error_rate"] = out["errors"] / out["requests"].where(out["requests"] > 0)
    return out[["endpoint", "hours", "latency_p95_ms", "error_rate"]]


def _num(value: ConvertibleToFloat | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(number) else number


def _rate(errors: ConvertibleToFloat | None, requests: ConvertibleToFloat | None) -> float | None:
    e, r = _num(errors), _num(requests)
    if r is None or r <= 0 or e is None:
        return None
    return e / r
