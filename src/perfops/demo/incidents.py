"""The seeded incidents of the demo and its ground truth.

Every incident is declared once, here: what kind of finding it should produce, on which
service, when, how severe at least, and the `Effect`s that put it into the telemetry (or the
catalog fact / test run that makes it). Times are anchored on `day0`, the UTC midnight of the
period's last day, so incidents fall at sensible hours whatever `end` is; all fall inside the
last 7 days (the default analysis period) unless the kind needs history.

Matching rule for tests (see docs/demo.md): a finding is explained by an incident when its kind
and service equal the incident's, or when (kind, service) is one of the incident's `related`
pairs — consequences a careful analysis may also report (a caller's regression caused by a slow
dependency, the cost side of a scaling event). Service "*" in `related` matches any service.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from perfops.demo.effects import Effect
from perfops.demo.routine import Event, blocked_windows, routine_events
from perfops.demo.telemetry import Gap
from perfops.model.findings import KINDS, SEVERITIES, severity_rank

H = timedelta(hours=1)
D = timedelta(days=1)
_S = timedelta(seconds=1)


@dataclass(frozen=True)
class SeededIncident:
    """One seeded condition the analysis must find (ground truth)."""

    kind: str
    category: str
    service: str
    endpoint: str | None
    consumer: str | None
    metric: str | None
    start: datetime
    end: datetime | None
    expected_min_severity: str
    details: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    title: str = ""
    event: str | None = None  # the event it follows, as findings name it: "payments 4.2.0"
    related: tuple[tuple[str, str], ...] = ()  # (kind, service) it may also cause; "*" = any service

    def __post_init__(self) -> None:
        if KINDS.get(self.kind) != self.category:
            raise ValueError(f"incident {self.id}: kind '{self.kind}' is not in category '{self.category}'")
        if self.expected_min_severity not in SEVERITIES:
            raise ValueError(f"incident {self.id}: unknown severity '{self.expected_min_severity}'")

    def explains(self, kind: str, service: str) -> bool:
        """Whether a finding of `kind` on `service` is this incident or one of its consequences."""
        if kind == self.kind and service == self.service:
            return True
        return any(k == kind and s in ("*", service) for k, s in self.related)

    def severe_enough(self, severity: str) -> bool:
        return severity_rank(severity) <= severity_rank(self.expected_min_severity)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"] = _iso(self.start)
        out["end"] = _iso(self.end) if self.end else None
        out["related"] = [list(r) for r in self.related]
        return out


@dataclass(frozen=True)
class TestRunPlan:
    """A performance-test run to write as the tool would (see perfops.demo.loadtests).

    mix: endpoint -> share of samples; p50_ms / p95_ms per endpoint; error_pct per run."""

    __test__ = False  # not a pytest test class, despite its name

    run_id: str
    tool: str  # jmeter | locust
    service: str
    start: datetime
    duration_s: int
    tps: float
    mix: dict[str, float]
    p50_ms: dict[str, float]
    p95_ms: dict[str, float]
    error_pct: float = 0.1
    users: int = 50
    base_url: str = "https://perf.shop.example"


@dataclass(frozen=True)
class Scenario:
    """Everything the generator needs beyond the domain: what happens, and when."""

    day0: datetime
    incidents: list[SeededIncident]
    effects: list[Effect]
    events: list[Event]
    gaps: list[Gap]
    test_runs: list[TestRunPlan]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- the incidents ---------------------------------------------------------------------------
def trends_incidents(day0: datetime) -> tuple[list[SeededIncident], list[Effect], list[Event]]:
    """(1)-(5): regression after a deploy, error spike, traffic drop, slow dependency, leak."""
    cart_deploy = day0 - 6 * D + 10.5 * H
    pay_deploy = day0 - 5 * D + 14 * H
    leak_deploy = day0 - 6 * D + 9 * H
    spike = (day0 - 4 * D + 15 * H + 20 * 60 * _S, day0 - 4 * D + 16 * H)
    drop = (day0 - 3 * D + 12 * H, day0 - 3 * D + 14 * H)
    effects = [
        Effect("latency", "cart", "scale", 1.6, cart_deploy, endpoint="POST /cart/items"),
        Effect("error_pct", "inventory", "set", 8.0, *spike),
        Effect("traffic", "search", "scale", 0.4, *drop),
        Effect("latency", "payments", "scale", 1.7, pay_deploy, endpoint="POST /payments"),
        Effect("memory", "pricing", "ramp", 5.0, leak_deploy),
    ]
    events = [
        Event(cart_deploy, "cart", "deploy", "3.8.0", "cart 3.8.0: basket rules engine rewrite"),
        Event(pay_deploy, "payments", "deploy", "4.2.0", "payments 4.2.0: 3-D Secure 2 flow for all card payments"),
        Event(leak_deploy, "pricing", "deploy", "2.14.0", "pricing 2.14.0: promotion cache"),
    ]
    incidents = [
        SeededIncident(
            "regression", "trends", "cart", "POST /cart/items", None, "latency", cart_deploy, None, "high",
            {"factor": 1.6, "change_pct": 60, "deploy": "cart 3.8.0"}, id="cart-latency-regression",
            title="cart POST /cart/items got 60% slower right after the cart 3.8.0 deploy",
            event="cart 3.8.0", related=(("journey_degradation", "*"),)),
        SeededIncident(
            "anomaly", "trends", "inventory", None, None, "errors", spike[0], spike[1], "medium",
            {"error_pct_before": 0.2, "error_pct_during": 8.0, "minutes": 40}, id="inventory-error-spike",
            title="inventory returned 8% server errors for 40 minutes (normally 0.2%)",
            related=(("error_budget_burn", "inventory"), ("anomaly", "cart"), ("anomaly", "checkout-api"))),
        SeededIncident(
            "anomaly", "trends", "search", None, None, "traffic", drop[0], drop[1], "medium",
            {"factor": 0.4, "change_pct": -60, "minutes": 120}, id="search-traffic-drop",
            title="search lost 60% of its traffic for 2 hours at lunchtime",
            related=(("data_gap", "search"),)),
        SeededIncident(
            "regression", "trends", "payments", "POST /payments", None, "latency", pay_deploy, None, "high",
            {"factor": 1.7, "change_pct": 70, "deploy": "payments 4.2.0",
             "callers": {"checkout-api": "POST /checkout"}}, id="payments-slow-dependency",
            title="payments 4.2.0 made POST /payments 70% slower; checkout-api's POST /checkout slowed with it",
            event="payments 4.2.0",
            related=(("regression", "checkout-api"), ("anomaly", "checkout-api"), ("journey_degradation", "*"),
                     ("test_regression", "checkout-api"), ("anomaly", "payments"), ("nfr_mismatch", "payments"),
                     ("nfr_mismatch", "checkout-api"))),
        SeededIncident(
            "resource_growth", "trends", "pricing", None, None, "memory", leak_deploy, None, "medium",
            {"ramp_pct_per_day": 5.0, "deploy": "pricing 2.14.0", "memory_pct_before": 42},
            id="pricing-memory-leak",
            title="pricing memory grows 5 points a day since 2.14.0 while its traffic does not",
            event="pricing 2.14.0", related=(("anomaly", "pricing"), ("regression", "pricing"))),
    ]
    return incidents, effects, events



def capacity_incidents(day0: datetime, start: datetime, end: datetime,
                       ) -> tuple[list[SeededIncident], list[Effect], list[Event]]:
    """(6)-(9): saturation risk, under- and over-provisioned, volume growth."""
    launch = day0 - 6 * D + 9 * H
    period = end - 7 * D
    effects = [
        Effect("traffic", "catalog", "grow", 0.035, start),
        Effect("traffic", "recommendations", "scale", 1.48, launch),
    ]
    events = [Event(launch, "recommendations", "config", "", "recommendations carousel enabled on product pages")]
    incidents = [
        SeededIncident(
            "saturation_risk", "capacity", "catalog", None, None, "traffic", period, None, "medium",
            {"growth_pct_per_week": 3.5, "capacity_tps": 6 * 68, "instances": 6, "max_tps_per_instance": 68,
             "expected_days_to_saturation": [30, 60],
             "formula": "days = 7 × ln(capacity_tps / current_peak_tps) / ln(1 + weekly_growth)"},
            id="catalog-saturation-risk",
            title="catalog traffic grows 3.5% a week and will pass its 408 req/s capacity in 5 to 6 weeks",
            related=(("volume_growth", "catalog"), ("under_provisioned", "catalog"))),
        SeededIncident(
            "under_provisioned", "capacity", "fraud", None, None, "cpu", period, None, "medium",
            {"cpu_target_pct": 70, "peak_cpu_pct_about": 88}, id="fraud-under-provisioned",
            title="fraud peaks at about 88% CPU, above its 70% target"),
        SeededIncident(
            "over_provisioned", "capacity", "ledger", None, None, "traffic", period, None, "low",
            {"instances": 12, "max_tps_per_instance": 50}, id="ledger-over-provisioned",
            title="ledger runs 12 instances whose peak needs 5",
            related=(("savings_opportunity", "ledger"),)),
        SeededIncident(
            "savings_opportunity", "cost", "ledger", None, None, "cost", period, None, "low",
            {"instances": 12, "instance_hourly": 0.192,
             "formula": "needed = ceil(peak_tps / (max_tps_per_instance × cpu_target_pct/100)); "
                        "monthly_savings = (instances - needed) × instance_hourly × 730"},
            id="ledger-savings", title="ledger could run 5 instances instead of 12",
            related=(("over_provisioned", "ledger"),)),
        SeededIncident(
            "volume_growth", "capacity", "recommendations", None, None, "traffic", launch, None, "low",
            {"factor": 1.48, "expected_week_over_week_pct_about": 35},
            id="recommendations-volume-growth",
            title="recommendations traffic jumped about 35% week over week after the carousel launch",
            related=(("anomaly", "recommendations"), ("regression", "recommendations"),
                     ("saturation_risk", "recommendations"), ("unit_cost_increase", "recommendations"))),
    ]
    return incidents, effects, events


def cost_incidents(day0: datetime) -> tuple[list[SeededIncident], list[Effect], list[Event]]:
    """(10)-(11): a day of 3× spend, and cost per 1,000 requests up a third."""
    up, down = day0 - 4 * D + 6 * H, day0 - 3 * D + 6 * H
    identity_scale = day0 - 7 * D + 11 * H
    effects = [
        Effect("instances", "search", "set", 18, up, down),
        Effect("instances", "identity", "set", 8, identity_scale),
    ]
    events = [
        Event(up, "search", "scaling", "", "search scaled 6 -> 18 instances for a full reindex"),
        Event(down, "search", "scaling", "", "search scaled back 18 -> 6 instances"),
        Event(identity_scale, "identity", "scaling", "", "identity minimum replicas 6 -> 8 for the autumn sale"),
    ]
    incidents = [
        SeededIncident(
            "cost_anomaly", "cost", "search", None, None, "cost", up, down, "low",
            {"factor": 3.0, "hours": 24, "extra_spend": round(12 * 0.384 * 24, 2)}, id="search-cost-spike",
            title="search spent 3× its normal daily cost for one day (reindex at 18 instances)",
            related=(("unit_cost_increase", "search"), ("over_provisioned", "search"),
                     ("savings_opportunity", "search"), ("anomaly", "search"), ("improvement", "search"))),
        SeededIncident(
            "unit_cost_increase", "cost", "identity", None, None, "cost", identity_scale, None, "low",
            {"instances_before": 6, "instances_after": 8, "expected_change_pct_about": 30},
            id="identity-unit-cost",
            title="identity's cost per 1,000 requests rose about 30%: 8 instances for unchanged traffic",
            related=(("over_provisioned", "identity"), ("savings_opportunity", "identity"),
                     ("anomaly", "identity"), ("improvement", "identity"), ("cost_anomaly", "identity"))),
    ]
    return incidents, effects, events


def experience_incidents(day0: datetime, start: datetime, end: datetime,
                         ) -> tuple[list[SeededIncident], list[Effect], list[Event]]:
    """(12)-(15): SLO breach, fast budget burn, journey over target, consumer misuse."""
    burn = (day0 - 2 * D + 19 * H, day0 - 2 * D + 21 * H)
    globex = day0 - 6 * D + 15 * H
    polling = day0 - 3 * D
    period = end - 7 * D
    effects = [
        Effect("error_pct", "web", "set", 2.0, *burn),
        Effect("client_error_pct", "checkout-api", "set", 25.0, globex, endpoint="POST /checkout",
               consumer="partner-globex"),
        Effect("traffic", "orders", "scale", 10.0, polling, endpoint="GET /orders/{id}", consumer="affiliate-feed"),
    ]
    incidents = [
        SeededIncident(
            "slo_breach", "experience", "orders", None, None, "errors", max(end - 28 * D, start), None, "medium",
            {"slo_availability": 99.9, "error_pct": 0.15, "expected_availability_about": 99.85,
             "window": "28d"}, id="orders-slo-breach",
            title="orders served 0.15% server errors all month: 99.85% availability against a 99.9% SLO",
            related=(("error_budget_burn", "orders"),)),
        SeededIncident(
            "error_budget_burn", "experience", "web", None, None, "errors", burn[0], burn[1], "high",
            {"slo_availability": 99.9, "error_pct": 2.0, "burn_rate": 20, "minutes": 120},
            id="web-budget-burn", title="web burned its error budget 20× too fast for 2 hours (2% errors)",
            related=(("anomaly", "web"), ("journey_degradation", "*"))),
        SeededIncident(
            "journey_degradation", "experience", "checkout-api", None, None, "latency",
            day0 - 5 * D + 14 * H, None, "medium",
            {"journey": "purchase", "target_ms": 1200,
             "steps": ["web:GET /product/{id}", "cart:POST /cart/items", "checkout-api:POST /checkout"],
             "causes": ["cart-latency-regression", "payments-slow-dependency"],
             "method": "end-to-end p95 ≈ sum of the steps' median 5-minute p95"},
            id="purchase-journey-degradation",
            title="the purchase journey's end-to-end p95 now exceeds its 1.2 s target",
            related=(("journey_degradation", "*"),)),
        SeededIncident(
            "consumer_misuse", "experience", "checkout-api", "POST /checkout", "partner-globex", "client_errors",
            globex, None, "low", {"client_error_pct": 25.0, "peers_client_error_pct_below": 1.0},
            id="globex-client-errors",
            title="partner-globex gets 25% 4xx on POST /checkout; other consumers under 1%",
            related=(("consumer_misuse", "partner-gateway"),)),
        SeededIncident(
            "consumer_misuse", "experience", "orders", "GET /orders/{id}", "affiliate-feed", "traffic",
            polling, None, "low", {"factor": 10.0}, id="affiliate-polling",
            title="affiliate-feed polls GET /orders/{id} 10× more than its own norm",
            related=(("consumer_misuse", "partner-gateway"), ("anomaly", "orders"))),
        SeededIncident(
            "consumer_misuse", "experience", "orders", "GET /v1/orders/{id}", "store-kiosk", "traffic",
            period, None, "low", {"deprecated_endpoint": "GET /v1/orders/{id}", "share_of_calls_pct": 100},
            id="kiosk-deprecated-endpoint",
            title="store-kiosk still calls the deprecated GET /v1/orders/{id}"),
    ]
    return incidents, effects, []


def feedback_incidents(day0: datetime, end: datetime, weeks: int,
                       ) -> tuple[list[SeededIncident], list[Event], list[TestRunPlan]]:
    """(16)-(18): a light, partial nightly test that regressed; an NFR below production."""
    runs = checkout_runs(day0, weeks) + search_runs(day0, weeks)
    last = runs[len(checkout_runs(day0, weeks)) - 1]
    events = [Event(r.start, r.service, "test", r.run_id, f"{r.tool} run {r.run_id} ({r.service}, perf)")
              for r in runs]
    incidents = [
        SeededIncident(
            "test_coverage_gap", "feedback", "checkout-api", None, None, "traffic", last.start, None, "low",
            {"run_id": last.run_id, "load_pct_of_production_peak_about": 40,
             "missing_endpoints": ["GET /checkout/{id}"],
             "test_mix_pct": {k: round(v * 100) for k, v in last.mix.items()},
             "production_mix_pct": {"POST /checkout": 30, "GET /checkout/{id}": 55,
                                    "POST /checkout/{id}/confirm": 15}},
            id="checkout-test-coverage", title="the checkout nightly test runs at 40% of the production peak, "
                                               "skips GET /checkout/{id} and over-weights POST /checkout",
            related=(("test_prod_divergence", "checkout-api"), ("nfr_mismatch", "checkout-api"))),
        SeededIncident(
            "nfr_mismatch", "feedback", "cart", None, None, "traffic", end - 7 * D, None, "medium",
            {"nfr_peak_tps": 86, "production_peak_over_nfr_about": 1.5}, id="cart-nfr-peak",
            title="cart's production peak is about 1.5× the 86 req/s its NFR was built for"),
        SeededIncident(
            "test_regression", "feedback", "checkout-api", "POST /checkout", None, "latency", last.start, None,
            "medium", {"run_id": last.run_id, "p95_factor": 1.5,
                       "earlier_runs": [r.run_id for r in runs if r.tool == "jmeter" and r is not last]},
            id="checkout-test-regression",
            title=f"{last.run_id}: POST /checkout p95 50% worse than the earlier nightly runs",
            related=(("test_prod_divergence", "checkout-api"),)),
    ]
    return incidents, events, runs


def checkout_runs(day0: datetime, weeks: int) -> list[TestRunPlan]:
    """Weekly JMeter runs of checkout-api at ~40% of the production peak (19 req/s against ~47),
    without GET /checkout/{id}; the last one, after payments 4.2.0, is 50% slower."""
    count = max(2, min(6, weeks))
    plans = []
    for i in range(count):
        n = i + 1
        last = n == count
        factor = 1.5 if last else 1.0
        start = day0 - (1 + 7 * (count - n)) * D + 2 * H
        plans.append(TestRunPlan(
            run_id=f"checkout-nightly-{n}", tool="jmeter", service="checkout-api", start=start,
            duration_s=600, tps=20.0, mix={"POST /checkout": 0.7, "POST /checkout/{id}/confirm": 0.3},
            p50_ms={"POST /checkout": 240 * factor, "POST /checkout/{id}/confirm": 45 * factor},
            p95_ms={"POST /checkout": 520 * factor, "POST /checkout/{id}/confirm": 105 * factor},
            error_pct=0.1, users=30))
    return plans


def search_runs(day0: datetime, weeks: int) -> list[TestRunPlan]:
    """Two Locust runs of search at 110% of its production peak with the production mix: healthy."""
    plans = []
    for n, days_back in ((1, min(16, 7 * weeks - 3)), (2, 2)):
        plans.append(TestRunPlan(
            run_id=f"search-load-{n}", tool="locust", service="search", start=day0 - days_back * D + 3 * H,
            duration_s=900, tps=123.0, mix={"GET /search": 0.75, "GET /suggest": 0.25},
            p50_ms={"GET /search": 82, "GET /suggest": 16}, p95_ms={"GET /search": 190, "GET /suggest": 38},
            error_pct=0.05, users=200))
    return plans


# ---- the whole scenario ------------------------------------------------------------------------
def build_scenario(end: datetime, weeks: int, rng: np.random.Generator, callers: dict[str, list[str]],
                   ) -> Scenario:
    """All incidents, effects and events for data over [end - weeks, end), with the routine
    deploys drawn from `rng` (`callers`: service -> the services that call it)."""
    day0 = end.replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(weeks=weeks)
    parts = [trends_incidents(day0), capacity_incidents(day0, start, end), cost_incidents(day0),
             experience_incidents(day0, start, end)]
    incidents = [i for part in parts for i in part[0]]
    effects = [e for part in parts for e in part[1]]
    events = [e for part in parts for e in part[2]]
    fb_incidents, fb_events, runs = feedback_incidents(day0, end, weeks)
    incidents.extend(fb_incidents)
    events.extend(fb_events)
    events.extend(routine_events(start, end, blocked_windows(effects, end, callers), rng))
    gaps = [g for g in demo_gaps(day0) if g.start >= start]
    return Scenario(day0, incidents, effects, sorted(events, key=lambda e: (e.timestamp, e.service)), gaps, runs)


def demo_gaps(day0: datetime) -> list[Gap]:
    """A few scrape outages, at night, away from every incident."""
    return [
        Gap("notifications", day0 - 20 * D + 3 * H + 10 * 60 * _S, day0 - 20 * D + 3 * H + 35 * 60 * _S),
        Gap("inventory", day0 - 11 * D + 2 * H, day0 - 11 * D + 2 * H + 35 * 60 * _S),
        Gap("identity", day0 - 30 * D + 13 * H, day0 - 30 * D + 13 * H + 15 * 60 * _S),
        Gap("ledger", day0 - 3 * D + 4 * H, day0 - 3 * D + 4 * H + 20 * 60 * _S),
    ]
