"""Cost in the reports: what the domain spends, what a transaction costs, and what can be saved.

* executive: domain spend (run-rate a month, the last 7 days against the week before), cost per
  1,000 requests per service and for the domain, top savings with dollars;
* lead and developer: the same per service of their scope, plus cost per endpoint allocated by
  its share of the service's requests.
Figures are the stored CostFigure records `analyze` computed (perfops.model.figures; definitions
in docs/methods/capacity_cost.md).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from perfops.model import format as fmt
from perfops.model.figures import CostFigure
from perfops.reports.aggregates import for_services
from perfops.reports.blocks import Doc
from perfops.reports.section import ReportView, Section

TOP_SERVICES = 15
TOP_SAVINGS = 5
TOP_ENDPOINTS = 10


def build(view: ReportView) -> list[Section]:
    costs = service_costs(view)
    sections = [spend_section(view, costs), savings_section(view)]
    if view.audience != "executive":
        sections.append(endpoint_section(view, costs))
    return sections


def service_costs(view: ReportView) -> list[CostFigure]:
    stored = view.ctx.figures.cost
    return [stored[n] for n in view.services_in_scope if n in stored]


def _sum(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None and math.isfinite(v)]
    return float(sum(known)) if known else None


def domain_totals(costs: list[CostFigure]) -> dict[str, float | None]:
    monthly = _sum([c.monthly_spend for c in costs])
    requests = _sum([c.monthly_requests for c in costs if c.monthly_spend is not None])
    return {
        "monthly_spend": monthly, "last_7_days": _sum([c.last_7_days for c in costs]),
        "previous_7_days": _sum([c.previous_7_days for c in costs]),
        "cost_per_1000_requests": monthly / (requests / 1000.0) if monthly and requests else None,
    }


def spend_section(view: ReportView, costs: list[CostFigure]) -> Section:
    cur = view.ctx.catalog.currency
    totals = domain_totals(costs)
    doc = Doc()
    if totals["monthly_spend"] is None:
        doc.para("No cost data: add cost telemetry, or cost: instance_hourly to the services in perfops.yaml.", "empty")
        return doc.section("cost-spend", "Spend and cost per transaction", 52, {"domain": totals})
    wow = _pct(totals["last_7_days"], totals["previous_7_days"])
    doc.para(f"The domain spends {fmt.money(totals['monthly_spend'], cur, 'month')} at the current rate "
             f"({fmt.money(totals['last_7_days'], cur)} in the last 7 days, {fmt.change(wow)} on the week before); "
             f"a thousand requests cost {_unit(totals['cost_per_1000_requests'], cur)} on average.", "headline")
    ranked = ranked_by_spend(costs)
    rows = [_service_row(c, cur) for c in ranked[:TOP_SERVICES]]
    doc.table(["Service", "Squad", "Spend a month", "Cost per 1,000 requests", "Change vs history"],
              rows, cls="cost-table")
    if len(ranked) > TOP_SERVICES:
        doc.note(f"The {TOP_SERVICES} largest of {len(ranked)} services with cost data.")
    for c in costs:  # cost data left unjudged (partly billed days, billing lag) is said, not hidden
        for note in c.notes:
            doc.note(f"{c.service}: {note}.")
    data = {"domain": totals, "services": [_service_data(c) for c in ranked]}
    return doc.section("cost-spend", "Spend and cost per transaction", 52, data)


def ranked_by_spend(costs: list[CostFigure]) -> list[CostFigure]:
    """The services with spend, largest first (catalog order among equals)."""
    return sorted((c for c in costs if c.monthly_spend), key=lambda c: -(c.monthly_spend or 0))


def _pct(new: float | None, old: float | None) -> float | None:
    return None if new is None or not old else 100.0 * (new / old - 1.0)


def _unit(value: float | None, currency: str) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    if value >= 1:
        return fmt.money(value, currency)
    symbol = fmt.CURRENCY_SYMBOLS.get(currency, currency + " ")
    return f"{symbol}{value:.3g}"


def _service_row(c: CostFigure, cur: str) -> list[Any]:
    now, before = c.cost_per_1000_requests, c.cost_per_1000_requests_before
    return [c.service, c.squad, fmt.money(c.monthly_spend, cur, "month"), _unit(now, cur),
            fmt.change(_pct(now, before))]


def _service_data(c: CostFigure) -> dict[str, Any]:
    now, before = c.cost_per_1000_requests, c.cost_per_1000_requests_before
    return {"service": c.service, "squad": c.squad, "monthly_spend": c.monthly_spend,
            "cost_per_1000_requests": now, "cost_per_1000_requests_before": before,
            "cost_per_request": now / 1000.0 if now else None, "cost_source": c.source, "notes": list(c.notes)}


def savings_section(view: ReportView) -> Section:
    cur = view.ctx.catalog.currency
    found = [f for f in view.active if f.kind == "savings_opportunity"]
    found.sort(key=lambda f: -float((f.impact or {}).get("monthly_savings") or 0.0))
    doc = Doc()
    if not found:
        doc.para("No savings opportunity: every service needs the capacity it has at its peak.", "calm")
        return doc.section("cost-savings", "Savings", 54, {"total_monthly_savings": 0.0, "items": []})
    total = sum(float(f.impact.get("monthly_savings") or 0.0) for f in found)
    doc.para(f"{fmt.money(total, cur, 'month')} can be saved this month across {len(found)} change(s), "
             "each keeping the peak under target with the forecast growth and a margin.", "headline")
    rows = [[f.service, f.squad, f"{fmt.number(f.evidence.get('instances'))} → "
             f"{fmt.number(f.evidence.get('recommended_instances'))} instances",
             fmt.pct(f.evidence.get("utilisation_after_pct"), 0),
             fmt.money(f.impact.get("monthly_savings"), cur, "month")] for f in found[:TOP_SAVINGS]]
    doc.table(["Service", "Squad", "Change", "Peak after", "Saves"], rows, cls="savings-table")
    data = {"total_monthly_savings": total, "items": [f.to_record() for f in found]}
    return doc.section("cost-savings", "Savings", 54, data)


def endpoint_section(view: ReportView, costs: list[CostFigure]) -> Section:
    """Cost per endpoint allocated by its share of the service's requests in the period."""
    cur = view.ctx.catalog.currency
    shares = endpoint_shares(view, [c.service for c in costs])
    by_name = {c.service: c for c in costs}
    rows, data = [], []
    for (service, endpoint), share in shares.items():
        c = by_name.get(service)
        spend = c.monthly_spend if c else None
        if spend is None:
            continue
        unit = c.cost_per_1000_requests if c else None
        rows.append([service, endpoint, fmt.pct(100 * share, 1), fmt.money(spend * share, cur, "month"), _unit(unit, cur)])
        data.append({"service": service, "endpoint": endpoint, "request_share": share,
                     "monthly_cost": spend * share, "cost_per_1000_requests": unit})
    doc = Doc()
    doc.note("Endpoint cost = the service's spend × the endpoint's share of its requests (an allocation: "
             "a request costs the same on every endpoint of a service).")
    doc.table(["Service", "Endpoint", "Share of requests", "Cost a month", "Cost per 1,000 requests"],
              rows[: TOP_ENDPOINTS * max(1, len(costs))], cls="cost-table", empty="No per-endpoint traffic reported.")
    return doc.section("cost-endpoints", "Cost per endpoint", 56, data)


def endpoint_shares(view: ReportView, services: list[str]) -> dict[tuple[str, str], float]:
    """Each endpoint's share of its service's requests over the period (all consumers)."""
    if not services:
        return {}
    part = for_services(view, "endpoint_totals", services, ["requests"], view.ctx.period_start, view.ctx.now)
    if part.empty:
        return {}
    totals = part.groupby(["service", "endpoint"])["value"].sum()
    if totals.empty:
        return {}
    share = totals / totals.groupby(level=0).transform("sum")
    share = share.sort_values(ascending=False)
    return {k: float(v) for k, v in share.items() if isinstance(k, tuple) and not pd.isna(v)}
