"""A small synthetic domain for the trends tests: seasonal telemetry with injected incidents.

Not a test module (no test_ prefix): the trends tests import it. Five weeks at 5 minutes:
four weeks of history and the analysed week. Ground truth is returned with the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from perfops.analysis.context import AnalysisContext

STEP = timedelta(minutes=5)
NOW = datetime(2026, 3, 2, 0, 0)  # a Monday
PERIOD = timedelta(days=7)
HISTORY = timedelta(days=28)

CATALOG = """\
domain: Shop
squads:
  - name: checkout
  - name: payments
  - name: platform
services:
  - name: checkout-api
    squad: checkout
    tier: 1
    depends_on: [payments]
    slo: {availability: 99.5, latency_p95_ms: 400}
  - name: payments
    squad: payments
    tier: 1
    depends_on: [ledger]
  - name: ledger
    squad: platform
    tier: 2
  - name: search
    squad: platform
    tier: 2
"""


@dataclass
class World:
    telemetry: pd.DataFrame
    events: pd.DataFrame
    truth: list[dict] = field(default_factory=list)


def times() -> pd.DatetimeIndex:
    return pd.date_range(NOW - PERIOD - HISTORY, NOW - STEP, freq=STEP)


def _daily(t: pd.DatetimeIndex) -> np.ndarray:
    hour = t.hour.to_numpy() + t.minute.to_numpy() / 60
    weekend = (t.dayofweek.to_numpy() >= 5).astype(float)
    return (1.0 + 0.8 * np.sin((hour - 9) / 24 * 2 * np.pi)) * (1 - 0.35 * weekend)


def series(rng: np.random.Generator, service: str, endpoint: str, base_rps: float, base_ms: float,
           t: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    shape = _daily(t)
    req = rng.poisson(base_rps * 300 * shape).astype(float)
    lat = base_ms * (1 + 0.15 * shape) * rng.lognormal(0, 0.06, t.size)
    err = rng.binomial(req.astype(np.int64), 0.002).astype(float)
    cpu = np.clip(20 + 25 * shape + rng.normal(0, 2, t.size), 0, 100)
    mem = np.clip(45 + rng.normal(0, 1.5, t.size), 0, 100)
    return {"requests": req, "latency_p95_ms": lat, "errors": err, "cpu_pct": cpu, "memory_pct": mem}


def long_form(service: str, endpoint: str, t: pd.DatetimeIndex, metrics: dict[str, np.ndarray]) -> pd.DataFrame:
    parts = []
    for name, values in metrics.items():
        parts.append(pd.DataFrame({"timestamp": t, "service": service, "endpoint": endpoint, "consumer": "",
                                   "metric": name, "value": values}))
    return pd.concat(parts, ignore_index=True)


def build(seed: int = 3, incidents: bool = True) -> World:
    rng = np.random.default_rng(seed)
    t = times()
    data = {
        ("checkout-api", ""): series(rng, "checkout-api", "", 40, 180, t),
        ("payments", ""): series(rng, "payments", "", 30, 120, t),
        ("ledger", ""): series(rng, "ledger", "", 20, 60, t),
        ("search", ""): series(rng, "search", "", 25, 90, t),
    }
    # a history outlier (must not poison the norm): a 2-hour latency spike 2 weeks ago
    spike = (t >= NOW - timedelta(days=15, hours=3)) & (t < NOW - timedelta(days=15, hours=1))
    data[("search", "")]["latency_p95_ms"][spike] *= 4
    events = [{"timestamp": NOW - timedelta(days=9, hours=4), "service": "search", "type": "deploy",
               "version": "7.1.0", "description": ""}]
    truth: list[dict] = []
    if incidents:
        truth = _inject(data, t, events)
    frames = [long_form(s, e, t, m) for (s, e), m in data.items()]
    return World(pd.concat(frames, ignore_index=True), pd.DataFrame(events), truth)


def _inject(data, t, events) -> list[dict]:
    truth = []
    # 1. payments regresses after deploy 4.2.0 (latency x1.8), checkout-api is slowed by it
    deploy = NOW - timedelta(days=3, hours=10, minutes=2)
    shift = NOW - timedelta(days=3, hours=10) + timedelta(minutes=5)
    events.append({"timestamp": deploy, "service": "payments", "type": "deploy", "version": "4.2.0", "description": ""})
    after = t >= shift
    data[("payments", "")]["latency_p95_ms"][after] *= 1.8
    data[("checkout-api", "")]["latency_p95_ms"][after] += 0.8 * 120 * 1.15
    truth.append({"service": "payments", "kind": "regression", "metric": "latency", "start": shift,
                  "event": "payments 4.2.0"})
    truth.append({"service": "checkout-api", "kind": "regression", "metric": "latency", "start": shift,
                  "caused_by_service": "payments"})
    # 2. a 40-minute error spike on checkout-api
    e0 = NOW - timedelta(days=5, hours=14)
    spike = (t >= e0) & (t < e0 + timedelta(minutes=40))
    req = data[("checkout-api", "")]["requests"]
    data[("checkout-api", "")]["errors"][spike] = np.round(req[spike] * 0.08)
    truth.append({"service": "checkout-api", "kind": "anomaly", "metric": "errors", "start": e0})
    # 3. search traffic drops by 70 % for 3 hours on a weekday afternoon
    d0 = NOW - timedelta(days=2, hours=9)
    drop = (t >= d0) & (t < d0 + timedelta(hours=1))
    data[("search", "")]["requests"][drop] *= 0.3
    data[("search", "")]["errors"][drop] = np.round(data[("search", "")]["errors"][drop] * 0.3)
    truth.append({"service": "search", "kind": "anomaly", "metric": "traffic", "start": d0})
    # 4. ledger memory leak over the last 6 days
    leak = t >= NOW - timedelta(days=6)
    days = (t[leak] - (NOW - timedelta(days=6))).total_seconds().to_numpy() / 86400
    data[("ledger", "")]["memory_pct"][leak] += 6.0 * days
    truth.append({"service": "ledger", "kind": "resource_growth", "metric": "memory", "start": NOW - timedelta(days=6)})
    return truth


def context(world: World, catalog, **overrides) -> AnalysisContext:
    frame = world.telemetry

    def load(services, metrics, start, end):
        sel = frame
        if services is not None:
            sel = sel[sel["service"].isin(list(services))]
        if metrics is not None:
            sel = sel[sel["metric"].isin(list(metrics))]
        return sel[(sel["timestamp"] >= start) & (sel["timestamp"] < end)]

    kw = {"catalog": catalog, "now": NOW, "period": PERIOD, "history": HISTORY, "load_telemetry": load,
          "events": world.events}
    kw.update(overrides)
    return AnalysisContext(**kw)
