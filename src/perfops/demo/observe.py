"""What each seeded incident looks like in the generated data: the figures the ground truth
records under `details.observed`, measured on the series themselves (not the design values).

These are plain window statistics (medians, sums, ratios) over the raw 5-minute series — the
numbers a person would quote when checking a finding by hand. Tests assert on them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from perfops.demo.incidents import Scenario, SeededIncident
from perfops.demo.telemetry import STEP_S, Series
from perfops.model.catalog import Catalog

D = timedelta(days=1)
Observed = dict[str, Any]


def window(series: Series, values: np.ndarray, start: datetime, end: datetime | None) -> np.ndarray:
    """The values in [start, end), gaps (NaN) dropped."""
    part = values[series.grid.mask(start, end)]
    return part[~np.isnan(part)]


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


def _median(series: Series, values: np.ndarray, start: datetime, end: datetime | None) -> float:
    return float(np.median(window(series, values, start, end)))


def _error_pct(series: Series, service: str, start: datetime, end: datetime | None, endpoint: str = "") -> float:
    errors = window(series, series.get(service, "errors", endpoint), start, end).sum()
    requests = window(series, series.get(service, "requests", endpoint), start, end).sum()
    return round(100.0 * errors / requests, 4) if requests else float("nan")


def sizing(catalog: Catalog, service: str) -> tuple[int, float, float, float]:
    """(instances, max_tps_per_instance, cpu_target_pct, instance_hourly) of a demo service."""
    svc = catalog.service(service)
    cap, cost = svc.capacity, svc.cost
    if cap is None or cap.instances is None or cap.max_tps_per_instance is None or cost is None:
        raise ValueError(f"the demo service {service} needs capacity and cost in the catalog")
    return cap.instances, cap.max_tps_per_instance, cap.cpu_target_pct, cost.instance_hourly or 0.0


def peak_tps(series: Series, service: str, start: datetime, end: datetime) -> float:
    return round(float(window(series, series.get(service, "requests"), start, end).max()) / STEP_S, 1)


# ---- one observer per incident ------------------------------------------------------------------
def _latency_step(series: Series, inc: SeededIncident, **_: Any) -> Observed:
    """Median p95 in the 24 h after the change against the 24 h before, on the endpoint and on
    the callers that feel it."""
    out: Observed = {}
    targets = {inc.service: inc.endpoint, **inc.details.get("callers", {})}
    for service, endpoint in targets.items():
        p95 = series.get(service, "latency_p95_ms", endpoint)
        before = _median(series, p95, inc.start - D, inc.start)
        after = _median(series, p95, inc.start, inc.start + D)
        out[service] = {"endpoint": endpoint, "p95_before_ms": round(before, 1), "p95_after_ms": round(after, 1),
                        "ratio": ratio(after, before)}
    return out


def _error_spike(series: Series, inc: SeededIncident, **_: Any) -> Observed:
    return {"error_pct_before": _error_pct(series, inc.service, inc.start - D, inc.start),
            "error_pct_during": _error_pct(series, inc.service, inc.start, inc.end)}


def _traffic_drop(series: Series, inc: SeededIncident, **_: Any) -> Observed:
    requests = series.get(inc.service, "requests")
    during = window(series, requests, inc.start, inc.end).sum()
    week_before = window(series, requests, inc.start - 7 * D, (inc.end or inc.start) - 7 * D).sum()
    return {"requests_during": int(during), "requests_same_window_week_before": int(week_before),
            "ratio": ratio(during, week_before)}


def _memory_growth(series: Series, inc: SeededIncident, end: datetime, **_: Any) -> Observed:
    memory, requests = series.get(inc.service, "memory_pct"), series.get(inc.service, "requests")
    hour = timedelta(hours=1)
    first = window(series, requests, inc.start - 7 * D, inc.start).mean()
    last = window(series, requests, end - 7 * D, end).mean()
    return {"memory_pct_before": round(float(window(series, memory, inc.start - hour, inc.start).mean()), 1),
            "memory_pct_at_end": round(float(window(series, memory, end - hour, end).mean()), 1),
            "traffic_ratio_last_week_vs_week_before": ratio(last, first)}


def _saturation(series: Series, inc: SeededIncident, catalog: Catalog, end: datetime, **_: Any) -> Observed:
    requests = series.get(inc.service, "requests")
    weeks = int(round((end - series.grid.start) / (7 * D)))
    first = window(series, requests, series.grid.start, series.grid.start + 7 * D).mean()
    last = window(series, requests, end - 7 * D, end).mean()
    growth = (last / first) ** (1.0 / max(weeks - 1, 1)) - 1.0
    instances, per_instance, _target, _hourly = sizing(catalog, inc.service)
    capacity = instances * per_instance
    peak = peak_tps(series, inc.service, end - 7 * D, end)
    days = 7.0 * math.log(capacity / peak) / math.log(1.0 + growth) if growth > 0 and peak < capacity else 0.0
    return {"peak_tps_last_week": peak, "capacity_tps": capacity, "weekly_growth_pct": round(100 * growth, 2),
            "days_to_saturation": round(days, 1)}


def _cpu_peak(series: Series, inc: SeededIncident, end: datetime, **_: Any) -> Observed:
    cpu = window(series, series.get(inc.service, "cpu_pct"), end - 7 * D, end)
    return {"peak_cpu_pct": float(cpu.max()), "p99_cpu_pct": round(float(np.percentile(cpu, 99)), 1)}


def _rightsizing(series: Series, inc: SeededIncident, catalog: Catalog, end: datetime, **_: Any) -> Observed:
    instances, per_instance, target, hourly = sizing(catalog, inc.service)
    peak = peak_tps(series, inc.service, end - 7 * D, end)
    needed = math.ceil(peak / (per_instance * target / 100.0))
    return {"peak_tps_last_week": peak, "needed_instances": needed, "instances": instances,
            "monthly_savings": round((instances - needed) * hourly * 730, 2)}


def _volume(series: Series, inc: SeededIncident, end: datetime, **_: Any) -> Observed:
    requests = series.get(inc.service, "requests")
    this = window(series, requests, end - 7 * D, end).sum()
    last = window(series, requests, end - 14 * D, end - 7 * D).sum()
    return {"requests_last_week": int(this), "requests_week_before": int(last),
            "week_over_week_pct": round(100 * (this / last - 1), 1)}


def _cost_spike(series: Series, inc: SeededIncident, **_: Any) -> Observed:
    cost = series.get(inc.service, "cost")
    day = window(series, cost, inc.start, inc.end).sum()
    normal = [window(series, cost, inc.start - k * D, inc.start - (k - 1) * D).sum() for k in range(2, 9)]
    return {"spend_that_day": round(float(day), 2), "median_daily_spend": round(float(np.median(normal)), 2),
            "ratio": ratio(day, float(np.median(normal)))}


def _unit_cost(series: Series, inc: SeededIncident, end: datetime, **_: Any) -> Observed:
    def per_thousand(lo: datetime, hi: datetime) -> float:
        cost = window(series, series.get(inc.service, "cost"), lo, hi).sum()
        return float(cost / (window(series, series.get(inc.service, "requests"), lo, hi).sum() / 1000.0))

    now, before = per_thousand(end - 7 * D, end), per_thousand(end - 14 * D, end - 7 * D)
    return {"cost_per_1k_last_week": round(now, 5), "cost_per_1k_week_before": round(before, 5),
            "change_pct": round(100 * (now / before - 1), 1)}


def _availability(series: Series, inc: SeededIncident, end: datetime, **_: Any) -> Observed:
    return {"availability_pct": round(100.0 - _error_pct(series, inc.service, end - 28 * D, end), 4)}


def _burn(series: Series, inc: SeededIncident, catalog: Catalog, **_: Any) -> Observed:
    slo = catalog.service(inc.service).slo
    if slo is None or slo.availability is None:
        raise ValueError(f"the demo service {inc.service} needs an availability SLO")
    budget = 100.0 - slo.availability
    during = _error_pct(series, inc.service, inc.start, inc.end)
    return {"error_pct_during": during, "burn_rate": round(during / budget, 1)}


def _journey(series: Series, inc: SeededIncident, scenario: Scenario, **_: Any) -> Observed:
    first_cause = min(i.start for i in scenario.incidents if i.id in inc.details["causes"])

    def e2e(lo: datetime, hi: datetime | None) -> float:
        total = 0.0
        for step in inc.details["steps"]:
            service, endpoint = step.split(":", 1)
            total += _median(series, series.get(service, "latency_p95_ms", endpoint), lo, hi)
        return round(total, 1)

    before, after = e2e(first_cause - 7 * D, first_cause), e2e(inc.start, None)
    return {"e2e_p95_before_ms": before, "e2e_p95_after_ms": after, "target_ms": inc.details["target_ms"],
            "after_over_target": ratio(after, inc.details["target_ms"])}


def _consumer(series: Series, inc: SeededIncident, end: datetime, **_: Any) -> Observed:
    service, endpoint, consumer = inc.service, inc.endpoint or "", inc.consumer or ""
    requests = series.get(service, "requests", endpoint, consumer)
    if inc.metric == "client_errors":
        peers = {c for (s, e, c, _m) in series.values if s == service and e == endpoint and c and c != consumer}

        def pct(name: str) -> float:
            r = window(series, series.get(service, "requests", endpoint, name), inc.start, end).sum()
            ce = window(series, series.get(service, "client_errors", endpoint, name), inc.start, end).sum()
            return round(100.0 * ce / r, 2)

        return {"client_error_pct": pct(consumer), "peers_client_error_pct": {p: pct(p) for p in sorted(peers)}}
    now = window(series, requests, inc.start, end).mean()
    norm = window(series, requests, inc.start - 7 * D, inc.start).mean()
    return {"requests_per_5min": round(float(now), 1), "own_norm_per_5min": round(float(norm), 1),
            "ratio": ratio(now, norm), "requests_in_period": int(window(series, requests, end - 7 * D, end).sum())}


def _nfr_peak(series: Series, inc: SeededIncident, catalog: Catalog, end: datetime, **_: Any) -> Observed:
    nfr_spec = catalog.service(inc.service).nfr
    if nfr_spec is None or nfr_spec.peak_tps is None:
        raise ValueError(f"the demo service {inc.service} needs nfr.peak_tps")
    nfr = nfr_spec.peak_tps
    peak = peak_tps(series, inc.service, end - 7 * D, end)
    return {"production_peak_tps": peak, "nfr_peak_tps": nfr, "ratio": ratio(peak, nfr)}


def _test_coverage(series: Series, inc: SeededIncident, tests: dict[str, Any], end: datetime, **_: Any,
                   ) -> Observed:
    run = tests[inc.details["run_id"]]
    rps = sum(e["throughput_rps"] for e in run.values())
    peak = peak_tps(series, inc.service, end - 7 * D, end)
    return {"test_rps": round(rps, 1), "production_peak_tps": peak, "load_ratio": ratio(rps, peak),
            "tested_endpoints": sorted(run)}


def _test_regression(series: Series, inc: SeededIncident, tests: dict[str, Any], **_: Any) -> Observed:
    last = tests[inc.details["run_id"]][inc.endpoint]["p95_ms"]
    earlier = [tests[r][inc.endpoint]["p95_ms"] for r in inc.details["earlier_runs"]]
    return {"p95_ms": last, "earlier_p95_ms": earlier, "ratio": ratio(last, float(np.mean(earlier)))}


OBSERVERS: dict[str, Callable[..., Observed]] = {
    "cart-latency-regression": _latency_step, "payments-slow-dependency": _latency_step,
    "inventory-error-spike": _error_spike, "search-traffic-drop": _traffic_drop,
    "pricing-memory-leak": _memory_growth, "catalog-saturation-risk": _saturation,
    "fraud-under-provisioned": _cpu_peak, "ledger-over-provisioned": _rightsizing,
    "ledger-savings": _rightsizing, "recommendations-volume-growth": _volume,
    "search-cost-spike": _cost_spike, "identity-unit-cost": _unit_cost, "orders-slo-breach": _availability,
    "web-budget-burn": _burn, "purchase-journey-degradation": _journey, "globex-client-errors": _consumer,
    "affiliate-polling": _consumer, "kiosk-deprecated-endpoint": _consumer, "cart-nfr-peak": _nfr_peak,
    "checkout-test-coverage": _test_coverage, "checkout-test-regression": _test_regression,
}


def observe(series: Series, scenario: Scenario, catalog: Catalog, tests: dict[str, Any], end: datetime,
            ) -> dict[str, Observed]:
    """incident id -> what the data shows of it."""
    return {inc.id: OBSERVERS[inc.id](series, inc, catalog=catalog, scenario=scenario, tests=tests, end=end)
            for inc in scenario.incidents}
