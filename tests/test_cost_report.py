"""The cost report sections: domain spend, cost per 1,000 requests, savings, endpoint costs."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from capacity_fixtures import SvcSpec, build_context, build_frame, memory_loader
from perfops.analysis import cost
from perfops.reports.section import ReportView
from perfops.reports.sections import cost as section
from reports_fixture import report_context

SPECS = [
    SvcSpec("idle", peak_tps=60, instances=12, cpu_at_peak=20, instance_hourly=0.5),
    SvcSpec("busy", peak_tps=100, instances=6, cpu_at_peak=62, instance_hourly=1.0),
]


@pytest.fixture(scope="module")
def ctx():
    base = build_context(SPECS)
    frame = build_frame(SPECS)
    req = frame[(frame.metric == "requests") & (frame.service == "busy")]
    endpoints = pd.concat([req.assign(endpoint="GET /a", value=req.value * 0.25),
                           req.assign(endpoint="POST /b", value=req.value * 0.75)])
    return replace(base, load_telemetry=memory_loader(pd.concat([frame, endpoints])))


def test_executive_gets_spend_unit_costs_and_savings(ctx):
    findings = cost.run(ctx)
    sections = {s.id: s for s in section.build(ReportView(ctx=report_context(ctx, findings), findings=findings, audience="executive"))}
    spend = sections["cost-spend"]
    monthly = (12 * 0.5 + 6 * 1.0) * 24 * 30.44
    assert spend.data["domain"]["monthly_spend"] == pytest.approx(monthly, rel=0.01)
    per_service = {row["service"]: row for row in spend.data["services"]}
    assert per_service["busy"]["cost_per_1000_requests"] > 0
    assert "cost-endpoints" not in sections
    savings = sections["cost-savings"]
    assert savings.data["total_monthly_savings"] == pytest.approx(8 * 0.5 * 730)
    assert "12 → 4 instances" in savings.markdown


def test_endpoint_costs_follow_the_request_share(ctx):
    view = ReportView(ctx=report_context(ctx, []), findings=[], audience="lead", squad="team-b")
    endpoints = {s.id: s for s in section.build(view)}["cost-endpoints"]
    shares = {row["endpoint"]: row["request_share"] for row in endpoints.data}
    assert shares == pytest.approx({"GET /a": 0.25, "POST /b": 0.75})
    monthly = {row["endpoint"]: row["monthly_cost"] for row in endpoints.data}
    assert monthly["POST /b"] == pytest.approx(3 * monthly["GET /a"])


def test_no_cost_data_says_what_to_add(ctx):
    specs = [SvcSpec("free", instance_hourly=None)]
    bare = build_context(specs)
    (spend, *_rest) = section.build(ReportView(ctx=report_context(bare, []), findings=[], audience="executive"))
    assert "instance\\_hourly" in spend.markdown and "instance_hourly" in spend.html
