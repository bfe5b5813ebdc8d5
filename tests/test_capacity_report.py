"""The capacity report sections: the saturation calendar, the table, the forecast chart."""

from __future__ import annotations

import pytest

from capacity_fixtures import SvcSpec, build_context
from perfops.analysis import capacity
from perfops.reports.section import ReportView
from perfops.reports.sections import capacity as section
from reports_fixture import report_context

SPECS = [
    SvcSpec("grower", peak_tps=130, growth_per_week=0.03, instances=5, max_tps_per_instance=40, cpu_at_peak=40, tier=1),
    SvcSpec("steady", peak_tps=80, instances=6, cpu_at_peak=50),
]


@pytest.fixture(scope="module")
def ctx():
    return build_context(SPECS)


@pytest.fixture(scope="module")
def findings(ctx):
    return capacity.run(ctx)


def test_executive_names_who_runs_out_first_and_when(ctx, findings):
    sections = {s.id: s for s in section.build(ReportView(ctx=report_context(ctx, findings), findings=findings, audience="executive"))}
    sat = sections["capacity-saturation"]
    assert "grower runs out first" in sat.markdown
    (row,) = sat.data["saturation"]
    assert row["service"] == "grower" and 55 <= row["days_to_saturation"] <= 85
    assert row["date"].startswith("2026-0")
    vol = sections["capacity-volume"]
    assert vol.data["weeks"] == 5 and vol.data["week_over_week_pct"] > 0


def test_executive_is_calm_without_risks(ctx):
    sections = section.build(ReportView(ctx=report_context(ctx, []), findings=[], audience="executive"))
    assert "No service is forecast to run out" in sections[0].markdown


def test_developer_gets_a_chart_readable_without_colour(ctx, findings):
    view = ReportView(ctx=report_context(ctx, findings), findings=findings, audience="developer", service="grower")
    chart = {s.id: s for s in section.build(view)}["capacity-forecast"]
    assert chart.html.count("<svg") == 1 and "<title>" in chart.html
    for label in ("daily peak so far", "forecast daily peak", "90% interval, upper", "capacity"):
        assert label in chart.html
    assert "stroke-dasharray" in chart.html  # the forecast and interval are dashed/dotted, not only coloured
    assert len(chart.html) < 200_000
    assert "grower: peak" in chart.markdown


def test_lead_table_lists_the_squads_services(ctx, findings):
    view = ReportView(ctx=report_context(ctx, findings), findings=findings, audience="lead", squad="team-b")
    (table,) = section.build(view)
    assert [row["service"] for row in table.data] == ["steady"]
    assert table.data[0]["instances"] == 6
