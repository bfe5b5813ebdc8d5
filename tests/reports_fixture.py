"""A small deterministic domain for the report, dashboard and digest tests (seeded, no clock):
3 squads, 6 services, three weeks of 15-minute telemetry with daily seasonality, two deploys,
hand-made findings (one caused by another squad's service) and a workflow history.

`hostile=True` puts `<script>` into an endpoint, a consumer, a finding title and a note, so the
tests can prove every output escapes them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from perfops.model.findings import Finding

NOW = datetime(2026, 11, 23, 0, 0)
XSS = "<script>alert(1)</script>"
XSS_CONSUMER = "<img src=x onerror=alert(2)>"

CATALOG = """\
domain: Payments
timezone: Australia/Sydney
currency: USD
squads:
  - name: checkout
    lead: Priya Shah
    webhook: http://127.0.0.1:9/hook/checkout
  - name: payments
    lead: Tom Ng
  - name: platform
services:
  - name: checkout-api
    squad: checkout
    tier: 1
    depends_on: [payments-api]
    slo: {availability: 99.9, latency_p95_ms: 300}
    nfr: {peak_tps: 50}
    capacity: {instances: 4, max_tps_per_instance: 40}
    cost: {instance_hourly: 0.2}
  - name: cart
    squad: checkout
    tier: 2
    slo: {availability: 99.5, latency_p95_ms: 250}
  - name: payments-api
    squad: payments
    tier: 1
    depends_on: [ledger]
    slo: {availability: 99.9, latency_p95_ms: 400}
  - name: ledger
    squad: payments
    tier: 2
  - name: auth
    squad: platform
    tier: 1
    slo: {availability: 99.95, latency_p95_ms: 150}
  - name: reporting
    squad: platform
    tier: 3
journeys:
  - name: purchase
    steps: ["cart:GET /cart", "checkout-api:POST /checkout", "payments-api:POST /pay"]
    latency_p95_ms: 1500
consumers:
  - name: web
    owner: Web team
"""

ENDPOINTS = {
    "checkout-api": ["POST /checkout", "GET /checkout/{id}"],
    "cart": ["GET /cart", "POST /cart/items"],
    "payments-api": ["POST /pay"],
    "ledger": ["POST /entries"],
    "auth": ["POST /token"],
    "reporting": [],  # no telemetry: shows as "no data"
}
BASE_RPS = {"checkout-api": 20, "cart": 60, "payments-api": 18, "ledger": 25, "auth": 90}
BASE_P95 = {"checkout-api": 180, "cart": 90, "payments-api": 240, "ledger": 60, "auth": 40}


def telemetry(hostile: bool = False, weeks: int = 3, step_min: int = 15) -> pd.DataFrame:
    rng = np.random.default_rng(42)
    stamps = pd.date_range(NOW - timedelta(days=7 * weeks), NOW, freq=f"{step_min}min", inclusive="left")
    hours = stamps.hour.to_numpy() + stamps.minute.to_numpy() / 60
    shape = 0.35 + np.exp(-((hours - 13) ** 2) / 18)
    frames = []
    for service, endpoints in ENDPOINTS.items():
        eps = list(endpoints) + ([XSS] if hostile and service == "cart" else [])
        for i, ep in enumerate(eps):
            req = BASE_RPS[service] * 60 * step_min * shape / (i + 1) * rng.normal(1, 0.05, len(stamps))
            p95 = BASE_P95[service] * (1 + 0.2 * shape) * rng.normal(1, 0.04, len(stamps))
            if service == "checkout-api" and ep == "POST /checkout":
                p95 = np.where(stamps >= NOW - timedelta(days=3), p95 * 1.9, p95)  # the regression
            if service == "payments-api":
                p95 = np.where(stamps >= NOW - timedelta(days=3), p95 * 1.5, p95)  # the slow dependency
            err = req * 0.0002 * rng.uniform(0.5, 1.5, len(stamps))
            for metric, values in (("requests", req), ("errors", err), ("latency_p95_ms", p95),
                                   ("latency_p50_ms", p95 * 0.5), ("cost", np.full(len(stamps), 0.05))):
                frames.append(pd.DataFrame({"timestamp": stamps, "service": service, "endpoint": ep,
                                            "consumer": "", "metric": metric, "value": values}))
        if service == "cart":
            for consumer in ["web", "partner-acme"] + ([XSS_CONSUMER] if hostile else []):
                frames.append(pd.DataFrame({"timestamp": stamps, "service": service, "endpoint": "GET /cart",
                                            "consumer": consumer, "metric": "requests", "value": 100.0}))
    frame = pd.concat(frames, ignore_index=True)
    frame["timestamp"] = frame["timestamp"].astype("datetime64[us]")
    return frame


def findings(hostile: bool = False) -> list[Finding]:
    slow_dep = Finding(
        kind="regression", severity="high", service="payments-api", squad="payments", metric="latency",
        endpoint="POST /pay", title="payments-api got 50% slower on POST /pay",
        detail="p95 rose from 260 ms to 390 ms on 20 Nov.", start=NOW - timedelta(days=3),
        recommendation="Check the ledger client pool.", impact={"requests_affected": 4_200_000}, key="pay-slow",
        evidence={"baseline_ms": 260.0, "observed_ms": 390.0, "change_pct": 50.0},
    )
    regression = Finding(
        kind="regression", severity="critical", service="checkout-api", squad="checkout", metric="latency",
        endpoint="POST /checkout", title="Checkout got 90% slower after deploy 2.3.1",
        detail="p95 rose from 210 ms to 400 ms right after the deploy.", start=NOW - timedelta(days=3),
        event="checkout-api 2.3.1", impact={"requests_affected": 5_100_000, "consumers_affected": 3},
        recommendation="Roll back 2.3.1 or profile POST /checkout.", key="co-slow",
    )
    upstream = Finding(
        kind="anomaly", severity="high", service="checkout-api", squad="checkout", metric="latency",
        endpoint="GET /checkout/{id}", title="Checkout status calls slow because payments-api is slow",
        detail="p95 up 40% while payments-api was slow.", start=NOW - timedelta(days=3),
        caused_by=slow_dep.id, impact={"requests_affected": 800_000}, key="co-upstream",
    )
    saving = Finding(
        kind="savings_opportunity", severity="medium", service="ledger", squad="payments", metric="cost",
        title="ledger is over-provisioned", detail="CPU at 12% on 8 instances.",
        recommendation="Run 4 instances instead of 8", impact={"monthly_savings": 1250.0}, key="ledger-save",
    )
    saturation = Finding(
        kind="saturation_risk", severity="high", service="auth", squad="platform", metric="traffic",
        title="auth reaches its capacity in about 24 days", detail="Traffic grows 4% a week.",
        impact={"days_to_saturation": 24}, key="auth-sat",
    )
    low = Finding(kind="anomaly", severity="low", service="cart", squad="checkout", metric="errors",
                  title="A short burst of cart errors", detail="12 errors in 5 minutes.", key="cart-burst",
                  start=NOW - timedelta(days=1), end=NOW - timedelta(days=1) + timedelta(minutes=5))
    out = [slow_dep, regression, upstream, saving, saturation, low]
    if hostile:
        out.append(Finding(kind="consumer_misuse", severity="high", service="cart", squad="checkout",
                           endpoint=XSS, consumer=XSS_CONSUMER, title=f"Consumer {XSS} retries in a storm",
                           detail=f"{XSS} sent 10x its norm.", key="xss", start=NOW - timedelta(days=2)))
    return out


def build_workspace(root: Path, hostile: bool = False, ack: bool = True) -> Path:
    """Write perfops.yaml, load telemetry, events and findings into the store; return root."""
    from perfops.store import open_store
    from perfops.workspace import Workspace

    root.mkdir(parents=True, exist_ok=True)
    (root / "perfops.yaml").write_text(CATALOG)
    ws = Workspace(root)
    events = pd.DataFrame({
        "timestamp": [NOW - timedelta(days=3, minutes=10), NOW - timedelta(days=10)],
        "service": ["checkout-api", "cart"], "type": ["deploy", "deploy"], "version": ["2.3.1", "1.8.0"],
        "description": ["release", "release"],
    })
    events["timestamp"] = events["timestamp"].astype("datetime64[us]")
    with open_store(ws.store_path) as store:
        with store.transaction():
            store.telemetry.upsert(telemetry(hostile))
            store.telemetry.insert_events(events)
        store.findings.save_analysis(findings(hostile), at=NOW - timedelta(days=2))
        if ack:
            fid = findings()[0].id
            store.findings.set_status(fid, "acknowledged", "acknowledged", "Tom Ng", "looking at the pool")
            if hostile:
                store.findings.comment(fid, XSS, f"note {XSS}")
        record_run(store, ws.load_catalog(), NOW, timedelta(days=7), len(findings(hostile)))
    return root


def record_run(store, catalog, now: datetime, period: timedelta, count: int) -> int:
    """Record an analysis run with the figures `analyze` would store for it (the findings are
    the hand-made ones already in the store)."""
    from dataclasses import replace

    from perfops.analysis.figures import compute_figures, inventory_figures
    from perfops.store.findings_repo import FindingFilter
    from perfops.usecases.analyze import stored_rollups
    from perfops.usecases.context import build_context

    ctx = build_context(store, catalog, now=now, period=period)
    active = [f for f in store.findings.list(FindingFilter(status="all")) if f.status != "resolved"]
    figures = replace(compute_figures(ctx, active), rollups=stored_rollups(store, ctx),
                      inventory=inventory_figures(store.telemetry.inventory()))
    with store.transaction():
        return store.analysis_runs.record(now - period, now, count, figures)


def report_context(ctx, findings=()):
    """The ReportContext a report of `ctx`'s period reads: the figures `analyze` would store for
    it (through their JSON form, as the store keeps them) and the context's catalog and data."""
    from perfops.analysis.figures import compute_figures
    from perfops.model.figures import AnalysisRun, FigureSet
    from perfops.reports.section import ReportContext

    computed = compute_figures(ctx, [f for f in findings if f.status != "resolved"])
    figures = FigureSet.from_records([(kind, service, type(figure).model_validate_json(figure.model_dump_json()))
                                      for kind, service, figure in computed.records()])
    run = AnalysisRun(id=1, at=ctx.now, period_start=ctx.period_start, period_end=ctx.now, findings=len(findings))
    return ReportContext(catalog=ctx.catalog, run=run, figures=figures, events=ctx.events, test_runs=ctx.test_runs,
                         load_telemetry=ctx.load_telemetry)


def build_two_runs(root: Path) -> Path:
    """The reports fixture with two stored runs: the week ending NOW (recorded first) and the
    week before it (recorded second, so it is the newest run by id)."""
    from perfops.store import open_store
    from perfops.workspace import Workspace

    build_workspace(root)
    ws = Workspace(root)
    with open_store(ws.store_path) as store:
        record_run(store, ws.load_catalog(), NOW - timedelta(days=7), timedelta(days=7), 3)
    return root
