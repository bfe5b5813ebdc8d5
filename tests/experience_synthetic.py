"""A small synthetic domain with seeded experience incidents, shared by the experience tests.

Seeds (all within the last 7 days before NOW unless said):
- payments misses its 99.9% availability SLO over 28 days (0.3% errors all along);
- checkout-api burns its budget at ~20x for 2 hours (2% errors, 99.9% SLO);
- the `purchase` journey degrades: web GET /product p95 100 -> 450 ms for 12 hours;
- consumer `globex` gets ~25% 4xx from checkout-api while peers get < 1%;
- consumer `initech` polls checkout-api 10x its norm for the last 2 days;
- consumer `hooli` calls the deprecated `GET /v1/cart`.
Well-behaved consumers: acme, umbrella.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from perfops.analysis.context import AnalysisContext
from perfops.workspace import parse_catalog

NOW = datetime(2026, 3, 1)
STEP = timedelta(minutes=5)
DAYS = 35

CATALOG = """\
domain: Shop
squads: [{name: storefront}, {name: checkout}, {name: payments}]
services:
  - name: web
    squad: storefront
    tier: 1
    slo: {availability: 99.5, latency_p95_ms: 2000}
  - name: checkout-api
    squad: checkout
    tier: 1
    depends_on: [payments]
    slo: {availability: 99.9, latency_p95_ms: 300, window: 28d}
    deprecated_endpoints: ["GET /v1/cart"]
  - name: payments
    squad: payments
    tier: 1
    slo: {availability: 99.9, window: 28d}
journeys:
  - name: purchase
    steps: ["web:GET /product", "checkout-api:POST /checkout", "payments:POST /pay"]
    latency_p95_ms: 1500
consumers: [{name: acme}, {name: globex}, {name: initech}, {name: umbrella}, {name: hooli}]
"""

CONSUMERS = ("acme", "globex", "initech", "umbrella", "hooli")


def catalog():
    return parse_catalog(CATALOG)


def _grid() -> pd.DatetimeIndex:
    return pd.date_range(NOW - timedelta(days=DAYS), NOW, freq=STEP, inclusive="left")


def _rows(ts, service, endpoint, consumer, requests, errors, client_errors, p95) -> pd.DataFrame:
    parts = []
    for metric, values in (("requests", requests), ("errors", errors), ("client_errors", client_errors),
                           ("latency_p50_ms", p95 * 0.45), ("latency_p95_ms", p95), ("latency_p99_ms", p95 * 1.6),
                           ("latency_max_ms", p95 * 3)):
        parts.append(pd.DataFrame({"timestamp": ts, "service": service, "endpoint": endpoint, "consumer": consumer,
                                   "metric": metric, "value": np.asarray(values, dtype=float)}))
    return pd.concat(parts, ignore_index=True)


def _window(ts: pd.DatetimeIndex, start: datetime, hours: float) -> np.ndarray:
    return np.asarray((ts >= start) & (ts < start + timedelta(hours=hours)))


def telemetry(seed: int = 7, incidents: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = _grid()
    hour = ts.hour.to_numpy()
    daily = 1 + 0.5 * np.sin((hour - 6) / 24 * 2 * np.pi)
    frames = []

    def counts(rate, err_rate, cerr_rate):
        req = rng.poisson(rate * daily)
        return req, rng.binomial(req, err_rate), rng.binomial(req, cerr_rate)

    # web GET /product
    req, err, cerr = counts(600, 0.0005, 0.005)
    p95 = 100 + rng.normal(0, 5, len(ts))
    if incidents:
        p95 = np.where(_window(ts, NOW - timedelta(days=3), 12), 450 + rng.normal(0, 10, len(ts)), p95)
    frames += [_rows(ts, "web", "GET /product", "", req, err, cerr, p95), _rows(ts, "web", "", "", req, err, cerr, p95)]

    # payments POST /pay: 0.3% errors all along (SLO 99.9 missed)
    req, err, cerr = counts(300, 0.003 if incidents else 0.0003, 0.002)
    p95 = 200 + rng.normal(0, 5, len(ts))
    frames += [_rows(ts, "payments", "POST /pay", "", req, err, cerr, p95),
               _rows(ts, "payments", "", "", req, err, cerr, p95)]

    frames += _checkout(ts, daily, rng, incidents)
    return pd.concat(frames, ignore_index=True)


def _checkout(ts, daily, rng, incidents: bool) -> list[pd.DataFrame]:
    n = len(ts)
    burst = _window(ts, NOW - timedelta(days=2, hours=10), 2) if incidents else np.zeros(n, dtype=bool)
    polling = np.asarray(ts >= NOW - timedelta(days=2)) if incidents else np.zeros(n, dtype=bool)
    base = {"acme": 120.0, "globex": 80.0, "initech": 40.0, "umbrella": 100.0, "hooli": 60.0}
    per = {}
    for consumer, rate in base.items():
        factor = np.where(polling, 10.0, 1.0) if consumer == "initech" else 1.0
        req = rng.poisson(rate * daily * factor)
        err_rate = np.where(burst, 0.02, 0.00005)
        cerr_rate = 0.25 if (consumer == "globex" and incidents) else 0.004
        per[consumer] = (req, rng.binomial(req, err_rate), rng.binomial(req, cerr_rate))
    p95 = 180 + rng.normal(0, 5, n)
    frames = []
    total = [sum(per[c][i] for c in per) for i in range(3)]
    for consumer, (req, err, cerr) in per.items():
        frames.append(_rows(ts, "checkout-api", "", consumer, req, err, cerr, p95))
    frames.append(_rows(ts, "checkout-api", "", "", *total, p95))
    checkout_share = 0.7
    frames.append(_rows(ts, "checkout-api", "POST /checkout", "", np.round(total[0] * checkout_share),
                        np.round(total[1] * checkout_share), np.round(total[2] * checkout_share), p95))
    old = per["hooli"][0] // 10 if incidents else np.zeros(n)
    frames.append(_rows(ts, "checkout-api", "GET /v1/cart", "hooli", old, 0 * old, 0 * old, p95))
    return frames


def context(frame: pd.DataFrame, now: datetime = NOW, period_days: int = 7, **params) -> AnalysisContext:
    frame = frame.copy()
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])

    def load(services, metrics, start, end):
        rows = frame[(frame["timestamp"] >= start) & (frame["timestamp"] < end)]
        if services is not None:
            rows = rows[rows["service"].isin(list(services))]
        if metrics is not None:
            rows = rows[rows["metric"].isin(list(metrics))]
        return rows.reset_index(drop=True)

    return AnalysisContext(catalog=catalog(), now=now, period=timedelta(days=period_days),
                           history=timedelta(days=21), load_telemetry=load, params={"experience": params})
