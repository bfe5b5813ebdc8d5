"""The trends report sections: charts for the developer, propagated incidents for everyone."""

from __future__ import annotations

import trends_world as W
from perfops.analysis import trends
from perfops.analysis.rootcause import link_causes
from perfops.reports.section import ReportView
from perfops.reports.sections.trends import build
from perfops.workspace import parse_catalog
from reports_fixture import report_context


def test_developer_sees_series_charts_and_causes():
    cat = parse_catalog(W.CATALOG)
    ctx = W.context(W.build(), cat)
    found = link_causes(trends.run(ctx), cat)
    view = ReportView(ctx=report_context(ctx, found), findings=found, audience="developer", service="checkout-api",
                      finding_index={f.id: f for f in found})
    sections = {s.id: s for s in build(view)}
    charts = sections["trends-series"]
    assert charts.data["charts"] >= 2 and "<svg" in charts.html
    assert "checkout-api" in charts.markdown
    prop = sections["trends-propagated"]
    assert prop.data[0]["cause_service"] == "payments" and prop.data[0]["cause_squad"] == "payments"


def test_executive_gets_no_charts():
    cat = parse_catalog(W.CATALOG)
    ctx = W.context(W.build(incidents=False), cat)
    view = ReportView(ctx=report_context(ctx, []), findings=[], audience="executive")
    assert build(view) == []
